"""Keras initializers: names, shapes, bounds and statistics, fans, serialization, errors."""
import numpy as np
import pytest

import irgraph
from irgraph import initializers as I
from irgraph import layers as L

DENSE = (400, 300)      # fan_in 400, fan_out 300
CONV = (3, 3, 32, 64)   # receptive field 9: fan_in 288, fan_out 576


def fans(shape):
    return (400, 300) if shape == DENSE else (288, 576)


def draw(name, shape, **kw):
    return I.get(name)(shape, "float32") if not kw else I.get({"class_name": name, "config": kw})(shape)


@pytest.mark.parametrize("shape", [DENSE, CONV])
@pytest.mark.parametrize("name,scale,mode", [
    ("glorot_uniform", 1.0, "avg"), ("he_uniform", 2.0, "in"), ("lecun_uniform", 1.0, "in"),
])
def test_uniform_variance_scaling(name, scale, mode, shape):
    fan_in, fan_out = fans(shape)
    n = {"in": fan_in, "avg": (fan_in + fan_out) / 2}[mode]
    limit = np.sqrt(3 * scale / n)  # glorot: sqrt(6 / (fan_in + fan_out))
    w = draw(name, shape)
    assert w.shape == shape and w.dtype == np.float32
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.98 * limit
    assert abs(w.std() - limit / np.sqrt(3)) < 0.02 * limit


@pytest.mark.parametrize("shape", [DENSE, CONV])
@pytest.mark.parametrize("name,scale,mode", [
    ("glorot_normal", 1.0, "avg"), ("he_normal", 2.0, "in"), ("lecun_normal", 1.0, "in"),
])
def test_truncated_normal_variance_scaling(name, scale, mode, shape):
    fan_in, fan_out = fans(shape)
    n = {"in": fan_in, "avg": (fan_in + fan_out) / 2}[mode]
    std = np.sqrt(scale / n)
    w = draw(name, shape)
    assert w.shape == shape
    assert abs(w.std() - std) < 0.02 * std  # Keras corrects the truncation's variance loss
    assert np.abs(w).max() <= 2 * std / 0.87962566103423978 * (1 + 1e-6)
    assert abs(w.mean()) < 0.02 * std


def test_glorot_uniform_default_limit():
    w = I.GlorotUniform()((50, 30))
    assert np.abs(w).max() <= np.sqrt(6 / 80)


@pytest.mark.parametrize("shape", [(64, 32), (32, 64), (3, 3, 4, 8), (16, 16)])
def test_orthogonal(shape):
    w = I.get("orthogonal")(shape).reshape(-1, shape[-1]).astype(np.float64)
    gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=1e-5)
    w2 = I.Orthogonal(gain=2.0)(shape).reshape(-1, shape[-1])
    assert abs(np.linalg.norm(w2, 2) - 2.0) < 1e-4
    with pytest.raises(ValueError, match="rank >= 2"):
        I.Orthogonal()((5,))


def test_constants_and_identity():
    assert (I.get("zeros")((3, 2)) == 0).all() and (I.get("zero")((3,)) == 0).all()
    assert (I.get("ones")((3, 2)) == 1).all() and (I.get("one")((2,)) == 1).all()
    assert (I.get("constant")((2, 2)) == 0).all()
    assert (I.Constant(0.5)((2, 3)) == 0.5).all()
    assert (I.get({"class_name": "Constant", "config": {"value": 3}})((4,)) == 3).all()
    np.testing.assert_array_equal(I.get("identity")((3, 3)), np.eye(3))
    np.testing.assert_array_equal(I.Identity(gain=2.0)((2, 4)), 2 * np.eye(2, 4))
    with pytest.raises(ValueError, match="2D shape"):
        I.get("identity")((2, 2, 2))


def test_random_normal_uniform_truncated():
    w = I.get("random_normal")(DENSE)
    assert abs(w.std() - 0.05) < 0.001 and abs(w.mean()) < 0.001
    w = I.RandomNormal(mean=1.0, stddev=2.0)(DENSE)
    assert abs(w.std() - 2.0) < 0.04 and abs(w.mean() - 1.0) < 0.04
    w = I.get("random_uniform")(DENSE)
    assert w.min() >= -0.05 and w.max() <= 0.05 and w.max() > 0.049
    w = I.RandomUniform(minval=2.0, maxval=3.0)(DENSE)
    assert w.min() >= 2.0 and w.max() <= 3.0
    w = I.get("truncated_normal")(DENSE)
    assert np.abs(w).max() <= 0.1 + 1e-7 and np.abs(w).max() > 0.095
    w = I.TruncatedNormal(mean=1.0, stddev=0.5)(DENSE)
    assert np.abs(w - 1.0).max() <= 1.0 + 1e-6
    # Keras 1 spellings draw with scale 0.05
    assert np.abs(I.get("uniform")(DENSE)).max() <= 0.05
    assert abs(I.get("normal")(DENSE).std() - 0.05) < 0.001


