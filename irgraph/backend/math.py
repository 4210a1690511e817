"""Backend math and array functions, each a composition of primitives.

Every function takes symbolic tensors while a layer is being traced. Called on functional-API
tensors (`KerasTensor`s) instead, it records a call of an op layer, as Keras 3 does, so
``x = K.relu(a + b)`` works directly in model-building code.
"""
from __future__ import annotations

import functools
import sys

import numpy as np

from ..ops.base import FLOAT_DTYPES
from ..ops.trace import Value, apply, constant, to_value
from ..operators import use_backend
from ..keras_tensor import KerasTensor, lift
from ..variables import Variable
from . import config


# ------------------------------------------------------------------------------------- lifting
def _has_keras_tensor(obj) -> bool:
    """Whether ``obj`` (an argument, or a list, tuple or dict of them) holds a functional tensor.
    Called on every backend function call: a plain loop, no generator per level."""
    if isinstance(obj, KerasTensor):
        return True
    if isinstance(obj, dict):
        obj = obj.values()
    elif not isinstance(obj, (list, tuple)):
        return False
    for o in obj:
        if isinstance(o, KerasTensor) or (isinstance(o, (list, tuple, dict)) and _has_keras_tensor(o)):
            return True
    return False


def symbolic(fn):
    """Decorator: on KerasTensor arguments, wrap the call into an op layer of the functional graph
    (`irgraph.keras_tensor.lift`, which the layers install: the backend does not import them)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _has_keras_tensor(args) or _has_keras_tensor(kwargs):
            return lift(wrapper, fn.__name__, args, kwargs)
        return fn(*args, **kwargs)

    return wrapper


def _v(x, like=None) -> Value:
    return to_value(x, like)


def _axis(axis, rank: int, fn: str, of: str = "the input") -> int:
    """``axis`` normalized for ``rank``; out of range is a ValueError naming the function (so the
    layer tracing it prefixes its name), never taken modulo the rank."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{fn}: axis must be an integer, got {axis!r}")
    if not -rank <= axis < rank:
        raise ValueError(f"{fn}: axis {axis} is out of range for {of} of rank {rank} (valid: {-rank} to "
                         f"{rank - 1})")
    return int(axis) % rank


def _count(n, fn: str, what: str) -> int:
    """A whole number >= 1 (repetitions, classes), refused rather than truncated."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer, float, np.floating)) or int(n) != n or n < 1:
        raise ValueError(f"{fn}: {what} must be an integer >= 1, got {n!r}")
    return int(n)


def _pair(a, b):
    """Turn two operands into Values of one dtype. Python numbers follow the tensor, except that a
    Python float promotes an integer or bool tensor to floatx (``int_x * 0.5`` is not 0)."""
    like = a.dtype if isinstance(a, Value) else (b.dtype if isinstance(b, Value) else None)
    if like is None:
        like = a.dtype if isinstance(a, Variable) else (b.dtype if isinstance(b, Variable) else None)
    if like is not None and np.dtype(like).kind in "iub" and (isinstance(a, float) or isinstance(b, float)):
        like = config.floatx()
        a, b = (cast(t, like) if isinstance(t, (Value, Variable)) else t for t in (a, b))
    return _v(a, like), _v(b, like)


# ------------------------------------------------------------------------------------- shapes
def int_shape(x):
    return tuple(x.shape)


def ndim(x) -> int:
    return len(x.shape)


def dtype(x) -> str:
    return x.dtype


@symbolic
def shape(x):
    """The dynamic shape as an int64 tensor."""
    return apply("Shape", [x])


# ------------------------------------------------------------------------------------- arithmetic
@symbolic
def add(a, b):
    return apply("Add", list(_pair(a, b)))


@symbolic
def subtract(a, b):
    return apply("Sub", list(_pair(a, b)))


@symbolic
def multiply(a, b):
    return apply("Mul", list(_pair(a, b)))


@symbolic
def divide(a, b):
    """True division, as Python's ``/``: integer operands give floatx."""
    a, b = _pair(a, b)
    if np.dtype(a.dtype).kind in "iub":
        a, b = cast(a, config.floatx()), cast(b, config.floatx())
    return apply("Div", [a, b])


@symbolic
def pow(x, a):  # noqa: A001 - Keras's name
    return apply("Pow", list(_pair(x, a)))


