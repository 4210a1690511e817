"""The functional-API tensor names users import: `Input` and `KerasTensor`.

`KerasTensor` is defined in `irgraph.keras_tensor`, below the layers (the backend functions use it);
`Input` builds an `InputLayer` and so belongs with the layers.
"""
from __future__ import annotations

from .keras_tensor import KerasTensor  # noqa: F401


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None, name=None,
          tensor=None, optional=False, **kwargs):
    """A symbolic model input: the output of a new `InputLayer` (`irgraph.layers.input_layer.Input`
    has the arguments: Keras 3's, with Keras 1/2's ``batch_input_shape`` and ``Input(tensor=...)``)."""
    from .layers.input_layer import Input as make_input
    return make_input(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, ragged=ragged,
                      batch_shape=batch_shape, name=name, tensor=tensor, optional=optional, **kwargs)
