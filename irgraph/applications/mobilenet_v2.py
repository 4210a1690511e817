"""MobileNetV2 (Sandler et al. 2018, https://arxiv.org/abs/1801.04381) with Keras's signature, layer
names, weight order and layouts, so the weight files Keras publishes load unchanged.

Layers: ``Conv1`` / ``bn_Conv1`` / ``Conv1_relu``; seventeen inverted residual blocks, the first
prefixed ``expanded_conv_`` (no expansion), the others ``block_{i}_`` with ``expand`` / ``expand_BN``
/ ``expand_relu``, ``pad`` (stride 2), ``depthwise`` / ``depthwise_BN`` / ``depthwise_relu``,
``project`` / ``project_BN`` and ``add`` where the block is residual; then ``Conv_1`` / ``Conv_1_bn`` /
``out_relu`` and the top ``predictions``. BatchNormalization: epsilon 1e-3, momentum 0.999.
The published files with the top (written by keras_applications) call the class layer ``Logits``;
like Keras, they load by position (in Keras's layer order) when the names differ.
"""
from __future__ import annotations

import warnings

from .. import backend as K
from .. import layers
from ..models import Model
from . import imagenet_utils
from .mobilenet import _channel_axis, _check_alpha, _spatial_size

__all__ = ["MobileNetV2", "preprocess_input", "decode_predictions"]

# (filters before alpha, stride, expansion) of blocks 0..16
_BLOCKS = ((16, 1, 1),
           (24, 2, 6), (24, 1, 6),
           (32, 2, 6), (32, 1, 6), (32, 1, 6),
           (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6),
           (96, 1, 6), (96, 1, 6), (96, 1, 6),
           (160, 2, 6), (160, 1, 6), (160, 1, 6),
           (320, 1, 6))
_WEIGHTS_URL = imagenet_utils.KERAS_WEIGHTS_URL + "mobilenet_v2/"
_IMAGENET_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
_IMAGENET_SIZES = (96, 128, 160, 192, 224)


