"""Keras's ``keras.applications``: ImageNet models with Keras's layer names and weight layouts, so
the weight files Keras publishes load unchanged (from Keras's cache directories; never
downloaded). One module per family, as in Keras: ``vgg16``, ``vgg19``, ``resnet``, ``resnet50``,
``mobilenet``, ``mobilenet_v2``, ``inception_v3``; the shared pieces are in ``imagenet_utils``."""
from . import imagenet_utils  # noqa: F401
