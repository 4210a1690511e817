"""InceptionV3 (Szegedy et al. 2015, https://arxiv.org/abs/1512.00567) with Keras's signature, layer
names, weight order and layouts, so the weight files Keras publishes load unchanged.

Keras leaves InceptionV3's layers unnamed (automatic names count across a session) and loads its
weight files by position. The published files were written by Keras 2.0 in a fresh session, so
their layers are named ``conv2d_1`` ... ``conv2d_94``, ``batch_normalization_1`` ...
``batch_normalization_94`` in the order the layers are made (and ``predictions``). This module
gives every layer exactly the name that session gave it (``conv2d_k`` / ``batch_normalization_k`` /
``activation_k``, ``max_pooling2d_k``, ``average_pooling2d_k``, ``concatenate_k``, counted from 1
within each model) whatever this process made before, so the published files load by name; a file
saved with other names (a later Keras's ``conv2d``, ``conv2d_1``...) loads by position in Keras's
layer order, as in Keras. The blocks are ``mixed0`` ... ``mixed10`` (and ``mixed9_0``,
``mixed9_1``), the top ``avg_pool`` / ``predictions``. BatchNormalization has no scale
(``scale=False``: beta, moving mean and variance), epsilon 1e-3, momentum 0.99.
"""
from __future__ import annotations

import collections

from .. import backend as K
from .. import layers
from ..models import Model
from . import imagenet_utils

__all__ = ["InceptionV3", "preprocess_input", "decode_predictions"]

WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
WEIGHTS_FILE_NO_TOP = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"


class _Builder:
    """Makes the layers of one model, naming them as a fresh Keras 2.0 session did."""

    def __init__(self):
        self._counts = collections.Counter()
        self.channel_axis = 1 if K.image_data_format() == "channels_first" else 3

    def name(self, base: str) -> str:
        self._counts[base] += 1
        return f"{base}_{self._counts[base]}"

    def conv_bn(self, x, filters, rows, cols, strides=1, padding="same"):
        """Convolution without bias, batch normalization without scale, relu."""
        x = layers.Conv2D(filters, (rows, cols), strides=strides, padding=padding, use_bias=False,
                          name=self.name("conv2d"))(x)
        x = layers.BatchNormalization(axis=self.channel_axis, scale=False,
                                      name=self.name("batch_normalization"))(x)
        return layers.Activation("relu", name=self.name("activation"))(x)

    def max_pool(self, x):
        return layers.MaxPooling2D((3, 3), strides=(2, 2), name=self.name("max_pooling2d"))(x)

    def avg_pool_conv(self, x, filters):
        """The pooling branch of a block: 3x3 average pooling (stride 1, 'same'), then a 1x1 conv."""
        x = layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same", name=self.name("average_pooling2d"))(x)
        return self.conv_bn(x, filters, 1, 1)

    def concat(self, branches, name=None):
        return layers.concatenate(branches, axis=self.channel_axis, name=name or self.name("concatenate"))

    def chain(self, x, *convs):
        """Convolutions one after another, each ``(filters, rows, cols)``."""
        for filters, rows, cols in convs:
            x = self.conv_bn(x, filters, rows, cols)
        return x


def _stem(b: _Builder, x):
    x = b.conv_bn(x, 32, 3, 3, strides=2, padding="valid")
    x = b.conv_bn(x, 32, 3, 3, padding="valid")
    x = b.conv_bn(x, 64, 3, 3)
    x = b.max_pool(x)
    x = b.conv_bn(x, 80, 1, 1, padding="valid")
    x = b.conv_bn(x, 192, 3, 3, padding="valid")
    return b.max_pool(x)


def _block_35(b: _Builder, x, pool_filters, name):
    """mixed0-2: 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avg pool -> 1x1."""
    branch1x1 = b.conv_bn(x, 64, 1, 1)
    branch5x5 = b.chain(x, (48, 1, 1), (64, 5, 5))
    branch3x3dbl = b.chain(x, (64, 1, 1), (96, 3, 3), (96, 3, 3))
    branch_pool = b.avg_pool_conv(x, pool_filters)
    return b.concat([branch1x1, branch5x5, branch3x3dbl, branch_pool], name)


def _reduction_35(b: _Builder, x):
    """mixed3, to 17x17: 3x3 stride 2 | 1x1 -> 3x3 -> 3x3 stride 2 | max pool."""
    branch3x3 = b.conv_bn(x, 384, 3, 3, strides=2, padding="valid")
    branch3x3dbl = b.chain(x, (64, 1, 1), (96, 3, 3))
    branch3x3dbl = b.conv_bn(branch3x3dbl, 96, 3, 3, strides=2, padding="valid")
    return b.concat([branch3x3, branch3x3dbl, b.max_pool(x)], "mixed3")


