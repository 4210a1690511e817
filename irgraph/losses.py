"""Losses with Keras 3 semantics, written with backend ops so they trace into the training graph.

Loss *functions* take ``(y_true, y_pred)`` symbolic tensors and return the per-sample loss, reduced
over the last axis as Keras does (shape ``(batch,)``, or ``(batch, ...)`` for sequence outputs).
Loss *classes* (`MeanSquaredError`, `CategoricalCrossentropy`, ...) wrap them; calling one,
``loss(y_true, y_pred, sample_weight=None)``, returns the reduced scalar (Keras 3 reductions
``'sum_over_batch_size'`` (default), ``'sum'``, ``'mean'``, ``'mean_with_sample_weight'``, ``None``).

Everything is a composition of backend functions and primitives, so autodiff differentiates it.
Numerically delicate forms follow Keras: probability-space cross-entropies clip ``y_pred`` to
``[eps, 1 - eps]`` (``eps = K.epsilon()``), categorical cross-entropy first normalizes ``y_pred``
by its sum; logits forms use ``log_softmax`` and ``max(x, 0) - x z + log(1 + exp(-|x|))``.

`fused_with_activation` turns a probability-space cross-entropy that follows a final Softmax or
Sigmoid into the equivalent logits form, applied to the activation's input. The two forms agree
except where Keras's clipping bites, i.e. for saturated predictions (a probability within
``eps`` of 0 or 1): there the probability form is capped at ``-log(eps)`` (about 16.1) per term
and its gradient vanishes, while the logits form keeps growing and keeps a gradient.
"""
from __future__ import annotations

import copy
import re

import numpy as np

from . import backend as K
from . import tree
from .backend import config
from .ops.base import FLOAT_DTYPES
from .ops.trace import Value, apply, to_value

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


# ------------------------------------------------------------------------------------- helpers
def _t(x, like: str | None = None) -> Value:
    return x if isinstance(x, Value) else to_value(x, like)


def _float(x) -> Value:
    x = _t(x)
    return x if x.dtype in FLOAT_DTYPES else K.cast(x, config.floatx())


def _last_dim(x):
    return x.shape[-1] if x.ndim else None


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1: bool = True):
    """Keras's rank alignment: when the ranks differ by one and the longer tensor ends in a dim of
    1, squeeze that dim (or, when the shorter tensor has rank 1, expand it instead)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and _last_dim(x1) == 1:
        if r2 == 1 and expand_rank_1:
            x2 = K.expand_dims(x2, -1)
        else:
            x1 = K.squeeze(x1, -1)
    if r2 == r1 + 1 and _last_dim(x2) == 1:
        if r1 == 1 and expand_rank_1:
            x1 = K.expand_dims(x1, -1)
        else:
            x2 = K.squeeze(x2, -1)
    return x1, x2


def _prepare(y_true, y_pred, align: bool = True):
    """y_pred as a float tensor, y_true cast to its dtype, ranks aligned as Keras does."""
    y_pred = _float(y_pred)
    y_true = K.cast(_t(y_true, y_pred.dtype), y_pred.dtype)
    if align:
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return y_true, y_pred


def _eps() -> float:
    return float(config.epsilon())


def _num_classes(y, axis=-1):
    """Size of ``axis`` as a Python int when static, else as a shape-(1,) tensor of y's dtype."""
    d = y.shape[axis]
    if d is not None:
        return d
    a = axis % y.ndim
    return K.cast(K.getitem(K.shape(y), slice(a, a + 1)), y.dtype)


def _divide_no_nan(a, b):
    """a / b, 0 where b == 0. Written without Python-number constants: it is used on 0-d
    tensors, and the ONNX emitter currently writes 0-d constants with shape (1,), which the
    full checker rejects next to a 0-d result."""
    nonzero = K.cast(b, "bool")
    is_zero = K.cast(apply("Not", [nonzero]), b.dtype)
    return (a / (b + is_zero)) * K.cast(nonzero, b.dtype)


