"""Keras-style training callbacks.

The hooks and the callbacks follow Keras 2/3 semantics.  What they need from the model:

* ``model.stop_training``: bool attribute, reset by ``fit`` before ``on_train_begin`` and
  checked by ``fit`` after every batch and every epoch;
* ``model.optimizer.learning_rate``: a float, settable (``optimizer.lr`` is used if that
  attribute is missing);
* ``model.save(path)``, ``model.save_weights(path)``;
* ``model.get_weights()`` -> list of arrays, ``model.set_weights(list)``;
* ``model.history``: attribute the :class:`History` callback assigns itself to;
* optionally ``model.metrics``: objects with ``name`` and ``_direction`` (``'up'``/``'down'``)
  that ``mode='auto'`` consults before falling back to the name rules.
"""
from __future__ import annotations

import csv
import inspect
import math
import numbers
import os
import warnings

import numpy as np

from .progress import Progbar

__all__ = [
    "Callback", "CallbackList", "History", "ProgbarLogger", "ModelCheckpoint", "EarlyStopping",
    "ReduceLROnPlateau", "LearningRateScheduler", "TerminateOnNaN", "CSVLogger", "LambdaCallback",
]


# ----------------------------------------------------------------------------------------------
# base class
# ----------------------------------------------------------------------------------------------
class Callback:
    """Base class: every hook is a no-op.

    ``on_train_batch_begin``/``on_train_batch_end`` call the Keras 1/2 names
    ``on_batch_begin``/``on_batch_end``, so overriding either name works.
    """

    model = None  # class-level defaults for subclasses that skip ``super().__init__()``
    params: dict = {}

    def __init__(self):
        self.model = None
        self.params = {}

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self.model = model

    # batch hooks (Keras 1/2 names)
    def on_batch_begin(self, batch, logs=None):
        """A training batch begins (alias called by ``on_train_batch_begin``)."""

    def on_batch_end(self, batch, logs=None):
        """A training batch ended (alias called by ``on_train_batch_end``)."""

    # training
    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    # evaluation
    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    # prediction
    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _needs_conversion(v) -> bool:
    return isinstance(v, (np.generic, dict)) or (isinstance(v, np.ndarray) and v.ndim == 0)


def _pythonify(logs) -> dict:
    """numpy scalars -> Python numbers, nested dicts flattened; in place when possible."""
    if logs is None:
        return {}
    if not any(_needs_conversion(v) for v in logs.values()):
        return logs
    flat = {}

    def put(d):
        for k, v in d.items():
            if isinstance(v, dict):
                put(v)
            elif isinstance(v, (np.generic, np.ndarray)) and np.ndim(v) == 0:
                flat[k] = v.item() if isinstance(v, np.bool_) else float(v)
            else:
                flat[k] = v
    put(logs)
    if isinstance(logs, dict):
        logs.clear()
        logs.update(flat)
        return logs
    return flat


def _print(msg: str) -> None:
    print(msg, flush=True)


def _get_lr(model) -> float:
    """The optimizer's current learning rate as a float (a schedule is evaluated at the step
    ``optimizer.iterations``, 0 when the optimizer has no such attribute)."""
    opt = getattr(model, "optimizer", None)
    for attr in ("learning_rate", "lr"):
        if opt is not None and hasattr(opt, attr):
            value = getattr(opt, attr)
            if callable(value):
                step = int(np.asarray(getattr(opt, "iterations", 0) or 0))
                return float(opt.lr_at(step)) if hasattr(opt, "lr_at") else float(np.asarray(value(step)))
            return float(np.asarray(value))
    raise ValueError('Optimizer must have a "learning_rate" attribute.')


def _set_lr(model, value: float) -> None:
    opt = model.optimizer
    if hasattr(opt, "learning_rate") or not hasattr(opt, "lr"):
        opt.learning_rate = value
    else:
        opt.lr = value


_MAX_HINTS = ("acc", "auc", "precision", "recall", "fmeasure", "f1_score", "fbeta", "iou", "r2_score",
              "true_positives", "true_negatives", "specificity", "sensitivity", "cosine_similarity")


def _check_mode(mode: str, owner: str) -> str:
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{owner} mode '{mode}' is unknown, fallback to auto mode.", stacklevel=3)
        return "auto"
    return mode


