"""Elementwise primitives: unary math, activations, broadcasting binary ops, comparisons, casts."""
from __future__ import annotations

import numpy as np

from .base import FLOAT_DTYPES, OPS as OPS_REF, Op, ShapeError, Spec, broadcast, norm_axis, register
from .grad_utils import cast, is_float, needs_grad, unbroadcast, where, zeros_like
from .trace import apply

_ERF = np.vectorize(lambda v: __import__("math").erf(v), otypes=[np.float64])


class Unary(Op):
    """Same shape and dtype out as in; float inputs only unless `any_dtype`.

    ``grad(attrs, x, y, g)`` is the VJP of a float unary op: the gradient w.r.t. ``x`` given the
    output ``y`` and the output gradient ``g``."""

    any_dtype = False
    fn = None  # numpy evaluation for folding and reference
    grad = None

    def vjp(self, attrs, ins, outs, grads):
        (x,), (y,), (g,) = ins, outs, grads
        if g is None or not is_float(x):
            return [None]
        return [type(self).grad(attrs, x, y, g)]

    def infer(self, attrs, ins):
        (x,) = ins
        if not self.any_dtype and x.dtype not in FLOAT_DTYPES:
            raise ShapeError(f"{self.name} needs a floating-point tensor, got {x.dtype}")
        return [x]

    def compute(self, attrs, x):
        return (np.asarray(type(self).fn(x, **attrs)).astype(x.dtype),)


def _unary(name, fn, grad, any_dtype=False, onnx_type=None):
    cls = type(name, (Unary,), {"name": name, "fn": staticmethod(fn), "any_dtype": any_dtype,
                                 "onnx_type": onnx_type, "grad": staticmethod(grad)})
    register(cls)
    return cls


def _zero_grad(attrs, x, y, g):
    """Piecewise-constant ops (Floor, Ceil, Round, Sign): a zero gradient shaped like ``x``."""
    return zeros_like(x)


_SELU_ALPHA, _SELU_GAMMA = 1.67326319217681884765625, 1.05070102214813232421875

_unary("Relu", lambda x: np.maximum(x, 0),
       lambda a, x, y, g: g * cast(y > 0, g.dtype))  # the subgradient at 0 is 0, as TF and PyTorch
# The ReLU gradient multiplies by a 0/1 mask read from the output (y > 0 exactly where x > 0): the
# pre-activation need not be kept, so onnxruntime fuses Conv + Relu, and its Mul is several times
# faster than its Where (single-threaded). Differs from a Where only for an infinite or NaN
# gradient at an inactive unit (NaN there instead of 0).
_unary("Sigmoid", lambda x: 1 / (1 + np.exp(-x)),
       lambda a, x, y, g: g * (y * (1 - y)))
_unary("Tanh", np.tanh,
       lambda a, x, y, g: g * (1 - y * y))
_unary("Exp", np.exp,
       lambda a, x, y, g: g * y)
_unary("Log", np.log,
       lambda a, x, y, g: g / x)
_unary("Sqrt", np.sqrt,
       lambda a, x, y, g: g * 0.5 / y)
_unary("Erf", _ERF,
       lambda a, x, y, g: g * (2 / np.sqrt(np.pi)) * apply("Exp", [-(x * x)]))
_unary("Softplus", lambda x: np.logaddexp(0, x),
       lambda a, x, y, g: g * apply("Sigmoid", [x]))
_unary("Softsign", lambda x: x / (1 + np.abs(x)),
       lambda a, x, y, g: g / _square(1 + apply("Abs", [x])))
_unary("Reciprocal", lambda x: 1 / x,
       lambda a, x, y, g: -(g * y * y))
_unary("Floor", np.floor, _zero_grad)
_unary("Ceil", np.ceil, _zero_grad)
_unary("Round", np.round, _zero_grad)
_unary("Sin", np.sin,
       lambda a, x, y, g: g * apply("Cos", [x]))
_unary("Cos", np.cos,
       lambda a, x, y, g: -(g * apply("Sin", [x])))
