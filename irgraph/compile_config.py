"""What `compile` was told, resolved per model output: losses, loss weights, metrics, optimizer.

Every structure Keras 3 accepts is spread over the model's outputs here (a dict by output name, a
list in output order, nested per-output lists, a loss for only some outputs), with Keras's errors
for keys and lengths that do not fit. Two Keras 2 spellings stay: one loss for every output, and a
flat metrics list given to every output.

This is the user-API side of training: it knows the losses, metrics and optimizers of irgraph, and
hands the training layer below it what the loss pass calls (`LossTerm`, `MetricTerm`), so that
neither `irgraph.training` nor `irgraph.passes.loss` imports the user API.
"""
from __future__ import annotations

import contextvars
import copy
import math

from . import backend as K
from . import losses as losses_mod
from . import metrics as metrics_mod
from . import optimizers
from . import tree
from .loss_structure import loss_entries


def _is_seq(value) -> bool:
    return isinstance(value, (list, tuple))


# ------------------------------------------------------------------------------------------ losses
def _check_loss_weights_type(weights) -> None:
    if weights is None or _is_seq(weights) or isinstance(weights, dict) or (
            isinstance(weights, (int, float)) and not isinstance(weights, bool)):
        return
    raise ValueError("Expected `loss_weights` argument to be a float (single output case) or a list, tuple, "
                     f"or dict (multiple output case). Received instead: loss_weights={weights} of type "
                     f"{type(weights)}")


def check_compile_arguments(optimizer, loss_weights) -> None:
    """What Keras 3's ``compile`` itself refuses: an optimizer it cannot interpret, ``loss_weights``
    of another type. Keys and lengths that do not fit the outputs are found when the losses and
    metrics are built, on the first batch (`CompileConfig`)."""
    if optimizer is not None:
        optimizers.get(optimizer)
    _check_loss_weights_type(loss_weights)


def _loss_weight(w, output: str) -> float:
    try:
        value = float(w)
    except (TypeError, ValueError):
        raise TypeError(f"compile(): loss_weights for output '{output}' must be a number, got {w!r}") from None
    if isinstance(w, bool) or not math.isfinite(value):
        raise ValueError(f"compile(): loss_weights for output '{output}' must be a finite number, got {w!r}")
    return value


# ----------------------------------------------------------------------------------------- metrics
def _metric_entries(entry) -> list:
    """One output's metrics as a list: None, one metric, or a (possibly None-holding) list."""
    if entry is None:
        return []
    return [m for m in entry if m is not None] if _is_seq(entry) else [entry]


def _metrics_from_dict(metrics: dict, names: list[str], what: str) -> list:
    for key in metrics:
        if key not in names:
            raise ValueError(f"In the dict argument `{what}`, key '{key}' does not correspond to any model "
                             f"output. Received:\n{what}={metrics}")
    return [_metric_entries(metrics.get(n)) for n in names]


def _metrics_from_list(metrics, names: list[str], what: str) -> list:
    per_output = any(_is_seq(m) or m is None for m in metrics)
    if len(names) == 1:
        flat = [m for entry in metrics for m in _metric_entries(entry)] if per_output else list(metrics)
        return [flat]
    if not per_output:  # a flat list: every output gets every metric (Keras 2)
        return [list(metrics) for _ in names]
    if len(metrics) != len(names):
        raise ValueError(f"For a model with multiple outputs, when providing the `{what}` argument as a list, "
                         f"it should have as many entries as the model has outputs. Received:\n{what}={metrics}"
                         f"\nof length {len(metrics)} whereas the model has {len(names)} outputs.")
    return [_metric_entries(m) for m in metrics]


def _metric_lists(metrics, names: list[str], what: str) -> list:
    if metrics is None:
        return [[] for _ in names]
    if isinstance(metrics, dict):
        return _metrics_from_dict(metrics, names, what)
    if _is_seq(metrics):
        return _metrics_from_list(metrics, names, what)
    return [[metrics] for _ in names]  # one bare metric (Keras 2)


