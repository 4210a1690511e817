"""`InputSpec`: what a layer (or a model) accepts as input, checked on every call (Keras 3's rules
and wording).

A layer sets ``self.input_spec`` to an `InputSpec` or a list of them (one per input); each call
checks the structure (count, and for named specs a dict's keys), then per input its rank (``ndim``,
``min_ndim``, ``max_ndim``), dtype, given axes and shape (None in a shape accepts any size). An
error reads as Keras's: ``Input 0 of layer 'dense' is incompatible with the layer: expected axis -1
of input shape to have value 4, but received input with shape (None, 3)``.
"""
from __future__ import annotations

import numpy as np

from .. import tree


def _standard_shape(shape) -> tuple:
    return tuple(None if d is None or not isinstance(d, (int, np.integer)) else int(d) for d in shape)


def _text(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class InputSpec:
    """Constraints on one input: ``dtype``, ``shape`` (batch axis included), ``ndim``,
    ``max_ndim``, ``min_ndim``, ``axes`` ({axis: size}), ``allow_last_axis_squeeze`` (an input of
    one more rank whose last axis is 1, or of one less when the spec's last axis is 1, is
    accepted), ``name`` (the key of this input in a data dict), ``optional`` (None accepted)."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
                 allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = None if dtype is None else np.dtype(dtype).name
        if shape is not None:
            self.shape = _standard_shape(shape)
            self.ndim = len(self.shape)
        else:
            self.shape = None
            self.ndim = ndim
        self.max_ndim, self.min_ndim = max_ndim, min_ndim
        self.name, self.optional = name, bool(optional)
        self.allow_last_axis_squeeze = bool(allow_last_axis_squeeze)
        try:
            self.axes = {int(k): v for k, v in (axes or {}).items()}
        except (ValueError, TypeError, AttributeError):
            raise TypeError(f"Argument `axes` must be a dict with integer keys. Received: axes={axes}") from None
        if self.axes and (self.ndim is not None or self.max_ndim is not None):
            max_dim = (self.ndim if self.ndim else self.max_ndim) - 1
            if max(self.axes) > max_dim:
                raise ValueError(f"Axis {max(self.axes)} is greater than the maximum allowed value: {max_dim}")

    def __repr__(self) -> str:
        parts = [f"dtype={self.dtype}" if self.dtype else "", f"shape={self.shape}" if self.shape else "",
                 f"ndim={self.ndim}" if self.ndim else "", f"max_ndim={self.max_ndim}" if self.max_ndim else "",
                 f"min_ndim={self.min_ndim}" if self.min_ndim else "", f"axes={self.axes}" if self.axes else ""]
        return f"InputSpec({', '.join(p for p in parts if p)})"

    def get_config(self) -> dict:
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim, "max_ndim": self.max_ndim,
                "min_ndim": self.min_ndim, "axes": self.axes, "optional": self.optional}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ------------------------------------------------------------------------------------ checks
    def check(self, layer_name: str, index: int, x) -> None:
        """Raise Keras's ValueError when ``x`` (anything with a ``shape``) does not fit."""
        if x is None and self.optional:
            return
        if not hasattr(x, "shape"):
            raise ValueError(f"Inputs to a layer should be tensors. Got '{x}' (of type {type(x)}) as input for "
                             f"layer '{layer_name}'.")
        shape = _standard_shape(x.shape)
        ndim = len(shape)
        named = f" with name '{self.name}'" if self.name is not None else ""

        def fail(what):
            raise ValueError(f"Input {index}{named} of layer '{layer_name}' is incompatible with the layer: {what}")
        if self.ndim is not None and not self.allow_last_axis_squeeze and ndim != self.ndim:
            fail(f"expected ndim={self.ndim}, found ndim={ndim}. Full shape received: {_text(shape)}")
        if self.max_ndim is not None and ndim > self.max_ndim:
            fail(f"expected max_ndim={self.max_ndim}, found ndim={ndim}")
        if self.min_ndim is not None and ndim < self.min_ndim:
            fail(f"expected min_ndim={self.min_ndim}, found ndim={ndim}. Full shape received: {_text(shape)}")
        if self.dtype is not None:
            dtype = np.dtype(getattr(x, "dtype", "float32")).name
            if dtype != self.dtype:
                fail(f"expected dtype={self.dtype}, found dtype={dtype}")
        for axis, value in self.axes.items():
            if value is not None and -ndim <= axis < ndim and shape[axis] not in (value, None):
                fail(f"expected axis {axis} of input shape to have value {value}, but received input with "
                     f"shape {_text(shape)}")
        if self.shape is not None:
            want, got = self.shape, shape
            if self.allow_last_axis_squeeze:
                got = got[:-1] if got and got[-1] == 1 else got
                want = want[:-1] if want and want[-1] == 1 else want
            for w, g in zip(want, got):
                if w is not None and g is not None and w != g:
                    fail(f"expected shape={_text(self.shape)}, found shape={_text(shape)}")


def assert_input_compatibility(input_spec, inputs, layer_name: str) -> None:
    """Check ``inputs`` (a tensor, or a structure of them; a dict is read by the specs' names when
    they all have one) against ``input_spec`` (an `InputSpec`, a structure of them, or None)."""
    if not input_spec:
        return
    specs = tree.flatten(input_spec)
    if isinstance(inputs, dict):
        names = [spec.name for spec in specs]
        if all(names):
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError(f'Missing data for input "{missing[0]}". You passed a data dictionary with keys '
                                 f"{list(inputs)}. Expected the following keys: {names}")
            inputs = [inputs[n] for n in names]
    flat = tree.flatten(inputs)
    if len(flat) != len(specs):
        names = [spec.name for spec in specs if spec is not None]
        if len(names) == len(specs) and all(names):
            raise ValueError(f'Layer "{layer_name}" expects {len(specs)} named input(s) with keys {names}, but it '
                             f"received {len(flat)} input tensors. Pass inputs as a dict, e.g. `layer({{"
                             + ", ".join(f"'{n}': ..." for n in names) + "})`.")
        raise ValueError(f'Layer "{layer_name}" expects {len(specs)} input(s), but it received {len(flat)} input '
                         f"tensors. Inputs received: {inputs}")
    for index, (x, spec) in enumerate(zip(flat, specs)):
        if spec is not None:
            spec.check(layer_name, index, x)
