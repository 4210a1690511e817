"""Model serialization held to the behaviours of keras/src/saving/saving_lib_test.py,
keras/src/saving/serialization_lib_test.py, keras/src/models/functional_test.py (get_config /
from_config), keras/src/models/model_test.py (to_json / model_from_json) and
keras/src/layers/core/lambda_layer_test.py (safe_mode) in Keras 3: ``to_json`` writes
``{'class_name', 'config', 'keras_version', 'backend'}``; a config in Keras 3's own format (layers with
``module``/``registered_name``/``build_config``, calls as ``args``/``kwargs`` with
``__keras_tensor__`` entries) builds the same model here, and a config irgraph writes (Keras 3's format) builds the same model in
Keras 3; a Lambda's stored code is never run.

Out of scope of keras/src/saving/saving_lib_test.py (each for its reason):
  * ``.keras`` archive and ``.weights.h5`` file reading/writing belongs to another issue:
    test_inference_after_instantiation / test_compile_preserved (their file half; the config half
    is mirrored below), test_saving_custom_assets_and_variables, test_metadata,
    test_save_load_weights_only, test_save/load_weights_only_with_unbuilt_model,
    test_load_weights_only_with_keras_file, test_save_weights_subclassed_functional,
    test_compile_arg, test_partial_load, test_save_to_fileobj, test_save/load_model_exception_raised,
    test_load_model_read_only_system, test_load_model_concurrently, test_weights_sharding,
    SavingAPITest (file-path and extension errors, h5 endpoints), test_normalization_kpl and
    test_normalization_legacy_h5_format (adapted Normalization state in an archive),
    test_legacy_h5_format, test_nested_container_layer_saving and its deeply/mixed/cyclic/legacy
    variants and test_fresh_save_load_emits_no_container_skip_warning (weights placed by container
    path in an archive), test_redefinition_of_trackable (weights file by attribute path),
    test_compile_overridden_warnings_* (a warning of archive loading), the H5/NPZ/disk IO-store,
    zip-bomb and shape-bomb tests.
  * registered names (``register_keras_serializable(package=...)``, test_saved_module_paths_and_class_names):
    irgraph has no global registry; classes come from custom_objects.
  * pickling (test_pickleable), dtype policies and quantization: out of scope of this tool.
"""
import json

import numpy as np
import pytest

from irgraph.layers import Dense, Lambda, Layer
from irgraph.models import Model, Sequential, model_from_json
from irgraph.tensor import Input


def _obj(module, class_name, config, registered_name=None):
    return {"module": module, "class_name": class_name, "config": config, "registered_name": registered_name}


def _dtype():
    return _obj("keras", "DTypePolicy", {"name": "float32"})


def _kt(layer, shape, node=0, index=0):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": shape, "dtype": "float32", "keras_history": [layer, node, index]}}


def _input(name, dim):
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": [None, dim], "dtype": "float32", "sparse": False, "ragged": False,
                       "name": name, "optional": False},
            "registered_name": None, "name": name, "inbound_nodes": []}


def _dense(name, units, activation, src, in_dim, kwargs=None):
    return {"module": "keras.layers", "class_name": "Dense",
            "config": {"name": name, "trainable": True, "dtype": _dtype(), "units": units,
                       "activation": activation, "use_bias": True,
                       "kernel_initializer": _obj("keras.initializers", "GlorotUniform",
                                                  {"seed": None, "input_axes": None, "output_axes": None}),
                       "bias_initializer": _obj("keras.initializers", "Zeros", {}),
                       "kernel_regularizer": None, "bias_regularizer": None, "kernel_constraint": None,
                       "bias_constraint": None, "quantization_config": None},
            "registered_name": None, "build_config": {"input_shape": [None, in_dim]}, "name": name,
            "inbound_nodes": [{"args": [_kt(src, [None, in_dim])], "kwargs": kwargs or {}}]}


def _wrap(config):
    return {"module": "keras.src.models.functional", "class_name": "Functional", "config": config,
            "registered_name": "Functional", "build_config": {"input_shape": None}, "compile_config": {}}


