"""Callbacks driven by a fake model and scripted epochs (no real training)."""
import io
import math
import os
import re
import sys
import warnings

import numpy as np
import pytest

from irgraph import callbacks as cbks
from irgraph.callbacks import (Callback, CallbackList, CSVLogger, EarlyStopping, History, LambdaCallback,
                               LearningRateScheduler, ModelCheckpoint, ProgbarLogger, ReduceLROnPlateau,
                               TerminateOnNaN)
from irgraph import progress
from irgraph.progress import Progbar, format_time, format_value


# ----------------------------------------------------------------------------------------------
# fake model + scripted fit loop
# ----------------------------------------------------------------------------------------------
class FakeOptimizer:
    def __init__(self, lr=0.01):
        self._lr = lr

    @property
    def learning_rate(self):
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value):
        self._lr = float(value)


class FakeModel:
    """Implements the contract the callbacks rely on; weights are [full(2, epoch)] after each epoch."""

    def __init__(self, lr=0.01):
        self.stop_training = False
        self.optimizer = FakeOptimizer(lr)
        self.weights = [np.zeros(2)]
        self.saved = []
        self.history = None

    def get_weights(self):
        return list(self.weights)  # no copies: the callbacks must snapshot themselves

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def save(self, path):
        self.saved.append(("model", path))
        with open(path, "w") as f:
            f.write("model")

    def save_weights(self, path):
        self.saved.append(("weights", path))
        with open(path, "w") as f:
            f.write("weights")


def fit(callbacks, epoch_logs, model=None, steps=2, batch_logs=None, verbose=0, epochs=None):
    """Keras-like loop: epoch_logs[i] are the logs of epoch i (copied), batch_logs(e, b) per batch."""
    model = model or FakeModel()
    epochs = len(epoch_logs) if epochs is None else epochs
    cl = CallbackList(callbacks, model=model, add_history=True, add_progbar=verbose != 0, verbose=verbose,
                      epochs=epochs, steps=steps)
    model.stop_training = False
    cl.on_train_begin()
    for epoch in range(epochs):
        cl.on_epoch_begin(epoch)
        for b in range(steps or 3):
            cl.on_train_batch_begin(b)
            logs = batch_logs(epoch, b) if batch_logs else {"loss": epoch_logs[epoch].get("loss", 0.0)}
            cl.on_train_batch_end(b, logs)
            if model.stop_training:
                break
        for w in model.weights:
            w[...] = epoch  # in place: "training" updates live buffers
        cl.on_epoch_end(epoch, dict(epoch_logs[epoch]))
        if model.stop_training:
            break
    cl.on_train_end()
    return model, cl.history


def val_losses(*values):
    return [{"loss": 1.0, "val_loss": v} for v in values]


# ----------------------------------------------------------------------------------------------
# base class, CallbackList, History
# ----------------------------------------------------------------------------------------------
class Recorder(Callback):
    HOOKS = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_batch_begin",
             "on_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
             "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end"]

    def __init__(self, name, log):
        super().__init__()
        self.name, self.log = name, log
        for hook in self.HOOKS:
            setattr(self, hook, self._make(hook))

    def _make(self, hook):
        return lambda *args: self.log.append((self.name, hook, *args[:-1]))


def test_base_callback_aliases_and_defaults():
    seen = []

    class Old(Callback):  # Keras 1/2 names
        def on_batch_begin(self, batch, logs=None):
            seen.append(("begin", batch, logs))

        def on_batch_end(self, batch, logs=None):
            seen.append(("end", batch, logs))

    cb = Old()
    assert cb.model is None and cb.params == {}
    cb.on_train_batch_begin(3, {"a": 1})
    cb.on_train_batch_end(3, {"loss": 2})
    assert seen == [("begin", 3, {"a": 1}), ("end", 3, {"loss": 2})]
    base = Callback()
    for hook in Recorder.HOOKS + ["on_train_batch_begin", "on_train_batch_end"]:
        fn = getattr(base, hook)
        assert (fn(0, {}) if "epoch" in hook or "batch" in hook else fn({})) is None
    m = FakeModel()
    base.set_model(m)
    base.set_params({"epochs": 3})
    assert base.model is m and base.params == {"epochs": 3}


