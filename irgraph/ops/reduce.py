"""Reductions over axes (attributes ``axes``: tuple or None for all, ``keepdims``: bool)."""
from __future__ import annotations

import numpy as np

from .base import Op, ShapeError, Spec, norm_axis, register


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


def _reduce(name, fn, since=18):
    cls = type(name, (Reduce,), {"name": name, "fn": staticmethod(fn), "axes_as_input_since": since})
    register(cls)


_reduce("ReduceSum", np.sum, since=13)
_reduce("ReduceMean", np.mean)
_reduce("ReduceMax", np.max)
_reduce("ReduceMin", np.min)
_reduce("ReduceProd", np.prod)


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


def check_axes(axes, rank):
    if axes is None:
        return
    seen = set()
    for a in axes:
        a = norm_axis(a, rank)
        if a in seen:
            raise ShapeError(f"axis {a} repeated")
        seen.add(a)
