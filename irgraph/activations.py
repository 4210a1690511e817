"""Keras activations by name, each a composition of backend ops."""
from __future__ import annotations

from . import backend as K


def linear(x):
    return x


def softmax(x, axis=-1):
    return K.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return K.log_softmax(x, axis=axis)


def exponential(x):
    return K.exp(x)


def leaky_relu(x, negative_slope=0.2):
    return K.leaky_relu(x, negative_slope)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0, alpha=None):
    return K.relu(x, alpha=negative_slope if alpha is None else alpha, max_value=max_value,
                  threshold=threshold)


def elu(x, alpha=1.0):
    return K.elu(x, alpha)


def gelu(x, approximate=False):
    return K.gelu(x, approximate)


def hard_silu(x):
    """Keras 3: x * hard_sigmoid(x) = x * relu6(x + 3) / 6."""
    return x * K.hard_sigmoid(x)


def hard_sigmoid_keras2(x):
    """Keras 1 and 2's hard sigmoid, clip(0.2 x + 0.5, 0, 1) (Keras 3's is relu6(x + 3) / 6): what
    'hard_sigmoid' means in a file written by Keras 1 or 2 (LSTM's default recurrent activation)."""
    return K.clip(x * 0.2 + 0.5, 0.0, 1.0)


def mish(x):
    return x * K.tanh(K.softplus(x))


relu6, selu, sigmoid, hard_sigmoid = K.relu6, K.selu, K.sigmoid, K.hard_sigmoid
tanh, softplus, softsign, silu = K.tanh, K.softplus, K.softsign, K.silu
swish, hard_swish = silu, hard_silu

_BY_NAME = {
    "linear": linear, "relu": relu, "relu6": relu6, "leaky_relu": leaky_relu, "elu": elu,
    "selu": selu, "gelu": gelu, "silu": silu, "swish": swish, "sigmoid": sigmoid,
    "hard_sigmoid": hard_sigmoid, "tanh": tanh, "softmax": softmax, "log_softmax": log_softmax,
    "softplus": softplus, "softsign": softsign, "exponential": exponential,
    "hard_silu": hard_silu, "hard_swish": hard_swish, "mish": mish,
    "hard_sigmoid_keras2": hard_sigmoid_keras2,
}


def get(identifier, where: str = ""):
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    raise ValueError(f"{where + ': ' if where else ''}unknown activation {identifier!r}; "
                     f"known: {', '.join(sorted(_BY_NAME))}")


def serialize(fn) -> str:
    for name, f in _BY_NAME.items():
        if f is fn:
            return name
    return getattr(fn, "__name__", repr(fn))