_unary("Abs", np.abs,
       lambda a, x, y, g: g * apply("Sign", [x]), any_dtype=True)
_unary("Neg", np.negative,
       lambda a, x, y, g: -g, any_dtype=True)
_unary("Sign", np.sign, _zero_grad, any_dtype=True)
_unary("Identity", lambda x: x,
       lambda a, x, y, g: g, any_dtype=True)
_unary("Elu", lambda x, alpha=1.0: np.where(x > 0, x, alpha * (np.exp(x) - 1)),
       lambda a, x, y, g: where(x > 0, g, g * (y + a.get("alpha", 1.0))))
_unary("Selu", lambda x, alpha=_SELU_ALPHA, gamma=_SELU_GAMMA: gamma * np.where(x > 0, x, alpha * (np.exp(x) - 1)),
       lambda a, x, y, g: where(x > 0, g * a.get("gamma", _SELU_GAMMA),
                                g * (y + a.get("gamma", _SELU_GAMMA) * a.get("alpha", _SELU_ALPHA))))
_unary("LeakyRelu", lambda x, alpha=0.01: np.where(x >= 0, x, alpha * x),
       lambda a, x, y, g: where(x >= 0, g, g * a.get("alpha", 0.01)))
_unary("HardSigmoid", lambda x, alpha=0.2, beta=0.5: np.clip(alpha * x + beta, 0, 1),
       lambda a, x, y, g: where(apply("And", [y > 0, y < 1]), g * a.get("alpha", 0.2), 0))


def _square(v):
    return v * v


@register
class Clip(Unary):
    """Clip(x, min, max); bounds are attributes here and constant inputs in ONNX."""

    name = "Clip"
    any_dtype = True
    fn = staticmethod(lambda x, min=None, max=None: np.clip(x, min, max))

    @staticmethod
    def grad(attrs, x, y, g):
        """The gradient passes where ``min <= x <= max`` (bounds included, as PyTorch's clamp)."""
        masks = []
        if attrs.get("min") is not None:
            masks.append(x >= attrs["min"])
        if attrs.get("max") is not None:
            masks.append(x <= attrs["max"])
        if not masks:
            return g
        mask = masks[0] if len(masks) == 1 else apply("And", masks)
        return where(mask, g, 0)

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

    @staticmethod
    def grad(attrs, x, y, g):
        """y * (g - sum(g * y)) over the softmax axis."""
        axis = attrs.get("axis", -1)
        return y * (g - apply("ReduceSum", [g * y], axes=(axis,), keepdims=True))


@register
class LogSoftmax(_SoftmaxBase):
    name = "LogSoftmax"

    @staticmethod
    def fn(x, axis=-1):
        z = x - x.max(axis=axis, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))

    @staticmethod
    def grad(attrs, x, y, g):
        """g - softmax(x) * sum(g) over the axis (softmax(x) = exp(y))."""
        axis = attrs.get("axis", -1)
        return g - apply("Exp", [y]) * apply("ReduceSum", [g], axes=(axis,), keepdims=True)


@register
class Cast(Op):
    name = "Cast"

    def infer(self, attrs, ins):
        return [Spec(ins[0].shape, attrs["to"])]

    def emit(self, e, attrs, ins, outs):
        e.node("Cast", ins, outs, to=e.onnx_dtype(attrs["to"]))

    def compute(self, attrs, x):
        return (x.astype(attrs["to"]),)

    def vjp(self, attrs, ins, outs, grads):
        """Float -> float casts pass the gradient back in the input's dtype; casts to or from
        integers and bools have no gradient."""
        (x,), (g,) = ins, grads
        if g is None or not is_float(x) or not is_float(outs[0]):
            return [None]
        return [apply("Cast", [g], to=x.dtype)]