def test_callback_list_dispatch_order():
    log = []
    a, b = Recorder("a", log), Recorder("b", log)
    cl = CallbackList([a, [b]], model=FakeModel(), epochs=1, steps=1)
    assert cl.callbacks == [a, b] and len(cl) == 2 and list(cl) == [a, b]
    cl.on_train_begin()
    cl.on_epoch_begin(0)
    cl.on_train_batch_begin(0)
    cl.on_train_batch_end(0, {"loss": 1.0})
    cl.on_test_begin()
    cl.on_test_batch_begin(0)
    cl.on_test_batch_end(0)
    cl.on_test_end()
    cl.on_epoch_end(0, {"loss": 1.0})
    cl.on_train_end()
    cl.on_predict_begin()
    cl.on_predict_batch_begin(0)
    cl.on_predict_batch_end(0)
    cl.on_predict_end()
    expected_hooks = [("on_train_begin",), ("on_epoch_begin", 0), ("on_batch_begin", 0), ("on_batch_end", 0),
                      ("on_test_begin",), ("on_test_batch_begin", 0), ("on_test_batch_end", 0),
                      ("on_test_end",), ("on_epoch_end", 0), ("on_train_end",), ("on_predict_begin",),
                      ("on_predict_batch_begin", 0), ("on_predict_batch_end", 0), ("on_predict_end",)]
    assert log == [(who, *h) for h in expected_hooks for who in "ab"]


