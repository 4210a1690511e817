"""Keras's ``keras.applications.resnet50`` module: `resnet.ResNet50` and its preprocessing."""
from .imagenet_utils import decode_predictions  # noqa: F401
from .resnet import ResNet50, preprocess_input  # noqa: F401

__all__ = ["ResNet50", "preprocess_input", "decode_predictions"]
