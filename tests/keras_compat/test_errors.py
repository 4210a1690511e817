"""Keras 3's error wording where Keras users match on it (issue 10, point 10): the same exception
type and key words, naming the layer, input or output, followed by irgraph's guidance.

Each test names where Keras 3.15 raises the error; the key words are checked against Keras itself
(torch backend) where Keras raises at the same moment, so a change of wording on either side shows.
"""
import re

import numpy as np
import pytest

import irgraph
from irgraph.layers import Add, Dense, Input
from irgraph.models import Model, Sequential

from .keras_torch import keras


def one_input(lib):
    x = lib.Input((4,), name="x")
    return lib.Model(x, lib.layers.Dense(2, name="dense")(x), name="net")


def two_inputs(lib):
    x, y = lib.Input((4,), name="x"), lib.Input((4,), name="y")
    return lib.Model([x, y], lib.layers.Add(name="add")([x, y]), name="pair")


def raised(fn):
    with pytest.raises(Exception) as info:
        fn()
    return info


def same_words(fn_ir, fn_keras, exc, words):
    """Both raise ``exc`` whose message holds ``words`` (a regex)."""
    for fn in (fn_ir, fn_keras):
        info = raised(fn)
        assert isinstance(info.value, exc), (type(info.value), str(info.value))
        assert re.search(words, str(info.value)), str(info.value)


# ------------------------------------------------------------------------------------ inputs
# keras/src/layers/input_spec.py::assert_input_compatibility (a model's input shape)
def test_input_shape_mismatch():
    words = r"Input 0 with name 'x' of layer 'net' is incompatible with the layer: " \
            r"expected shape=\(None, 4\), found shape=\(2, 3\)"
    same_words(lambda: one_input(irgraph).predict(np.ones((2, 3)), verbose=0),
               lambda: one_input(keras).predict(np.ones((2, 3)), verbose=0), ValueError, words)
    info = raised(lambda: one_input(irgraph)(np.ones((2, 3))))
    assert re.search(words, str(info.value))


# keras/src/layers/input_spec.py::assert_input_compatibility (a layer's InputSpec axis)
def test_layer_input_axis_mismatch():
    def call(lib):
        d = lib.layers.Dense(2, name="dense")
        d(lib.Input((4,)))
        d(lib.Input((3,)))
    same_words(lambda: call(irgraph), lambda: call(keras), ValueError,
               r"of layer 'dense' is incompatible with the layer: expected axis -1 of input shape to have value 4")


# keras/src/layers/input_spec.py::assert_input_compatibility (number of inputs)
@pytest.mark.parametrize("count", [1, 3])
def test_wrong_number_of_inputs(count):
    words = rf"Layer \"pair\" expects 2 named input\(s\) with keys \['x', 'y'\], but it received {count} input tensors"
    same_words(lambda: two_inputs(irgraph).predict([np.ones((2, 4))] * count, verbose=0),
               lambda: two_inputs(keras).predict([np.ones((2, 4))] * count, verbose=0), ValueError, words)


# keras/src/layers/input_spec.py::assert_input_compatibility (dict inputs)
def test_missing_dict_input():
    same_words(lambda: two_inputs(irgraph).predict({"x": np.ones((2, 4))}, verbose=0),
               lambda: two_inputs(keras).predict({"x": np.ones((2, 4))}, verbose=0), ValueError,
               r"Missing data for input \"y\"")


# ------------------------------------------------------------------------------ identifiers
# keras/src/losses/__init__.py::get, keras/src/metrics/__init__.py::get, keras/src/optimizers/__init__.py::get
@pytest.mark.parametrize("module, kind", [("losses", "loss"), ("metrics", "metric"), ("optimizers", "optimizer")])
def test_unknown_identifier(module, kind):
    words = rf"Could not interpret {kind} identifier: msee"
    same_words(lambda: getattr(irgraph, module).get("msee"), lambda: getattr(keras, module).get("msee"),
               ValueError, words)
    assert "known:" in str(raised(lambda: getattr(irgraph, module).get("msee")).value)  # irgraph's list follows


