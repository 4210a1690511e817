"""BatchNormalization (inference: moving statistics) and LayerNormalization."""
from __future__ import annotations

from .. import backend as K
from .. import initializers
from ..ops.trace import to_value
from ._args import axis_in_range
from .base import InputSpec, Layer


def _broadcast_param(p, rank: int, axes: tuple):
    """Reshape a parameter of shape (C...) on ``axes`` so that it broadcasts against rank ``rank``."""
    if axes == tuple(range(rank - len(axes), rank)):
        return to_value(p)
    shape = [1] * rank
    for a, d in zip(axes, p.shape):
        shape[a] = d
    return K.reshape(p, tuple(shape))


class BatchNormalization(Layer):
    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, **kwargs):
        kwargs.pop("mode", None)  # Keras 1: mode 0 is the only one with today's semantics
        beta_initializer = kwargs.pop("beta_init", beta_initializer)  # Keras 1 spellings
        gamma_initializer = kwargs.pop("gamma_init", gamma_initializer)
        super().__init__(**kwargs)
        self.axis = axis
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        where = f"layer '{self.name}'"
        self.beta_initializer = initializers.get(beta_initializer, where)
        self.gamma_initializer = initializers.get(gamma_initializer, where)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer, where)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer, where)
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer
        self.beta_constraint, self.gamma_constraint = beta_constraint, gamma_constraint
        self.supports_masking = True  # Keras 3: the mask passes, and training moments skip masked entries

    def build(self, input_shape):
        rank = len(input_shape)
        self._axes = _norm_axes(self, input_shape)
        dims = tuple(input_shape[a] for a in self._axes)
        if any(d is None for d in dims):
            raise ValueError(f"layer '{self.name}' (BatchNormalization): axis {self.axis} of input shape "
                             f"{input_shape} must be known")
        self.gamma = self.add_weight("gamma", dims, initializer=self.gamma_initializer,
                                     regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint) if self.scale else None
        self.beta = self.add_weight("beta", dims, initializer=self.beta_initializer,
                                    regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint) if self.center else None
        self.moving_mean = self.add_weight("moving_mean", dims, initializer=self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight("moving_variance", dims,
                                               initializer=self.moving_variance_initializer, trainable=False)
        self.input_spec = InputSpec(ndim=rank, axes={a: d for a, d in zip(self._axes, dims)})
        self.built = True

    def call(self, inputs, training=None, mask=None):
        rank = len(inputs.shape)
        if mask is not None and mask.ndim != rank - 1:
            raise ValueError(f"layer '{self.name}' (BatchNormalization): the mask must have one dimension "
                             f"less than the inputs; got mask shape {mask.shape} for inputs of shape "
                             f"{inputs.shape}")
        if training and self.trainable:
            return self._train_call(inputs, mask)
        inv = 1.0 / K.sqrt(_broadcast_param(self.moving_variance, rank, self._axes) + self.epsilon)
        if self.scale:
            inv = inv * _broadcast_param(self.gamma, rank, self._axes)
        y = (inputs - _broadcast_param(self.moving_mean, rank, self._axes)) * inv
        if self.center:
            y = y + _broadcast_param(self.beta, rank, self._axes)
        return y

    def _train_call(self, inputs, mask=None):
        """Normalize with the batch's statistics and record the moving-average updates (Keras:
        moving = moving * momentum + batch_stat * (1 - momentum), biased batch variance)."""
        from ..ops.trace import current
        rank = len(inputs.shape)
        reduce_axes = tuple(a for a in range(rank) if a not in self._axes)
        if mask is None:
            mean = K.mean(inputs, axis=reduce_axes, keepdims=True)
            centered = inputs - mean
            var = K.mean(K.square(centered), axis=reduce_axes, keepdims=True)
        else:
            mean, var = self._masked_moments(inputs, mask, reduce_axes)
            centered = inputs - mean
        y = centered / K.sqrt(var + self.epsilon)
        if self.scale:
            y = y * _broadcast_param(self.gamma, rank, self._axes)
        if self.center:
            y = y + _broadcast_param(self.beta, rank, self._axes)
        flat_shape = tuple(self.moving_mean.shape)
        batch_mean = K.reshape(mean, flat_shape)
        batch_var = K.reshape(var, flat_shape)
        m = self.momentum
        current().updates.append((self.moving_mean, self.moving_mean * m + batch_mean * (1.0 - m)))
        current().updates.append((self.moving_variance, self.moving_variance * m + batch_var * (1.0 - m)))
        return y

    @staticmethod
    def _masked_moments(inputs, mask, reduce_axes):
        """Keras 3's moments over the unmasked entries only (``mask``: one dimension less than the
        inputs); the sums are divided by ``count + K.epsilon()`` as Keras does."""
        keep = K.cast(K.expand_dims(mask, -1), inputs.dtype)
        count = K.sum(keep * K.ones_like(inputs), axis=reduce_axes, keepdims=True) + K.epsilon()
        mean = K.sum(inputs * keep, axis=reduce_axes, keepdims=True) / count
        var = K.sum(K.square((inputs - mean) * keep), axis=reduce_axes, keepdims=True) / count
        return mean, var

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                **_initializer_config(self, "beta", "gamma", "moving_mean", "moving_variance")}