def l2_normalize(x, axis=-1):
    """Keras 3 ``normalize(x, axis, order=2)``: ``x / max(||x||, eps)``; computed as
    ``x / sqrt(max(sum x^2, eps^2))`` so a zero vector gets a zero (not NaN) gradient."""
    eps = _eps()
    ss = K.sum(K.square(x), axis=axis, keepdims=True)
    return x / K.sqrt(K.maximum(ss, eps * eps))


def convert_binary_labels_to_hinge(y_true):
    """Labels all in {0, 1} (over the whole batch, as Keras decides it) become -1/1."""
    is01 = apply("Or", [K.equal(y_true, 0), K.equal(y_true, 1)])
    all01 = K.cast(K.min(K.cast(is01, y_true.dtype)), "bool")  # every label is 0 or 1
    return K.where(all01, 2.0 * y_true - 1.0, y_true)


# ------------------------------------------------------------------------------------- functions
@K.symbolic
def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred)
    return K.mean(K.square(y_true - y_pred), axis=-1)


@K.symbolic
def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred)
    return K.mean(K.abs(y_true - y_pred), axis=-1)


@K.symbolic
def mean_absolute_percentage_error(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred)
    diff = K.abs((y_true - y_pred) / K.maximum(K.abs(y_true), _eps()))
    return 100.0 * K.mean(diff, axis=-1)


@K.symbolic
def mean_squared_logarithmic_error(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred)
    first = K.log(K.maximum(y_pred, _eps()) + 1.0)
    second = K.log(K.maximum(y_true, _eps()) + 1.0)
    return K.mean(K.square(first - second), axis=-1)


@K.symbolic
def huber(y_true, y_pred, delta=1.0):
    _check_params("huber", {"delta": delta})
    y_true, y_pred = _prepare(y_true, y_pred)
    delta = float(delta)
    error = y_pred - y_true
    abs_error = K.abs(error)
    quadratic = 0.5 * K.square(error)
    linear = delta * abs_error - 0.5 * delta * delta
    return K.mean(K.where(K.less_equal(abs_error, delta), quadratic, linear), axis=-1)


@K.symbolic
def log_cosh(y_true, y_pred):
    """mean(log(cosh(y_pred - y_true))), as ``x + softplus(-2x) - log 2`` (no overflow)."""
    y_true, y_pred = _prepare(y_true, y_pred)
    x = y_pred - y_true
    return K.mean(x + K.softplus(-2.0 * x) - float(np.log(2.0)), axis=-1)


@K.symbolic
def hinge(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred, align=False)
    y_true = convert_binary_labels_to_hinge(y_true)
    return K.mean(K.maximum(1.0 - y_true * y_pred, 0.0), axis=-1)


@K.symbolic
def squared_hinge(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred, align=False)
    y_true = convert_binary_labels_to_hinge(y_true)
    return K.mean(K.square(K.maximum(1.0 - y_true * y_pred, 0.0)), axis=-1)


@K.symbolic
def categorical_hinge(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred, align=False)
    pos = K.sum(y_true * y_pred, axis=-1)
    neg = K.max((1.0 - y_true) * y_pred, axis=-1)
    return K.maximum(neg - pos + 1.0, 0.0)


@K.symbolic
def kl_divergence(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred, align=False)
    y_true = K.clip(y_true, _eps(), 1.0)
    y_pred = K.clip(y_pred, _eps(), 1.0)
    return K.sum(y_true * K.log(y_true / y_pred), axis=-1)


@K.symbolic
def poisson(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred, align=False)
    return K.mean(y_pred - y_true * K.log(y_pred + _eps()), axis=-1)