def _unique_names(metrics: list, weighted: list) -> list:
    """Keras 3's names within one output: a repeated metric gets `_1`, `_2`; a weighted metric whose
    name is taken gets `weighted_` (then `_1`, ...). Returns the weighted list, renamed where needed."""
    seen: dict[str, int] = {}

    def claim(name: str) -> str:
        if name not in seen:
            seen[name] = 1
            return name
        seen[name] += 1
        return claim(f"{name}_{seen[name] - 1}")

    def named(m, name: str):
        if name == m.name:
            return m
        m = copy.deepcopy(m)  # the user's object keeps its name; a repeat gets its own state
        m.name = name
        return m

    metrics[:] = [named(m, claim(m.name)) for m in metrics]
    return [named(m, claim(f"weighted_{m.name}") if m.name in seen else claim(m.name)) for m in weighted]


def _scoped(metric, identifier):
    """``metric`` with ``state_scope``: the first part of its variables' paths in Keras 3 (the
    default name of the object a metric name resolves to, 'mean_absolute_error' for 'mae'; a
    metric given as an object keeps its own name), which `get_state_tree` keys them by."""
    scope = metric.name
    if isinstance(identifier, str) and identifier.lower() not in ("accuracy", "acc"):
        fn = getattr(metric, "_fn", None)
        scope = fn.__name__ if type(metric) is metrics_mod.MeanMetricWrapper and fn is not None \
            else type(metric)().name
    metric.state_scope = scope
    return metric


class NotCompiledError(ValueError, RuntimeError):
    """Training or evaluating before `compile`: Keras's ValueError (irgraph raised RuntimeError)."""


def not_compiled(model_name: str) -> NotCompiledError:
    return NotCompiledError(f"You must call `compile()` before using the model. Model '{model_name}' must be "
                            "compiled before training or evaluation: call "
                            "model.compile(optimizer, loss, metrics=...) first")


