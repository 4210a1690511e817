"""Helpers shared by VJP rules.

Everything here traces primitives into the current graph. Shapes that are only known at run time
(a symbolic batch dim, an unknown sequence length) are read with ``Shape`` and fed to the dynamic
forms of Reshape/Expand/Slice, so no gradient ever bakes in a batch size.
"""
from __future__ import annotations

import numpy as np

from .base import FLOAT_DTYPES
from .trace import Value, apply, constant

BIG = 2**62  # an open slice end


# ------------------------------------------------------------------------------------ tests
def is_float(v) -> bool:
    return v is not None and v.dtype in FLOAT_DTYPES


def needs_grad(v) -> bool:
    """False for absent inputs, non-float tensors and constants (which never need a gradient)."""
    return is_float(v) and v.graph.kind(v.node) != "const"


def static(shape) -> bool:
    return all(isinstance(d, int) for d in shape)


# ------------------------------------------------------------------------------------ constants
def i64(values) -> Value:
    return constant(np.array(values, dtype=np.int64))


def scalar(value, dtype: str) -> Value:
    return constant(np.array(value, dtype=dtype))


# ------------------------------------------------------------------------------------ shapes
def shape_of(x: Value) -> Value:
    return apply("Shape", [x])


def dims(x: Value, start: int, end: int | None = None) -> Value:
    """``Shape(x)[start:end]`` as a 1-D int64 tensor."""
    return apply("Slice", [shape_of(x)], starts=[start], ends=[BIG if end is None else end], axes=[0],
                 steps=[1])


def dim(x: Value, axis: int) -> Value:
    """``Shape(x)[axis]`` as a 0-d int64 tensor (for Range)."""
    return apply("Reshape", [dims(x, axis, axis + 1)], shape=())


def shape_tensor(parts) -> Value:
    """Concatenate ``parts`` (ints, lists of ints, or 1-D int64 Values) into one shape tensor."""
    vals, pending = [], []
    for p in parts:
        if isinstance(p, Value):
            if pending:
                vals.append(i64(pending))
                pending = []
            vals.append(p)
        elif isinstance(p, (list, tuple)):
            pending.extend(int(v) for v in p)
        else:
            pending.append(int(p))
    if pending:
        vals.append(i64(pending))
    return vals[0] if len(vals) == 1 else apply("Concat", vals, axis=0)


def reshape(x: Value, target, out_shape=None) -> Value:
    """Reshape to ``target``: a tuple of ints (static form), or parts for `shape_tensor` with the
    symbolic result ``out_shape`` (dynamic form)."""
    if all(isinstance(t, (int, np.integer)) for t in target):
        return apply("Reshape", [x], shape=tuple(int(t) for t in target))
    return apply("Reshape", [x, shape_tensor(target)], out_shape=tuple(out_shape))


def reshape_like(g: Value, x: Value) -> Value:
    """``g`` reshaped to the (run-time) shape of ``x``."""
    shape = x.sym_shape
    if tuple(g.sym_shape) == tuple(shape) and static(shape):
        return g
    if static(shape):
        return apply("Reshape", [g], shape=tuple(shape))
    return apply("Reshape", [g, shape_of(x)], out_shape=shape)


def expand_like(g: Value, x: Value) -> Value:
    """``g`` broadcast to the (run-time) shape of ``x``."""
    shape = x.sym_shape
    if static(shape):
        return apply("Expand", [g], shape=tuple(shape))
    return apply("Expand", [g, shape_of(x)], out_shape=shape)


def zeros_like(x: Value, dtype: str | None = None) -> Value:
    return expand_like(scalar(0, dtype or x.dtype), x)


def ones_like(x: Value, dtype: str | None = None) -> Value:
    return expand_like(scalar(1, dtype or x.dtype), x)


