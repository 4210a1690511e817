"""ResNet50, ResNet101 and ResNet152 (He et al., 2015; v1 with the stride on the first 1x1
convolution of a block, as Keras's and Caffe's) with Keras's layer names: ``conv1_pad``,
``conv1_conv``, ``conv1_bn``, ``conv1_relu``, ``pool1_pad``, ``pool1_pool``, then
``conv{stage}_block{n}_{0..3}_{conv,bn}`` / ``_{1,2}_relu`` / ``_add`` / ``_out``, and ``avg_pool``,
``predictions`` (or ``avg_pool`` / ``max_pool`` for ``pooling``). One block builder serves every
depth; the depths differ only in the blocks per stage."""
from __future__ import annotations

from .. import backend as K
from .. import layers
from ..models import Model
from . import imagenet_utils
from .imagenet_utils import decode_predictions  # noqa: F401  (Keras's module exports it)

WEIGHTS_URL = imagenet_utils.KERAS_WEIGHTS_URL + "resnet/{name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
BN_EPSILON = 1.001e-5
STAGE_FILTERS = (64, 128, 256, 512)  # bottleneck widths of conv2 .. conv5; outputs are 4x
BLOCKS = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3), "resnet152": (3, 8, 36, 3)}


def _bn(x, name: str):
    axis = 3 if K.image_data_format() == "channels_last" else 1
    return layers.BatchNormalization(axis=axis, epsilon=BN_EPSILON, name=name)(x)


def bottleneck(x, filters: int, stride: int = 1, conv_shortcut: bool = False, name: str = ""):
    """One residual block: 1x1 (stride) -> 3x3 -> 1x1 (4*filters), each with BatchNormalization,
    added to the shortcut (a strided 1x1 projection in the first block of a stage, else identity)."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = _bn(shortcut, f"{name}_0_bn")
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(_bn(x, f"{name}_1_bn"))
    x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(_bn(x, f"{name}_2_bn"))
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = _bn(x, f"{name}_3_bn")
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stage(x, filters: int, blocks: int, stride: int, name: str):
    """A stage: a projection block (with ``stride``), then ``blocks - 1`` identity blocks."""
    x = bottleneck(x, filters, stride=stride, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = bottleneck(x, filters, name=f"{name}_block{i}")
    return x


def stem(x):
    """7x7/2 convolution, BatchNormalization, relu, 3x3/2 max pooling, with Keras's explicit pads."""
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(x)
    x = layers.Conv2D(64, 7, strides=2, name="conv1_conv")(x)
    x = layers.Activation("relu", name="conv1_relu")(_bn(x, "conv1_bn"))
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def weights_file(model_name: str, include_top: bool) -> tuple[str, str]:
    """``(file name, url)`` of Keras's ImageNet weights for ``resnet50``/``101``/``152``."""
    url = WEIGHTS_URL.format(name=model_name, suffix="" if include_top else "_notop")
    return url.rsplit("/", 1)[1], url


def build_resnet(model_name: str, include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                 pooling=None, classes=1000, classifier_activation="softmax", **kwargs):
    display = {"resnet50": "ResNet50", "resnet101": "ResNet101", "resnet152": "ResNet152"}[model_name]
    imagenet_utils.check_kwargs(kwargs, display)
    imagenet_utils.validate_weights_args(weights, include_top, classes)
    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    data_format=K.image_data_format(),
                                                    require_flatten=include_top, weights=weights)
    file_name, url = weights_file(model_name, include_top)
    path = imagenet_utils.weights_path(file_name, weights, display, url=url)
    img_input, inputs = imagenet_utils.image_input(input_tensor, input_shape)
    x = stem(img_input)
    for s, (filters, blocks) in enumerate(zip(STAGE_FILTERS, BLOCKS[model_name]), start=2):
        x = stage(x, filters, blocks, stride=1 if s == 2 else 2, name=f"conv{s}")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = imagenet_utils.pooled_features(x, pooling, name={"avg": "avg_pool", "max": "max_pool"}.get(pooling))
    model = Model(inputs, x, name=model_name)
    imagenet_utils.load_weights_into(model, path)
    return model


_DOC = """{display} as Keras builds it. ``weights``: None (random), ``"imagenet"`` (Keras's file
    ``{name}_weights_tf_dim_ordering_tf_kernels[_notop].h5`` from ``$KERAS_HOME/models`` or
    ``~/.keras/models``; never downloaded) or a weight file's path. ``input_tensor``: a functional
    tensor (the model extends its graph), or a placeholder, variable or expression of them.
    ``input_shape``: any size from 32x32 unless ImageNet weights with the top (224x224x3).
    ``pooling``: None, ``"avg"`` or ``"max"`` over the last feature map when there is no top."""


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
             classes=1000, classifier_activation="softmax", **kwargs):
    return build_resnet("resnet50", include_top, weights, input_tensor, input_shape, pooling, classes,
                        classifier_activation, **kwargs)


def ResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
              classes=1000, classifier_activation="softmax", **kwargs):
    return build_resnet("resnet101", include_top, weights, input_tensor, input_shape, pooling, classes,
                        classifier_activation, **kwargs)


def ResNet152(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
              classes=1000, classifier_activation="softmax", **kwargs):
    return build_resnet("resnet152", include_top, weights, input_tensor, input_shape, pooling, classes,
                        classifier_activation, **kwargs)


for _fn, _name in ((ResNet50, "resnet50"), (ResNet101, "resnet101"), (ResNet152, "resnet152")):
    _fn.__doc__ = _DOC.format(display=_fn.__name__, name=_name)


def preprocess_input(x, data_format=None):
    """Keras's ResNet preprocessing: RGB to BGR and the ImageNet mean subtracted (``caffe`` mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


__all__ = ["ResNet50", "ResNet101", "ResNet152", "preprocess_input", "decode_predictions"]
