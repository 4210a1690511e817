"""Metrics with Keras 3 semantics, accumulated as batch sums computed in the graph.

A `Metric` traces ``batch_stats(y_true, y_pred, sample_weight)`` into the training (or evaluation)
graph: a few small tensors whose values are SUMMED over the batches of an epoch by Python, starting
from ``initial_totals()``; ``result(totals)`` turns the sums into the reported value. So the graph
holds no metric state, and a metric's value is exact over the epoch, as Keras's stateful metrics.

* Mean metrics (`MeanMetricWrapper`: accuracies, regression errors, any loss function): stats
  ``[sum(values * w), sum(w)]`` with Keras's sample-wise reduction (values averaged over the
  non-batch axes; ``w`` the sample weights, or one per sample); result ``total / count``.
* Confusion metrics (`Precision`, `Recall`, `AUC`, `TruePositives`, ...): confusion counts per
  threshold; results use Keras's formulas (AUC: Riemann sums with Keras's interpolation).

`get(identifier, loss=None, y_true_shape=None, y_pred_shape=None)` resolves names, with Keras's
rules for ``'accuracy'``/``'acc'``.
"""
from __future__ import annotations

import numpy as np

from . import backend as K
from . import losses as losses_module
from .backend import config
from .losses import _float, _snake, _t, l2_normalize, squeeze_or_expand_to_same_rank
from .ops.trace import apply, constant

NEG_INF = -1e10


def _floatx():
    return config.floatx()