# hand-written in the format Keras 3.15 writes (keras/src/models/functional.py, get_config)
KERAS3_MLP = {
    "name": "mlp", "trainable": True,
    "layers": [
        _input("x", 4),
        _dense("d1", 8, "relu", "x", 4),
        {"module": "keras.layers", "class_name": "Dropout",
         "config": {"name": "dropout", "trainable": True, "dtype": _dtype(), "rate": 0.5, "seed": None,
                    "noise_shape": None},
         "registered_name": None, "name": "dropout",
         "inbound_nodes": [{"args": [_kt("d1", [None, 8])], "kwargs": {"training": False}}]},
        _dense("out", 2, "softmax", "dropout", 8),
    ],
    "input_layers": ["x", 0, 0], "output_layers": ["out", 0, 0]}


def _merge(cls, name, a, b):
    return {"module": "keras.layers", "class_name": cls,
            "config": {"name": name, "trainable": True, "dtype": _dtype(), **({"axis": -1} if cls == "Concatenate" else {})},
            "registered_name": None, "build_config": {"input_shape": [[None, 5], [None, 5]]}, "name": name,
            "inbound_nodes": [{"args": [[_kt(a, [None, 5]), _kt(b, [None, 5])]], "kwargs": {}}]}


KERAS3_TWO_BRANCH = {
    "name": "two_branch", "trainable": True,
    "layers": [
        _input("a", 4), _input("b", 3),
        _dense("da", 5, "linear", "a", 4), _dense("db", 5, "tanh", "b", 3),
        _merge("Concatenate", "cat", "da", "db"), _merge("Add", "sum", "da", "db"),
    ],
    "input_layers": {"a": ["a", 0, 0], "b": ["b", 0, 0]},
    "output_layers": {"cat": ["cat", 0, 0], "sum": ["sum", 0, 0]}}


def _numpy_mlp(weights, x):
    k1, b1, k2, b2 = weights
    h = np.maximum(x @ k1 + b1, 0)
    z = h @ k2 + b2
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# keras/src/models/functional_test.py::test_serialization (from_config rebuilds the same graph)
def test_keras3_mlp_config_builds_same_model():
    model = Model.from_config(KERAS3_MLP)
    assert model.name == "mlp"
    assert [l.name for l in model.layers if l.weights] == ["d1", "out"]
    assert model.get_layer("d1").units == 8
    assert tuple(model.outputs[0].shape) == (None, 2)
    x = np.random.default_rng(0).random((3, 4)).astype("float32")
    np.testing.assert_allclose(model(x), _numpy_mlp(model.get_weights(), x), rtol=1e-5, atol=1e-6)


# keras/src/models/model_test.py::test_json_serialization (model_from_json reads the wrapped form)
def test_keras3_json_builds_same_model():
    model = model_from_json(json.dumps(_wrap(KERAS3_MLP)))
    assert isinstance(model, Model) and model.name == "mlp"
    assert [w.shape for w in model.get_weights()] == [(4, 8), (8,), (8, 2), (2,)]