def test_fans():
    assert I._fans((7,)) == (7, 7)
    assert I._fans((4, 5)) == (4, 5)
    assert I._fans((3, 16, 32)) == (48, 96)          # Conv1D kernel
    assert I._fans((3, 3, 16, 32)) == (144, 288)     # Conv2D kernel
    assert I._fans((2, 3, 3, 16, 32)) == (288, 576)  # Conv3D kernel
    vs = I.VarianceScaling(scale=1.0, mode="fan_out", distribution="uniform")
    assert np.abs(vs((3, 3, 16, 32))).max() <= np.sqrt(3 / 288)


def test_seeds():
    irgraph.set_seed(5)
    a = I.get("glorot_uniform")((4, 4))
    irgraph.set_seed(5)
    np.testing.assert_array_equal(a, I.get("glorot_uniform")((4, 4)))
    np.testing.assert_array_equal(I.HeNormal(seed=3)((5, 5)), I.HeNormal(seed=3)((5, 5)))
    assert not np.array_equal(I.HeNormal(seed=3)((5, 5)), I.HeNormal(seed=4)((5, 5)))


@pytest.mark.parametrize("name", ["glorot_uniform", "GlorotNormal", "he_normal", "HeUniform", "lecun_normal",
                                  "LecunUniform", "orthogonal", "zeros", "Ones", "constant", "random_normal",
                                  "RandomUniform", "truncated_normal", "identity", "VarianceScaling"])
def test_names_classes_and_serialize_round_trip(name):
    init = I.get(name)
    cfg = I.serialize(init)
    again = I.get(cfg)
    assert type(again) is type(init) and again.get_config() == init.get_config()
    assert I.get(type(init)).get_config() == init.get_config()  # a class is instantiated


def test_serialize_keeps_arguments():
    cfg = I.serialize(I.RandomNormal(mean=1.0, stddev=0.2, seed=7))
    assert cfg == {"class_name": "RandomNormal", "config": {"mean": 1.0, "stddev": 0.2, "seed": 7}}
    assert I.serialize(I.HeNormal(seed=1)) == {"class_name": "HeNormal", "config": {"seed": 1}}
    init = I.get({"class_name": "VarianceScaling", "config": {"scale": 2.0, "mode": "fan_out",
                                                               "distribution": "uniform"}})
    assert init.mode == "fan_out" and init.scale == 2.0


def test_callables_and_layers_use_initializers():
    d = L.Dense(3, kernel_initializer=lambda shape, dtype=None: np.full(shape, 0.25), bias_initializer="ones")
    d.build((None, 2))
    assert (d.get_weights()[0] == 0.25).all() and (d.get_weights()[1] == 1).all()
    d = L.Dense(3, kernel_initializer=I.Orthogonal(gain=1.0), bias_initializer=I.Constant(2.0))
    d.build((None, 3))
    k = d.get_weights()[0]
    np.testing.assert_allclose(k.T @ k, np.eye(3), atol=1e-5)
    emb = L.Embedding(50, 8)
    emb.build((None, 3))
    assert np.abs(emb.get_weights()[0]).max() <= 0.05  # Keras default: uniform(-0.05, 0.05)


def test_unknown_initializer_names_layer():
    with pytest.raises(ValueError, match=r"layer 'fc'.*unknown initializer 'glorot'"):
        L.Dense(3, kernel_initializer="glorot", name="fc")
    with pytest.raises(ValueError, match=r"layer 'bn'.*'one_s'"):
        L.BatchNormalization(gamma_initializer="one_s", name="bn")
    with pytest.raises(ValueError, match=r"layer 'emb'.*'unifrom'"):
        L.Embedding(10, 3, embeddings_initializer="unifrom", name="emb")

    class Custom(L.Layer):
        def build(self, input_shape):
            self.w = self.add_weight("w", (2, 2), initializer="nope")

        def call(self, x):
            return x

    with pytest.raises(ValueError, match=r"layer 'custom', weight 'w'.*'nope'"):
        Custom()(irgraph.Input((2,)))
    with pytest.raises(TypeError, match="cannot interpret 3"):
        I.get(3)
    with pytest.raises(ValueError, match="mode must be"):
        I.VarianceScaling(mode="fan_sum")
