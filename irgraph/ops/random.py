"""Random primitives for training graphs. onnxruntime seeds a kernel's generator once per session,
so a fixed ``seed`` gives a different draw on every run and the same sequence in every session."""
from __future__ import annotations

from .base import FLOAT_DTYPES, Op, ShapeError, Spec, register


@register
class RandomUniformLike(Op):
    name = "RandomUniformLike"

    def infer(self, attrs, ins):
        (x,) = ins
        if x.dtype not in FLOAT_DTYPES:
            raise ShapeError(f"RandomUniformLike needs a float tensor to copy the shape of, got {x.dtype}")
        return [Spec(x.shape, x.dtype)]

    def emit(self, e, attrs, ins, outs):
        e.node("RandomUniformLike", ins, outs, seed=float(attrs["seed"]), low=0.0, high=1.0)

    def vjp(self, attrs, ins, outs, grads):
        return [None]  # the draw does not depend on the values of its input
