"""Convolution, padding, cropping and upsampling layers, with Keras 1 and 2 spellings.

Weights are stored in Keras layout (kernel then bias): ConvND kernel (k..., in/groups, filters),
Conv2DTranspose kernel (kh, kw, filters, in), DepthwiseConv2D depthwise_kernel (kh, kw, in, dm),
SeparableConv2D depthwise_kernel (kh, kw, in, dm) and pointwise_kernel (1, 1, in*dm, filters).
1D layers default to channels_last data (batch, steps, features) whatever the image data format,
as in Keras 1 and 2.
"""
from __future__ import annotations

import numbers

from .. import activations, initializers
from .. import backend as K
from ..backend import config
from ..backend.conv import resize
from ._args import positive_int
from .base import InputSpec, Layer

__all__ = ["Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "SeparableConv2D", "DepthwiseConv2D",
           "Convolution1D", "Convolution2D", "Convolution3D", "Deconvolution2D", "Deconv2D",
           "SeparableConvolution2D", "AtrousConvolution1D", "AtrousConvolution2D",
           "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D",
           "UpSampling1D", "UpSampling2D", "UpSampling3D"]


# ------------------------------------------------------------------------------------- arguments
def _ints(value, n: int, what: str, where: str) -> tuple:
    """An int or ``n`` ints, each a whole number >= 1 (strides, kernel and pool sizes, dilations)."""
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        value = (value,) * n
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != n:
        raise ValueError(f"{where}: {what} must be an int or {n} ints, got {value!r}")
    return tuple(positive_int(v, what, where) for v in value)