def test_callback_list_params_model_defaults_and_logs():
    m = FakeModel()
    mine = History()
    cl = CallbackList([mine], model=m, add_history=True, add_progbar=True, verbose=2, epochs=4, steps=7,
                      samples=70)
    assert cl.history is mine and [type(c) for c in cl.callbacks] == [History, ProgbarLogger]
    assert cl.progbar is cl.callbacks[1] and cl.progbar.verbose == 2 and cl.progbar.target == 7
    assert m.history is mine and mine.model is m
    assert mine.params == {"verbose": 2, "epochs": 4, "steps": 7, "samples": 70}
    assert CallbackList([], add_history=False).history is None
    plain = CallbackList(None, add_history=True)
    assert isinstance(plain.callbacks[-1], History) and plain.progbar is None

    class AddKey(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["extra"] = 1.5

    class Check(Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.got = dict(logs)

        def on_train_batch_end(self, batch, logs=None):
            self.batch = logs

    check = Check()
    cl = CallbackList([AddKey(), check], model=m)
    logs = {"loss": np.float32(0.5), "acc": np.array(0.25), "out": {"out_loss": np.float64(2.0)}}
    cl.on_epoch_end(0, logs)
    assert check.got == {"loss": 0.5, "acc": 0.25, "out_loss": 2.0, "extra": 1.5}
    assert all(type(v) is float for v in check.got.values())
    assert logs == check.got  # same dict object travels through the list back to the caller
    cl.on_train_batch_end(0, None)
    assert check.batch == {}
    with pytest.raises(TypeError, match="Callback instances"):
        CallbackList([object()])
    late = History()
    cl.append(late)
    assert late.model is m and cl.callbacks[-1] is late


def test_history_records_epochs():
    logs = [{"loss": 1.0, "out_loss": 0.8, "accuracy": 0.5, "val_loss": 1.2},
            {"loss": 0.5, "out_loss": 0.4, "accuracy": 0.7, "val_loss": 0.9}]
    model, hist = fit([], logs, verbose=0)
    assert model.history is hist
    assert hist.history == {"loss": [1.0, 0.5], "out_loss": [0.8, 0.4], "accuracy": [0.5, 0.7],
                            "val_loss": [1.2, 0.9]}
    assert hist.epoch == [0, 1] and hist.model is model
    assert hist.params == {"verbose": 0, "epochs": 2, "steps": 2}
    # a History reused across fits keeps growing its history; epoch restarts (Keras)
    h = History()
    fit([h], logs[:1])
    fit([h], logs[1:])
    assert h.history["loss"] == [1.0, 0.5] and h.epoch == [0]


# ----------------------------------------------------------------------------------------------
# ModelCheckpoint
# ----------------------------------------------------------------------------------------------
def test_checkpoint_every_epoch_formats_path(tmp_path):
    path = str(tmp_path / "sub" / "w.{epoch:02d}-{val_loss:.2f}.onnx")
    model, _ = fit([ModelCheckpoint(path)], val_losses(0.5, 0.7, 0.3456))
    names = [os.path.basename(p) for _, p in model.saved]
    assert names == ["w.01-0.50.onnx", "w.02-0.70.onnx", "w.03-0.35.onnx"]
    assert all(kind == "model" for kind, _ in model.saved) and os.path.isfile(model.saved[0][1])

    model, _ = fit([ModelCheckpoint(str(tmp_path / "e{epoch}.w"), save_weights_only=True)], val_losses(1, 2))
    assert model.saved == [("weights", str(tmp_path / "e1.w")), ("weights", str(tmp_path / "e2.w"))]

    with pytest.raises(KeyError, match="Failed to format"):
        fit([ModelCheckpoint(str(tmp_path / "{nope}.onnx"))], val_losses(1))


def test_checkpoint_best_only_min_and_max(tmp_path, capsys):
    path = str(tmp_path / "best-{epoch}.onnx")
    ck = ModelCheckpoint(path, save_best_only=True, verbose=1)
    model, _ = fit([ck], val_losses(0.5, 0.6, 0.4, 0.4, 0.1))
    assert [os.path.basename(p) for _, p in model.saved] == ["best-1.onnx", "best-3.onnx", "best-5.onnx"]
    assert ck.best == 0.1
    out = capsys.readouterr().out
    assert "Epoch 1: val_loss improved from inf to 0.50000, saving model to" in out
    assert "Epoch 2: val_loss did not improve from 0.50000" in out

    # auto mode maximises accuracy-like names
    logs = [{"val_accuracy": a, "val_auc": a} for a in (0.5, 0.4, 0.8)]
    for monitor in ("val_accuracy", "val_auc"):
        model, _ = fit([ModelCheckpoint(path, monitor=monitor, save_best_only=True)], logs)
        assert [os.path.basename(p) for _, p in model.saved] == ["best-1.onnx", "best-3.onnx"]
    # explicit mode wins over the name
    model, _ = fit([ModelCheckpoint(path, monitor="val_accuracy", mode="min", save_best_only=True)], logs)
    assert [os.path.basename(p) for _, p in model.saved] == ["best-1.onnx", "best-2.onnx"]
    # initial_value_threshold is the first "best"
    ck = ModelCheckpoint(path, save_best_only=True, initial_value_threshold=0.45)
    model, _ = fit([ck], val_losses(0.5, 0.44, 0.46))
    assert [os.path.basename(p) for _, p in model.saved] == ["best-2.onnx"]


def test_checkpoint_best_persists_across_fits_and_missing_key_warns(tmp_path):
    path = str(tmp_path / "m.onnx")
    ck = ModelCheckpoint(path, save_best_only=True)
    model = FakeModel()
    fit([ck], val_losses(0.3), model=model)
    fit([ck], val_losses(0.4), model=model)
    assert model.saved == [("model", path)]
    with pytest.warns(UserWarning, match="Can save best model only with val_loss available"):
        model, _ = fit([ModelCheckpoint(path, save_best_only=True)], [{"loss": 1.0}])
    assert model.saved == []
    with warnings.catch_warnings():  # without save_best_only a missing key is irrelevant
        warnings.simplefilter("error")
        model, _ = fit([ModelCheckpoint(path)], [{"loss": 1.0}])
    assert model.saved == [("model", path)]


def test_checkpoint_save_freq_batches(tmp_path):
    path = str(tmp_path / "e{epoch}b{batch}.onnx")
    model, _ = fit([ModelCheckpoint(path, save_freq=3)], val_losses(1, 1), steps=4)
    # 8 batches over 2 epochs, saved after every 3rd: epoch 1 batch 3, epoch 2 batch 2
    assert [os.path.basename(p) for _, p in model.saved] == ["e1b3.onnx", "e2b2.onnx"]
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint(path, save_freq="batch")


@pytest.mark.parametrize("name, mode", [
    ("val_loss", "min"), ("loss", "min"), ("val_accuracy", "max"), ("acc", "max"), ("val_auc", "max"),
    ("precision", "max"), ("val_recall", "max"), ("mae", "min"), ("val_mean_squared_error", "min"),
    ("out_accuracy", "max"), ("val_out_loss", "min"), ("f1_score", "max"), ("mean_iou", "max"),
])
def test_infer_mode(name, mode):
    assert cbks.infer_mode(name) == mode


def test_infer_mode_uses_model_metric_direction():
    class Metric:
        name, _direction = "score", "up"

    class M:
        metrics = [Metric()]

    assert cbks.infer_mode("val_score", M()) == "max"
    assert cbks.infer_mode("val_score") == "min"
    with pytest.warns(UserWarning, match="unknown"):
        assert ModelCheckpoint("x", mode="bogus").mode == "auto"


# ----------------------------------------------------------------------------------------------
# EarlyStopping
# ----------------------------------------------------------------------------------------------
def epochs_run(hist):
    return len(hist.history["val_loss"])


def test_early_stopping_patience():
    es = EarlyStopping(patience=2)
    model, hist = fit([es], val_losses(1.0, 0.9, 0.95, 0.91, 0.5, 0.4))
    assert epochs_run(hist) == 4 and model.stop_training and es.stopped_epoch == 3 and es.best == 0.9
    es = EarlyStopping(patience=0)
    model, hist = fit([es], val_losses(1.0, 0.9, 0.95, 0.5))
    assert epochs_run(hist) == 3 and es.stopped_epoch == 2
    es = EarlyStopping(patience=5)
    model, hist = fit([es], val_losses(1.0, 0.9, 0.95))
    assert epochs_run(hist) == 3 and not model.stop_training and es.stopped_epoch == 0


def test_early_stopping_min_delta_and_mode():
    # improvements of 0.05 do not count with min_delta=0.1
    es = EarlyStopping(min_delta=0.1, patience=2)
    _, hist = fit([es], val_losses(1.0, 0.95, 0.9, 0.85, 0.8))
    assert epochs_run(hist) == 3 and es.best == 1.0
    es = EarlyStopping(monitor="val_accuracy", patience=1)
    _, hist = fit([es], [{"val_loss": 0, "val_accuracy": a} for a in (0.5, 0.6, 0.55, 0.58, 0.9)])
    assert epochs_run(hist) == 3 and es.best == 0.6
    es = EarlyStopping(monitor="val_accuracy", patience=1, min_delta=-0.5, mode="max")  # |min_delta|
    assert es.min_delta == 0.5


def test_early_stopping_baseline():
    # an epoch that improves on best but not on the baseline does not restart the wait
    es = EarlyStopping(baseline=0.5, patience=2)
    _, hist = fit([es], val_losses(0.9, 0.95, 0.92, 0.4))
    assert epochs_run(hist) == 2 and es.stopped_epoch == 1
    es = EarlyStopping(patience=2)
    _, hist = fit([es], val_losses(0.9, 0.95, 0.92, 0.4))
    assert epochs_run(hist) == 3 and es.stopped_epoch == 2
    # Keras: the patience check only runs on epochs that do not improve on best
    es = EarlyStopping(baseline=0.5, patience=1)
    _, hist = fit([es], val_losses(0.9, 0.8, 0.7, 0.6))
    assert epochs_run(hist) == 4 and es.stopped_epoch == 0 and es.wait == 4
    # beating it resets the wait
    es = EarlyStopping(baseline=0.5, patience=2)
    _, hist = fit([es], val_losses(0.9, 0.45, 0.46, 0.47, 0.48))
    assert epochs_run(hist) == 4 and es.stopped_epoch == 3


def test_early_stopping_restore_best_weights(capsys):
    es = EarlyStopping(patience=1, restore_best_weights=True, verbose=1)
    model, hist = fit([es], val_losses(1.0, 0.5, 0.7, 0.8, 0.1))
    assert epochs_run(hist) == 3 and es.best_epoch == 1
    np.testing.assert_array_equal(model.weights[0], [1, 1])  # weights of epoch index 1
    out = capsys.readouterr().out
    assert "Epoch 3: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 2." in out
    # Keras 3: restored at the end of training even when it did not stop early
    es = EarlyStopping(patience=10, restore_best_weights=True)
    model, hist = fit([es], val_losses(1.0, 0.2, 0.7, 0.8))
    assert epochs_run(hist) == 4 and not es.stopped_epoch
    np.testing.assert_array_equal(model.weights[0], [1, 1])
    # without restore_best_weights the last weights stay
    model, _ = fit([EarlyStopping(patience=1)], val_losses(1.0, 0.5, 0.7, 0.8))
    np.testing.assert_array_equal(model.weights[0], [2, 2])


def test_early_stopping_start_from_epoch_and_missing_key():
    es = EarlyStopping(patience=1, start_from_epoch=3)
    _, hist = fit([es], val_losses(0.1, 0.5, 0.9, 1.0, 1.1, 1.2))
    assert epochs_run(hist) == 5 and es.stopped_epoch == 4 and es.best == 1.0
    es = EarlyStopping(monitor="val_acc")
    with pytest.warns(UserWarning, match="Early stopping conditioned on metric `val_acc` which is not available"):
        model, hist = fit([es], val_losses(1, 2, 3))
    assert epochs_run(hist) == 3 and not model.stop_training


def test_early_stopping_instance_reuse():
    es = EarlyStopping(patience=0)
    fit([es], val_losses(0.1, 0.2))
    assert es.stopped_epoch == 1
    _, hist = fit([es], val_losses(0.9, 0.8, 0.7))
    assert epochs_run(hist) == 3 and es.stopped_epoch == 0 and es.best == 0.7


# ----------------------------------------------------------------------------------------------
# learning-rate callbacks
# ----------------------------------------------------------------------------------------------
def test_reduce_lr_on_plateau_factor_patience(capsys):
    rl = ReduceLROnPlateau(factor=0.5, patience=2, verbose=1)
    model, hist = fit([rl], val_losses(1.0, 1.0, 1.0, 1.0, 1.0, 0.5), model=FakeModel(lr=0.8))
    # waits reach 2 at epochs 2 and 4
    assert hist.history["learning_rate"] == [0.8, 0.8, 0.8, 0.4, 0.4, 0.2]
    assert model.optimizer.learning_rate == 0.2
    assert "Epoch 3: ReduceLROnPlateau reducing learning rate to 0.4." in capsys.readouterr().out


def test_reduce_lr_min_delta_cooldown_min_lr():
    # improvements below min_delta count as plateau
    rl = ReduceLROnPlateau(factor=0.1, patience=1, min_delta=0.1)
    model, hist = fit([rl], val_losses(1.0, 0.95, 0.5), model=FakeModel(lr=1.0))
    assert hist.history["learning_rate"] == [1.0, 1.0, pytest.approx(0.1)]
    # cooldown (Keras counting: the counter drops before the check, so cooldown=2 skips one epoch)
    rl = ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2)
    model, hist = fit([rl], val_losses(*[1.0] * 8), model=FakeModel(lr=1.0))
    assert hist.history["learning_rate"] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125]
    rl = ReduceLROnPlateau(factor=0.5, patience=1)
    model, hist = fit([rl], val_losses(*[1.0] * 4), model=FakeModel(lr=1.0))
    assert hist.history["learning_rate"] == [1.0, 1.0, 0.5, 0.25]
    # min_lr floor, and nothing below it
    rl = ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.05)
    model, hist = fit([rl], val_losses(*[1.0] * 5), model=FakeModel(lr=1.0))
    assert hist.history["learning_rate"] == [1.0, 1.0, pytest.approx(0.1), 0.05, 0.05]
    assert model.optimizer.learning_rate == 0.05
    # max mode from the name
    rl = ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1)
    model, _ = fit([rl], [{"val_accuracy": a} for a in (0.1, 0.2, 0.3)], model=FakeModel(lr=1.0))
    assert model.optimizer.learning_rate == 1.0
    with pytest.raises(ValueError, match="factor >= 1.0"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.warns(UserWarning, match="Learning rate reduction is conditioned"):
        fit([ReduceLROnPlateau()], [{"loss": 1.0}])


def test_learning_rate_scheduler_signatures(capsys):
    model, hist = fit([LearningRateScheduler(lambda epoch: 0.1 * (epoch + 1))], val_losses(1, 1, 1))
    assert hist.history["learning_rate"] == pytest.approx([0.1, 0.2, 0.3])

    model, hist = fit([LearningRateScheduler(lambda epoch, lr: lr * 0.5, verbose=1)], val_losses(1, 1, 1),
                      model=FakeModel(lr=1.0))
    assert hist.history["learning_rate"] == [0.5, 0.25, 0.125] and model.optimizer.learning_rate == 0.125
    assert "Epoch 1: LearningRateScheduler setting learning rate to 0.5." in capsys.readouterr().out

    def sched(*args):
        return args[1] + 1

    _, hist = fit([LearningRateScheduler(sched)], val_losses(1, 1), model=FakeModel(lr=0.0))
    assert hist.history["learning_rate"] == [1.0, 2.0]
    _, hist = fit([LearningRateScheduler(lambda epoch: np.float32(0.5))], val_losses(1))
    assert hist.history["learning_rate"] == [0.5]

    def buggy(epoch, lr):  # a TypeError inside the schedule is not swallowed
        return None + 1

    with pytest.raises(TypeError):
        fit([LearningRateScheduler(buggy)], val_losses(1))
    with pytest.raises(ValueError, match="should be a float"):
        fit([LearningRateScheduler(lambda e: "fast")], val_losses(1))


# ----------------------------------------------------------------------------------------------
# TerminateOnNaN, CSVLogger, LambdaCallback
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), np.float32("-inf")])
def test_terminate_on_nan(capsys, bad):
    def batch_logs(epoch, b):
        return {"loss": bad if (epoch, b) == (1, 1) else 0.5}

    model, hist = fit([TerminateOnNaN()], val_losses(1, 1, 1, 1), steps=3, batch_logs=batch_logs)
    assert model.stop_training and len(hist.history["loss"]) == 2
    assert capsys.readouterr().out == "Batch 1: Invalid loss, terminating training\n"
    model, _ = fit([TerminateOnNaN()], val_losses(1, 1), batch_logs=lambda e, b: {"acc": float("nan")})
    assert not model.stop_training


