"""Keras ``keras.preprocessing``: ``sequence.pad_sequences`` and the ``image`` utilities (``load_img``,
``img_to_array``, ``array_to_img``, ``save_img``; Pillow is imported when they run)."""
from . import image, sequence  # noqa: F401,E401
