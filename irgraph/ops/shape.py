"""Shape and data-movement primitives: Reshape, Transpose, Flatten, Concat, Split, Slice, Gather,
Unsqueeze, Squeeze, Expand, Tile, Pad, Shape."""
from __future__ import annotations

import numpy as np

from .base import Op, ShapeError, Spec, dims_equal, fmt_shape, merge_dim, mul_dims, norm_axis, register


def _i64(values):
    return np.array(list(values), dtype=np.int64)


@register
class Reshape(Op):
    """Static form: attr ``shape`` (ints; 0 copies the input dim, -1 is inferred).
    Dynamic form: a second int64 input holding the shape, with attr ``out_shape`` giving the
    symbolic result the caller knows (e.g. ``('batch', 'time', 10)``)."""

    name = "Reshape"

    def infer(self, attrs, ins):
        x = ins[0]
        if len(ins) > 1:
            return [Spec(tuple(attrs["out_shape"]), x.dtype)]
        target = list(attrs["shape"])
        out = [x.shape[i] if d == 0 else (None if d == -1 else d) for i, d in enumerate(target)]
        if target.count(-1) > 1:
            raise ShapeError(f"Reshape target {tuple(target)} has more than one -1")
        # dims copied with 0 cancel out, so (batch, 3, 4) -> (0, -1, 2) still gives (batch, 6, 2)
        rest = [i for i in range(x.rank) if i >= len(target) or target[i] != 0]
        total = mul_dims([x.shape[i] for i in rest])
        known = mul_dims([d for i, d in enumerate(out) if target[i] not in (0, -1)])
        if -1 in target:
            i = target.index(-1)
            if total is not None and known:
                if total % known:
                    raise ShapeError(f"cannot reshape {fmt_shape(x.shape)} ({total} values) to {tuple(target)}")
                out[i] = total // known
        elif total is not None and known is not None and total != known:
            raise ShapeError(f"cannot reshape {fmt_shape(x.shape)} ({total} values) to "
                             f"{fmt_shape(tuple(out))} ({known} values)")
        return [Spec(tuple(out), x.dtype)]

    def emit(self, e, attrs, ins, outs):
        shape = ins[1] if len(ins) > 1 else e.const(_i64(attrs["shape"]))
        e.node("Reshape", [ins[0], shape], outs)

    def compute(self, attrs, x, shape=None):
        target = shape if shape is not None else attrs["shape"]
        target = [x.shape[i] if d == 0 else d for i, d in enumerate(target)]
        return (x.reshape(target),)


@register
class Transpose(Op):
    name = "Transpose"

    def infer(self, attrs, ins):
        (x,) = ins
        perm = attrs["perm"]
        if sorted(perm) != list(range(x.rank)):
            raise ShapeError(f"perm {tuple(perm)} is not a permutation of the {x.rank} axes of {fmt_shape(x.shape)}")
        return [Spec(tuple(x.shape[p] for p in perm), x.dtype)]

    def emit(self, e, attrs, ins, outs):
        e.node("Transpose", ins, outs, perm=list(attrs["perm"]))

    def compute(self, attrs, x):
        return (np.transpose(x, attrs["perm"]),)


@register
class Flatten(Op):
    name = "Flatten"

    def infer(self, attrs, ins):
        (x,) = ins
        axis = attrs.get("axis", 1)
        return [Spec((mul_dims(x.shape[:axis]) if axis else 1, mul_dims(x.shape[axis:])), x.dtype)]

    def emit(self, e, attrs, ins, outs):
        e.node("Flatten", ins, outs, axis=attrs.get("axis", 1))

    def compute(self, attrs, x):
        axis = attrs.get("axis", 1)
        return (x.reshape(int(np.prod(x.shape[:axis])), -1),)


@register
class Concat(Op):
    name = "Concat"

    def infer(self, attrs, ins):
        rank = ins[0].rank
        axis = norm_axis(attrs["axis"], rank)
        for s in ins:
            if s.rank != rank:
                raise ShapeError(f"cannot concatenate tensors of ranks {[t.rank for t in ins]}")
            if s.dtype != ins[0].dtype:
                raise ShapeError(f"cannot concatenate dtypes {[t.dtype for t in ins]}")
            for i in range(rank):
                if i != axis and not dims_equal(s.shape[i], ins[0].shape[i]):
                    raise ShapeError("cannot concatenate shapes " + ", ".join(fmt_shape(t.shape) for t in ins)
                                     + f" on axis {attrs['axis']}: they differ on axis {i}")
        shape = list(ins[0].shape)
        for i in range(rank):
            if i != axis:
                for s in ins[1:]:
                    shape[i] = merge_dim(shape[i], s.shape[i])
        shape[axis] = _sum_dims([s.shape[axis] for s in ins])
        return [Spec(tuple(shape), ins[0].dtype)]

    def emit(self, e, attrs, ins, outs):
        e.node("Concat", ins, outs, axis=attrs["axis"])

    def compute(self, attrs, *xs):
        return (np.concatenate(xs, axis=attrs["axis"]),)