def test_csv_logger(tmp_path):
    path = tmp_path / "log.csv"
    logs = [{"loss": 0.5, "accuracy": 0.25, "val_loss": 0.75, "val_accuracy": 0.125},
            {"loss": 0.25, "accuracy": 0.5, "val_loss": 0.5, "val_accuracy": 0.25}]

    class Peek(Callback):  # each row is flushed at epoch end
        def on_epoch_end(self, epoch, logs=None):
            self.lines = path.read_text().splitlines()

    peek = Peek()
    fit([CSVLogger(path), peek], logs)
    assert peek.lines == ["epoch,accuracy,loss,val_accuracy,val_loss", "0,0.25,0.5,0.125,0.75",
                          "1,0.5,0.25,0.25,0.5"]
    assert path.read_text().splitlines() == peek.lines

    fit([CSVLogger(path, append=True)], logs[:1])
    assert path.read_text().splitlines() == peek.lines + ["0,0.25,0.5,0.125,0.75"]
    fit([CSVLogger(path)], logs[1:])  # no append: overwritten
    assert path.read_text().splitlines() == ["epoch,accuracy,loss,val_accuracy,val_loss", "0,0.5,0.25,0.25,0.5"]

    other = tmp_path / "new.csv"
    fit([CSVLogger(other, separator=";", append=True)], [{"loss": 1.0}, {"loss": 2.0, "val_loss": 3.0}])
    # Keras adds val_ columns when the first epoch has none
    assert other.read_text().splitlines() == ["epoch;loss;val_loss", "0;1.0;NA", "1;2.0;3.0"]


