"""Keras-weights round trip for every seed model (issue 10's acceptance point).

For every model of every seed listing (examples/seed_models.py, the sizes of ``listings()``), the same
model is built in Keras 3 (torch backend) and in irgraph; ``keras_model.get_weights()`` loads into the
irgraph model by ``set_weights`` and both predict the same (1e-5 relative); then irgraph's weights
load into the Keras model and the predictions match again.

How the Keras model is built: Keras 3 reads the configuration irgraph writes for the model
(``model.to_json()`` in Keras 3's format) with its own ``deserialize_keras_object`` and builds it with
its own layers, so it runs Keras's implementation of every layer. Keras 1/2 spellings of the listings
(``Convolution2D(64, 3, 3, border_mode=...)``, ``merge(mode='concat')``, ``Dense(output_dim=)``,
``Embedding(input_length=)``, Keras 1's 'th' image ordering) reach Keras 3 as its equivalents
(``Conv2D(64, (3, 3), padding=..., data_format='channels_first')``, ``Concatenate``...). Six of these
architectures also have hand-built Keras twins in test_functional_layers.py.

Three seed models call code that is irgraph's, which Keras cannot run; their Keras side is given as
Keras code doing the same thing (not matched silently: the reason is stated at each):
  * 004/euclidean_distance: the Lambda's function uses irgraph.backend (K.sqrt, K.sum, K.square);
    Keras gets the same function written with keras.ops.
  * 004/lrn: the custom LocalResponseNormalization layer uses irgraph.backend; Keras gets the same
    layer written with keras.ops (same __init__ arguments, read from irgraph's auto-config).
  * 004/square_lambda: an anonymous ``lambda x: x ** 2``; Keras runs the code record irgraph writes
    (Keras's ``safe_mode=False``, which these tests trust since irgraph wrote it in this process).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from examples import seed_models as seeds
from irgraph.layers import Lambda

from .keras_torch import keras

ops = keras.ops


def keras_euclidean_distance(vecs):
    x, y = vecs
    return ops.sqrt(ops.sum(ops.square(x - y), axis=1, keepdims=True))


def euclidean_distance_output_shape(shapes):
    return (shapes[0][0], 1)


class KerasLocalResponseNormalization(keras.layers.Layer):
    """The seed's LRN layer (channels_last path) written with keras.ops."""

    def __init__(self, n=5, alpha=0.0005, beta=0.75, k=2, **kwargs):
        super().__init__(**kwargs)
        self.n, self.alpha, self.beta, self.k = n, alpha, beta, k

    def call(self, x):
        f = x.shape[-1]
        pooled = ops.average_pool(ops.square(x), (self.n, self.n), strides=(1, 1), padding="same")
        averaged = self.alpha * ops.repeat(ops.sum(pooled, axis=3, keepdims=True), f, axis=3)
        return x / ops.power(self.k + averaged, self.beta)


KERAS_CODE = {"euclidean_distance": keras_euclidean_distance,
              "euclidean_distance_output_shape": euclidean_distance_output_shape,
              "LocalResponseNormalization": KerasLocalResponseNormalization}


def _keras_twin(model):
    """The Keras 3 model built from irgraph's Keras 3 config of ``model``."""
    for layer in model.layers:
        if isinstance(layer, Lambda) and layer.function.__name__ != "<lambda>":
            assert layer.function.__name__ in KERAS_CODE, layer.function.__name__  # named above
    return keras.saving.deserialize_keras_object(json.loads(model.to_json()), custom_objects=KERAS_CODE,
                                                 safe_mode=False)


def _as_list(y):
    return [np.asarray(v) for v in (y if isinstance(y, (list, tuple)) else [y])]


def _check_same_predictions(ir_model, k_model, xs, where):
    feed = xs if len(xs) > 1 else xs[0]
    want = _as_list(k_model.predict(feed, verbose=0))
    got = _as_list(ir_model.predict(feed))
    assert len(got) == len(want), where
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=where)


def _randomized(weights, seed):
    """Other weights of the same shapes (so the second direction checks new values)."""
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(w.shape) * 0.1).astype(w.dtype) for w in weights]


@pytest.mark.parametrize("key", [key for key, _ in seeds.listings()])
def test_keras_weights_round_trip(key):
    builder = dict(seeds.listings())[key]
    ns = builder()
    assert ns.models, key
    for name, model in ns.models.items():
        where = f"{key}:{name}"
        k_model = _keras_twin(model)
        k_weights = k_model.get_weights()
        assert [w.shape for w in k_weights] == [tuple(v.shape) for v in model.weights], where
        xs = seeds.random_inputs(model, batch=2, seed=1)
        # Keras's weights into irgraph
        model.set_weights(k_weights)
        _check_same_predictions(model, k_model, xs, where + " (Keras weights in irgraph)")
        # irgraph's weights into Keras
        model.set_weights(_randomized(model.get_weights(), seed=2))
        k_model.set_weights(model.get_weights())
        _check_same_predictions(model, k_model, xs, where + " (irgraph weights in Keras)")
