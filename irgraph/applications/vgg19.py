"""VGG19 with Keras's layer names; VGG16's builder with four convolutions in blocks 3 to 5."""
from __future__ import annotations

from .imagenet_utils import decode_predictions  # noqa: F401  (Keras's module exports it)
from .vgg16 import build_vgg, preprocess_input  # noqa: F401


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
          classes=1000, classifier_activation="softmax", **kwargs):
    """VGG19 as Keras builds it; the arguments are `vgg16.VGG16`'s."""
    return build_vgg("vgg19", (2, 2, 4, 4, 4), include_top, weights, input_tensor, input_shape, pooling,
                     classes, classifier_activation, **kwargs)


__all__ = ["VGG19", "preprocess_input", "decode_predictions"]
