"""TimeDistributed held to the behaviours of keras/src/layers/rnn/time_distributed_test.py (Keras 3),
plus the wrapper behaviours those tests rely on: nested wrapping, a model inside, the training flag
reaching the wrapped layer, compute_output_shape and the config round trip.

Out of scope / deviations (issue 10's rule for a functional-API-to-ONNX tool):
  * test_with_mask_zero feeds float ids drawn from uniform(1, 10) that Keras truncates to integers;
    irgraph refuses non-integral ids with an error naming the Embedding (issue 7's bad-input rule),
    so the mirror feeds the same ids as integers.
  * run_layer_test's seed-generator and dtype-policy checks: dtype policies are out of scope.
"""
import numpy as np
import pytest

from irgraph import backend as K
from irgraph import initializers, layers
from irgraph.layers import Conv2D, Dense, Dropout, Embedding, Input, TimeDistributed
from irgraph.models import Model, Sequential

from .keras_torch import keras

MASK_SHAPE_ERROR = r"The `mask` passed to the `TimeDistributed` layer has a shape"


def _sequence():
    return np.arange(24).reshape((3, 2, 4)).astype("float32")


def _softmax_td():
    return TimeDistributed(Dense(units=5, activation="softmax"))


# keras/src/layers/rnn/time_distributed_test.py::test_basics
def test_basics():
    layer = TimeDistributed(Dense(1, use_bias=False))
    out = layer(np.random.random((3, 2, 4)).astype("float32"))
    assert out.shape == (3, 2, 1)
    assert len(layer.trainable_weights) == 1 and len(layer.non_trainable_weights) == 0
    assert layer.supports_masking
    x = Input(batch_shape=(3, 2, 4))
    assert tuple(TimeDistributed(Dense(1, use_bias=False))(x).shape) == (3, 2, 1)


# keras/src/layers/rnn/time_distributed_test.py::test_basics (run_layer_test's config round trip)
def test_config_round_trip():
    layer = TimeDistributed(Dense(3, use_bias=False), name="td")
    again = TimeDistributed.from_config(layer.get_config())
    assert again.name == "td" and isinstance(again.layer, Dense) and again.layer.units == 3
    assert not again.layer.use_bias and again.get_config() == layer.get_config()


# keras/src/layers/rnn/time_distributed_test.py::test_build
def test_build():
    inputs = Input(shape=(10, 128, 128, 3), batch_size=32)
    outputs = TimeDistributed(Conv2D(64, (3, 3)))(inputs)
    assert tuple(outputs.shape) == (32, 10, 126, 126, 64)


# keras/src/layers/rnn/time_distributed_test.py::test_correctness
def test_correctness():
    layer = TimeDistributed(Dense(1, kernel_initializer=initializers.Constant(0.01), use_bias=False))
    want = np.array([[[0.06], [0.22]], [[0.38], [0.54]], [[0.7], [0.86]]])
    np.testing.assert_allclose(layer(_sequence()), want, rtol=1e-5)


class MaskedDense(layers.Wrapper):
    """Keras's test wrapper: a Dense whose outputs are zeroed where the mask is false."""

    def __init__(self, units, **kwargs):
        super().__init__(Dense(units, kernel_initializer=initializers.Constant(0.01), use_bias=False), **kwargs)
        self.supports_masking = True

    def call(self, inputs, training=False, mask=None):
        unmasked = self.layer.call(inputs)
        if mask is None:
            return unmasked
        return K.transpose(K.transpose(unmasked) * K.cast(mask, inputs.dtype))


# keras/src/layers/rnn/time_distributed_test.py::test_masking
def test_masking_reaches_wrapped_layer_per_step():
    layer = TimeDistributed(MaskedDense(1))
    mask = np.array([[False, True], [True, False], [True, True]])
    want = np.array([[[0], [0.22]], [[0.38], [0]], [[0.7], [0.86]]])
    np.testing.assert_allclose(layer(_sequence(), mask=mask), want, rtol=1e-5, atol=1e-7)
    assert len(layer.weights) == 1  # the Wrapper built its Dense


# keras/src/layers/rnn/time_distributed_test.py::test_with_mask_zero (integer ids: module docstring)
def test_with_mask_zero_trains():
    model = Sequential([Input(shape=(20,)), Embedding(input_dim=10, output_dim=5, mask_zero=True),
                        TimeDistributed(Dense(units=5, activation="softmax"))])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.integers(1, 10, size=(22, 20)), rng.integers(1, 2, size=(22, 20))
    history = model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and "accuracy" in history.history


# keras/src/layers/rnn/time_distributed_test.py::test_mask_validation_with_mismatched_timesteps
def test_mask_validation_with_mismatched_timesteps():
    td, x = _softmax_td(), np.zeros((4, 5, 3))
    assert td(x, mask=np.ones((4, 5), bool)).shape == (4, 5, 5)
    with pytest.raises(ValueError, match=MASK_SHAPE_ERROR):
        td(x, mask=np.ones((4, 6), bool))


