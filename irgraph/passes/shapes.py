"""infer_shapes: recompute every tensor's dtype and (static or symbolic) shape from the inputs.

Re-runnable with new input shapes: ``infer_shapes(g, {"input_1": ("batch", 30, 8)})``. A violated
rule raises a ValueError naming the layer scope, the op and both shapes.
"""
from __future__ import annotations

from irgraph.ir import Graph
from irgraph.ops.base import ShapeError, Spec, fmt_shape, get_op


def infer_shapes(graph: Graph, input_shapes: dict | None = None) -> Graph:
    g = graph.copy()
    input_shapes = dict(input_shapes or {})
    for nid in g.inputs:
        d = g.node(nid)
        if d["name"] in input_shapes:
            old = d["specs"][0]
            new = tuple(input_shapes.pop(d["name"]))
            if len(new) != len(old.shape):
                raise ValueError(f"input '{d['name']}' has rank {len(old.shape)} {fmt_shape(old.shape)}; "
                                 f"cannot re-infer with shape {fmt_shape(new)}")
            d["specs"] = [Spec(new, old.dtype)]
    if input_shapes:
        names = [g.node(n)["name"] for n in g.inputs]
        raise ValueError(f"unknown input name(s) {sorted(input_shapes)}; inputs are {names}")
    for nid in g.topo():
        d = g.node(nid)
        if d["kind"] != "op":
            continue
        ins = g.in_specs(nid)
        try:
            d["specs"] = get_op(d["op"]).infer(d["attrs"], ins)
        except ShapeError as err:
            shapes = ", ".join("absent" if s is None else fmt_shape(s.shape) for s in ins)
            raise ShapeError(f"shape inference failed in layer '{d['scope'] or '?'}' at op {d['op']} "
                             f"with input shapes [{shapes}]: {err}") from None
    g.refresh_edges()
    return g