class LayerNormalization(Layer):
    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, rms_scaling=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self.rms_scaling = bool(rms_scaling)
        where = f"layer '{self.name}'"
        self.beta_initializer = initializers.get(beta_initializer, where)
        self.gamma_initializer = initializers.get(gamma_initializer, where)
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer
        self.beta_constraint, self.gamma_constraint = beta_constraint, gamma_constraint
        self.supports_masking = True  # Keras 3: a (batch, time) mask passes through

    def build(self, input_shape):
        self._axes = _norm_axes(self, input_shape)
        dims = tuple(input_shape[a] for a in self._axes)
        if any(d is None for d in dims):
            raise ValueError(f"layer '{self.name}' (LayerNormalization): normalized axes of input shape "
                             f"{input_shape} must be known")
        self.gamma = self.add_weight("gamma", dims, initializer=self.gamma_initializer,
                                     regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint) if self.scale else None
        self.beta = self.add_weight("beta", dims, initializer=self.beta_initializer,
                                    regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint) if self.center and not self.rms_scaling else None
        self.built = True

    def call(self, inputs):
        rank = len(inputs.shape)
        if self.rms_scaling:
            y = inputs / K.sqrt(K.mean(K.square(inputs), axis=self._axes, keepdims=True) + self.epsilon)
            return y * _broadcast_param(self.gamma, rank, self._axes) if self.scale else y
        mean = K.mean(inputs, axis=self._axes, keepdims=True)
        centered = inputs - mean
        var = K.mean(K.square(centered), axis=self._axes, keepdims=True)
        y = centered / K.sqrt(var + self.epsilon)
        if self.scale:
            y = y * _broadcast_param(self.gamma, rank, self._axes)
        if self.center:
            y = y + _broadcast_param(self.beta, rank, self._axes)
        return y

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "rms_scaling": self.rms_scaling,
                **_initializer_config(self, "beta", "gamma")}


def _norm_axes(layer, input_shape) -> tuple:
    """The layer's axis (or axes) for this input, in range and without repeats."""
    rank = len(input_shape)
    axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    where = f"{type(layer).__name__} layer '{layer.name}'"
    if not axes:
        raise ValueError(f"{where}: axis must name at least one axis, got {layer.axis!r}")
    out = tuple(sorted(axis_in_range(a, rank, "axis", where, input_shape) for a in axes))
    if len(set(out)) != len(out):
        raise ValueError(f"{where}: axis {layer.axis!r} names the same axis twice for input shape "
                         f"{tuple(input_shape)}")
    return out


def _initializer_config(layer, *names):
    return {f"{n}_initializer": initializers.serialize(getattr(layer, f"{n}_initializer")) for n in names}