# keras/src/models/functional_test.py::test_dict_io / test_serialization of a two-branch graph
def test_keras3_two_branch_dict_io_config():
    model = model_from_json(json.dumps(_wrap(KERAS3_TWO_BRANCH)))
    rng = np.random.default_rng(1)
    xa, xb = rng.random((2, 4)).astype("float32"), rng.random((2, 3)).astype("float32")
    out = model({"a": xa, "b": xb})
    assert set(out) == {"cat", "sum"}
    ka, ba, kb, bb = [model.get_layer(n).get_weights()[i] for n in ("da", "db") for i in (0, 1)]
    ya, yb = xa @ ka + ba, np.tanh(xb @ kb + bb)
    np.testing.assert_allclose(out["cat"], np.concatenate([ya, yb], -1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["sum"], ya + yb, rtol=1e-5, atol=1e-6)


def test_keras3_config_with_broken_tensor_reference_names_layer():
    cfg = json.loads(json.dumps(KERAS3_MLP))
    cfg["layers"][1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = ["nowhere", 0, 0]
    with pytest.raises(ValueError, match="d1"):
        Model.from_config(cfg)


# keras/src/models/model_test.py::test_json_serialization (to_json -> model_from_json round trip)
def test_to_json_round_trip():
    i = Input((4,), name="inp")
    o = Dense(3, activation="relu", name="h")(i)
    o = Dense(1, name="o")(o)
    model = Model(i, o, name="net")
    obj = json.loads(model.to_json())
    assert set(obj) == {"module", "class_name", "config", "registered_name", "build_config", "keras_version",
                        "backend"}
    assert obj["class_name"] == "Functional" and obj["module"] == "keras.src.models.functional"
    again = model_from_json(model.to_json())
    assert again.name == "net" and [l.name for l in again.layers] == [l.name for l in model.layers]
    again.set_weights(model.get_weights())
    x = np.ones((2, 4), "float32")
    np.testing.assert_allclose(again(x), model(x), rtol=1e-6)
    assert json.loads(model.to_json(indent=2)) == obj  # kwargs go to json.dumps


def test_sequential_to_json_round_trip():
    model = Sequential([Input((3,)), Dense(2, name="d")], name="seq")
    obj = json.loads(model.to_json())
    assert obj["class_name"] == "Sequential"
    again = model_from_json(model.to_json())
    assert isinstance(again, Sequential) and again.name == "seq"


def test_model_from_json_bad_input():
    with pytest.raises(ValueError, match="not valid JSON"):
        model_from_json("{nope")
    with pytest.raises(ValueError, match="class_name"):
        model_from_json(json.dumps({"config": {}}))
    with pytest.raises(ValueError, match="unknown model class 'MyNet'"):
        model_from_json(json.dumps({"class_name": "MyNet", "config": KERAS3_MLP}))


def double(x):
    return x * 2


def _keras3_lambda_config(function):
    cfg = json.loads(json.dumps(KERAS3_MLP))
    cfg["layers"] = [_input("x", 4), {
        "module": "keras.layers", "class_name": "Lambda",
        "config": {"name": "fn", "trainable": True, "dtype": _dtype(), "function": function, "arguments": {}},
        "registered_name": None, "name": "fn",
        "inbound_nodes": [{"args": [_kt("x", [None, 4])], "kwargs": {}}]}]
    cfg["output_layers"] = ["fn", 0, 0]
    return cfg


LAMBDA_CODE = {"class_name": "__lambda__",
               "config": {"code": "this is never decoded nor run", "defaults": None, "closure": None}}


# keras/src/layers/core/lambda_layer_test.py::test_serialization_with_safe_mode (stored lambda code
# is refused in safe mode; the function given by the user is used instead)
def test_safe_mode_never_runs_stored_lambda_code():
    cfg = _keras3_lambda_config(LAMBDA_CODE)
    with pytest.raises(ValueError, match=r"Lambda layer 'fn'.*never runs.*custom_objects=\{'fn'"):
        Model.from_config(cfg)
    model = Model.from_config(cfg, custom_objects={"fn": lambda t: t + 1})
    np.testing.assert_allclose(model(np.zeros((1, 4), "float32")), 1.0)
    with pytest.raises(ValueError, match="safe_mode=False"):
        model_from_json(json.dumps(_wrap(cfg)), safe_mode=False)


def test_keras3_named_lambda_function_from_custom_objects():
    cfg = _keras3_lambda_config(_obj("builtins", "function", "double", "function"))
    with pytest.raises(ValueError, match=r"'double'.*custom_objects=\{'double': double\}"):
        Model.from_config(cfg)
    model = Model.from_config(cfg, custom_objects={"double": double})
    np.testing.assert_allclose(model(np.ones((1, 4), "float32")), 2.0)


# keras/src/saving/saving_lib_test.py::test_saved_custom_lambda (irgraph's own Lambda round trip)
def test_lambda_round_trip_needs_custom_objects():
    i = Input((4,))
    model = Model(i, Lambda(double, name="dbl")(i))
    js = model.to_json()
    with pytest.raises(ValueError, match=r"Lambda layer 'dbl'.*custom_objects"):
        model_from_json(js)
    again = model_from_json(js, custom_objects={"double": double})
    np.testing.assert_allclose(again(np.ones((1, 4), "float32")), 2.0)


class Scale(Layer):
    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor


class ScaleWithConfig(Scale):
    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


# keras/src/ops/operation.py auto-config (Keras 3): a custom layer without get_config whose
# __init__ arguments are plain values is rebuilt from them
def test_custom_layer_without_get_config_uses_init_arguments():
    i = Input((2,))
    model = Model(i, Scale(3.0, name="scale")(i))
    assert model.get_layer("scale").get_config()["factor"] == 3.0
    again = model_from_json(model.to_json(), custom_objects={"Scale": Scale})
    assert again.get_layer("scale").factor == 3.0
    np.testing.assert_allclose(again(np.ones((1, 2), "float32")), 3.0)
    assert {k for k in Scale(3.0).get_config()} == {k for k in _keras_scale_config()}  # Keras's keys


def _keras_scale_config():
    keras = _keras()

    class KScale(keras.layers.Layer):
        def __init__(self, factor, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

    return KScale(3.0).get_config()


# keras/src/ops/operation.py (Keras 3): arguments that are not plain values leave no auto-config,
# and serializing raises NotImplementedError asking for get_config
def test_custom_layer_with_object_arguments_is_refused_clearly():
    i = Input((2,))
    model = Model(i, Scale(np.float32(3.0), name="scale")(i))
    with pytest.raises(NotImplementedError, match=r"Scale.*'scale'.*non-serializable.*\['factor'\].*get_config"):
        model.to_json()


# keras/src/saving/saving_lib_test.py::test_saving_custom_layer (custom class via custom_objects)
def test_custom_layer_with_get_config_round_trip():
    i = Input((2,))
    model = Model(i, ScaleWithConfig(3.0, name="scale")(i))
    js = model.to_json()
    with pytest.raises(ValueError, match="ScaleWithConfig"):
        model_from_json(js)
    again = model_from_json(js, custom_objects={"ScaleWithConfig": ScaleWithConfig})
    assert again.get_layer("scale").factor == 3.0
    np.testing.assert_allclose(again(np.ones((1, 2), "float32")), 3.0)


def _keras():
    from .keras_torch import keras
    return keras


# a config written by Keras 3 itself builds the same model (keras/src/saving/saving_lib_test.py,
# the config half of a .keras file)
def test_configs_written_by_keras3_build_same_models():
    keras = _keras()
    i = keras.Input((4,), name="x")
    h = keras.layers.Dense(8, activation="relu", name="d1")(i)
    o = keras.layers.Dense(2, name="out")(keras.layers.Dropout(0.5)(h))
    km = keras.Model(i, o, name="mlp")
    model = model_from_json(km.to_json())
    model.set_weights(km.get_weights())
    x = np.random.default_rng(2).random((3, 4)).astype("float32")
    np.testing.assert_allclose(model(x), keras.ops.convert_to_numpy(km(x)), rtol=1e-5, atol=1e-6)

    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    ya, yb = keras.layers.Dense(5)(a), keras.layers.Dense(5)(b)
    km2 = keras.Model({"a": a, "b": b}, {"c": keras.layers.Concatenate()([ya, yb]),
                                          "s": keras.layers.Add()([ya, yb])})
    model2 = Model.from_config(km2.get_config())
    model2.set_weights(km2.get_weights())
    d = {"a": x, "b": x[:, :3]}
    got, want = model2(d), km2(d)
    for k in ("c", "s"):
        np.testing.assert_allclose(got[k], keras.ops.convert_to_numpy(want[k]), rtol=1e-5, atol=1e-6)

    ks = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="tanh")])
    seq = model_from_json(ks.to_json())
    assert isinstance(seq, Sequential)
    seq.set_weights(ks.get_weights())
    np.testing.assert_allclose(seq(x[:, :3]), keras.ops.convert_to_numpy(ks(x[:, :3])), rtol=1e-5, atol=1e-6)

    kl = keras.Model(i, keras.layers.Lambda(lambda t: t * 2, name="twice")(i))
    with pytest.raises(ValueError, match="'twice'.*never runs"):
        model_from_json(kl.to_json())
    np.testing.assert_allclose(model_from_json(kl.to_json(), custom_objects={"twice": double})(x), 2 * x)


