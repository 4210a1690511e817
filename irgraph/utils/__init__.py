"""Keras ``keras.utils``: ``to_categorical`` and the Keras 1 module ``np_utils``."""
from . import np_utils  # noqa: F401
from .np_utils import normalize, to_categorical  # noqa: F401