def test_lambda_callback():
    seen = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: seen.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: seen.append(("epoch_begin", epoch)),
        on_batch_begin=lambda batch, logs: seen.append(("batch_begin", batch)),
        on_batch_end=lambda batch, logs: seen.append(("batch_end", batch, logs["loss"])),
        on_epoch_end=lambda epoch, logs: seen.append(("epoch_end", epoch, logs["val_loss"])),
        on_train_end=lambda logs: seen.append("train_end"),
        on_test_begin=lambda logs: seen.append("test_begin"),
        tag="mine",
    )
    assert cb.tag == "mine"
    fit([cb], val_losses(0.5), steps=2)
    assert seen == ["train_begin", ("epoch_begin", 0), ("batch_begin", 0), ("batch_end", 0, 1.0),
                    ("batch_begin", 1), ("batch_end", 1, 1.0), ("epoch_end", 0, 0.5), "train_end"]
    cb.on_test_begin({})
    assert seen[-1] == "test_begin"
    assert LambdaCallback().on_epoch_end(0, {}) is None
    with pytest.raises(TypeError):
        LambdaCallback(on_epoch_end=3)


# ----------------------------------------------------------------------------------------------
# ProgbarLogger / Progbar
# ----------------------------------------------------------------------------------------------
TIME = r"\d+(?:us|ms|s)"