# keras/src/models/functional_test.py::test_nested_model_serialization and a convolutional model
# with BatchNormalization (its Keras 3 renorm arguments at their defaults), both written by Keras 3
def test_keras3_nested_and_conv_configs_build_same_models():
    keras = _keras()
    rng = np.random.default_rng(3)
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)], name="inner")
    i = keras.Input((4,))
    km = keras.Model(i, keras.layers.Dense(2)(inner(i)))
    i2 = keras.Input((8, 8, 3))
    h = keras.layers.BatchNormalization()(keras.layers.Conv2D(4, 3, padding="same")(i2))
    h = keras.layers.Flatten()(keras.layers.MaxPooling2D()(h))
    kc = keras.Model(i2, keras.layers.Dense(2)(h))
    for k, x in ((km, rng.random((2, 4))), (kc, rng.random((2, 8, 8, 3)))):
        x = x.astype("float32")
        model = model_from_json(k.to_json())
        model.set_weights(k.get_weights())
        np.testing.assert_allclose(model(x), keras.ops.convert_to_numpy(k(x)), rtol=1e-4, atol=1e-5)


class Head(Model):
    """A Model(inputs, outputs) subclass with its own constructor argument and no get_config."""

    def __init__(self, units=3, **kwargs):
        i = Input((4,))
        super().__init__(i, Dense(units)(i), **kwargs)
        self.units = units