@K.symbolic
def cosine_similarity(y_true, y_pred, axis=-1):
    """The Keras 3 loss: ``-sum(l2_normalize(y_true) * l2_normalize(y_pred))`` (between -1 and 1;
    -1 is perfect alignment)."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return -K.sum(l2_normalize(y_true, axis) * l2_normalize(y_pred, axis), axis=axis)


@K.symbolic
def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Mean over ``axis`` of the elementwise binary cross-entropy. Labels are smoothed towards 0.5:
    ``y * (1 - s) + 0.5 * s``. Probabilities are clipped to ``[eps, 1 - eps]``; logits use
    ``max(x, 0) - x z + log(1 + exp(-|x|))``."""
    _check_params("binary_crossentropy", {"label_smoothing": label_smoothing})
    y_true, y_pred = _prepare(y_true, y_pred)
    if label_smoothing:
        s = float(label_smoothing)
        y_true = y_true * (1.0 - s) + 0.5 * s
    if from_logits:
        x = y_pred
        bce = K.relu(x) - x * y_true + K.softplus(-K.abs(x))
    else:
        eps = _eps()
        p = K.clip(y_pred, eps, 1.0 - eps)
        bce = -(y_true * K.log(p) + (1.0 - y_true) * K.log(1.0 - p))
    return K.mean(bce, axis=axis)


@K.symbolic
def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``-sum(y_true * log p)`` over ``axis``. Labels are smoothed as
    ``y * (1 - s) + s / num_classes``. Probabilities are normalized by their sum over ``axis`` and
    clipped to ``[eps, 1 - eps]``; logits go through ``log_softmax``."""
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be an int, got axis={axis!r}")
    _check_params("categorical_crossentropy", {"label_smoothing": label_smoothing})
    y_true, y_pred = _prepare(y_true, y_pred, align=False)
    if label_smoothing:
        s = float(label_smoothing)
        y_true = y_true * (1.0 - s) + s / _num_classes(y_true, -1)
    return -K.sum(y_true * _log_prob(y_pred, from_logits, axis), axis=axis)


def _log_prob(y_pred, from_logits, axis):
    if from_logits:
        return K.log_softmax(y_pred, axis=axis)
    eps = _eps()
    p = y_pred / K.sum(y_pred, axis=axis, keepdims=True)
    return K.log(K.clip(p, eps, 1.0 - eps))


def shape_text(shape) -> str:
    """A shape as people read it: ``(None, 3)``, ``(5,)``."""
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def sparse_labels(y_true, y_pred, what: str = "sparse_categorical_crossentropy", hint: str = "",
                  noun: str = "labels"):
    """Integer class labels of shape ``y_pred.shape[:-1]`` (a trailing 1 is squeezed), for the sparse
    losses and metrics; any other shape is a ValueError naming ``what`` (plus ``hint``)."""
    y_true = _t(y_true)
    if y_true.ndim == y_pred.ndim and _last_dim(y_true) == 1:
        y_true = K.squeeze(y_true, -1)
    if y_true.ndim != y_pred.ndim - 1:
        classes = tuple(y_pred.shape[:-1])
        raise ValueError(f"{what} expects integer {noun} of shape {shape_text(classes)} or "
                         f"{shape_text(classes + (1,))} for predictions of shape {shape_text(y_pred.shape)}, "
                         f"got labels of shape {shape_text(y_true.shape)}{hint}")
    return y_true


def _sparse_labels(y_true, y_pred):
    y_true = sparse_labels(y_true, y_pred)
    return y_true if y_true.dtype == "int64" else K.cast(y_true, "int64")


@K.symbolic
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Cross-entropy against integer labels of shape ``(batch, ...)`` or ``(batch, ..., 1)``
    (one-hot inside the graph; a label outside ``[0, num_classes)`` gives a zero loss). With
    ``ignore_class``, entries with that label get a zero loss (the `SparseCategoricalCrossentropy`
    class also leaves them out of its mean)."""
    y_pred = _float(y_pred)
    labels = _sparse_labels(y_true, y_pred)
    n = y_pred.shape[axis]
    if n is None:
        raise ValueError(f"sparse_categorical_crossentropy needs a static number of classes; got "
                         f"predictions of shape {tuple(y_pred.shape)}")
    valid = None
    if ignore_class is not None:
        valid = K.not_equal(labels, int(ignore_class))
        labels = K.where(valid, labels, 0)
    onehot = K.cast(K.one_hot(labels, n), y_pred.dtype)
    ax = axis % y_pred.ndim
    if ax != y_pred.ndim - 1:
        perm = list(range(y_pred.ndim - 1))
        perm.insert(ax, y_pred.ndim - 1)
        onehot = K.permute_dimensions(onehot, perm)
    res = -K.sum(onehot * _log_prob(y_pred, from_logits, axis), axis=axis)
    if valid is not None:
        res = K.where(valid, res, 0.0)
    return res


