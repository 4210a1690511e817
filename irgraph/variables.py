"""Variables: a layer's weights, held as numpy arrays on the host."""
from __future__ import annotations

import itertools

import numpy as np

from .operators import TensorOperators

_epoch = itertools.count(1)
EPOCH = [0]  # bumped whenever any variable's value changes; cached sessions compare against it


_pending: list = []  # flushes of device state not yet copied into variables (lazy sync after training)


def defer_sync(flush) -> None:
    """Register ``flush`` to run before any variable value is next read; invalidates cached sessions."""
    if flush not in _pending:
        _pending.append(flush)
    bump()


def flush_pending() -> None:
    while _pending:
        _pending.pop()()


def bump() -> int:
    EPOCH[0] = next(_epoch)
    return EPOCH[0]


class Variable(TensorOperators):
    """A named weight. ``path`` is ``<layer>/<name>`` (``dense_1/kernel``), as in Keras."""

    def __init__(self, value, name: str, layer_name: str = "", trainable: bool = True,
                 regularizer=None, constraint=None):
        self._value = np.array(value)
        self.name = name
        self.layer_name = layer_name
        self.trainable = trainable
        self.regularizer = regularizer
        self.constraint = constraint
        self._version = bump()

    @property
    def path(self) -> str:
        return f"{self.layer_name}/{self.name}" if self.layer_name else self.name

    @property
    def shape(self) -> tuple:
        return self._value.shape

    @property
    def dtype(self) -> str:
        return self._value.dtype.name

    def numpy(self) -> np.ndarray:
        if _pending:
            flush_pending()
        return self._value

    def assign(self, value) -> None:
        if _pending:
            flush_pending()
        value = np.asarray(value)
        if value.shape != self._value.shape:
            raise ValueError(f"weight '{self.path}' has shape {self._value.shape}; "
                             f"cannot assign a value of shape {value.shape}")
        self._value = value.astype(self._value.dtype, copy=True)
        self._version = bump()


    def __repr__(self) -> str:
        return f"<Variable '{self.path}' shape={self.shape} dtype={self.dtype}>"
