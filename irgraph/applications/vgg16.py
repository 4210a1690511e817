"""VGG16 (Simonyan & Zisserman, 2014) with Keras's layer names (``block1_conv1`` ... ``block5_pool``,
``flatten``, ``fc1``, ``fc2``, ``predictions``), so Keras's published weight files load unchanged.
`build_vgg` is shared with `vgg19`."""
from __future__ import annotations

from .. import backend as K
from .. import layers
from ..models import Model
from . import imagenet_utils
from .imagenet_utils import decode_predictions  # noqa: F401  (Keras's module exports it)

WEIGHTS_URL = imagenet_utils.KERAS_WEIGHTS_URL + "{name}/{name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"


def weights_file(model_name: str, include_top: bool) -> tuple[str, str]:
    """``(file name, url)`` of Keras's ImageNet weights for ``vgg16``/``vgg19``."""
    url = WEIGHTS_URL.format(name=model_name, suffix="" if include_top else "_notop")
    return url.rsplit("/", 1)[1], url


def conv_blocks(x, convs_per_block):
    """The five blocks: 3x3 'same' relu convolutions (64, 128, 256, 512, 512 filters), each block
    closed by a 2x2 max pooling of stride 2."""
    for b, (filters, n) in enumerate(zip((64, 128, 256, 512, 512), convs_per_block), start=1):
        for c in range(1, n + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same", name=f"block{b}_conv{c}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{b}_pool")(x)
    return x


def classifier(x, classes: int, classifier_activation):
    """Keras's VGG top: Flatten, two 4096-unit relu layers, the class layer."""
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(4096, activation="relu", name="fc1")(x)
    x = layers.Dense(4096, activation="relu", name="fc2")(x)
    return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)


def build_vgg(model_name: str, convs_per_block, include_top=True, weights="imagenet", input_tensor=None,
              input_shape=None, pooling=None, classes=1000, classifier_activation="softmax", **kwargs):
    display = model_name.upper()
    imagenet_utils.check_kwargs(kwargs, display)
    imagenet_utils.validate_weights_args(weights, include_top, classes)
    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights)
    data_format = K.image_data_format()
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    data_format=data_format, require_flatten=include_top,
                                                    weights=weights)
    file_name, url = weights_file(model_name, include_top)
    path = imagenet_utils.weights_path(file_name, weights, display, url=url)  # before the big build
    img_input, inputs = imagenet_utils.image_input(input_tensor, input_shape)
    x = conv_blocks(img_input, convs_per_block)
    if include_top:
        x = classifier(x, classes, classifier_activation)
    else:
        x = imagenet_utils.pooled_features(x, pooling)
    model = Model(inputs, x, name=model_name)
    imagenet_utils.load_weights_into(model, path)
    return model


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
          classes=1000, classifier_activation="softmax", **kwargs):
    """VGG16 as Keras builds it. ``weights``: None (random), ``"imagenet"`` (Keras's file from
    ``$KERAS_HOME/models`` or ``~/.keras/models``; never downloaded) or a weight file's path.
    ``input_tensor``: a functional tensor (the model extends its graph), or a placeholder,
    variable or expression of them. ``input_shape``: without the top any size from 32x32.
    ``pooling``: None, ``"avg"`` or ``"max"`` over the last feature map when there is no top."""
    return build_vgg("vgg16", (2, 2, 3, 3, 3), include_top, weights, input_tensor, input_shape, pooling,
                     classes, classifier_activation, **kwargs)


def preprocess_input(x, data_format=None):
    """Keras's VGG preprocessing: RGB to BGR and the ImageNet mean subtracted (``caffe`` mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


__all__ = ["VGG16", "preprocess_input", "decode_predictions"]