# aliases (Keras 2 names)
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh
cosine_proximity = cosine_similarity
huber_loss = huber


# ------------------------------------------------------------------------------------- reduction
def standardize_reduction(reduction):
    if reduction == "auto":  # tf.keras ReductionV2.AUTO
        return "sum_over_batch_size"
    if reduction not in REDUCTIONS:
        raise ValueError(f"invalid reduction {reduction!r}; expected one of "
                         f"{', '.join(repr(r) for r in REDUCTIONS)}")
    return reduction


def _expand_to(w, ndim):
    while w.ndim < ndim:
        w = K.expand_dims(w, -1)
    return w


def reduce_weighted_values(values, sample_weight=None, mask=None, reduction="sum_over_batch_size"):
    """Keras 3 ``reduce_weighted_values``: weight the per-sample losses, then reduce.

    ``sample_weight`` is aligned with Keras's rank rule; a weight of lower rank than the losses
    (one weight per sample for a per-timestep loss) is broadcast over the trailing axes.
    ``mask`` (bool, like ``values``) drops entries; with the mean reductions the result is then
    the mean over the kept entries, as Keras does for masked losses."""
    reduction = standardize_reduction(reduction)
    values = _float(values)
    if mask is not None:
        m = K.cast(mask, values.dtype)
        if reduction in ("mean", "sum_over_batch_size"):
            m = _divide_no_nan(m, K.mean(m))  # kept entries weigh total / kept
        if sample_weight is None:
            sample_weight = m
        else:
            m, sw = squeeze_or_expand_to_same_rank(m, K.cast(_t(sample_weight, values.dtype), values.dtype))
            sample_weight = _expand_to(sw, m.ndim) * m
    if sample_weight is not None:
        sw = K.cast(_t(sample_weight, values.dtype), values.dtype)
        values, sw = squeeze_or_expand_to_same_rank(values, sw)
        sw = _expand_to(sw, values.ndim)
        values = values * sw
        sample_weight = sw
    if reduction in (None, "none") or values.ndim == 0:
        return values
    if reduction == "sum":
        return K.sum(values)
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return _divide_no_nan(K.sum(values), K.sum(sample_weight))
    return K.mean(values)  # sum / number of elements


# ------------------------------------------------------------------------------------- classes
def _snake(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


class Loss:
    """Base class: subclasses implement ``call(y_true, y_pred)`` -> per-sample losses."""

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None):
        self.reduction = standardize_reduction(reduction)
        self.name = name or _snake(type(self).__name__)

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__}.call")

    def _mask(self, y_true, y_pred):
        return None

    def __call__(self, y_true, y_pred, sample_weight=None, mask=None):
        """The reduced loss; ``mask`` (the prediction's Keras mask, bool) drops masked entries."""
        if tree.is_nested(y_pred):  # a loss over a structure of outputs (Keras 3's compile)
            y_pred = tree.map_structure(_float, y_pred)
            y_true = tree.pack_sequence_as(y_pred, [_t(t, p.dtype) for t, p in
                                                    zip(tree.flatten(y_true), tree.flatten(y_pred))])
        else:
            y_pred = _float(y_pred)
            y_true = _t(y_true, y_pred.dtype)
        values = self.call(y_true, y_pred)
        own = self._mask(y_true, y_pred)
        if own is not None and mask is not None:
            mask = apply("And", [own, mask])
        return reduce_weighted_values(values, sample_weight, own if mask is None else mask, self.reduction)

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} reduction={self.reduction!r}>"


