"""Merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot), their
functional forms, and Keras 1's ``merge(inputs, mode=...)``."""
from __future__ import annotations

import functools
import numbers

from .. import backend as K
from .base import Layer, _fmt


class _Merge(Layer):
    min_inputs, max_inputs = 2, None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        """Keras 3: the inputs' masks or-ed together; none when an input has none."""
        masks = _mask_list(self, inputs, mask)
        if masks is None or any(m is None for m in masks):
            return None
        return _reduce(_logical_or, masks)

    def _check_inputs(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            got = f"input_shape={_fmt(tuple(inputs.shape))}" if hasattr(inputs, "shape") else f"inputs={inputs!r}"
            raise ValueError(f"A merge layer should be called on a list of inputs. Received: {got} (not a list "
                             f"of shapes): layer '{self.name}' ({type(self).__name__}) must be called on a list of "
                             f"tensors, got {type(inputs).__name__}")
        n = len(inputs)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            want = str(self.min_inputs) if self.max_inputs == self.min_inputs else f"at least {self.min_inputs}"
            raise ValueError(f"layer '{self.name}' ({type(self).__name__}) needs {want} inputs, got {n}")

    def _check_shapes(self, inputs):
        shapes = [tuple(x.shape) for x in inputs]
        ref = shapes[0]
        for s in shapes[1:]:
            if len(s) != len(ref) or any(a is not None and b is not None and a != b and 1 not in (a, b)
                                         for a, b in zip(ref[1:], s[1:])):
                raise ValueError(f"Inputs have incompatible shapes. Received shapes {_fmt(ref[1:])} and "
                                 f"{_fmt(s[1:])}: layer '{self.name}' ({type(self).__name__}): inputs have "
                                 f"incompatible shapes; received shapes {', '.join(_fmt(t) for t in shapes)}. The inputs "
                                 "need the same rank and equal dims (or 1, which broadcasts) after the batch axis")

    def build(self, input_shape):
        self.built = True

    def call(self, inputs):
        self._check_inputs(inputs)
        self._check_shapes(inputs)
        return self._merge(list(inputs))

    def _merge(self, xs):
        raise NotImplementedError


def _int_arg(value, what, where) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {what} must be an integer, got {value!r}")
    return int(value)


def _reduce(fn, xs):
    return functools.reduce(fn, xs)


def _logical_or(a, b):
    from ..ops.trace import apply
    return apply("Or", [a, b])


def _mask_list(layer, inputs, mask):
    """The per-input masks (None when no input has one), checked to be one per input."""
    if mask is None:
        return None
    if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
        raise ValueError(f"layer '{layer.name}' ({type(layer).__name__}): the masks must be a list with one "
                         f"entry (a mask or None) per input; got {mask!r} for {len(inputs)} inputs")
    return None if all(m is None for m in mask) else list(mask)


def _expanded_mask(mask, x):
    """A mask broadcast to the full shape of ``x``."""
    from ..ops.trace import apply
    while mask.ndim < x.ndim:
        mask = K.expand_dims(mask, -1)
    return apply("Expand", [mask, K.shape(x)], out_shape=x.sym_shape)


class Add(_Merge):
    def _merge(self, xs):
        return _reduce(K.add, xs)


class Subtract(_Merge):
    min_inputs = max_inputs = 2

    def _merge(self, xs):
        return K.subtract(xs[0], xs[1])


class Multiply(_Merge):
    def _merge(self, xs):
        return _reduce(K.multiply, xs)


class Average(_Merge):
    def _merge(self, xs):
        return _reduce(K.add, xs) * (1.0 / len(xs))


class _MaskedExtreme(_Merge):
    """Keras 3's Maximum/Minimum with masks: an input's masked entries are replaced by the running
    result (and the result's by the input's) before comparing, so masked values never win."""

    def call(self, inputs, mask=None):
        self._check_inputs(inputs)
        self._check_shapes(inputs)
        masks = _mask_list(self, inputs, mask) or [None] * len(inputs)
        out, out_mask = None, None
        for x, m in zip(inputs, masks):
            m = None if m is None else _expanded_mask(m, x)
            if out is None:
                out, out_mask = x, m
                continue
            if m is not None:
                x = K.where(m, x, out)
            if out_mask is not None:
                out = K.where(out_mask, out, x)
            out_mask = _logical_or(out_mask, m) if m is not None and out_mask is not None else None
            out = self._pair(out, x)
        return out


class Maximum(_MaskedExtreme):
    _pair = staticmethod(K.maximum)

    def _merge(self, xs):
        return _reduce(K.maximum, xs)


class Minimum(_MaskedExtreme):
    _pair = staticmethod(K.minimum)

    def _merge(self, xs):
        return _reduce(K.minimum, xs)


class Concatenate(_Merge):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _int_arg(axis, "axis", f"layer '{self.name}' (Concatenate)")

    def _check_shapes(self, inputs):
        shapes = [tuple(x.shape) for x in inputs]
        rank = len(shapes[0])
        bad = any(len(s) != rank for s in shapes)
        if not bad:
            if not -rank <= self.axis < rank:
                raise ValueError(f"layer '{self.name}' (Concatenate): axis {self.axis} is out of range for "
                                 f"inputs of rank {rank}")
            axis = self.axis % rank
            for s in shapes[1:]:
                for i, (a, b) in enumerate(zip(shapes[0], s)):
                    if i != axis and a is not None and b is not None and a != b:
                        bad = True
        if bad:
            raise ValueError(f"layer '{self.name}' (Concatenate) requires inputs with matching shapes except "
                             f"for the concatenation axis {self.axis}; received shapes "
                             f"{', '.join(_fmt(t) for t in shapes)}")

    def _merge(self, xs):
        dtypes = {x.dtype for x in xs}
        if len(dtypes) > 1:
            xs = [K.cast(x, K.floatx()) for x in xs]
        return K.concatenate(xs, axis=self.axis)

    def compute_mask(self, inputs, mask=None):
        """Keras 3: each input's mask (all true for an input without one) over the input's full
        shape, concatenated along the axis, then any over the last axis."""
        masks = _mask_list(self, inputs, mask)
        if masks is None:
            return None
        full = [K.cast(K.ones_like(x), "bool") if m is None else _expanded_mask(m, x)
                for x, m in zip(inputs, masks)]
        return K.any(K.concatenate(full, axis=self.axis), axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    min_inputs = max_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):  # Keras 1 also wrote dot_axes=[(2,), (2,)]
            axes = [a[0] if isinstance(a, (list, tuple)) and len(a) == 1 else a for a in axes]
        where = f"layer '{self.name}' (Dot)"
        self.axes = tuple(_int_arg(a, "axes", where) for a in axes) if isinstance(axes, (list, tuple)) \
            else (_int_arg(axes, "axes", where),) * 2
        if len(self.axes) != 2:
            raise ValueError(f"layer '{self.name}' (Dot): axes must be an int or a pair of ints, got {axes!r}")
        self.normalize = bool(normalize)

    def _check_shapes(self, inputs):
        a, b = (tuple(x.shape) for x in inputs)
        if not all(-len(s) < ax < len(s) and ax % len(s) != 0 for ax, s in zip(self.axes, (a, b))):
            raise ValueError(f"layer '{self.name}' (Dot): axes {self.axes} out of range for shapes "
                             f"{_fmt(a)} and {_fmt(b)}; give one axis per input, not the batch axis 0")
        ax = [ax % len(s) for ax, s in zip(self.axes, (a, b))]
        if a[ax[0]] is not None and b[ax[1]] is not None and a[ax[0]] != b[ax[1]]:
            raise ValueError(f"layer '{self.name}' (Dot): dimension incompatibility; shapes {_fmt(a)} and "
                             f"{_fmt(b)} differ on the dot axes {self.axes} ({a[ax[0]]} != {b[ax[1]]})")

    def compute_mask(self, inputs, mask=None):
        return None  # Keras: a dot product has no mask

    def _merge(self, xs):
        a, b = xs
        axes = [ax % len(x.shape) for ax, x in zip(self.axes, xs)]
        if self.normalize:
            a, b = K.l2_normalize(a, axis=axes[0]), K.l2_normalize(b, axis=axes[1])
        return K.batch_dot(a, b, axes=axes)

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def add(inputs, **kwargs):
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes, normalize=False, **kwargs):
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)