# keras/src/layers/rnn/time_distributed_test.py::test_mask_validation_with_mismatched_batch_size
def test_mask_validation_with_mismatched_batch_size():
    with pytest.raises(ValueError, match=MASK_SHAPE_ERROR):
        _softmax_td()(np.zeros((4, 5, 3)), mask=np.ones((5, 5), bool))


# keras/src/layers/rnn/time_distributed_test.py::test_mask_validation_with_correct_shape
def test_mask_validation_with_correct_shape():
    assert _softmax_td()(np.zeros((4, 5, 3)), mask=np.ones((4, 5, 1), bool)).shape == (4, 5, 5)


# keras/src/layers/rnn/time_distributed_test.py::test_mask_validation_with_3d_mask
def test_mask_validation_with_3d_mask():
    td, x = _softmax_td(), np.zeros((4, 5, 3))
    assert td(x, mask=np.ones((4, 5, 2), bool)).shape == (4, 5, 5)
    with pytest.raises(ValueError, match=MASK_SHAPE_ERROR):
        td(x, mask=np.ones((4, 6, 2), bool))


# keras/src/layers/rnn/time_distributed_test.py::test_mask_validation_with_none_mask
def test_mask_validation_with_none_mask():
    assert _softmax_td()(np.zeros((4, 5, 3)), mask=None).shape == (4, 5, 5)


# keras/src/layers/rnn/time_distributed_test.py::test_mask_validation_with_both_batch_and_timesteps_mismatched
def test_mask_validation_with_both_batch_and_timesteps_mismatched():
    with pytest.raises(ValueError, match=MASK_SHAPE_ERROR):
        _softmax_td()(np.zeros((4, 5, 3)), mask=np.ones((5, 6), bool))


# functional calls are checked too (the mask of a symbolic call, time axis known)
def test_mask_validation_in_functional_call():
    x, m = Input(shape=(5, 3)), Input(shape=(6,), dtype="bool")
    with pytest.raises(ValueError, match=MASK_SHAPE_ERROR):
        _softmax_td()(x, mask=m)


# keras/src/layers/rnn/time_distributed_test.py::test_correctness against Keras 3 itself: a wrapped
# Conv2D with Keras's weights gives Keras's outputs (nested wrapping and a model inside as well)
def test_against_keras_conv_nested_and_model():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 6, 6, 2)).astype("float32")
    td = TimeDistributed(Conv2D(4, 3, activation="relu"))
    ktd = keras.layers.TimeDistributed(keras.layers.Conv2D(4, 3, activation="relu"))
    want = keras.ops.convert_to_numpy(ktd(x))
    td(x)
    td.set_weights(ktd.get_weights())
    np.testing.assert_allclose(td(x), want, rtol=1e-5, atol=1e-5)

    x4 = rng.standard_normal((2, 3, 4, 5)).astype("float32")  # TimeDistributed(TimeDistributed(Dense))
    nested, knested = (TimeDistributed(TimeDistributed(Dense(2))),
                       keras.layers.TimeDistributed(keras.layers.TimeDistributed(keras.layers.Dense(2))))
    want = keras.ops.convert_to_numpy(knested(x4))
    nested(x4)
    nested.set_weights(knested.get_weights())
    np.testing.assert_allclose(nested(x4), want, rtol=1e-5, atol=1e-6)

    i = Input((5,))
    inner = Model(i, Dense(3, activation="tanh")(i))
    ki = keras.Input((5,))
    kinner = keras.Model(ki, keras.layers.Dense(3, activation="tanh")(ki))
    seq_in, kseq_in = Input((4, 5)), keras.Input((4, 5))
    model = Model(seq_in, TimeDistributed(inner)(seq_in))
    kmodel = keras.Model(kseq_in, keras.layers.TimeDistributed(kinner)(kseq_in))
    model.set_weights(kmodel.get_weights())
    x3 = rng.standard_normal((2, 4, 5)).astype("float32")
    np.testing.assert_allclose(model.predict(x3), kmodel.predict(x3, verbose=0), rtol=1e-5, atol=1e-6)


# the training flag reaches the wrapped layer (Keras passes `training` to its call)
def test_training_flag_reaches_wrapped_layer():
    inputs = Input((4, 50))
    model = Model(inputs, TimeDistributed(Dropout(0.5))(inputs))
    x = np.ones((2, 4, 50), "float32")
    np.testing.assert_allclose(model(x, training=False), x)
    dropped = np.asarray(model(x, training=True))
    assert set(np.unique(dropped)) <= {0.0, 2.0} and 0 < (dropped == 0).mean() < 1


# keras/src/layers/rnn/time_distributed_test.py::test_build (compute_output_shape)
def test_compute_output_shape():
    assert tuple(TimeDistributed(Dense(7)).compute_output_shape((None, 3, 4))) == (None, 3, 7)
    assert tuple(TimeDistributed(Conv2D(2, 3)).compute_output_shape((8, 5, 6, 6, 1))) == (8, 5, 4, 4, 2)