def infer_mode(monitor: str, model=None) -> str:
    """``'min'`` or ``'max'`` for a monitored quantity in ``mode='auto'``.

    A model metric named like the quantity (without ``val_``) that declares ``_direction``
    decides; otherwise losses and errors are minimised and names containing ``acc``, ``auc``,
    ``precision``, ``recall``, ``f1_score``, ``iou``, ... are maximised; anything else is
    minimised (Keras 2's fallback).
    """
    name = monitor[4:] if monitor.startswith("val_") else monitor
    try:
        for m in getattr(model, "metrics", None) or ():
            for sub in [m, *(getattr(m, "metrics", None) or ())]:
                if getattr(sub, "name", None) == name:
                    d = getattr(sub, "_direction", None) or getattr(sub, "direction", None)
                    if d in ("up", "max"):
                        return "max"
                    if d in ("down", "min"):
                        return "min"
    except Exception:  # a model whose metrics can't be listed yet
        pass
    low = name.lower()
    if low.endswith("loss") or "error" in low:
        return "min"
    return "max" if any(h in low for h in _MAX_HINTS) else "min"


def _is_number(v) -> bool:
    return (isinstance(v, numbers.Real) and not isinstance(v, bool)) or \
        (isinstance(v, (np.ndarray, np.generic)) and np.ndim(v) == 0 and np.issubdtype(np.asarray(v).dtype, np.number))


class _Monitor(Callback):
    """Shared comparison logic: ``mode`` resolution, ``min_delta`` and ``best``."""

    def __init__(self, monitor, mode, min_delta=0.0, best=None):
        super().__init__()
        self.monitor = monitor
        self.mode = _check_mode(mode, type(self).__name__)
        self.min_delta = abs(min_delta)
        self.best = best
        self.monitor_op = None
        self._direction = None

    def _resolve(self) -> None:
        if self.monitor_op is not None:
            return
        self._direction = self.mode if self.mode != "auto" else infer_mode(self.monitor, self.model)
        self.monitor_op = np.less if self._direction == "min" else np.greater
        if self.best is None:
            self.best = np.inf if self._direction == "min" else -np.inf

    def _is_improvement(self, value, reference) -> bool:
        if reference is None:
            return True
        delta = -self.min_delta if self._direction == "min" else self.min_delta
        return bool(self.monitor_op(value - delta, reference))