def _padding(value, allowed: tuple, where: str) -> str:
    value = str(value).lower()
    if value not in allowed:
        raise ValueError(f"{where}: padding must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
    return value


def _data_format(value, rank: int) -> str:
    if value == "default":  # Keras 1 dim_ordering='default'
        value = None
    if value is None and rank == 1:
        return "channels_last"
    return config.normalize_data_format(value)


# Keras 1 keyword -> Keras 2 keyword, shared by the convolution layers
_KERAS1_KWARGS = {"nb_filter": "filters", "filter_length": "kernel_size", "border_mode": "padding",
                  "subsample": "strides", "subsample_length": "strides", "init": "kernel_initializer",
                  "dim_ordering": "data_format", "W_regularizer": "kernel_regularizer",
                  "b_regularizer": "bias_regularizer", "W_constraint": "kernel_constraint",
                  "b_constraint": "bias_constraint", "bias": "use_bias", "atrous_rate": "dilation_rate"}
_KERNEL_DIMS = {2: ("nb_row", "nb_col"), 3: ("kernel_dim1", "kernel_dim2", "kernel_dim3")}


def _keras1_args(cls, args, kwargs):
    """Translate Keras 1 calls (``Convolution2D(64, 3, 3, border_mode='same', subsample=(2, 2))``)
    into Keras 2 arguments. Like Keras 2's legacy interface, ``rank`` ints after the filter count
    are the kernel dims, and later positional arguments follow the Keras 1 order."""
    args, kwargs = list(args), dict(kwargs)
    rank = cls.rank
    dims = _KERNEL_DIMS.get(rank, ()) if cls._keras1_kernel_dims else ()
    if dims and len(args) >= 1 + rank and all(isinstance(a, int) for a in args[1:1 + rank]):
        rest = args[1 + rank:]
        if len(rest) > len(cls._keras1_positional):
            raise TypeError(f"{cls.__name__}: too many positional arguments {tuple(args)}")
        kwargs.update(zip(cls._keras1_positional, rest))
        args = [args[0], tuple(args[1:1 + rank])]
    elif dims and any(d in kwargs for d in dims):
        given = args[1:]
        missing = [d for d in dims[len(given):] if d not in kwargs]
        if missing:
            raise TypeError(f"{cls.__name__}: Keras 1 kernel dims need {', '.join(dims)}; missing {missing}")
        kwargs["kernel_size"] = tuple(given) + tuple(kwargs.pop(d) for d in dims[len(given):])
        args = args[:1]
    for old, new in {**_KERAS1_KWARGS, **cls._keras1_renames}.items():
        if old in kwargs:
            value = kwargs.pop(old)
            for target in (new if isinstance(new, tuple) else (new,)):
                kwargs.setdefault(target, value)
    if kwargs.get("data_format") == "default":
        kwargs["data_format"] = None
    return args, kwargs


# ------------------------------------------------------------------------------------- convolutions
class _Conv(Layer):
    """Shared N-d convolution: kernel (k..., in/groups, filters), optional bias, activation."""

    rank = 2
    _keras1_kernel_dims = True
    _keras1_positional = ("init", "activation", "weights", "border_mode", "subsample", "dim_ordering")
    _keras1_renames: dict = {}
    _paddings = ("valid", "same")

    def __init__(self, *args, **kwargs):
        args, kwargs = _keras1_args(type(self), args, kwargs)
        self._setup(*args, **kwargs)

    def _setup(self, filters=None, kernel_size=None, strides=1, padding="valid", data_format=None,
               dilation_rate=1, groups=1, activation=None, use_bias=True,
               kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
               bias_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        Layer.__init__(self, **kwargs)
        where = f"{type(self).__name__} layer '{self.name}'"
        self.filters = positive_int(filters, "output channels", where, count="filters")
        if kernel_size is None:
            raise ValueError(f"{where} needs a kernel_size")
        self.kernel_size = _ints(kernel_size, self.rank, "kernel_size", where)
        self.strides = _ints(strides, self.rank, "strides", where)
        self.dilation_rate = _ints(dilation_rate, self.rank, "dilation_rate", where)
        self.padding = _padding(padding, self._paddings, where)
        self.data_format = _data_format(data_format, self.rank)
        self.groups = positive_int(groups, "groups", where)
        if self.filters % self.groups:
            raise ValueError(f"{where}: filters ({self.filters}) must be a multiple of groups ({self.groups})")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{where}: strides {self.strides} > 1 cannot be combined with "
                             f"dilation_rate {self.dilation_rate} > 1")
        self.activation = activations.get(activation, where=where)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, where=where)
        self.bias_initializer = initializers.get(bias_initializer, where=where)
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint
        self.input_spec = InputSpec(ndim=self.rank + 2)

    @property
    def _channel_axis(self) -> int:
        return 1 if self.data_format == "channels_first" else -1

    def _input_channels(self, input_shape) -> int:
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(f"{type(self).__name__} layer '{self.name}': the channel dimension of the input "
                             f"(axis {self._channel_axis} for {self.data_format} data) must be known, got "
                             f"input shape {tuple(input_shape)}; give the Input its number of channels")
        return int(channels)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        if channels % self.groups:
            raise ValueError(f"{type(self).__name__} layer '{self.name}': input channels ({channels}) must be "
                             f"a multiple of groups ({self.groups}); input shape {tuple(input_shape)}")
        self.kernel = self.add_weight("kernel", self.kernel_size + (channels // self.groups, self.filters),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self._build_bias()
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={self._channel_axis: channels})
        self.built = True

    def _build_bias(self):
        self.bias = self.add_weight("bias", (self.filters,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def call(self, inputs):
        conv = {1: K.conv1d, 2: K.conv2d, 3: K.conv3d}[self.rank]
        y = conv(inputs, self.kernel, strides=self.strides, padding=self.padding, data_format=self.data_format,
                 dilation_rate=self.dilation_rate, bias=self.bias)
        return self.activation(y)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "groups": self.groups,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class Conv1D(_Conv):
    """1D convolution over (batch, steps, features); padding 'valid', 'same' or 'causal'."""

    rank = 1
    _keras1_positional = ("init", "activation", "weights", "border_mode", "subsample_length")
    _paddings = ("valid", "same", "causal")


class Conv2D(_Conv):
    rank = 2


class Conv3D(_Conv):
    rank = 3


class Conv2DTranspose(_Conv):
    """Transposed 2D convolution; kernel (kh, kw, filters, in_channels). Keras 1's Deconvolution2D
    ``output_shape`` is dropped, as Keras 2 did: the output size follows padding and output_padding."""

    rank = 2
    _keras1_positional = ("output_shape", "init", "activation", "weights", "border_mode", "subsample",
                          "dim_ordering")

    def _setup(self, filters=None, kernel_size=None, strides=1, padding="valid", output_padding=None,
               data_format=None, dilation_rate=1, activation=None, use_bias=True, **kwargs):
        kwargs.pop("output_shape", None)
        super()._setup(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                       dilation_rate=dilation_rate, activation=activation, use_bias=use_bias, **kwargs)
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = tuple(int(p) for p in (output_padding if not isinstance(output_padding, int)
                                                         else (output_padding,) * 2))
            if len(self.output_padding) != 2 or any(not 0 <= p < s for p, s in zip(self.output_padding, self.strides)):
                raise ValueError(f"Conv2DTranspose layer '{self.name}': output_padding must be 2 ints, each "
                                 f"smaller than its stride {self.strides}, got {output_padding!r}")

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.kernel = self.add_weight("kernel", self.kernel_size + (self.filters, channels),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self._build_bias()
        self.input_spec = InputSpec(ndim=4, axes={self._channel_axis: channels})
        self.built = True

    def call(self, inputs):
        y = K.conv2d_transpose(inputs, self.kernel, strides=self.strides, padding=self.padding,
                               data_format=self.data_format, dilation_rate=self.dilation_rate,
                               output_padding=self.output_padding, bias=self.bias)
        return self.activation(y)

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("groups")
        return {**cfg, "output_padding": self.output_padding}


class DepthwiseConv2D(_Conv):
    """Per-channel 2D convolution; depthwise_kernel (kh, kw, in, depth_multiplier); in*dm outputs."""

    rank = 2
    _keras1_kernel_dims = False

    def __init__(self, kernel_size=None, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        _, kwargs = _keras1_args(type(self), (), kwargs)
        self._setup(1, kernel_size, strides=strides, padding=padding, data_format=data_format,
                    dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                    kernel_initializer=depthwise_initializer, bias_initializer=bias_initializer,
                    kernel_regularizer=depthwise_regularizer, bias_regularizer=bias_regularizer,
                    kernel_constraint=depthwise_constraint, bias_constraint=bias_constraint, **kwargs)
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier",
                                             f"{type(self).__name__} layer '{self.name}'")

    def _build_depthwise(self, input_shape):
        channels = self._input_channels(input_shape)
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel", self.kernel_size + (channels, self.depth_multiplier),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        self.input_spec = InputSpec(ndim=4, axes={self._channel_axis: channels})
        return channels

    def build(self, input_shape):
        channels = self._build_depthwise(input_shape)
        self.filters = channels * self.depth_multiplier
        self._build_bias()
        self.built = True

    def call(self, inputs):
        y = K.depthwise_conv2d(inputs, self.depthwise_kernel, strides=self.strides, padding=self.padding,
                               data_format=self.data_format, dilation_rate=self.dilation_rate, bias=self.bias)
        return self.activation(y)

    def get_config(self):
        cfg = super().get_config()
        for key in ("filters", "groups", "kernel_initializer"):
            cfg.pop(key)
        return {**cfg, "depth_multiplier": self.depth_multiplier,
                "depthwise_initializer": initializers.serialize(self.kernel_initializer)}


class SeparableConv2D(DepthwiseConv2D):
    """Depthwise convolution then a 1x1 pointwise convolution to ``filters`` channels."""

    _keras1_kernel_dims = True
    _keras1_positional = ("init", "activation", "weights", "border_mode", "subsample", "depth_multiplier",
                          "dim_ordering")
    _keras1_renames = {"init": ("depthwise_initializer", "pointwise_initializer")}

    def __init__(self, *args, **kwargs):
        args, kwargs = _keras1_args(type(self), args, kwargs)
        self._separable(*args, **kwargs)

    def _separable(self, filters=None, kernel_size=None, strides=(1, 1), padding="valid", data_format=None,
                   dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                   depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                   bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                   bias_regularizer=None, depthwise_constraint=None, pointwise_constraint=None,
                   bias_constraint=None, **kwargs):
        DepthwiseConv2D.__init__(self, kernel_size, strides=strides, padding=padding,
                                 depth_multiplier=depth_multiplier, data_format=data_format,
                                 dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                                 depthwise_initializer=depthwise_initializer, bias_initializer=bias_initializer,
                                 depthwise_regularizer=depthwise_regularizer, bias_regularizer=bias_regularizer,
                                 depthwise_constraint=depthwise_constraint, bias_constraint=bias_constraint,
                                 **kwargs)
        self.filters = positive_int(filters, "output channels", f"SeparableConv2D layer '{self.name}'",
                                    count="filters")
        self.pointwise_initializer = initializers.get(pointwise_initializer, where=f"layer '{self.name}'")
        self.pointwise_regularizer, self.pointwise_constraint = pointwise_regularizer, pointwise_constraint

    def build(self, input_shape):
        channels = self._build_depthwise(input_shape)
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel", (1, 1, channels * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint)
        self._build_bias()
        self.built = True

    def call(self, inputs):
        y = K.separable_conv2d(inputs, self.depthwise_kernel, self.pointwise_kernel, strides=self.strides,
                               padding=self.padding, data_format=self.data_format,
                               dilation_rate=self.dilation_rate, bias=self.bias)
        return self.activation(y)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer)}


def AtrousConvolution1D(*args, **kwargs):
    """Keras 1: AtrousConvolution1D(nb_filter, filter_length, atrous_rate=1, ...)."""
    return Conv1D(*args, **kwargs)


def AtrousConvolution2D(*args, **kwargs):
    """Keras 1: AtrousConvolution2D(nb_filter, nb_row, nb_col, atrous_rate=(1, 1), ...)."""
    return Conv2D(*args, **kwargs)


Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Deconvolution2D = Deconv2D = Conv2DTranspose
SeparableConvolution2D = SeparableConv2D


# ------------------------------------------------------------------------------------- padding / cropping
def _pairs(value, n: int, what: str, where: str) -> tuple:
    """int, n ints (symmetric) or n (begin, end) pairs -> n (begin, end) pairs of non-negative ints."""
    try:
        if isinstance(value, int):
            pairs = ((value, value),) * n
        elif n == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
            pairs = (tuple(value),)
        elif len(value) == n and all(isinstance(v, int) for v in value):
            pairs = tuple((v, v) for v in value)
        elif len(value) == n and all(isinstance(v, numbers.Integral) for pair in value for v in pair) \
                and all(len(pair) == 2 for pair in value):
            pairs = tuple((int(a), int(b)) for a, b in value)
        else:
            pairs = None
    except (TypeError, ValueError):
        pairs = None
    if pairs is None or any(p < 0 for pair in pairs for p in pair):
        form = "(begin, end)" if n == 1 else f"{n} ints or {n} (begin, end) pairs"
        raise ValueError(f"{where}: {what} must be a non-negative int or {form}, got {value!r}")
    return pairs


class _ZeroPadding(Layer):
    rank = 2

    def __init__(self, padding=1, data_format=None, **kwargs):
        data_format = kwargs.pop("dim_ordering", data_format)
        super().__init__(**kwargs)
        where = f"{type(self).__name__} layer '{self.name}'"
        if self.rank == 2 and isinstance(padding, dict):  # Keras 1: {'top_pad': ..., 'left_pad': ...}
            padding = ((padding.get("top_pad", 0), padding.get("bottom_pad", 0)),
                       (padding.get("left_pad", 0), padding.get("right_pad", 0)))
        elif self.rank == 2 and isinstance(padding, (list, tuple)) and len(padding) == 4:  # Keras 1 (t, b, l, r)
            padding = ((padding[0], padding[1]), (padding[2], padding[3]))
        self.padding = _pairs(padding, self.rank, "padding", where)
        self.data_format = _data_format(data_format, self.rank)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        if self.rank == 1:
            return K.temporal_padding(inputs, self.padding[0])
        if self.rank == 2:
            return K.spatial_2d_padding(inputs, self.padding, data_format=self.data_format)
        return K.spatial_3d_padding(inputs, self.padding, data_format=self.data_format)

    def get_config(self):
        cfg = {**super().get_config(), "padding": self.padding}
        return cfg if self.rank == 1 else {**cfg, "data_format": self.data_format}


class ZeroPadding1D(_ZeroPadding):
    rank = 1

    def __init__(self, padding=1, **kwargs):
        super().__init__(padding, data_format="channels_last", **kwargs)


class ZeroPadding2D(_ZeroPadding):
    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    rank = 3

    def __init__(self, padding=(1, 1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class _Cropping(Layer):
    rank = 2

    def __init__(self, cropping=1, data_format=None, **kwargs):
        data_format = kwargs.pop("dim_ordering", data_format)
        super().__init__(**kwargs)
        self.cropping = _pairs(cropping, self.rank, "cropping", f"{type(self).__name__} layer '{self.name}'")
        self.data_format = _data_format(data_format, self.rank)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        first = 2 if self.data_format == "channels_first" else 1
        index = [slice(None)] * len(inputs.shape)
        for i, (begin, end) in enumerate(self.cropping):
            size = inputs.shape[first + i]
            if size is not None and begin + end >= size:
                raise ValueError(f"cropping {self.cropping} removes all of spatial axis {i} (length {size}) "
                                 f"of input shape {inputs.shape}; crop less")
            index[first + i] = slice(begin, -end if end else None)
        return K.getitem(inputs, tuple(index))

    def get_config(self):
        cfg = {**super().get_config(), "cropping": self.cropping}
        return cfg if self.rank == 1 else {**cfg, "data_format": self.data_format}


class Cropping1D(_Cropping):
    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, data_format="channels_last", **kwargs)


class Cropping2D(_Cropping):
    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class Cropping3D(_Cropping):
    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


# ------------------------------------------------------------------------------------- upsampling
class _UpSampling(Layer):
    rank = 2

    def __init__(self, size=2, data_format=None, interpolation="nearest", **kwargs):
        data_format = kwargs.pop("dim_ordering", data_format)
        super().__init__(**kwargs)
        where = f"{type(self).__name__} layer '{self.name}'"
        self.size = _ints(size, self.rank, "size", where)
        self.data_format = _data_format(data_format, self.rank)
        allowed = ("nearest", "bilinear") if self.rank == 2 else ("nearest",)
        if interpolation not in allowed:
            raise ValueError(f"{where}: interpolation must be one of {allowed}, got {interpolation!r}")
        self.interpolation = interpolation
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        return resize(inputs, self.size, self.data_format, type(self).__name__, self.interpolation)

    def get_config(self):
        cfg = {**super().get_config(), "size": self.size}
        if self.rank == 1:
            return cfg
        cfg["data_format"] = self.data_format
        return {**cfg, "interpolation": self.interpolation} if self.rank == 2 else cfg


class UpSampling1D(_UpSampling):
    """Repeat each step ``size`` times (Keras 1: ``length``)."""

    rank = 1

    def __init__(self, size=2, **kwargs):
        size = kwargs.pop("length", size)
        super().__init__(size, data_format="channels_last", **kwargs)


class UpSampling2D(_UpSampling):
    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(size, data_format, interpolation, **kwargs)


class UpSampling3D(_UpSampling):
    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(size, data_format, **kwargs)