# keras/src/trainers/compile_utils.py (loss and metric identifiers resolved by compile/fit)
def test_unknown_loss_in_compile_and_metric_in_fit():
    def bad_loss(lib):
        m = one_input(lib)
        m.compile("sgd", "msee")
        m.fit(np.ones((2, 4)), np.ones((2, 2)), verbose=0)
    same_words(lambda: bad_loss(irgraph), lambda: bad_loss(keras), ValueError,
               "Could not interpret loss identifier: msee")

    def bad_metric(lib):
        m = one_input(lib)
        m.compile("sgd", "mse", metrics=["acuracy"])
        m.fit(np.ones((2, 4)), np.ones((2, 2)), verbose=0)
    same_words(lambda: bad_metric(irgraph), lambda: bad_metric(keras), ValueError,
               "Could not interpret metric identifier: acuracy")


# ------------------------------------------------------------------------------------ compile
# keras/src/trainers/trainer.py::_assert_compile_called (fit, train_on_batch, test_on_batch)
@pytest.mark.parametrize("method", ["fit", "train_on_batch", "test_on_batch"])
def test_training_before_compile(method):
    def run(lib):
        kwargs = {"verbose": 0} if method == "fit" else {}
        getattr(one_input(lib), method)(np.ones((2, 4)), np.ones((2, 2)), **kwargs)
    same_words(lambda: run(irgraph), lambda: run(keras), ValueError,
               r"You must call `compile\(\)` before using the model")
    info = raised(lambda: run(irgraph))
    assert isinstance(info.value, RuntimeError) and "'net'" in str(info.value)  # irgraph's earlier type stays


# keras/src/trainers/trainer.py::_assert_compile_called (irgraph raises it for evaluate too; Keras
# 3.15 fails there with an AttributeError about `optimizer`)
def test_evaluate_before_compile():
    with pytest.raises(ValueError, match=r"You must call `compile\(\)` before using the model"):
        one_input(irgraph).evaluate(np.ones((2, 4)), np.ones((2, 2)), verbose=0)


# keras/src/trainers/trainer.py::compute_loss ("No loss to compute")
@pytest.mark.parametrize("method", ["fit", "evaluate", "test_on_batch"])
def test_no_loss_to_compute(method):
    def run(lib):
        m = one_input(lib)
        m.compile(optimizer="adam")
        kwargs = {"verbose": 0} if method in ("fit", "evaluate") else {}
        getattr(m, method)(np.ones((2, 4)), np.ones((2, 2)), **kwargs)
    same_words(lambda: run(irgraph), lambda: run(keras), ValueError,
               r"No loss to compute. Provide a `loss` argument in `compile\(\)`")


# keras/src/models/model_test.py / summary_utils_test.py: compile(optimizer=None) is accepted,
# predict and evaluate work; training fails (keras/src/backend/torch/trainer.py: optimizer.apply)
def test_optimizer_none():
    for lib in (irgraph, keras):
        m = one_input(lib)
        m.compile(optimizer=None, loss="mse")
        assert m.optimizer is None
        assert m.predict(np.ones((2, 4)), verbose=0).shape == (2, 2)
        assert np.isfinite(m.evaluate(np.ones((2, 4)), np.ones((2, 2)), verbose=0))
    for method in ("fit", "train_on_batch"):
        def run(lib):
            m = one_input(lib)
            m.compile(optimizer=None, loss="mse")
            getattr(m, method)(np.ones((2, 4)), np.ones((2, 2)), **({"verbose": 0} if method == "fit" else {}))
        same_words(lambda: run(irgraph), lambda: run(keras), AttributeError,
                   "'NoneType' object has no attribute 'apply'")
        assert "optimizer=None" in str(raised(lambda: run(irgraph)).value)


# ---------------------------------------------------------------------------- layer calls
# keras/src/layers/input_spec.py::assert_input_compatibility ("Inputs to a layer should be tensors")
def test_layer_called_on_none():
    same_words(lambda: irgraph.layers.Dense(2, name="d_none")(None), lambda: keras.layers.Dense(2, name="d_none")(None),
               ValueError, r"Inputs to a layer should be tensors. Got 'None' .* as input for layer 'd_none'")


# keras/src/layers/layer.py::CallSpec ("Only input tensors may be passed as positional arguments")
@pytest.mark.parametrize("value, shown", [("abc", "abc"), (3, "3"), ([[1.0, 2.0]], "1.0")], ids=["str", "int", "list"])
def test_layer_called_on_non_tensor(value, shown):
    same_words(lambda: irgraph.layers.Dense(2)(value), lambda: keras.layers.Dense(2)(value), ValueError,
               rf"Only input tensors may be passed as positional arguments. The following argument value should be "
               rf"passed as a keyword argument: {re.escape(shown)} \(of type")


