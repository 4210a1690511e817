"""TimeDistributed (over layers and models); Bidirectional lives with the recurrent layers."""
from __future__ import annotations

import numpy as np

from .. import backend as K
from ..ops.trace import apply
from .base import InputSpec, Layer


def _call_parameters(layer) -> set:
    import inspect
    return set(inspect.signature(type(layer).call).parameters)


class Wrapper(Layer):
    """Keras's base of layers that wrap another layer (``self.layer``): building the wrapper builds
    the wrapped layer on the same input shape; the config holds the wrapped layer's."""

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise TypeError(f"{type(self).__name__} wraps a layer or a model, got {type(layer).__name__}")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
            self.layer.built = True
        self.built = True

    def get_config(self):
        return {**super().get_config(),
                "layer": {"class_name": type(self.layer).__name__, "config": self.layer.get_config()}}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..serialization import deserialize_layer
        config = dict(config)
        return cls(deserialize_layer(config.pop("layer"), custom_objects), **config)


class TimeDistributed(Wrapper):
    """Applies ``layer`` to every step of axis 1: (batch, time, ...) -> (batch, time, ...out).

    Lowered as reshape to (batch * time, ...), the inner layer once, and reshape back; the time axis
    may be unknown (then the shape is computed at run time). An explicit ``mask`` covers (batch,
    timesteps) and may have more axes (Keras 3); the wrapped layer gets it per step when its call
    takes a mask."""

    _checks_own_mask = True  # only (batch, timesteps) of a mask must match: see _check_mask_shape

    def __init__(self, layer, **kwargs):
        super().__init__(layer, **kwargs)
        self.input_spec = InputSpec(min_ndim=3)
        # Keras 2's rule (Keras 3 drops the mask here): a (batch, time) mask passes through, so a
        # TimeDistributed(Dense) after a masked return_sequences RNN keeps its loss weighted by it
        self.supports_masking = True

    def build(self, input_shape=None):
        self.built = True  # the wrapped layer is built by its call on (batch * time, ...) steps

    def __call__(self, inputs, *args, **kwargs):
        mask = kwargs.get("mask")
        if mask is not None and hasattr(inputs, "shape") and hasattr(mask, "shape"):
            self._check_mask_shape(tuple(inputs.shape), tuple(mask.shape))
        return super().__call__(inputs, *args, **kwargs)

    def _check_mask_shape(self, input_shape, mask_shape):
        """Keras 3's check: the mask's first two axes are the input's (batch, timesteps)."""
        bad = len(mask_shape) < 2 or any(
            isinstance(m, int) and isinstance(d, int) and m != d for m, d in zip(mask_shape[:2], input_shape[:2]))
        if bad:
            raise ValueError(f"The `mask` passed to the `TimeDistributed` layer has a shape {mask_shape} "
                             f"incompatible with the input shape {input_shape} (layer '{self.name}'): its "
                             f"first two axes must be (batch_size, timesteps) = {input_shape[:2]}")

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
        rest = getattr(mask, "sym_shape", None) or np.shape(mask)
        return {"mask": K.reshape(mask, (-1,) + tuple(rest[2:]))}

    def compute_mask(self, inputs, mask=None):
        """The input's (batch, timesteps) mask; one with more axes is kept per step where all its
        entries are true."""
        if mask is None:
            return None
        rank = len(getattr(mask, "sym_shape", None) or np.shape(mask))
        return K.all(mask, axis=tuple(range(2, rank))) if rank > 2 else mask


from .recurrent import Bidirectional  # noqa: E402,F401  (Keras 2 keeps it in keras.layers.wrappers)