# ------------------------------------------------------------------------------------- functions
@K.symbolic
def accuracy(y_true, y_pred):
    """How often predictions equal labels exactly (mean over the last axis)."""
    y_pred = _t(y_pred)
    y_true = K.cast(_t(y_true, y_pred.dtype), y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return K.mean(K.cast(K.equal(y_true, y_pred), _floatx()), axis=-1)


@K.symbolic
def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true, y_pred = _t(y_true), _float(y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    y_pred = K.cast(K.greater(y_pred, float(threshold)), y_true.dtype)
    return K.mean(K.cast(K.equal(y_true, y_pred), _floatx()), axis=-1)


@K.symbolic
def categorical_accuracy(y_true, y_pred):
    """argmax(y_true) == argmax(y_pred) over the last axis (first index wins ties)."""
    y_true, y_pred = _t(y_true), _t(y_pred)
    t = K.argmax(y_true, axis=-1)
    if t.ndim == y_pred.ndim and t.shape[-1] == 1:
        t = K.squeeze(t, -1)
    p = K.argmax(y_pred, axis=-1)
    return K.cast(K.equal(t, p), _floatx())


def _where() -> str:
    """The trace scope (``metrics/<output>`` in training graphs) for messages."""
    from .ops.trace import active, current
    name = current().scope_name if active() else ""
    if name.startswith("metrics/"):
        return f"metric of output '{name[len('metrics/'):]}': "
    return f"{name}: " if name else ""


def _sparse_labels(y_true, y_pred, metric: str):
    """Integer labels of shape ``y_pred.shape[:-1]``; one-hot labels are refused with a pointer to
    the categorical metric."""
    return losses_module.sparse_labels(y_true, y_pred, f"{_where()}{metric}",
                                       f"; for one-hot labels use {metric.replace('sparse_', '')}",
                                       noun="class labels")


_fmt = losses_module.shape_text


def _count(value, what: str, where: str) -> int:
    """A whole number >= 1 (k of top-k), refused rather than truncated."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, np.floating)) \
            or int(value) != value or value < 1:
        raise ValueError(f"{where}: {what} must be an integer >= 1, got {value!r}")
    return int(value)


@K.symbolic
def sparse_categorical_accuracy(y_true, y_pred):
    """Integer labels (shape ``(batch, ...)`` or ``(batch, ..., 1)``) == argmax(y_pred)."""
    y_true, y_pred = _t(y_true), _t(y_pred)
    y_true = _sparse_labels(y_true, y_pred, "sparse_categorical_accuracy")
    p = K.argmax(y_pred, axis=-1)
    if p.dtype != y_true.dtype:
        p = K.cast(p, y_true.dtype)
    matches = K.cast(K.equal(y_true, p), _floatx())
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = K.squeeze(matches, -1)
    return matches


def in_top_k(targets, predictions, k):
    """True where ``predictions[..., target]`` is among the ``k`` largest of its row; ties at the
    k-th value count as in (as Keras's JAX/torch backends and TF do). Out-of-range targets give
    False. Needs a static number of classes."""
    predictions = _float(predictions)
    n = predictions.shape[-1]
    if n is None:
        raise ValueError(f"top-k accuracy needs a static number of classes; got predictions of "
                         f"shape {tuple(predictions.shape)}")
    k = _count(k, "k", "top-k accuracy")
    targets = _t(targets)
    if targets.dtype != "int64":
        targets = K.cast(targets, "int64")
    mask = K.equal(K.expand_dims(targets, -1), constant(np.arange(n, dtype=np.int64)))
    target_value = K.sum(K.where(mask, predictions, 0.0), axis=-1, keepdims=True)
    n_greater = K.sum(K.cast(K.greater(predictions, target_value), _floatx()), axis=-1)
    in_range = K.greater(K.max(K.cast(mask, _floatx()), axis=-1), 0.5)
    return apply("And", [K.less(n_greater, float(k)), in_range])


@K.symbolic
def top_k_categorical_accuracy(y_true, y_pred, k=5):
    return K.cast(in_top_k(K.argmax(_t(y_true), axis=-1), y_pred, k), _floatx())


@K.symbolic
def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    y_true, y_pred = _t(y_true), _t(y_pred)
    y_true = _sparse_labels(y_true, y_pred, "sparse_top_k_categorical_accuracy")
    return K.cast(in_top_k(y_true, y_pred, k), _floatx())


@K.symbolic
def cosine_similarity(y_true, y_pred, axis=-1):
    """The Keras 3 metric: ``sum(l2_normalize(y_true) * l2_normalize(y_pred))`` (1 is aligned)."""
    y_true, y_pred = losses_module._prepare(y_true, y_pred)
    return K.sum(l2_normalize(y_true, axis) * l2_normalize(y_pred, axis), axis=axis)


cosine_proximity = cosine_similarity
top_k_categorical_accuracy.__doc__ = "Whether the one-hot target's class is in the top k (default 5)."
sparse_top_k_categorical_accuracy.__doc__ = "Whether the integer target is in the top k (default 5)."

# loss functions usable as metrics (Keras exports them from keras.metrics too)
mean_squared_error = mse = losses_module.mean_squared_error
mean_absolute_error = mae = losses_module.mean_absolute_error
mean_absolute_percentage_error = mape = losses_module.mean_absolute_percentage_error
mean_squared_logarithmic_error = msle = losses_module.mean_squared_logarithmic_error
binary_crossentropy = losses_module.binary_crossentropy
categorical_crossentropy = losses_module.categorical_crossentropy
sparse_categorical_crossentropy = losses_module.sparse_categorical_crossentropy
hinge, squared_hinge = losses_module.hinge, losses_module.squared_hinge
categorical_hinge = losses_module.categorical_hinge
kl_divergence = kld = losses_module.kl_divergence
poisson, log_cosh, logcosh, huber = (losses_module.poisson, losses_module.log_cosh,
                                     losses_module.log_cosh, losses_module.huber)


# ------------------------------------------------------------------------------------- base
class Metric:
    """Base class. Subclasses implement `batch_stats`, `initial_totals` and `result`."""

    def __init__(self, name=None, dtype=None):
        self.name = name or _snake(type(self).__name__)

    def batch_stats(self, y_true, y_pred, sample_weight=None) -> list:
        """Trace this batch's statistics: a list of small float tensors to sum over batches."""
        raise NotImplementedError(f"{type(self).__name__}.batch_stats")

    def initial_totals(self) -> list:
        """Zeros shaped like the statistics (what the epoch's sums start from)."""
        raise NotImplementedError(f"{type(self).__name__}.initial_totals")

    def result(self, totals):
        """The metric value from the summed statistics."""
        raise NotImplementedError(f"{type(self).__name__}.result")

    def accumulate(self, totals, batch):
        """``totals + batch`` elementwise (float64), the per-batch update Python does."""
        return [np.asarray(t, dtype=np.float64) + np.asarray(b, dtype=np.float64)
                for t, b in zip(totals, batch)]

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def _batch_size(x):
    """Number of rows of x, as a float scalar tensor."""
    return K.cast(K.getitem(K.shape(x), 0), _floatx())


def _broadcast_like(w, x):
    """Broadcast ``w`` to the (dynamic) shape of ``x``."""
    if tuple(w.sym_shape) == tuple(x.sym_shape):
        return w
    return apply("Expand", [w, K.shape(x)], out_shape=x.sym_shape)


def mean_stats(values, sample_weight=None):
    """Keras ``Mean.update_state`` as batch sums: ``[total, count]`` scalars.

    Values are averaged over the axes the weights do not have, weighted, then averaged over the
    non-batch axes; ``count`` is the sum of the (averaged) weights, or the batch size."""
    values = K.cast(_t(values), _floatx())
    if values.ndim == 0:  # one value for the batch: counts as one sample
        values = K.reshape(values, (1,))
    if sample_weight is not None:
        sw = K.cast(_t(sample_weight, _floatx()), _floatx())
        values, sw = squeeze_or_expand_to_same_rank(values, sw)
        if values.ndim > sw.ndim:
            values = K.mean(values, axis=list(range(sw.ndim, values.ndim)))
        if sw.ndim > values.ndim:
            raise ValueError(f"sample_weight of shape {tuple(sw.shape)} has more axes than the "
                             f"metric values of shape {tuple(values.shape)}")
        sw = _broadcast_like(sw, values)
        values = values * sw
        if sw.ndim > 1:
            sw = K.mean(sw, axis=list(range(1, sw.ndim)))
    if values.ndim > 1:
        values = K.mean(values, axis=list(range(1, values.ndim)))
    total = K.sum(values)
    count = K.sum(sw) if sample_weight is not None else _batch_size(values)
    return [total, count]


class Mean(Metric):
    """The weighted mean of values over all batches: stats ``[sum(v * w), sum(w)]``."""

    def initial_totals(self):
        return [np.zeros((), np.float64), np.zeros((), np.float64)]

    def result(self, totals):
        total, count = (float(np.asarray(t)) for t in totals)
        return total / count if count != 0 else 0.0


class MeanMetricWrapper(Mean):
    """A metric function ``fn(y_true, y_pred, **kwargs)`` (per-sample values) as a mean metric."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None))
        self._fn = fn
        self._fn_kwargs = kwargs

    def batch_stats(self, y_true, y_pred, sample_weight=None):
        return mean_stats(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self):
        return {"name": self.name, **self._fn_kwargs}


def _wrapper_class(class_name, fn, default_name, params=(), doc=""):
    params = tuple(params)

    def __init__(self, *args, name=default_name, dtype=None, **kw):
        values = {k: v for (k, _), v in zip(params, args)}
        for k, default in params:
            values.setdefault(k, kw.pop(k, default))
        if kw or len(args) > len(params):
            raise TypeError(f"{class_name} got unexpected argument(s) {sorted(kw)}; accepted: "
                            f"{[p for p, _ in params] + ['name', 'dtype']}")
        if "k" in values:
            values["k"] = _count(values["k"], "k", class_name)
        MeanMetricWrapper.__init__(self, fn, name=name, **values)
        for k, v in values.items():
            setattr(self, k, v)

    return type(class_name, (MeanMetricWrapper,), {"__init__": __init__, "__doc__": doc or
                                                     f"Keras ``{class_name}``: mean of ``{fn.__name__}``."})


Accuracy = _wrapper_class("Accuracy", accuracy, "accuracy")
BinaryAccuracy = _wrapper_class("BinaryAccuracy", binary_accuracy, "binary_accuracy", (("threshold", 0.5),))
CategoricalAccuracy = _wrapper_class("CategoricalAccuracy", categorical_accuracy, "categorical_accuracy")
SparseCategoricalAccuracy = _wrapper_class("SparseCategoricalAccuracy", sparse_categorical_accuracy,
                                           "sparse_categorical_accuracy")
TopKCategoricalAccuracy = _wrapper_class("TopKCategoricalAccuracy", top_k_categorical_accuracy,
                                         "top_k_categorical_accuracy", (("k", 5),))
SparseTopKCategoricalAccuracy = _wrapper_class("SparseTopKCategoricalAccuracy",
                                               sparse_top_k_categorical_accuracy,
                                               "sparse_top_k_categorical_accuracy", (("k", 5),))
MeanSquaredError = _wrapper_class("MeanSquaredError", mean_squared_error, "mean_squared_error")
MeanAbsoluteError = _wrapper_class("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error")
MeanAbsolutePercentageError = _wrapper_class("MeanAbsolutePercentageError", mean_absolute_percentage_error,
                                             "mean_absolute_percentage_error")
MeanSquaredLogarithmicError = _wrapper_class("MeanSquaredLogarithmicError", mean_squared_logarithmic_error,
                                             "mean_squared_logarithmic_error")
CosineSimilarity = _wrapper_class("CosineSimilarity", cosine_similarity, "cosine_similarity", (("axis", -1),))
LogCoshError = _wrapper_class("LogCoshError", log_cosh, "logcosh")
Hinge = _wrapper_class("Hinge", hinge, "hinge")
SquaredHinge = _wrapper_class("SquaredHinge", squared_hinge, "squared_hinge")
CategoricalHinge = _wrapper_class("CategoricalHinge", categorical_hinge, "categorical_hinge")
KLDivergence = _wrapper_class("KLDivergence", kl_divergence, "kl_divergence")
Poisson = _wrapper_class("Poisson", poisson, "poisson")
BinaryCrossentropy = _wrapper_class("BinaryCrossentropy", binary_crossentropy, "binary_crossentropy",
                                    (("from_logits", False), ("label_smoothing", 0.0)))
CategoricalCrossentropy = _wrapper_class("CategoricalCrossentropy", categorical_crossentropy,
                                         "categorical_crossentropy",
                                         (("from_logits", False), ("label_smoothing", 0.0), ("axis", -1)))
SparseCategoricalCrossentropy = _wrapper_class("SparseCategoricalCrossentropy", sparse_categorical_crossentropy,
                                               "sparse_categorical_crossentropy",
                                               (("from_logits", False), ("axis", -1)))


class RootMeanSquaredError(Mean):
    """sqrt of the mean squared error over all batches."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name)

    def batch_stats(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = losses_module._prepare(y_true, y_pred)
        return mean_stats(K.square(y_pred - y_true), sample_weight)

    def result(self, totals):
        return float(np.sqrt(super().result(totals)))


# ------------------------------------------------------------------------------------- confusion
def _as_list(x):
    return list(x) if isinstance(x, (list, tuple, np.ndarray)) else [x]


def parse_thresholds(thresholds, default):
    if thresholds is not None:
        bad = [t for t in _as_list(thresholds) if t is None or t < 0 or t > 1]
        if bad:
            raise ValueError(f"threshold values must be in [0, 1], got {bad}")
    return [float(t) for t in _as_list(default if thresholds is None else thresholds)]


def evenly_distributed(thresholds) -> bool:
    """Keras ``is_evenly_distributed_thresholds``: at least 3, equal to ``i / (n - 1)``."""
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=config.epsilon()))


def _filter_top_k(x, k):
    """Keep the top ``k`` values of the last axis (ties: lower index first), others -> NEG_INF."""
    n = x.shape[-1]
    if n is None:
        raise ValueError(f"top_k needs a static last dimension, got shape {tuple(x.shape)}")
    _, idx = apply("TopK", [x], k=min(int(k), n), axis=-1, largest=True, sorted=True)
    mask = K.sum(K.one_hot(idx, n), axis=-2)
    return x * mask + NEG_INF * (1.0 - mask)


def confusion_stats(y_true, y_pred, thresholds, sample_weight=None, evenly=False,
                    multi_label=False, label_weights=None, top_k=None, class_id=None):
    """Keras ``update_confusion_matrix_variables`` as batch sums: a dict with ``tp``, ``fp``,
    ``tn``, ``fn``, each of shape ``(num_thresholds,)`` (``(num_thresholds, num_labels)`` with
    ``multi_label``). A prediction is positive at threshold t when ``y_pred > t``; labels are
    positive when nonzero. With evenly distributed thresholds Keras's bucketed computation is
    reproduced exactly (predictions clipped to [0, 1], bucket ``ceil(p (n - 1)) - 1``)."""
    fx = "float32"
    y_true = K.cast(_t(y_true), fx)
    y_pred = K.cast(_t(y_pred), fx)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    sw = None
    if sample_weight is not None:
        sw = K.expand_dims(K.cast(_t(sample_weight, fx), fx), -1)
        _, sw = squeeze_or_expand_to_same_rank(y_true, sw, expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(f"class_id needs predictions of shape (batch, num_classes), got "
                             f"{tuple(y_pred.shape)}")
        cid = int(class_id)
        n = y_pred.shape[-1]
        if isinstance(n, int) and cid >= n:
            raise ValueError(f"{_where()}class_id {cid} is out of range for predictions of shape "
                             f"{_fmt(y_pred.shape)} ({n} classes, 0..{n - 1})")
        y_true = K.getitem(y_true, (Ellipsis, slice(cid, cid + 1)))
        y_pred = K.getitem(y_pred, (Ellipsis, slice(cid, cid + 1)))
    if multi_label and y_pred.ndim != 2:
        raise ValueError(f"multi_label needs predictions of rank 2 (batch, num_labels), got shape "
                         f"{tuple(y_pred.shape)}")
    w = None
    if sw is not None:
        w = _broadcast_like(sw, y_pred)
    if label_weights is not None and not multi_label:
        lw = constant(np.asarray(label_weights, dtype=np.float32))
        w = _broadcast_like(lw, y_pred) if w is None else w * lw
    pos = K.cast(K.not_equal(y_true, 0.0), fx)
    n_thr = len(thresholds)
    if not multi_label:
        y_pred, pos = K.flatten(y_pred), K.flatten(pos)
        w = None if w is None else K.flatten(w)
        col = (n_thr, 1)
    else:
        col = (n_thr, 1, 1)
    lab = pos if w is None else pos * w
    neg = (1.0 - pos) if w is None else (1.0 - pos) * w
    if evenly:
        p = K.clip(y_pred, 0.0, 1.0)
        bucket = apply("Ceil", [p * float(n_thr - 1)]) - 1.0
        if thresholds[0] < 0.0 or thresholds[-1] > 1.0:
            bucket = K.relu(bucket)
        index = constant(np.arange(n_thr, dtype=np.float32).reshape(col))
        above = K.cast(K.greater_equal(K.expand_dims(bucket, 0), index), fx)
        tp = K.sum(above * lab, axis=1)
        fp = K.sum(above * neg, axis=1)
        fn = K.sum(lab, axis=0) - tp
        tn = K.sum(neg, axis=0) - fp
    else:
        thr = constant(np.asarray(thresholds, dtype=np.float32).reshape(col))
        above = K.cast(K.greater(K.expand_dims(y_pred, 0), thr), fx)
        below = 1.0 - above
        tp, fp = K.sum(above * lab, axis=1), K.sum(above * neg, axis=1)
        fn, tn = K.sum(below * lab, axis=1), K.sum(below * neg, axis=1)
    return {"tp": tp, "fp": fp, "tn": tn, "fn": fn}


def _div_no_nan(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b))


def _scalar_or_array(x, n):
    x = np.asarray(x, dtype=np.float64)
    return float(x[0]) if n == 1 else x


class _ConfusionMetric(Metric):
    """Stats: the confusion counts in ``_keys``, one per threshold."""

    _keys: tuple = ()

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None,
                 default_threshold=0.5):
        super().__init__(name=name)
        where = f"{type(self).__name__} metric '{self.name}'"
        if top_k is not None:
            top_k = _count(top_k, "top_k", where)
        if class_id is not None and (isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer))
                                     or class_id < 0):
            raise ValueError(f"{where}: class_id must be a class index >= 0, got {class_id!r}")
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        self.thresholds = parse_thresholds(thresholds, default_threshold)
        self._evenly = evenly_distributed(self.thresholds)

    def batch_stats(self, y_true, y_pred, sample_weight=None):
        c = confusion_stats(y_true, y_pred, self.thresholds, sample_weight, evenly=self._evenly,
                            top_k=self.top_k, class_id=self.class_id)
        return [c[k] for k in self._keys]

    def initial_totals(self):
        return [np.zeros((len(self.thresholds),), np.float64) for _ in self._keys]

    def get_config(self):
        return {"name": self.name, "thresholds": self.init_thresholds}


