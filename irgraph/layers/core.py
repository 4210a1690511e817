"""Core layers: Dense, Activation, Dropout, SpatialDropout, Flatten, Reshape, Permute, RepeatVector,
Lambda, Masking, and the op layer that records backend functions applied to functional tensors."""
from __future__ import annotations

import numbers

from .. import activations, initializers
from .. import keras_tensor
from .. import backend as K
from ..backend import config
from ._args import positive_int
from .base import InputSpec, Layer, serialize_regularizer


def _is_real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _pop_alias(kwargs, new_value, *names):
    """Keras 1/2 argument aliases: take the first given old name if the new one was not given."""
    for n in names:
        if n in kwargs:
            v = kwargs.pop(n)
            if new_value is None:
                new_value = v
    return new_value


class Dense(Layer):
    def __init__(self, units=None, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        units = _pop_alias(kwargs, units, "output_dim")
        kernel_initializer = _pop_alias(kwargs, None, "init") or kernel_initializer
        kernel_regularizer = _pop_alias(kwargs, kernel_regularizer, "W_regularizer")
        bias_regularizer = _pop_alias(kwargs, bias_regularizer, "b_regularizer")
        kernel_constraint = _pop_alias(kwargs, kernel_constraint, "W_constraint")
        bias_constraint = _pop_alias(kwargs, bias_constraint, "b_constraint")
        if "bias" in kwargs:
            use_bias = kwargs.pop("bias")
        super().__init__(**kwargs)
        self.units = positive_int(units, "the output size", f"Dense layer '{self.name}'", count="units")
        self.activation = activations.get(activation, where=f"layer '{self.name}'")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, where=f"layer '{self.name}'")
        self.bias_initializer = initializers.get(bias_initializer, where=f"layer '{self.name}'")
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True  # a (batch, time) mask passes through a Dense on sequences

    def build(self, input_shape):
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(f"Dense layer '{self.name}' needs the last input dimension to be known, "
                             f"got input shape {input_shape}; give the Input a fixed last dimension")
        self.kernel = self.add_weight("kernel", (in_dim, self.units), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight("bias", (self.units,), initializer=self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.input_spec = InputSpec(min_ndim=2, axes={-1: in_dim})
        self.built = True

    def call(self, inputs):
        y = K.matmul(inputs, self.kernel)
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": serialize_regularizer(self.kernel_regularizer),
                "bias_regularizer": serialize_regularizer(self.bias_regularizer)}


class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation, where=f"layer '{self.name}'")
        self.supports_masking = True

    def call(self, inputs):
        return self.activation(inputs)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Identity in inference graphs; a random mask in training graphs."""

    def __init__(self, rate=None, noise_shape=None, seed=None, **kwargs):
        rate = _pop_alias(kwargs, rate, "p")
        super().__init__(**kwargs)
        if not _is_real(rate) or not 0 <= float(rate) < 1:
            raise ValueError(f"{type(self).__name__} layer '{self.name}' needs a rate in [0, 1) (the fraction "
                             f"of the units dropped), got {rate!r}")
        self.rate, self.noise_shape, self.seed = float(rate), noise_shape, seed
        self.supports_masking = True

    def _noise_shape(self, inputs):
        return self.noise_shape

    def call(self, inputs, training=None):
        if training and self.rate > 0:
            return K.dropout(inputs, self.rate, noise_shape=self._noise_shape(inputs), seed=self.seed)
        return K.identity(inputs)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}


class _SpatialDropout(Dropout):
    rank = 1

    def __init__(self, rate=None, data_format=None, **kwargs):
        super().__init__(rate, **kwargs)
        self.data_format = config.normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _noise_shape(self, inputs):
        n = len(inputs.shape)
        if self.data_format == "channels_first":
            return (None, None) + (1,) * (n - 2)
        return (None,) + (1,) * (n - 2) + (None,)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class SpatialDropout1D(_SpatialDropout):
    rank = 1

    def __init__(self, rate=None, data_format=None, **kwargs):
        super().__init__(rate, data_format="channels_last", **kwargs)  # always (batch, steps, channels)


class SpatialDropout2D(_SpatialDropout):
    rank = 2


class SpatialDropout3D(_SpatialDropout):
    rank = 3


class Flatten(Layer):
    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = config.normalize_data_format(data_format)
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs):
        n = len(inputs.shape)
        if self.data_format == "channels_first" and n > 2:
            inputs = K.permute_dimensions(inputs, (0,) + tuple(range(2, n)) + (1,))
        if n == 1:
            return K.expand_dims(inputs, 1)
        return K.batch_flatten(inputs)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        where = f"Reshape layer '{self.name}'"
        if isinstance(target_shape, (int, str)) or not hasattr(target_shape, "__iter__"):
            raise TypeError(f"{where}: target_shape must be a tuple of ints (without the batch axis), got "
                            f"{target_shape!r}")
        self.target_shape = tuple(-1 if d == -1 else positive_int(d, "each dim of target_shape (or one -1)",
                                                                  where) for d in target_shape)
        if sum(1 for d in self.target_shape if d == -1) > 1:
            raise ValueError(f"{where}: at most one -1 in target_shape, got {self.target_shape}")

    def call(self, inputs):
        shape = tuple(inputs.shape[1:])
        total, target = _prod(shape), _prod([d for d in self.target_shape if d != -1])
        if total is not None and target is not None:
            if (-1 in self.target_shape and total % target) or (-1 not in self.target_shape and total != target):
                raise ValueError(f"Reshape layer '{self.name}': cannot reshape input of shape "
                                 f"{(None,) + shape} ({total} values per sample) to target_shape "
                                 f"{self.target_shape}; the target (without the batch axis) must hold "
                                 f"the same number of values")
        return K.reshape(inputs, (0,) + self.target_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


def _prod(dims):
    out = 1
    for d in dims:
        if d is None:
            return None
        out *= d
    return out


class Permute(Layer):
    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(positive_int(d, "dims", f"Permute layer '{self.name}'", minimum=None) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute layer '{self.name}': dims must be a permutation of "
                             f"1..{len(self.dims)} (axis 0 is the batch), got {self.dims}")
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs):
        return K.permute_dimensions(inputs, (0,) + self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(Layer):
    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = positive_int(n, "n (the number of repetitions)", f"RepeatVector layer '{self.name}'")
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs):
        return K.repeat(inputs, self.n)

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Lambda(Layer):
    """Wraps a function of backend ops as a layer. Output shapes come from tracing the function;
    ``output_shape`` (Keras's forms: a shape without the batch axis, a list of them, or a function
    of the input shape) answers `compute_output_shape` and is kept in the config, while the graph
    uses the traced shape (exact, where Keras 1 code often passes a loose one). ``mask``, as in
    Keras: None (the layer drops masks), a function ``mask(inputs, previous_mask)`` of backend ops,
    or a mask (a functional tensor or an array) that becomes the output mask whatever the input. A
    function that takes ``mask`` gets the input's mask; ``arguments`` are extra keyword arguments.

    ``get_config`` writes Keras 3's forms (a named function by name; a ``lambda`` as Keras's
    ``__lambda__`` code record, so that Keras can load it with ``safe_mode=False``); `from_config`
    never runs stored code: functions come from ``custom_objects``."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda layer '{self.name}' needs a callable, got {type(function).__name__}")
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape = output_shape
        self.mask = mask
        self.supports_masking = mask is not None
        params = _parameters(function)
        self._fn_takes_mask, self._fn_takes_training = "mask" in params, "training" in params

    def _default_name(self):
        return "lambda"

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_takes_mask:
            kwargs["mask"] = mask
        if self._fn_takes_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_output_shape(self, input_shape):
        """Keras's rule: traced when ``output_shape`` is None; ``output_shape(input_shape)`` when it
        is a function; else ``output_shape`` (one shape or a list of them) after the batch axis."""
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        first = input_shape
        while isinstance(first, (list, tuple)) and first and isinstance(first[0], (list, tuple)):
            first = first[0]
        batch = first[0] if first else None
        shape = self._output_shape
        if shape and all(isinstance(s, (list, tuple)) for s in shape):
            return [(batch,) + tuple(s) for s in shape]
        return (batch,) + tuple(shape)

    def compute_mask(self, inputs, mask=None):
        from ..tensor import KerasTensor
        if callable(self.mask):
            return self.mask(inputs, mask)
        if isinstance(self.mask, KerasTensor):
            from ..ops.trace import current
            return current().mask_sources[id(self.mask)]
        return self.mask

    def _mask_sources(self):
        return [self.mask]

    def get_config(self):
        from ..serialization import function_config, lambda_mask_config
        cfg = {**super().get_config(), "function": function_config(self.function)}
        if self._output_shape is not None:
            cfg["output_shape"] = (function_config(self._output_shape) if callable(self._output_shape)
                                   else self._output_shape)
        if self.mask is not None:
            cfg["mask"] = lambda_mask_config(self.mask, f"Lambda layer '{self.name}'")
        cfg["arguments"] = self.arguments
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        """A Lambda from its config; its function (and a mask or output_shape function) comes from
        ``custom_objects``, by the function's name or the layer's. Stored code is never run, with
        or without ``safe_mode``."""
        from ..serialization import lambda_kwargs
        return cls(**lambda_kwargs(config, custom_objects, safe_mode))


