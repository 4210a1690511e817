"""Issue 11: model files written by real Keras 3 (torch backend), read by irgraph without Keras.

Every seed model is saved by Keras as a ``.keras`` archive and as a legacy ``.h5`` model; irgraph
loads each file (`irgraph.models.load_model`), predicts what Keras predicts, converts it to ONNX
that plain onnxruntime runs to the same result, and goes on training it with ``fit``."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from irgraph.models import load_model
from tests.keras_compat import keras_seeds

FORMATS = ("keras", "h5")


@pytest.fixture(scope="module", params=sorted(keras_seeds.SEED_MODELS))
def saved(request, tmp_path_factory):
    """``(name, {format: path}, inputs, keras predictions, custom_objects, keras model)``."""
    name = request.param
    model, inputs, custom_objects = keras_seeds.SEED_MODELS[name]()
    folder = tmp_path_factory.mktemp(name)
    paths = {fmt: str(folder / f"{name}.{fmt}") for fmt in FORMATS}
    for path in paths.values():
        model.save(path)
    expected = model.predict(inputs, verbose=0)
    return name, paths, inputs, expected, custom_objects, model


def _close(actual, expected, what):
    actual = actual if isinstance(actual, list) else [actual]
    expected = expected if isinstance(expected, list) else [expected]
    assert len(actual) == len(expected), what
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=1e-5, atol=1e-5, err_msg=what)


@pytest.mark.parametrize("fmt", FORMATS)
def test_loaded_model_predicts_as_keras(saved, fmt):
    name, paths, inputs, expected, custom_objects, _ = saved
    model = load_model(paths[fmt], custom_objects=custom_objects)
    _close(model.predict(inputs, verbose=0), expected, f"{name} from .{fmt}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_converted_onnx_runs_in_plain_onnxruntime(saved, fmt, tmp_path):
    from irgraph.conversion import convert
    name, paths, inputs, expected, custom_objects, _ = saved
    out = tmp_path / f"{name}.onnx"
    report = convert(paths[fmt], out, custom_objects=custom_objects)
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto, full_check=True)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    arrays = inputs if isinstance(inputs, list) else [inputs]
    feeds = {}
    for inp, x in zip(sess.get_inputs(), arrays):
        dtype = {"tensor(float)": np.float32, "tensor(int32)": np.int32, "tensor(int64)": np.int64}[inp.type]
        feeds[inp.name] = np.asarray(x).astype(dtype)
    got = sess.run(None, feeds)
    _close(got if len(got) > 1 else got[0], expected, f"{name}.{fmt} converted")
    assert [n for n, _, _ in report.inputs] == [i.name for i in sess.get_inputs()]
    for _, shape, _ in report.inputs:
        assert shape[0] is None, f"{name}: the batch axis of every input stays dynamic"


def _targets(keras_model, batch, rng):
    ys = []
    for out in keras_model.outputs:
        shape = (batch,) + tuple(out.shape[1:])
        y = rng.random(shape).astype(np.float32)
        if out.shape[-1] and out.shape[-1] > 1:  # a softmax output: one-hot rows
            y = np.eye(out.shape[-1], dtype=np.float32)[rng.integers(0, out.shape[-1], shape[:-1])]
        else:
            y = np.round(y)
        ys.append(y)
    return ys if len(ys) > 1 else ys[0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_loaded_model_keeps_training(saved, fmt):
    name, paths, inputs, _, custom_objects, keras_model = saved
    model = load_model(paths[fmt], custom_objects=custom_objects)
    assert model.optimizer is not None, f"{name}.{fmt}: the compile configuration came back"
    assert type(model.optimizer).__name__.lower() == type(keras_model.optimizer).__name__.lower()
    y = _targets(keras_model, len(inputs[0] if isinstance(inputs, list) else inputs), np.random.default_rng(1))
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(inputs, y, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    changed = [not np.array_equal(a, b) for a, b in zip(before, model.get_weights())]
    assert any(changed), f"{name}.{fmt}: fit changed no weight"


OPTIMIZERS = {
    "adam": lambda o: o.Adam(0.01), "adam_amsgrad": lambda o: o.Adam(0.01, amsgrad=True),
    "adamw": lambda o: o.AdamW(0.01), "sgd_momentum": lambda o: o.SGD(0.05, momentum=0.9),
    "rmsprop_centered": lambda o: o.RMSprop(0.001, momentum=0.5, centered=True),
    "adagrad": lambda o: o.Adagrad(0.05), "adadelta": lambda o: o.Adadelta(1.0),
    "adamax": lambda o: o.Adamax(0.01), "nadam": lambda o: o.Nadam(0.01),
}


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_keras_optimizer_state_is_restored(tmp_path, opt):
    """Each optimizer's iterations and slots saved by Keras after training come back (Keras 3's
    layout of them, checked here against Keras itself), so the next step of irgraph equals the
    next step of Keras."""
    model, x, _ = keras_seeds.mlp()
    model.compile(optimizer=OPTIMIZERS[opt](keras_seeds.keras.optimizers), loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 4)]
    model.fit(x, y, epochs=3, batch_size=4, verbose=0, shuffle=False)
    path = str(tmp_path / "trained.keras")
    model.save(path)
    ours = load_model(path)
    assert ours.optimizer.iterations == 3
    model.fit(x, y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    ours.fit(x, y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    for a, b in zip(ours.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_keras3_weights_file_loads_into_an_irgraph_model(tmp_path):
    """``model.save_weights('x.weights.h5')`` of Keras 3 read by ``load_weights`` of the same model
    built with irgraph (matched by layer, nested models included)."""
    from irgraph.models import model_from_json
    kmodel, inputs, _ = keras_seeds.shared_vision()
    path = str(tmp_path / "w.weights.h5")
    kmodel.save_weights(path)
    ours = model_from_json(kmodel.to_json())
    ours.load_weights(path)
    _close(ours.predict(inputs, verbose=0), kmodel.predict(inputs, verbose=0), "weights file")


def test_missing_custom_objects_are_listed_at_once(tmp_path):
    from irgraph.saving import ModelFileError
    kmodel, _, _ = keras_seeds.custom_layer()
    path = str(tmp_path / "custom.keras")
    kmodel.save(path)
    with pytest.raises(ModelFileError, match=r"Scale.*custom_objects="):
        load_model(path)


def test_lambda_code_in_a_file_is_never_run(tmp_path):
    """A Keras 3 Lambda holding a Python lambda stores its bytecode: irgraph refuses to run it and
    asks for the function by name."""
    keras = keras_seeds.keras
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Lambda(lambda t: t * 2.0, name="double")(inp))
    path = str(tmp_path / "lam.keras")
    model.save(path)
    with pytest.raises(Exception, match="double"):
        load_model(path)


def test_dynamic_time_axis_survives_conversion(tmp_path):
    """An LSTM over sequences of any length (Input((None, 8))): the converted file has a dynamic
    time axis and a native ONNX LSTM, and plain onnxruntime matches Keras at two lengths."""
    from irgraph.conversion import convert
    keras = keras_seeds.keras
    inp = keras.Input((None, 8), name="tokens")
    h = keras.layers.LSTM(6, return_sequences=True, name="enc")(inp)
    out = keras.layers.GRU(4, name="dec")(h)
    model = keras.Model(inp, out)
    path = str(tmp_path / "seq.keras")
    model.save(path)
    report = convert(path, tmp_path / "seq.onnx")
    assert report.inputs[0][1] == (None, None, 8)
    assert report.operators.get("LSTM") == 1 and report.operators.get("GRU") == 1
    sess = ort.InferenceSession(str(tmp_path / "seq.onnx"), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for steps in (3, 11):
        x = rng.random((2, steps, 8), dtype=np.float32)
        np.testing.assert_allclose(sess.run(None, {"tokens": x})[0], model.predict(x, verbose=0),
                                   rtol=1e-5, atol=1e-5)
