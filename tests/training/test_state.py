"""The training state has one owner: get_weights, predict, evaluate, the next training step and the
saved file always agree, whatever the order of fit, callbacks, compile, set_weights, interrupts and
saves. Each workflow is checked against a plain numpy re-implementation of the same network."""
import threading

import numpy as np
import pytest

from irgraph import callbacks, optimizers
from irgraph.models import load_model

from reference import NumpyNet, assert_matches, build_model, data

LOADER = "irgraph-batch-loader"


def loader_threads():
    return [t for t in threading.enumerate() if t.name == LOADER and t.is_alive()]


@pytest.fixture
def xy():
    return data()


def fresh(lr=0.1, momentum=0.5):
    model = build_model(lr, momentum)
    return model, NumpyNet(model.get_weights(), lr, momentum)


def step_both(model, ref, x, y, sl):
    """One train_on_batch of the model and the same SGD step of the numpy reference."""
    model.train_on_batch(x[sl], y[sl])
    ref.step(x[sl], y[sl])


def other_weights(model, seed=7):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in model.get_weights()]


def test_early_stopping_restore_best_then_save_and_load(tmp_path, xy):
    x, y = xy
    model = build_model(lr=0.9, momentum=0.9)  # diverges after a few epochs
    seen = {}

    class Record(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen[epoch] = (logs["val_loss"], self.model.get_weights())

    stop = callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    model.fit(x, y, epochs=40, batch_size=8, validation_data=(x[:16], y[:16]), verbose=0,
              shuffle=False, callbacks=[Record(), stop])
    best_epoch = min(seen, key=lambda e: seen[e][0])
    assert best_epoch < max(seen), "the run should have stopped after a worse epoch"
    best_loss, best_weights = seen[best_epoch]
    for got, want in zip(model.get_weights(), best_weights):
        np.testing.assert_array_equal(got, want)
    assert model.evaluate(x[:16], y[:16], verbose=0) == pytest.approx(best_loss, rel=1e-5)
    before = model.predict(x, verbose=0)

    path = tmp_path / "best.onnx"
    model.save(path)
    for got, want in zip(model.get_weights(), best_weights):  # the save changed nothing
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(model.predict(x, verbose=0), before)
    assert model.evaluate(x[:16], y[:16], verbose=0) == pytest.approx(best_loss, rel=1e-5)

    loaded = load_model(path)
    for got, want in zip(loaded.get_weights(), best_weights):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), before, rtol=1e-6)
    assert loaded.evaluate(x[:16], y[:16], verbose=0) == pytest.approx(best_loss, rel=1e-5)
    # the next step from both: same weights, same optimizer state, same result
    a = model.train_on_batch(x[:8], y[:8])
    b = loaded.train_on_batch(x[:8], y[:8])
    assert a == pytest.approx(b, rel=1e-6)
    for got, want in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("read_between", [False, True])
def test_compile_again_keeps_weights_and_starts_a_fresh_optimizer(xy, read_between):
    x, y = xy
    model, ref = fresh()
    for i in range(3):
        step_both(model, ref, x, y, slice(i * 8, (i + 1) * 8))
    if read_between:
        model.get_weights()
    model.compile(optimizers.SGD(0.05, momentum=0.5), "mse")  # fine-tuning at a smaller rate
    ref.lr = 0.05
    ref.fresh_optimizer()
    for i in range(3):
        step_both(model, ref, x, y, slice(i * 8, (i + 1) * 8))
    assert_matches(model, ref, x, y)


def test_compile_again_with_the_same_optimizer_keeps_its_state(xy):
    x, y = xy
    model, ref = fresh()
    step_both(model, ref, x, y, slice(0, 8))
    model.compile(model.optimizer, "mse", metrics=["mae"])
    step_both(model, ref, x, y, slice(8, 16))
    assert model.optimizer.iterations == 2
    assert_matches(model, ref, x, y)


HOOKS = ["on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end",
         "on_epoch_end", "on_train_end"]


