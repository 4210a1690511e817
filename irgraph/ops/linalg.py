"""Matrix products: MatMul (numpy semantics, batched) and Gemm (emitted by the fusion pass)."""
from __future__ import annotations

import numpy as np

from .base import Op, ShapeError, Spec, broadcast, dims_equal, fmt_shape, register
from .grad_utils import is_float, needs_grad, transpose_last2, unbroadcast
from .trace import apply

BATCH = "batch"  # the shared symbol of axis 0 of every model input


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
        k = {sa[-1], sb[-2]}
        if BATCH in k and any(isinstance(d, int) for d in k):
            fixed = next(d for d in k if isinstance(d, int))
            raise ShapeError(f"inner dimensions differ: {fmt_shape(a.shape)} @ {fmt_shape(b.shape)} contracts "
                             f"the batch axis (its size is the number of samples, known only at run time) "
                             f"with an axis of fixed size {fixed}; check which axes the product should "
                             f"contract (K.dot contracts the last axis of x with the second-to-last of y; "
                             f"K.batch_dot keeps the batch axis)")
        out = broadcast(sa[:-2], sb[:-2]) + (sa[-2], sb[-1])
        if a.rank == 1:
            out = out[:-2] + out[-1:]
        if b.rank == 1:
            out = out[:-1]
        return [Spec(out, a.dtype)]

    def compute(self, attrs, a, b):
        return (np.matmul(a, b),)

    def vjp(self, attrs, ins, outs, grads):
        """dA = g @ B^T, dB = A^T @ g with batch dims unbroadcast; rank-1 operands are promoted
        as in the forward ((k,) -> (1, k) for A, (k, 1) for B) and squeezed back."""
        a, b = ins
        (g,) = grads
        if g is None or not is_float(outs[0]):
            return [None, None]
        need_a, need_b = needs_grad(a), needs_grad(b)
        if a.ndim == 1 and b.ndim == 1:  # dot product: g is a scalar
            return [g * b if need_a else None, g * a if need_b else None]
        a2 = apply("Unsqueeze", [a], axes=(0,)) if a.ndim == 1 else a
        b2 = apply("Unsqueeze", [b], axes=(1,)) if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = apply("Unsqueeze", [g2], axes=(g2.ndim - 1,))
        if b.ndim == 1:
            g2 = apply("Unsqueeze", [g2], axes=(g2.ndim,))
        ga = gb = None
        if need_a:
            ga = unbroadcast(apply("MatMul", [g2, transpose_last2(b2)]), a2.sym_shape)
            if a.ndim == 1:
                ga = apply("Squeeze", [ga], axes=(0,))
        if need_b:
            k, n = b2.sym_shape[-2:]
            if b2.ndim == 2 and a2.ndim > 2 and isinstance(k, int) and isinstance(n, int):
                # a shared 2-D B (Dense over a sequence): fold the batch dims into one GEMM
                a_flat = apply("Reshape", [a2], shape=(-1, k))
                g_flat = apply("Reshape", [g2], shape=(-1, n))
                gb = apply("MatMul", [transpose_last2(a_flat), g_flat])
            else:
                gb = unbroadcast(apply("MatMul", [transpose_last2(a2), g2]), b2.sym_shape)
            if b.ndim == 1:
                gb = apply("Squeeze", [gb], axes=(1,))
        return [ga, gb]


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

    def vjp(self, attrs, ins, outs, grads):
        """Y = A' B' + C (A' = A^T if transA, B' = B^T if transB): each gradient is one Gemm."""
        a, b = ins[0], ins[1]
        c = ins[2] if len(ins) > 2 else None
        (g,) = grads
        if g is None or not is_float(outs[0]):
            return [None] * len(ins)
        ta, tb = int(bool(attrs.get("transA"))), int(bool(attrs.get("transB")))
        ga = gb = gc = None
        if needs_grad(a):  # dA' = g B'^T
            ga = (apply("Gemm", [b, g], transA=tb, transB=1) if ta else
                  apply("Gemm", [g, b], transB=1 - tb))
        if needs_grad(b):  # dB' = A'^T g
            gb = (apply("Gemm", [g, a], transA=1, transB=ta) if tb else
                  apply("Gemm", [a, g], transA=1 - ta))
        if needs_grad(c):
            gc = unbroadcast(g, c.sym_shape)
        return [ga, gb] + ([gc] if len(ins) > 2 else [])
