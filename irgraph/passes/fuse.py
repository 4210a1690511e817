"""fuse: MatMul + bias Add -> Gemm.

A 2-D ``MatMul(a, b)`` whose only reader is an ``Add`` of a bias of shape ``(n,)`` or ``(1, n)``
(a Dense layer on a batch of vectors) becomes one ``Gemm(a, b, bias)``: half the nodes, the form
people expect in an exported graph, and one node less for onnxruntime to create and run (it would
fuse the pair itself only at its extended optimization level, and not when the weights are inputs
of a training graph). The Gemm op's VJP differentiates the fused form, so the pass may run before
autodiff. Linear in nodes plus edges.
"""
from __future__ import annotations

from irgraph.ir import Graph

_FLOATS = {"float32", "float64", "float16"}


def fuse(graph: Graph) -> Graph:
    g = graph.copy()
    for add in [n for n, d in g.nx.nodes(data=True) if d["kind"] == "op" and d["op"] == "Add"]:
        match = _matmul_plus_bias(g, add)
        if match is None:
            continue
        mm, bias = match
        a, b = g.in_tensors(mm)
        out = g.spec((add, 0))
        gemm = g.add_op("Gemm", [a, b, bias], [out], scope=g.node(mm).get("scope", ""))
        g.replace_uses((add, 0), (gemm, 0))
        g.remove(add)
        g.remove(mm)
    g.refresh_edges()
    return g


def _matmul_plus_bias(g: Graph, add: str):
    """``(matmul node, bias tensor)`` when ``add`` adds a bias to a fusable 2-D MatMul, else None."""
    ins = g.in_tensors(add)
    if len(ins) != 2 or None in ins:
        return None
    for mm_side in (0, 1):
        src, bias = ins[mm_side], ins[1 - mm_side]
        node = g.node(src[0])
        if node["kind"] != "op" or node["op"] != "MatMul" or src[1] != 0 or len(g.consumers(src[0])) != 1:
            continue
        a, b = (g.spec(t) for t in g.in_tensors(src[0]))
        y, c, out = g.spec(src), g.spec(bias), g.spec((add, 0))
        n = y.shape[1] if len(y.shape) == 2 else None
        if (len(a.shape) == 2 and len(b.shape) == 2 and isinstance(n, int) and y.dtype in _FLOATS
                and c.dtype == y.dtype and c.shape in ((n,), (1, n)) and out.shape == y.shape):
            return src[0], bias
    return None
