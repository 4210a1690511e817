"""Elementwise primitives: unary math, activations, broadcasting binary ops, comparisons, casts."""
from __future__ import annotations

import numpy as np

from .base import FLOAT_DTYPES, Op, ShapeError, Spec, broadcast, norm_axis, register

_ERF = np.vectorize(lambda v: __import__("math").erf(v), otypes=[np.float64])


class Unary(Op):
    """Same shape and dtype out as in; float inputs only unless `any_dtype`."""

    any_dtype = False
    fn = None  # numpy evaluation for folding and reference

    def infer(self, attrs, ins):
        (x,) = ins
        if not self.any_dtype and x.dtype not in FLOAT_DTYPES:
            raise ShapeError(f"{self.name} needs a floating-point tensor, got {x.dtype}")
        return [x]

    def compute(self, attrs, x):
        return (np.asarray(type(self).fn(x, **attrs)).astype(x.dtype),)


def _unary(name, fn, any_dtype=False, onnx_type=None):
    cls = type(name, (Unary,), {"name": name, "fn": staticmethod(fn), "any_dtype": any_dtype,
                                 "onnx_type": onnx_type})
    register(cls)
    return cls


_unary("Relu", lambda x: np.maximum(x, 0))
_unary("Sigmoid", lambda x: 1 / (1 + np.exp(-x)))
_unary("Tanh", np.tanh)
_unary("Exp", np.exp)
_unary("Log", np.log)
_unary("Sqrt", np.sqrt)
_unary("Erf", _ERF)
_unary("Softplus", lambda x: np.logaddexp(0, x))
_unary("Softsign", lambda x: x / (1 + np.abs(x)))
_unary("Reciprocal", lambda x: 1 / x)
_unary("Floor", np.floor)
_unary("Ceil", np.ceil)
_unary("Round", np.round)
_unary("Sin", np.sin)
_unary("Cos", np.cos)
_unary("Abs", np.abs, any_dtype=True)
_unary("Neg", np.negative, any_dtype=True)
_unary("Sign", np.sign, any_dtype=True)
_unary("Identity", lambda x: x, any_dtype=True)
_unary("Elu", lambda x, alpha=1.0: np.where(x > 0, x, alpha * (np.exp(x) - 1)))
_unary("Selu", lambda x, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875:
       gamma * np.where(x > 0, x, alpha * (np.exp(x) - 1)))
_unary("LeakyRelu", lambda x, alpha=0.01: np.where(x >= 0, x, alpha * x))
_unary("HardSigmoid", lambda x, alpha=0.2, beta=0.5: np.clip(alpha * x + beta, 0, 1))


@register
class Clip(Unary):
    """Clip(x, min, max); bounds are attributes here and constant inputs in ONNX."""

    name = "Clip"
    any_dtype = True
    fn = staticmethod(lambda x, min=None, max=None: np.clip(x, min, max))

    def emit(self, e, attrs, ins, outs):
        dt = e.dtype_of(ins[0])
        lo = "" if attrs.get("min") is None else e.const(np.array(attrs["min"], dtype=dt))
        hi = "" if attrs.get("max") is None else e.const(np.array(attrs["max"], dtype=dt))
        e.node("Clip", [ins[0], lo, hi], outs)


class _SoftmaxBase(Unary):
    def infer(self, attrs, ins):
        norm_axis(attrs.get("axis", -1), ins[0].rank)
        return super().infer(attrs, ins)


@register
class Softmax(_SoftmaxBase):
    name = "Softmax"

    @staticmethod
    def fn(x, axis=-1):
        z = np.exp(x - x.max(axis=axis, keepdims=True))
        return z / z.sum(axis=axis, keepdims=True)


@register
class LogSoftmax(_SoftmaxBase):
    name = "LogSoftmax"

    @staticmethod
    def fn(x, axis=-1):
        z = x - x.max(axis=axis, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


@register
class Cast(Op):
    name = "Cast"

    def infer(self, attrs, ins):
        return [Spec(ins[0].shape, attrs["to"])]

    def emit(self, e, attrs, ins, outs):
        e.node("Cast", ins, outs, to=e.onnx_dtype(attrs["to"]))

    def compute(self, attrs, x):
        return (x.astype(attrs["to"]),)


# --------------------------------------------------------------------------------- binary ops
class Binary(Op):
    numeric = True
    fn = None
    out_bool = False

    def infer(self, attrs, ins):
        a, b = ins
        if a.dtype != b.dtype:
            raise ShapeError(f"{self.name} needs matching dtypes, got {a.dtype} and {b.dtype}")
        return [Spec(broadcast(a.shape, b.shape), "bool" if self.out_bool else a.dtype)]

    def compute(self, attrs, a, b):
        out = type(self).fn(a, b)
        return (np.asarray(out) if self.out_bool else np.asarray(out).astype(a.dtype),)


def _binary(name, fn, onnx_type=None, out_bool=False):
    cls = type(name, (Binary,), {"name": name, "fn": staticmethod(fn), "onnx_type": onnx_type,
                                  "out_bool": out_bool})
    register(cls)
    return cls


def _div(a, b):
    """ONNX Div: integer division truncates toward zero (numpy's // floors)."""
    if np.asarray(a).dtype.kind not in "iu":
        return a / b
    q = a // b
    return q + ((q < 0) & (q * b != a))


_binary("Add", np.add)
_binary("Sub", np.subtract)
_binary("Mul", np.multiply)
_binary("Div", _div)
_binary("Pow", np.power)
_binary("Max", np.maximum)
_binary("Min", np.minimum)
_binary("Equal", np.equal, out_bool=True)
_binary("Greater", np.greater, out_bool=True)
_binary("Less", np.less, out_bool=True)
_binary("GreaterOrEqual", np.greater_equal, out_bool=True)
_binary("LessOrEqual", np.less_equal, out_bool=True)
_binary("And", np.logical_and, out_bool=True)
_binary("Or", np.logical_or, out_bool=True)


@register
class Not(Unary):
    name = "Not"
    any_dtype = True
    fn = staticmethod(np.logical_not)


@register
class Where(Op):
    name = "Where"

    def infer(self, attrs, ins):
        c, a, b = ins
        if c.dtype != "bool":
            raise ShapeError(f"Where needs a bool condition, got {c.dtype}")
        if a.dtype != b.dtype:
            raise ShapeError(f"Where needs matching branch dtypes, got {a.dtype} and {b.dtype}")
        return [Spec(broadcast(broadcast(c.shape, a.shape), b.shape), a.dtype)]

    def compute(self, attrs, c, a, b):
        return (np.where(c, a, b),)
