"""Every Keras activation, through Activation layers and backend functions, against PyTorch."""
import pytest
import torch
import torch.nn.functional as F

import irgraph
from irgraph import activations
from irgraph import backend as K
from irgraph import layers as L
from helpers import assert_close, layer_output, rand


def _t(fn):
    return lambda x: fn(torch.from_numpy(x)).numpy()


TORCH = {
    "relu": _t(F.relu),
    "relu6": _t(F.relu6),
    "leaky_relu": _t(lambda x: F.leaky_relu(x, 0.2)),  # Keras 3 default negative_slope
    "elu": _t(F.elu),
    "selu": _t(F.selu),
    "gelu": _t(F.gelu),  # exact erf form is Keras's default
    "silu": _t(F.silu),
    "swish": _t(F.silu),
    "sigmoid": _t(torch.sigmoid),
    "hard_sigmoid": _t(lambda x: F.relu6(x + 3) / 6),  # Keras 3 definition
    "tanh": _t(torch.tanh),
    "softmax": _t(lambda x: F.softmax(x, dim=-1)),
    "log_softmax": _t(lambda x: F.log_softmax(x, dim=-1)),
    "softplus": _t(F.softplus),
    "softsign": _t(F.softsign),
    "exponential": _t(torch.exp),
    "linear": lambda x: x,
    "hard_silu": _t(F.hardswish),  # Keras 3 extras
    "hard_swish": _t(F.hardswish),
    "mish": _t(F.mish),
}


def _x(*shape):
    x = rand(*shape) * 3
    x.flat[:4] = [0.0, -3.0, 3.0, 7.0]  # hit the kinks of relu6 and hard_sigmoid
    return x


@pytest.mark.parametrize("name", sorted(TORCH))
def test_activation_layer(name):
    x = _x(3, 4, 6)
    assert_close(layer_output(L.Activation(name), x), TORCH[name](x))


@pytest.mark.parametrize("name", ["relu", "gelu", "softmax", "tanh"])
def test_dense_activation_string(name):
    x = _x(5, 6)
    d = L.Dense(4, activation=name)
    y = layer_output(d, x)
    w, b = d.get_weights()
    assert_close(y, TORCH[name](x @ w + b))


def test_activation_functions_by_module():
    x = _x(2, 7)
    assert_close(layer_output(L.Activation(activations.relu), x), TORCH["relu"](x))
    assert_close(layer_output(L.Lambda(lambda t: activations.leaky_relu(t, 0.05)), x),
                 F.leaky_relu(torch.from_numpy(x), 0.05).numpy())
    assert_close(layer_output(L.Lambda(lambda t: activations.elu(t, 0.5)), x),
                 F.elu(torch.from_numpy(x), 0.5).numpy())


def test_gelu_approximate_tanh_form():
    x = _x(3, 8)
    y = layer_output(L.Lambda(lambda t: K.gelu(t, approximate=True)), x)
    assert_close(y, F.gelu(torch.from_numpy(x), approximate="tanh").numpy())


@pytest.mark.parametrize("axis", [1, -1, 0])
def test_softmax_axis(axis):
    x = _x(2, 3, 5)
    y = layer_output(L.Lambda(lambda t: K.softmax(t, axis=axis)), x)  # axis 0 (batch) is legal too
    assert_close(y, F.softmax(torch.from_numpy(x), dim=axis).numpy())
    y = layer_output(L.Lambda(lambda t: K.log_softmax(t, axis=axis)), x)
    assert_close(y, F.log_softmax(torch.from_numpy(x), dim=axis).numpy())


def test_softmax_activation_with_axis_via_module():
    x = _x(2, 3, 5)
    y = layer_output(L.Activation(lambda t: activations.softmax(t, axis=1)), x)
    assert_close(y, F.softmax(torch.from_numpy(x), dim=1).numpy())


def test_relu_options():
    x = _x(4, 9)
    t = torch.from_numpy(x)
    y = layer_output(L.Lambda(lambda v: K.relu(v, max_value=2.5)), x)
    assert_close(y, torch.clamp(t, 0, 2.5).numpy())
    y = layer_output(L.Lambda(lambda v: K.relu(v, alpha=0.1)), x)
    assert_close(y, F.leaky_relu(t, 0.1).numpy())
    y = layer_output(L.Lambda(lambda v: K.relu(v, threshold=1.0)), x)
    assert_close(y, torch.where(t >= 1.0, t, torch.zeros_like(t)).numpy())


def test_unknown_activation_names_layer():
    with pytest.raises(ValueError, match=r"layer 'act'.*'relux'"):
        L.Activation("relux", name="act")
    with pytest.raises(ValueError, match=r"layer 'dense'.*'nope'"):
        L.Dense(3, activation="nope")


def test_activation_serialize_roundtrip():
    for name in TORCH:
        assert activations.get(activations.serialize(activations.get(name))) is activations.get(name)
    assert activations.get(None) is activations.linear
    assert irgraph.activations.get("swish") is activations.silu
