"""attach_loss: add labels, losses, regularization and metric statistics to a lowered graph.

For each model output ``<name>`` it adds the inputs ``<name>_true`` (labels) and
``<name>_sample_weight`` (one weight per sample; the runtime feeds ones when none are given, and
folds ``class_weight`` into it). Each loss (`LossSpec`) reads one output or a structure of outputs
(Keras 3's CompileLoss: ``loss=[whole_fn, (fn_a, fn_b)]``) and adds the output ``<graph name>``; it
adds ``loss`` (the weighted sum of the losses, weight regularizers and layer ``add_loss`` terms, or
what a model's own ``compute_loss`` returns: `CustomLoss`, whose labels ``y_true:<k>`` follow the
structure of the user's ``y``) and one ``metric:<name>:<metric>:<k>`` output per batch
statistic of each metric. A final Softmax or Sigmoid is fused with its cross-entropy when a loss
reads that output alone: the loss is computed from the logits (numerically stable), metrics still see
the probabilities. The model's prediction outputs are removed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from irgraph import tree
from irgraph.ir import Graph
from irgraph.ops.base import Spec
from irgraph.ops.trace import Value, apply, scope, tracing


@dataclass
class OutputTarget:
    """What the pass adds for one model output: its labels, sample weights and metrics. The user API
    resolves metrics into objects with ``name`` and ``batch_stats(y_true, y_pred, sample_weight,
    mask)`` -> Values (``sample_weight`` None for the unweighted metrics) before the pass runs
    (`irgraph.compile_config`), so the pass knows no metric classes."""
    name: str
    label_spec: Spec | None = None    # shape with 'batch' first, dtype
    metrics: list = field(default_factory=list)
    weighted_metrics: list = field(default_factory=list)


@dataclass
class LossSpec:
    """One loss: ``loss(y_true, y_pred, sample_weight, mask)`` -> scalar Value, over ``outputs`` (an
    output name, or a structure of them: ``y_true``/``y_pred`` then come in that structure, with
    the first output's sample weights and no mask), and ``loss.on_logits(op)`` -> the same loss from
    the logits of a final ``op`` ('Softmax' or 'Sigmoid'), or None. ``graph_name``: its graph output."""
    graph_name: str
    outputs: object
    loss: object
    weight: float | None = None


def _value(g: Graph, tensor: tuple) -> Value:
    return Value(g, tensor[0], tensor[1], g.spec(tensor))


def _logits_for(g: Graph, y_pred: Value, loss):
    """(loss computed from logits, logits) when y_pred is a last-axis Softmax or a Sigmoid."""
    d = g.node(y_pred.node)
    if d["kind"] != "op" or d["op"] not in ("Softmax", "Sigmoid"):
        return None
    if d["op"] == "Softmax" and d["attrs"].get("axis", -1) not in (-1, y_pred.ndim - 1):
        return None
    fused = loss.on_logits(d["op"])
    if fused is None:
        return None
    return fused, _value(g, g.in_tensors(y_pred.node)[0])


def metric_output_name(output: str, metric_name: str, k: int) -> str:
    return f"metric:{output}:{metric_name}:{k}"


@dataclass
class CustomLoss:
    """A model's own ``compute_loss``: ``labels``, the structure of the user's ``y`` with the leaf
    ``k`` for the graph input ``y_true:<k>`` (None: no labels), whose Spec is ``label_specs[k]``;
    ``sample_weight``: whether a per-sample weight input ``sample_weight`` is fed;
    ``fn(x, y, y_pred, sample_weight, context)``
    -> the total loss Value (``x``, ``y_pred``: dicts of the model's input and output Values by
    name; ``context``: a `LossContext`)."""
    labels: object
    label_specs: tuple
    sample_weight: bool
    fn: object


class LossContext:
    """What a traced ``compute_loss`` may ask the pass for: the weight regularization and layer
    ``add_loss`` terms, and ``log(name, value)`` to add a loss as the graph output ``<name>_loss``
    (`logged_loss_outputs` lists them for the History)."""

    def __init__(self, graph: Graph, training: bool):
        self.graph, self.training = graph, training
        self.logged: list[tuple[str, Value]] = []

    def regularization(self) -> list:
        g, terms = self.graph, []
        with scope("regularization"):
            for w in g.nodes_of("weight"):
                var = g.node(w)["var"]
                if var.regularizer is not None and var.trainable:
                    terms.append(var.regularizer(_value(g, (w, 0))))
        return terms + [_value(g, t) for t in g.added_losses]

    def log(self, name: str, value: Value) -> None:
        self.logged.append((name, value))


def logged_loss_outputs(graph: Graph) -> list[tuple[str, str]]:
    """(graph output, loss name) of each loss a custom ``compute_loss`` logged, in order."""
    return list(graph.meta.get("logged_losses", []))


def attach_loss(graph: Graph, targets: list[OutputTarget], losses: list[LossSpec], custom: CustomLoss | None = None,
                training: bool = True) -> Graph:
    """``custom``: a model's own ``compute_loss`` (`CustomLoss`) replaces the compiled losses;
    its labels come in the structure of the user's ``y``, not one per output; ``targets`` then
    only carry metrics, read against ``y``'s leaves in flat order (one per target) and weighted
    by the one sample weight. ``training``: the value a traced ``compute_loss`` is given."""
    g = graph.copy()
    outputs = {g.node(o)["name"]: g.output_tensor(o) for o in g.outputs}
    unknown = [t.name for t in targets if t.name not in outputs]
    if unknown:
        raise ValueError(f"loss targets {unknown} name no model output; outputs are {list(outputs)}")
    masks = {name: _value(g, t) for name, t in g.meta.get("output_masks", {}).items()}
    g.remove_all(g.outputs)
    new_outputs: list[tuple[str, Value]] = []
    context = LossContext(g, training)
    with tracing(g, training=True):
        y_true, y_pred, sw = {}, {}, {}
        for name, tensor in outputs.items():
            y_pred[name] = _value(g, tensor)
        if custom is not None:
            x = {g.node(i)["name"]: _value(g, (i, 0)) for i in g.inputs}
            y, leaves, sample_weight = _custom_inputs(g, custom)
            if targets and len(leaves) != len(targets):
                raise ValueError(f"metrics beside a compute_loss override read one label per output: the "
                                 f"model has {len(targets)} outputs ({[t.name for t in targets]}), y has "
                                 f"{len(leaves)} labels; pass y in the model's output structure")
            for t, leaf in zip(targets, leaves):
                y_true[t.name], sw[t.name] = leaf, sample_weight
        for t in targets:
            pred = y_pred[t.name]
            if custom is None:
                spec = t.label_spec or Spec(pred.sym_shape, pred.dtype)
                nid = g.add_input(f"{t.name}_true", spec)
                y_true[t.name] = Value(g, nid, 0, spec)
                nid = g.add_input(f"{t.name}_sample_weight", Spec(("batch",), "float32"))
                sw[t.name] = Value(g, nid, 0, g.node(nid)["specs"][0])
            with scope(f"metrics/{t.name}"):
                for metrics, weight in ((t.metrics, None), (t.weighted_metrics, sw[t.name])):
                    for m in metrics:
                        for k, s in enumerate(m.batch_stats(y_true[t.name], pred, weight, masks.get(t.name))):
                            new_outputs.append((metric_output_name(t.name, m.name, k), s))

        with scope("loss"):
            if custom is None:
                total = _compiled_total(g, losses, y_true, y_pred, sw, masks, context, new_outputs)
            else:
                total = _custom_total(custom, x, y, y_pred, sample_weight, context)
            if total.ndim:
                total = apply("ReduceSum", [total], axes=None, keepdims=False)
    g.add_output("loss", total.tensor)
    logged = [(f"{name}_loss" if k == 0 else f"{name}_loss:{k}", name, v)
              for name, v, k in _numbered(context.logged)]
    g.meta["logged_losses"] = [(out, name) for out, name, _ in logged]
    for name, v in new_outputs + [(out, v) for out, _, v in logged]:
        g.add_output(name, v.tensor)
    g.refresh_edges()
    return g


def _numbered(items: list) -> list:
    """(name, value, k): k counts the earlier items of the same name (their outputs get ':k')."""
    seen: dict[str, int] = {}
    out = []
    for name, v in items:
        out.append((name, v, seen.get(name, 0)))
        seen[name] = seen.get(name, 0) + 1
    return out


def _compiled_total(g, losses, y_true, y_pred, sw, masks, context, new_outputs) -> Value:
    terms = []
    for spec in losses:
        with scope(f"loss/{spec.graph_name}"):
            value = _loss_value(g, spec, y_true, y_pred, sw, masks)
        new_outputs.append((spec.graph_name, value))
        terms.append(value if spec.weight is None or spec.weight == 1.0 else value * float(spec.weight))
    terms += context.regularization()
    if not terms:
        raise ValueError("no loss to train on: give compile() a loss for at least one output")
    return _sum(terms)


def _sum(terms: list) -> Value:
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _custom_inputs(g: Graph, custom: CustomLoss):
    """The inputs ``y_true:<k>`` and ``sample_weight``: (y in its structure, its leaves, the
    sample weight Value or None)."""
    leaves = []
    for k, spec in enumerate(custom.label_specs):
        nid = g.add_input(f"y_true:{k}", spec)
        leaves.append(Value(g, nid, 0, spec))
    y = None if custom.labels is None else tree.map_structure(lambda k: leaves[k], custom.labels)
    sample_weight = None
    if custom.sample_weight:
        nid = g.add_input("sample_weight", Spec(("batch",), "float32"))
        sample_weight = Value(g, nid, 0, g.node(nid)["specs"][0])
    return y, leaves, sample_weight


def _custom_total(custom: CustomLoss, x: dict, y, y_pred: dict, sample_weight, context: LossContext) -> Value:
    total = custom.fn(x, y, y_pred, sample_weight, context)
    if not isinstance(total, Value):
        raise TypeError(f"compute_loss must return the loss (a tensor computed from its arguments), got "
                        f"{type(total).__name__}")
    return total


def _loss_value(g: Graph, spec: LossSpec, y_true: dict, y_pred: dict, sw: dict, masks: dict) -> Value:
    if not tree.is_nested(spec.outputs):
        name = spec.outputs
        loss, pred = spec.loss, y_pred[name]
        fused = _logits_for(g, pred, loss)
        if fused is not None:
            loss, pred = fused
        return loss(y_true[name], pred, sw[name], masks.get(name))
    first = tree.flatten(spec.outputs)[0]
    return spec.loss(tree.map_structure(y_true.get, spec.outputs), tree.map_structure(y_pred.get, spec.outputs),
                     sw[first], None)
