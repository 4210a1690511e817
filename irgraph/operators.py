"""Python operators for tensor-like objects (traced Values, functional KerasTensors, Variables):
each one calls the backend function of the same meaning. Equality stays identity, as in Keras.

This module sits in the bottom layer of the design (with the ops and the IR) and the backend sits
in the user API above it, so the backend installs itself here when it is imported
(`use_backend`, called by `irgraph.backend.math`) instead of being imported from here.
"""
from __future__ import annotations

_installed = [None]  # the backend module whose add, multiply, ... the operators call


def use_backend(module) -> None:
    """Make the Python operators call ``module``'s functions (``module.add`` for ``+``, ...)."""
    _installed[0] = module


def _backend():
    module = _installed[0]
    if module is None:
        raise RuntimeError("tensor operators need the backend: import irgraph (or irgraph.backend) first")
    return module


class TensorOperators:
    __slots__ = ()
    __array_priority__ = 1000  # numpy defers to these operators

    def __add__(self, o): return _backend().add(self, o)
    def __radd__(self, o): return _backend().add(o, self)
    def __sub__(self, o): return _backend().subtract(self, o)
    def __rsub__(self, o): return _backend().subtract(o, self)
    def __mul__(self, o): return _backend().multiply(self, o)
    def __rmul__(self, o): return _backend().multiply(o, self)
    def __truediv__(self, o): return _backend().divide(self, o)
    def __rtruediv__(self, o): return _backend().divide(o, self)
    def __pow__(self, o): return _backend().pow(self, o)
    def __rpow__(self, o): return _backend().pow(o, self)
    def __neg__(self): return _backend().negative(self)
    def __abs__(self): return _backend().abs(self)
    def __matmul__(self, o): return _backend().matmul(self, o)
    def __rmatmul__(self, o): return _backend().matmul(o, self)
    def __getitem__(self, idx): return _backend().getitem(self, idx)
    def __gt__(self, o): return _backend().greater(self, o)
    def __lt__(self, o): return _backend().less(self, o)
    def __ge__(self, o): return _backend().greater_equal(self, o)
    def __le__(self, o): return _backend().less_equal(self, o)

    @property
    def T(self):
        return _backend().transpose(self)

    __hash__ = object.__hash__