def where(cond: Value, a, b) -> Value:
    """``Where`` with Python numbers allowed for the branches (they take the other branch's dtype)."""
    dtype = a.dtype if isinstance(a, Value) else b.dtype
    a = a if isinstance(a, Value) else scalar(a, dtype)
    b = b if isinstance(b, Value) else scalar(b, dtype)
    return apply("Where", [cond, a, b])


def cast(x: Value, dtype: str) -> Value:
    return x if x.dtype == dtype else apply("Cast", [x], to=dtype)


def transpose_last2(x: Value) -> Value:
    perm = list(range(x.ndim))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return apply("Transpose", [x], perm=perm)


# ------------------------------------------------------------------------------------ broadcasting
def unbroadcast(grad: Value, shape: tuple) -> Value:
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it has ``shape``.

    ``shape`` is the (symbolic) shape of the input that was broadcast; dims equal to 1 that the
    output stretched are summed with keepdims, leading extra axes are summed away."""
    gshape = grad.sym_shape
    extra = len(gshape) - len(shape)
    lead = list(range(extra))
    stretched = [extra + i for i, d in enumerate(shape) if d == 1 and gshape[extra + i] != 1]
    if not lead and not stretched:
        return grad
    if not stretched:
        return apply("ReduceSum", [grad], axes=tuple(lead), keepdims=False)
    grad = apply("ReduceSum", [grad], axes=tuple(lead + stretched), keepdims=True)
    if extra:
        grad = apply("Squeeze", [grad], axes=tuple(lead))
    return grad


def unreduce(g: Value, axes, rank: int, keepdims: bool) -> Value:
    """The gradient of a reduction over ``axes`` (None: all) with the reduced axes put back as 1s."""
    if keepdims or axes is None:
        return g  # keepdims: already in place; all axes reduced: a scalar broadcasts as it is
    return apply("Unsqueeze", [g], axes=tuple(sorted(a % rank for a in axes)))


# ------------------------------------------------------------------------------------ scatter
def slice_adjoint(g: Value, x: Value, axis: int, start, step: int, current: Value | None = None) -> Value:
    """Scatter ``g`` (a slice of ``x`` along ``axis``: elements ``start, start+step, ...``) back
    into zeros shaped like ``current`` with axis ``axis`` as long as in ``x``.

    ``start`` is the normalised first position: an int or a 0-d int64 Value (run time).
    ``current`` (default ``g``) supplies the other dims, so multi-axis slices are undone one axis
    at a time."""
    current = g if current is None else current
    rank = g.ndim
    m = dim(g, axis)
    start = start if isinstance(start, Value) else i64(int(start))
    pos = apply("Range", [i64(0), m, i64(1)], length=g.sym_shape[axis])
    if step != 1:
        pos = pos * i64(step)
    pos = pos + start
    pos = apply("Reshape", [pos], shape=tuple(-1 if i == axis else 1 for i in range(rank)))
    pos = expand_like(pos, g)
    out_shape = tuple(x.sym_shape[axis] if i == axis else d for i, d in enumerate(g.sym_shape))
    if static(out_shape):
        zeros = apply("Expand", [scalar(0, g.dtype)], shape=out_shape)
    else:
        target = shape_tensor([dims(g, 0, axis), dims(x, axis, axis + 1), dims(g, axis + 1)])
        zeros = apply("Expand", [scalar(0, g.dtype), target], out_shape=out_shape)
    return apply("ScatterElements", [zeros, pos, g], axis=axis, reduction="add")


def normalize_start(start, d, step: int) -> Value:
    """ONNX Slice's effective first index for ``start`` (int or 0-d Value) on an axis of run-time
    length ``d`` (0-d int64 Value)."""
    if isinstance(start, (int, np.integer)):
        start = int(start)
        if start >= 0:
            hi = d if step > 0 else d - i64(1)
            return apply("Min", [i64(start), hi])
        return apply("Max", [d + i64(start), i64(0)])
    zero = i64(0)
    s = where(apply("Less", [start, zero]), start + d, start)
    s = apply("Max", [s, zero])
    return apply("Min", [s, d if step > 0 else d - i64(1)])
