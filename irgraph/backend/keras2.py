"""The rest of Keras 2's backend that user code commonly calls: cumulative products, ranges,
random tensors, the cross-entropies with Keras 2's signatures, and the functional loops
(``map_fn``, ``foldl``, ``foldr``). Each is a composition of primitives, so it differentiates and
exports like everything else. Called outside a trace with no functional tensor among the arguments,
a function gives a functional tensor made by a `SourceLayer` (fresh random draws at each
`K.function` call, as Keras 2's random tensors)."""
from __future__ import annotations

import functools

import numpy as np

from ..ops.trace import Value, active, apply, constant, to_value
from . import config
from .graph import source_tensor
from .math import (_axis, _has_keras_tensor, cast, concatenate, expand_dims, getitem, log, permute_dimensions,
                   stack, symbolic, where)

__all__ = ["cumprod", "arange", "random_uniform", "random_normal", "random_binomial", "truncated_normal",
           "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
           "map_fn", "foldl", "foldr", "logsumexp", "ctc_batch_cost"]


def backend_source(fn):
    """`symbolic`, plus: outside a trace with no functional tensor in the arguments, the result
    is a functional tensor of its own (a `SourceLayer`)."""
    lifted = symbolic(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if active() or _has_keras_tensor(args) or _has_keras_tensor(kwargs):
            return lifted(*args, **kwargs)
        return source_tensor(lambda: fn(*args, **kwargs), fn.__name__)

    return wrapper


# ------------------------------------------------------------------------------- cumulative
@symbolic
def cumprod(x, axis=0):
    """Cumulative product along ``axis`` (a static length): ``y_i = prod_{j <= i} x_j``, as the
    product over a lower-triangular selection, so zeros and negatives are exact."""
    x = to_value(x)
    axis = _axis(axis, x.ndim, "cumprod")
    n = x.shape[axis]
    if n is None:
        raise ValueError(f"cumprod needs a static length along axis {axis}; got shape {x.shape}")
    last = x if axis == x.ndim - 1 else permute_dimensions(x, [i for i in range(x.ndim) if i != axis] + [axis])
    keep = constant(np.tril(np.ones((n, n), dtype=bool)))  # keep[i, j]: j <= i
    y = apply("ReduceProd", [where(keep, expand_dims(last, -2), 1.0)], axes=(-1,), keepdims=False)
    if axis == x.ndim - 1:
        return y
    order = [i for i in range(x.ndim) if i != axis] + [axis]
    return permute_dimensions(y, list(np.argsort(order)))


# ------------------------------------------------------------------------------- ranges
@backend_source
def arange(start, stop=None, step=1, dtype="int32"):
    """``[start, stop)`` by ``step`` (Keras 2 ``K.arange``; one argument is the stop)."""
    if stop is None:
        start, stop = 0, start
    if not any(isinstance(v, Value) for v in (start, stop, step)):
        return constant(np.arange(start, stop, step).astype(dtype))
    ends = [cast(to_value(v, dtype), dtype) for v in (start, stop, step)]
    return apply("Range", ends)


# ------------------------------------------------------------------------------- random tensors
def _shape_tensor(shape):
    """(static shape or None, a shape tensor or None) for ints and scalar tensors (``K.shape(x)[0]``)."""
    if isinstance(shape, Value):
        return None, cast(shape, "int64")
    dims = list(shape)
    if all(isinstance(d, (int, np.integer)) for d in dims):
        return tuple(int(d) for d in dims), None
    parts = [cast(apply("Reshape", [to_value(d)], shape=(1,)), "int64") if isinstance(d, Value)
             else constant(np.array([int(d)], dtype=np.int64)) for d in dims]
    return None, concatenate(parts, axis=0)


def _uniform01(shape, dtype, seed):
    from .random import _seed
    dtype = np.dtype(dtype or config.floatx()).name
    static, dynamic = _shape_tensor(shape)
    zero = constant(np.zeros((), dtype=dtype))
    if dynamic is None:
        like = apply("Expand", [zero], shape=static)
    else:
        n = dynamic.shape[0]
        like = apply("Expand", [zero, dynamic], out_shape=(None,) * n)
    return apply("RandomUniformLike", [like], seed=_seed(seed))


@backend_source
def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniform draws in ``[minval, maxval)``: fresh at each run."""
    return _uniform01(shape, dtype, seed) * float(maxval - minval) + float(minval)


@backend_source
def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal draws (Box-Muller from two uniform draws): fresh at each run."""
    u1 = 1.0 - _uniform01(shape, dtype, seed)  # in (0, 1]: the log is finite
    u2 = _uniform01(shape, dtype, None if seed is None else seed + 1)
    radius = apply("Sqrt", [log(u1) * -2.0])
    return radius * apply("Cos", [u2 * (2.0 * np.pi)]) * float(stddev) + float(mean)


@backend_source
def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal draws more than two standard deviations away redrawn (here: clipped to the bounds)."""
    z = apply("Clip", [random_normal(shape, 0.0, 1.0, dtype, seed)], min=-2.0, max=2.0)
    return z * float(stddev) + float(mean)


@backend_source
def random_binomial(shape, p=0.0, dtype=None, seed=None):
    """1 with probability ``p``, else 0 (Keras 2 ``K.random_binomial``)."""
    dtype = np.dtype(dtype or config.floatx()).name
    return cast(apply("Less", [_uniform01(shape, "float32", seed), to_value(float(p), "float32")]), dtype)


# ------------------------------------------------------------------------------- cross-entropies
@symbolic
def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary cross-entropy (Keras 2 order: target, output); probabilities are clipped
    to ``[epsilon, 1 - epsilon]``."""
    from .math import abs as abs_, clip, relu, softplus
    output, target = to_value(output), to_value(target, to_value(output).dtype)
    if from_logits:
        return relu(output) - output * target + softplus(-abs_(output))
    p = clip(output, config.epsilon(), 1.0 - config.epsilon())
    return -(target * log(p) + (1.0 - target) * log(1.0 - p))


@symbolic
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """``-sum(target * log(output))`` over ``axis`` (Keras 2 order: target, output); probabilities
    are normalised to sum to 1 and clipped; logits go through log_softmax."""
    from ..losses import categorical_crossentropy as _cce
    return _cce(target, output, from_logits=from_logits, axis=axis)


@symbolic
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy against integer labels (Keras 2 order: target, output)."""
    from ..losses import sparse_categorical_crossentropy as _scce
    return _scce(target, output, from_logits=from_logits, axis=axis)


# ------------------------------------------------------------------------------- loops
def _elements(elems, fn_name: str) -> list:
    x = to_value(elems)
    n = x.shape[0] if x.ndim else None
    if n is None:
        raise ValueError(f"{fn_name} needs a static length along axis 0 (it unrolls the loop); got shape "
                         f"{x.shape}. For a loop over the batch, write the function with batched backend ops")
    return [getitem(x, i) for i in range(n)]


@symbolic
def map_fn(fn, elems, name=None, dtype=None):
    """``fn`` applied to each slice of ``elems`` along axis 0, the results stacked (unrolled)."""
    return stack([to_value(fn(e)) for e in _elements(elems, "map_fn")], axis=0)


@symbolic
def foldl(fn, elems, initializer=None, name=None):
    """``acc = fn(acc, e)`` over the slices of ``elems`` from the first (unrolled)."""
    items = _elements(elems, "foldl")
    acc, rest = (items[0], items[1:]) if initializer is None else (to_value(initializer), items)
    for e in rest:
        acc = fn(acc, e)
    return acc


@symbolic
def foldr(fn, elems, initializer=None, name=None):
    """``acc = fn(acc, e)`` over the slices of ``elems`` from the last (unrolled)."""
    items = _elements(elems, "foldr")[::-1]
    acc, rest = (items[0], items[1:]) if initializer is None else (to_value(initializer), items)
    for e in rest:
        acc = fn(acc, e)
    return acc


# ------------------------------------------------------------------------------- logsumexp, CTC
@symbolic
def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, computed stably (the maximum taken out first)."""
    x = to_value(x)
    m = apply("StopGradient", [apply("ReduceMax", [x], axes=_axes_of(axis), keepdims=True)])
    s = apply("ReduceSum", [apply("Exp", [x - m])], axes=_axes_of(axis), keepdims=True)
    out = log(s) + m
    if keepdims:
        return out
    return apply("Squeeze", [out], axes=tuple(range(x.ndim)) if axis is None else
                 tuple(_axis(a, x.ndim, "logsumexp") for a in _axes_of(axis)))


def _axes_of(axis):
    if axis is None:
        return None
    return tuple(int(a) for a in axis) if isinstance(axis, (list, tuple)) else (int(axis),)


_NEG = -1e30  # log(0) for the CTC recursion: finite, so gradients stay finite


def _lse3(a, b, c):
    """Elementwise log(exp(a) + exp(b) + exp(c))."""
    m = apply("StopGradient", [apply("Max", [apply("Max", [a, b]), c])])
    total = apply("Exp", [a - m]) + apply("Exp", [b - m]) + apply("Exp", [c - m])
    return log(total) + m


def _shift_right(alpha, k: int):
    """alpha[:, s - k] at position s (log-zero for s < k)."""
    pad = to_value(np.full((1, k), _NEG, dtype=np.float32))
    pad = apply("Expand", [pad, apply("Shape", [getitem(alpha, (slice(None), slice(0, 1)))])],
                out_shape=(None, k))
    return concatenate([pad, getitem(alpha, (slice(None), slice(0, -k)))], axis=1)


@symbolic
def ctc_batch_cost(y_true, y_pred, input_length, label_length):
    """Keras 2's CTC loss per sample, shape (samples, 1): ``y_true`` (samples, max_label_length)
    integer labels, ``y_pred`` (samples, time, classes) softmax outputs whose last class is the
    blank, ``input_length`` and ``label_length`` (samples, 1) the lengths used. The forward
    (alpha) recursion in log space, unrolled over a static time axis; repeated labels are kept
    apart by a blank, as TensorFlow's ``ctc_loss`` with Keras's settings."""
    y_pred = to_value(y_pred)
    steps, classes = y_pred.shape[1], y_pred.shape[2]
    if steps is None or classes is None:
        raise ValueError(f"ctc_batch_cost needs static time and class axes (it unrolls the recursion); got "
                         f"y_pred of shape {y_pred.shape}")
    labels = cast(to_value(y_true), "int64")
    max_len = labels.shape[1]
    if max_len is None:
        raise ValueError(f"ctc_batch_cost needs a static label axis; got y_true of shape {labels.shape}")
    blank = classes - 1
    # extended labels: blank, l1, blank, l2, ..., blank  (samples, 2 * max_len + 1)
    blanks = labels * 0 + blank
    ext = apply("Reshape", [stack([blanks, labels], axis=2)], shape=(0, 2 * max_len))
    ext = concatenate([ext, getitem(blanks, (slice(None), slice(0, 1)))], axis=1)
    width = 2 * max_len + 1
    # log-probabilities of each extended label at each step: (samples, time, width)
    log_probs = log(y_pred + config.epsilon())
    index = cast(getitem(log_probs, (slice(None), slice(None), slice(0, 1))) * 0, "int64") + expand_dims(ext, 1)
    emit = apply("GatherElements", [log_probs, index], axis=2)
    # a label may be reached from two positions back unless it is a blank or repeats that label
    two_back = concatenate([ext[:, :2] * 0 + blank, ext[:, :-2]], axis=1)
    skip = apply("And", [apply("Not", [apply("Equal", [ext, to_value(np.int64(blank))])]),
                         apply("Not", [apply("Equal", [ext, two_back])])])
    start = to_value(np.array([[0.0, 0.0] + [_NEG] * (width - 2)], dtype=np.float32))
    steps_used = cast(to_value(input_length), "int64")
    alpha = getitem(emit, (slice(None), 0)) + start
    for t in range(1, steps):
        from_skip = where(skip, _shift_right(alpha, 2), _NEG)
        new = _lse3(alpha, _shift_right(alpha, 1), from_skip) + getitem(emit, (slice(None), t))
        alpha = where(apply("Less", [to_value(np.int64(t)), steps_used]), new, alpha)
    # the path ends on the last label or the blank after it
    ends = cast(to_value(label_length), "int64") * 2  # position of the final blank
    positions = to_value(np.arange(width, dtype=np.int64)[None, :])
    final = apply("Or", [apply("Equal", [positions, ends]), apply("Equal", [positions, ends - 1])])
    return -logsumexp(where(final, alpha, _NEG), axis=1, keepdims=True)