def _sum_dims(dims):
    if all(isinstance(d, int) for d in dims):
        return sum(dims)
    return None


@register
class Split(Op):
    """Split along ``axis`` into pieces of ``sizes``; one output per piece."""

    name = "Split"

    def infer(self, attrs, ins):
        (x,) = ins
        axis = norm_axis(attrs["axis"], x.rank)
        sizes = attrs["sizes"]
        if isinstance(x.shape[axis], int) and sum(sizes) != x.shape[axis]:
            raise ShapeError(f"split sizes {tuple(sizes)} do not add up to dim {x.shape[axis]} of {fmt_shape(x.shape)}")
        return [Spec(x.shape[:axis] + (s,) + x.shape[axis + 1:], x.dtype) for s in sizes]

    def emit(self, e, attrs, ins, outs):
        e.node("Split", [ins[0], e.const(_i64(attrs["sizes"]))], outs, axis=attrs["axis"])

    def compute(self, attrs, x):
        idx = np.cumsum(attrs["sizes"])[:-1]
        return tuple(np.split(x, idx, axis=attrs["axis"]))


@register
class Slice(Op):
    """Static slice: attrs ``starts``, ``ends``, ``axes``, ``steps`` (ONNX semantics, clamped)."""

    name = "Slice"

    def infer(self, attrs, ins):
        (x,) = ins
        shape = list(x.shape)
        steps = attrs.get("steps") or [1] * len(attrs["axes"])
        for s, t, a, st in zip(attrs["starts"], attrs["ends"], attrs["axes"], steps):
            a = norm_axis(a, x.rank)
            d = shape[a]
            if isinstance(d, int):
                shape[a] = len(range(*slice(s, t, st).indices(d)))
            elif 0 <= s and t == s + 1 and st == 1:
                shape[a] = 1  # an integer index: the element must exist
            else:  # the length depends on the unknown size (x[:, :3] of 2 steps has 2)
                shape[a] = None
        return [Spec(tuple(shape), x.dtype)]

    def emit(self, e, attrs, ins, outs):
        n = len(attrs["axes"])
        steps = attrs.get("steps") or [1] * n
        e.node("Slice", [ins[0], e.const(_i64(attrs["starts"])), e.const(_i64(attrs["ends"])),
                         e.const(_i64(attrs["axes"])), e.const(_i64(steps))], outs)

    def compute(self, attrs, x):
        idx = [slice(None)] * x.ndim
        steps = attrs.get("steps") or [1] * len(attrs["axes"])
        for s, t, a, st in zip(attrs["starts"], attrs["ends"], attrs["axes"], steps):
            idx[a] = slice(s, t, st)
        return (x[tuple(idx)],)


@register
class Gather(Op):
    name = "Gather"

    def infer(self, attrs, ins):
        data, idx = ins
        if idx.dtype not in ("int32", "int64"):
            raise ShapeError(f"Gather indices must be int32 or int64, got {idx.dtype}")
        axis = norm_axis(attrs.get("axis", 0), data.rank)
        return [Spec(data.shape[:axis] + idx.shape + data.shape[axis + 1:], data.dtype)]

    def emit(self, e, attrs, ins, outs):
        e.node("Gather", ins, outs, axis=attrs.get("axis", 0))

    def compute(self, attrs, data, idx):
        return (np.take(data, idx, axis=attrs.get("axis", 0)),)


@register
class Unsqueeze(Op):
    name = "Unsqueeze"

    def infer(self, attrs, ins):
        (x,) = ins
        rank = x.rank + len(attrs["axes"])
        axes = sorted(norm_axis(a, rank) for a in attrs["axes"])
        shape = list(x.shape)
        for a in axes:
            shape.insert(a, 1)
        return [Spec(tuple(shape), x.dtype)]

    def emit(self, e, attrs, ins, outs):
        e.node("Unsqueeze", [ins[0], e.const(_i64(attrs["axes"]))], outs)

    def compute(self, attrs, x):
        rank = x.ndim + len(attrs["axes"])
        return (np.expand_dims(x, tuple(sorted(a % rank for a in attrs["axes"]))),)


