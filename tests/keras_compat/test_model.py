"""``Model``: the behaviours of keras/src/models/model_test.py (Keras 3.15) not already mirrored by
test_compile.py, test_model_subclass.py, test_sequential.py, test_serialization.py and
test_training_flag.py.

Already mirrored elsewhere (not repeated here): test_json_serialization (test_serialization.py),
test_reviving_functional_from_config_custom_model's extra constructor argument
(test_model_subclass.py::test_functional_subclass_with_extra_arguments),
test_functional_list_outputs_dict_losses_invalid_keys / _dict_outputs_dict_losses_invalid_keys
(test_compile.py::test_loss_dict_with_unknown_output), test_functional_list_outputs_dict_metrics_invalid_keys
/ _dict_outputs_dict_metrics_invalid_keys (test_compile.py::test_metrics_dict_with_unknown_output).

Out of scope: test_functional_pickling (pickling), test_quantize* (quantization), test_export_error
(SavedModel/TF export formats; irgraph exports ONNX with to_onnx).

A compute_loss override (test_functional_list_outputs_with_custom_compute_loss) is traced into the
ONNX train and eval steps.
"""
import numpy as np
import pytest

from irgraph import layers
from irgraph.layers import Input
from irgraph.models import Model


def _get_model():
    input_a = Input(shape=(3,), batch_size=2, name="input_a")
    input_b = Input(shape=(3,), batch_size=2, name="input_b")
    x = layers.Dense(5)(input_a + input_b)
    return Model([input_a, input_b], layers.Dense(4)(x))


def _multi_outputs_list(named=True):
    x = Input(shape=(3,), name="input_a")
    a = layers.Dense(1, name="output_a" if named else None)(x)
    b = layers.Dense(1, name="output_b" if named else None, activation="sigmoid")(x)
    return Model(x, [a, b])


def _single_output():
    x = Input(shape=(3,), name="input_a")
    return Model(x, layers.Dense(1, name="output_a")(x))


def _single_output_list():
    x = Input(shape=(3,), name="input_a")
    return Model(x, [layers.Dense(1, name="output_a")(x)])


def _single_output_dict():
    x = Input(shape=(3,), name="input_a")
    return Model(x, {"output_a": layers.Dense(1, name="output_a")(x)})


def _multi_outputs_dict():
    x = Input(shape=(3,), name="input_a")
    a = layers.Dense(1, name="output_a")(x)
    b = layers.Dense(1, name="output_b", activation="sigmoid")(x)
    return Model(x, {"output_a": a, "output_b": b})


def _data():
    rng = np.random.default_rng(0)
    return (rng.random((8, 3)).astype("float32"), rng.random((8, 1)).astype("float32"),
            rng.integers(0, 2, (8, 1)).astype("float32"))


def _history_keys(model, y):
    x = _data()[0]
    return sorted(model.fit(x, y, batch_size=2, epochs=1, verbose=0).history)


# keras/src/models/model_test.py::ModelTest::test_functional_rerouting
def test_functional_rerouting():
    model = _get_model()
    assert isinstance(model, Model) and model.built  # Model(inputs, outputs): Keras's Functional
    assert [tuple(t.shape) for t in model.inputs] == [(2, 3), (2, 3)]  # batch_size=2 kept
    assert [lyr.name for lyr in model.layers[:2]] == ["input_a", "input_b"]
    out = model.predict([np.ones((2, 3)), np.ones((2, 3))], verbose=0)
    assert out.shape == (2, 4)