def progbar_fit(verbose, steps=2, epochs=2):
    def batch_logs(epoch, b):
        return {"loss": 0.5 - 0.1 * b, "accuracy": 0.9}

    logs = [{"loss": 0.4, "accuracy": 0.9, "val_loss": 0.0001, "val_accuracy": 0.875}] * epochs
    return fit([], logs, steps=steps, batch_logs=batch_logs, verbose=verbose, epochs=epochs)


def test_progbar_logger_verbose_1(capsys):
    progbar_fit(1)
    out = capsys.readouterr().out
    line = (r"2/2 \[==============================\] - 0s " + TIME + r"/step - loss: 0\.4000 - "
            r"accuracy: 0\.9000 - val_loss: 1\.0000e-04 - val_accuracy: 0\.8750")
    assert re.fullmatch(rf"Epoch 1/2\n{line}\nEpoch 2/2\n{line}\n", out), out


def test_progbar_logger_verbose_2_and_0(capsys):
    progbar_fit(2, steps=12)
    out = capsys.readouterr().out
    line = (r"12/12 - 0s - loss: 0\.4000 - accuracy: 0\.9000 - val_loss: 1\.0000e-04 - val_accuracy: 0\.8750"
            rf" - {TIME}/epoch - {TIME}/step")
    assert re.fullmatch(rf"Epoch 1/2\n{line}\nEpoch 2/2\n{line}\n", out), out
    progbar_fit(0)
    assert capsys.readouterr().out == ""


