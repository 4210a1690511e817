"""InputLayer: the layer behind `Input`, producing one KerasTensor from nothing."""
from __future__ import annotations

import numbers

import numpy as np

from ..backend import config
from ..tensor import KerasTensor
from .base import Layer, Node, _Slot


class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, batch_shape=None,
                 input_shape=None, batch_input_shape=None, sparse=False, **kwargs):
        shape = shape if shape is not None else input_shape
        batch_shape = batch_shape or batch_input_shape
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