class HeadWithConfig(Model):
    def __init__(self, units, activation="relu", **kwargs):
        i = Input((4,))
        super().__init__(i, Dense(units, activation=activation)(i), **kwargs)
        self.units, self.activation = units, activation

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation}


# keras/src/models/model.py::from_config and functional.py::get_config (Keras 3's rule): a subclass
# whose __init__ is not Functional's writes {name, trainable, dtype} plus its plain __init__
# arguments (auto-config) or what its get_config adds, and is rebuilt by cls(**config)
def test_model_subclass_constructor_arguments_survive():
    keras = _keras()

    class KHead(keras.Model):
        def __init__(self, units=3, **kwargs):
            i = keras.Input((4,))
            super().__init__(i, keras.layers.Dense(units)(i), **kwargs)

    cfg = Head(5, name="head").get_config()
    assert set(cfg) == {"name", "trainable", "dtype", "units"}
    # Keras 3 itself records no auto-config for a Model subclass, so it writes the base keys only and
    # Keras rebuilds Head() with units=3: irgraph keeps the plain __init__ arguments (deviation)
    assert set(KHead(5, name="head").get_config()) == {"name", "trainable", "dtype"}
    again = Head.from_config(json.loads(json.dumps(cfg)))
    assert type(again) is Head and again.name == "head" and again.units == 5
    assert tuple(again.output_shape) == (None, 5)
    cfg = HeadWithConfig(7, activation="tanh").get_config()
    again = HeadWithConfig.from_config(cfg)
    assert again.units == 7 and again.layers[-1].activation.__name__ == "tanh"
    again = model_from_json(HeadWithConfig(2).to_json(), custom_objects={"HeadWithConfig": HeadWithConfig})
    assert type(again) is HeadWithConfig and tuple(again.output_shape) == (None, 2)


# keras/src/models/model.py::from_config: a config missing a constructor argument gives Keras's error
def test_model_subclass_config_missing_argument():
    class Needs(Model):
        def __init__(self, units, **kwargs):
            i = Input((4,))
            super().__init__(i, Dense(units)(i), **kwargs)

        def get_config(self):
            return {"name": self.name}

    with pytest.raises(TypeError, match="Unable to revive model from config"):
        Needs.from_config(Needs(2).get_config())


class FunctionalLike(Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)


# keras/src/models/functional.py::functional_like_constructor: a subclass taking *args, **kwargs
# writes and reads the functional graph, and comes back as the subclass
def test_functional_like_subclass_round_trip():
    i = Input((4,))
    model = FunctionalLike(i, Dense(2, name="d")(i), name="fl")
    cfg = model.get_config()
    assert {"layers", "input_layers", "output_layers"} <= set(cfg)
    again = FunctionalLike.from_config(cfg)
    assert type(again) is FunctionalLike and again.name == "fl"
    again.set_weights(model.get_weights())
    x = np.ones((2, 4), "float32")
    np.testing.assert_allclose(again(x), model(x), rtol=1e-6)


# keras/src/saving/saving_lib_test.py::test_load_model_containing_reused_layer (config half)
def test_reused_layer_round_trip():
    inputs = Input((4,))
    reused = Dense(4, name="reused")
    outputs = reused(Dense(4)(reused(inputs)))
    model = Model(inputs, outputs)
    assert len(model.layers) == 3
    again = Model.from_config(json.loads(model.to_json())["config"])
    again.set_weights(model.get_weights())
    x = np.random.default_rng(4).random((2, 4)).astype("float32")
    np.testing.assert_allclose(again(x), model(x), rtol=1e-6)
    keras = _keras()  # and Keras 3 reads the same config
    km = keras.models.model_from_json(model.to_json())
    km.set_weights(model.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(km(x)), model(x), rtol=1e-5, atol=1e-6)


