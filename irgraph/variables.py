"""Variables and the weight store: exactly one current value per variable, wherever it lives.

A variable (a layer weight, an optimizer slot, a BatchNorm statistic) is *held* either by the host
(a numpy array the Variable keeps) or by an *owner*: the device state of a training session, which
keeps it as an OrtValue and changes it at every step. ``Variable.numpy()`` asks the holder, so a
read anywhere sees the newest value; ``Variable.assign`` writes through to the holder, so a write
anywhere reaches the device before the next step. A training session claims the variables it reads
before a step only when something changed since its last step (`EPOCH` answers that in O(1)), and a
new compile or a dropped session gives them back to the host (`Owner.release`).

Versions: `EPOCH` is bumped by every write and every training step; ``Variable.version`` is the
epoch of the variable's newest value (its owner's version while it has one). Caches of derived
things (an inference session with the weights baked in) compare versions.

Threads: `LOCK` (re-entrant) serialises writes, ownership changes, training steps and the reads
that must see one consistent set of values (building an inference session, saving). A writer of
several variables (``set_weights``) holds it for the whole update, so such a reader sees all of the
old values or all of the new ones.
"""
from __future__ import annotations

import itertools
import threading

import numpy as np

from .operators import TensorOperators

LOCK = threading.RLock()
_counter = itertools.count(1)
EPOCH = [0]  # bumped whenever any variable's value changes; caches compare against it in O(1)


def bump() -> int:
    EPOCH[0] = next(_counter)
    return EPOCH[0]


class Owner:
    """What holds variables away from the host (a training session's device state).

    ``version`` changes with every change of a held value; ``read(var)`` returns the current value
    (a host copy, cached until the next change); ``write(var, array)`` replaces it in place."""

    version: int = 0

    def read(self, var: "Variable") -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def write(self, var: "Variable", value: np.ndarray) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def release(self, variables) -> None:
        """Hand ``variables`` this owner holds back to the host, with their current values."""
        with LOCK:
            for var in variables:
                if var._owner is self:
                    var._value = self.read(var)
                    var._version = self.version
                    var._owner = None


class Variable(TensorOperators):
    """A named weight. ``path`` is ``<layer>/<name>`` (``dense_1/kernel``), as in Keras."""

    def __init__(self, value, name: str, layer_name: str = "", trainable: bool = True,
                 regularizer=None, constraint=None):
        self._value = np.array(value)
        self._dtype = self._value.dtype.name  # fixed: every assigned value is cast to it
        self._owner: Owner | None = None
        self._cached_at = -1  # the owner's version that the host copy in _value was read at
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
        return self._dtype

    @property
    def version(self) -> int:
        owner = self._owner
        return self._version if owner is None else owner.version

    def numpy(self) -> np.ndarray:
        """The current value. Treat it as read-only: change a variable with `assign`."""
        owner = self._owner
        if owner is None:
            return self._value
        return owner.read(self)

    def assign(self, value) -> None:
        self._store(self._checked(value))

    def _store(self, value: np.ndarray) -> None:
        with LOCK:
            owner = self._owner
            if owner is None:
                self._value = value
            else:
                owner.write(self, value)
            self._version = bump()

    def _checked(self, value) -> np.ndarray:
        value = np.asarray(value)
        if value.shape != self.shape:
            raise ValueError(f"weight '{self.path}' has shape {self.shape}; "
                             f"cannot assign a value of shape {value.shape}")
        if value.dtype.kind not in "biuf":
            raise TypeError(f"weight '{self.path}' holds {self.dtype} numbers; cannot assign an array "
                            f"of dtype {value.dtype}")
        out = value.astype(self.dtype, copy=True)
        if value.dtype.kind == "f" and out.dtype.kind == "f" and not np.array_equal(
                np.isfinite(value), np.isfinite(out)):
            raise ValueError(f"weight '{self.path}' holds {self.dtype} numbers; the assigned values "
                             f"overflow {self.dtype} (largest magnitude {np.nanmax(np.abs(value)):.3g})")
        return out

    def __repr__(self) -> str:
        return f"<Variable '{self.path}' shape={self.shape} dtype={self.dtype}>"


def assign_all(pairs) -> None:
    """Assign ``(variable, value)`` pairs as one update: every value is checked first, and readers
    holding `LOCK` see all old or all new values."""
    checked = [(v, v._checked(value)) for v, value in pairs]
    with LOCK:
        for v, value in checked:
            v._store(value)
