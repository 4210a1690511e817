"""Shape and data-movement primitives: Reshape, Transpose, Flatten, Concat, Split, Slice, Gather,
Unsqueeze, Squeeze, Expand, Tile, Pad, Shape, Range, and the scatter/gather pair used by gradients
(ScatterElements, GatherElements)."""
from __future__ import annotations

import numpy as np

from .base import (Op, ShapeError, Spec, dims_equal, fmt_shape, merge_dim, mul_dims, norm_axis,
                   register)
from . import grad_utils as gu
from .trace import apply


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

    def vjp(self, attrs, ins, outs, grads):
        return [_reshape_back(grads[0], ins[0])] + [None] * (len(ins) - 1)


def _reshape_back(g, x):
    """The gradient of any reshape: ``g`` reshaped to the run-time shape of ``x``."""
    if g is None or not gu.is_float(x):
        return None
    return gu.reshape_like(g, x)


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

    def vjp(self, attrs, ins, outs, grads):
        (g,) = grads
        if g is None or not gu.is_float(ins[0]):
            return [None]
        perm = list(attrs["perm"])
        return [apply("Transpose", [g], perm=[perm.index(i) for i in range(len(perm))])]


@register
class Flatten(Op):
    name = "Flatten"

    def infer(self, attrs, ins):
        (x,) = ins
        axis = attrs.get("axis", 1)
        lead = x.shape[0] if axis == 1 else (mul_dims(x.shape[:axis]) if axis else 1)
        return [Spec((lead, mul_dims(x.shape[axis:])), x.dtype)]

    def emit(self, e, attrs, ins, outs):
        e.node("Flatten", ins, outs, axis=attrs.get("axis", 1))

    def compute(self, attrs, x):
        axis = attrs.get("axis", 1)
        return (x.reshape(int(np.prod(x.shape[:axis])), -1),)

    def vjp(self, attrs, ins, outs, grads):
        return [_reshape_back(grads[0], ins[0])]


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

    def vjp(self, attrs, ins, outs, grads):
        """Split the gradient back into the pieces (Split when their lengths are static, else
        dynamic Slices at offsets read at run time)."""
        (g,) = grads
        if g is None or not gu.is_float(outs[0]):
            return [None] * len(ins)
        axis = norm_axis(attrs["axis"], g.ndim)
        sizes = [v.sym_shape[axis] for v in ins]
        if all(isinstance(d, int) for d in sizes):
            if len(ins) == 1:
                return [g]
            pieces = apply("Split", [g], axis=axis, sizes=tuple(sizes))
            return [p if gu.needs_grad(v) else None for p, v in zip(pieces, ins)]
        out, start = [], gu.i64([0])
        for v in ins:
            end = start + gu.dims(v, axis, axis + 1)
            if gu.needs_grad(v):
                out.append(apply("Slice", [g, start, end], axes=[axis], steps=[1],
                                 out_shape=g.sym_shape[:axis] + (v.sym_shape[axis],) + g.sym_shape[axis + 1:]))
            else:
                out.append(None)
            start = end
        return out


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

    def vjp(self, attrs, ins, outs, grads):
        """Concatenate the pieces' gradients (zeros for pieces the loss does not use)."""
        if all(g is None for g in grads) or not gu.is_float(ins[0]):
            return [None]
        parts = [gu.zeros_like(o) if g is None else g for g, o in zip(grads, outs)]
        return [parts[0] if len(parts) == 1 else apply("Concat", parts, axis=attrs["axis"])]


