"""Lambda held to the behaviours of keras/src/layers/core/lambda_layer_test.py (Keras 3): output
shapes (traced, a shape, a shape function), a fixed mask, the config round trip with the function
from custom_objects, and safe_mode: a stored lambda's code is never run.

Deviation (irgraph's rule, DESIGN.md "Nothing loaded from a file is executed"): Keras runs the
stored code of a lambda when ``from_config(config, safe_mode=False)`` is asked for; irgraph never
does, with or without safe_mode, and takes the function from ``custom_objects`` instead (tests
below). Out of scope: run_layer_test's seed-generator and dtype-policy checks (dtype policies are
out of scope for this tool).
"""
import json

import numpy as np
import pytest

from irgraph import backend as K
from irgraph.layers import Input, Lambda
from irgraph.models import Model

from .keras_torch import keras


def _round_trip(layer, custom_objects):
    """get_config -> JSON -> from_config, as Keras's run_layer_test does."""
    return Lambda.from_config(json.loads(json.dumps(layer.get_config())), custom_objects=custom_objects)


def stacker(x):
    return K.concatenate([x, x], axis=1)


def stacker_shape(s):
    return (s[0], s[1] * 2)


# keras/src/layers/core/lambda_layer_test.py::test_lambda_basics (a backend function, no mask)
def test_basics_function():
    layer = Lambda(K.square)
    x = np.random.random((2, 3)).astype("float32")
    np.testing.assert_allclose(layer(x), x ** 2, rtol=1e-6)
    assert layer.weights == [] and not layer.supports_masking
    assert tuple(layer.compute_output_shape((2, 3))) == (2, 3)
    again = _round_trip(layer, {"square": K.square})
    np.testing.assert_allclose(again(x), x ** 2, rtol=1e-6)


# keras/src/layers/core/lambda_layer_test.py::test_lambda_basics (a fixed mask: supports masking)
def test_basics_fixed_mask():
    mask = np.ones((2, 3), bool)
    mask[1, 2] = False
    layer = Lambda(K.square, mask=mask)
    assert layer.supports_masking
    inputs = Input(shape=(3, 4))
    out = layer(inputs)
    assert tuple(out.shape) == (None, 3, 4)
    np.testing.assert_array_equal(Model(inputs, out._keras_mask).predict(np.ones((2, 3, 4), "float32")), mask)
    again = _round_trip(layer, {"square": K.square})
    assert again.supports_masking
    np.testing.assert_array_equal(again.mask, mask)


# keras/src/layers/core/lambda_layer_test.py::test_lambda_basics (output_shape given as a shape)
def test_basics_output_shape_tuple():
    layer = Lambda(stacker, output_shape=(6,))
    assert tuple(layer.compute_output_shape((2, 3))) == (2, 6)
    assert layer(np.ones((2, 3), "float32")).shape == (2, 6)
    again = _round_trip(layer, {"stacker": stacker})
    assert again.get_config()["output_shape"] == (6,)
    assert tuple(again.compute_output_shape((2, 3))) == (2, 6)


# keras/src/layers/core/lambda_layer_test.py::test_lambda_basics (output_shape given as a function)
def test_basics_output_shape_function():
    layer = Lambda(stacker, output_shape=stacker_shape)
    assert tuple(layer.compute_output_shape((2, 3))) == (2, 6)
    assert layer(np.ones((2, 3), "float32")).shape == (2, 6)
    again = _round_trip(layer, {"stacker": stacker, "stacker_shape": stacker_shape})
    assert again._output_shape is stacker_shape
    assert tuple(again.compute_output_shape((2, 3))) == (2, 6)