def _parameters(fn) -> set:
    import inspect
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):  # builtins without a signature
        return set()


class Masking(Layer):
    """Masks the time steps whose features all equal ``mask_value``: the output mask is
    ``any(inputs != mask_value, axis=-1)`` and the masked steps are zeroed, as in Keras."""

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if not _is_real(mask_value):
            raise ValueError(f"Masking layer '{self.name}' needs a number as mask_value, got {mask_value!r}")
        self.mask_value = mask_value
        self.supports_masking = True

    def _keep(self, inputs, keepdims):
        return K.any(K.not_equal(inputs, self.mask_value), axis=-1, keepdims=keepdims)

    def compute_mask(self, inputs, mask=None):
        return self._keep(inputs, keepdims=False)

    def call(self, inputs):
        return inputs * K.cast(self._keep(inputs, keepdims=True), inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


class OpLayer(Layer):
    """A backend function applied to functional tensors, recorded as a layer (as Keras 3 does)."""

    _drops_masks_silently = True  # like a Keras 3 op on symbolic tensors: no mask, no warning

    def __init__(self, fn, template, name=None):
        super().__init__(name=name)
        self.fn, self.template = fn, template

    def _default_name(self):
        return "op"

    def call(self, inputs):
        from .base import rebuild
        args, kwargs = rebuild(self.template, inputs if isinstance(inputs, list) else [inputs])
        return self.fn(*args, **kwargs)


def lift_op(fn, fn_name, args, kwargs):
    from ..tensor import KerasTensor
    from .base import flatten
    leaves, template = flatten((list(args), kwargs), lambda o: isinstance(o, KerasTensor))
    layer = OpLayer(fn, (template[0], template[1]), name=config.unique_name(fn_name))
    return layer(leaves)


keras_tensor.use_op_lifter(lift_op)  # backend functions applied to functional tensors record an OpLayer


dense = Dense  # spelling used by some tutorials (seed 004)
