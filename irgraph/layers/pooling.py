"""Pooling layers, with Keras 1 keywords (pool_length, stride, border_mode, dim_ordering) and the
Keras 2 short names (MaxPool2D, AvgPool2D, GlobalAvgPool2D, ...). 1D layers default to channels_last
data (batch, steps, features), as in Keras 1 and 2."""
from __future__ import annotations

from .. import backend as K
from .base import InputSpec, Layer
from .convolutional import _data_format, _ints, _padding

__all__ = ["MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
           "AveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
           "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
           "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
           "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D",
           "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D"]


class _Pooling(Layer):
    """Max or average pooling; strides default to pool_size; 'same' pads never win a max and are not
    counted in an average."""

    rank = 2
    mode = "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        pool_size = kwargs.pop("pool_length", pool_size)
        strides = kwargs.pop("stride", strides)
        padding = kwargs.pop("border_mode", padding)
        data_format = kwargs.pop("dim_ordering", data_format)
        super().__init__(**kwargs)
        where = f"{type(self).__name__} layer '{self.name}'"
        self.pool_size = _ints(pool_size, self.rank, "pool_size", where)
        self.strides = self.pool_size if strides is None else _ints(strides, self.rank, "strides", where)
        self.padding = _padding(padding, ("valid", "same"), where)
        self.data_format = _data_format(data_format, self.rank)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        pool = {1: K.pool1d, 2: K.pool2d, 3: K.pool3d}[self.rank]
        return pool(inputs, self.pool_size, strides=self.strides, padding=self.padding,
                    data_format=self.data_format, pool_mode=self.mode)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling1D(_Pooling):
    rank, mode = 1, "max"


class MaxPooling2D(_Pooling):
    rank, mode = 2, "max"


class MaxPooling3D(_Pooling):
    rank, mode = 3, "max"


class AveragePooling1D(_Pooling):
    rank, mode = 1, "avg"


class AveragePooling2D(_Pooling):
    rank, mode = 2, "avg"


class AveragePooling3D(_Pooling):
    rank, mode = 3, "avg"


class _GlobalPooling(Layer):
    """Max or mean over all spatial axes; ``keepdims`` keeps them as size-1 axes."""

    rank = 2
    mode = "max"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        data_format = kwargs.pop("dim_ordering", data_format)
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format, self.rank)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        first = 2 if self.data_format == "channels_first" else 1
        axes = tuple(range(first, first + self.rank))
        reduce = K.max if self.mode == "max" else K.mean
        return reduce(inputs, axis=axes, keepdims=self.keepdims)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling1D(_GlobalPooling):
    rank, mode = 1, "max"


class GlobalMaxPooling2D(_GlobalPooling):
    rank, mode = 2, "max"


class GlobalMaxPooling3D(_GlobalPooling):
    rank, mode = 3, "max"


class GlobalAveragePooling1D(_GlobalPooling):
    """With a (batch, steps) mask (Keras 3): the mean over the unmasked steps; no output mask."""

    rank, mode = 1, "avg"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format, keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        steps = 2 if self.data_format == "channels_first" else 1
        keep = K.cast(K.expand_dims(mask, 1 if steps == 2 else 2), inputs.dtype)
        total = K.sum(inputs * keep, axis=steps, keepdims=self.keepdims)
        return total / K.sum(keep, axis=steps, keepdims=self.keepdims)

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalAveragePooling2D(_GlobalPooling):
    rank, mode = 2, "avg"


class GlobalAveragePooling3D(_GlobalPooling):
    rank, mode = 3, "avg"


MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (GlobalAveragePooling1D, GlobalAveragePooling2D,
                                                     GlobalAveragePooling3D)
