"""Build the train-step and eval-step graphs and their ONNX models from one layer graph.

train-step: (inputs, <out>_true, <out>_sample_weight, lr, step, weights, optimizer slots)
            -> (loss, <out>_loss, metric statistics, <weight>:new, <weight>:<slot>:new)
eval-step:  (inputs, <out>_true, <out>_sample_weight, weights) -> (loss, <out>_loss, metric statistics)

A model with its own ``compute_loss`` takes its labels as ``y_true:<k>`` (the leaves of the user's
``y``) and, when given, one ``sample_weight``; the losses it logs (``super().compute_loss``'s
compiled losses) are its ``<name>_loss`` outputs.
"""
from __future__ import annotations

from dataclasses import dataclass

from irgraph.passes.cleanup import cleanup
from irgraph.passes.fuse import fuse
from irgraph.passes.loss import CustomLoss, LossSpec, OutputTarget, attach_loss, logged_loss_outputs, metric_output_name
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
    custom_labels: object = None     # (label structure, label Specs, sample weight given): compute_loss
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
                      absent: frozenset = frozenset(), custom_labels=None):
    """``absent``: the optional inputs given None; the graphs are those of that presence pattern.
    ``custom_labels``: (the user's ``y`` as a structure of label indices, the labels' Specs,
    whether a sample weight is fed) for a model whose own ``compute_loss`` is traced instead of the compiled losses."""
    names = config.output_names
    layer_graph = model.layer_graph(absent)
    missing = [n for n, kept in zip(names, model._present_outputs(absent)) if not kept]
    if missing:
        raise ValueError(f"model '{model.name}': the outputs {missing} are the optional input(s) "
                         f"{sorted(absent)} themselves, given None; fit and evaluate need every output: "
                         "pass arrays for those inputs")
    pred_shapes = {n: tuple(t.shape) for n, t in zip(names, model.outputs)}
    target_specs = dict(label_specs)
    if custom_labels is not None and len(custom_labels[1]) == len(names):
        target_specs = dict(zip(names, custom_labels[1]))  # metrics read y's leaves as the outputs' labels
    label_shapes = {n: tuple(s.shape) for n, s in target_specs.items()}
    metric_objs, weighted_objs = config.resolve_metrics(label_shapes, pred_shapes)
    targets, slots = [], []
    multi = len(names) > 1
    with_targets = custom_labels is None or any(metric_objs + weighted_objs)  # an override: metrics only
    for i, n in enumerate(names if with_targets else []):
        targets.append(OutputTarget(n, target_specs.get(n), [config.metric_term(m) for m in metric_objs[i]],
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

    def loss_pass(training: bool):
        if custom_labels is None:
            def add_loss(g):
                return attach_loss(g, targets, loss_specs)
        else:
            custom = CustomLoss(*custom_labels, config.compute_loss_fn(model))

            def add_loss(g):
                return attach_loss(g, targets, [], custom, training=training)
        add_loss.__name__ = "attach_loss"
        return add_loss

    add_loss = loss_pass(training=True)

    def optimize(g):
        return apply_optimizer(g, config.optimizer)

    lower_train.__name__, optimize.__name__ = "lower", "optimizer"
    train_pm = PassManager([lower_train, infer_shapes, trim_borders, fuse, add_loss, optimize, cleanup])
    train_graph = train_pm.run(layer_graph)
    meta = {"irgraph.kind": "train-step", "irgraph.outputs": ",".join(names)}
    train = emit_model(train_graph, opset=opset, name=f"{model.name}_train_step", metadata=meta,
                       weights_as_inputs=True)
    if check:
        check_model(train)

    def build_eval():
        eval_pm = PassManager([lower, infer_shapes, trim_borders, fuse, loss_pass(training=False), cleanup])
        evals = emit_model(eval_pm.run(layer_graph), opset=opset, name=f"{model.name}_eval_step",
                           metadata={**meta, "irgraph.kind": "eval-step"}, weights_as_inputs=True)
        if check:
            check_model(evals)
        return evals, eval_pm

    state_vars = [var for var, _ in train_graph.state_updates]
    if custom_labels is None:
        output_losses = _output_loss_keys(terms, graph_names)
    else:  # Keras logs each loss of super().compute_loss when there are several
        logged = logged_loss_outputs(train_graph)
        output_losses = [(out, f"{name}_loss") for out, name in logged] if len(logged) > 1 else []
    return StepGraphs(train, train_pm, slots, output_losses,
                      train_graph.meta.get("trained", []), state_vars, dict(label_specs), build_eval,
                      frozenset(absent), custom_labels)


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