def _make_divisible(value, divisor=8) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (at least ``divisor``), never more
    than 10% below ``value``."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def correct_pad(inputs, kernel_size):
    """((top, bottom), (left, right)) zero padding that makes a stride-2 'valid' convolution of
    ``kernel_size`` see what TensorFlow's 'same' padding gives: one row/column less at the start
    when the size is even (or unknown)."""
    first = 2 if K.image_data_format() == "channels_first" else 1
    size = tuple(inputs.shape[first:first + 2])
    kernel = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    half = (kernel[0] // 2, kernel[1] // 2)
    return ((half[0] - adjust[0], half[0]), (half[1] - adjust[1], half[1]))


def _batch_norm(x, name):
    return layers.BatchNormalization(axis=_channel_axis(), epsilon=1e-3, momentum=0.999, name=name)(x)


def _inverted_res_block(inputs, filters, alpha, stride, expansion, block_id):
    """Expand (1x1, except block 0), depthwise 3x3, project (1x1, linear); the input is added back
    when the shapes allow it."""
    in_channels = inputs.shape[_channel_axis()]
    out_channels = _make_divisible(int(filters * alpha), 8)
    prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
    x = inputs
    if block_id:
        x = layers.Conv2D(expansion * in_channels, 1, padding="same", use_bias=False, name=prefix + "expand")(x)
        x = _batch_norm(x, prefix + "expand_BN")
        x = layers.ReLU(6.0, name=prefix + "expand_relu")(x)
    if stride == 2:
        x = layers.ZeroPadding2D(correct_pad(x, 3), name=prefix + "pad")(x)
    x = layers.DepthwiseConv2D(3, strides=stride, padding="same" if stride == 1 else "valid", use_bias=False,
                               name=prefix + "depthwise")(x)
    x = _batch_norm(x, prefix + "depthwise_BN")
    x = layers.ReLU(6.0, name=prefix + "depthwise_relu")(x)
    x = layers.Conv2D(out_channels, 1, padding="same", use_bias=False, name=prefix + "project")(x)
    x = _batch_norm(x, prefix + "project_BN")
    if in_channels == out_channels and stride == 1:
        return layers.Add(name=prefix + "add")([inputs, x])
    return x


def _default_size(input_shape, input_tensor) -> int:
    """The input size whose imagenet weights fit: a square input of a published size, else 224.
    Without ``input_shape`` the size of a given ``input_tensor`` counts, as in Keras."""
    if input_shape is not None:
        rows, cols = _spatial_size(input_shape)
    elif input_tensor is not None and len(getattr(input_tensor, "shape", ())) == 4:
        rows, cols = _spatial_size(tuple(input_tensor.shape)[1:])
    else:
        return 224
    return rows if rows == cols and rows in _IMAGENET_SIZES else 224


def _check_imagenet(alpha, rows, cols) -> int:
    """The arguments the published weights need; returns the size of the weight file to load."""
    if alpha not in _IMAGENET_ALPHAS:
        raise ValueError(f"MobileNetV2: the imagenet weights exist for alpha 0.35, 0.5, 0.75, 1.0, 1.3 and 1.4 "
                         f"only, got alpha={alpha!r}")
    if rows != cols or rows not in _IMAGENET_SIZES:
        warnings.warn(f"MobileNetV2: the input is {rows}x{cols}, not a square of {_IMAGENET_SIZES}; the "
                      f"weights for 224x224 inputs are loaded", stacklevel=3)
        return 224
    return rows


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet", input_tensor=None,
                pooling=None, classes=1000, classifier_activation="softmax", name=None, **kwargs):
    """MobileNetV2 as Keras builds it. ``alpha`` scales the blocks' filters (rounded to multiples of
    8; the last convolution grows with alpha > 1 only); ``weights`` is None, ``"imagenet"`` (the file
    Keras would download, read from ``$KERAS_HOME/models`` or ``~/.keras/models``) or a path to an
    HDF5 weight file in Keras's layout. The input is at least 32x32; ``include_top=True`` needs a
    fixed size (224x224 by default)."""
    imagenet_utils.check_kwargs(kwargs, "MobileNetV2")
    _check_alpha(alpha, "MobileNetV2")
    imagenet_utils.validate_weights_args(weights, include_top, classes, input_shape)
    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=_default_size(input_shape, input_tensor), min_size=32,
        data_format=K.image_data_format(), require_flatten=include_top, weights=weights)
    rows, cols = _spatial_size(input_shape)
    if weights == "imagenet":
        rows = _check_imagenet(alpha, rows, cols)
    file_name = (f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}"
                 f"{'' if include_top else '_no_top'}.h5")
    path = imagenet_utils.weights_path(file_name, weights, "MobileNetV2", url=_WEIGHTS_URL + file_name)

    img_input, model_inputs = imagenet_utils.image_input(input_tensor, input_shape)
    x = layers.Conv2D(_make_divisible(32 * alpha, 8), 3, strides=2, padding="same", use_bias=False,
                      name="Conv1")(img_input)
    x = _batch_norm(x, "bn_Conv1")
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = _inverted_res_block(x, filters, alpha, stride, expansion, block_id)
    last_filters = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_filters, 1, use_bias=False, name="Conv_1")(x)
    x = _batch_norm(x, "Conv_1_bn")
    x = layers.ReLU(6.0, name="out_relu")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = imagenet_utils.pooled_features(x, pooling)
    model = Model(model_inputs, x, name=name or f"mobilenetv2_{alpha:0.2f}_{rows}")
    imagenet_utils.load_weights_into(model, path)
    return model


def preprocess_input(x, data_format=None):
    """Scales pixels from [0, 255] to [-1, 1] (Keras's "tf" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The ``top`` (class id, name, score) of each row of ImageNet predictions."""
    return imagenet_utils.decode_predictions(preds, top=top)
