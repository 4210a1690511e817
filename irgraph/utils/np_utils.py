"""Keras ``keras.utils.np_utils``: numpy helpers for labels."""
from __future__ import annotations

import numpy as np


def to_categorical(y, num_classes=None, dtype="float32", nb_classes=None):
    """One-hot encode integer class labels: shape ``y.shape + (num_classes,)``.

    As in Keras, a trailing axis of size 1 is dropped first (``(n, 1)`` -> ``(n, num_classes)``),
    and ``num_classes`` defaults to ``max(y) + 1``. ``nb_classes`` is the Keras 1 spelling.
    """
    if num_classes is None:
        num_classes = nb_classes
    y = np.asarray(y)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(np.mod(y, 1) == 0):
            raise ValueError("to_categorical: labels must be whole numbers")
    elif y.dtype.kind not in "iub":
        raise TypeError(f"to_categorical: labels must be integers, got dtype {y.dtype}")
    y = y.astype(np.int64)
    input_shape = y.shape
    if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
        input_shape = tuple(input_shape[:-1])
    y = y.ravel()
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: labels must be non-negative, got {int(y.min())}")
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    num_classes = int(num_classes)
    if y.size and int(y.max()) >= num_classes:
        raise ValueError(f"to_categorical: label {int(y.max())} is out of range for num_classes={num_classes}")
    n = y.shape[0]
    categorical = np.zeros((n, num_classes), dtype=dtype)
    categorical[np.arange(n), y] = 1
    return categorical.reshape(tuple(input_shape) + (num_classes,))


def normalize(x, axis=-1, order=2):
    """Scale ``x`` to unit ``order``-norm along ``axis`` (zero vectors stay zero)."""
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)
