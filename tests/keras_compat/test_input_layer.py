"""`Input` / `InputLayer` held to the behaviours of keras/src/layers/core/input_layer_test.py (Keras
3.15), plus the `InputSpec` checks Keras runs on every layer call (keras/src/layers/input_spec.py),
with the Keras 1/2 spellings kept beside them. Each test names the Keras test it mirrors; error
wording is compared with Keras 3 itself where it is easy to provoke the same error.

Nothing of input_layer_test.py is out of scope. ``sparse=True`` and ``ragged=True`` take Keras's
branch for a backend without sparse/ragged tensors: refused with Keras's ValueError, since ONNX and
onnxruntime compute on dense tensors only.
"""
import re
import warnings

import numpy as np
import pytest

import irgraph
from irgraph import backend as K
from irgraph import layers
from irgraph.layers import InputLayer, InputSpec
from irgraph.models import Model
from irgraph.tensor import Input, KerasTensor

from tests.keras_compat.keras_torch import keras


# keras/src/layers/core/input_layer_test.py::test_input_basic (dense)
def test_input_basic():
    values = InputLayer(shape=(2, 3), batch_size=4, dtype="float32", sparse=False, ragged=False)
    assert values.dtype == "float32"
    assert values.batch_shape[0] == 4 and values.batch_shape[1:] == (2, 3)
    assert values.sparse is False and values.ragged is False
    assert values.trainable is True
    assert isinstance(values.output, KerasTensor)
    assert values.output.ndim == 3 and values.output.dtype == "float32"
    assert values.output.sparse is False and values.output.ragged is False


# keras/src/layers/core/input_layer_test.py::test_input_basic (sparse, ragged: refused)
@pytest.mark.parametrize("flag", ["sparse", "ragged"])
def test_input_basic_sparse_and_ragged_refused(flag):
    with pytest.raises(ValueError, match=f"`{flag}=True` is not supported.*dense"):
        InputLayer(shape=(2, 3), batch_size=4, dtype="float32", **{flag: True})
    with pytest.raises(ValueError, match=f"`{flag}=True` is not supported"):
        Input(shape=(2, 3), **{flag: True})


# keras/src/layers/core/input_layer_test.py::test_input_error1
def test_input_error1():
    with pytest.raises(ValueError, match="cannot pass both `shape` and `batch_shape`"):
        InputLayer(shape=(2, 3), batch_shape=(2, 3))
    with pytest.raises(ValueError, match="cannot pass both `shape` and `batch_shape`"):
        Input(shape=(3,), batch_shape=(None, 3))


# keras/src/layers/core/input_layer_test.py::test_input_error2
def test_input_error2():
    with pytest.raises(ValueError, match="cannot pass both `batch_size` and `batch_shape`"):
        InputLayer(batch_size=4, batch_shape=(2, 3))


# keras/src/layers/core/input_layer_test.py::test_input_error3
def test_input_error3():
    with pytest.raises(ValueError, match="pass a `shape` argument."):
        InputLayer(shape=None, batch_shape=None)
    with pytest.raises(ValueError, match="pass a `shape` argument."):
        Input()


# keras/src/layers/core/input_layer_test.py::test_input_tensor_error
def test_input_tensor_error():
    with pytest.raises(ValueError, match="Argument `input_tensor` must be a KerasTensor"):
        InputLayer(shape=(2, 3), batch_size=4, input_tensor=np.zeros((2, 3)))


# keras/src/layers/core/input_layer_test.py::testing_input_tensor
def test_input_tensor():
    input_tensor = KerasTensor(shape=(2, 3), dtype="float32")
    layer = InputLayer(input_tensor=input_tensor)
    assert layer.dtype == "float32"
    assert layer.batch_shape == (2, 3)
    assert layer.trainable is True
    assert layer.output is input_tensor  # a tensor made directly becomes the layer's output
    assert layer.output.ndim == input_tensor.ndim and layer.output.dtype == "float32"
    model = Model(layer.output, layers.Dense(2)(layer.output))  # and a model can start from it
    assert model.predict(np.ones((2, 3)), verbose=0).shape == (2, 2)


# keras/src/layers/core/input_layer_test.py::test_input_shape_deprecated
def test_input_shape_deprecated():
    with pytest.warns(UserWarning, match="Argument `input_shape` is deprecated. Use `shape` instead."):
        layer = InputLayer(input_shape=(2, 3), batch_size=4, dtype="float32")
    assert layer.batch_shape[0] == 4 and layer.batch_shape[1:] == (2, 3)
    assert layer.dtype == "float32"
    assert isinstance(layer.output, KerasTensor)


# keras/src/layers/core/input_layer_test.py::test_call_method
def test_call_method():
    assert InputLayer(shape=(32,)).call() is None


# keras/src/layers/core/input_layer_test.py::test_numpy_shape
def test_numpy_shape():
    assert InputLayer(shape=(np.int64(32),)).batch_shape == (None, 32)
    assert Input(shape=(np.int32(4), np.int64(5))).shape == (None, 4, 5)


# keras/src/layers/core/input_layer_test.py::test_invalid_arg_combinations
def test_invalid_arg_combinations():
    input_tensor = KerasTensor(shape=(2, 3), dtype="float32")
    for kwargs, word in [({"shape": (2, 4)}, "shape"), ({"batch_shape": (2, 4)}, "batch_shape"),
                         ({"batch_size": 5}, "batch_size"), ({"dtype": "float16"}, "dtype"),
                         ({"sparse": True}, "sparse")]:
        with pytest.raises(ValueError, match=f"cannot provide an incompatible `{word}`"):
            InputLayer(input_tensor=input_tensor, **kwargs)
    # this works
    layer = InputLayer(shape=(3,), batch_size=2, sparse=False, dtype="float32", input_tensor=input_tensor)
    assert layer.batch_shape == (2, 3)


