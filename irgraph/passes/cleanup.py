"""cleanup: dead-code elimination, identity removal, transpose cancelling, constant folding (shape
arithmetic and any op whose inputs are all constants), and common-subexpression elimination."""
from __future__ import annotations

import numpy as np

from irgraph.ir import Graph
from irgraph.ops.base import contiguous as _contiguous, get_op

FOLD_LIMIT = 1 << 20  # never materialise a folded constant larger than this many elements


def cleanup(graph: Graph) -> Graph:
    g = graph.copy()
    _remove_identities(g)
    _sink_transposes(g)
    _cancel_transposes(g)
    _fold_constants(g)
    _merge_pool_indices(g)
    _cse(g)
    _dead_code(g)
    g.refresh_edges()
    return g


def _dead_code(g: Graph) -> None:
    live = g.ancestors_of(g.outputs) | set(g.inputs)  # one backward walk from all outputs
    g.remove_all([n for n in g.nx.nodes if n not in live])


def _remove_identities(g: Graph) -> None:
    for n in list(g.nx.nodes):
        d = g.node(n)
        if d["kind"] == "op" and d["op"] == "Identity":
            src = g.in_tensors(n)[0]
            g.replace_uses((n, 0), src)
            g.remove(n)


UNARY_ELEMENTWISE = {"Relu", "Sigmoid", "Tanh", "Elu", "Selu", "LeakyRelu", "HardSigmoid", "Softplus",
                     "Softsign", "Exp", "Log", "Sqrt", "Abs", "Neg", "Erf", "Clip", "Identity"}


def _sink_transposes(g: Graph) -> None:
    """Transpose -> elementwise unary op -> Transpose becomes unary op -> Transpose -> Transpose, so
    the two transposes meet and cancel (channels_last convolutions leave this pattern around their
    activations)."""
    for n in g.topo():
        if n not in g.nx or g.kind(n) != "op" or g.node(n)["op"] not in UNARY_ELEMENTWISE:
            continue
        src = g.in_tensors(n)[0]
        if g.kind(src[0]) != "op" or g.node(src[0])["op"] != "Transpose" or len(g.consumers(src[0])) != 1:
            continue
        users = g.consumers(n)
        if not users or any(g.kind(u) != "op" or g.node(u)["op"] != "Transpose" for u, _, _ in users):
            continue
        t1 = src[0]
        origin = g.in_tensors(t1)[0]
        # rewire: origin -> unary -> t1 -> (former consumers of the unary op)
        g.nx.remove_edge(t1, n, 0)
        g.connect(origin, n, 0)
        g.node(n)["specs"] = [g.spec(origin)]
        for u, slot, _ in users:
            g.nx.remove_edge(n, u, slot)
            g.connect((t1, 0), u, slot)
        g.nx.remove_edge(origin[0], t1, 0) if g.nx.has_edge(origin[0], t1, 0) else None
        g.connect((n, 0), t1, 0)


def _cancel_transposes(g: Graph) -> None:
    """Transpose(Transpose(x, p), q) -> x when q undoes p, else one Transpose with the composed perm."""
    for n in g.topo():
        if n not in g.nx or g.kind(n) != "op" or g.node(n)["op"] != "Transpose":
            continue
        src = g.in_tensors(n)[0]
        if g.kind(src[0]) != "op" or g.node(src[0])["op"] != "Transpose":
            continue
        inner, outer = g.node(src[0])["attrs"]["perm"], g.node(n)["attrs"]["perm"]
        composed = [inner[p] for p in outer]
        origin = g.in_tensors(src[0])[0]
        if composed == list(range(len(composed))):
            g.replace_uses((n, 0), origin)
            g.remove(n)
        else:
            g.node(n)["attrs"]["perm"] = composed
            g.nx.remove_edge(src[0], n, 0)
            g.connect(origin, n, 0)


