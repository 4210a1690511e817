"""trim_borders: compute only the border positions that some window reads.

A VALID pooling or strided convolution whose windows stop short of the end of a spatial axis never
reads the last positions of its input: 23 rows pooled by 2 read 22. This pass crops such an input to
the part the windows read (a Slice from 0) and moves the crop up the chain that produced the input,
through elementwise unary ops, transposes and convolutions (a convolution that must produce fewer
positions needs a shorter input and less end padding), as long as every tensor on the way has no
other reader. The convolutions on the chain then compute fewer positions, and in a training graph
built afterwards their input- and weight-gradient products shrink with them. Values are unchanged.

Used for the train-step and eval-step graphs; the inference graph keeps the model's own shapes.
"""
from __future__ import annotations

from irgraph.ir import Graph
from irgraph.ops.base import get_op

from .cleanup import UNARY_ELEMENTWISE
from .shapes import infer_shapes

_WINDOW_OPS = ("Conv", "MaxPool", "AveragePool")


def trim_borders(graph: Graph) -> Graph:
    g = graph.copy()
    changed = False
    for n in g.topo():
        d = g.node(n)
        if d["kind"] != "op" or d["op"] not in _WINDOW_OPS or d["attrs"].get("auto_pad"):
            continue
        out_shape = d["specs"][0].shape
        crop = _shrink_window_op(g, n, {a: out_shape[a] for a in range(2, len(out_shape))})
        if crop is not None:
            _hoist(g, crop)
            changed = True
    return infer_shapes(g) if changed else g


def _geometry(g: Graph, n: str):
    """(kernel, strides, dilations, pads) of a Conv or pooling node, or None if not all static."""
    d = g.node(n)
    attrs = d["attrs"]
    x = g.spec(g.in_tensors(n)[0])
    rank = len(x.shape) - 2
    if d["op"] == "Conv":
        kernel = tuple(g.spec(g.in_tensors(n)[1]).shape[2:])
        dilations = tuple(attrs.get("dilations") or (1,) * rank)
    else:
        kernel, dilations = tuple(attrs["kernel_shape"]), (1,) * rank
    strides = tuple(attrs.get("strides") or (1,) * rank)
    pads = list(attrs.get("pads") or (0,) * (2 * rank))
    if not all(isinstance(v, int) for v in kernel + tuple(x.shape[2:])):
        return None
    return kernel, strides, dilations, pads


def _shrink_window_op(g: Graph, n: str, out_lens: dict):
    """Make window op ``n`` produce ``out_lens[axis]`` positions on those spatial axes (its current
    count or fewer) while reading as little input as possible: the end padding it no longer reaches
    is dropped and its input is cropped by a new Slice, which is returned (None when the op already
    reads all of its input). Nothing is changed when the geometry is not static."""
    geo = _geometry(g, n)
    if geo is None or not all(isinstance(v, int) for v in out_lens.values()):
        return None
    kernel, strides, dilations, pads = geo
    src = g.in_tensors(n)[0]
    size = g.spec(src).shape
    rank = len(size) - 2
    ends = {}
    for axis, length in out_lens.items():
        i = axis - 2
        k_eff = (kernel[i] - 1) * dilations[i] + 1
        needed = (length - 1) * strides[i] - pads[i] + k_eff   # one past the last input position read
        pads[i + rank] = max(0, needed - size[axis])
        if needed < size[axis]:
            ends[axis] = needed
    g.node(n)["attrs"]["pads"] = tuple(pads)
    if not ends:
        return None
    return _insert_crop(g, src, n, 0, ends)


def _insert_crop(g: Graph, src: tuple, dst: str, slot: int, ends: dict) -> str:
    """A Slice keeping [0, ends[axis]) of ``src`` on each axis, read by ``dst`` at ``slot``."""
    axes = sorted(ends)
    attrs = {"starts": [0] * len(axes), "ends": [ends[a] for a in axes], "axes": axes, "steps": [1] * len(axes)}
    specs = get_op("Slice").infer(attrs, [g.spec(src)])
    crop = g.add_op("Slice", [src], specs, attrs, scope=g.node(dst).get("scope", ""))
    for reader_src, _, key, data in list(g.nx.in_edges(dst, keys=True, data=True)):
        if data.get("dst_slot") == slot and not data.get("weight"):
            g.nx.remove_edge(reader_src, dst, key)
    g.connect((crop, 0), dst, slot)
    return crop


def _crop_attrs(g: Graph, crop: str) -> dict:
    a = g.node(crop)["attrs"]
    return dict(zip(a["axes"], a["ends"]))


def _hoist(g: Graph, crop: str) -> None:
    """Move the crop above its producer while the producer has no other reader and can compute
    fewer positions; the crop ends up as early in the chain as the ops allow."""
    while True:
        src = g.in_tensors(crop)[0]
        producer = src[0]
        if g.kind(producer) != "op" or len(g.consumers(producer)) != 1:
            return
        op = g.node(producer)["op"]
        ends = _crop_attrs(g, crop)
        if op in UNARY_ELEMENTWISE:
            new = _insert_crop(g, g.in_tensors(producer)[0], producer, 0, ends)
        elif op == "Transpose":
            perm = g.node(producer)["attrs"]["perm"]
            new = _insert_crop(g, g.in_tensors(producer)[0], producer, 0, {perm[a]: e for a, e in ends.items()})
        elif op == "Conv" and not g.node(producer)["attrs"].get("auto_pad") and min(ends) >= 2:
            new = _shrink_window_op(g, producer, ends)
        else:
            return
        g.replace_uses((crop, 0), src)
        g.remove(crop)
        if new is None:
            return
        crop = new