# keras/src/models/model_test.py::ModelTest::test_tuple_input_model_subclass
def test_tuple_input_model_subclass():
    class MultiInputModel(Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense1 = layers.Dense(4)

        def call(self, inputs):
            a, b = inputs
            return layers.concatenate([self.dense1(a), b])

    model = MultiInputModel()
    out = model((np.random.rand(3, 3), np.random.rand(3, 2)))
    assert out.shape == (3, 6)


# keras/src/models/model_test.py::ModelTest::test_reviving_functional_from_config_custom_layer
# (CustomDense has no get_config: its plain __init__ argument is kept by Keras 3's auto-config)
def test_reviving_functional_from_config_custom_layer():
    class CustomDense(layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.dense = layers.Dense(units)

        def call(self, x):
            return self.dense(x)

    inputs = Input((4,))
    model = Model(inputs, CustomDense(10)(inputs))
    revived = Model.from_config(model.get_config(), custom_objects={"CustomDense": CustomDense})
    assert type(revived) is Model
    assert revived.output_shape == (None, 10)


# keras/src/models/model_test.py::ModelTest::test_functional_single_output
@pytest.mark.parametrize("model_fn", [_single_output, _single_output_list, _single_output_dict],
                         ids=["single_output", "single_list_output", "single_dict_output"])
@pytest.mark.parametrize("loss_type", [None, "list", "dict", "dict_list"])
def test_functional_single_output(model_fn, loss_type):
    model = model_fn()
    loss = {None: "mean_squared_error", "list": ["mean_squared_error"],
            "dict": {"output_a": "mean_squared_error"}, "dict_list": {"output_a": ["mean_squared_error"]}}[loss_type]
    model.compile(optimizer="sgd", loss=loss,
                  metrics={"output_a": ["mean_squared_error", "mean_absolute_error"]},
                  weighted_metrics={"output_a": "mean_squared_error"})
    assert _history_keys(model, _data()[1]) == ["loss", "mean_absolute_error", "mean_squared_error",
                                                "weighted_mean_squared_error"]


# keras/src/models/model_test.py::ModelTest::test_functional_list_outputs_list_losses
def test_functional_list_outputs_list_losses():
    model = _multi_outputs_list()
    model.compile(optimizer="sgd", loss=["mean_squared_error", "binary_crossentropy"],
                  metrics=["mean_squared_error", ["mean_squared_error", "accuracy"]], loss_weights=[0.1, 2])
    _, y1, y2 = _data()
    assert _history_keys(model, (y1, y2)) == sorted(
        ["loss", "output_a_loss", "output_a_mean_squared_error", "output_b_accuracy", "output_b_loss",
         "output_b_mean_squared_error"])


# keras/src/models/model_test.py::ModelTest::test_functional_list_outputs_list_losses_abbr
def test_functional_list_outputs_list_losses_abbr():
    model = _multi_outputs_list()
    model.compile(optimizer="sgd", loss=["mse", "bce"], metrics=[["bce", "mse", "mae"], ["mse", "acc"]],
                  loss_weights=[0.1, 2])
    _, y1, y2 = _data()
    assert _history_keys(model, (y1, y2)) == sorted(
        ["loss", "output_a_loss", "output_a_bce", "output_a_mae", "output_a_mse", "output_b_acc",
         "output_b_loss", "output_b_mse"])


# keras/src/models/model_test.py::ModelTest::test_functional_list_outputs_nested_list_losses
def test_functional_list_outputs_nested_list_losses():
    model = _multi_outputs_list()
    model.compile(optimizer="sgd", loss=["mean_squared_error", ["binary_crossentropy"]],
                  metrics=["mean_squared_error", ["mean_squared_error", "accuracy"]], loss_weights=[0.1, 2])
    _, y1, y2 = _data()
    assert _history_keys(model, (y1, y2)) == sorted(
        ["loss", "output_a_loss", "output_a_mean_squared_error", "output_b_accuracy", "output_b_loss",
         "output_b_mean_squared_error"])


# keras/src/models/model_test.py::ModelTest::test_functional_dict_outputs_dict_losses
def test_functional_dict_outputs_dict_losses():
    model = _multi_outputs_dict()
    per_output = {"output_a": ["mean_squared_error"], "output_b": ["mean_squared_error", "accuracy"]}
    model.compile(optimizer="sgd", loss={"output_a": "mean_squared_error", "output_b": ["binary_crossentropy"]},
                  metrics=per_output, weighted_metrics=per_output)
    x, y1, y2 = _data()
    outputs = model.predict(x, verbose=0)
    assert isinstance(outputs, dict)
    assert outputs["output_a"].shape == (8, 1) and outputs["output_b"].shape == (8, 1)
    assert _history_keys(model, {"output_a": y1, "output_b": y2}) == sorted(
        ["loss", "output_a_loss", "output_a_mean_squared_error", "output_a_weighted_mean_squared_error",
         "output_b_accuracy", "output_b_loss", "output_b_mean_squared_error", "output_b_weighted_accuracy",
         "output_b_weighted_mean_squared_error"])


# keras/src/models/model_test.py::ModelTest::test_functional_dict_outputs_dict_losses_with_undefined_loss
def test_functional_dict_outputs_dict_losses_with_undefined_loss():
    model = _multi_outputs_dict()
    per_output = {"output_b": ["mean_squared_error", "accuracy"]}
    model.compile(optimizer="sgd", loss={"output_b": ["binary_crossentropy"]}, metrics=per_output,
                  weighted_metrics=per_output)
    x, y1, y2 = _data()
    outputs = model.predict(x, verbose=0)
    assert isinstance(outputs, dict) and outputs["output_a"].shape == (8, 1)
    assert _history_keys(model, {"output_a": y1, "output_b": y2}) == sorted(
        ["loss", "output_b_accuracy", "output_b_mean_squared_error", "output_b_weighted_accuracy",
         "output_b_weighted_mean_squared_error"])


# keras/src/models/model_test.py::ModelTest::test_functional_list_outputs_dict_losses_metrics
def test_functional_list_outputs_dict_losses_metrics():
    model = _multi_outputs_list()
    per_output = {"output_a": ["mean_squared_error"], "output_b": ["mean_squared_error", "accuracy"]}
    model.compile(optimizer="sgd", loss={"output_a": "mean_squared_error", "output_b": "binary_crossentropy"},
                  metrics=per_output, weighted_metrics=per_output)
    x, y1, y2 = _data()
    outputs = model.predict(x, verbose=0)
    assert isinstance(outputs, list) and outputs[0].shape == (8, 1) and outputs[1].shape == (8, 1)
    assert _history_keys(model, (y1, y2)) == sorted(
        ["loss", "output_a_loss", "output_a_mean_squared_error", "output_a_weighted_mean_squared_error",
         "output_b_accuracy", "output_b_loss", "output_b_mean_squared_error", "output_b_weighted_accuracy",
         "output_b_weighted_mean_squared_error"])


# keras/src/models/model_test.py::ModelTest::test_functional_list_outputs_dict_losses_metrics_uniq_weighted
def test_functional_list_outputs_dict_losses_metrics_uniq_weighted():
    model = _multi_outputs_list()
    model.compile(optimizer="sgd", loss={"output_a": "mean_squared_error", "output_b": "binary_crossentropy"},
                  metrics={"output_a": ["mean_squared_error"], "output_b": ["mean_squared_error"]},
                  weighted_metrics={"output_a": ["mean_squared_error"], "output_b": ["accuracy"]})
    _, y1, y2 = _data()
    # a metric only in weighted_metrics keeps its name (no weighted_ prefix)
    assert _history_keys(model, (y1, y2)) == sorted(
        ["loss", "output_a_loss", "output_a_mean_squared_error", "output_a_weighted_mean_squared_error",
         "output_b_accuracy", "output_b_loss", "output_b_mean_squared_error"])


# keras/src/models/model_test.py::ModelTest::test_functional_list_outputs_dict_losses_partial_metrics
def test_functional_list_outputs_dict_losses_partial_metrics():
    model = _multi_outputs_list()
    model.compile(optimizer="sgd", loss={"output_a": "mean_squared_error", "output_b": "binary_crossentropy"},
                  metrics={"output_b": ["mean_squared_error", "accuracy"]})
    _, y1, y2 = _data()
    assert _history_keys(model, (y1, y2)) == sorted(
        ["loss", "output_a_loss", "output_b_accuracy", "output_b_loss", "output_b_mean_squared_error"])


# keras/src/models/model_test.py::ModelTest::test_functional_dict_outputs_with_single_tensor
def test_functional_dict_outputs_with_single_tensor():
    x = Input(shape=(3,), name="input_a")
    out = layers.Dense(1, name="output_a")(x)
    model = Model(x, {"output_a": out, "output_b": out})
    assert len(model.outputs) == 2  # two outputs, one tensor
    model.compile(optimizer="sgd", loss={"output_a": "mean_squared_error", "output_b": "binary_crossentropy"})
    _, y1, y2 = _data()
    assert _history_keys(model, (y1, y2)) == ["loss", "output_a_loss", "output_b_loss"]


# keras/src/models/model_test.py::ModelTest::test_functional_list_outputs_dict_losses_no_output_names
# (Keras raises at fit, irgraph already at compile; see test_compile.py's docstring)
def test_functional_list_outputs_dict_losses_no_output_names():
    model = _multi_outputs_list(named=False)
    with pytest.raises(ValueError, match="Expected keys"):
        model.compile(optimizer="sgd", loss={"output_a": "mean_squared_error"})
        _, y1, y2 = _data()
        model.fit(_data()[0], (y1, y2), batch_size=2, epochs=1, verbose=0)


# keras/src/models/model_test.py::ModelTest::test_layers_setter
def test_layers_setter():
    model = Model()
    with pytest.raises(AttributeError, match="`Model.layers` attribute is reserved"):
        model.layers = [layers.Dense(4)]


# ------------------------------------------------------------------ optional inputs in fit/evaluate
class _OptionalInputLayer(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(2)

    def call(self, x, o=None):
        return self.dense(x if o is None else x + o)


def _optional_inputs_model():
    x = Input((2,), name="x")
    o = Input((2,), name="o", optional=True)
    return Model({"x": x, "o": o}, _OptionalInputLayer()(x, o))


# keras/src/models/model_test.py::ModelTest::test_functional_optional_inputs
@pytest.mark.parametrize("is_optional_none", [True, False], ids=["optional_none", "optional_tensor"])
def test_functional_optional_inputs(is_optional_none):
    model = _optional_inputs_model()
    x = np.ones((2, 2), np.float32)
    o = None if is_optional_none else np.ones((2, 2), np.float32)
    y_true = np.ones((2, 2), np.float32)
    model.compile(loss="mse", optimizer="adam")
    assert np.isfinite(model.fit(x={"x": x, "o": o}, y=y_true, verbose=0).history["loss"][0])
    assert np.isfinite(model.evaluate(x={"x": x, "o": o}, y=y_true, verbose=0))
    assert model.predict(x={"x": x, "o": o}, verbose=0).shape == (2, 2)


# keras/src/models/model_test.py::ModelTest::test_functional_optional_inputs_generator
@pytest.mark.parametrize("is_optional_none", [True, False], ids=["optional_none", "optional_tensor"])
def test_functional_optional_inputs_generator(is_optional_none):
    model = _optional_inputs_model()
    x = np.ones((2, 2), np.float32)
    o = None if is_optional_none else np.ones((2, 2), np.float32)
    y_true = np.ones((2, 2), np.float32)

    def data_generator(with_y=True):
        for _ in range(4):
            yield ({"x": x, "o": o},) + ((y_true,) if with_y else ())

    model.compile(loss="mse", optimizer="adam")
    assert len(model.fit(data_generator(), verbose=0).history["loss"]) == 1
    assert np.isfinite(model.evaluate(data_generator(), verbose=0))
    assert model.predict(data_generator(with_y=False), verbose=0).shape == (8, 2)


# test_functional_optional_inputs, values: the training step of each presence pattern is Keras's
# (same weights, SGD; the layer adds o only when it is given), and switching patterns keeps the state
def test_functional_optional_inputs_train_as_keras():
    from tests.keras_compat.keras_torch import keras

    class KOptional(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(2)

        def call(self, x, o=None):
            return self.dense(x if o is None else x + o)

    kx, ko = keras.Input((2,), name="x"), keras.Input((2,), name="o", optional=True)
    kmodel = keras.Model({"x": kx, "o": ko}, KOptional()(kx, ko))
    model = _optional_inputs_model()
    kmodel.set_weights(model.get_weights())
    rng = np.random.default_rng(1)
    x, o, y = (rng.random((6, 2)).astype("float32") for _ in range(3))
    for m in (model, kmodel):
        m.compile(loss="mse", optimizer="sgd")
    for given in (None, o, None):
        ours = model.fit({"x": x, "o": given}, y, batch_size=3, shuffle=False, verbose=0).history["loss"]
        theirs = kmodel.fit({"x": x, "o": given}, y, batch_size=3, shuffle=False, verbose=0).history["loss"]
        np.testing.assert_allclose(ours, theirs, rtol=1e-5)
        for a, b in zip(model.get_weights(), kmodel.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(model.evaluate({"x": x, "o": given}, y, verbose=0),
                                   kmodel.evaluate({"x": x, "o": given}, y, verbose=0), rtol=1e-5)


# ------------------------------------------------------------------------------------ state tree
def _flat_paths(tree, prefix=""):
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(_flat_paths(v, f"{prefix}{k}/"))
        else:
            out[prefix + k] = np.shape(v)
    return out


# keras/src/models/model_test.py::ModelTest::test_get_state_tree
def test_get_state_tree():
    model = _single_output()
    model.compile(loss="mse", optimizer="adam")
    tree = model.get_state_tree()
    dense = model.get_layer("output_a")
    np.testing.assert_array_equal(tree["trainable_variables"]["output_a"]["kernel"], dense.get_weights()[0])
    np.testing.assert_array_equal(tree["trainable_variables"]["output_a"]["bias"], dense.get_weights()[1])
    assert tree["non_trainable_variables"] == {}
    assert tree["metrics_variables"]["loss"]["count"] == 0 and tree["metrics_variables"]["loss"]["total"] == 0
    assert tree["optimizer_variables"]["adam"]["iteration"] == 0
    np.testing.assert_allclose(tree["optimizer_variables"]["adam"]["learning_rate"], 0.001)
    numpy_tree = model.get_state_tree(value_format="numpy_array")
    assert isinstance(numpy_tree["trainable_variables"]["output_a"]["kernel"], np.ndarray)
    with pytest.raises(ValueError, match="Invalid `value_format` argument"):
        model.get_state_tree(value_format="list")


# test_get_state_tree against Keras itself: the same paths and shapes, before and after fit, for a
# model with a non-trainable state (BatchNormalization), Adam's slots and metrics of both kinds
def test_get_state_tree_paths_as_keras():
    from tests.keras_compat.keras_torch import keras

    def build(lib):
        if lib is keras:
            keras.backend.clear_session()  # Keras numbers repeated optimizer names (adam_15) per process
        x = lib.Input((3,), name="input_a")
        h = lib.layers.BatchNormalization(name="bn")(lib.layers.Dense(2, name="d2")(x))
        m = lib.Model(x, lib.layers.Dense(1, name="out")(h))
        m.compile(optimizer="adam", loss="mse", metrics=["mae", "accuracy", "AUC"])
        return m

    import irgraph
    ours, theirs = build(irgraph), build(keras)
    assert _flat_paths(ours.get_state_tree()) == _flat_paths(theirs.get_state_tree("numpy_array"))
    x, y = _data()[0], _data()[1]
    ours.fit(x, y, batch_size=3, verbose=0)
    theirs.fit(x, y, batch_size=3, verbose=0)
    ours_tree, theirs_tree = ours.get_state_tree(), theirs.get_state_tree("numpy_array")
    assert _flat_paths(ours_tree) == _flat_paths(theirs_tree)
    metrics = ours_tree["metrics_variables"]
    assert metrics["loss"]["count"] == 8 and metrics["mean_absolute_error"]["count"] == 8
    assert ours_tree["optimizer_variables"]["adam"]["iteration"] == 3
    hist = ours.history.history
    np.testing.assert_allclose(metrics["loss"]["total"] / metrics["loss"]["count"], hist["loss"][-1], rtol=1e-5)
    np.testing.assert_allclose(metrics["mean_absolute_error"]["total"] / 8, hist["mae"][-1], rtol=1e-5)


# keras/src/models/model_test.py::ModelTest::test_set_state_tree
def test_set_state_tree():
    state = {"optimizer_variables": {"adam": {"iteration": 0, "learning_rate": 0.00001}},
             "trainable_variables": {"output_a": {"bias": [0.5], "kernel": [[0.6], [0.7], [1.8]]}}}
    model = _single_output()
    model.compile(optimizer="adam")
    model.set_state_tree(state)
    assert model.optimizer.iterations == 0
    np.testing.assert_allclose(model.optimizer.learning_rate, 0.00001)
    kernel, bias = model.get_layer("output_a").get_weights()
    np.testing.assert_allclose(bias, [0.5])
    np.testing.assert_allclose(kernel, [[0.6], [0.7], [1.8]])
    with pytest.raises(ValueError, match="Unknown variable name: weights"):
        model.set_state_tree({"weights": {}})


# test_get_state_tree / test_set_state_tree: a whole tree taken after training and set back restores
# the weights, Adam's slots and step count, and the metric sums, also while a training session holds
# the weights (the weight store's owner); training on from it repeats the same steps
def test_state_tree_round_trip_through_training():
    model = _single_output()
    model.compile(loss="mse", optimizer="adam", metrics=["mae"])
    x, y, _ = _data()
    model.fit(x, y, batch_size=4, shuffle=False, verbose=0)
    saved = model.get_state_tree()
    first = model.fit(x, y, batch_size=4, shuffle=False, verbose=0).history["loss"]
    after_first = model.get_state_tree()
    model.set_state_tree(saved)
    restored = model.get_state_tree()
    assert _flat_paths(restored) == _flat_paths(saved)
    for path, value in _leaves(saved).items():
        np.testing.assert_array_equal(_leaves(restored)[path], value, err_msg=path)
    again = model.fit(x, y, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(again, first, rtol=1e-6)
    for path, value in _leaves(after_first).items():
        np.testing.assert_allclose(_leaves(model.get_state_tree())[path], value, rtol=1e-6, err_msg=path)


def _leaves(tree, prefix=""):
    out = {}
    for k, v in tree.items():
        out.update(_leaves(v, f"{prefix}{k}/") if isinstance(v, dict) else {prefix + k: v})
    return out


# keras/src/models/model_test.py::ModelTest::test_get_state_tree_with_duplicate_path
# (Keras's model there names two sublayers alike; irgraph refuses that model at its first call, "All
# layer names in a model must be unique", so the repeated path comes from one layer's two weights of
# one name, which Keras refuses alike: checked on Keras too)
def test_get_state_tree_with_duplicate_path():
    from tests.keras_compat.keras_torch import keras

    def twice(base):
        class TwoScales(base):
            def build(self, input_shape):
                self.a = self.add_weight(shape=(1,), initializer="ones", name="scale")
                self.b = self.add_weight(shape=(1,), initializer="ones", name="scale")

            def call(self, x):
                return x * self.a * self.b
        return TwoScales

    x = Input((2,))
    model = Model(x, twice(layers.Layer)(name="two")(x))
    kx = keras.Input((2,))
    kmodel = keras.Model(kx, twice(keras.layers.Layer)(name="two")(kx))
    for m in (model, kmodel):
        with pytest.raises(ValueError, match="The following variable path is found twice in the model: 'two/scale'"):
            m.get_state_tree()


# ------------------------------------------------- losses over structures of outputs (CompileLoss)
def _struct_loss(lib, structure):
    """Keras's test loss: checks it is called with ``structure``'s nesting, sums the MAE of each output
    (``lib``: irgraph or Keras, each with its own tree and losses)."""
    def loss_fn(y_true, y_pred):
        for given in (y_true, y_pred):
            if lib.__name__ == "irgraph":  # irgraph.tree tells; Keras's tree raises this itself
                if not lib.tree.same_structure(structure, given, lists_are_tuples=False):
                    raise ValueError(f"Expected a {type(structure).__name__} {structure}, got {given}")
            else:
                lib.tree.assert_same_structure(structure, given)
        diff = 0
        for y_p, y_t in zip(lib.tree.flatten(y_pred), lib.tree.flatten(y_true)):
            diff = diff + lib.losses.mean_absolute_error(y_t, y_p)
        return diff
    return loss_fn


def _keras():
    from tests.keras_compat.keras_torch import keras
    return keras


def _irgraph():
    import irgraph
    return irgraph


def _sigmoid_heads(lib, names=("y1", "y2", "y3"), count=2):
    x = lib.Input((3,), name="x")
    return x, [lib.layers.Dense(1, name=n, activation="sigmoid")(x) for n in names[:count]]


def _fit_like_keras(build, y, loss_weights=None):
    """``build(lib)`` -> (model, loss): compiled with SGD the same way and the same weights in irgraph
    and in Keras, one epoch of 4 batches; the History of irgraph (its keys and values Keras's)."""
    x = np.random.default_rng(3).random((8, 3)).astype("float32")
    hists = []
    weights = None
    for lib in (_irgraph(), _keras()):
        model, loss = build(lib)
        model.compile(optimizer="sgd", loss=loss, loss_weights=loss_weights)
        if weights is None:
            weights = model.get_weights()
        else:
            model.set_weights(weights)
        hists.append(model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0).history)
    ours, theirs = hists
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=2e-5, err_msg=key)
    return ours


def _two_labels(_type=list):
    rng = np.random.default_rng(4)
    return _type([rng.random((8, 1)).astype("float32"), rng.random((8, 1)).astype("float32")])


# keras/src/models/model_test.py::ModelTest::test_functional_struct_outputs_struct_losses
@pytest.mark.parametrize("weighted", [False, True], ids=["not_weighted", "weighted"])
@pytest.mark.parametrize("other_type", [list, tuple], ids=["loss_list", "loss_tuple"])
@pytest.mark.parametrize("_type", [tuple, list], ids=["outputs_tuple", "outputs_list"])
def test_functional_struct_outputs_struct_losses(_type, other_type, weighted):
    weights = [0.3, [0.7, 1.9]]

    def build(lib):
        x, (y1, y2) = _sigmoid_heads(lib)
        model = lib.Model(x, _type([y1, y2]))
        out = model.output
        loss = other_type([_struct_loss(lib, out), _type([_struct_loss(lib, out[0]), _struct_loss(lib, out[1])])])
        return model, loss

    loss_weights = other_type([weights[0], _type(weights[1])]) if weighted else None
    if _type is other_type:
        # the outer loss structure is taken as the outputs' own, so its second entry, two losses,
        # both read output y2 alone: the test's loss (which checks its structure) refuses it
        model, loss = build(_irgraph())
        model.compile(optimizer="sgd", loss=loss)
        with pytest.raises(ValueError, match=f"[Ee]xpected.*{_type.__name__}"):
            model.fit(_data()[0], _two_labels(_type), batch_size=2, epochs=1, verbose=0)
        return
    model, _ = build(_irgraph())
    assert isinstance(model.predict(_data()[0], verbose=0), _type)
    hist = _fit_like_keras(build, _two_labels(_type), loss_weights)
    assert sorted(hist) == sorted(["loss", "y1_loss", "y2_loss", "y1_y2_loss"])


# keras/src/models/model_test.py::ModelTest::test_functional_struct_outputs_dict_struct_losses
@pytest.mark.parametrize("weighted", [False, True], ids=["not_weighted", "weighted"])
def test_functional_struct_outputs_dict_struct_losses(weighted):
    def build(lib):
        x, (y1, y2) = _sigmoid_heads(lib)
        model = lib.Model(x, {"a": y1, "b": y2})
        out = model.output
        return model, [_struct_loss(lib, out), {"a": _struct_loss(lib, out["a"]), "b": _struct_loss(lib, out["a"])}]

    model, _ = build(_irgraph())
    assert isinstance(model.predict(_data()[0], verbose=0), dict)
    y1, y2 = _two_labels()
    hist = _fit_like_keras(build, {"a": y1, "b": y2}, [0.4, {"a": 1.5, "b": 0.2}] if weighted else None)
    assert sorted(hist) == sorted(["loss", "a_loss", "b_loss", "a_b_loss"])


# keras/src/models/model_test.py::ModelTest::test_functional_struct_outputs_namedtuple_struct_losses
def test_functional_struct_outputs_namedtuple_struct_losses():
    from collections import namedtuple
    Y = namedtuple("Y", ["y1", "y2"])

    def build(lib):
        x, (y1, y2) = _sigmoid_heads(lib)
        model = lib.Model(x, Y(y1, y2))
        out = model.output
        return model, [_struct_loss(lib, out), Y(_struct_loss(lib, out.y1), _struct_loss(lib, out.y2))]

    model, _ = build(_irgraph())
    assert isinstance(model.predict(_data()[0], verbose=0), Y)
    hist = _fit_like_keras(build, Y(*_two_labels()))
    assert sorted(hist) == sorted(["loss", "y1_loss", "y2_loss", "y1_y2_loss"])


# keras/src/models/model_test.py::ModelTest::test_functional_deeply_nested_outputs_struct_losses
def test_functional_deeply_nested_outputs_struct_losses():
    def build(lib):
        x, (y1, y2, y3) = _sigmoid_heads(lib, count=3)
        model = lib.Model(x, {"a": (y1, y2), "b": {"b1": y1, "b2": y2}, "c": {"c1": (y1, y2), "c2": y2}, "d": y3})
        out = model.output
        loss = {"a": [_struct_loss(lib, out["a"]), (None, _struct_loss(lib, out["a"][1]))],
                "b": [_struct_loss(lib, out["b"]), {"b1": _struct_loss(lib, out["b"]["b1"])}],
                "c": [_struct_loss(lib, out["c"]), {"c1": _struct_loss(lib, out["c"]["c1"])}],
                "d": _struct_loss(lib, out["d"])}
        return model, loss

    model, _ = build(_irgraph())
    assert isinstance(model.predict(_data()[0], verbose=0), dict)
    y1, y2 = _two_labels()
    y3 = np.random.default_rng(5).random((8, 1)).astype("float32")
    y = {"a": (y1, y2), "b": {"b1": y1, "b2": y2}, "c": {"c1": (y1, y2), "c2": y2}, "d": y3}
    hist = _fit_like_keras(build, y)
    assert sorted(hist) == sorted(["a/y2_loss", "a_loss", "b/b1_loss", "b_loss", "c/c1_loss", "c_loss", "d_loss",
                                   "loss"])


# keras/src/models/model_test.py::ModelTest::test_functional_list_outputs_invalid_nested_list_losses
# (two losses for output_b: both are trained on; History shows the last under output_b_loss, as Keras)
def test_functional_list_outputs_invalid_nested_list_losses():
    def build(lib):
        x = lib.Input(shape=(3,), name="input_a")
        a = lib.layers.Dense(1, name="output_a")(x)
        b = lib.layers.Dense(1, name="output_b", activation="sigmoid")(x)
        return lib.Model(x, [a, b]), ["mean_squared_error", ["mean_squared_error", "binary_crossentropy"]]

    y1, y2 = _data()[1:]
    hist = _fit_like_keras(build, [y1, y2])
    assert sorted(hist) == ["loss", "output_a_loss", "output_b_loss"]


# CompileLoss.build: a loss structure that does not fit the outputs gets Keras's errors
def test_struct_losses_that_do_not_fit():
    x, (y1, y2) = _sigmoid_heads(_irgraph())
    model = Model(x, {"a": y1, "b": y2})
    xs, ys = np.ones((4, 3), np.float32), {"a": np.ones((4, 1), np.float32), "b": np.ones((4, 1), np.float32)}
    # Keras raises these when it builds the compiled loss on the first batch: compile returns
    model.compile(optimizer="sgd", loss={"a": "mse", "c": "mse"})
    with pytest.raises(KeyError, match="can't be found in either the model's output"):
        model.fit(xs, ys, verbose=0)
    model.compile(optimizer="sgd", loss={"a": "mse", "b": "mse"}, loss_weights=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="`loss_weights` must match the number of losses, got 2 losses"):
        model.evaluate(xs, ys, verbose=0)
    listed = Model(x, [y1, y2])
    listed.compile(optimizer="sgd", loss=["mse", "mse", "mse"])
    with pytest.raises(KeyError, match=r"The path: \(2,\) in the `loss` argument"):
        listed.train_on_batch(xs, [ys["a"], ys["b"]])


# ------------------------------------------------------------------- a compute_loss override
def _custom_compute_loss_model(lib, regularizer=None):
    """Keras's _get_model_with_custom_compute_loss: one output, split in two by compute_loss."""

    class MyModel(lib.Model):
        def __init__(self):
            inputs = lib.Input(shape=(3,), name="inputs")
            outputs = lib.layers.Dense(1, name="a", kernel_regularizer=regularizer)(inputs)
            super().__init__(inputs=inputs, outputs=outputs)

        def compute_loss(self, x, y, y_pred, sample_weight=None, **kwargs):
            return super().compute_loss(x=x, y=y, y_pred=[y_pred, y_pred], sample_weight=sample_weight, **kwargs)

    return MyModel()


def _fit_custom_like_keras(build, y, sample_weight=None, loss=("mean_squared_error", "binary_crossentropy")):
    """Two epochs of fit and an evaluate, in irgraph and in Keras 3 (same weights, SGD, no shuffle):
    irgraph's History and evaluate logs, after checking they are Keras's keys and values."""
    x = np.random.default_rng(5).random((8, 3)).astype("float32")
    runs, weights = [], None
    for lib in (_irgraph(), _keras()):
        model = build(lib)
        model.compile(optimizer="sgd", loss=list(loss))
        if weights is None:
            weights = model.get_weights()
        else:
            model.set_weights(weights)
        hist = model.fit(x, y, sample_weight=sample_weight, batch_size=2, epochs=2, shuffle=False, verbose=0)
        logs = model.evaluate(x, y, sample_weight=sample_weight, batch_size=4, verbose=0, return_dict=True)
        runs.append((hist.history, logs))
    (ours, our_logs), (theirs, their_logs) = runs
    assert sorted(ours) == sorted(theirs) and sorted(our_logs) == sorted(their_logs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=2e-5, err_msg=key)
        np.testing.assert_allclose(our_logs[key], their_logs[key], rtol=2e-5, err_msg=key)
    return ours


def _custom_labels():
    rng = np.random.default_rng(6)
    return rng.random((8, 1)).astype("float32"), rng.integers(0, 2, (8, 1))


# keras/src/models/model_test.py::ModelTest::test_functional_list_outputs_with_custom_compute_loss
def test_functional_list_outputs_with_custom_compute_loss():
    model = _custom_compute_loss_model(_irgraph())
    assert len(model.outputs) == 1  # one output, separated into two by compute_loss
    hist = _fit_custom_like_keras(_custom_compute_loss_model, _custom_labels())
    assert sorted(hist) == ["binary_crossentropy_loss", "loss", "mean_squared_error_loss"]
    assert len(hist["loss"]) == 2 and hist["loss"][1] < hist["loss"][0]


# the same override with a sample weight (passed through to the compiled losses) and a kernel
# regularizer (added by super().compute_loss, as Keras's Trainer.compute_loss adds model.losses)
def test_custom_compute_loss_sample_weight_and_regularizer():
    weights = np.linspace(0.2, 2.0, 8).astype("float32")

    def build(lib):
        return _custom_compute_loss_model(lib, lib.regularizers.L2(0.05))

    hist = _fit_custom_like_keras(build, _custom_labels(), sample_weight=weights)
    assert sorted(hist) == ["binary_crossentropy_loss", "loss", "mean_squared_error_loss"]


def _dict_labels_model(lib):
    """An override that receives y as the user's dict and hands super() a list of its own."""

    class DictLabels(lib.Model):
        def __init__(self):
            inputs = lib.Input(shape=(3,), name="inputs")
            super().__init__(inputs=inputs, outputs=lib.layers.Dense(1, name="a")(inputs))

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            loss = super().compute_loss(x, [y["second"], y["first"]], [y_pred, y_pred], sample_weight,
                                        training=training)
            return loss if training else 3.0 * loss  # fit traces training=True, evaluate False

    return DictLabels()


# y reaches compute_loss in the structure the user gave fit (a dict here), whatever the outputs;
# ``training`` is True in fit and False in evaluate
def test_custom_compute_loss_dict_labels():
    y1, y2 = _custom_labels()
    hist = _fit_custom_like_keras(_dict_labels_model, {"first": y1, "second": y2.astype("float32")},
                                  loss=("binary_crossentropy", "mean_absolute_error"))
    assert sorted(hist) == ["binary_crossentropy_loss", "loss", "mean_absolute_error_loss"]


def _own_loss_model():
    """A loss of its own, no super(): mean((p - y['a'])**2) + 0.5 * mean(|p - y['b']|) + 0.1 * mean(x)."""
    from irgraph import backend as K

    class OwnLoss(Model):
        def __init__(self):
            inputs = Input(shape=(3,), name="inputs")
            super().__init__(inputs=inputs, outputs=layers.Dense(1, name="a")(inputs))

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return (K.mean(K.square(y_pred - y["a"])) + 0.5 * K.mean(K.abs(y_pred - y["b"]))
                    + 0.1 * K.mean(x))

    return OwnLoss()


def _own_loss_numpy(x, y, w, b):
    p = x @ w + b
    loss = np.mean((p - y["a"]) ** 2) + 0.5 * np.mean(np.abs(p - y["b"])) + 0.1 * np.mean(x)
    grad_p = (2 * (p - y["a"]) + 0.5 * np.sign(p - y["b"])) / len(x)
    return loss, x.T @ grad_p, grad_p.sum(axis=0)


# a compute_loss of its own without super() (compile without a loss: Keras accepts it with an
# override): evaluate's loss and one SGD step of train_on_batch against numpy
def test_custom_compute_loss_without_super_against_numpy():
    rng = np.random.default_rng(7)
    x = rng.random((8, 3)).astype("float32")
    y = {"a": rng.random((8, 1)).astype("float32"), "b": rng.random((8, 1)).astype("float32")}
    model = _own_loss_model()
    model.compile(optimizer=__import__("irgraph").optimizers.SGD(learning_rate=0.1))
    w, b = model.get_weights()
    loss, grad_w, grad_b = _own_loss_numpy(x, y, w, b)
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=8, verbose=0), loss, rtol=1e-5)
    trained = model.train_on_batch(x, y)
    np.testing.assert_allclose(trained, loss, rtol=1e-5)
    new_w, new_b = model.get_weights()
    np.testing.assert_allclose(new_w, w - 0.1 * grad_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_b, b - 0.1 * grad_b, rtol=1e-5, atol=1e-6)
    hist = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0).history
    assert sorted(hist) == ["loss"]


def test_compute_loss_called_outside_fit_is_refused_clearly():
    model = _custom_compute_loss_model(_irgraph())
    model.compile(optimizer="sgd", loss=["mse", "mse"])
    with pytest.raises(RuntimeError, match="compute_loss is traced into the training graph"):
        model.compute_loss(x=None, y=np.zeros((2, 1)), y_pred=np.zeros((2, 1)))


def _extra_term_model(lib):
    """An override adding a term to the compiled loss; compiled metrics still read y and y_pred."""
    ops = lib.ops if lib is _keras() else lib.backend  # Keras's ops; irgraph's backend has the same

    class ExtraTerm(lib.Model):
        def __init__(self):
            inputs = lib.Input(shape=(3,), name="inputs")
            super().__init__(inputs=inputs, outputs=lib.layers.Dense(2, name="a")(inputs))

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            loss = super().compute_loss(x, y, y_pred, sample_weight, training=training)
            return loss + 0.25 * ops.mean(ops.square(y_pred))

    return ExtraTerm()


# compiled metrics beside an override (Keras's compute_metrics: the compiled metrics on y and the
# model's own y_pred), plain and weighted, against Keras 3
def test_custom_compute_loss_with_compiled_metrics():
    rng = np.random.default_rng(8)
    x = rng.random((8, 3)).astype("float32")
    y = rng.random((8, 2)).astype("float32")
    weights = np.linspace(0.5, 1.5, 8).astype("float32")
    runs, start = [], None
    for lib in (_irgraph(), _keras()):
        model = _extra_term_model(lib)
        model.compile(optimizer="sgd", loss="mse", metrics=["mae"], weighted_metrics=["mse"])
        if start is None:
            start = model.get_weights()
        else:
            model.set_weights(start)
        hist = model.fit(x, y, sample_weight=weights, batch_size=2, epochs=2, shuffle=False, verbose=0)
        runs.append((hist.history, model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)))
    (ours, our_logs), (theirs, their_logs) = runs
    assert sorted(ours) == sorted(theirs) == ["loss", "mae", "mse"]
    assert sorted(our_logs) == sorted(their_logs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=2e-5, err_msg=key)
        np.testing.assert_allclose(our_logs[key], their_logs[key], rtol=2e-5, err_msg=key)


def test_compute_loss_metrics_need_one_label_per_output():
    model = _custom_compute_loss_model(_irgraph())
    model.compile(optimizer="sgd", loss=["mse", "mse"], metrics=["mae"])
    with pytest.raises(ValueError, match="model has 1 outputs .* y has 2 labels"):
        model.fit(_data()[0], _custom_labels(), batch_size=2, epochs=1, verbose=0)


def test_compute_loss_labels_that_do_not_fit_the_predictions():
    model = _custom_compute_loss_model(_irgraph())
    model.compile(optimizer="sgd", loss=["mse", "mse"])
    y1, y2 = _custom_labels()
    with pytest.raises(ValueError, match="the labels y have 3 entries but y_pred has 2"):
        model.fit(_data()[0], (y1, y2, y1), batch_size=2, epochs=1, verbose=0)