def _block_17(b: _Builder, x, c7, name):
    """mixed4-7: 1x1 | factorised 7x7 | twice-factorised 7x7 | avg pool -> 1x1; ``c7`` inner filters."""
    branch1x1 = b.conv_bn(x, 192, 1, 1)
    branch7x7 = b.chain(x, (c7, 1, 1), (c7, 1, 7), (192, 7, 1))
    branch7x7dbl = b.chain(x, (c7, 1, 1), (c7, 7, 1), (c7, 1, 7), (c7, 7, 1), (192, 1, 7))
    branch_pool = b.avg_pool_conv(x, 192)
    return b.concat([branch1x1, branch7x7, branch7x7dbl, branch_pool], name)


def _reduction_17(b: _Builder, x):
    """mixed8, to 8x8: 1x1 -> 3x3 stride 2 | 1x1 -> 1x7 -> 7x1 -> 3x3 stride 2 | max pool."""
    branch3x3 = b.conv_bn(x, 192, 1, 1)
    branch3x3 = b.conv_bn(branch3x3, 320, 3, 3, strides=2, padding="valid")
    branch7x7x3 = b.chain(x, (192, 1, 1), (192, 1, 7), (192, 7, 1))
    branch7x7x3 = b.conv_bn(branch7x7x3, 192, 3, 3, strides=2, padding="valid")
    return b.concat([branch3x3, branch7x7x3, b.max_pool(x)], "mixed8")


def _split_1x3_3x1(b: _Builder, x, name=None):
    """1x3 and 3x1 convolutions of the same input, concatenated."""
    return b.concat([b.conv_bn(x, 384, 1, 3), b.conv_bn(x, 384, 3, 1)], name)


def _block_8(b: _Builder, x, index):
    """mixed9-10: 1x1 | 1x1 -> (1x3, 3x1) | 1x1 -> 3x3 -> (1x3, 3x1) | avg pool -> 1x1."""
    branch1x1 = b.conv_bn(x, 320, 1, 1)
    branch3x3 = _split_1x3_3x1(b, b.conv_bn(x, 384, 1, 1), name=f"mixed9_{index}")
    branch3x3dbl = _split_1x3_3x1(b, b.chain(x, (448, 1, 1), (384, 3, 3)))
    branch_pool = b.avg_pool_conv(x, 192)
    return b.concat([branch1x1, branch3x3, branch3x3dbl, branch_pool], f"mixed{9 + index}")


def _features(b: _Builder, x):
    x = _stem(b, x)
    for i, pool_filters in enumerate((32, 64, 64)):
        x = _block_35(b, x, pool_filters, f"mixed{i}")
    x = _reduction_35(b, x)
    for i, c7 in enumerate((128, 160, 160, 192)):
        x = _block_17(b, x, c7, f"mixed{4 + i}")
    x = _reduction_17(b, x)
    for i in range(2):
        x = _block_8(b, x, i)
    return x


def InceptionV3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", name=None, **kwargs):
    """InceptionV3 as Keras builds it. ``weights`` is None, ``"imagenet"`` (the file Keras would
    download, read from ``$KERAS_HOME/models`` or ``~/.keras/models``) or a path to an HDF5 weight file
    in Keras's layout. The input is at least 75x75; ``include_top=True`` needs a fixed size (299x299 by
    default)."""
    imagenet_utils.check_kwargs(kwargs, "InceptionV3")
    imagenet_utils.validate_weights_args(weights, include_top, classes, input_shape)
    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=299, min_size=75, data_format=K.image_data_format(),
        require_flatten=include_top, weights=weights)
    file_name = WEIGHTS_FILE if include_top else WEIGHTS_FILE_NO_TOP
    path = imagenet_utils.weights_path(file_name, weights, "InceptionV3",
                                       url=f"{imagenet_utils.KERAS_WEIGHTS_URL}inception_v3/{file_name}")

    img_input, model_inputs = imagenet_utils.image_input(input_tensor, input_shape)
    b = _Builder()
    x = _features(b, img_input)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = imagenet_utils.pooled_features(x, pooling)
    model = Model(model_inputs, x, name=name or "inception_v3")
    imagenet_utils.load_weights_into(model, path)
    return model


def preprocess_input(x, data_format=None):
    """Scales pixels from [0, 255] to [-1, 1] (Keras's "tf" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The ``top`` (class id, name, score) of each row of ImageNet predictions."""
    return imagenet_utils.decode_predictions(preds, top=top)