@register
class Slice(Op):
    """Static slice: attrs ``starts``, ``ends``, ``axes``, ``steps`` (ONNX semantics, clamped).
    Dynamic form: inputs ``[x, starts, ends]`` (1-D int64 tensors, one entry per axis) with attrs
    ``axes``, ``steps`` and ``out_shape`` (the symbolic result the caller knows)."""

    name = "Slice"

    def infer(self, attrs, ins):
        x = ins[0]
        if len(ins) > 1:
            for what, t in zip(("starts", "ends"), ins[1:]):
                if t.dtype != "int64" or t.rank != 1:
                    raise ShapeError(f"dynamic Slice {what} must be a 1-D int64 tensor, got "
                                     f"{fmt_shape(t.shape)} {t.dtype}")
            if len(attrs["out_shape"]) != x.rank:
                raise ShapeError(f"dynamic Slice out_shape {tuple(attrs['out_shape'])} does not have the rank "
                                 f"of the input {fmt_shape(x.shape)}")
            return [Spec(tuple(attrs["out_shape"]), x.dtype)]
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
        if len(ins) > 1:
            starts, ends = ins[1], ins[2]
        else:
            starts, ends = e.const(_i64(attrs["starts"])), e.const(_i64(attrs["ends"]))
        e.node("Slice", [ins[0], starts, ends, e.const(_i64(attrs["axes"])), e.const(_i64(steps))], outs)

    def compute(self, attrs, x, starts=None, ends=None):
        idx = [slice(None)] * x.ndim
        steps = attrs.get("steps") or [1] * len(attrs["axes"])
        starts = attrs["starts"] if starts is None else [int(v) for v in starts]
        ends = attrs["ends"] if ends is None else [int(v) for v in ends]
        for s, t, a, st in zip(starts, ends, attrs["axes"], steps):
            idx[a] = slice(s, t, st)
        return (x[tuple(idx)],)

    def vjp(self, attrs, ins, outs, grads):
        """Slice and Pad are adjoint: a unit-step slice of a static axis pads the gradient with
        zeros; other steps and axes of run-time length scatter it back at the sliced positions."""
        x, (g,) = ins[0], grads
        nones = [None] * (len(ins) - 1)
        if g is None or not gu.is_float(x):
            return [None] + nones
        steps = attrs.get("steps") or [1] * len(attrs["axes"])
        for i, (a, st) in enumerate(zip(attrs["axes"], steps)):
            a = norm_axis(a, x.ndim)
            d = x.sym_shape[a]
            if len(ins) > 1:  # dynamic form: the start is read at run time
                start = apply("Gather", [ins[1], gu.i64(i)], axis=0)
                g = gu.slice_adjoint(g, x, a, gu.normalize_start(start, gu.dim(x, a), st), st)
                continue
            s = attrs["starts"][i]
            if isinstance(d, int):
                picked = range(*slice(s, attrs["ends"][i], st).indices(d))
                if st == 1 or len(picked) == 0:
                    begin = picked.start if len(picked) else 0
                    end = d - begin - len(picked)
                    pads = [0] * (2 * g.ndim)
                    pads[a], pads[a + g.ndim] = begin, end
                    if begin or end:
                        g = apply("Pad", [g], pads=tuple(pads), mode="constant", value=0.0)
                    continue
                g = gu.slice_adjoint(g, x, a, picked[0], st)
            else:
                g = gu.slice_adjoint(g, x, a, gu.normalize_start(s, gu.dim(x, a), st), st)
        return [g] + nones


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

    def vjp(self, attrs, ins, outs, grads):
        """Scatter-add the gradient rows back at the gathered indices (repeated indices sum):
        ScatterElements(zeros_like(data), indices broadcast to the gradient, gradient, 'add')."""
        data, idx = ins
        (g,) = grads
        if g is None or not gu.is_float(data):
            return [None, None]
        axis = norm_axis(attrs.get("axis", 0), data.ndim)
        idx = gu.cast(idx, "int64")
        if idx.graph.kind(idx.node) != "const" or (idx.graph.node(idx.node)["value"] < 0).any():
            # negative indices count from the end, as in Gather
            idx = gu.where(idx < 0, idx + gu.dim(data, axis), idx)
        if idx.ndim != 1:  # flatten the index dims of the indices and of the gradient
            idx = apply("Reshape", [idx], shape=(-1,))
            dshape = data.sym_shape
            out_shape = dshape[:axis] + (idx.sym_shape[0],) + dshape[axis + 1:]
            if gu.static(dshape[:axis] + dshape[axis + 1:]):
                g = apply("Reshape", [g], shape=tuple(dshape[:axis]) + (-1,) + tuple(dshape[axis + 1:]))
            else:
                g = gu.reshape(g, [gu.dims(data, 0, axis) if axis else [], -1, gu.dims(data, axis + 1)],
                               out_shape)
        idx = apply("Reshape", [idx], shape=tuple(-1 if i == axis else 1 for i in range(data.ndim)))
        idx = gu.expand_like(idx, g)
        return [apply("ScatterElements", [gu.zeros_like(data), idx, g], axis=axis, reduction="add"), None]


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

    def vjp(self, attrs, ins, outs, grads):
        (g,) = grads
        if g is None or not gu.is_float(ins[0]):
            return [None]
        return [apply("Squeeze", [g], axes=tuple(sorted(a % g.ndim for a in attrs["axes"])))]


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

    def vjp(self, attrs, ins, outs, grads):
        (g,) = grads
        if g is None or not gu.is_float(ins[0]):
            return [None]
        return [apply("Unsqueeze", [g], axes=tuple(sorted(a % ins[0].ndim for a in attrs["axes"])))]


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

    def vjp(self, attrs, ins, outs, grads):
        (g,) = grads
        if g is None or not gu.is_float(ins[0]):
            return [None] * len(ins)
        return [gu.unbroadcast(g, ins[0].sym_shape)] + [None] * (len(ins) - 1)


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

    def vjp(self, attrs, ins, outs, grads):
        """Split each tiled axis into (repeats, dim) and sum over the repeats."""
        x, (g,) = ins[0], grads
        if g is None or not gu.is_float(x):
            return [None]
        parts, shape, summed = [], [], []
        for i, (d, r) in enumerate(zip(x.sym_shape, attrs["repeats"])):
            if r != 1:
                summed.append(len(shape))
                parts.append(r)
                shape.append(r)
            parts.append(d if isinstance(d, int) else gu.dims(x, i, i + 1))
            shape.append(d)
        if not summed:
            return [g]
        return [apply("ReduceSum", [gu.reshape(g, parts, shape)], axes=tuple(summed), keepdims=False)]


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

    def vjp(self, attrs, ins, outs, grads):
        """Pad and Slice are adjoint: crop the gradient back. 'edge' adds each pad region's sum to
        the edge element it copied; 'reflect' adds the mirrored pad regions to the elements they
        mirror. Axes are undone one at a time (all three modes pad axes independently)."""
        x, (g,) = ins[0], grads
        if g is None or not gu.is_float(x):
            return [None]
        pads, n, mode = attrs["pads"], x.ndim, attrs.get("mode", "constant")
        if any(p < 0 for p in pads):
            raise NotImplementedError("the gradient of Pad with negative pads (cropping) is not implemented")
        for a in range(n):
            pb, pe = pads[a], pads[a + n]
            if not (pb or pe):
                continue
            core = _sl(g, a, pb, -pe if pe else gu.BIG)
            if mode == "edge":
                if pb:
                    left = apply("ReduceSum", [_sl(g, a, 0, pb)], axes=(a,), keepdims=True)
                    core = apply("Concat", [_sl(core, a, 0, 1) + left, _sl(core, a, 1, gu.BIG)], axis=a)
                if pe:
                    right = apply("ReduceSum", [_sl(g, a, -pe, gu.BIG)], axes=(a,), keepdims=True)
                    core = apply("Concat", [_sl(core, a, 0, -1), _sl(core, a, -1, gu.BIG) + right], axis=a)
            elif mode == "reflect":
                if pb:  # pad position i < pb copies x[pb - i]
                    rev = _sl(g, a, pb - 1, -gu.BIG, -1)
                    core = apply("Concat", [_sl(core, a, 0, 1), _sl(core, a, 1, pb + 1) + rev,
                                            _sl(core, a, pb + 1, gu.BIG)], axis=a)
                if pe:  # pad position d + i copies x[d - 2 - i]
                    rev = _sl(g, a, -1, -pe - 1, -1)
                    core = apply("Concat", [_sl(core, a, 0, -pe - 1), _sl(core, a, -pe - 1, -1) + rev,
                                            _sl(core, a, -1, gu.BIG)], axis=a)
            g = core
        return [g]


