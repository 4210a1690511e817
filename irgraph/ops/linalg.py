"""Matrix products: MatMul (numpy semantics, batched) and Gemm (emitted by the fusion pass)."""
from __future__ import annotations

import numpy as np

from .base import Op, ShapeError, Spec, broadcast, dims_equal, fmt_shape, register


@register
class MatMul(Op):
    name = "MatMul"

    def infer(self, attrs, ins):
        a, b = ins
        if a.dtype != b.dtype:
            raise ShapeError(f"MatMul needs matching dtypes, got {a.dtype} and {b.dtype}")
        if a.rank < 1 or b.rank < 1:
            raise ShapeError("MatMul needs tensors of rank >= 1")
        sa = (1,) + a.shape if a.rank == 1 else a.shape
        sb = b.shape + (1,) if b.rank == 1 else b.shape
        if not dims_equal(sa[-1], sb[-2]):
            raise ShapeError(f"inner dimensions differ: {fmt_shape(a.shape)} @ {fmt_shape(b.shape)} "
                             f"({sa[-1]} != {sb[-2]})")
        out = broadcast(sa[:-2], sb[:-2]) + (sa[-2], sb[-1])
        if a.rank == 1:
            out = out[:-2] + out[-1:]
        if b.rank == 1:
            out = out[:-1]
        return [Spec(out, a.dtype)]

    def compute(self, attrs, a, b):
        return (np.matmul(a, b),)


@register
class Gemm(Op):
    """Y = A @ B (+ C), 2-D only, with optional transposes."""

    name = "Gemm"

    def infer(self, attrs, ins):
        a, b = ins[0], ins[1]
        m = a.shape[1] if attrs.get("transA") else a.shape[0]
        n = b.shape[0] if attrs.get("transB") else b.shape[1]
        return [Spec((m, n), a.dtype)]

    def emit(self, e, attrs, ins, outs):
        e.node("Gemm", ins, outs, **{k: int(v) for k, v in attrs.items() if k in ("transA", "transB")})

    def compute(self, attrs, a, b, c=None):
        a = a.T if attrs.get("transA") else a
        b = b.T if attrs.get("transB") else b
        y = a @ b
        return (y if c is None else y + c,)