# ----------------------------------------------------------------------------------------------
# History / progress / container
# ----------------------------------------------------------------------------------------------
class History(Callback):
    """Records every epoch's logs: ``history[name]`` is a list, ``epoch`` the epoch indices.

    Like Keras, ``history`` keeps growing if the same instance is used for several ``fit``
    calls while ``epoch`` restarts with each.
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []
        if self.model is not None:
            self.model.history = self

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self


class ProgbarLogger(Callback):
    """Prints ``Epoch i/n`` and a Keras progress bar per epoch.

    Reads ``verbose`` (0 silent, 1 bar, 2 one line per epoch; ``'auto'`` is 1), ``epochs`` and
    ``steps`` (batches per epoch, None if unknown: learnt after the first epoch) from
    ``params``.  The ``Epoch i/n`` line is printed only when ``epochs > 1``, as in Keras 2.x/3.
    Validation run inside ``fit`` is silent; ``evaluate``/``predict`` loops get their own bar.
    """

    def __init__(self, count_mode: str = "steps", stateful_metrics=None):
        super().__init__()
        if count_mode not in ("steps", "samples"):
            raise ValueError(f"Unknown `count_mode`: {count_mode}. Expected 'samples' or 'steps'.")
        if count_mode == "samples":
            warnings.warn("ProgbarLogger counts steps (batches); count_mode='samples' is ignored.",
                          stacklevel=2)
        self.stateful_metrics = stateful_metrics
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self.seen = 0
        self.progbar: Progbar | None = None
        self._called_in_fit = False

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose or 0)
        self.epochs = params.get("epochs")
        steps = params.get("steps")
        self.target = None if steps is None else int(steps)

    def _reset(self):
        self.seen = 0
        self.progbar = None

    def _ensure(self):
        if self.progbar is None:
            self.progbar = Progbar(self.target, verbose=self.verbose, stateful_metrics=self.stateful_metrics,
                                   unit_name="step")

    def _update(self, batch, logs):
        self._ensure()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, logs, finalize=False)

    def _finalize(self, logs):
        self._ensure()
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.seen
        self.progbar.update(self.target, logs, finalize=True)

    def on_train_begin(self, logs=None):
        self._called_in_fit = True

    def on_train_end(self, logs=None):
        self._called_in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()
        self._ensure()
        if self.verbose and (self.epochs is None or self.epochs > 1):
            _print(f"Epoch {epoch + 1}/{self.epochs}" if self.epochs is not None else f"Epoch {epoch + 1}")

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset()
            self._ensure()

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_begin(self, logs=None):
        self._reset()
        self._ensure()

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)  # predictions are not shown

    def on_predict_end(self, logs=None):
        self._finalize(None)


class CallbackList(Callback):
    """Calls every hook on each callback, in list order.

    ``add_history`` appends a :class:`History` (exposed as ``.history``) and ``add_progbar`` a
    :class:`ProgbarLogger` (``.progbar``) unless the list already holds one; as in Keras 3 they
    come after the user's callbacks, so keys those add to the epoch logs (``learning_rate``)
    are recorded and printed.  ``params`` = ``{'verbose', 'epochs', 'steps', **params}`` is
    handed to every callback; ``model`` (when given) too, and ``model.history`` is set.

    Epoch logs are passed on as the same dict object (numpy scalars turned into floats in
    place), so keys added by one callback are seen by the later ones and by the caller.
    """

    def __init__(self, callbacks=None, model=None, add_history=False, add_progbar=False, verbose=1,
                 epochs=None, steps=None, **params):
        super().__init__()
        self.callbacks: list = []
        for cb in self._flatten(callbacks):
            self._check(cb)
            self.callbacks.append(cb)
        self.history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        self.progbar = next((cb for cb in self.callbacks if isinstance(cb, ProgbarLogger)), None)
        if self.history is None and add_history:
            self.history = History()
            self.callbacks.append(self.history)
        if self.progbar is None and add_progbar:
            self.progbar = ProgbarLogger()
            self.callbacks.append(self.progbar)
        self.set_params({"verbose": verbose, "epochs": epochs, "steps": steps, **params})
        if model is not None:
            self.set_model(model)

    @staticmethod
    def _flatten(callbacks):
        if callbacks is None:
            return []
        if isinstance(callbacks, CallbackList):
            return list(callbacks.callbacks)
        if isinstance(callbacks, (list, tuple)):
            return [c for item in callbacks for c in CallbackList._flatten(item)]
        return [callbacks]

    @staticmethod
    def _check(cb):
        if not isinstance(cb, Callback) and not all(
                callable(getattr(cb, n, None)) for n in ("set_model", "set_params", "on_epoch_end")):
            raise TypeError(f"callbacks must be Callback instances, got {cb!r}")

    def append(self, callback):
        self._check(callback)
        self.callbacks.append(callback)
        if self.params:
            callback.set_params(self.params)
        if self.model is not None:
            callback.set_model(self.model)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)

    def set_params(self, params):
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def set_model(self, model):
        self.model = model
        if model is None:
            return
        if self.history is not None:
            model.history = self.history
        for cb in self.callbacks:
            cb.set_model(model)

    # dispatch -------------------------------------------------------------------------------
    def _call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", _pythonify(logs))

    def on_train_end(self, logs=None):
        self._call("on_train_end", _pythonify(logs))

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, _pythonify(logs))

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, _pythonify(logs))

    def on_batch_begin(self, batch, logs=None):
        self._call("on_batch_begin", batch, _pythonify(logs))

    def on_batch_end(self, batch, logs=None):
        self._call("on_batch_end", batch, _pythonify(logs))

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, _pythonify(logs))

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, _pythonify(logs))

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", _pythonify(logs))

    def on_test_end(self, logs=None):
        self._call("on_test_end", _pythonify(logs))

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, _pythonify(logs))

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, _pythonify(logs))

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", _pythonify(logs))

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", _pythonify(logs))

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs if logs is not None else {})

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs if logs is not None else {})


# ----------------------------------------------------------------------------------------------
# ModelCheckpoint
# ----------------------------------------------------------------------------------------------
class ModelCheckpoint(_Monitor):
    """Save the model (``model.save``) or its weights (``model.save_weights``) while training.

    ``filepath`` is formatted with ``str.format(epoch=epoch + 1, **logs)`` (plus
    ``batch=batch + 1`` when saving every ``save_freq`` batches), so ``'w.{epoch:02d}-
    {val_loss:.2f}.onnx'`` works.  With ``save_best_only`` only improvements of ``monitor``
    are saved (a missing ``monitor`` warns and saves nothing); ``initial_value_threshold`` is
    the starting "best".  ``best`` persists across ``fit`` calls, as in Keras.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, 0.0, initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq <= 0):
            raise ValueError(f"Unrecognized save_freq: {save_freq}. Expected save_freq are 'epoch' or "
                             "positive integer values")
        self.save_freq = save_freq
        self._current_epoch = 0
        self._batches_since_save = 0
        self._last_batch_seen = -1

    def on_train_begin(self, logs=None):
        self._batches_since_save = 0
        self._last_batch_seen = -1

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        # batch restarts at 0 each epoch
        added = batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen
        self._last_batch_seen = batch
        self._batches_since_save += added
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _file_path(self, epoch, batch, logs) -> str:
        fields = dict(logs or {})
        fields["epoch"] = epoch + 1
        if batch is not None and "batch" not in fields:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: {e}') from None

    def _should_save(self, epoch, logs, path) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: saving model to {path}")
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available, skipping.", stacklevel=3)
            return False
        if not _is_number(current):
            warnings.warn(f"Can save best model only when `monitor` is a scalar value. Received: {current}. "
                          "Falling back to `save_best_only=False`.", stacklevel=3)
            return True
        self._resolve()
        current = float(current)
        best_str = f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_str} to {current:.5f}, "
                       f"saving model to {path}")
            self.best = current
            return True
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_str}")
        return False

    def _save(self, epoch, batch, logs) -> None:
        path = self._file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, path):
            return
        if os.path.isdir(path):
            raise IOError("Please specify a non-directory filepath for ModelCheckpoint. Filepath used is an "
                          f"existing directory: {path}")
        dirname = os.path.dirname(path)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