def _sl(x, axis, start, end, step=1):
    return apply("Slice", [x], starts=[start], ends=[end], axes=[axis], steps=[step])


@register
class Shape(Op):
    name = "Shape"

    def infer(self, attrs, ins):
        return [Spec((ins[0].rank,), "int64")]

    def emit(self, e, attrs, ins, outs):
        e.node("Shape", ins, outs)

    def vjp(self, attrs, ins, outs, grads):
        return [None]


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

    def vjp(self, attrs, ins, outs, grads):
        return [None, None, None]


@register
class ScatterElements(Op):
    """ONNX ScatterElements(data, indices, updates) along attr ``axis`` with attr ``reduction``
    ('none' or 'add'; repeated indices accumulate with 'add'). Indices and updates share a shape
    of the data's rank; negative indices count from the end."""

    name = "ScatterElements"

    def infer(self, attrs, ins):
        data, idx, upd = ins
        if idx.dtype not in ("int32", "int64"):
            raise ShapeError(f"ScatterElements indices must be int32 or int64, got {idx.dtype}")
        if upd.dtype != data.dtype:
            raise ShapeError(f"ScatterElements updates ({upd.dtype}) must have the data's dtype ({data.dtype})")
        if not data.rank == idx.rank == upd.rank:
            raise ShapeError(f"ScatterElements needs data, indices and updates of one rank, got "
                             f"{fmt_shape(data.shape)}, {fmt_shape(idx.shape)}, {fmt_shape(upd.shape)}")
        norm_axis(attrs.get("axis", 0), data.rank)
        if attrs.get("reduction", "none") not in ("none", "add"):
            raise ShapeError(f"ScatterElements reduction must be 'none' or 'add', got {attrs.get('reduction')!r}")
        return [data]

    def emit(self, e, attrs, ins, outs):
        red = attrs.get("reduction", "none")
        e.node("ScatterElements", ins, outs, axis=attrs.get("axis", 0), reduction=None if red == "none" else red)

    def compute(self, attrs, data, idx, upd):
        axis = attrs.get("axis", 0) % data.ndim
        out = np.array(data, copy=True)
        idx = np.where(idx < 0, idx + data.shape[axis], idx)
        full = list(np.indices(idx.shape, sparse=True))
        full[axis] = idx
        if attrs.get("reduction", "none") == "add":
            np.add.at(out, tuple(full), upd)
        else:
            out[tuple(full)] = upd
        return (out,)

    def vjp(self, attrs, ins, outs, grads):
        """data: the gradient itself ('add'), or with the overwritten positions zeroed ('none');
        updates: the gradient gathered at the indices."""
        data, idx, upd = ins
        (g,) = grads
        if g is None or not gu.is_float(data):
            return [None, None, None]
        axis = attrs.get("axis", 0)
        gd = None
        if gu.needs_grad(data):
            gd = g if attrs.get("reduction", "none") == "add" else \
                apply("ScatterElements", [g, idx, gu.zeros_like(upd)], axis=axis, reduction="none")
        gup = apply("GatherElements", [g, idx], axis=axis) if gu.needs_grad(upd) else None
        return [gd, None, gup]


