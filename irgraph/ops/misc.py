"""Primitives used by metrics and utilities (TopK, ...): no gradient needed.

Metric statistics are graph outputs that no loss depends on, so autodiff never visits these ops.
"""
from __future__ import annotations

import numpy as np

from .base import Op, ShapeError, Spec, norm_axis, register


@register
class TopK(Op):
    """The ``k`` largest (or smallest) entries along ``axis``: outputs (values, int64 indices).

    Attributes: ``k`` (int), ``axis`` (default -1), ``largest`` (default True), ``sorted``
    (default True). As ONNX TopK, ties keep the lower index first.
    """

    name = "TopK"

    def infer(self, attrs, ins):
        (x,) = ins
        k = int(attrs["k"])
        if k < 1:
            raise ShapeError(f"TopK needs k >= 1, got {k}")
        axis = norm_axis(attrs.get("axis", -1), x.rank)
        d = x.shape[axis]
        if isinstance(d, int) and k > d:
            raise ShapeError(f"TopK k={k} exceeds the size {d} of axis {axis}")
        shape = x.shape[:axis] + (k,) + x.shape[axis + 1:]
        return [Spec(shape, x.dtype), Spec(shape, "int64")]

    def emit(self, e, attrs, ins, outs):
        e.node("TopK", [ins[0], e.const(np.array([int(attrs["k"])], dtype=np.int64))], outs,
               axis=int(attrs.get("axis", -1)), largest=int(bool(attrs.get("largest", True))),
               sorted=int(bool(attrs.get("sorted", True))))

    def compute(self, attrs, x):
        k, axis = int(attrs["k"]), int(attrs.get("axis", -1))
        key = -x if attrs.get("largest", True) else x
        idx = np.argsort(key, axis=axis, kind="stable")  # stable: ties keep the lower index first
        idx = np.take(idx, np.arange(k), axis=axis)
        return np.take_along_axis(x, idx, axis=axis), idx.astype(np.int64)

    def vjp(self, attrs, ins, outs, grads):
        """The values' gradient goes back to the positions they were taken from."""
        from . import grad_utils as gu
        from .trace import apply
        (x,), g = ins, grads[0]
        if g is None or not gu.is_float(x):
            return [None]
        return [apply("ScatterElements", [gu.zeros_like(x), outs[1], g],
                      axis=attrs.get("axis", -1), reduction="add")]


@register
class CumSum(Op):
    """Cumulative sum along attr ``axis`` (ONNX CumSum): attrs ``exclusive`` (the sum of the
    entries before, not including, each one) and ``reverse`` (summed from the end). Used for
    positions in masked sequences (int32) and differentiable for float inputs."""

    name = "CumSum"

    def infer(self, attrs, ins):
        (x,) = ins
        if x.dtype not in ("int32", "int64", "float32", "float64"):
            raise ShapeError(f"CumSum needs an int32, int64, float32 or float64 input, got {x.dtype}")
        norm_axis(attrs.get("axis", 0), x.rank)
        return [x]

    def emit(self, e, attrs, ins, outs):
        axis = e.const(np.array(int(attrs.get("axis", 0)), dtype=np.int64))
        e.node("CumSum", [ins[0], axis], outs, exclusive=int(bool(attrs.get("exclusive", False))),
               reverse=int(bool(attrs.get("reverse", False))))

    def compute(self, attrs, x):
        axis = norm_axis(attrs.get("axis", 0), x.ndim)
        y = np.flip(x, axis) if attrs.get("reverse") else x
        s = np.cumsum(y, axis=axis, dtype=x.dtype)
        if attrs.get("exclusive"):
            s = s - y
        return (np.flip(s, axis) if attrs.get("reverse") else s,)

    def vjp(self, attrs, ins, outs, grads):
        """Each input entry adds to the sums after it: the gradient is the cumulative sum of the
        output gradient taken the other way round (same exclusivity)."""
        from . import grad_utils as gu
        from .trace import apply
        (x,), (g,) = ins, grads
        if g is None or not gu.is_float(x):
            return [None]
        return [apply("CumSum", [g], axis=attrs.get("axis", 0), exclusive=attrs.get("exclusive", False),
                      reverse=not attrs.get("reverse", False))]
