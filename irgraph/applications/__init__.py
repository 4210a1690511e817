"""Keras's ``keras.applications``: ImageNet models with Keras's layer names and weight layouts, so
the weight files Keras publishes load unchanged (from Keras's cache directories; never
downloaded). One module per family, as in Keras: ``vgg16``, ``vgg19``, ``resnet``, ``resnet50``,
``mobilenet``, ``mobilenet_v2``, ``inception_v3``; the shared pieces are in ``imagenet_utils``."""
from . import imagenet_utils  # noqa: F401
from . import resnet, resnet50, vgg16, vgg19  # noqa: F401,E401
from .resnet import ResNet50, ResNet101, ResNet152  # noqa: F401
from .vgg16 import VGG16  # noqa: F401
from .vgg19 import VGG19  # noqa: F401
from . import inception_v3, mobilenet, mobilenet_v2  # noqa: F401,E401
from .inception_v3 import InceptionV3  # noqa: F401
from .mobilenet import MobileNet  # noqa: F401
from .mobilenet_v2 import MobileNetV2  # noqa: F401
