"""autodiff: reverse-mode differentiation over op nodes, using each primitive's VJP rule.

`gradients(loss, wrt)` works on Values of the graph being traced (it traces the backward ops into
that same graph, under ``grad/<scope>``); fan-out gradients are summed. The pass entry point
`autodiff(graph, loss, wrt)` does the same on a finished graph and returns it with the gradient
tensors recorded in ``graph.meta['gradients']`` ({wrt tensor: gradient tensor}).
"""
from __future__ import annotations

from irgraph.ir import Graph
from irgraph.ops.base import FLOAT_DTYPES, get_op
import numpy as np

from irgraph.ops.trace import Value, apply, constant, current, scope, tracing


def _value(g: Graph, tensor: tuple) -> Value:
    return Value(g, tensor[0], tensor[1], g.spec(tensor))


def gradients(loss: Value, wrt: list, grad_loss: Value | None = None) -> list:
    """d(loss)/d(w) for each Value in ``wrt`` (None where ``loss`` does not depend on it)."""
    g = loss.graph
    # the ops on a path from some wrt to the loss: one forward and one backward walk
    relevant = g.descendants_of({w.node for w in wrt}) & g.ancestors_of([loss.node])
    grads: dict[tuple, Value] = {}
    grads[loss.tensor] = grad_loss if grad_loss is not None else _one(loss)
    order = [n for n in g.topo() if n in relevant]
    for n in reversed(order):
        d = g.node(n)
        if d["kind"] != "op":
            continue
        gouts = [grads.get((n, i)) for i in range(len(d["specs"]))]
        if all(x is None for x in gouts):
            continue
        srcs = g.in_tensors(n)
        if not any(s is not None and s[0] in relevant and g.spec(s).dtype in FLOAT_DTYPES for s in srcs):
            continue
        ins = [None if s is None else _value(g, s) for s in srcs]
        outs = [Value(g, n, i, spec) for i, spec in enumerate(d["specs"])]
        with scope(f"grad/{d['scope']}" if d["scope"] else "grad"):
            gins = get_op(d["op"]).vjp(d["attrs"], ins, outs, gouts)
        for s, gi in zip(srcs, gins):
            if s is None or gi is None or s[0] not in relevant:
                continue
            grads[s] = gi if s not in grads else grads[s] + gi
    return [grads.get(w.tensor) for w in wrt]


def _one(loss: Value) -> Value:
    """The seed gradient: ones shaped like ``loss`` (a scalar loss gets a scalar 1)."""
    ones = constant(np.ones((), dtype=loss.dtype))
    if loss.ndim == 0:
        return ones
    return apply("Expand", [ones, apply("Shape", [loss])], out_shape=loss.sym_shape)


def autodiff(graph: Graph, loss: tuple, wrt: list[tuple]) -> Graph:
    """Pass form: add the backward ops of scalar tensor ``loss`` w.r.t. ``wrt`` tensors to a copy."""
    g = graph.copy()
    with tracing(g, training=True):
        grads = gradients(_value(g, loss), [_value(g, w) for w in wrt])
    g.meta["gradients"] = {w: (None if gv is None else gv.tensor) for w, gv in zip(wrt, grads)}
    g.refresh_edges()
    return g


__all__ = ["gradients", "autodiff", "current"]