# ----------------------------------------------------------------------------------------------
# EarlyStopping
# ----------------------------------------------------------------------------------------------
class EarlyStopping(_Monitor):
    """Stop training (``model.stop_training = True``) once ``monitor`` stops improving.

    Keras 3 semantics: an epoch improves when it beats ``best`` by more than ``min_delta``;
    the wait counter only restarts if it also beats ``baseline``; training stops once
    ``patience`` epochs passed without that (never at epoch 0); epochs before
    ``start_from_epoch`` are ignored.  With ``restore_best_weights`` the weights of the best
    epoch are put back at the end of training, whether or not it stopped early.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta, None)
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best_weights = None
        self.monitor_op = None
        self.best = None

    def _snapshot(self):
        return [np.array(w, copy=True) for w in self.model.get_weights()]

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                          f"Available metrics are: {','.join(logs.keys())}", stacklevel=3)
        return value

    def on_epoch_end(self, epoch, logs=None):
        self._resolve()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        current = float(current)
        if self.restore_best_weights and self.best_weights is None:
            # nothing better seen yet: the current weights are the best
            self.best_weights = self._snapshot()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self._snapshot()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


# ----------------------------------------------------------------------------------------------
# learning-rate callbacks
# ----------------------------------------------------------------------------------------------
class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement.

    An improvement beats ``best`` by more than ``min_delta``; after a reduction ``cooldown``
    epochs pass before counting resumes; the rate never goes below ``min_lr``.  Adds
    ``learning_rate`` (the rate used during the epoch) to the epoch logs, as Keras 3 does.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        if "epsilon" in kwargs:
            min_delta = kwargs.pop("epsilon")
            warnings.warn("`epsilon` argument is deprecated, use `min_delta` instead.", stacklevel=2)
        if kwargs:
            raise TypeError(f"Unexpected keyword arguments: {sorted(kwargs)}")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        super().__init__(monitor, mode, min_delta, None)
        self.factor = float(factor)
        self.patience = int(patience)
        self.verbose = verbose
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self.wait = 0
        self.cooldown_counter = 0

    def _reset(self):
        self.monitor_op = None
        self.best = None
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = _get_lr(self.model)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs.keys())}.", stacklevel=3)
            return
        self._resolve()
        current = float(current)
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = _get_lr(self.model)
                if old_lr > float(np.float32(self.min_lr)):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    _set_lr(self.model, new_lr)
                    if self.verbose > 0:
                        _print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


def _positional_capacity(fn) -> int | None:
    """How many positional arguments ``fn`` accepts (a large number for ``*args``), None if unknown."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    n = 0
    for p in sig.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            return 1 << 30
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            n += 1
    return n


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch begin to ``schedule(epoch, lr)`` (or ``schedule(epoch)``).

    ``epoch`` is 0-based; the result must be a real number.  Adds ``learning_rate`` to the
    epoch logs.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"schedule must be callable, got {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def _call_schedule(self, epoch, lr):
        cap = _positional_capacity(self.schedule)
        if cap is None:
            try:
                return self.schedule(epoch, lr)
            except TypeError:  # Keras 1/2-style one-argument schedule
                return self.schedule(epoch)
        return self.schedule(epoch, lr) if cap >= 2 else self.schedule(epoch)

    def on_epoch_begin(self, epoch, logs=None):
        lr = _get_lr(self.model)
        new_lr = self._call_schedule(epoch, lr)
        if not _is_number(new_lr):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {new_lr}")
        new_lr = float(new_lr)
        _set_lr(self.model, new_lr)
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {new_lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _get_lr(self.model)


# ----------------------------------------------------------------------------------------------
# misc
# ----------------------------------------------------------------------------------------------
class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's ``loss`` is NaN or infinite."""

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        try:
            bad = not math.isfinite(float(loss))
        except (TypeError, ValueError):
            return
        if bad:
            _print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class CSVLogger(Callback):
    """Stream epoch results to a CSV file: ``epoch`` (0-based, as Keras writes it) then the keys.

    The columns are fixed at the first epoch: its keys sorted; as in Keras, if none of them
    starts with ``val_``, ``val_<key>`` columns are added (filled with ``NA`` while there is
    no validation).  ``append=True`` continues an existing file without repeating the header.
    Each row is flushed.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = bool(append)
        self.keys = None
        self.writer = None
        self.csv_file = None
        self.append_header = True

    def on_train_begin(self, logs=None):
        self.append_header = True
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, encoding="utf-8") as f:
                    self.append_header = not bool(f.readline())
            mode = "a"
        else:
            mode = "w"
        self.csv_file = open(self.filename, mode, newline="", encoding="utf-8")
        self.keys = None
        self.writer = None

    @staticmethod
    def _cell(v):
        if isinstance(v, str):
            return v
        if isinstance(v, np.ndarray) and v.ndim == 0:
            return v.item()
        if isinstance(v, (list, tuple, np.ndarray)):
            return f"[{', '.join(map(str, np.asarray(v).ravel().tolist()))}]"
        return v

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.csv_file is None:  # used without on_train_begin
            self.on_train_begin()
        if self.keys is None:
            self.keys = sorted(logs.keys())
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys.extend("val_" + k for k in list(self.keys))
        if self.writer is None:
            sep = self.sep

            class _Dialect(csv.excel):
                delimiter = sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch", *self.keys], dialect=_Dialect,
                                         extrasaction="ignore")
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((k, self._cell(logs.get(k, "NA"))) for k in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None:
            self.csv_file.close()
        self.csv_file = None
        self.writer = None


_LAMBDA_HOOKS = (
    "on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end", "on_train_begin", "on_train_end",
    "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin",
    "on_test_batch_end", "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
)


class LambdaCallback(Callback):
    """Callback built from plain functions.

    ``on_epoch_begin/on_epoch_end(epoch, logs)``, ``on_batch_begin/on_batch_end(batch, logs)``
    (called from the train-batch hooks), ``on_train_begin/on_train_end(logs)``, and any other
    hook name as a keyword.  Other keywords become attributes, as in Keras.
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_begin=None, on_batch_end=None,
                 on_train_begin=None, on_train_end=None, **kwargs):
        super().__init__()
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_batch_begin=on_batch_begin,
                     on_batch_end=on_batch_end, on_train_begin=on_train_begin, on_train_end=on_train_end)
        for name in list(kwargs):
            if name in _LAMBDA_HOOKS:
                given[name] = kwargs.pop(name)
        self.__dict__.update(kwargs)
        for name, fn in given.items():
            if fn is not None:
                if not callable(fn):
                    raise TypeError(f"{name} must be callable, got {fn!r}")
                setattr(self, name, fn)
