"""`InputLayer` and `Input`: the layer producing a model input, with Keras 3's arguments and errors
and the Keras 1/2 spellings beside them.

``Input(shape, batch_size, dtype, sparse, batch_shape, name, tensor, optional)`` (Keras 3);
``shape`` excludes the batch axis, ``batch_shape`` includes it (Keras 2 also: ``batch_input_shape``,
``InputLayer(input_shape=...)``, which warns as Keras 3 does). ``optional=True``: the input may be
given as None (the layers reading it get None). ``sparse=True`` and ``ragged=True`` are refused:
onnxruntime's tensors are dense.

``tensor=`` / ``input_tensor=``: an existing tensor. A KerasTensor made directly (no history)
becomes this layer's output itself, as in Keras 3; a tensor computed by the graph (a
``K.placeholder``, a ``K.variable``, an expression of them, a layer's output) is read through, as
Keras 2's ``Input(tensor=...)``: the model input stands for it, a model built from this input
starts here, and a `K.function` reaching it computes it from the tensor. ``shape``,
``batch_shape``, ``batch_size``, ``dtype`` and ``sparse`` given with it must agree with it
(None agrees with any size).
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from ..backend import config
from ..tensor import KerasTensor
from .base import Layer, Node, _Slot


def _dense_only(flag: str) -> ValueError:
    return ValueError(f"`{flag}=True` is not supported: irgraph runs models in onnxruntime, whose tensors are "
                      f"dense (ONNX has no {flag} tensor type). Pass dense arrays and leave {flag}=False.")


class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, **kwargs):
        if "input_shape" in kwargs:
            warnings.warn("Argument `input_shape` is deprecated. Use `shape` instead.", UserWarning, stacklevel=2)
            shape = kwargs.pop("input_shape") if shape is None else shape
        if "batch_input_shape" in kwargs:
            batch_input_shape = kwargs.pop("batch_input_shape")
            batch_shape = batch_input_shape if batch_shape is None else batch_shape
        if ragged:
            raise _dense_only("ragged")
        if sparse and input_tensor is None:  # with a tensor: Keras's 'incompatible `sparse`' below
            raise _dense_only("sparse")
        self.sparse = self.ragged = False
        self.optional = bool(optional)
        if input_tensor is not None:
            self._init_from_tensor(input_tensor, shape, batch_size, batch_shape, dtype, sparse, name, kwargs)
            return
        if shape is not None and batch_shape is not None:
            raise ValueError("You cannot pass both `shape` and `batch_shape` at the same time.")
        if batch_size is not None and batch_shape is not None:
            raise ValueError("You cannot pass both `batch_size` and `batch_shape` at the same time.")
        if shape is None and batch_shape is None:
            raise ValueError("You must pass a `shape` argument (the shape of one sample, without the batch "
                             "axis, e.g. Input(shape=(784,))) or a `batch_shape`.")
        if shape is not None:
            shape = (shape,) if isinstance(shape, numbers.Integral) and not isinstance(shape, bool) else shape
            try:
                batch_shape = (batch_size,) + tuple(shape)
            except TypeError:
                raise TypeError(f"Input shape must be a tuple of ints (or None), got {shape!r}") from None
        batch_shape = _shape_tuple(batch_shape, "shape")
        dtype = _numeric_dtype(dtype or config.floatx())
        super().__init__(name=name, dtype=dtype, **kwargs)
        self._batch_input_shape = batch_shape
        self.built = True
        self.is_placeholder = True
        tensor = KerasTensor(batch_shape, np.dtype(self.dtype).name, name=self.name, history=(self, 0, 0))
        self._inbound_nodes.append(Node(self, ((), (), {}), [], [tensor], _Slot(0)))

    def _init_from_tensor(self, tensor, shape, batch_size, batch_shape, dtype, sparse, name, kwargs) -> None:
        source = _as_functional(tensor)
        have = tuple(source.shape)
        if batch_size is not None and (not have or not _agrees(have[0], batch_size)):
            raise ValueError("When providing the `input_tensor` argument, you cannot provide an incompatible "
                             f"`batch_size` argument: the tensor has shape {have}, batch_size={batch_size}")
        if shape is not None and not _shapes_agree(_shape_tuple(shape, "shape"), have[1:]):
            raise ValueError("When providing the `input_tensor` argument, you cannot provide an incompatible "
                             f"`shape` argument: the tensor has shape {have}, shape={tuple(shape)}")
        if batch_shape is not None and not _shapes_agree(_shape_tuple(batch_shape, "batch_shape"), have):
            raise ValueError("When providing the `input_tensor` argument, you cannot provide an incompatible "
                             f"`batch_shape` argument: the tensor has shape {have}, batch_shape={tuple(batch_shape)}")
        if dtype is not None and _numeric_dtype(dtype) != source.dtype:
            raise ValueError("When providing the `input_tensor` argument, you cannot provide an incompatible "
                             f"`dtype` argument: the tensor has dtype {source.dtype}, dtype={dtype!r}")
        if sparse is not None and bool(sparse) != bool(getattr(source, "sparse", False)):
            raise ValueError("When providing the `input_tensor` argument, you cannot provide an incompatible "
                             "`sparse` argument.")
        super().__init__(name=name, dtype=source.dtype, **kwargs)
        self._batch_input_shape = have
        self.built = True
        if source._keras_history is None:
            # a tensor made directly: it becomes this layer's output (Keras 3)
            self.is_placeholder = True
            source._keras_history = (self, 0, 0)
            self._inbound_nodes.append(Node(self, ((), (), {}), [], [source], _Slot(0)))
            return
        # a tensor of the graph: this input reads it (Keras 2's Input(tensor=...))
        self.is_placeholder = False
        out = KerasTensor(source.shape, source.dtype, name=self.name, history=(self, 0, 0))
        self._inbound_nodes.append(Node(self, (_Slot(0), (), {}), [source], [out], _Slot(0)))

    def _default_name(self) -> str:
        return "input_layer"

    @property
    def batch_shape(self) -> tuple:
        return self._batch_input_shape

    @property
    def input(self):
        return self._inbound_nodes[0].output_tensors[0]

    @property
    def input_shape(self):
        return self._batch_input_shape

    def call(self, inputs=None):
        return inputs

    def get_config(self) -> dict:
        cfg = {"batch_shape": self._batch_input_shape, "dtype": self.dtype, "name": self.name}
        if self.optional:
            cfg["optional"] = True
        return cfg


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None, name=None,
          tensor=None, optional=False, batch_input_shape=None, **kwargs):
    """A symbolic model input (the output of a new `InputLayer`; module docstring). Keras 2's
    ``Input(tensor=t, shape=...)`` keeps its meaning: the shape is the tensor's (a ``shape`` with
    None where the tensor's size is known agrees with it)."""
    if batch_input_shape is not None and batch_shape is None:
        batch_shape = batch_input_shape
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, ragged=ragged,
                       batch_shape=batch_shape, input_tensor=tensor, optional=optional, name=name, **kwargs)
    return layer.output


