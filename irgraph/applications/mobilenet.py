"""MobileNet (v1, Howard et al. 2017, https://arxiv.org/abs/1704.04861) with Keras's signature, layer
names, weight order and layouts, so the weight files Keras publishes load unchanged.

Layers: ``conv1`` / ``conv1_bn`` / ``conv1_relu``, then thirteen depthwise-separable blocks
``conv_dw_{i}`` / ``conv_dw_{i}_bn`` / ``conv_dw_{i}_relu`` / ``conv_pw_{i}`` / ``conv_pw_{i}_bn`` /
``conv_pw_{i}_relu`` (``conv_pad_{i}`` before a stride-2 block), and the top ``dropout`` /
``conv_preds`` / ``reshape_2`` / ``predictions``. BatchNormalization has Keras's defaults
(epsilon 1e-3, momentum 0.99); activations are ``ReLU(6.)``.
"""
from __future__ import annotations

import numbers
import warnings

from .. import backend as K
from .. import layers
from ..models import Model
from . import imagenet_utils

__all__ = ["MobileNet", "preprocess_input", "decode_predictions"]

# (pointwise filters before alpha, stride) of blocks 1..13
_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
           (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
_IMAGENET_ALPHAS = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}
_IMAGENET_SIZES = (128, 160, 192, 224)


def _channel_axis() -> int:
    return 1 if K.image_data_format() == "channels_first" else -1


def _spatial_size(shape) -> tuple:
    """(rows, cols) of an image shape without the batch axis, in the image data format; (None, None)
    for a shape that is not an image's (`obtain_input_shape` says what is wrong with it)."""
    if shape is None or len(shape) != 3:
        return None, None
    return tuple(shape[1:3]) if K.image_data_format() == "channels_first" else tuple(shape[:2])


def _check_alpha(alpha, model_name: str) -> None:
    if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool) or not alpha > 0:
        raise ValueError(f"{model_name}: alpha (the width multiplier) must be a number > 0, got {alpha!r}")


def _conv_block(x, filters, alpha, strides):
    """The first convolution: 3x3, 'same', no bias, then batch norm and relu6."""
    x = layers.Conv2D(int(filters * alpha), (3, 3), strides=strides, padding="same", use_bias=False,
                      name="conv1")(x)
    x = layers.BatchNormalization(axis=_channel_axis(), name="conv1_bn")(x)
    return layers.ReLU(6.0, name="conv1_relu")(x)


def _depthwise_conv_block(x, pointwise_filters, alpha, depth_multiplier, strides, block_id):
    """Depthwise 3x3 (stride 2: padded by one row and column at the end, then 'valid'), batch norm,
    relu6, pointwise 1x1 convolution, batch norm, relu6."""
    if strides == 1:
        padding = "same"
    else:
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
        padding = "valid"
    x = layers.DepthwiseConv2D((3, 3), strides=strides, padding=padding, depth_multiplier=depth_multiplier,
                               use_bias=False, name=f"conv_dw_{block_id}")(x)
    x = layers.BatchNormalization(axis=_channel_axis(), name=f"conv_dw_{block_id}_bn")(x)
    x = layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = layers.Conv2D(int(pointwise_filters * alpha), (1, 1), padding="same", use_bias=False,
                      name=f"conv_pw_{block_id}")(x)
    x = layers.BatchNormalization(axis=_channel_axis(), name=f"conv_pw_{block_id}_bn")(x)
    return layers.ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)


def _classifier(x, classes, dropout, classifier_activation):
    """Keras's MobileNet top: a 1x1 convolution on the pooled features instead of a Dense layer."""
    x = layers.GlobalAveragePooling2D(keepdims=True)(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Conv2D(classes, (1, 1), padding="same", name="conv_preds")(x)
    x = layers.Reshape((classes,), name="reshape_2")(x)
    return layers.Activation(classifier_activation, name="predictions")(x)


def _default_size(input_shape) -> int:
    """The input size whose imagenet weights fit: a square input of a published size, else 224."""
    rows, cols = _spatial_size(input_shape)
    return rows if rows == cols and rows in _IMAGENET_SIZES else 224


def _check_imagenet(alpha, depth_multiplier, rows, cols) -> int:
    """The arguments the published weights need; returns the size of the weight file to load."""
    if depth_multiplier != 1:
        raise ValueError(f"MobileNet: the imagenet weights need depth_multiplier=1, got {depth_multiplier!r}")
    if alpha not in _IMAGENET_ALPHAS:
        raise ValueError(f"MobileNet: the imagenet weights exist for alpha 0.25, 0.5, 0.75 and 1.0 only, "
                         f"got alpha={alpha!r}")
    if rows != cols or rows not in _IMAGENET_SIZES:
        warnings.warn(f"MobileNet: the input is {rows}x{cols}, not a square of {_IMAGENET_SIZES}; the weights "
                      f"for 224x224 inputs are loaded", stacklevel=3)
        return 224
    return rows


def MobileNet(input_shape=None, alpha=1.0, depth_multiplier=1, dropout=1e-3, include_top=True,
              weights="imagenet", input_tensor=None, pooling=None, classes=1000,
              classifier_activation="softmax", name=None, **kwargs):
    """MobileNet as Keras builds it. ``alpha`` scales every layer's filters; ``depth_multiplier``
    is the depthwise convolutions' multiplier; ``weights`` is None, ``"imagenet"`` (the file Keras
    would download, read from ``$KERAS_HOME/models`` or ``~/.keras/models``) or a path to an HDF5
    weight file in Keras's layout. The input is at least 32x32; ``include_top=True`` needs a fixed size
    (224x224 by default)."""
    imagenet_utils.check_kwargs(kwargs, "MobileNet")
    _check_alpha(alpha, "MobileNet")
    imagenet_utils.validate_weights_args(weights, include_top, classes, input_shape)
    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=_default_size(input_shape), min_size=32,
        data_format=K.image_data_format(), require_flatten=include_top, weights=weights)
    rows, cols = _spatial_size(input_shape)
    if weights == "imagenet":
        rows = _check_imagenet(alpha, depth_multiplier, rows, cols)
    file_name = f"mobilenet_{_IMAGENET_ALPHAS.get(alpha, '')}_{rows}_{'tf' if include_top else 'tf_no_top'}.h5"
    path = imagenet_utils.weights_path(file_name, weights, "MobileNet")

    img_input, model_inputs = imagenet_utils.image_input(input_tensor, input_shape)
    x = _conv_block(img_input, 32, alpha, strides=2)
    for block_id, (filters, strides) in enumerate(_BLOCKS, start=1):
        x = _depthwise_conv_block(x, filters, alpha, depth_multiplier, strides, block_id)
    if include_top:
        x = _classifier(x, classes, dropout, classifier_activation)
    else:
        x = imagenet_utils.pooled_features(x, pooling)
    model = Model(model_inputs, x, name=name or f"mobilenet_{alpha:0.2f}_{rows}")
    imagenet_utils.load_weights_into(model, path)
    return model


def preprocess_input(x, data_format=None):
    """Scales pixels from [0, 255] to [-1, 1] (Keras's "tf" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The ``top`` (class id, name, score) of each row of ImageNet predictions."""
    return imagenet_utils.decode_predictions(preds, top=top)