def _count_class(class_name, key, default_name):
    def __init__(self, thresholds=None, name=default_name, dtype=None):
        _ConfusionMetric.__init__(self, thresholds=thresholds, name=name)

    def result(self, totals):
        return _scalar_or_array(totals[0], len(self.thresholds))

    return type(class_name, (_ConfusionMetric,), {
        "__init__": __init__, "result": result, "_keys": (key,),
        "__doc__": f"Keras ``{class_name}(thresholds=0.5)``: the weighted count per threshold."})


TruePositives = _count_class("TruePositives", "tp", "true_positives")
FalsePositives = _count_class("FalsePositives", "fp", "false_positives")
TrueNegatives = _count_class("TrueNegatives", "tn", "true_negatives")
FalseNegatives = _count_class("FalseNegatives", "fn", "false_negatives")


class Precision(_ConfusionMetric):
    """tp / (tp + fp) per threshold (default 0.5; with ``top_k``, the top-k predictions of each
    row are the positives). One threshold gives a float, several an array."""

    _keys = ("tp", "fp")

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="precision", dtype=None):
        super().__init__(thresholds, top_k, class_id, name,
                         default_threshold=0.5 if top_k is None else NEG_INF)

    def result(self, totals):
        tp, fp = totals
        return _scalar_or_array(_div_no_nan(tp, np.add(tp, fp)), len(self.thresholds))

    def get_config(self):
        return {**super().get_config(), "top_k": self.top_k, "class_id": self.class_id}