def _shape_tuple(shape, what: str) -> tuple:
    """A shape as a tuple of ints and None (an int alone is a shape of one axis), checked."""
    if isinstance(shape, (numbers.Integral,)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"Input {what} must be a tuple of ints (or None), got {shape!r}") from None
    for d in dims:
        if d is not None and (isinstance(d, bool) or not isinstance(d, numbers.Integral)):
            raise TypeError(f"Input {what} dims must be whole numbers or None, got {dims}")
        if d is not None and d <= 0:
            raise ValueError(f"Input {what} dims must be positive or None, got {dims}")
    return tuple(None if d is None else int(d) for d in dims)


def _numeric_dtype(dtype) -> str:
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        dt = None
    if dt is None or dt.kind not in ("f", "i", "u", "b"):
        raise TypeError(f"Input dtype must be a numeric or bool dtype ('float32', 'int32', 'int64', "
                        f"'bool', ...), got {dtype!r}")
    return dt.name


def _agrees(a, b) -> bool:
    return a is None or b is None or a == b


def _shapes_agree(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(_agrees(x, y) for x, y in zip(a, b))


def _as_functional(tensor) -> KerasTensor:
    """A functional tensor for ``Input(tensor=...)``: a KerasTensor, or a layer weight's tensor for a
    ``K.variable``. Arrays are refused, as in Keras 3 (``K.constant(array)`` makes a tensor of one)."""
    from ..variables import Variable
    if isinstance(tensor, KerasTensor):
        return tensor
    if isinstance(tensor, Variable):
        from ..backend.graph import variable_tensor
        return variable_tensor(tensor)
    raise ValueError(f"Argument `input_tensor` must be a KerasTensor. Received invalid type: input_tensor="
                     f"{type(tensor).__name__} (a functional tensor, a K.placeholder or a K.variable; wrap an "
                     "array with K.constant)")
