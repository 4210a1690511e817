"""The ReLU layer (Keras 2's advanced activations) against numpy, its config and its argument errors."""
import numpy as np
import pytest

from irgraph import layers as L
from irgraph.serialization import deserialize_layer, layer_spec
from helpers import assert_close, layer_output, rand


def _keras_relu(x, max_value=None, negative_slope=0.0, threshold=0.0):
    """Keras's documented rule, written out."""
    y = np.where(x >= threshold, x, negative_slope * (x - threshold))
    return y if max_value is None else np.minimum(y, max_value)


def _x():
    x = rand(3, 5, 4) * 4
    x.flat[:5] = [0.0, -2.0, 6.0, 7.5, 0.5]  # the kinks: 0, the cap, the threshold
    return x


@pytest.mark.parametrize("kwargs", [{}, {"max_value": 6.0}, {"max_value": 1.5, "negative_slope": 0.1},
                                    {"threshold": 0.5}, {"negative_slope": 0.3, "threshold": 0.5},
                                    {"max_value": 6, "negative_slope": 0.2, "threshold": 1}])
def test_relu_layer(kwargs):
    x = _x()
    assert_close(layer_output(L.ReLU(**kwargs), x), _keras_relu(x, **kwargs))


def test_relu_positional_max_value_is_relu6():
    x = _x()
    y = layer_output(L.ReLU(6.0), x)
    assert_close(y, np.clip(x, 0, 6))
    assert y.max() == 6.0


def test_relu_config_round_trip():
    layer = L.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5, name="cap")
    cfg = layer.get_config()
    assert (cfg["max_value"], cfg["negative_slope"], cfg["threshold"]) == (6.0, 0.1, 0.5)
    back = deserialize_layer(layer_spec(layer))
    assert isinstance(back, L.ReLU) and back.max_value == 6.0 and back.threshold == 0.5


@pytest.mark.parametrize("kwargs, what", [({"max_value": -1}, "max_value"),
                                          ({"negative_slope": -0.1}, "negative_slope"),
                                          ({"threshold": None}, "threshold"), ({"max_value": "6"}, "max_value")])
def test_relu_bad_arguments(kwargs, what):
    with pytest.raises(ValueError, match=what):
        L.ReLU(**kwargs)
