"""Functional-API tensors: `KerasTensor` (no data, a shape and a history) and the op-lifting hook.

A KerasTensor holds no data: a shape (None for unknown dims), a dtype, a name, and its history
``(layer, node_index, tensor_index)``, which links it to the call that produced it. ``_keras_mask``
is its Keras mask: None, or a boolean KerasTensor made by the same call (see `layers.base.MaskPlan`).

`lift` turns a backend function applied to KerasTensors into a call of the functional graph (an op
layer, as Keras 3 records an operation). The backend calls it and the layers install the handler
(`use_op_lifter`, done by `irgraph.layers.core`), so the backend does not import the layers.
``Input``, which builds an input layer, is in `irgraph.tensor` (with KerasTensor, the names users
import) above the layers; this module is below them, with the backend functions.
"""
from __future__ import annotations

import numpy as np

from .operators import TensorOperators


class KerasTensor(TensorOperators):
    # Keras 3's flags: irgraph's tensors are dense (onnxruntime has no sparse or ragged tensors)
    sparse = False
    ragged = False

    def __init__(self, shape, dtype: str = "float32", name: str | None = None, history=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype).name
        self.name = name
        self._keras_history = history
        self._keras_mask = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def node(self):
        layer, node_index, _ = self._keras_history
        return layer._inbound_nodes[node_index]

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __len__(self):
        if self.shape and self.shape[0] is not None:
            return self.shape[0]
        raise TypeError("len() of a symbolic tensor with unknown first dimension")

    def __bool__(self):
        raise TypeError("a symbolic tensor has no truth value; build the condition with backend ops")


_lifter = [None]  # (fn, fn_name, args, kwargs) -> KerasTensor(s): installed by irgraph.layers.core


def use_op_lifter(handler) -> None:
    """Install the handler that records a backend function applied to KerasTensors as a layer call."""
    _lifter[0] = handler


def lift(fn, fn_name: str, args: tuple, kwargs: dict):
    """``fn(*args, **kwargs)`` with KerasTensors among the arguments, as a call of the functional graph."""
    handler = _lifter[0]
    if handler is None:
        raise RuntimeError(f"{fn_name} was applied to a functional tensor before irgraph.layers was "
                           "imported; import irgraph (or irgraph.layers) first")
    return handler(fn, fn_name, args, kwargs)
