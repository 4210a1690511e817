"""Variables: a layer's weights, held as numpy arrays on the host."""
from __future__ import annotations

import itertools

import numpy as np

_epoch = itertools.count(1)
EPOCH = [0]  # bumped whenever any variable's value changes; cached sessions compare against it


def bump() -> int:
    EPOCH[0] = next(_epoch)
    return EPOCH[0]


class Variable:
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
        return self._value

    def assign(self, value) -> None:
        value = np.asarray(value)
        if value.shape != self._value.shape:
            raise ValueError(f"weight '{self.path}' has shape {self._value.shape}; "
                             f"cannot assign a value of shape {value.shape}")
        self._value = value.astype(self._value.dtype, copy=True)
        self._version = bump()

    # arithmetic in traced calls (``self.w + 1.0`` in a custom layer)
    __array_priority__ = 1000

    def _b(self):
        from . import backend
        return backend

    def __add__(self, o): return self._b().add(self, o)
    def __radd__(self, o): return self._b().add(o, self)
    def __sub__(self, o): return self._b().subtract(self, o)
    def __rsub__(self, o): return self._b().subtract(o, self)
    def __mul__(self, o): return self._b().multiply(self, o)
    def __rmul__(self, o): return self._b().multiply(o, self)
    def __truediv__(self, o): return self._b().divide(self, o)
    def __rtruediv__(self, o): return self._b().divide(o, self)
    def __pow__(self, o): return self._b().pow(self, o)
    def __neg__(self): return self._b().negative(self)
    def __matmul__(self, o): return self._b().matmul(self, o)

    def __repr__(self) -> str:
        return f"<Variable '{self.path}' shape={self.shape} dtype={self.dtype}>"