@symbolic
def negative(x):
    return apply("Neg", [x])


@symbolic
def abs(x):  # noqa: A001
    return apply("Abs", [x])


@symbolic
def square(x):
    x = _v(x)
    return apply("Mul", [x, x])


@symbolic
def sqrt(x):
    return apply("Sqrt", [x])


@symbolic
def exp(x):
    return apply("Exp", [x])


@symbolic
def log(x):
    return apply("Log", [x])


@symbolic
def sin(x):
    return apply("Sin", [x])


@symbolic
def cos(x):
    return apply("Cos", [x])


@symbolic
def sign(x):
    return apply("Sign", [x])


@symbolic
def round(x):  # noqa: A001
    return apply("Round", [x])


@symbolic
def erf(x):
    return apply("Erf", [x])


@symbolic
def maximum(a, b):
    return apply("Max", list(_pair(a, b)))


@symbolic
def minimum(a, b):
    return apply("Min", list(_pair(a, b)))


@symbolic
def clip(x, min_value=None, max_value=None):
    return apply("Clip", [x], min=None if min_value is None else float(min_value),
                 max=None if max_value is None else float(max_value))


@symbolic
def cast(x, dtype):
    x = _v(x)
    dtype = np.dtype(dtype).name
    return x if x.dtype == dtype else apply("Cast", [x], to=dtype)


def _cmp(op, name):
    def f(a, b):
        return apply(op, list(_pair(a, b)))
    f.__name__ = f.__qualname__ = name  # names the op layer on functional tensors
    return symbolic(f)


greater = _cmp("Greater", "greater")
less = _cmp("Less", "less")
greater_equal = _cmp("GreaterOrEqual", "greater_equal")
less_equal = _cmp("LessOrEqual", "less_equal")
equal = _cmp("Equal", "equal")


@symbolic
def not_equal(a, b):
    return apply("Not", [equal(a, b)])


@symbolic
def where(condition, a, b):
    a, b = _pair(a, b)
    return apply("Where", [condition, a, b])


@symbolic
def switch(condition, then_expression, else_expression):
    """Keras switch: branches may be callables; a condition of lower rank than the branches
    (e.g. one flag per sample) gets trailing axes, so it selects whole rows."""
    a, b = _pair(then_expression() if callable(then_expression) else then_expression,
                 else_expression() if callable(else_expression) else else_expression)
    condition = _v(condition)
    if condition.dtype != "bool":
        condition = cast(condition, "bool")
    rank = a.ndim if a.ndim > b.ndim else b.ndim
    if 0 < condition.ndim < rank:
        condition = reshape(condition, (0,) * condition.ndim + (1,) * (rank - condition.ndim))
    return apply("Where", [condition, a, b])


# ------------------------------------------------------------------------------------- activations
@symbolic
def relu(x, alpha=0.0, max_value=None, threshold=0.0):
    """Keras relu: x above ``threshold``, ``alpha * (x - threshold)`` below, capped at ``max_value``."""
    x = _v(x)
    if alpha == 0 and threshold == 0:
        y = apply("Relu", [x])
    else:
        y = where(greater_equal(x, threshold), x, (x - threshold) * alpha)
    if max_value is not None:
        y = apply("Clip", [y], max=float(max_value))
    return y


@symbolic
def relu6(x):
    return apply("Clip", [x], min=0.0, max=6.0)


@symbolic
def leaky_relu(x, negative_slope=0.2, alpha=None):
    return apply("LeakyRelu", [x], alpha=float(negative_slope if alpha is None else alpha))


@symbolic
def elu(x, alpha=1.0):
    return apply("Elu", [x], alpha=float(alpha))


@symbolic
def selu(x):
    return apply("Selu", [x])


@symbolic
def sigmoid(x):
    return apply("Sigmoid", [x])


