"""TimeDistributed (over layers and models); Bidirectional lives with the recurrent layers."""
from __future__ import annotations

import numpy as np

from .. import backend as K
from ..ops.trace import apply
from .base import InputSpec, Layer


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

    def call(self, inputs, training=None):
        shape = inputs.sym_shape
        rest = shape[2:]
        if any(not isinstance(d, int) for d in rest):
            raise ValueError(f"layer '{self.name}' (TimeDistributed): dims after the time axis must be "
                             f"known, got input shape {inputs.shape}")
        flat = K.reshape(inputs, (-1,) + tuple(rest))
        y = self.layer(flat)
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

    def get_config(self):
        return {**super().get_config(),
                "layer": {"class_name": type(self.layer).__name__, "config": self.layer.get_config()}}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..serialization import deserialize_layer
        config = dict(config)
        return cls(deserialize_layer(config.pop("layer"), custom_objects), **config)


from .recurrent import Bidirectional  # noqa: E402,F401  (Keras 2 keeps it in keras.layers.wrappers)