def test_progbar_logger_single_epoch_and_unknown_steps(capsys):
    progbar_fit(1, epochs=1)
    out = capsys.readouterr().out
    assert out.startswith("2/2 [") and "Epoch" not in out
    pl = ProgbarLogger()
    fit([pl], [{"loss": 1.0}] * 2, steps=None, verbose=1)  # steps unknown: 3 batches seen, then known
    out = capsys.readouterr().out
    assert out.count("3/3 [==============================]") == 2 and pl.target == 3


class TTY(io.StringIO):
    def isatty(self):
        return True


def test_progbar_logger_draws_eta_frames_on_a_terminal(monkeypatch):
    buf = TTY()
    monkeypatch.setattr(sys, "stdout", buf)
    progbar_fit(1, steps=4, epochs=1)
    out = buf.getvalue()
    # first batch drawn in place with an ETA, then the final line
    assert out.startswith("\r1/4 [======>.......................] - ETA: 0s - loss: 0.5000 - accuracy: 0.9000")
    assert re.search(r"\r4/4 \[=+\] - 0s " + TIME + r"/step - loss: 0\.4000 .*val_accuracy: 0\.8750 *\n$", out)
    assert "Epoch" not in out


def test_progbar_logger_evaluate_and_predict(capsys):
    pl = ProgbarLogger()
    cl = CallbackList([pl], model=FakeModel(), verbose=1, steps=3)
    cl.on_test_begin()
    for b in range(3):
        cl.on_test_batch_end(b, {"loss": 0.25})
    cl.on_test_end({"loss": 0.25})
    cl.on_predict_begin()
    for b in range(3):
        cl.on_predict_batch_end(b, {"outputs": np.zeros(3)})
    cl.on_predict_end()
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("3/3 [") and out[0].endswith("- loss: 0.2500")
    assert out[1].startswith("3/3 [") and out[1].endswith("/step")
    # inside fit, validation is silent
    cl = CallbackList([pl], model=FakeModel(), verbose=1, steps=2, epochs=1)
    cl.on_train_begin()
    cl.on_epoch_begin(0)
    cl.on_test_begin()
    cl.on_test_batch_end(0, {"loss": 1.0})
    cl.on_test_end({"loss": 1.0})
    cl.on_epoch_end(0, {"loss": 1.0})
    cl.on_train_end()
    assert capsys.readouterr().out.count("\n") == 1