@register
class GatherElements(Op):
    """ONNX GatherElements(data, indices) along attr ``axis``: out[i][j] = data[idx[i][j]][j] (axis 0)."""

    name = "GatherElements"

    def infer(self, attrs, ins):
        data, idx = ins
        if idx.dtype not in ("int32", "int64"):
            raise ShapeError(f"GatherElements indices must be int32 or int64, got {idx.dtype}")
        if data.rank != idx.rank:
            raise ShapeError(f"GatherElements needs data and indices of one rank, got "
                             f"{fmt_shape(data.shape)} and {fmt_shape(idx.shape)}")
        norm_axis(attrs.get("axis", 0), data.rank)
        return [Spec(idx.shape, data.dtype)]

    def emit(self, e, attrs, ins, outs):
        e.node("GatherElements", ins, outs, axis=attrs.get("axis", 0))

    def compute(self, attrs, data, idx):
        axis = attrs.get("axis", 0) % data.ndim
        idx = np.where(idx < 0, idx + data.shape[axis], idx)
        return (np.take_along_axis(data, idx, axis=axis),)

    def vjp(self, attrs, ins, outs, grads):
        data, idx = ins
        (g,) = grads
        if g is None or not gu.is_float(data):
            return [None, None]
        return [apply("ScatterElements", [gu.zeros_like(data), idx, g], axis=attrs.get("axis", 0),
                      reduction="add"), None]