_MODES = {"sum": Add, "mul": Multiply, "ave": Average, "max": Maximum, "min": Minimum}


def _mode_layer(mode, concat_axis, dot_axes, output_shape, name, **kwargs) -> Layer:
    if callable(mode):
        from .core import Lambda
        return Lambda(mode, output_shape=output_shape, name=name, **kwargs)
    if mode == "concat":
        return Concatenate(axis=concat_axis, name=name, **kwargs)
    if mode in ("dot", "cos"):
        return Dot(axes=dot_axes, normalize=(mode == "cos"), name=name, **kwargs)
    if mode not in _MODES:
        raise ValueError(f"merge: unknown mode {mode!r}; use 'sum', 'mul', 'concat', 'ave', 'max', "
                         "'min', 'dot', 'cos' or a function of the list of tensors")
    return _MODES[mode](name=name, **kwargs)


def merge(inputs, mode="sum", concat_axis=-1, dot_axes=-1, output_shape=None, name=None, **kwargs):
    """Keras 1's merge: mode 'sum', 'mul', 'concat', 'ave', 'max', 'min', 'dot' or 'cos' (or a callable)."""
    return _mode_layer(mode, concat_axis, dot_axes, output_shape, name, **kwargs)(inputs)


class Merge(Layer):
    """Keras 1's Merge layer, callable on a list of tensors; the work is done by the Keras 2 layer
    for its mode (named ``<name>_<mode>``, traced inside this layer's scope)."""

    def __init__(self, layers=None, mode="sum", concat_axis=-1, dot_axes=-1, output_shape=None, **kwargs):
        if layers is not None:
            raise ValueError("Merge(layers=...) of Sequential models is not supported; "
                             "use the functional API with merge layers")
        super().__init__(**kwargs)
        self.mode, self.concat_axis, self.dot_axes = mode, concat_axis, dot_axes
        label = mode if isinstance(mode, str) else "lambda"
        self.impl = _mode_layer(mode, concat_axis, dot_axes, output_shape, f"{self.name}_{label}")

    def call(self, inputs):
        return self.impl(list(inputs))

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "concat_axis": self.concat_axis,
                "dot_axes": self.dot_axes}