# keras/src/layers/merging/base_merge.py::Merge.build
def test_merge_layer_errors():
    same_words(lambda: irgraph.layers.Add()(irgraph.Input((4,))), lambda: keras.layers.Add()(keras.Input((4,))),
               ValueError, "A merge layer should be called on a list of inputs")
    same_words(lambda: irgraph.layers.Add()([irgraph.Input((3,)), irgraph.Input((4,))]),
               lambda: keras.layers.Add()([keras.Input((3,)), keras.Input((4,))]),
               ValueError, r"Inputs have incompatible shapes. Received shapes \(3,\) and \(4,\)")


# ------------------------------------------------------------------------------- model API
# keras/src/models/model.py::Model.get_layer
@pytest.mark.parametrize("kwargs, words", [
    ({"name": "nope"}, r"No such layer: nope. Existing layers are: \['x', 'dense'\]"),
    ({"index": 10}, "Was asked to retrieve layer at index 10 but model only has 2 layers"),
    ({}, "Provide either a layer name or layer index at `get_layer`"),
    ({"name": "dense", "index": 0}, r"Provide only a layer name or a layer index. Received: index=0, name=dense"),
])
def test_get_layer_errors(kwargs, words):
    same_words(lambda: one_input(irgraph).get_layer(**kwargs), lambda: one_input(keras).get_layer(**kwargs),
               ValueError, words)


# keras/src/layers/layer.py::Layer.set_weights (count, then shapes), on a model and on a layer
@pytest.mark.parametrize("target", ["model", "layer"])
def test_set_weights_errors(target):
    def pick(lib):
        m = one_input(lib)
        return m if target == "model" else m.get_layer("dense")
    name = "net" if target == "model" else "dense"
    same_words(lambda: pick(irgraph).set_weights([np.ones((4, 2))]), lambda: pick(keras).set_weights([np.ones((4, 2))]),
               ValueError, rf"You called `set_weights\(weights\)` on layer '{name}' with a weight list of length 1, "
               r"but the layer was expecting 2 weights")
    same_words(lambda: pick(irgraph).set_weights([np.ones((4, 3)), np.ones(2)]),
               lambda: pick(keras).set_weights([np.ones((4, 3)), np.ones(2)]), ValueError,
               rf"Layer {name} weight shape \(4, 2\) is not compatible with provided weight shape \(4, 3\)")
    assert "dense/kernel" in str(raised(lambda: pick(irgraph).set_weights([np.ones((4, 2))])).value)


# keras/src/models/functional.py::Functional.__init__ (outputs that are not KerasTensors)
def test_model_outputs_must_be_tensors():
    same_words(lambda: Model(Input((4,)), "abc"), lambda: keras.Model(keras.Input((4,)), "abc"), ValueError,
               r"All `outputs` values must be KerasTensors")


# keras/src/models/sequential.py::Sequential (summary of an unbuilt model is allowed; calling one
# without layers is not) -- the call raises Keras's ValueError naming the model
def test_sequential_without_layers():
    with pytest.raises(ValueError, match="has no layers"):
        Sequential(name="empty")(np.ones((2, 3), np.float32))


# keras/src/ops/node.py::Node.__init__ (the same check for layers of a model built here)
def test_call_returning_a_non_tensor_names_the_layer():
    class Bad(irgraph.layers.Layer):
        def call(self, inputs):
            return "abc"
    with pytest.raises(ValueError, match=r"layer 'bad_one' \(Bad\).*operation outputs must be tensors"):
        Bad(name="bad_one")(Input((2,)))


# irgraph's own messages stay after Keras's words (nothing helpful dropped)
def test_irgraph_guidance_follows_keras_words():
    msg = str(raised(lambda: one_input(irgraph).get_layer("nope")).value)
    assert msg.index("No such layer") < msg.index("no layer named 'nope' in model 'net'")
    x = Input((4,))
    bad = Model(x, Add()([Dense(4)(x), x]))
    msg = str(raised(lambda: bad.set_weights([np.ones((4, 4))])).value)
    assert msg.index("You called `set_weights") < msg.index("expects 2 weight arrays")
