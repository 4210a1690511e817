"""attach_loss: add labels, per-output losses, regularization and metric statistics to a lowered graph.

For each model output ``<name>`` it adds the inputs ``<name>_true`` (labels) and
``<name>_sample_weight`` (one weight per sample; the runtime feeds ones when none are given, and
folds ``class_weight`` into it) and the outputs ``<name>_loss``; it adds ``loss`` (the weighted sum
of output losses, weight regularizers and layer ``add_loss`` terms) and one ``metric:<name>:<metric>:<k>``
output per batch statistic of each metric. A final Softmax or Sigmoid is fused with its
cross-entropy: the loss is computed from the logits (numerically stable), metrics still see the
probabilities. The model's prediction outputs are removed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from irgraph.ir import Graph
from irgraph.ops.base import Spec
from irgraph.ops.trace import Value, apply, scope, tracing


@dataclass
class OutputTarget:
    """What the pass adds for one model output. The user API resolves losses and metrics into these
    callables before the pass runs (`irgraph.compile_config`), so the pass knows no loss classes:

    * ``loss(y_true, y_pred, sample_weight, mask)`` -> scalar Value (``mask``: the output's mask or
      None), and ``loss.on_logits(op)`` -> the same loss computed from the logits of a final ``op``
      ('Softmax' or 'Sigmoid'), or None;
    * each metric has ``name`` and ``batch_stats(y_true, y_pred, sample_weight, mask)`` -> Values
      (``sample_weight`` None for the unweighted metrics).
    """
    name: str
    loss: object | None
    weight: float = 1.0
    label_spec: Spec | None = None    # shape with 'batch' first, dtype
    metrics: list = field(default_factory=list)
    weighted_metrics: list = field(default_factory=list)


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


def attach_loss(graph: Graph, targets: list[OutputTarget]) -> Graph:
    g = graph.copy()
    outputs = {g.node(o)["name"]: g.output_tensor(o) for o in g.outputs}
    unknown = [t.name for t in targets if t.name not in outputs]
    if unknown:
        raise ValueError(f"loss targets {unknown} name no model output; outputs are {list(outputs)}")
    masks = {name: _value(g, t) for name, t in g.meta.get("output_masks", {}).items()}
    g.remove_all(g.outputs)
    new_outputs: list[tuple[str, Value]] = []
    with tracing(g, training=True):
        terms = []
        for t in targets:
            y_pred = _value(g, outputs[t.name])
            spec = t.label_spec or Spec(y_pred.sym_shape, y_pred.dtype)
            nid = g.add_input(f"{t.name}_true", spec)
            y_true = Value(g, nid, 0, spec)
            nid = g.add_input(f"{t.name}_sample_weight", Spec(("batch",), "float32"))
            sw = Value(g, nid, 0, g.node(nid)["specs"][0])
            if t.loss is not None:
                loss, pred = t.loss, y_pred
                fused = _logits_for(g, y_pred, loss)
                if fused is not None:
                    loss, pred = fused
                with scope(f"loss/{t.name}"):
                    value = loss(y_true, pred, sw, masks.get(t.name))
                new_outputs.append((f"{t.name}_loss", value))
                terms.append(value if t.weight == 1.0 else value * float(t.weight))
            with scope(f"metrics/{t.name}"):
                for metrics, weight in ((t.metrics, None), (t.weighted_metrics, sw)):
                    for m in metrics:
                        for k, s in enumerate(m.batch_stats(y_true, y_pred, weight, masks.get(t.name))):
                            new_outputs.append((metric_output_name(t.name, m.name, k), s))
        with scope("regularization"):
            for w in g.nodes_of("weight"):
                var = g.node(w)["var"]
                if var.regularizer is not None and var.trainable:
                    terms.append(var.regularizer(_value(g, (w, 0))))
        terms += [_value(g, t) for t in g.added_losses]
        if not terms:
            raise ValueError("no loss to train on: give compile() a loss for at least one output")
        with scope("loss"):
            total = terms[0]
            for term in terms[1:]:
                total = total + term
            if total.ndim:
                total = apply("ReduceSum", [total], axes=None, keepdims=False)
    g.add_output("loss", total.tensor)
    for name, v in new_outputs:
        g.add_output(name, v.tensor)
    g.refresh_edges()
    return g