def _fold_constants(g: Graph) -> None:
    for n in g.topo():
        if n not in g.nx:
            continue
        d = g.node(n)
        if d["kind"] != "op":
            continue
        srcs = g.in_tensors(n)
        if d["op"] == "Shape":
            shape = g.spec(srcs[0]).shape
            if all(isinstance(s, int) for s in shape):
                _replace_with_consts(g, n, (np.array(shape, dtype=np.int64),))
            continue
        if d["op"] in ("Slice", "Gather") and g.kind(srcs[0][0]) == "op" and g.node(srcs[0][0])["op"] == "Shape":
            dims = _selected_dims(g, n, d, g.spec(g.in_tensors(srcs[0][0])[0]).shape)
            if dims is not None and all(isinstance(x, int) for x in dims.flat):
                _replace_with_consts(g, n, (dims.astype(np.int64),))
            continue
        op = get_op(d["op"])
        if op.compute is None or not srcs or any(s is None or g.kind(s[0]) != "const" for s in srcs):
            continue
        arrays = [g.node(s[0])["value"] for s in srcs]
        try:
            results = op.compute(d["attrs"], *arrays)
        except Exception:  # an op we cannot evaluate in numpy stays in the graph
            continue
        if any(np.asarray(r).size > FOLD_LIMIT for r in results):
            continue
        results = tuple(np.asarray(r).astype(s.dtype) for r, s in zip(results, d["specs"]))
        _replace_with_consts(g, n, results)


def _selected_dims(g: Graph, n: str, d: dict, shape: tuple):
    """The dims a Slice/Gather picks out of a Shape output (object array), or None if unknown."""
    if d["op"] == "Slice" and len(g.in_tensors(n)) > 1:
        return None  # dynamic slice: bounds known only at run time
    dims = np.array(shape, dtype=object)
    if d["op"] == "Slice":
        return get_op("Slice").compute(d["attrs"], dims)[0]
    idx = g.in_tensors(n)[1]
    if g.kind(idx[0]) != "const":
        return None
    return np.asarray(np.take(dims, g.node(idx[0])["value"]), dtype=object)


def _replace_with_consts(g: Graph, n: str, arrays) -> None:
    for slot, arr in enumerate(arrays):
        cid = g.add_const(_contiguous(arr))
        g.replace_uses((n, slot), (cid, 0))
    g.remove(n)


def _freeze(v):
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    return v


def _merge_pool_indices(g: Graph) -> None:
    """A MaxPool whose window is also computed with indices (the MaxPool gradient) reads output 0 of
    that MaxPoolWithIndices: the pooling runs once per step instead of twice."""
    with_indices: dict = {}
    for n in g.nx.nodes:
        d = g.node(n)
        if d["kind"] == "op" and d["op"] == "MaxPoolWithIndices":
            with_indices.setdefault((_freeze(d["attrs"]), g.in_tensors(n)[0]), n)
    if not with_indices:
        return
    for n in list(g.nx.nodes):
        d = g.node(n)
        if d["kind"] != "op" or d["op"] != "MaxPool":
            continue
        twin = with_indices.get((_freeze(d["attrs"]), g.in_tensors(n)[0]))
        if twin is not None:
            g.replace_uses((n, 0), (twin, 0))
            g.remove(n)


def _cse(g: Graph) -> None:
    seen: dict = {}
    outputs = set(g.outputs)
    for n in g.topo():
        if n not in g.nx:
            continue
        d = g.node(n)
        if d["kind"] == "const":
            v = d["value"]
            if v.size > 64:
                continue
            key = ("const", v.dtype.str, v.shape, v.tobytes())
        elif d["kind"] == "op":
            key = ("op", d["op"], _freeze(d["attrs"]), tuple(g.in_tensors(n)))
        else:
            continue
        if key in seen:
            keep = seen[key]
            for slot in range(len(d["specs"])):
                g.replace_uses((n, slot), (keep, slot))
            if n not in outputs:
                g.remove(n)
        else:
            seen[key] = n
