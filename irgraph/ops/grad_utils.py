"""Helpers shared by VJP rules."""
from __future__ import annotations

from .trace import Value, apply


def unbroadcast(grad: Value, shape: tuple) -> Value:
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it has ``shape``.

    ``shape`` is the (symbolic) shape of the input that was broadcast; dims equal to 1 that the
    output stretched are summed with keepdims, leading extra axes are summed away."""
    gshape = grad.sym_shape
    extra = len(gshape) - len(shape)
    axes = list(range(extra))
    axes += [extra + i for i, d in enumerate(shape) if d == 1 and gshape[extra + i] != 1]
    if not axes:
        return grad
    grad = apply("ReduceSum", [grad], axes=tuple(axes), keepdims=True)
    if extra:
        grad = apply("Squeeze", [grad], axes=tuple(range(extra)))
    return grad
