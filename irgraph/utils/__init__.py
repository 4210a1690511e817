"""Keras ``keras.utils``: ``to_categorical``, ``pad_sequences`` (Keras 3's place for it),
``plot_model`` (no graphviz needed) and the Keras 1 module ``np_utils``."""
from . import np_utils  # noqa: F401
from .np_utils import normalize, to_categorical  # noqa: F401
from ..preprocessing.sequence import pad_sequences  # noqa: F401
from ..preprocessing.image import array_to_img, img_to_array, load_img, save_img  # noqa: F401
from .plot import plot_model  # noqa: F401