# keras/src/layers/core/lambda_layer_test.py::test_correctness (the function back from
# custom_objects; Keras's safe_mode=False decoding is never done here, see the module docstring)
def test_correctness():
    layer = Lambda(lambda x: x ** 2, name="sq")
    np.testing.assert_allclose(layer(2 * np.ones((2, 3))), 4 * np.ones((2, 3)))
    config = layer.get_config()
    assert config["function"]["class_name"] == "__lambda__"  # Keras 3's record of the code
    again = Lambda.from_config(config, custom_objects={"sq": lambda x: x ** 2}, safe_mode=False)
    np.testing.assert_allclose(again(2 * np.ones((2, 3))), 4 * np.ones((2, 3)))
    with pytest.raises(ValueError, match="arbitrary code execution.*custom_objects=\\{'sq': fn\\}"):
        Lambda.from_config(config, safe_mode=False)


# keras/src/layers/core/lambda_layer_test.py::test_from_config_fails_closed_without_safe_mode_scope
def test_from_config_fails_closed_without_safe_mode_scope():
    config = Lambda(lambda x: x ** 2).get_config()
    with pytest.raises(ValueError, match="Lambda"):
        Lambda.from_config(config)


# keras/src/layers/core/lambda_layer_test.py::test_correctness_lambda_shape
def test_correctness_lambda_shape():
    layer = Lambda(lambda x: x ** 2, output_shape=lambda s: s, name="sq")
    np.testing.assert_allclose(layer(2 * np.ones((2, 3))), 4 * np.ones((2, 3)))
    assert tuple(layer.compute_output_shape((2, 3))) == (2, 3)
    config = json.loads(json.dumps(layer.get_config()))
    again = Lambda.from_config(config, custom_objects={"sq": lambda x: x ** 2})
    np.testing.assert_allclose(again(2 * np.ones((2, 3))), 4 * np.ones((2, 3)))
    # the stored shape lambda is not run either: the traced shape answers
    assert tuple(again.compute_output_shape((2, 3))) == (2, 3)


# Lambda `arguments` (keyword arguments of the function) survive the round trip
def test_arguments_round_trip():
    def scale(x, factor):
        return x * factor

    layer = Lambda(scale, arguments={"factor": 3.0})
    np.testing.assert_allclose(layer(np.ones((1, 2), "float32")), 3.0)
    again = _round_trip(layer, {"scale": scale})
    assert again.arguments == {"factor": 3.0}
    np.testing.assert_allclose(again(np.ones((1, 2), "float32")), 3.0)


# a mask function survives the round trip; its name is looked up in custom_objects
def test_mask_function_round_trip():
    def keep_positive(inputs, mask=None):
        return K.any(K.greater(inputs, 0.0), axis=-1)

    layer = Lambda(K.square, mask=keep_positive, name="sq")
    inputs = Input(shape=(3, 2))
    x = np.array([[[1, 1], [-1, -1], [0, 2]]], "float32")
    mask = Model(inputs, layer(inputs)._keras_mask).predict(x)
    np.testing.assert_array_equal(mask, [[True, False, True]])
    with pytest.raises(ValueError, match="keep_positive"):
        _round_trip(layer, {"square": K.square})
    again = _round_trip(layer, {"square": K.square, "keep_positive": keep_positive})
    assert again.mask is keep_positive


# A config irgraph writes for a Lambda loads in Keras 3 (the function named in custom_objects; a
# lambda's code record with Keras's safe_mode=False), and Keras's Lambda config loads here
def test_config_interchange_with_keras3():
    def double(x):
        return x * 2

    x = np.random.random((2, 3)).astype("float32")
    k_layer = keras.layers.Lambda.from_config(Lambda(double, output_shape=(3,)).get_config(),
                                              custom_objects={"double": double})
    np.testing.assert_allclose(keras.ops.convert_to_numpy(k_layer(x)), 2 * x, rtol=1e-6)
    k_lambda = keras.layers.Lambda.from_config(Lambda(lambda t: t + 1).get_config(), safe_mode=False)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(k_lambda(x)), x + 1, rtol=1e-6)

    ours = Lambda.from_config(keras.layers.Lambda(double, name="dbl").get_config(),
                              custom_objects={"double": double})
    np.testing.assert_allclose(ours(x), 2 * x, rtol=1e-6)
    with pytest.raises(ValueError, match="arbitrary code execution"):
        Lambda.from_config(keras.layers.Lambda(lambda t: t + 1).get_config())
