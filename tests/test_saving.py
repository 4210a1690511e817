"""Model.save / load_model, get_config / from_config, save_weights / load_weights.

Every architecture is saved, loaded and compared: same config, summary, weights and predictions,
and the saved file passes the full ONNX checker and gives the same predictions in a bare
onnxruntime session. Broken files give a ValueError naming the path; saving is atomic; a compiled
model continues training exactly where it stopped.
"""
from __future__ import annotations

import json
import os
import re

import numpy as np
import onnx
import pytest

import irgraph
from irgraph import backend as K
from irgraph import layers as L
from irgraph.layers import Layer
from irgraph.models import Model, Sequential, load_model
from helpers import bare_session, rand


# ============================================================================ architectures
def double_plus(x, offset=0.0):
    return x * 2.0 + offset


class Scale(Layer):
    """A custom layer with a weight and a constructor argument."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = float(factor)

    def build(self, input_shape):
        self.w = self.add_weight("w", (input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * self.w * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class Block(Layer):
    """A custom layer owning an auto-named sub-layer: named differently when rebuilt in this process,
    so its weights are matched by position."""

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.inner = L.Dense(units)

    def call(self, x):
        return K.relu(self.inner(x))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def mlp():
    x = irgraph.Input((6,), name="features")
    h = L.Dense(5, activation="relu")(x)
    h = L.Dropout(0.3)(h)
    return Model(x, L.Dense(3, activation="softmax")(h), name="mlp"), [rand(4, 6)], None


def multi_io_dict():
    a, b = irgraph.Input((3,), name="a"), irgraph.Input((2,), name="b")
    h = L.concatenate([a, b])
    h = L.Dense(4, activation="tanh")(h)
    out = {"score": L.Dense(1, name="score_head")(h), "cls": L.Dense(4, activation="softmax")(h)}
    return Model({"a": a, "b": b}, out), [rand(5, 3), rand(5, 2, seed=1)], None


def shared_layers():
    shared = L.Dense(4, name="shared")
    early = irgraph.Input((5,))
    Model(early, shared(early))  # a call from another model: node indices must be remapped
    a, b = irgraph.Input((5,), name="left"), irgraph.Input((5,), name="right")
    ya, yb = shared(a), shared(b)
    merged = L.add([ya, yb])
    out2 = L.Dense(2)(L.concatenate([merged, L.multiply([ya, yb])]))
    return Model([a, b], [merged, out2]), [rand(3, 5), rand(3, 5, seed=1)], None


def nested_model():
    x = irgraph.Input((6,), name="inner_in")
    inner = Model(x, L.Dense(3, activation="relu")(L.Dense(5)(x)), name="inner")
    a, b = irgraph.Input((6,), name="a"), irgraph.Input((6,), name="b")
    seq = irgraph.Input((4, 6), name="seq")
    td = L.TimeDistributed(inner)(seq)                       # TimeDistributed(model)
    summed = L.add([inner(a), inner(b)])                     # the nested model shared
    pooled = L.GlobalAveragePooling1D()(td)
    return (Model([a, b, seq], L.concatenate([summed, pooled]), name="outer"),
            [rand(2, 6), rand(2, 6, seed=1), rand(2, 4, 6, seed=2)], None)


def bidirectional_lstm():
    seq = irgraph.Input((7, 3), name="seq")
    h = L.Bidirectional(L.LSTM(4, return_sequences=True))(seq)
    h = L.Bidirectional(L.GRU(3), merge_mode="sum")(h)
    return Model(seq, L.Dense(2)(h)), [rand(2, 7, 3)], None


def lstm_initial_state():
    seq = irgraph.Input((5, 3), name="seq")
    h0, c0 = irgraph.Input((4,), name="h0"), irgraph.Input((4,), name="c0")
    out, h, c = L.LSTM(4, return_sequences=True, return_state=True)(seq, initial_state=[h0, c0])
    last = L.LSTM(4)(out, initial_state=[h, c])
    return Model([seq, h0, c0], [last, h]), [rand(2, 5, 3), rand(2, 4, seed=1), rand(2, 4, seed=2)], None


def conv_batchnorm():
    x = irgraph.Input((8, 8, 2), name="image")
    h = L.Conv2D(4, 3, padding="same")(x)
    h = L.BatchNormalization()(h)
    h = L.Activation("relu")(h)
    h = L.MaxPooling2D()(h)
    h = L.Flatten()(h)
    return Model(x, L.Dense(3)(h)), [rand(2, 8, 8, 2)], None


def lambdas_and_ops():
    x = irgraph.Input((6,), name="x")
    y = L.Lambda(double_plus, arguments={"offset": 1.5})(x)
    z = L.Lambda(lambda t: t * t, name="square")(y)          # anonymous: keyed by the layer name
    w = z[:, 1:4] + 1.0                                      # op layers (getitem with slices, add)
    return Model(x, K.relu(w)), [rand(3, 6)], {"double_plus": double_plus, "square": lambda t: t * t}


def custom_layers():
    x = irgraph.Input((4,), name="x")
    h = Scale(3.0)(x)
    return Model(x, Block(2)(h)), [rand(3, 4)], {"Scale": Scale, "Block": Block}


def sequential_embedding():
    model = Sequential([L.Embedding(20, 4, input_length=6), L.LSTM(5), L.Dense(2, activation="softmax")],
                       name="seq_model")
    ids = np.random.default_rng(0).integers(0, 20, size=(3, 6)).astype("int32")
    return model, [ids], None


def sequential_in_functional():
    inner = Sequential([L.Dense(4, activation="relu", input_shape=(3,)), L.Dense(2)])
    x = irgraph.Input((3,), name="x")
    return Model(x, L.Dense(1)(inner(x))), [rand(2, 3)], None


ARCHITECTURES = {f.__name__: f for f in (
    mlp, multi_io_dict, shared_layers, nested_model, bidirectional_lstm, lstm_initial_state,
    conv_batchnorm, lambdas_and_ops, custom_layers, sequential_embedding, sequential_in_functional)}


# ============================================================================ helpers
def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for v in model.weights:
        value = rng.standard_normal(v.shape).astype(v.dtype) * 0.5
        if "variance" in v.name:
            value = np.abs(value) + 0.5
        v.assign(value)


def feeds_for(model, arrays):
    if isinstance(model._input_struct, dict):
        return dict(zip(model.input_names, arrays))
    return arrays if len(arrays) > 1 else arrays[0]


def as_list(pred):
    """Predictions flat in Keras's order (a dict by sorted key), the ONNX outputs' order."""
    from irgraph import tree
    return tree.flatten(pred)


def summary(model):
    lines = []
    model.summary(print_fn=lines.append)
    return "\n".join(lines)


def _drop_node_index(text):
    return re.sub(r"\[\d+\]\[(\d+)\]", r"[\1]", text)


def jsonify(cfg):
    """The config as JSON data; a lambda's code record (Keras 3's ``__lambda__``, which depends on
    the function object: a loaded model holds the one given in custom_objects) is left out."""
    def strip(v):
        if isinstance(v, dict):
            if v.get("class_name") == "__lambda__":
                return {"class_name": "__lambda__"}
            return {k: strip(x) for k, x in v.items()}
        return [strip(x) for x in v] if isinstance(v, list) else v
    return strip(json.loads(json.dumps(cfg)))


# ============================================================================ round trips
@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_round_trip(arch, tmp_path):
    model, arrays, custom = ARCHITECTURES[arch]()
    randomize(model)
    path = tmp_path / "model.onnx"
    model.save(path)
    loaded = load_model(path, custom_objects=custom)

    assert type(loaded) is type(model) and loaded is not model
    assert jsonify(loaded.get_config()) == jsonify(model.get_config())
    if arch == "shared_layers":  # summary prints raw node indices; the foreign call shifts them
        assert _drop_node_index(summary(loaded)) == _drop_node_index(summary(model))
    else:
        assert summary(loaded) == summary(model)
    assert loaded.input_names == model.input_names and loaded.output_names == model.output_names
    if arch != "custom_layers":  # Block's inner Dense is auto-named anew: matched by position
        assert [v.path for v in loaded.weights] == [v.path for v in model.weights]
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)

    expected = as_list(model.predict(feeds_for(model, arrays), verbose=0))
    got = as_list(loaded.predict(feeds_for(loaded, arrays), verbose=0))
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-6)

    # the file is a plain ONNX model: full checker, bare onnxruntime session, same predictions
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    bare = bare_session(proto).run(None, dict(zip(model.input_names, arrays)))
    for e, g in zip(expected, bare, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-6)


def test_config_round_trip_without_file():
    model, arrays, _ = shared_layers()
    cfg = jsonify(model.get_config())
    assert [lyr["name"] for lyr in cfg["layers"]][:2] == ["left", "right"]
    shared = next(lyr for lyr in cfg["layers"] if lyr["name"] == "shared")
    assert [[a["config"]["keras_history"] for a in n["args"]] for n in shared["inbound_nodes"]] == [
        [["left", 0, 0]], [["right", 0, 0]]]  # Keras 3's calls: args of __keras_tensor__ records
    rebuilt = Model.from_config(cfg)
    assert jsonify(rebuilt.get_config()) == cfg
    assert rebuilt.count_params() == model.count_params()
    rebuilt.set_weights(model.get_weights())
    for e, g in zip(model.predict(arrays, verbose=0), rebuilt.predict(arrays, verbose=0)):
        np.testing.assert_allclose(g, e, rtol=1e-6)


def test_sequential_config_is_a_layer_list():
    model, _, _ = sequential_embedding()
    cfg = model.get_config()
    assert [s["class_name"] for s in cfg["layers"]] == ["InputLayer", "Embedding", "LSTM", "Dense"]
    assert cfg["layers"][0]["config"]["dtype"] == "int32"
    again = Sequential.from_config(jsonify(cfg))
    assert [type(lyr).__name__ for lyr in again.layers] == ["Embedding", "LSTM", "Dense"]


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_keras_suffixes_hold_onnx(suffix, tmp_path):
    model, arrays, _ = mlp()
    path = tmp_path / f"model{suffix}"
    model.save(path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    np.testing.assert_allclose(load_model(path).predict(arrays[0], verbose=0),
                               model.predict(arrays[0], verbose=0), rtol=1e-6)


def test_regularizers_in_layer_configs_round_trip():
    x = irgraph.Input((5, 3))
    model = Model(x, L.LSTM(4, kernel_regularizer=irgraph.regularizers.l2(0.02))(x))
    again = Model.from_config(jsonify(model.get_config()))
    assert again.get_layer(index=1).weights[0].regularizer.get_config() == {"l1": 0.0, "l2": 0.02}


def test_model_from_config_accepts_a_sequential_config():
    model, _, _ = sequential_embedding()
    assert type(Model.from_config(jsonify(model.get_config()))) is Sequential


# ============================================================================ atomic writes
def test_save_is_atomic(tmp_path, monkeypatch):
    first, arrays, _ = mlp()
    path = tmp_path / "model.onnx"
    first.save(path)
    before = path.read_bytes()
    second, _, _ = mlp()
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: HalfWriter(real_fdopen(fd, *a, **k)))
    with pytest.raises(OSError, match="simulated"):
        second.save(path)
    with pytest.raises(OSError, match="simulated"):
        second.save_weights(tmp_path / "w.npz")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]  # no temporary file left
    np.testing.assert_allclose(load_model(path).predict(arrays[0], verbose=0),
                               first.predict(arrays[0], verbose=0), rtol=1e-6)


def test_overwrite_false(tmp_path):
    model, _, _ = mlp()
    path = tmp_path / "m.onnx"
    model.save(path)
    with pytest.raises(FileExistsError):
        model.save(path, overwrite=False)


# ============================================================================ broken files
def _no_protobuf_chain(err):
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.onnx"
    with pytest.raises(ValueError, match="no such file") as info:
        load_model(path)
    assert str(path) in str(info.value) and isinstance(info.value, FileNotFoundError)
    with pytest.raises(ValueError, match="no such file"):
        mlp()[0].load_weights(tmp_path / "nope.npz")


@pytest.mark.parametrize("cut", [0, 1, 40, "third", "half", -40, -3])
def test_truncated_file(cut, tmp_path):
    model, _, _ = mlp()
    full = tmp_path / "full.onnx"
    model.save(full)
    data = full.read_bytes()
    n = {"third": len(data) // 3, "half": len(data) // 2}.get(cut, cut)
    path = tmp_path / "truncated.onnx"
    path.write_bytes(data[:n])
    with pytest.raises(ValueError) as info:
        load_model(path)
    assert str(path) in str(info.value)
    _no_protobuf_chain(info.value)


def test_every_cut_through_the_metadata_is_detected(tmp_path):
    """Protobuf writes the metadata after the graph; a file cut at an entry boundary still parses,
    so the last entry (irgraph.complete) is what tells a complete file."""
    model = _training_model()
    full = tmp_path / "full.onnx"
    model.save(full)
    data = full.read_bytes()
    start = data.find(b"irgraph.inputs") - 8
    path = tmp_path / "cut.onnx"
    for n in range(start, len(data)):
        path.write_bytes(data[:n])
        with pytest.raises(ValueError, match="cut.onnx"):
            load_model(path)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.onnx"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError) as info:
        load_model(path)
    assert str(path) in str(info.value)
    _no_protobuf_chain(info.value)


def test_plain_onnx_without_metadata(tmp_path):
    model, _, _ = mlp()
    path = tmp_path / "plain.onnx"
    model.to_onnx(path)
    with pytest.raises(ValueError, match="without irgraph metadata") as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_directory_is_refused(tmp_path):
    with pytest.raises(ValueError, match="directory"):
        load_model(tmp_path)


def test_lambda_needs_custom_objects(tmp_path):
    model, _, custom = lambdas_and_ops()
    path = tmp_path / "lam.onnx"
    model.save(path)
    with pytest.raises(ValueError, match="double_plus") as info:
        load_model(path)
    assert str(path) in str(info.value) and "custom_objects" in str(info.value)
    with pytest.raises(ValueError, match="square"):
        load_model(path, custom_objects={"double_plus": double_plus})
    cfg = json.dumps(model.get_config())
    assert "x * 2.0" not in cfg and "lambda t" not in cfg  # no source code is stored


def swish3(x):
    return x * K.sigmoid(3.0 * x)


def test_custom_activation_function(tmp_path):
    x = irgraph.Input((4,), name="x")
    model = Model(x, L.Dense(3, activation=swish3)(x))
    path = tmp_path / "act.onnx"
    model.save(path)
    with pytest.raises(ValueError, match="swish3"):
        load_model(path)
    loaded = load_model(path, custom_objects={"swish3": swish3})
    arr = rand(2, 4)
    np.testing.assert_allclose(loaded.predict(arr, verbose=0), model.predict(arr, verbose=0), rtol=1e-6)


def test_custom_layer_needs_custom_objects(tmp_path):
    model, _, _ = custom_layers()
    path = tmp_path / "custom.onnx"
    model.save(path)
    with pytest.raises(ValueError, match="'Scale'") as info:
        load_model(path)
    assert "custom_objects" in str(info.value) and str(path) in str(info.value)


def test_altered_weight_shape_is_reported(tmp_path):
    model, _, _ = mlp()
    path = tmp_path / "m.onnx"
    model.save(path)
    proto = onnx.load(str(path))
    init = next(t for t in proto.graph.initializer if t.name == "dense_1/bias")
    init.CopyFrom(onnx.numpy_helper.from_array(np.zeros(7, np.float32), "dense_1/bias"))
    irgraph.saving.seal(proto)  # a deliberate edit with a new checksum: the shapes are what is wrong
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ValueError, match=r"dense_1/bias.*\(3,\).*\(7,\)"):
        load_model(path)


# ============================================================================ weights files
def test_save_and_load_weights(tmp_path):
    model, arrays, _ = conv_batchnorm()
    randomize(model, seed=3)
    path = tmp_path / "weights.npz"
    model.save_weights(path)
    with np.load(path, allow_pickle=False) as archive:
        assert list(archive.files) == [v.path for v in model.weights]
    irgraph.clear_session()  # same names as the saved model: matched by path
    same, _, _ = conv_batchnorm()
    same.load_weights(path)
    np.testing.assert_allclose(same.predict(arrays[0], verbose=0), model.predict(arrays[0], verbose=0),
                               rtol=1e-6)
    other, _, _ = conv_batchnorm()  # layers auto-named anew in this process: matched by position
    assert [v.path for v in other.weights] != [v.path for v in model.weights]
    other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="missing from the file"):
        other.load_weights(path, by_name=True)
    full = tmp_path / "full.onnx"  # a whole-model file has the weights too
    model.save(full)
    other.load_weights(full)


def test_load_weights_mismatch(tmp_path):
    model, _, _ = mlp()
    path = tmp_path / "w.npz"
    model.save_weights(path)
    x = irgraph.Input((6,))
    wider = Model(x, L.Dense(3)(L.Dense(7)(x)))
    with pytest.raises(ValueError, match=r"'dense_\d+/kernel'.*\(6, 7\).*\(6, 5\)"):
        wider.load_weights(path)
    deeper = Model(x, L.Dense(3)(L.Dense(5)(L.Dense(5)(x))))
    with pytest.raises(ValueError, match="has 6 weights and the file has 4"):
        deeper.load_weights(path)
    before = [w.copy() for w in wider.get_weights()]
    assert all(np.array_equal(a, b) for a, b in zip(before, wider.get_weights()))  # nothing was set
    bad = tmp_path / "bad.npz"
    bad.write_bytes(path.read_bytes()[:50])
    with pytest.raises(ValueError, match="bad.npz"):
        model.load_weights(bad)


# ============================================================================ training state
def _training_model():
    irgraph.clear_session()
    irgraph.set_seed(7)
    x = irgraph.Input((4,), name="x")
    h = L.Dense(8, activation="tanh")(x)
    h = L.BatchNormalization()(h)
    out = {"reg": L.Dense(2, name="reg")(h), "prob": L.Dense(3, activation="softmax", name="prob")(h)}
    model = Model(x, out)
    schedule = irgraph.optimizers.schedules.ExponentialDecay(0.01, decay_steps=3, decay_rate=0.9)
    model.compile(irgraph.optimizers.Adam(learning_rate=schedule),
                  loss={"reg": "mse", "prob": "categorical_crossentropy"},
                  loss_weights={"reg": 1.0, "prob": 0.5}, metrics={"prob": ["accuracy"]})
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 4)).astype("float32")
    y = {"reg": rng.standard_normal((48, 2)).astype("float32"),
         "prob": np.eye(3, dtype="float32")[rng.integers(0, 3, 48)]}
    return x, y


def test_fit_resumes_exactly_after_save_and_load(tmp_path):
    x, y = _data()
    straight = _training_model()
    h4 = straight.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0).history

    first = _training_model()
    h2 = first.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    path = tmp_path / "ckpt.onnx"
    first.save(path)

    proto = onnx.load(str(path))  # optimizer state rides along as unused initializers
    onnx.checker.check_model(proto, full_check=True)
    assert any(t.name.startswith("optimizer_state/") for t in proto.graph.initializer)
    bare = bare_session(proto).run(None, {"x": x[:5]})
    pred = first.predict(x[:5], verbose=0)
    for name, b in zip(first.output_names, bare):
        np.testing.assert_allclose(b, pred[name], rtol=1e-6, atol=1e-6)

    resumed = load_model(path)
    tr = resumed._get_trainer()
    assert tr.iterations == first._get_trainer().iterations == 6
    assert set(tr.slots) == set(first._get_trainer().slots)
    h_more = resumed.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    for key in h4:
        np.testing.assert_allclose(h2[key] + h_more[key], h4[key], rtol=1e-6, atol=1e-6)
    for a, b in zip(straight.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)


def test_compile_false_and_include_optimizer_false(tmp_path):
    model = _training_model()
    x, y = _data()
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "m.onnx"
    model.save(path)
    assert load_model(path, compile=False).compiled is None
    model.save(path, include_optimizer=False)
    proto = onnx.load(str(path))
    assert not any(t.name.startswith("optimizer_state/") for t in proto.graph.initializer)
    assert load_model(path).compiled is None


def test_custom_loss_needs_custom_objects(tmp_path):
    def my_loss(y_true, y_pred):
        return K.mean(K.square(y_true - y_pred), axis=-1)

    x = irgraph.Input((3,))
    model = Model(x, L.Dense(2)(x))
    model.compile("sgd", my_loss)
    path = tmp_path / "m.onnx"
    model.save(path)
    with pytest.raises(ValueError, match="my_loss"):
        load_model(path)
    loaded = load_model(path, custom_objects={"my_loss": my_loss})
    assert loaded.compiled.loss_ids == [my_loss]
