"""compile/fit/evaluate/train_on_batch behaviour: data forms, History keys, callbacks with real
training, weights and frozen layers, dropout in training graphs, and errors for bad input."""
import math

import numpy as np
import onnxruntime as ort
import pytest

import irgraph
from irgraph import callbacks, optimizers
from irgraph.layers import BatchNormalization, Dense, Dropout, Input
from irgraph.models import Model, load_model


def two_output_model():
    x = Input(shape=(4,), name="features")
    h = Dense(8, activation="relu", name="hidden")(x)
    return Model(x, [Dense(1, activation="sigmoid", name="main")(h), Dense(3, name="aux")(h)])


def xy(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    main = (x[:, :1] + x[:, 1:2] > 0).astype(np.float32)
    aux = np.stack([x[:, 0], x[:, 1] * 2, -x[:, 2]], 1).astype(np.float32)
    return x, main, aux


def test_history_keys_for_multi_output_with_validation():
    model = two_output_model()
    model.compile("adam", loss={"main": "binary_crossentropy", "aux": "mse"}, loss_weights=[1.0, 0.5],
                  metrics={"main": ["accuracy"], "aux": ["mae"]})
    x, main, aux = xy()
    hist = model.fit({"features": x}, {"main": main, "aux": aux}, epochs=2, batch_size=16, verbose=0,
                     validation_data=(x[:16], [main[:16], aux[:16]]))
    assert set(hist.history) == {"loss", "main_loss", "aux_loss", "main_accuracy", "aux_mae",
                                 "val_loss", "val_main_loss", "val_aux_loss", "val_main_accuracy", "val_aux_mae"}
    assert len(hist.history["loss"]) == 2 and hist.epoch == [0, 1]
    logs = model.evaluate(x, [main, aux], verbose=0, return_dict=True)
    assert math.isclose(logs["loss"], logs["main_loss"] + 0.5 * logs["aux_loss"], rel_tol=1e-5)


def test_single_loss_applies_to_every_output_and_nb_epoch_alias():
    x = Input(shape=(3,))
    model = Model(x, [Dense(2, name="a")(x), Dense(2, name="b")(x)])
    model.compile("sgd", "mse")
    data = np.ones((8, 3), np.float32)
    hist = model.fit(data, [np.zeros((8, 2)), np.ones((8, 2))], nb_epoch=3, verbose=0)
    assert len(hist.history["loss"]) == 3 and "a_loss" in hist.history and "b_loss" in hist.history


def test_generators_fit_generator_and_steps():
    x, main, aux = xy(48)

    def gen():
        while True:
            for i in range(0, 48, 16):
                yield x[i:i + 16], [main[i:i + 16], aux[i:i + 16]], np.ones(16, np.float32)

    model = two_output_model()
    model.compile("adam", ["binary_crossentropy", "mse"])
    hist = model.fit_generator(gen(), steps_per_epoch=3, epochs=2, verbose=0,
                               validation_data=gen(), validation_steps=2)
    assert len(hist.history["val_loss"]) == 2
    assert np.all(np.isfinite(model.evaluate_generator(gen(), steps=2)))  # [loss, main_loss, aux_loss]

    def bad():
        yield x[:4]

    with pytest.raises(ValueError, match=r"\(x, y\)"):
        model.fit(bad(), steps_per_epoch=1, verbose=0)


def test_train_on_batch_test_on_batch_and_initial_epoch():
    model = two_output_model()
    model.compile("rmsprop", ["binary_crossentropy", "mse"], metrics=[["acc"], []])
    x, main, aux = xy(16)
    out = model.train_on_batch(x, [main, aux])
    assert len(out) == 4  # loss, main_loss, aux_loss, main_acc
    assert isinstance(model.test_on_batch(x, [main, aux], return_dict=True)["main_acc"], float)
    hist = model.fit(x, [main, aux], epochs=3, initial_epoch=1, verbose=0)
    assert hist.epoch == [1, 2]


def test_sample_weight_and_class_weight_change_the_loss():
    x = Input(shape=(4,))
    model = Model(x, Dense(1, activation="sigmoid", kernel_initializer="zeros")(x))
    model.compile("sgd", "binary_crossentropy")
    data, main, _ = xy(32)
    base = model.evaluate(data, main, verbose=0)
    assert math.isclose(base, math.log(2), rel_tol=1e-5)  # zero weights: p = 0.5 everywhere
    w = np.where(main[:, 0] > 0, 3.0, 1.0).astype(np.float32)
    weighted = model.evaluate(data, main, sample_weight=w, verbose=0)
    assert math.isclose(weighted, math.log(2) * w.mean(), rel_tol=1e-5)  # Keras: sum(l*w) / n
    before = model.get_weights()[0].copy()
    model.fit(data, main, epochs=1, batch_size=32, class_weight={0: 1.0, 1: 5.0}, verbose=0, shuffle=False)
    step_cw = model.get_weights()[0] - before
    model.set_weights([before, np.zeros(1)])
    model.fit(data, main, epochs=1, batch_size=32, verbose=0, shuffle=False)
    assert not np.allclose(step_cw, model.get_weights()[0] - before)


def test_learning_rate_settable_between_steps_and_schedule():
    x = Input(shape=(2,))
    model = Model(x, Dense(1, use_bias=False, kernel_initializer="zeros")(x))
    model.compile(optimizers.SGD(learning_rate=0.1), "mse")
    data, target = np.ones((4, 2), np.float32), np.ones((4, 1), np.float32)
    model.train_on_batch(data, target)  # grad of mean((w1+w2-1)^2) at 0 is -2 per weight
    np.testing.assert_allclose(model.get_weights()[0], [[0.2], [0.2]], rtol=1e-6)
    model.optimizer.learning_rate = 0.0
    model.train_on_batch(data, target)
    np.testing.assert_allclose(model.get_weights()[0], [[0.2], [0.2]], rtol=1e-6)
    sched = optimizers.schedules.PiecewiseConstantDecay([2], [0.0, 0.05])  # Keras: step <= 2 -> 0.0
    model.optimizer.learning_rate = sched  # step 2 -> 0.0, step 3 -> 0.05
    model.train_on_batch(data, target)
    np.testing.assert_allclose(model.get_weights()[0], [[0.2], [0.2]], rtol=1e-6)
    model.train_on_batch(data, target)
    np.testing.assert_allclose(model.get_weights()[0], [[0.26], [0.26]], rtol=1e-5)


def test_frozen_layers_are_not_updated_and_batchnorm_state_is():
    x = Input(shape=(4,))
    frozen = Dense(4, name="frozen")
    h = BatchNormalization(name="bn")(frozen(x))
    model = Model(x, Dense(1, name="head")(h))
    frozen.trainable = False
    before = {v.path: v.numpy().copy() for v in model.weights}
    model.compile("adam", "mse")
    data, main, _ = xy(32)
    model.fit(data, main, epochs=2, verbose=0)
    after = {v.path: v.numpy() for v in model.weights}
    for name in ("frozen/kernel", "frozen/bias"):
        np.testing.assert_array_equal(before[name], after[name])
    for name in ("head/kernel", "bn/gamma", "bn/moving_mean", "bn/moving_variance"):
        assert not np.allclose(before[name], after[name]), name


def test_dropout_masks_differ_per_step_and_inference_is_deterministic():
    x = Input(shape=(50,))
    model = Model(x, Dropout(0.5)(Dense(50, kernel_initializer="identity", use_bias=False)(x)))
    model.compile(optimizers.SGD(0.0), "mse")
    data = np.ones((4, 50), np.float32)
    model.train_on_batch(data, np.zeros((4, 50)))
    model.train_on_batch(data, np.zeros((4, 50)))
    proto = model.export_training()
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    feeds = {"lr": np.array(0.0, np.float32), "step": np.array(0.0, np.float32),
             names[0]: data, f"{model.output_names[0]}_true": np.zeros((4, 50), np.float32),
             f"{model.output_names[0]}_sample_weight": np.ones(4, np.float32)}
    feeds.update({v.path: v.numpy() for v in model.weights})
    feeds.update({n: np.zeros((50, 50), np.float32) for n in names if n not in feeds})
    losses = {float(sess.run(["loss"], feeds)[0]) for _ in range(4)}
    assert len(losses) > 1  # a new mask each run
    np.testing.assert_array_equal(model.predict(data, verbose=0), data)  # identity at inference


def test_checkpoint_best_only_file_loads_and_runs_bare(tmp_path):
    model = two_output_model()
    model.compile("adam", ["binary_crossentropy", "mse"])
    x, main, aux = xy(64)
    path = str(tmp_path / "best-{epoch:02d}.onnx")
    ckpt = callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    model.fit(x, [main, aux], epochs=3, validation_split=0.25, callbacks=[ckpt], verbose=0)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files and all(f.startswith("best-") for f in files)
    best = str(tmp_path / files[-1])
    loaded = load_model(best)
    sess = ort.InferenceSession(best, providers=["CPUExecutionProvider"])
    bare = sess.run(None, {"features": x})
    ours = loaded.predict(x, verbose=0)
    for a, b in zip(bare, ours):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_terminate_on_nan_stops_and_last_checkpoint_stays_loadable(tmp_path):
    x = Input(shape=(2,))
    model = Model(x, Dense(1)(x))
    model.compile(optimizers.SGD(1e3), "mse")
    data = np.full((64, 2), 1e3, np.float32)
    target = np.ones((64, 1), np.float32)
    path = str(tmp_path / "last.onnx")
    model.fit(data[:8], target[:8], epochs=1, verbose=0, callbacks=[callbacks.ModelCheckpoint(path)])
    hist = model.fit(data, target, epochs=5, batch_size=8, verbose=0,
                     callbacks=[callbacks.TerminateOnNaN(), callbacks.ModelCheckpoint(path)])
    assert len(hist.history.get("loss", [])) <= 1
    assert model.stop_training
    load_model(path).predict(data[:2], verbose=0)  # the earlier checkpoint is intact


def test_early_stopping_restores_best_weights():
    model = two_output_model()
    model.compile(optimizers.SGD(0.5), ["binary_crossentropy", "mse"])
    x, main, aux = xy(64)
    es = callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    hist = model.fit(x, [main, aux], epochs=30, verbose=0, callbacks=[es])
    losses = hist.history["loss"]
    best = int(np.argmin(losses))
    assert np.isfinite(model.evaluate(x, [main, aux], verbose=0)[0])
    assert len(losses) <= 30 and best <= len(losses) - 1


# ------------------------------------------------------------------------------ bad input
def test_bad_training_input_errors():
    model = two_output_model()
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.ones((2, 4)), [np.ones((2, 1)), np.ones((2, 3))], verbose=0)
    with pytest.raises(ValueError, match="adamm|Unknown|unknown"):
        model.compile("adamm", "mse")  # an optimizer Keras cannot interpret: refused by compile itself
    # unknown losses, metrics and keys: Keras raises when it builds them on the first batch
    for compile_args, match in ((("adam", "not_a_loss"), "not_a_loss"), (("adam", {"nope": "mse"}), "nope"),
                                (("adam", "mse", ["not_a_metric"]), "not_a_metric")):
        model.compile(*compile_args)
        with pytest.raises(ValueError, match=match):
            model.fit(np.ones((2, 4)), [np.ones((2, 1)), np.ones((2, 3))], verbose=0)
    model.compile("adam", ["binary_crossentropy", "mse"])
    x, main, aux = xy(8)
    with pytest.raises(ValueError, match="2 .*got a list of 1|has 2"):
        model.fit(x, [main], verbose=0)
    with pytest.raises(ValueError, match="auxx"):
        model.fit(x, {"main": main, "auxx": aux}, verbose=0)
    with pytest.raises(ValueError, match="same number of samples"):
        model.fit(x, [main[:4], aux], verbose=0)
    with pytest.raises(ValueError, match="aux"):
        model.fit(x, [main, aux[:, :2]], verbose=0)


def test_train_on_batch_weights_visible_lazily_and_set_weights_respected():
    x = Input(shape=(2,))
    model = Model(x, Dense(1, use_bias=False, kernel_initializer="zeros")(x))
    model.compile(optimizers.SGD(learning_rate=0.1), "mse")
    data, target = np.ones((4, 2), np.float32), np.ones((4, 1), np.float32)
    model.train_on_batch(data, target)
    np.testing.assert_allclose(model.predict_on_batch(data), np.full((4, 1), 0.4), rtol=1e-6)  # w = 0.2 each
    model.set_weights([np.zeros((2, 1))])  # Python wins over the device state
    model.train_on_batch(data, target)
    np.testing.assert_allclose(model.get_weights()[0], [[0.2], [0.2]], rtol=1e-6)
    model.train_on_batch(data, target)  # grad at w=0.2: 2*(0.4-1) = -1.2 per weight
    np.testing.assert_allclose(model.predict(data, verbose=0), np.full((4, 1), 2 * 0.32), rtol=1e-5)