class Recall(Precision):
    """tp / (tp + fn) per threshold (default 0.5)."""

    _keys = ("tp", "fn")

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="recall", dtype=None):
        super().__init__(thresholds, top_k, class_id, name)

    def result(self, totals):
        tp, fn = totals
        return _scalar_or_array(_div_no_nan(tp, np.add(tp, fn)), len(self.thresholds))


class AUC(Metric):
    """Keras 3 ``AUC``: area under the ROC or PR curve from confusion counts at
    ``num_thresholds`` thresholds (``[-eps, 1/(n-1), ..., (n-2)/(n-1), 1+eps]``, or the given
    ``thresholds`` plus the two end points). ``summation_method='interpolation'`` uses mid-point
    (trapezoid) sums for ROC and Davis & Goadrich's interpolation of tp/fp for PR; ``'minoring'``
    and ``'majoring'`` the lower and upper Riemann sums. Stats: ``[tp, fp, tn, fn]``."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None,
                 dtype=None, thresholds=None, multi_label=False, num_labels=None, label_weights=None,
                 from_logits=False):
        super().__init__(name=name or "auc")
        curve_key = str(curve).upper()
        if curve_key not in ("ROC", "PR"):
            raise ValueError(f"invalid AUC curve {curve!r}; expected 'ROC' or 'PR'")
        method = str(summation_method).lower()
        if method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f"invalid AUC summation_method {summation_method!r}; expected "
                             f"'interpolation', 'minoring' or 'majoring'")
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            thresholds = sorted(float(t) for t in thresholds)
            parse_thresholds(thresholds, 0.5)
            self.num_thresholds = len(thresholds) + 2
            self._evenly = evenly_distributed(np.array([0.0] + thresholds + [1.0]))
        else:
            if int(num_thresholds) <= 1:
                raise ValueError(f"num_thresholds must be an integer > 1, got {num_thresholds}")
            self.num_thresholds = int(num_thresholds)
            thresholds = [(i + 1) * 1.0 / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
            self._evenly = True
        eps = config.epsilon()
        self._thresholds = [0.0 - eps] + list(thresholds) + [1.0 + eps]
        self.curve, self.summation_method = curve_key, method
        self.multi_label = bool(multi_label)
        if num_labels and not self.multi_label:
            raise ValueError("`num_labels` is needed only when `multi_label` is True")
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else np.asarray(label_weights, np.float64)
        self.from_logits = bool(from_logits)

    @property
    def thresholds(self):
        return list(self._thresholds)

    def batch_stats(self, y_true, y_pred, sample_weight=None):
        y_pred = _float(y_pred)
        if self.from_logits:
            y_pred = K.sigmoid(y_pred)
        if self.multi_label:
            n = y_pred.shape[-1]
            if y_pred.ndim != 2:
                raise ValueError(f"AUC(multi_label=True) needs predictions of rank 2, got shape "
                                 f"{tuple(y_pred.shape)}")
            if n is None and not self.num_labels:
                raise ValueError("AUC(multi_label=True) needs a static number of labels or num_labels")
            self.num_labels = self.num_labels or n
        c = confusion_stats(y_true, y_pred, self._thresholds, sample_weight, evenly=self._evenly,
                            multi_label=self.multi_label,
                            label_weights=None if self.multi_label else self.label_weights)
        return [c["tp"], c["fp"], c["tn"], c["fn"]]

    def initial_totals(self):
        if self.multi_label:
            if not self.num_labels:
                raise ValueError("AUC(multi_label=True): the number of labels is known after "
                                 "batch_stats is traced, or from num_labels")
            shape = (self.num_thresholds, int(self.num_labels))
        else:
            shape = (self.num_thresholds,)
        return [np.zeros(shape, np.float64) for _ in range(4)]

    def result(self, totals):
        tp, fp, tn, fn = (np.asarray(t, dtype=np.float64) for t in totals)
        n = self.num_thresholds
        if self.curve == "PR" and self.summation_method == "interpolation":
            dtp = tp[: n - 1] - tp[1:]
            p = tp + fp
            dp = p[: n - 1] - p[1:]
            slope = _div_no_nan(dtp, np.maximum(dp, 0))
            intercept = tp[1:] - slope * p[1:]
            both = (p[: n - 1] > 0) & (p[1:] > 0)
            ratio = np.where(both, _div_no_nan(p[: n - 1], np.maximum(p[1:], 0)), 1.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                log_ratio = np.log(np.where(ratio > 0, ratio, 1.0))
            terms = _div_no_nan(slope * (dtp + intercept * log_ratio), np.maximum(tp[1:] + fn[1:], 0))
        else:
            recall = _div_no_nan(tp, tp + fn)
            if self.curve == "ROC":
                x, y = _div_no_nan(fp, fp + tn), recall
            else:
                x, y = recall, _div_no_nan(tp, tp + fp)
            if self.summation_method == "interpolation":
                heights = (y[: n - 1] + y[1:]) / 2.0
            elif self.summation_method == "minoring":
                heights = np.minimum(y[: n - 1], y[1:])
            else:
                heights = np.maximum(y[: n - 1], y[1:])
            terms = (x[: n - 1] - x[1:]) * heights
        if not self.multi_label:
            return float(np.sum(terms))
        by_label = np.sum(terms, axis=0)
        if self.label_weights is None:
            return float(np.mean(by_label))
        return float(_div_no_nan(np.sum(by_label * self.label_weights), np.sum(self.label_weights)))

    def get_config(self):
        cfg = {"name": self.name, "num_thresholds": self.num_thresholds, "curve": self.curve,
               "summation_method": self.summation_method, "multi_label": self.multi_label,
               "num_labels": self.num_labels, "from_logits": self.from_logits,
               "label_weights": None if self.label_weights is None else self.label_weights.tolist()}
        if self._init_from_thresholds:
            cfg["thresholds"] = self._thresholds[1:-1]
        return cfg


# ------------------------------------------------------------------------------------- lookup
_CLASSES = {c.__name__: c for c in (
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, RootMeanSquaredError, CosineSimilarity, LogCoshError, Hinge,
    SquaredHinge, CategoricalHinge, KLDivergence, Poisson, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy, TruePositives, FalsePositives, TrueNegatives, FalseNegatives,
    Precision, Recall, AUC)}
_BY_NAME = dict(_CLASSES)
_BY_NAME.update({_snake(k): v for k, v in _CLASSES.items()})
_BY_NAME.update({"auc": AUC, "mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError,
                 "MAE": MeanAbsoluteError, "mape": MeanAbsolutePercentageError,
                 "MAPE": MeanAbsolutePercentageError, "msle": MeanSquaredLogarithmicError,
                 "MSLE": MeanSquaredLogarithmicError, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
                 "cosine_proximity": CosineSimilarity, "rmse": RootMeanSquaredError,
                 "logcosh": LogCoshError, "log_cosh": LogCoshError, "kld": KLDivergence, "KLD": KLDivergence,
                 "kullback_leibler_divergence": KLDivergence})


def known_names() -> list[str]:
    return sorted(set(_BY_NAME) | set(losses_module._FUNCTIONS) | {"accuracy", "acc"})


def _loss_fn(loss):
    if loss is None:
        return None
    try:
        loss = losses_module.get(loss)
    except (ValueError, TypeError):
        return None
    return getattr(loss, "fn", None)


def _dims(shape):
    return None if shape is None else tuple(shape)


def resolve_accuracy(loss=None, y_true_shape=None, y_pred_shape=None):
    """Which accuracy ``'accuracy'``/``'acc'`` means (Keras rules, loss first):
    binary if the loss is binary cross-entropy or predictions have last dim 1; sparse categorical
    if the loss is sparse categorical cross-entropy, or labels have one axis less than
    predictions, or labels end in 1 while predictions have more classes; else categorical."""
    fn = _loss_fn(loss)
    t, p = _dims(y_true_shape), _dims(y_pred_shape)
    p_last = p[-1] if p else None
    t_last = t[-1] if t else None
    if fn is losses_module.binary_crossentropy or p_last == 1:
        return BinaryAccuracy
    if fn is losses_module.sparse_categorical_crossentropy:
        return SparseCategoricalAccuracy
    if t is not None and p is not None:
        if len(t) == len(p) - 1 or (t_last == 1 and p_last is not None and p_last > 1):
            return SparseCategoricalAccuracy
    return CategoricalAccuracy


def get(identifier, loss=None, y_true_shape=None, y_pred_shape=None):
    """A `Metric` from a name, a `Metric` instance or class, a function ``(y_true, y_pred) ->
    per-sample values``, a `Loss` (its per-sample values), or a config dict; None gives None.

    Names: ``'accuracy'``/``'acc'`` (resolved by `resolve_accuracy` from the loss and shapes),
    Keras metric class names in CamelCase or snake_case (``'AUC'``/``'auc'``, ``'precision'``,
    ``'top_k_categorical_accuracy'``, ...), aliases (``'mse'``, ``'mae'``, ``'mape'``, ``'msle'``,
    ``'cosine_proximity'``, ...) and any loss function name. A metric given by name is named by
    that string (History keys read ``acc`` when given ``'acc'``); a function by its ``__name__``."""
    if identifier is None:
        return None
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return resolve_accuracy(loss, y_true_shape, y_pred_shape)(name=identifier)
        if identifier in _BY_NAME:
            m = _BY_NAME[identifier]()
            m.name = identifier
            return m
        if identifier in losses_module._FUNCTIONS:
            return MeanMetricWrapper(losses_module._FUNCTIONS[identifier], name=identifier)
        raise ValueError(f"Could not interpret metric identifier: {identifier} (unknown metric {identifier!r}; "
                         f"known: {', '.join(known_names())})")
    if isinstance(identifier, dict):
        cls_name, cfg = identifier.get("class_name"), identifier.get("config", {})
        if cls_name == "function" and isinstance(cfg, str):
            return get(cfg, loss, y_true_shape, y_pred_shape)
        if cls_name in _CLASSES:
            return _CLASSES[cls_name].from_config(dict(cfg))
        raise ValueError(f"Could not interpret metric identifier: {identifier} (unknown metric class {cls_name!r}; known: "
                         f"{', '.join(sorted(_CLASSES))})")
    if isinstance(identifier, losses_module.Loss):
        return MeanMetricWrapper(identifier.call, name=identifier.name)
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None) or "metric")
    raise TypeError(f"Could not interpret metric identifier: {identifier!r} (cannot interpret {identifier!r} as a "
                    "metric: give a name, a Metric, or a function (y_true, y_pred) -> per-sample values)")


def serialize(metric) -> dict:
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


__all__ = [
    "Metric", "Mean", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
    "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
    "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError", "RootMeanSquaredError", "CosineSimilarity", "LogCoshError",
    "Hinge", "SquaredHinge", "CategoricalHinge", "KLDivergence", "Poisson", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "TruePositives", "FalsePositives",
    "TrueNegatives", "FalseNegatives", "Precision", "Recall", "AUC", "accuracy", "binary_accuracy",
    "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy", "in_top_k", "cosine_similarity", "cosine_proximity",
    "get", "serialize", "resolve_accuracy", "mean_stats", "confusion_stats",
]