def test_progbar_units_and_formatting():
    assert format_value(0.12345) == "0.1235" and format_value(0.0001) == "1.0000e-04"
    assert format_value(0) == "0.0000e+00" and format_value("x") == "x" and format_value(np.float32(2)) == "2.0000"
    assert format_time(2.4, "step") == " 2s/step" and format_time(0.0034, "step") == " 3ms/step"
    assert format_time(5e-6, "step") == " 5us/step" and format_time(0, "epoch") == " 0s/epoch"
    buf = TTY()
    bar = Progbar(100, file=buf, interval=0)
    bar.start -= 100  # pretend 100 s passed: 10 s/step, 90 steps left
    bar.update(10, {"loss": 1.0})
    assert buf.getvalue() == "\r 10/100 [==>...........................] - ETA: 15:00 - loss: 1.0000"
    bar.start -= 1900  # 2000 s for 20 steps: 80 steps left at 100 s
    bar.update(20)
    assert buf.getvalue().endswith("\r 20/100 [=====>........................] - ETA: 2:13:20 - loss: 1.0000")
    bar.update(99)  # redrawn in place, padded over the longer previous frame
    assert buf.getvalue().endswith("\r 99/100 [============================>.] - ETA: 20s - loss: 1.0000    ")
    assert [progress._format_eta(t) for t in (0.4, 59, 100, 3600, 3725)] == ["0s", "59s", "1:40", "60:00", "1:02:05"]


def test_progbar_averaging_close_and_non_tty():
    buf = io.StringIO()
    bar = Progbar(4, file=buf, stateful_metrics=["acc"])
    bar.update(1, [("loss", 1.0), ("acc", 0.1)])
    bar.update(3, [("loss", 4.0), ("acc", 0.3)])  # loss averaged over steps: (1 + 4*2) / 3
    assert bar.values == {"loss": 3.0, "acc": 0.3}
    assert buf.getvalue() == ""  # not a terminal: no intermediate frames
    bar.close()
    bar.close()
    out = buf.getvalue()
    assert out.count("\n") == 1 and out.startswith("3/4 [=====================>........] - 0s")
    assert out.rstrip().endswith("- loss: 3.0000 - acc: 0.3000")
    buf = io.StringIO()
    bar = Progbar(3, verbose=2, file=buf)
    for i in range(1, 4):
        bar.update(i)
    bar.close()
    assert re.fullmatch(rf"3/3 - 0s - {TIME}/epoch - {TIME}/step\n", buf.getvalue())
    buf = io.StringIO()
    Progbar(3, verbose=0, file=buf).update(3, {"loss": 1.0})
    assert buf.getvalue() == ""
    assert math.isclose(Progbar(None, file=buf)._per_step(0, 1.0), 0.0)


def test_learning_rate_schedules_are_read_at_the_current_step():
    class ScheduledOptimizer:
        def __init__(self):
            self.learning_rate = lambda step: 1.0 / (1 + step)
            self.iterations = 3

    model = FakeModel()
    model.optimizer = ScheduledOptimizer()
    _, hist = fit([ReduceLROnPlateau(patience=100)], val_losses(1.0), model=model)
    assert hist.history["learning_rate"] == [0.25]
    # the schedule is replaced by the float the scheduler computes
    _, hist = fit([LearningRateScheduler(lambda epoch, lr: lr * 2)], val_losses(1.0), model=model)
    assert hist.history["learning_rate"] == [0.5] and model.optimizer.learning_rate == 0.5
    model.optimizer = object()
    with pytest.raises(ValueError, match="learning_rate"):
        fit([LearningRateScheduler(lambda e: 0.1)], val_losses(1.0), model=model)


def test_subclass_without_super_init_works():
    class NoInit(Callback):
        def __init__(self):
            self.ends = []

        def on_epoch_end(self, epoch, logs=None):
            self.ends.append((epoch, self.model is not None, self.params["epochs"]))

    cb = NoInit()
    assert cb.model is None
    fit([cb], val_losses(1, 2))
    assert cb.ends == [(0, True, 2), (1, True, 2)]