# --------------------------------------------------------------------------------- binary ops
class Binary(Op):
    """Broadcasting binary op. ``grad(a, b, y, g, need_a, need_b)`` returns the gradients w.r.t.
    ``a`` and ``b`` at the broadcast output shape (None where not needed); `vjp` unbroadcasts."""

    numeric = True
    fn = None
    out_bool = False
    grad = None

    def vjp(self, attrs, ins, outs, grads):
        a, b = ins
        (g,) = grads
        if self.out_bool or g is None or not is_float(outs[0]) or self.grad is None:
            return [None, None]
        need_a, need_b = needs_grad(a), needs_grad(b)
        if not (need_a or need_b):
            return [None, None]
        ga, gb = type(self).grad(a, b, outs[0], g, need_a, need_b)
        return [None if ga is None or not need_a else unbroadcast(ga, a.sym_shape),
                None if gb is None or not need_b else unbroadcast(gb, b.sym_shape)]

    def infer(self, attrs, ins):
        a, b = ins
        if a.dtype != b.dtype:
            raise ShapeError(f"{self.name} needs matching dtypes, got {a.dtype} and {b.dtype}")
        return [Spec(broadcast(a.shape, b.shape), "bool" if self.out_bool else a.dtype)]

    def compute(self, attrs, a, b):
        out = type(self).fn(a, b)
        return (np.asarray(out) if self.out_bool else np.asarray(out).astype(a.dtype),)


def _binary(name, fn, onnx_type=None, out_bool=False, grad=None):
    cls = type(name, (Binary,), {"name": name, "fn": staticmethod(fn), "onnx_type": onnx_type,
                                  "out_bool": out_bool, "grad": None if grad is None else staticmethod(grad)})
    register(cls)
    return cls


def _pow_grad(a, b, y, g, need_a, need_b):
    """d(a^b)/da = b * a^(b-1); d(a^b)/db = a^b * log(a), taken as 0 where a <= 0 (the real power
    is then only defined for integer b, where the exponent has no useful gradient)."""
    ga = g * b * apply("Pow", [a, b - 1]) if need_a else None
    gb = None
    if need_b:
        pos = a > 0
        gb = where(pos, g * y * apply("Log", [where(pos, a, 1)]), 0)
    return ga, gb


def _max_grad(a, b, y, g, need_a, need_b):
    """Ties (a == b) send the whole gradient to the first input, as TensorFlow."""
    first = a >= b
    return (where(first, g, 0) if need_a else None), (where(first, 0, g) if need_b else None)


def _min_grad(a, b, y, g, need_a, need_b):
    """Ties (a == b) send the whole gradient to the first input, as TensorFlow."""
    first = a <= b
    return (where(first, g, 0) if need_a else None), (where(first, 0, g) if need_b else None)


def _div(a, b):
    """ONNX Div: integer division truncates toward zero (numpy's // floors)."""
    if np.asarray(a).dtype.kind not in "iu":
        return a / b
    q = a // b
    return q + ((q < 0) & (q * b != a))


_binary("Add", np.add, grad=lambda a, b, y, g, na, nb: (g, g))
_binary("Sub", np.subtract, grad=lambda a, b, y, g, na, nb: (g, -g if nb else None))
_binary("Mul", np.multiply, grad=lambda a, b, y, g, na, nb: (g * b if na else None, g * a if nb else None))
_binary("Div", _div, grad=lambda a, b, y, g, na, nb: (g / b if na else None, -(g * y) / b if nb else None))
_binary("Pow", np.power, grad=_pow_grad)
_binary("Max", np.maximum, grad=_max_grad)
_binary("Min", np.minimum, grad=_min_grad)
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

    def vjp(self, attrs, ins, outs, grads):
        return [None]


def _no_grad(self, attrs, ins, outs, grads):
    """Comparisons and logic ops: bool outputs carry no gradient."""
    return [None] * len(ins)


for _name in ("Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or"):
    type(OPS_REF[_name]).vjp = _no_grad


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

    def vjp(self, attrs, ins, outs, grads):
        """Each branch gets the gradient where it was selected; the condition gets none."""
        c, a, b = ins
        (g,) = grads
        if g is None or not is_float(outs[0]):
            return [None, None, None]
        ga = unbroadcast(where(c, g, 0), a.sym_shape) if needs_grad(a) else None
        gb = unbroadcast(where(c, 0, g), b.sym_shape) if needs_grad(b) else None
        return [None, ga, gb]