def test_keras_1_and_2_spellings():
    """Input(shape=..., name=...), batch_shape / batch_input_shape, InputLayer(batch_input_shape=...)
    and Keras 2's Input(tensor=...) of a graph tensor (whose own shape wins over a shape with None)."""
    a = Input(shape=(3,), name="a")
    assert a.shape == (None, 3) and a._keras_history[0].name == "a"
    assert Input(batch_shape=(4, 3)).shape == (4, 3)
    assert Input(batch_input_shape=(None, 5)).shape == (None, 5)
    assert InputLayer(batch_input_shape=(None, 6)).batch_shape == (None, 6)
    assert Input(7).shape == (None, 7)
    placeholder = K.placeholder(shape=(2, 6, 6, 2))
    image = Input(tensor=placeholder, shape=(None, None, 2))
    assert image.shape == (2, 6, 6, 2) and image is not placeholder
    with pytest.raises(ValueError, match="cannot provide an incompatible `shape`"):
        Input(tensor=placeholder, shape=(None, None, 3))


def test_optional_input_layer():
    """Input(optional=True): the layer says so (and its config keeps it); a model may be called
    with None for it (tests/keras_compat/test_functional.py has the calls)."""
    layer = InputLayer(shape=(2,), optional=True, name="maybe")
    assert layer.optional is True
    assert layer.get_config()["optional"] is True
    assert InputLayer.from_config(layer.get_config()).optional is True
    assert InputLayer(shape=(2,)).optional is False
    assert Input(shape=(2,), optional=True)._keras_history[0].optional is True


def test_input_config_round_trip_matches_keras():
    layer = InputLayer(batch_shape=(None, 4), dtype="int32", name="ids")
    config = layer.get_config()
    assert config["batch_shape"] == (None, 4) and config["dtype"] == "int32" and config["name"] == "ids"
    k_config = keras.layers.InputLayer(batch_shape=(None, 4), dtype="int32", name="ids").get_config()
    assert {k: k_config[k] for k in ("batch_shape", "dtype", "name")} == config


# ---------------------------------------------------------------------------- InputSpec on layer calls
def _spec_layers(lib, spec_cls, spec_kwargs):
    class Checked(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.input_spec = spec_cls(**spec_kwargs)

        def call(self, x):
            return x * 2

        def compute_output_shape(self, shape):
            return shape
    return Checked(name="checked")


@pytest.mark.parametrize("spec, shape, phrase", [
    ({"ndim": 3}, (2, 4), "expected ndim=3, found ndim=2"),
    ({"min_ndim": 3}, (2, 4), "expected min_ndim=3, found ndim=2"),
    ({"max_ndim": 2}, (2, 4, 1), "expected max_ndim=2, found ndim=3"),
    ({"axes": {-1: 5}}, (2, 4), "expected axis -1 of input shape to have value 5"),
    ({"shape": (None, 5)}, (2, 4), "expected shape=(None, 5), found shape=(2, 4)"),
    ({"dtype": "int32"}, (2, 4), "expected dtype=int32, found dtype=float32"),
])
def test_input_spec_checked_with_keras_wording(spec, shape, phrase):
    """keras/src/layers/input_spec.py: a layer's input_spec is checked on every call, symbolic and
    eager, with Keras's message (the same key phrase Keras 3 gives for the same call)."""
    pattern = f"Input 0 .*of layer 'checked' is incompatible with the layer: {re.escape(phrase)}"
    ours = _spec_layers(irgraph, InputSpec, spec)
    with pytest.raises(ValueError, match=pattern):
        ours(Input(batch_shape=shape))
    with pytest.raises(ValueError, match=pattern):
        ours(np.zeros(shape, "float32"))
    theirs = _spec_layers(keras, keras.layers.InputSpec, spec)
    with pytest.raises(ValueError, match=pattern):
        theirs(keras.Input(batch_shape=shape))


def test_input_spec_accepts_what_fits():
    layer = _spec_layers(irgraph, InputSpec, {"shape": (None, 4), "axes": {1: 4}, "min_ndim": 2})
    np.testing.assert_allclose(layer(np.ones((3, 4), "float32")), 2.0)
    assert layer(Input((4,))).shape == (None, 4)


def test_input_spec_structure_errors():
    """A list of specs: the count is checked (Keras's 'expects 2 input(s)'); named specs read a dict
    by name ('Missing data for input')."""
    class Pair(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.input_spec = [InputSpec(ndim=2, name="left"), InputSpec(ndim=2, name="right")]

        def call(self, inputs):
            return inputs["left"] + inputs["right"] if isinstance(inputs, dict) else inputs[0] + inputs[1]

    pair = Pair(name="pair")
    a, b = Input((3,)), Input((3,))
    with pytest.raises(ValueError, match=r'Layer "pair" expects 2 named input\(s\)'):
        pair([a, b, a])
    with pytest.raises(ValueError, match='Missing data for input "right"'):
        pair({"left": a})
    assert pair({"left": a, "right": b}).shape == (None, 3)


def test_input_spec_config_and_errors():
    spec = InputSpec(shape=(None, 3), name="x", optional=True)
    assert spec.ndim == 2 and InputSpec.from_config(spec.get_config()).shape == (None, 3)
    with pytest.raises(TypeError, match="Argument `axes` must be a dict with integer keys"):
        InputSpec(axes={"a": 1})
    with pytest.raises(ValueError, match="Axis 3 is greater than the maximum allowed value: 1"):
        InputSpec(ndim=2, axes={3: 1})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert repr(InputSpec(ndim=2)) == "InputSpec(ndim=2)"