class LossFunctionWrapper(Loss):
    """A loss function ``fn(y_true, y_pred, **kwargs)`` as a `Loss` (ranks aligned first)."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(reduction=reduction, name=name or getattr(fn, "__name__", None))
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        if tree.is_nested(y_pred):  # ranks aligned output by output
            pairs = [squeeze_or_expand_to_same_rank(_t(t), _t(p))
                     for t, p in zip(tree.flatten(y_true), tree.flatten(y_pred))]
            y_true = tree.pack_sequence_as(y_pred, [t for t, _ in pairs])
            y_pred = tree.pack_sequence_as(y_pred, [p for _, p in pairs])
        else:
            y_true, y_pred = squeeze_or_expand_to_same_rank(_t(y_true), _t(y_pred))
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    @property
    def label_kind(self) -> str | None:
        """The labels a built-in loss over the last axis reads, which fit and evaluate check before
        training: 'sparse' (class indices), 'categorical' (one-hot), 'binary' or 'elementwise' (the
        output's shape); None for other functions (which may read labels of any shape) and axes."""
        if self._fn_kwargs.get("axis", -1) != -1:
            return None
        return _LABEL_KINDS.get(self.fn)

    def get_config(self):
        if type(self) is LossFunctionWrapper:
            return {**super().get_config(), "fn": getattr(self.fn, "__name__", repr(self.fn)),
                    **self._fn_kwargs}
        return {**super().get_config(), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if cls is LossFunctionWrapper:
            fn = config.pop("fn")
            return cls(_FUNCTIONS[fn] if isinstance(fn, str) else fn, **config)
        return cls(**config)

    def __repr__(self):
        return (f"<{type(self).__name__}({getattr(self.fn, '__name__', self.fn)}, "
                f"kwargs={self._fn_kwargs}, reduction={self.reduction!r})>")


def _check_params(where: str, values: dict) -> None:
    """Loss arguments with a meaning only in a range: refused outside it rather than computing a
    meaningless loss (a negative Huber delta, label smoothing beyond 1)."""
    s = values.get("label_smoothing")
    if s is not None and (isinstance(s, bool) or not isinstance(s, (int, float, np.integer, np.floating))
                          or not 0 <= s <= 1):
        raise ValueError(f"{where}: label_smoothing must be a number in [0, 1], got {s!r}")
    d = values.get("delta")
    if d is not None and (isinstance(d, bool) or not isinstance(d, (int, float, np.integer, np.floating))
                          or not d > 0):
        raise ValueError(f"{where}: delta (where the Huber loss turns from quadratic to linear) must be a "
                         f"number > 0, got {d!r}")


def _wrapper_class(class_name, fn, default_name, params=()):
    """A Keras loss class over ``fn``: ``Cls(*params, reduction=..., name=..., dtype=None)``."""
    params = tuple(params)

    def __init__(self, *args, reduction="sum_over_batch_size", name=default_name, dtype=None, **kw):
        if len(args) > len(params):
            raise TypeError(f"{class_name} takes at most {len(params)} positional arguments")
        values = {k: v for (k, _), v in zip(params, args)}
        for k, default in params:
            if k in kw:
                if k in values:
                    raise TypeError(f"{class_name} got multiple values for argument {k!r}")
                values[k] = kw.pop(k)
            values.setdefault(k, default)
        if kw:
            raise TypeError(f"{class_name} got unexpected argument(s) {sorted(kw)}; "
                            f"accepted: {[p for p, _ in params] + ['reduction', 'name', 'dtype']}")
        _check_params(class_name, values)
        LossFunctionWrapper.__init__(self, fn, reduction=reduction, name=name, **values)
        for k, v in values.items():
            setattr(self, k, v)

    sig = ", ".join(f"{k}={d!r}" for k, d in params)
    doc = f"Keras ``{class_name}({sig + ', ' if sig else ''}reduction='sum_over_batch_size', name={default_name!r})``."
    return type(class_name, (LossFunctionWrapper,), {"__init__": __init__, "__doc__": doc})


_CE = (("from_logits", False), ("label_smoothing", 0.0), ("axis", -1))
MeanSquaredError = _wrapper_class("MeanSquaredError", mean_squared_error, "mean_squared_error")
MeanAbsoluteError = _wrapper_class("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error")
MeanAbsolutePercentageError = _wrapper_class("MeanAbsolutePercentageError", mean_absolute_percentage_error,
                                             "mean_absolute_percentage_error")
MeanSquaredLogarithmicError = _wrapper_class("MeanSquaredLogarithmicError", mean_squared_logarithmic_error,
                                             "mean_squared_logarithmic_error")
CosineSimilarity = _wrapper_class("CosineSimilarity", cosine_similarity, "cosine_similarity", (("axis", -1),))
Huber = _wrapper_class("Huber", huber, "huber_loss", (("delta", 1.0),))
LogCosh = _wrapper_class("LogCosh", log_cosh, "log_cosh")
Hinge = _wrapper_class("Hinge", hinge, "hinge")
SquaredHinge = _wrapper_class("SquaredHinge", squared_hinge, "squared_hinge")
CategoricalHinge = _wrapper_class("CategoricalHinge", categorical_hinge, "categorical_hinge")
KLDivergence = _wrapper_class("KLDivergence", kl_divergence, "kl_divergence")
Poisson = _wrapper_class("Poisson", poisson, "poisson")
BinaryCrossentropy = _wrapper_class("BinaryCrossentropy", binary_crossentropy, "binary_crossentropy", _CE)
CategoricalCrossentropy = _wrapper_class("CategoricalCrossentropy", categorical_crossentropy,
                                         "categorical_crossentropy", _CE)
_SparseBase = _wrapper_class("SparseCategoricalCrossentropy", sparse_categorical_crossentropy,
                             "sparse_categorical_crossentropy",
                             (("from_logits", False), ("ignore_class", None), ("axis", -1)))


class SparseCategoricalCrossentropy(_SparseBase):
    __doc__ = _SparseBase.__doc__ + (" Entries labelled ``ignore_class`` are left out of the "
                                     "reduction (the mean is over the other entries).")

    def call(self, y_true, y_pred):  # no rank alignment: labels have one dim less
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def _mask(self, y_true, y_pred):
        if self._fn_kwargs.get("ignore_class") is None:
            return None
        labels = _sparse_labels(y_true, y_pred)
        return K.not_equal(labels, int(self._fn_kwargs["ignore_class"]))


# ------------------------------------------------------------------------------------- lookup
_FUNCTIONS = {
    "mean_squared_error": mean_squared_error, "mse": mse, "MSE": MSE,
    "mean_absolute_error": mean_absolute_error, "mae": mae, "MAE": MAE,
    "mean_absolute_percentage_error": mean_absolute_percentage_error, "mape": mape, "MAPE": MAPE,
    "mean_squared_logarithmic_error": mean_squared_logarithmic_error, "msle": msle, "MSLE": MSLE,
    "huber": huber, "huber_loss": huber, "log_cosh": log_cosh, "logcosh": log_cosh,
    "binary_crossentropy": binary_crossentropy, "bce": binary_crossentropy, "BCE": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "hinge": hinge, "squared_hinge": squared_hinge, "categorical_hinge": categorical_hinge,
    "kl_divergence": kl_divergence, "kld": kld, "KLD": KLD,
    "kullback_leibler_divergence": kl_divergence, "poisson": poisson,
    "cosine_similarity": cosine_similarity, "cosine_proximity": cosine_similarity,
}
_CLASSES = {c.__name__: c for c in (
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
    CosineSimilarity, Huber, LogCosh, Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson,
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy)}
_CLASSES["LossFunctionWrapper"] = LossFunctionWrapper


def known_names() -> list[str]:
    return sorted(set(_FUNCTIONS) | set(_CLASSES) - {"LossFunctionWrapper"})


def get(identifier):
    """A `Loss` from a name (Keras function names, aliases such as ``'mse'``/``'kld'``, or class
    names), a `Loss` instance or class, a function ``(y_true, y_pred) -> per-sample losses``, or a
    config dict ``{'class_name': ..., 'config': {...}}``; None gives None."""
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        if identifier in _FUNCTIONS:
            return LossFunctionWrapper(_FUNCTIONS[identifier], name=_FUNCTIONS[identifier].__name__)
        if identifier in _CLASSES and identifier != "LossFunctionWrapper":
            return _CLASSES[identifier]()
        raise ValueError(f"Could not interpret loss identifier: {identifier} (unknown loss {identifier!r}; "
                         f"known: {', '.join(known_names())})")
    if isinstance(identifier, dict):
        cls_name = identifier.get("class_name")
        cfg = identifier.get("config", {})
        if cls_name == "function" and isinstance(cfg, str):  # Keras 3 serialized function
            return get(cfg)
        if cls_name in _CLASSES:
            return _CLASSES[cls_name].from_config(cfg)
        raise ValueError(f"Could not interpret loss identifier: {identifier} (unknown loss class {cls_name!r}; known: "
                         f"{', '.join(sorted(_CLASSES))})")
    if callable(identifier):
        return LossFunctionWrapper(identifier, name=getattr(identifier, "__name__", None) or "loss")
    raise TypeError(f"Could not interpret loss identifier: {identifier!r} (cannot interpret {identifier!r} as a "
                    "loss: give a name, a Loss, a function (y_true, y_pred) -> per-sample loss, or a config dict)")


def serialize(loss) -> dict:
    loss = get(loss)
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config):
    return get(config)


_SOFTMAX_CE = (categorical_crossentropy, sparse_categorical_crossentropy)


def fused_with_activation(loss, activation_op: str, axis=None, rank=None):
    """The logits form of ``loss`` when the model output is ``activation_op(logits)``, else None.

    Returns a copy of ``loss`` with ``from_logits=True`` for (sparse) categorical cross-entropy
    after a ``'Softmax'`` and binary cross-entropy after a ``'Sigmoid'``, when the loss is in
    probability form (``from_logits=False``). The caller applies it to the activation's input: one
    ``log_softmax`` (or ``softplus``) instead of softmax + clip + log, numerically stable, with
    the softmax folded into the cross-entropy. The caller checks that the Softmax is on the last
    axis; ``axis``/``rank`` (the Softmax's axis and the output rank) may be given to check it
    here too. A cross-entropy over another axis than the last is not fused.

    The fused loss equals the original except where Keras's ``[eps, 1 - eps]`` clipping of the
    probabilities is active (saturated predictions): there the probability form is capped and
    has no gradient, the logits form is exact.
    """
    if loss is None:
        return None
    loss = get(loss)
    if not isinstance(loss, LossFunctionWrapper) or loss._fn_kwargs.get("from_logits"):
        return None
    kw = loss._fn_kwargs
    if activation_op == "Softmax" and loss.fn in _SOFTMAX_CE:
        loss_axis = kw.get("axis", -1)
        if rank is not None:
            if loss_axis % rank != rank - 1 or (axis is not None and axis % rank != rank - 1):
                return None
        elif loss_axis != -1 or (axis is not None and axis != -1):
            return None
    elif not (activation_op == "Sigmoid" and loss.fn is binary_crossentropy):
        return None
    fused = copy.copy(loss)
    fused._fn_kwargs = {**kw, "from_logits": True}
    if hasattr(fused, "from_logits"):
        fused.from_logits = True
    return fused


_LABEL_KINDS = {**{fn: "elementwise" for fn in (
    mean_squared_error, mean_absolute_error, mean_absolute_percentage_error, mean_squared_logarithmic_error,
    huber, log_cosh, hinge, squared_hinge, categorical_hinge, kl_divergence, poisson, cosine_similarity)},
    sparse_categorical_crossentropy: "sparse", categorical_crossentropy: "categorical",
    binary_crossentropy: "binary"}


__all__ = [
    "Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "CosineSimilarity", "Huber",
    "LogCosh", "Hinge", "SquaredHinge", "CategoricalHinge", "KLDivergence", "Poisson",
    "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
    "mean_squared_error", "mse", "mean_absolute_error", "mae", "mean_absolute_percentage_error",
    "mape", "mean_squared_logarithmic_error", "msle", "huber", "log_cosh", "logcosh", "hinge",
    "squared_hinge", "categorical_hinge", "kl_divergence", "kld", "kullback_leibler_divergence",
    "poisson", "cosine_similarity", "cosine_proximity", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "get", "serialize",
    "deserialize", "fused_with_activation", "reduce_weighted_values", "squeeze_or_expand_to_same_rank",
]
