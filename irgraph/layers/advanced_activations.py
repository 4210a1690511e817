"""Activation layers with arguments (Keras 2's ``keras.layers.advanced_activations``): ReLU."""
from __future__ import annotations

import numbers

from .. import backend as K
from .base import Layer

__all__ = ["ReLU"]


def _non_negative(value, what: str, where: str, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value >= 0:
        extra = " or None" if allow_none else ""
        raise ValueError(f"{where}: {what} must be a number >= 0{extra}, got {value!r}")
    return float(value)


class ReLU(Layer):
    """Rectified linear unit with Keras's arguments: ``x`` for ``threshold <= x < max_value``,
    ``max_value`` at and above it, ``negative_slope * (x - threshold)`` below the threshold.
    ``ReLU(6.)`` is relu6, as MobileNet uses it."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        where = f"ReLU layer '{self.name}'"
        self.max_value = _non_negative(max_value, "max_value", where, allow_none=True)
        self.negative_slope = _non_negative(negative_slope, "negative_slope", where)
        self.threshold = _non_negative(threshold, "threshold", where)
        self.supports_masking = True

    def call(self, inputs):
        if self.max_value == 6.0 and self.negative_slope == 0.0 and self.threshold == 0.0:
            return K.relu6(inputs)
        return K.relu(inputs, alpha=self.negative_slope, max_value=self.max_value, threshold=self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}
