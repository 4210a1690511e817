"""Layers, with Keras 1 and 2 spellings as aliases. Keras 1's module paths (``layers.core``,
``layers.convolutional``, ``layers.recurrent``, ``layers.wrappers``, ...) exist as submodules."""
from .base import InputSpec, Layer, Node  # noqa: F401
from .input_layer import InputLayer  # noqa: F401
from .core import (Activation, Dense, Dropout, Flatten, Lambda, Masking, Permute, RepeatVector, Reshape,  # noqa: F401
                   SpatialDropout1D, SpatialDropout2D, SpatialDropout3D, dense)
from .embeddings import Embedding  # noqa: F401
from .advanced_activations import ReLU  # noqa: F401
from .merge import (Add, Average, Concatenate, Dot, Maximum, Merge, Minimum, Multiply, Subtract,  # noqa: F401
                    add, average, concatenate, dot, maximum, merge, minimum, multiply, subtract)
from .normalization import BatchNormalization, LayerNormalization  # noqa: F401
from .convolutional import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .recurrent import *  # noqa: F401,F403
from .wrappers import TimeDistributed, Wrapper  # noqa: F401
from ..tensor import Input  # noqa: F401
