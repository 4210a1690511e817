"""The primitive-op contract.

A primitive is one class: its shape/dtype rule (`infer`), its ONNX emission (`emit`), an optional
numpy evaluation (`compute`, used by constant folding) and, from the training issue on, its VJP rule.
Everything above this level (backend functions, layers, losses) is a composition of primitives.
"""
from __future__ import annotations

from itertools import zip_longest
from typing import NamedTuple

import numpy as np

OPS: dict[str, "Op"] = {}

FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8")


class ShapeError(ValueError):
    """A shape or dtype rule was violated; the tracer prefixes the layer scope."""


class Spec(NamedTuple):
    """Static description of a tensor: shape (int, symbolic str, or None per dim) and dtype name."""

    shape: tuple
    dtype: str

    @property
    def rank(self) -> int:
        return len(self.shape)


class Op:
    """Base class of primitive ops. Subclasses set `name` and override what they need."""

    name: str = ""
    onnx_type: str | None = None  # ONNX op type when the emission is a single node

    def infer(self, attrs: dict, ins: list[Spec | None]) -> list[Spec]:
        raise NotImplementedError(self.name)

    def emit(self, e, attrs: dict, ins: list[str], outs: list[str]) -> None:
        e.node(self.onnx_type or self.name, ins, outs, **attrs)

    compute = None  # optional: (attrs, *arrays) -> tuple of arrays, for constant folding

    def vjp(self, attrs: dict, ins: list, outs: list, grads: list) -> list:
        """Vector-Jacobian product, written with backend ops (traced into the same graph).

        ``ins``/``outs`` are the op's input/output Values (None for absent optional inputs),
        ``grads`` the gradient of the loss w.r.t. each output (None where no gradient flows).
        Returns one gradient (a Value shaped like the input, or None) per input.
        """
        raise NotImplementedError(f"primitive {self.name} has no gradient rule")


def register(cls):
    """Class decorator: instantiate and register an op under its `name`."""
    op = cls()
    if op.name in OPS:
        raise RuntimeError(f"primitive {op.name!r} defined twice")
    OPS[op.name] = op
    return cls


def get_op(name: str) -> Op:
    try:
        return OPS[name]
    except KeyError:
        raise ValueError(f"unknown primitive op {name!r}") from None


# ---------------------------------------------------------------------------------------------
# shape helpers shared by the rules
def fmt_shape(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def dims_equal(a, b) -> bool:
    """True when two dims may be equal: unknown (None) and symbolic dims match anything, since two
    different symbols may still be equal at run time."""
    return not (isinstance(a, int) and isinstance(b, int)) or a == b


def merge_dim(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, int):
        return a
    if isinstance(b, int):
        return b
    return a if a == b else None


def broadcast(a: tuple, b: tuple) -> tuple:
    out = []
    for x, y in zip_longest(reversed(a), reversed(b), fillvalue=1):
        if x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        elif x == y:
            out.append(x)
        elif isinstance(x, int) and isinstance(y, int):
            raise ShapeError(f"shapes {fmt_shape(a)} and {fmt_shape(b)} cannot be broadcast together")
        else:
            out.append(merge_dim(x, y))
    return tuple(reversed(out))


def norm_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"axis {axis} is out of range for a tensor of rank {rank}")
    return axis % rank


def mul_dims(dims):
    total = 1
    for d in dims:
        if not isinstance(d, int):
            return None
        total *= d
    return total


def np_dtype(dtype: str):
    return np.dtype(dtype)


def contiguous(value) -> np.ndarray:
    """A C-contiguous array that keeps 0-d arrays 0-d (np.ascontiguousarray makes them 1-d)."""
    arr = np.asarray(value)
    return np.ascontiguousarray(arr).reshape(arr.shape)