@pytest.mark.parametrize("hook", HOOKS)
def test_set_weights_from_every_callback_hook(xy, hook):
    """fit(2 epochs of 3 batches); at one moment a callback sets new weights: the next step and
    every later read use them."""
    x, y = xy
    model, ref = fresh()
    new = other_weights(model)
    target = {"on_train_begin": None, "on_epoch_begin": 1, "on_train_batch_begin": (1, 1),
              "on_train_batch_end": (0, 1), "on_epoch_end": 0, "on_train_end": None}[hook]
    state = {"epoch": 0}

    class Setter(callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            state["epoch"] = epoch
            self._maybe("on_epoch_begin", epoch)

        def on_train_begin(self, logs=None):
            self._maybe("on_train_begin", None)

        def on_train_end(self, logs=None):
            self._maybe("on_train_end", None)

        def on_epoch_end(self, epoch, logs=None):
            self._maybe("on_epoch_end", epoch)

        def on_train_batch_begin(self, batch, logs=None):
            self._maybe("on_train_batch_begin", (state["epoch"], batch))

        def on_train_batch_end(self, batch, logs=None):
            self._maybe("on_train_batch_end", (state["epoch"], batch))

        def _maybe(self, name, when):
            if name == hook and when == target:
                self.model.set_weights(new)

    model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0, callbacks=[Setter()])

    # the reference, with the same moment
    def maybe(name, when):
        if name == hook and when == target:
            ref.w = [np.asarray(a, np.float64) for a in new]
    maybe("on_train_begin", None)
    for epoch in range(2):
        maybe("on_epoch_begin", epoch)
        for b in range(3):
            maybe("on_train_batch_begin", (epoch, b))
            ref.step(x[b * 16:(b + 1) * 16], y[b * 16:(b + 1) * 16])
            maybe("on_train_batch_end", (epoch, b))
        maybe("on_epoch_end", epoch)
    maybe("on_train_end", None)
    assert_matches(model, ref, x, y)
    step_both(model, ref, x, y, slice(0, 16))
    assert_matches(model, ref, x, y)


def test_load_weights_and_set_weights_between_steps(tmp_path, xy):
    x, y = xy
    model, ref = fresh()
    step_both(model, ref, x, y, slice(0, 8))
    model.save_weights(tmp_path / "w.npz")
    saved = [w.copy() for w in ref.w]
    step_both(model, ref, x, y, slice(8, 16))
    model.load_weights(tmp_path / "w.npz")  # weights back, optimizer state kept (as Keras)
    ref.w = [w.copy() for w in saved]
    assert_matches(model, ref, x, y)
    step_both(model, ref, x, y, slice(16, 24))
    new = other_weights(model)
    model.set_weights(new)
    ref.w = [np.asarray(a, np.float64) for a in new]
    step_both(model, ref, x, y, slice(24, 32))
    assert_matches(model, ref, x, y)


def test_a_layer_assign_reaches_the_device(xy):
    x, y = xy
    model, ref = fresh()
    step_both(model, ref, x, y, slice(0, 8))
    bias = model.get_layer("out").weights[1]
    bias.assign(np.array([0.25], np.float32))
    ref.w[3] = np.array([0.25])
    step_both(model, ref, x, y, slice(8, 16))
    assert_matches(model, ref, x, y)


class Interrupt(callbacks.Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch = (epoch, batch), 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt


def test_keyboard_interrupt_from_a_callback_leaves_a_consistent_model(tmp_path, xy):
    x, y = xy
    model, ref = fresh()
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0, callbacks=[Interrupt(1, 1)])
    assert not loader_threads()
    ref.fit(x, y, 16)              # epoch 0
    ref.fit(x[:32], y[:32], 16)    # epoch 1, batches 0 and 1 (the interrupt came after the step)
    assert model.optimizer.iterations == 5
    assert_matches(model, ref, x, y)
    model.save(tmp_path / "m.onnx")
    loaded = load_model(tmp_path / "m.onnx")
    assert_matches(loaded, ref, x, y)
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)  # and training goes on
    ref.fit(x, y, 16)
    assert_matches(model, ref, x, y)


