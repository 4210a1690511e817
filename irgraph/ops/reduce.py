"""Reductions over axes (attributes ``axes``: tuple or None for all, ``keepdims``: bool)."""
from __future__ import annotations

import numpy as np

from .base import Op, ShapeError, Spec, norm_axis, register
from .grad_utils import cast, expand_like, i64, is_float, scalar, shape_of, static, unreduce, where
from .trace import apply


def reduced_shape(shape, axes, keepdims):
    rank = len(shape)
    axes = tuple(range(rank)) if axes is None else tuple(sorted(norm_axis(a, rank) for a in axes))
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape)), axes
    return tuple(d for i, d in enumerate(shape) if i not in axes), axes


class Reduce(Op):
    fn = None
    axes_as_input_since = 18  # ReduceSum moved axes to an input in opset 13

    def infer(self, attrs, ins):
        (x,) = ins
        shape, _ = reduced_shape(x.shape, attrs.get("axes"), attrs.get("keepdims", False))
        return [Spec(shape, x.dtype)]

    def emit(self, e, attrs, ins, outs):
        rank = len(e.shape_of(ins[0]))
        axes = attrs.get("axes")
        axes = list(range(rank)) if axes is None else [norm_axis(a, rank) for a in axes]
        keep = int(bool(attrs.get("keepdims", False)))
        if e.opset >= self.axes_as_input_since:
            e.node(self.name, [ins[0], e.const(np.array(axes, dtype=np.int64))], outs, keepdims=keep)
        else:
            e.node(self.name, ins, outs, axes=axes, keepdims=keep)

    def compute(self, attrs, x):
        axes = attrs.get("axes")
        axes = None if axes is None else tuple(axes)
        return (np.asarray(type(self).fn(x, axis=axes, keepdims=attrs.get("keepdims", False))).astype(x.dtype),)

    def vjp(self, attrs, ins, outs, grads):
        (x,), (y,), (g,) = ins, outs, grads
        if g is None or not is_float(x):
            return [None]
        axes, keep = attrs.get("axes"), attrs.get("keepdims", False)
        g = unreduce(g, axes, x.ndim, keep)
        y = unreduce(y, axes, x.ndim, keep)
        axes = tuple(range(x.ndim)) if axes is None else tuple(sorted(norm_axis(a, x.ndim) for a in axes))
        return [self.grad(x, y, g, axes)]

    def grad(self, x, y, g, axes):
        """``y`` and ``g`` have the reduced axes kept as 1s; return the gradient shaped like x."""
        raise NotImplementedError


class ReduceSum(Reduce):
    """The gradient is ``g`` broadcast back over the reduced axes."""

    name, fn, axes_as_input_since = "ReduceSum", staticmethod(np.sum), 13

    def grad(self, x, y, g, axes):
        return expand_like(g, x)


class ReduceMean(Reduce):
    """``g / count`` broadcast back; count is static when the reduced dims are, else read at run time."""

    name, fn = "ReduceMean", staticmethod(np.mean)

    def grad(self, x, y, g, axes):
        sizes = [x.sym_shape[a] for a in axes]
        if static(sizes):
            count = scalar(float(np.prod(sizes)), x.dtype)
        else:
            picked = apply("Gather", [shape_of(x), i64(list(axes))], axis=0)
            count = cast(apply("ReduceProd", [picked], axes=None, keepdims=False), x.dtype)
        return expand_like(g / count, x)


class _ReduceExtreme(Reduce):
    """Max/Min: the gradient goes to the positions equal to the result; ties share it equally
    (as TensorFlow's reduce_max and PyTorch's amax)."""

    def grad(self, x, y, g, axes):
        mask = cast(apply("Equal", [x, y]), x.dtype)
        count = apply("ReduceSum", [mask], axes=axes, keepdims=True)
        return mask * (g / count)


class ReduceMax(_ReduceExtreme):
    name, fn = "ReduceMax", staticmethod(np.max)


class ReduceMin(_ReduceExtreme):
    name, fn = "ReduceMin", staticmethod(np.min)


class ReduceProd(Reduce):
    """d prod / d x_i = product of the other entries, computed without dividing by zero: with no
    zero in the group it is prod / x_i; with exactly one zero only that position gets the product
    of the non-zeros; with two or more zeros the gradient is 0."""

    name, fn = "ReduceProd", staticmethod(np.prod)

    def grad(self, x, y, g, axes):
        is_zero = apply("Equal", [x, scalar(0, x.dtype)])
        n_zero = apply("ReduceSum", [cast(is_zero, x.dtype)], axes=axes, keepdims=True)
        safe = where(is_zero, 1, x)
        p_nonzero = apply("ReduceProd", [safe], axes=axes, keepdims=True)
        one_zero = apply("And", [is_zero, apply("Equal", [n_zero, scalar(1, x.dtype)])])
        others = where(apply("Equal", [n_zero, scalar(0, x.dtype)]), p_nonzero / safe,
                       where(one_zero, p_nonzero, 0))
        return others * g


for _cls in (ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd):
    register(_cls)


@register
class ArgMax(Op):
    name = "ArgMax"

    def infer(self, attrs, ins):
        (x,) = ins
        axis = norm_axis(attrs.get("axis", 0), x.rank)
        shape, _ = reduced_shape(x.shape, (axis,), attrs.get("keepdims", True))
        return [Spec(shape, "int64")]

    def emit(self, e, attrs, ins, outs):
        e.node("ArgMax", ins, outs, axis=attrs.get("axis", 0), keepdims=int(attrs.get("keepdims", True)))

    def compute(self, attrs, x):
        out = np.argmax(x, axis=attrs.get("axis", 0))
        if attrs.get("keepdims", True):
            out = np.expand_dims(out, attrs.get("axis", 0))
        return (out.astype(np.int64),)

    def vjp(self, attrs, ins, outs, grads):
        return [None]  # an index has no gradient


def check_axes(axes, rank):
    if axes is None:
        return
    seen = set()
    for a in axes:
        a = norm_axis(a, rank)
        if a in seen:
            raise ShapeError(f"axis {a} repeated")
        seen.add(a)
