"""InputLayer: the layer behind `Input`, producing one KerasTensor from nothing."""
from __future__ import annotations

import numbers

import numpy as np

from ..backend import config
from ..tensor import KerasTensor
from .base import Layer, Node, _Slot


class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, batch_shape=None,
                 input_shape=None, batch_input_shape=None, sparse=False, input_tensor=None, **kwargs):
        if input_tensor is not None:
            self._init_from_tensor(input_tensor, name, dtype, kwargs)
            return
        shape = shape if shape is not None else input_shape
        batch_shape = batch_shape if batch_shape is not None else batch_input_shape
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input needs a shape (without the batch axis) or a batch_shape")
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size,) + tuple(shape)
        try:
            batch_shape = tuple(batch_shape)
        except TypeError:
            raise TypeError(f"Input shape must be a tuple of ints (or None), got {shape!r}") from None
        for d in batch_shape:
            if d is not None and (isinstance(d, bool) or not isinstance(d, numbers.Integral)):
                raise TypeError(f"Input shape dims must be whole numbers or None, got {batch_shape}")
        batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        for d in batch_shape:
            if d is not None and d <= 0:
                raise ValueError(f"Input shape dims must be positive or None, got {batch_shape}")
        dtype = dtype or config.floatx()
        try:
            kind = np.dtype(dtype).kind
        except (TypeError, ValueError):
            kind = None
        if kind not in ("f", "i", "u", "b"):
            raise TypeError(f"Input dtype must be a numeric or bool dtype ('float32', 'int32', 'int64', "
                            f"'bool', ...), got {dtype!r}")
        super().__init__(name=name, dtype=dtype, **kwargs)
        self._batch_input_shape = batch_shape
        self.built = True
        self.is_placeholder = True
        tensor = KerasTensor(batch_shape, np.dtype(self.dtype).name, name=self.name, history=(self, 0, 0))
        self._inbound_nodes.append(Node(self, ((), (), {}), [], [tensor], _Slot(0)))

    def _init_from_tensor(self, tensor, name, dtype, kwargs) -> None:
        """Keras 2's ``InputLayer(input_tensor=t)``: an input whose value is ``t``'s. The call node
        reads ``t`` (a model built from the output starts at it; a K.function walks through it)."""
        source = _as_functional(tensor)
        if dtype is not None and np.dtype(dtype).name != source.dtype:
            raise TypeError(f"Input(tensor=...): the tensor has dtype {source.dtype}, not the dtype={dtype!r} given")
        super().__init__(name=name, dtype=source.dtype, **kwargs)
        self._batch_input_shape = tuple(source.shape)
        self.built = True
        self.is_placeholder = False
        out = KerasTensor(source.shape, source.dtype, name=self.name, history=(self, 0, 0))
        self._inbound_nodes.append(Node(self, (_Slot(0), (), {}), [source], [out], _Slot(0)))

    def _default_name(self) -> str:
        return "input_layer"

    @property
    def input(self):
        return self._inbound_nodes[0].output_tensors[0]

    @property
    def input_shape(self):
        return self._batch_input_shape

    def call(self, inputs):
        return inputs

    def get_config(self) -> dict:
        return {"batch_shape": self._batch_input_shape, "dtype": self.dtype, "name": self.name}


def _as_functional(tensor) -> KerasTensor:
    """A functional tensor for ``Input(tensor=...)``: the tensor itself, a layer weight's tensor, or
    a constant for an array."""
    from ..variables import Variable
    if isinstance(tensor, KerasTensor):
        return tensor
    if isinstance(tensor, Variable):
        from ..backend.graph import variable_tensor
        return variable_tensor(tensor)
    if isinstance(tensor, (np.ndarray, numbers.Number, list, tuple)):
        from ..backend.graph import constant
        return constant(tensor)
    raise TypeError(f"Input(tensor=...) needs a tensor (a placeholder, variable, functional tensor or array), "
                    f"got {type(tensor).__name__}")
