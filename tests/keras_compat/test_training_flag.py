"""``model(x, training=...)`` on arrays, held to the behaviours of keras/src/models/model_test.py and
keras/src/layers/normalization/batch_normalization_test.py (Keras 3): an eager call with
``training=True`` runs the training behaviour (Dropout active, BatchNormalization normalising by the
batch statistics and updating its moving statistics); ``training=False``/omitted is inference."""

import numpy as np
import pytest

from irgraph.layers import BatchNormalization, Dense, Dropout
from irgraph.models import Model, Sequential
from irgraph.tensor import Input


def _dropout_model(rate=0.99):
    i = Input((200,))
    return Model(i, Dropout(rate)(i))


# keras/src/models/model_test.py::test_training_arg (training=True reaches the layers of the call)
def test_training_true_runs_dropout():
    m = _dropout_model()
    x = np.ones((4, 200), "float32")
    y = m(x, training=True)
    assert y.shape == x.shape
    assert (y == 0).mean() > 0.9          # nearly everything dropped
    kept = y[y != 0]
    np.testing.assert_allclose(kept, 100.0, rtol=1e-5)  # kept units scaled by 1 / (1 - rate)


# keras/src/layers/regularization/dropout_test.py::test_dropout_basics (inference is the identity)
@pytest.mark.parametrize("kwargs", [{}, {"training": False}, {"training": None}])
def test_training_false_or_omitted_is_inference(kwargs):
    m = _dropout_model()
    x = np.ones((4, 200), "float32")
    np.testing.assert_array_equal(m(x, **kwargs), x)


def test_training_positional_and_fresh_masks():
    m = _dropout_model(0.5)
    x = np.ones((8, 200), "float32")
    a, b = m(x, True), m(x, True)
    assert 0.3 < (a == 0).mean() < 0.7
    assert not np.array_equal(a, b)        # a new mask per call
    np.testing.assert_array_equal(m.predict(x, verbose=0), x)  # predict stays inference


def test_training_flag_must_be_bool():
    with pytest.raises(ValueError, match="training must be"):
        _dropout_model()(np.ones((1, 200), "float32"), training="yes")


def _bn_model():
    i = Input((3,))
    bn = BatchNormalization(momentum=0.9)
    return Model(i, Dense(2, name="d")(bn(i))), bn


# keras/src/layers/normalization/batch_normalization_test.py::test_correctness (batch statistics in
# training, moving statistics updated by the call; Keras does this in eager calls, not only in fit)
def test_batchnorm_training_call_uses_batch_stats_and_updates_moving_stats():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(16, 3)) * 3 + 5).astype("float32")
    i = Input((3,))
    bn = BatchNormalization(momentum=0.9)
    m = Model(i, bn(i))
    y = m(x, training=True)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(y.std(0), 1, atol=1e-2)
    mean, var = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    np.testing.assert_allclose(mean, 0.1 * x.mean(0), rtol=1e-4)
    np.testing.assert_allclose(var, 0.9 + 0.1 * x.var(0), rtol=1e-4)
    m(x, training=True)  # the second call starts from the updated statistics
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.9 * mean + 0.1 * x.mean(0), rtol=1e-4)
    # inference now uses the moving statistics
    expect = (x - bn.moving_mean.numpy()) / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
    np.testing.assert_allclose(m(x), expect, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(m.predict(x, verbose=0), expect, rtol=1e-4, atol=1e-4)


def test_training_call_on_sequential_and_nested_model():
    inner = Sequential([Dense(4), Dropout(0.99)])
    outer_in = Input((3,))
    outer = Model(outer_in, inner(outer_in))
    x = np.ones((5, 3), "float32")
    assert (outer(x, training=True) == 0).mean() > 0.8
    np.testing.assert_allclose(outer(x), inner(x), rtol=1e-6)


# the same model in Keras 3 (torch backend): identical outputs and moving statistics after a
# training call (keras/src/models/model_test.py, eager calls)
def test_matches_keras_training_call():
    from .keras_torch import keras
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, 3)).astype("float32") * 2 + 1
    m, bn = _bn_model()
    ki = keras.Input((3,))
    kbn = keras.layers.BatchNormalization(momentum=0.9)
    km = keras.Model(ki, keras.layers.Dense(2, name="d")(kbn(ki)))
    km.set_weights(m.get_weights())
    want = keras.ops.convert_to_numpy(km(x, training=True))
    np.testing.assert_allclose(m(x, training=True), want, rtol=1e-4, atol=1e-5)
    for ours, theirs in zip(m.get_weights(), km.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
    want = keras.ops.convert_to_numpy(km(x))
    np.testing.assert_allclose(m(x), want, rtol=1e-4, atol=1e-5)