class CompileConfig:
    def __init__(self, model, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                 weighted_metrics=None):
        self.output_names = list(model.output_names)
        names = self.output_names
        # optimizer=None (Keras accepts it): the model evaluates and predicts, `fit` refuses; the
        # step graphs are built with a stand-in SGD whose update never runs
        self.optimizer_given = optimizer is not None
        self.optimizer = optimizers.get(optimizer) if optimizer is not None else optimizers.SGD()
        _check_loss_weights_type(loss_weights)
        # Keras 3's CompileLoss rules: each loss over one output or a structure of outputs
        layer_names = [t._keras_history[0].name for t in model.outputs]
        indices = model._signature.pack_outputs(list(range(len(names))))
        self._loss_given, self._loss_weights_given, self._layer_names = loss, loss_weights, layer_names
        self.loss_entries = loss_entries(loss, loss_weights, indices, layer_names, names)
        given = [e.loss for e in self.loss_entries]
        for e in self.loss_entries:
            e.loss = losses_mod.get(e.loss)
            e.weight = None if e.weight is None else _loss_weight(e.weight, e.name)
        # per output, its own loss (the first covering it alone): the label checks and the saved
        # compile config read these; outputs read by any loss need labels
        self.loss_ids, self.losses, self.loss_weights = [None] * len(names), [None] * len(names), [1.0] * len(names)
        for e, identifier in zip(self.loss_entries, given):
            if isinstance(e.leaves, int) and self.losses[e.leaves] is None:
                self.loss_ids[e.leaves], self.losses[e.leaves] = identifier, e.loss
                self.loss_weights[e.leaves] = 1.0 if e.weight is None else e.weight
        self.labelled = [False] * len(names)
        for e in self.loss_entries:
            for i in tree.flatten(e.leaves):
                self.labelled[i] = True
        self.metric_ids = _metric_lists(metrics, names, "metrics")
        self.weighted_metric_ids = _metric_lists(weighted_metrics, names, "weighted_metrics")
        # no loss at all is accepted as Keras accepts it; fit and evaluate refuse (`require_loss`)
        self.has_loss = bool(self.loss_entries)

    def require_loss(self, model_name: str) -> None:
        """Keras's error for fit/evaluate/train_on_batch/test_on_batch after compile without a loss."""
        if not self.has_loss:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`. Model "
                             f"'{model_name}' was compiled without a loss for any of its outputs "
                             f"{self.output_names}: it can predict, but training and evaluation need one, "
                             "e.g. compile(optimizer, loss='mse')")

    def require_optimizer(self, model_name: str) -> None:
        """Keras's error (its type and words) for training a model compiled with optimizer=None."""
        if not self.optimizer_given:
            raise AttributeError("'NoneType' object has no attribute 'apply': model "
                                 f"'{model_name}' was compiled with optimizer=None, so it can evaluate and "
                                 "predict but not train; compile it with an optimizer (e.g. "
                                 "compile(optimizer='adam', loss=...)) before fit or train_on_batch")

    def resolve_metrics(self, label_shapes: dict, pred_shapes: dict):
        """Metric objects per output (Keras resolves 'accuracy' from the loss and the shapes), named
        as Keras 3 names them in the logs."""
        resolved, weighted = [], []
        for name, loss_id, loss, ids, wids in zip(self.output_names, self.loss_ids, self.losses,
                                                  self.metric_ids, self.weighted_metric_ids):
            kw = dict(loss=loss if loss is not None else loss_id, y_true_shape=label_shapes.get(name),
                      y_pred_shape=pred_shapes.get(name))
            plain = [_scoped(metrics_mod.get(m, **kw), m) for m in ids]
            resolved.append(plain)
            weighted.append(_unique_names(plain, [_scoped(metrics_mod.get(m, **kw), m) for m in wids]))
        return resolved, weighted

    def loss_terms(self) -> list:
        """``(name, outputs, term, weight)`` per loss, as `irgraph.passes.loss.attach_loss` takes
        them: Keras's name of the loss, the output name (or structure of output names) it reads,
        the callable and its weight (None: unweighted)."""
        names = self.output_names
        return [(e.name, tree.map_structure(lambda i: names[i], e.leaves), LossTerm(e.loss), e.weight)
                for e in self.loss_entries]

    def compute_loss_fn(self, model):
        """The model's own ``compute_loss`` as `irgraph.passes.loss.CustomLoss` calls it: given
        the traced inputs and outputs by name, it calls ``model.compute_loss(x, y, y_pred,
        sample_weight, training)`` with them in the model's structures; a ``super().compute_loss``
        there traces the compiled losses (`traced_compute_loss`)."""
        signature = model._signature

        def fn(x, y, y_pred, sample_weight, context):
            xs = tree.unpack_singleton(tree.pack_sequence_as(signature.input_struct,
                                                             [x.get(slot.name) for slot in signature.slots]))
            preds = signature.pack_outputs([y_pred[n] for n in self.output_names])
            token = _TRACE.set((self, context))
            try:
                return model.compute_loss(x=xs, y=y, y_pred=preds, sample_weight=sample_weight,
                                          training=context.training)
            finally:
                _TRACE.reset(token)
        return fn

    def compiled_loss(self, y, y_pred, sample_weight, log) -> list:
        """The compiled losses over this ``y_pred`` (any structure, as a ``compute_loss`` override
        passes it), matched to it by Keras 3's CompileLoss rules: weighted loss Values, each also
        given to ``log(name, value)``. The outputs take their layer names when ``y_pred`` has as
        many leaves as the model has outputs, else each loss is named after its function."""
        if not self.loss_entries:
            return []
        flat_pred = tree.flatten(y_pred)
        indices = tree.pack_sequence_as(y_pred, list(range(len(flat_pred)))) if tree.is_nested(y_pred) else 0
        same = len(flat_pred) == len(self.output_names)
        names = self._layer_names if same else [None] * len(flat_pred)
        keys = self.output_names if same else [f"output_{i}" for i in range(len(flat_pred))]
        entries = loss_entries(self._loss_given, self._loss_weights_given, indices, names, keys,
                               loss_name=lambda identifier: losses_mod.get(identifier).name)
        flat_true = _labels_like(y, y_pred)
        flat_sw = tree.flatten(sample_weight) if tree.is_nested(sample_weight) else None
        values = []
        for e in entries:
            term = LossTerm(losses_mod.get(e.loss))
            if isinstance(e.leaves, int):
                sw = flat_sw[e.leaves] if flat_sw is not None else sample_weight
                value = term(flat_true[e.leaves], flat_pred[e.leaves], sw)
            else:
                first = tree.flatten(e.leaves)[0]
                sw = flat_sw[first] if flat_sw is not None else sample_weight
                value = term(tree.map_structure(lambda i: flat_true[i], e.leaves),
                             tree.map_structure(lambda i: flat_pred[i], e.leaves), sw)
            log(e.name, value)
            values.append(value if e.weight is None else value * _loss_weight(e.weight, e.name))
        return values

    @staticmethod
    def metric_term(metric):
        """A resolved metric as `irgraph.passes.loss.attach_loss` calls it."""
        return MetricTerm(metric)


# ------------------------------------------------------------ a model's own compute_loss, traced
_TRACE = contextvars.ContextVar("irgraph_compute_loss_trace", default=None)


def _labels_like(y, y_pred) -> list:
    """``y``'s leaves in the flat order of ``y_pred`` (Keras: the same structure, a single label for
    a one-leaf y_pred, or as many leaves as y_pred has)."""
    flat_pred = tree.flatten(y_pred)
    if y is None:
        raise ValueError("compute_loss: the compiled losses need labels, got y=None; pass y to fit/evaluate")
    if tree.is_nested(y) and tree.is_nested(y_pred) and tree.same_structure(y, y_pred):
        return tree.flatten(y)
    flat_true = tree.flatten(y) if tree.is_nested(y) else [y]
    if len(flat_true) != len(flat_pred):
        raise ValueError(f"compute_loss: the labels y have {len(flat_true)} entries but y_pred has "
                         f"{len(flat_pred)}; the compiled losses need one label per prediction: pass y in "
                         "the structure of the y_pred given to compute_loss")
    return flat_true


def traced_compute_loss(model_name: str, y, y_pred, sample_weight):
    """Keras's ``Model.compute_loss`` while fit/evaluate trace a model's own override: the compiled
    losses over ``y_pred`` plus weight regularization and ``add_loss`` terms."""
    trace = _TRACE.get()
    if trace is None:
        raise RuntimeError(f"model '{model_name}': compute_loss is traced into the training graph by fit, "
                           "evaluate, train_on_batch and test_on_batch; it cannot be called on its own in "
                           "irgraph. Call model.evaluate(x, y) for the loss value")
    config, context = trace
    terms = config.compiled_loss(y, y_pred, sample_weight, context.log) + context.regularization()
    if not terms:
        raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`. Model "
                         f"'{model_name}' calls super().compute_loss, but was compiled without a loss and "
                         "has no regularization or add_loss terms")
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