def test_keyboard_interrupt_from_a_generator_leaves_a_consistent_model(tmp_path, xy):
    x, y = xy
    model, ref = fresh()

    def batches():
        for i in range(2):
            yield x[i * 16:(i + 1) * 16], y[i * 16:(i + 1) * 16]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        model.fit(batches(), steps_per_epoch=3, epochs=1, verbose=0)
    assert not loader_threads()
    ref.fit(x[:32], y[:32], 16)
    assert_matches(model, ref, x, y)
    model.save(tmp_path / "m.onnx")
    assert_matches(load_model(tmp_path / "m.onnx"), ref, x, y)
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    ref.fit(x, y, 16)
    assert_matches(model, ref, x, y)


def test_an_exception_in_a_callback_or_generator_ends_the_loader_thread(xy):
    x, y = xy
    model, _ = fresh()

    class Boom(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        model.fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[Boom()])
    assert not loader_threads()

    def bad():
        yield x[:8], y[:8]
        raise ValueError("broken generator")

    with pytest.raises(ValueError, match="broken generator"):
        model.fit(bad(), steps_per_epoch=4, epochs=1, verbose=0)
    assert not loader_threads()


def test_stopped_fit_ends_its_loader_thread(xy):
    x, y = xy
    model, _ = fresh()

    class StopNow(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model.stop_training = True

    model.fit(x, y, epochs=5, batch_size=2, verbose=0, callbacks=[StopNow()])
    assert model.optimizer.iterations == 1
    assert not loader_threads()
    stop = callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=1e9)
    model.fit(x, y, epochs=5, batch_size=2, verbose=0, callbacks=[stop])
    assert not loader_threads()


def test_fit_after_fit_after_evaluate(xy):
    x, y = xy
    model, ref = fresh()
    assert model.evaluate(x, y, verbose=0) == pytest.approx(ref.loss(x, y), rel=1e-5)
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    ref.fit(x, y, 16)
    model.fit(x, y, epochs=2, batch_size=12, shuffle=False, verbose=0)
    ref.fit(x, y, 12)
    ref.fit(x, y, 12)
    assert_matches(model, ref, x, y)


def test_models_sharing_weights_train_in_turn(xy):
    """Two compiled models over the same layers (the GAN pattern): each step sees the other's."""
    from irgraph.models import Model
    x, y = xy
    model, ref = fresh()
    twin = Model(model.inputs, model.outputs)
    twin.compile(optimizers.SGD(0.1, momentum=0.5), "mse")
    ref_twin_m = [np.zeros_like(w) for w in ref.w]
    for i in range(3):
        step_both(model, ref, x, y, slice(i * 8, (i + 1) * 8))
        twin.train_on_batch(x[i * 8:(i + 1) * 8], y[i * 8:(i + 1) * 8])
        ref.m, ref_twin_m = ref_twin_m, ref.m  # the twin has its own optimizer state
        ref.step(x[i * 8:(i + 1) * 8], y[i * 8:(i + 1) * 8])
        ref.m, ref_twin_m = ref_twin_m, ref.m
    assert_matches(model, ref, x, y)
    assert_matches(twin, ref, x, y)


def test_save_between_compile_and_first_step_keeps_the_optimizer_state(tmp_path, xy):
    x, y = xy
    model, ref = fresh()
    step_both(model, ref, x, y, slice(0, 8))
    model.compile(model.optimizer, "mse")  # same optimizer: its slots and step count go on
    model.save(tmp_path / "m.onnx")
    loaded = load_model(tmp_path / "m.onnx")
    assert loaded.optimizer.iterations == 1
    loaded.train_on_batch(x[8:16], y[8:16])
    ref.step(x[8:16], y[8:16])
    assert_matches(loaded, ref, x, y)