@symbolic
def hard_sigmoid(x):
    """Keras 3 definition: relu6(x + 3) / 6."""
    return apply("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)


@symbolic
def tanh(x):
    return apply("Tanh", [x])


@symbolic
def softplus(x):
    return apply("Softplus", [x])


@symbolic
def softsign(x):
    return apply("Softsign", [x])


@symbolic
def softmax(x, axis=-1):
    return apply("Softmax", [x], axis=int(axis))


@symbolic
def log_softmax(x, axis=-1):
    return apply("LogSoftmax", [x], axis=int(axis))


@symbolic
def gelu(x, approximate=False):
    x = _v(x)
    if approximate:
        inner = np.sqrt(2.0 / np.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1.0 + tanh(inner))
    return 0.5 * x * (1.0 + apply("Erf", [x * (1.0 / np.sqrt(2.0))]))


@symbolic
def silu(x):
    x = _v(x)
    return x * apply("Sigmoid", [x])


swish = silu


# ------------------------------------------------------------------------------------- reductions
def _axes(axis):
    if axis is None:
        return None
    return tuple(int(a) for a in axis) if isinstance(axis, (list, tuple)) else (int(axis),)


def _reducer(op, name):
    def f(x, axis=None, keepdims=False):
        return apply(op, [x], axes=_axes(axis), keepdims=bool(keepdims))
    f.__name__ = f.__qualname__ = name
    return symbolic(f)


sum = _reducer("ReduceSum", "sum")  # noqa: A001
mean = _reducer("ReduceMean", "mean")
max = _reducer("ReduceMax", "max")  # noqa: A001
min = _reducer("ReduceMin", "min")  # noqa: A001
prod = _reducer("ReduceProd", "prod")


def _logical_reducer(op, name):
    def f(x, axis=None, keepdims=False):
        counts = apply("Cast", [x], to="int32")  # onnxruntime reduces no booleans
        return apply("Cast", [apply(op, [counts], axes=_axes(axis), keepdims=bool(keepdims))], to="bool")
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Keras ``K.{name}``: whether {name} entries along ``axis`` are true (nonzero)."
    return symbolic(f)


any = _logical_reducer("ReduceMax", "any")  # noqa: A001
all = _logical_reducer("ReduceMin", "all")  # noqa: A001


@symbolic
def cumsum(x, axis=0, exclusive=False, reverse=False):
    """Cumulative sum along ``axis`` (Keras ``K.cumsum``; ``exclusive``/``reverse`` as ONNX)."""
    return apply("CumSum", [x], axis=int(axis), exclusive=bool(exclusive), reverse=bool(reverse))


@symbolic
def var(x, axis=None, keepdims=False):
    x = _v(x)
    m = mean(x, axis=axis, keepdims=True)
    return mean(square(x - m), axis=axis, keepdims=keepdims)


@symbolic
def std(x, axis=None, keepdims=False):
    return sqrt(var(x, axis=axis, keepdims=keepdims))


@symbolic
def argmax(x, axis=-1):
    return apply("ArgMax", [x], axis=int(axis), keepdims=False)


@symbolic
def l2_normalize(x, axis=None, epsilon=1e-12):
    x = _v(x)
    ss = sum(square(x), axis=axis, keepdims=True)
    return x / sqrt(maximum(ss, epsilon))


# ------------------------------------------------------------------------------------- products
@symbolic
def matmul(a, b):
    return apply("MatMul", list(_pair(a, b)))


@symbolic
def dot(x, y):
    """Keras K.dot: contracts the last axis of x with the second-to-last axis of y."""
    x, y = _pair(x, y)
    if y.ndim <= 2:
        return apply("MatMul", [x, y])
    # x (..., n) . y (a..., n, m) -> x.shape[:-1] + a... + (m,)
    ys = y.shape
    perm = [y.ndim - 2] + [i for i in range(y.ndim) if i != y.ndim - 2]
    y2 = reshape(apply("Transpose", [y], perm=perm), (ys[-2], -1))
    out = apply("MatMul", [x, y2])
    return reshape(out, tuple(0 if i < x.ndim - 1 else -1 for i in range(x.ndim - 1))
                   + tuple(ys[:-2]) + (ys[-1],))


@symbolic
def batch_dot(x, y, axes=None):
    """Keras batch_dot for tensors of rank 2 or 3 (batch axis 0 is never contracted)."""
    x, y = _pair(x, y)
    if axes is None:
        axes = (x.ndim - 1, y.ndim - 2 if y.ndim > 2 else y.ndim - 1)
    if isinstance(axes, int):
        axes = (axes, axes)
    ax, ay = _axis(axes[0], x.ndim, "batch_dot"), _axis(axes[1], y.ndim, "batch_dot")
    if ax == 0 or ay == 0:
        raise ValueError("batch_dot cannot contract the batch axis 0")
    if x.ndim > 3 or y.ndim > 3:
        raise ValueError(f"batch_dot supports tensors of rank 2 or 3, got ranks {x.ndim} and {y.ndim}")
    dx, dy = x.shape[ax], y.shape[ay]
    if isinstance(dx, int) and isinstance(dy, int) and dx != dy:
        raise ValueError(f"batch_dot: the contracted axes differ in size: axis {ax} of {tuple(x.shape)} has "
                         f"{dx}, axis {ay} of {tuple(y.shape)} has {dy}; pass axes that name dims of one size")
    if x.ndim == 2 and y.ndim == 2:
        return sum(x * y, axis=1, keepdims=True)
    # x -> (B, p, n): contracted axis last
    if x.ndim == 2:
        x3 = expand_dims(x, 1)
    else:
        x3 = x if ax == 2 else apply("Transpose", [x], perm=[0, 2, 1])
    if y.ndim == 2:
        y3 = expand_dims(y, 2)
    else:
        y3 = y if ay == 1 else apply("Transpose", [y], perm=[0, 2, 1])
    out = apply("MatMul", [x3, y3])
    squeeze_axes = ([1] if x.ndim == 2 else []) + ([2] if y.ndim == 2 else [])
    if squeeze_axes:
        out = apply("Squeeze", [out], axes=tuple(squeeze_axes))
    return out


# ------------------------------------------------------------------------------------- arrays
@symbolic
def transpose(x):
    x = _v(x)
    return apply("Transpose", [x], perm=list(range(x.ndim))[::-1])


@symbolic
def permute_dimensions(x, pattern):
    return apply("Transpose", [x], perm=[int(p) for p in pattern])


@symbolic
def reshape(x, shape):
    """Reshape to ``shape`` (ints; -1 once; None or 0 copies the input's dim at that position)."""
    shape = tuple(0 if d is None else int(d) for d in shape)
    return apply("Reshape", [x], shape=shape)


@symbolic
def batch_flatten(x):
    return apply("Flatten", [x], axis=1)


@symbolic
def flatten(x):
    return apply("Reshape", [x], shape=(-1,))


@symbolic
def expand_dims(x, axis=-1):
    x = _v(x)
    return apply("Unsqueeze", [x], axes=(_axis(axis, x.ndim + 1, "expand_dims", "the result"),))


@symbolic
def squeeze(x, axis):
    x = _v(x)
    return apply("Squeeze", [x], axes=(_axis(axis, x.ndim, "squeeze"),))


@symbolic
def concatenate(tensors, axis=-1):
    like = next((t.dtype for t in tensors if isinstance(t, Value)), None)
    return apply("Concat", [_v(t, like) for t in tensors], axis=int(axis))


@symbolic
def stack(tensors, axis=0):
    return concatenate([expand_dims(t, axis) for t in tensors], axis=axis)


@symbolic
def split(x, sizes, axis=-1):
    return apply("Split", [x], sizes=tuple(int(s) for s in sizes), axis=int(axis))


@symbolic
def tile(x, n):
    x = _v(x)
    reps = (int(n),) * x.ndim if isinstance(n, int) else tuple(int(r) for r in n)
    return apply("Tile", [x], repeats=reps)


@symbolic
def repeat(x, n):
    """(batch, dim) -> (batch, n, dim), as RepeatVector."""
    x = _v(x)
    if x.ndim != 2:
        raise ValueError(f"repeat expects a 2D tensor (batch, dim), got shape {x.shape}")
    return apply("Expand", [expand_dims(x, 1)], shape=(1, _count(n, "repeat", "n"), 1))


@symbolic
def repeat_elements(x, rep, axis):
    """Repeat each element ``rep`` times along ``axis`` (np.repeat)."""
    x = _v(x)
    axis = _axis(axis, x.ndim, "repeat_elements")
    rep = _count(rep, "repeat_elements", "rep")
    y = apply("Unsqueeze", [x], axes=(axis + 1,))
    y = apply("Expand", [y], shape=tuple(rep if i == axis + 1 else 1 for i in range(x.ndim + 1)))
    dims = x.sym_shape
    target = []
    for i, d in enumerate(dims):
        if i < axis:
            target.append(0)
        elif i == axis:
            target.append(d * rep if isinstance(d, int) else -1)
        else:
            target.append(d if isinstance(d, int) else -1)
    if target.count(-1) > 1:
        raise ValueError(f"repeat_elements needs static dims after the batch axis, got shape {x.shape}")
    return apply("Reshape", [y], shape=tuple(target))


@symbolic
def gather(reference, indices):
    return apply("Gather", [reference, indices], axis=0)


@symbolic
def zeros_like(x):
    return _v(x) * 0  # an int 0 keeps the dtype


@symbolic
def ones_like(x):
    return _v(x) * 0 + 1


@symbolic
def getitem(x, idx):
    """Numpy-style basic indexing: ints, slices (with steps), None and Ellipsis."""
    x = _v(x)
    if not isinstance(idx, tuple):
        idx = (idx,)
    n_real = len([i for i in idx if i is not None and i is not Ellipsis])
    if Ellipsis in idx:
        k = idx.index(Ellipsis)
        idx = idx[:k] + (slice(None),) * (x.ndim - n_real) + idx[k + 1:]
    starts, ends, axes, steps, squeeze_axes, new_axes = [], [], [], [], [], []
    axis, out_axis = 0, 0
    for item in idx:
        if item is None:
            new_axes.append(out_axis)
            out_axis += 1
            continue
        if isinstance(item, (int, np.integer)):
            item = int(item)
            starts.append(item)
            ends.append(item + 1 if item != -1 else 2**62)
            axes.append(axis)
            steps.append(1)
            squeeze_axes.append(axis)
        elif isinstance(item, slice):
            if item != slice(None):
                step = 1 if item.step is None else int(item.step)
                start = item.start if item.start is not None else (0 if step > 0 else -1)
                stop = item.stop if item.stop is not None else (2**62 if step > 0 else -2**62)
                starts.append(int(start))
                ends.append(int(stop))
                axes.append(axis)
                steps.append(step)
            out_axis += 1
        else:
            raise TypeError(f"unsupported index {item!r}: use ints, slices, None or ...")
        axis += 1
    y = x
    if axes:
        y = apply("Slice", [y], starts=starts, ends=ends, axes=axes, steps=steps)
    if squeeze_axes:
        y = apply("Squeeze", [y], axes=tuple(squeeze_axes))
    if new_axes:
        y = apply("Unsqueeze", [y], axes=tuple(new_axes))
    return y


@symbolic
def one_hot(indices, num_classes):
    indices = _v(indices)
    classes = constant(np.arange(_count(num_classes, "one_hot", "num_classes"), dtype=indices.dtype))
    return cast(equal(expand_dims(indices, -1), classes), config.floatx())


@symbolic
def bias_add(x, bias, data_format=None):
    x = _v(x)
    b = _v(bias)
    if data_format is not None and config.normalize_data_format(data_format) == "channels_first" and x.ndim > 2:
        b = reshape(b, (b.shape[0],) + (1,) * (x.ndim - 2))
    return x + b


@symbolic
def identity(x):
    return apply("Identity", [x])


def is_float(x) -> bool:
    return _v(x).dtype in FLOAT_DTYPES


__all__ = ['abs', 'add', 'all', 'any', 'cumsum', 'argmax', 'batch_dot', 'batch_flatten', 'bias_add', 'cast', 'clip', 'concatenate', 'cos', 'divide', 'dot', 'dtype', 'elu', 'equal', 'erf', 'exp', 'expand_dims', 'flatten', 'gather', 'gelu', 'getitem', 'greater', 'greater_equal', 'hard_sigmoid', 'identity', 'int_shape', 'is_float', 'l2_normalize', 'leaky_relu', 'less', 'less_equal', 'log', 'log_softmax', 'matmul', 'max', 'maximum', 'mean', 'min', 'minimum', 'multiply', 'ndim', 'negative', 'not_equal', 'one_hot', 'ones_like', 'permute_dimensions', 'pow', 'prod', 'relu', 'relu6', 'repeat', 'repeat_elements', 'reshape', 'round', 'selu', 'shape', 'sigmoid', 'sign', 'silu', 'sin', 'softmax', 'softplus', 'softsign', 'split', 'sqrt', 'square', 'squeeze', 'stack', 'std', 'subtract', 'sum', 'swish', 'switch', 'tanh', 'tile', 'transpose', 'var', 'where', 'zeros_like']

use_backend(sys.modules[__name__])  # the Python operators of Values, KerasTensors and Variables call these
