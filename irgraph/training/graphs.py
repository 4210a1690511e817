"""Build the train-step and eval-step graphs and their ONNX models from one layer graph.

train-step: (inputs, <out>_true, <out>_sample_weight, lr, step, weights, optimizer slots)
            -> (loss, <out>_loss, metric statistics, <weight>:new, <weight>:<slot>:new)
eval-step:  (inputs, <out>_true, <out>_sample_weight, weights) -> (loss, <out>_loss, metric statistics)
"""
from __future__ import annotations

from dataclasses import dataclass

from irgraph.passes.cleanup import cleanup
from irgraph.passes.fuse import fuse
from irgraph.passes.loss import LossSpec, OutputTarget, attach_loss, metric_output_name
from irgraph.passes.lower import lower
from irgraph.passes.manager import PassManager
from irgraph.passes.optimizer import apply_optimizer
from irgraph.passes.shapes import infer_shapes
from irgraph.passes.trim import trim_borders

from ..onnx import check as check_model
from ..onnx import emit_model
from ..ops.base import Spec


@dataclass
class MetricSlot:
    log_name: str          # the History key without 'val_' ('accuracy', 'main_output_accuracy')
    metric: object         # the Metric (batch_stats / initial_totals / result)
    outputs: list          # the graph output names of its batch statistics


@dataclass
class StepGraphs:
    train: object          # ModelProto
    train_passes: PassManager
    metrics: list          # [MetricSlot]
    output_losses: list    # (graph output, History key) of each loss, when there are several
    trained: list          # [(Variable, [slot names])]
    state_vars: list       # Variables updated by layers (BatchNorm moving statistics)
    label_specs: dict
    build_eval: object     # () -> (eval ModelProto, its PassManager), run on first use
    absent: frozenset = frozenset()  # the optional inputs left out (None) in this pattern
    _eval: tuple | None = None

    def _evaluation(self) -> tuple:
        if self._eval is None:  # built when first needed: training alone never pays for it
            self._eval = self.build_eval()
        return self._eval

    @property
    def eval(self):
        return self._evaluation()[0]

    @property
    def eval_passes(self) -> PassManager:
        return self._evaluation()[1]


def build_step_graphs(model, config, label_specs: dict[str, Spec], opset: int = 17, check: bool = True,
                      absent: frozenset = frozenset()):
    """``absent``: the optional inputs given None; the graphs are those of that presence pattern."""
    names = config.output_names
    layer_graph = model.layer_graph(absent)
    missing = [n for n, kept in zip(names, model._present_outputs(absent)) if not kept]
    if missing:
        raise ValueError(f"model '{model.name}': the outputs {missing} are the optional input(s) "
                         f"{sorted(absent)} themselves, given None; fit and evaluate need every output: "
                         "pass arrays for those inputs")
    pred_shapes = {n: tuple(t.shape) for n, t in zip(names, model.outputs)}
    label_shapes = {n: tuple(s.shape) for n, s in label_specs.items()}
    metric_objs, weighted_objs = config.resolve_metrics(label_shapes, pred_shapes)
    targets, slots = [], []
    multi = len(names) > 1
    for i, n in enumerate(names):
        targets.append(OutputTarget(n, label_specs[n], [config.metric_term(m) for m in metric_objs[i]],
                                    [config.metric_term(m) for m in weighted_objs[i]]))
        for m in metric_objs[i] + weighted_objs[i]:
            log = f"{n}_{m.name}" if multi else m.name
            k = len(m.initial_totals())
            slots.append(MetricSlot(log, m, [metric_output_name(n, m.name, j) for j in range(k)]))
    _check_unique([s.log_name for s in slots])

    def lower_train(g):
        return lower(g, training=True)

    terms = config.loss_terms()
    graph_names = _loss_output_names([name for name, _, _, _ in terms])
    loss_specs = [LossSpec(gname, outs, term, weight)
                  for gname, (_, outs, term, weight) in zip(graph_names, terms)]

    def add_loss(g):
        return attach_loss(g, targets, loss_specs)

    def optimize(g):
        return apply_optimizer(g, config.optimizer)

    lower_train.__name__, add_loss.__name__, optimize.__name__ = "lower", "attach_loss", "optimizer"
    train_pm = PassManager([lower_train, infer_shapes, trim_borders, fuse, add_loss, optimize, cleanup])
    train_graph = train_pm.run(layer_graph)
    meta = {"irgraph.kind": "train-step", "irgraph.outputs": ",".join(names)}
    train = emit_model(train_graph, opset=opset, name=f"{model.name}_train_step", metadata=meta,
                       weights_as_inputs=True)
    if check:
        check_model(train)

    def build_eval():
        eval_pm = PassManager([lower, infer_shapes, trim_borders, fuse, add_loss, cleanup])
        evals = emit_model(eval_pm.run(layer_graph), opset=opset, name=f"{model.name}_eval_step",
                           metadata={**meta, "irgraph.kind": "eval-step"}, weights_as_inputs=True)
        if check:
            check_model(evals)
        return evals, eval_pm

    state_vars = [var for var, _ in train_graph.state_updates]
    return StepGraphs(train, train_pm, slots,
                      _output_loss_keys(terms, graph_names),
                      train_graph.meta.get("trained", []), state_vars, dict(label_specs), build_eval,
                      frozenset(absent))


def _loss_output_names(names: list[str]) -> list[str]:
    """The graph output of each loss: ``<name>_loss``, numbered when two losses share a name
    (several losses for one output)."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(f"{n}_loss" if k == 0 else f"{n}_loss:{k}")
    return out


def _output_loss_keys(terms, graph_names) -> list[tuple[str, str]]:
    """(graph output, History key) of each loss: Keras 3 logs `<name>_loss` only when there is more
    than one loss; of losses sharing a name, the last one's value is logged (as in Keras)."""
    if len(terms) < 2:
        return []
    return [(gname, f"{name}_loss") for gname, (name, _, _, _) in zip(graph_names, terms)]


def _check_unique(names):
    seen: set = set()
    dup = sorted({n for n in names if n in seen or seen.add(n)})  # one pass: a set, not list.count
    if dup:
        raise ValueError(f"compile(): metrics {dup} are given twice for the same output")