# ------------------------------------------------------------------- what the loss pass calls
def _mask_times(weight, mask):
    """A per-sample weight (or none) times an output's (batch, ...) mask, as float weights."""
    m = K.cast(mask, "float32")
    if weight is None:
        return m
    while weight.ndim < m.ndim:
        weight = K.expand_dims(weight, -1)
    return weight * m


class LossTerm:
    """One output's loss: called on traced Values with the output's mask (Keras 3: a mean over the
    unmasked entries), and, after a final Softmax or Sigmoid, computed from the logits."""

    def __init__(self, loss):
        self.loss = loss

    def __call__(self, y_true, y_pred, sample_weight, mask=None):
        loss = self.loss
        if mask is None:
            return loss(y_true, y_pred, sample_weight=sample_weight)
        if type(loss).__call__ is losses_mod.Loss.__call__:
            return loss(y_true, y_pred, sample_weight=sample_weight, mask=mask)
        return loss(y_true, y_pred, sample_weight=_mask_times(sample_weight, mask))

    def on_logits(self, activation_op: str):
        """The same loss computed from the logits of a final ``activation_op`` ('Softmax',
        'Sigmoid'; numerically stable), or None when it has no such form."""
        fused = losses_mod.fused_with_activation(self.loss, activation_op)
        return None if fused is None else LossTerm(fused)


class MetricTerm:
    """A resolved metric's batch statistics; Keras 3 weighs mean metrics of functions (accuracy,
    mae, ...) by the output's mask."""

    def __init__(self, metric):
        self.metric = metric
        self.name = metric.name

    def batch_stats(self, y_true, y_pred, sample_weight, mask=None):
        if mask is not None and isinstance(self.metric, metrics_mod.MeanMetricWrapper):
            sample_weight = _mask_times(sample_weight, mask)
        return self.metric.batch_stats(y_true, y_pred, sample_weight)
