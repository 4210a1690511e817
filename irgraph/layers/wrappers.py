"""TimeDistributed (over layers and models); Bidirectional lives with the recurrent layers."""
from __future__ import annotations

import numpy as np

from .. import backend as K
from ..ops.trace import apply
from .base import InputSpec, Layer


def _call_parameters(layer) -> set:
    import inspect
    return set(inspect.signature(type(layer).call).parameters)


class TimeDistributed(Layer):
    """Applies ``layer`` to every step of axis 1: (batch, time, ...) -> (batch, time, ...out).

    Lowered as reshape to (batch * time, ...), the inner layer once, and reshape back; the time axis
    may be unknown (then the shape is computed at run time)."""

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed wraps a layer or a model, got {type(layer).__name__}")
        super().__init__(**kwargs)
        self.layer = layer
        self.input_spec = InputSpec(min_ndim=3)
        # Keras 2's rule (Keras 3 drops the mask here): a (batch, time) mask passes through, so a
        # TimeDistributed(Dense) after a masked return_sequences RNN keeps its loss weighted by it
        self.supports_masking = True

    def call(self, inputs, training=None, mask=None):
        shape = inputs.sym_shape
        rest = shape[2:]
        if any(not isinstance(d, int) for d in rest):
            raise ValueError(f"layer '{self.name}' (TimeDistributed): dims after the time axis must be "
                             f"known, got input shape {inputs.shape}")
        flat = K.reshape(inputs, (-1,) + tuple(rest))
        y = self.layer(flat, **self._inner_mask(mask))
        if isinstance(y, (list, tuple)):
            raise ValueError(f"layer '{self.name}' (TimeDistributed): the wrapped layer must return one tensor")
        out_rest = y.sym_shape[1:]
        if any(not isinstance(d, int) for d in out_rest):
            raise ValueError(f"layer '{self.name}' (TimeDistributed): the wrapped layer's output dims must "
                             f"be known, got {y.shape}")
        time = shape[1]
        if isinstance(time, int):
            return K.reshape(y, (-1, time) + tuple(out_rest))
        batch_time = K.getitem(K.shape(inputs), slice(0, 2))
        target = K.concatenate([batch_time, np.array(out_rest, dtype=np.int64)], axis=0)
        return apply("Reshape", [y, target], out_shape=(shape[0], time) + tuple(out_rest))

    def _inner_mask(self, mask) -> dict:
        """The mask per step for an inner layer whose call takes one (Keras: mask[:, i])."""
        if mask is None or "mask" not in _call_parameters(self.layer):
            return {}
        if mask.ndim < 2:
            raise ValueError(f"layer '{self.name}' (TimeDistributed): the mask must be at least 2D "
                             f"(batch, timesteps), got shape {mask.shape}")
        return {"mask": K.reshape(mask, (-1,) + tuple(mask.sym_shape[2:]))}

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(),
                "layer": {"class_name": type(self.layer).__name__, "config": self.layer.get_config()}}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..serialization import deserialize_layer
        config = dict(config)
        return cls(deserialize_layer(config.pop("layer"), custom_objects), **config)


from .recurrent import Bidirectional  # noqa: E402,F401  (Keras 2 keeps it in keras.layers.wrappers)