@register
class Squeeze(Op):
    name = "Squeeze"

    def infer(self, attrs, ins):
        (x,) = ins
        axes = {norm_axis(a, x.rank) for a in attrs["axes"]}
        for a in axes:
            if isinstance(x.shape[a], int) and x.shape[a] != 1:
                raise ShapeError(f"cannot squeeze axis {a} of size {x.shape[a]} in {fmt_shape(x.shape)}")
        return [Spec(tuple(d for i, d in enumerate(x.shape) if i not in axes), x.dtype)]

    def emit(self, e, attrs, ins, outs):
        e.node("Squeeze", [ins[0], e.const(_i64(attrs["axes"]))], outs)

    def compute(self, attrs, x):
        return (np.squeeze(x, tuple(a % x.ndim for a in attrs["axes"])),)


@register
class Expand(Op):
    """Broadcast to attr ``shape`` (ONNX Expand semantics: 1s keep the input's dims)."""

    name = "Expand"

    def infer(self, attrs, ins):
        from .base import broadcast
        if len(ins) > 1:  # dynamic form: the target shape is a tensor, ``out_shape`` its symbolic value
            return [Spec(broadcast(ins[0].shape, tuple(attrs["out_shape"])), ins[0].dtype)]
        return [Spec(broadcast(ins[0].shape, tuple(attrs["shape"])), ins[0].dtype)]

    def emit(self, e, attrs, ins, outs):
        shape = ins[1] if len(ins) > 1 else e.const(_i64(attrs["shape"]))
        e.node("Expand", [ins[0], shape], outs)

    def compute(self, attrs, x, shape=None):
        return (x * np.ones(attrs["shape"] if shape is None else shape, dtype=x.dtype),)


@register
class Tile(Op):
    name = "Tile"

    def infer(self, attrs, ins):
        (x,) = ins
        reps = attrs["repeats"]
        if len(reps) != x.rank:
            raise ShapeError(f"Tile repeats {tuple(reps)} do not match rank {x.rank}")
        return [Spec(tuple(d * r if isinstance(d, int) else (d if r == 1 else None)
                           for d, r in zip(x.shape, reps)), x.dtype)]

    def emit(self, e, attrs, ins, outs):
        e.node("Tile", [ins[0], e.const(_i64(attrs["repeats"]))], outs)

    def compute(self, attrs, x):
        return (np.tile(x, attrs["repeats"]),)


@register
class Pad(Op):
    """Constant/reflect/edge padding; attr ``pads`` is ONNX's [begin..., end...] over all axes."""

    name = "Pad"

    def infer(self, attrs, ins):
        (x,) = ins
        pads = attrs["pads"]
        if len(pads) != 2 * x.rank:
            raise ShapeError(f"Pad needs {2 * x.rank} pad values for rank {x.rank}, got {len(pads)}")
        shape = tuple(d + pads[i] + pads[i + x.rank] if isinstance(d, int) else
                      (d if pads[i] == pads[i + x.rank] == 0 else None) for i, d in enumerate(x.shape))
        return [Spec(shape, x.dtype)]

    def emit(self, e, attrs, ins, outs):
        dt = e.dtype_of(ins[0])
        e.node("Pad", [ins[0], e.const(_i64(attrs["pads"])),
                       e.const(np.array(attrs.get("value", 0), dtype=dt))], outs,
               mode=attrs.get("mode", "constant"))

    def compute(self, attrs, x):
        n = x.ndim
        pads = attrs["pads"]
        mode = {"constant": "constant", "reflect": "reflect", "edge": "edge"}[attrs.get("mode", "constant")]
        kw = {"constant_values": attrs.get("value", 0)} if mode == "constant" else {}
        return (np.pad(x, [(pads[i], pads[i + n]) for i in range(n)], mode=mode, **kw),)


@register
class Shape(Op):
    name = "Shape"

    def infer(self, attrs, ins):
        return [Spec((ins[0].rank,), "int64")]

    def emit(self, e, attrs, ins, outs):
        e.node("Shape", ins, outs)


@register
class Range(Op):
    """Range(start, limit, delta) from scalar inputs; attr ``length`` is the static length if known."""

    name = "Range"

    def infer(self, attrs, ins):
        return [Spec((attrs.get("length"),), ins[0].dtype)]

    def emit(self, e, attrs, ins, outs):
        e.node("Range", ins, outs)

    def compute(self, attrs, start, limit, delta):
        return (np.arange(start, limit, delta, dtype=start.dtype),)
