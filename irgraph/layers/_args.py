"""Argument checks shared by the layers: counts and sizes must be whole positive numbers and axes
must exist, named in the layer's terms (instead of being truncated, or taken modulo the rank)."""
from __future__ import annotations

import numbers


def positive_int(value, what: str, where: str, minimum: int | None = 1, count: str | None = None) -> int:
    """``value`` as an int >= ``minimum``; refuses None, bools, strings and non-whole numbers.
    ``count`` (e.g. 'units') words the message as "needs a positive number of units"."""
    ok = isinstance(value, numbers.Number) and not isinstance(value, bool)
    if ok:
        try:
            ok = float(value).is_integer()
        except (TypeError, ValueError, OverflowError):
            ok = False
    bound = "" if minimum is None else f" >= {minimum}"
    if count is not None:
        msg = f"{where} needs a positive number of {count} ({what}), an integer{bound}; got {value!r}"
    else:
        msg = f"{where}: {what} must be an integer{bound}, got {value!r}"
    if not ok:
        raise TypeError(msg)
    if minimum is not None and int(value) < minimum:
        raise ValueError(msg)
    return int(value)


def axis_in_range(axis, rank: int, what: str, where: str, shape=None) -> int:
    """A Keras axis (negative counts from the end) normalized for a tensor of ``rank``; out of
    range axes are refused rather than taken modulo the rank."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"{where}: {what} must be an integer, got {axis!r}")
    axis = int(axis)
    if not -rank <= axis < rank:
        on = f"input shape {tuple(shape)}" if shape is not None else f"an input of rank {rank}"
        raise ValueError(f"{where}: {what} {axis} is out of range for {on} (valid: {-rank} to {rank - 1})")
    return axis % rank