def _nested(in_size=4, out_size=2, name=None):
    i = Input((in_size,))
    return Model(i, Dense(out_size)(i), name=name)


# keras/src/saving/saving_lib_test.py::test_nested_functional_model_saving and
# ::test_nested_shared_functional_model_saving (config half), checked in irgraph and in Keras 3
def test_nested_and_shared_functional_models_round_trip():
    keras = _keras()
    a, b = Input((4,)), Input((4,))
    model = Model([a, b], [_nested(out_size=2, name="func_a")(a), _nested(out_size=3, name="func_b")(b)])
    shared = _nested(out_size=4, name="func_shared")
    c, d = Input((4,)), Input((4,))
    shared_model = Model([c, d], [Dense(2)(shared(c)), Dense(2)(shared(d))])
    rng = np.random.default_rng(5)
    x = [rng.random((2, 4)).astype("float32"), rng.random((2, 4)).astype("float32")]
    for m in (model, shared_model):
        want = m.predict(x)
        again = Model.from_config(m.get_config())
        again.set_weights(m.get_weights())
        km = keras.models.model_from_json(m.to_json())
        km.set_weights(m.get_weights())
        for w, g, k in zip(want, again.predict(x), km.predict(x, verbose=0)):
            np.testing.assert_allclose(g, w, rtol=1e-6)
            np.testing.assert_allclose(k, w, rtol=1e-5, atol=1e-6)


# keras/src/saving/saving_lib_test.py::test_bidirectional_lstm_saving (config half), both ways
def test_bidirectional_lstm_round_trip():
    from irgraph.layers import LSTM, Bidirectional
    keras = _keras()
    i = Input((3, 2))
    model = Model(i, Bidirectional(LSTM(8))(i))
    x = np.random.default_rng(6).random((1, 3, 2)).astype("float32")
    again = Model.from_config(model.get_config())
    again.set_weights(model.get_weights())
    np.testing.assert_allclose(again(x), model(x), rtol=1e-5, atol=1e-6)
    km = keras.models.model_from_json(model.to_json())
    km.set_weights(model.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(km(x)), model(x), rtol=1e-5, atol=1e-6)


# keras/src/saving/saving_lib_test.py::test_safe_mode (config half): a Lambda's stored code is
# refused with Keras's words, and irgraph refuses it even with safe_mode=False
def test_safe_mode_lambda_in_sequential():
    model = Sequential([Input(shape=(3,)), Lambda(lambda x: x * 2, name="twice")])
    with pytest.raises(ValueError, match="arbitrary code execution"):
        model_from_json(model.to_json())
    again = model_from_json(model.to_json(), custom_objects={"twice": double})
    np.testing.assert_allclose(again(np.ones((1, 3), "float32")), 2.0)


# Masking layers in Keras 3 configs: Masking and Embedding(mask_zero=True) written by irgraph load in
# Keras 3 and the masks act the same (an LSTM skipping masked steps); Keras's configs load here
def test_masking_layers_round_trip_with_keras3():
    from irgraph.layers import LSTM, Embedding, Masking
    keras = _keras()
    rng = np.random.default_rng(7)
    i = Input((5, 3))
    masked = Model(i, LSTM(4)(Masking(mask_value=0.0)(i)))
    x = rng.standard_normal((2, 5, 3)).astype("float32")
    x[0, 3:] = 0.0
    j = Input((6,), dtype="int32")
    embedded = Model(j, LSTM(4)(Embedding(10, 3, mask_zero=True)(j)))
    ids = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 9]], "int32")
    for model, data in ((masked, x), (embedded, ids)):
        km = keras.models.model_from_json(model.to_json())
        km.set_weights(model.get_weights())
        np.testing.assert_allclose(model.predict(data), km.predict(data, verbose=0), rtol=1e-5, atol=1e-6)
        ours = model_from_json(km.to_json())
        ours.set_weights(km.get_weights())
        np.testing.assert_allclose(ours.predict(data), km.predict(data, verbose=0), rtol=1e-5, atol=1e-6)
    assert embedded.get_config()["layers"][1]["config"]["mask_zero"] is True
    assert masked.get_config()["layers"][1]["config"]["mask_value"] == 0.0
