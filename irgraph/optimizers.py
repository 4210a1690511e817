"""Keras optimizers (same names, defaults, configs and update formulas as Keras 3), as traced ops.

An optimizer here does not own variables or run eagerly. The training-graph builder asks it for
the names and initial values of its per-weight slots, traces `clip_gradients` over all gradients
and then `update` once per weight, inside the training-step ONNX graph. The learning rate and the
step counter are graph inputs: the runner feeds ``lr_at(step)`` (schedule and Keras 1/2 ``decay``
evaluated in Python) and ``step`` (Keras ``iterations``: updates applied before this one) each
step, so nothing in the graph is re-traced when they change.

Keras 3 also applies ``weight_decay`` (decoupled: ``var -= var * weight_decay * lr`` before the
update rule) for every optimizer; AdamW only changes its default to 0.004.
"""
from __future__ import annotations

import numbers
import sys

import numpy as np

from . import backend as K
from . import schedules
from .ops.trace import Value, constant, to_value
from .schedules import LearningRateSchedule

# `irgraph.optimizers.schedules` as Keras spells it, importable as a module too
sys.modules.setdefault(__name__ + ".schedules", schedules)

# Keras 3 base-optimizer arguments that configs written by Keras 3 carry: accepted while off
# (ema_momentum means nothing without use_ema); turning them on is not supported here.
_KERAS3_OFF_ARGS = ("use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                    "gradient_accumulation_steps")
_CONFIG_ONLY_KEYS = ("jit_compile", "is_legacy_optimizer", "amsgrad_legacy")


# the range of each hyperparameter: (low, high, low included, high included)
_RANGES = {"learning_rate": (0, None, True, None), "decay": (0, None, True, None),
           "weight_decay": (0, None, True, None), "clipnorm": (0, None, False, None),
           "clipvalue": (0, None, False, None), "global_clipnorm": (0, None, False, None),
           "epsilon": (0, None, True, None), "momentum": (0, 1, True, True), "rho": (0, 1, True, False),
           "beta_1": (0, 1, True, False), "beta_2": (0, 1, True, False),
           "initial_accumulator_value": (0, None, True, None)}


def _num(value, what: str, where: str) -> float:
    """``value`` as a float, checked against the range of hyperparameter ``what`` (`_RANGES`)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"{where}: `{what}` must be a number, got {value!r}")
    value = float(value)
    low, high, low_in, high_in = _RANGES.get(what, (None, None, None, None))
    bad = not np.isfinite(value) or (low is not None and (value < low or (value == low and not low_in))) \
        or (high is not None and (value > high or (value == high and not high_in)))
    if bad:
        span = (("[" if low_in else "(") + f"{low}, " + (f"{high}" + ("]" if high_in else ")")
                                                          if high is not None else "inf)"))
        raise ValueError(f"{where}: `{what}` must be in {span}, got {value}")
    return value


def _const(value, dtype: str) -> Value:
    return constant(np.asarray(value, dtype=dtype))


def _vec(x, dtype: str) -> Value:
    """``x`` (a scalar Value or number) as a shape-(1,) Value of ``dtype``.

    Scalar arithmetic (learning rate, step, bias corrections, norms) runs on shape-(1,) tensors:
    the ONNX emitter currently writes 0-d constants as shape (1,) (`np.ascontiguousarray` makes
    0-d arrays 1-d), which the full checker rejects next to a 0-d result; at rank 1 both agree, and
    the result broadcasts against any weight.
    """
    if isinstance(x, Value):
        x = K.cast(x, dtype)
        return K.reshape(x, (1,)) if x.ndim == 0 else x
    return _const(np.reshape(np.asarray(x, dtype=dtype), (1,)), dtype)


# ============================================================================== base class
class Optimizer:
    """Base class. Subclasses override `slot_names` (and `initial_slots` if not zeros), `_update_step`
    (the Keras ``update_step``, traced; weight decay is already applied) and `_hyper_config`."""

    _default_name = "optimizer"

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, **kwargs):
        cls = type(self).__name__
        if "lr" in kwargs:  # Keras 1/2 spelling
            learning_rate = kwargs.pop("lr")
        decay = kwargs.pop("decay", None)
        for key in _KERAS3_OFF_ARGS:
            value = kwargs.pop(key, None)
            if key != "ema_momentum" and value not in (None, False):
                raise ValueError(f"{cls}: `{key}={value!r}` is not supported by irgraph "
                                 "(only the Keras 3 default, off)")
        if kwargs:
            bad = next(iter(kwargs))
            raise TypeError(f"{cls} got an unexpected keyword argument {bad!r}")
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                             f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        self.name = name if name is not None else self._default_name
        self.learning_rate = learning_rate
        self.decay = 0.0 if decay is None else _num(decay, "decay", cls)
        self.weight_decay = None if weight_decay is None else _num(weight_decay, "weight_decay", cls)
        self.clipnorm = None if clipnorm is None else _num(clipnorm, "clipnorm", cls)
        self.clipvalue = None if clipvalue is None else _num(clipvalue, "clipvalue", cls)
        self.global_clipnorm = (None if global_clipnorm is None
                                else _num(global_clipnorm, "global_clipnorm", cls))
        self.iterations = 0  # updates applied so far (Keras ``optimizer.iterations``)
        self._slot_variables: dict = {}  # weight path -> (weight, [slot Variables])

    # ------------------------------------------------------------------ learning rate
    @property
    def learning_rate(self):
        """A float, or a `LearningRateSchedule` (or a callable of the step); settable any time."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, dict):
            value = schedules.deserialize(value)
        if isinstance(value, LearningRateSchedule) or (callable(value) and not isinstance(value, type)):
            self._learning_rate = value
            return
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        self._learning_rate = _num(value, "learning_rate", type(self).__name__)

    lr = learning_rate  # Keras 1/2 alias (same property, settable)

    def lr_at(self, step: int) -> float:
        """The learning rate used by update number ``step`` (0-based, Keras ``iterations``): the
        schedule evaluated at ``step``, then Keras 1/2 time decay ``lr / (1 + decay * step)``."""
        lr = self._learning_rate
        value = float(lr(step)) if callable(lr) else float(lr)
        if self.decay:
            value = value / (1.0 + self.decay * float(step))
        return value

    # ------------------------------------------------------------------ slots
    def slot_names(self) -> list[str]:
        """Names of the per-weight optimizer variables, in the order `update` takes and returns them."""
        return []

    def initial_slots(self, shape, dtype="float32") -> list[np.ndarray]:
        """Initial values of the slots of one weight of ``shape`` and ``dtype``."""
        return [np.zeros(tuple(shape), dtype=dtype) for _ in self.slot_names()]

    def slot_variables(self, var) -> list:
        """The slots of weight ``var`` as Variables named ``<weight path>:<slot>``, created with
        `initial_slots` on first use; they belong to this optimizer, so compiling again with the same
        optimizer instance keeps its state and a new optimizer starts fresh (Keras's rule)."""
        from .variables import Variable
        entry = self._slot_variables.get(var.path)
        if entry is None or entry[0] is not var:
            init = self.initial_slots(var.shape, var.dtype)
            entry = (var, [Variable(v, f"{var.path}:{s}", trainable=False)
                           for s, v in zip(self.slot_names(), init)])
            self._slot_variables[var.path] = entry
        return entry[1]

    def state_of(self, weights) -> dict:
        """The slots created for ``weights`` so far, ``'<weight path>:<slot>' -> array``."""
        from .variables import LOCK
        mine = {id(v) for v in weights}
        with LOCK:
            return {s.name: s.numpy() for var, slots in self._slot_variables.values()
                    if id(var) in mine for s in slots}

    def set_state_of(self, weights, arrays: dict) -> None:
        """Set the slots of ``weights`` from ``'<weight path>:<slot>' -> array`` (a saved state)."""
        from .variables import assign_all
        by_path = {v.path: v for v in weights}
        pairs = []
        for key, value in arrays.items():
            path, _, _ = key.rpartition(":")
            var = by_path.get(path)
            match = [s for s in self.slot_variables(var) if s.name == key] if var is not None else []
            if not match:
                raise ValueError(f"optimizer state '{key}' matches no slot of {type(self).__name__} for "
                                 f"the weights {sorted(by_path)}")
            pairs.append((match[0], value))
        assign_all(pairs)

    @property
    def variables(self) -> list:
        """Every slot Variable created so far (the optimizer's state besides ``iterations``)."""
        return [s for _, slots in self._slot_variables.values() for s in slots]

    def keras_variable_specs(self, trainable_weights) -> list[tuple[tuple, str]]:
        """(shape, dtype) of each variable Keras 3 gives this optimizer once built for
        ``trainable_weights`` (what ``summary``'s "Optimizer params" counts): the iteration counter,
        the learning rate unless it is a schedule, the slots of each weight and any scalar state
        (`_keras_scalar_state`)."""
        specs = [((), "int32")]  # Keras's iteration counter (int32 on its torch backend)
        if not callable(self._learning_rate):
            specs.append(((), "float32"))
        for var in {id(v): v for v in trainable_weights}.values():
            specs.extend((tuple(var.shape), var.dtype) for _ in self.slot_names())
        specs.extend(((), "float32") for _ in range(self._keras_scalar_state))
        return specs

    _keras_scalar_state = 0  # scalar variables Keras keeps besides iterations and learning rate

    # ------------------------------------------------------------------ traced math
    def clip_gradients(self, grads: list) -> list:
        """Keras 3 gradient clipping, traced: ``clipnorm`` rescales each gradient to an L2 norm of at
        most clipnorm, ``global_clipnorm`` rescales all of them by one factor so their joint norm is
        at most global_clipnorm, ``clipvalue`` clips elementwise. None entries pass through."""
        grads = list(grads)
        if self.clipnorm and self.clipnorm > 0:
            return [None if g is None else self._clip_by_norm(g) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            return self._clip_by_global_norm(grads)
        if self.clipvalue and self.clipvalue > 0:
            return [None if g is None else K.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def _clip_by_norm(self, g):
        g = to_value(g)
        scalar = g.ndim == 0
        if scalar:
            g = K.reshape(g, (1,))
        l2norm = K.sqrt(K.sum(K.square(g), axis=None, keepdims=True))
        out = g * self.clipnorm / K.maximum(l2norm, self.clipnorm)
        return K.reshape(out, ()) if scalar else out

    def _clip_by_global_norm(self, grads):
        present = [to_value(g) for g in grads if g is not None]
        if not present:
            return grads
        dtype = present[0].dtype
        total = None
        for g in present:
            s = _vec(K.sum(K.square(g)), dtype)
            total = s if total is None else total + s
        norm = K.sqrt(total)
        c = self.global_clipnorm
        # c * min(1/norm, 1/c): 1 while the norm is at most c; NaN when the norm is not finite
        scale = c * K.minimum(1.0 / norm, 1.0 / c) + (norm - norm)
        scale = K.reshape(scale, ())
        return [None if g is None else to_value(g) * K.cast(scale, to_value(g).dtype) for g in grads]

    def update(self, var, grad, slots, lr, step):
        """Trace the update of one weight: returns ``(new_var, new_slots)``.

        ``lr``: float scalar Value (the learning rate of this step, schedule already applied);
        ``step``: float scalar Value, the number of updates applied before this one (Keras
        ``iterations``), so bias corrections use ``t = step + 1``.
        """
        var = to_value(var)
        dtype = var.dtype
        if len(slots) != len(self.slot_names()):
            raise ValueError(f"{type(self).__name__}.update expects {len(self.slot_names())} slots "
                             f"{self.slot_names()}, got {len(slots)}")
        scalar = var.ndim == 0  # a 0-d weight is updated as shape (1,), see `_vec`
        var, grad, *slots = [_vec(v, dtype) if scalar else K.cast(to_value(v), dtype)
                             for v in (var, grad, *slots)]
        lr, step = _vec(lr, dtype), _vec(step, dtype)
        if self.weight_decay:
            var = var - var * self.weight_decay * lr
        new_var, new_slots = self._update_step(var, grad, list(slots), lr, step)
        if scalar:
            new_var, new_slots = K.reshape(new_var, ()), [K.reshape(s, ()) for s in new_slots]
        return new_var, list(new_slots)

    def apply(self, variables, grads, slots, lr, step):
        """Clip all gradients, then update every weight: ``(new_vars, new_slots)``."""
        grads = self.clip_gradients(grads)
        new_vars, new_slots = [], []
        scalars: dict = {}
        for v, g, s in zip(variables, grads, slots):
            nv, ns = self.update(v, g, s, *self.step_scalars(lr, step, to_value(v).dtype, scalars))
            new_vars.append(nv)
            new_slots.append(ns)
        return new_vars, new_slots

    @staticmethod
    def step_scalars(lr, step, dtype: str, cache: dict) -> tuple:
        """``lr`` and ``step`` as shape-(1,) Values of ``dtype``, made once per dtype in ``cache``
        (one Cast/Reshape pair per dtype instead of one per weight)."""
        if dtype not in cache:
            cache[dtype] = (_vec(lr, dtype), _vec(step, dtype))
        return cache[dtype]

    def _update_step(self, var, grad, slots, lr, step):
        raise NotImplementedError(f"{type(self).__name__} has no update rule")

    # ------------------------------------------------------------------ config
    def _hyper_config(self) -> dict:
        return {}

    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = schedules.serialize(lr)
        config = {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                  "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                  "clipvalue": self.clipvalue}
        if self.decay:
            config["decay"] = self.decay
        config.update(self._hyper_config())
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        config = dict(config)
        for key in _CONFIG_ONLY_KEYS:
            config.pop(key, None)
        lr = config.get("learning_rate", config.get("lr"))
        if isinstance(lr, dict):
            config["learning_rate" if "learning_rate" in config else "lr"] = \
                schedules.deserialize(lr, custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={v!r}" for k, v in self._hyper_config().items())
        return f"<{type(self).__name__} lr={self._learning_rate!r}{', ' + hp if hp else ''}>"


def _epsilon(value, where):
    """Keras 2 wrote ``epsilon=None`` for the backend epsilon (1e-7)."""
    return 1e-7 if value is None else _num(value, "epsilon", where)


# ============================================================================== optimizers
class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, Keras 3 form:
    ``m = momentum * m - lr * g; var += m`` (Nesterov: ``var += momentum * m - lr * g``)."""

    _default_name = "SGD"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        momentum = _num(momentum, "momentum", "SGD")
        self.momentum = momentum
        self.nesterov = bool(nesterov)

    def slot_names(self):
        return ["momentum"] if self.momentum != 0 else []

    def _update_step(self, var, g, slots, lr, step):
        if self.momentum == 0:
            return var - g * lr, []
        (m,) = slots
        m = m * self.momentum - g * lr
        if self.nesterov:
            return var + (m * self.momentum - g * lr), [m]
        return var + m, [m]

    def _hyper_config(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """``v = rho v + (1-rho) g^2``; ``var -= lr g / sqrt(v + eps)`` (centered: ``v - mean_g^2 + eps``),
    through a momentum buffer ``mom = momentum * mom + increment`` when momentum > 0."""

    _default_name = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.rho = _num(rho, "rho", "RMSprop")
        self.momentum = _num(momentum, "momentum", "RMSprop")
        self.epsilon = _epsilon(epsilon, "RMSprop")
        self.centered = bool(centered)

    def slot_names(self):
        return (["velocity"] + (["momentum"] if self.momentum > 0 else [])
                + (["average_gradient"] if self.centered else []))

    def _update_step(self, var, g, slots, lr, step):
        it = iter(slots)
        v = next(it)
        mom = next(it) if self.momentum > 0 else None
        avg = next(it) if self.centered else None
        rho = self.rho
        v = v * rho + K.square(g) * (1 - rho)
        if self.centered:
            avg = avg * rho + g * (1 - rho)
            denominator = v - K.square(avg) + self.epsilon
        else:
            denominator = v + self.epsilon
        increment = lr * g / K.sqrt(denominator)
        if self.momentum > 0:
            mom = mom * self.momentum + increment
            var = var - mom
        else:
            var = var - increment
        return var, [s for s in (v, mom, avg) if s is not None]

    def _hyper_config(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adam(Optimizer):
    """Keras 3 Adam: ``alpha = lr sqrt(1-b2^t) / (1-b1^t)`` with ``t = step + 1``;
    ``m += (g-m)(1-b1)``, ``v += (g^2-v)(1-b2)``, ``var -= alpha m / (sqrt(v) + eps)``;
    amsgrad uses the running maximum of v."""

    _default_name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        where = type(self).__name__
        self.beta_1 = _num(beta_1, "beta_1", where)
        self.beta_2 = _num(beta_2, "beta_2", where)
        self.epsilon = _epsilon(epsilon, where)
        self.amsgrad = bool(amsgrad)

    def slot_names(self):
        return ["momentum", "velocity"] + (["velocity_hat"] if self.amsgrad else [])

    def _update_step(self, var, g, slots, lr, step):
        dtype = var.dtype
        t = step + 1.0
        b1_power = K.pow(_const(self.beta_1, dtype), t)
        b2_power = K.pow(_const(self.beta_2, dtype), t)
        m, v = slots[0], slots[1]
        alpha = lr * K.sqrt(1.0 - b2_power) / (1.0 - b1_power)
        m = m + (g - m) * (1 - self.beta_1)
        v = v + (K.square(g) - v) * (1 - self.beta_2)
        new = [m, v]
        if self.amsgrad:
            v = K.maximum(slots[2], v)
            new.append(v)
        return var - (m * alpha) / (K.sqrt(v) + self.epsilon), new

    def _hyper_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (Keras 3): ``var -= var * weight_decay * lr``, then Adam."""

    _default_name = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        if self.weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")


class Adagrad(Optimizer):
    """``acc += g^2`` (starting at initial_accumulator_value); ``var -= lr g / sqrt(acc + eps)``."""

    _default_name = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.initial_accumulator_value = _num(initial_accumulator_value,
                                              "initial_accumulator_value", "Adagrad")
        self.epsilon = _epsilon(epsilon, "Adagrad")

    def slot_names(self):
        return ["accumulator"]

    def initial_slots(self, shape, dtype="float32"):
        return [np.full(tuple(shape), self.initial_accumulator_value, dtype=dtype)]

    def _update_step(self, var, g, slots, lr, step):
        acc = slots[0] + K.square(g)
        return var - lr * g / K.sqrt(acc + self.epsilon), [acc]

    def _hyper_config(self):
        return {"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon}


class Adadelta(Optimizer):
    """``Eg2 = rho Eg2 + (1-rho) g^2``; ``delta = -sqrt(Edx2 + eps) g / sqrt(Eg2 + eps)``;
    ``Edx2 = rho Edx2 + (1-rho) delta^2``; ``var += lr delta``."""

    _default_name = "adadelta"

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.rho = _num(rho, "rho", "Adadelta")
        self.epsilon = _epsilon(epsilon, "Adadelta")

    def slot_names(self):
        return ["accumulated_grad", "accumulated_delta_var"]

    def _update_step(self, var, g, slots, lr, step):
        acc_g, acc_dx = slots
        rho, eps = self.rho, self.epsilon
        acc_g = acc_g * rho + K.square(g) * (1 - rho)
        delta = -(K.sqrt(acc_dx + eps) * g / K.sqrt(acc_g + eps))
        acc_dx = acc_dx * rho + K.square(delta) * (1 - rho)
        return var + lr * delta, [acc_g, acc_dx]

    def _hyper_config(self):
        return {"rho": self.rho, "epsilon": self.epsilon}


class Adamax(Optimizer):
    """``m += (g-m)(1-b1)``; ``u = max(b2 u, |g|)``; ``var -= lr m / ((1 - b1^t)(u + eps))``."""

    _default_name = "adamax"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.beta_1 = _num(beta_1, "beta_1", "Adamax")
        self.beta_2 = _num(beta_2, "beta_2", "Adamax")
        self.epsilon = _epsilon(epsilon, "Adamax")

    def slot_names(self):
        return ["momentum", "norm"]

    def _update_step(self, var, g, slots, lr, step):
        m, u = slots
        b1_power = K.pow(_const(self.beta_1, var.dtype), step + 1.0)
        m = m + (g - m) * (1 - self.beta_1)
        u = K.maximum(u * self.beta_2, K.abs(g))
        return var - (lr * m) / ((1.0 - b1_power) * (u + self.epsilon)), [m, u]

    def _hyper_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


def _nadam_cache_table(dtype: str) -> np.ndarray:
    """``Q[k] = prod_{i=1..k} (1 - 0.5 * 0.96^i)`` for k = 0.. until the factors are exactly 1."""
    q, out, i = 1.0, [1.0], 1
    while True:
        f = 1.0 - 0.5 * 0.96 ** i
        if f == 1.0:
            break
        q *= f
        out.append(q)
        i += 1
    return np.asarray(out, dtype=dtype)


class Nadam(Optimizer):
    """Keras 3 Nadam (Adam with Nesterov momentum and Dozat's momentum schedule).

    With ``t = step + 1`` and ``u_i = b1 (1 - 0.5 * 0.96^i)``: Keras keeps the running product
    ``u_product = u_1 ... u_t`` in an optimizer variable; here it is computed from ``step`` instead,
    as ``b1^t * Q[min(t, N)]`` with ``Q`` the (constant) table of partial products of
    ``1 - 0.5 * 0.96^i`` (whose factors are exactly 1 beyond N), so Nadam needs no extra state.
    """

    _default_name = "nadam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.beta_1 = _num(beta_1, "beta_1", "Nadam")
        self.beta_2 = _num(beta_2, "beta_2", "Nadam")
        self.epsilon = _epsilon(epsilon, "Nadam")

    _keras_scalar_state = 1  # Keras stores u_product; here it is computed from the step

    def slot_names(self):
        return ["momentum", "velocity"]

    def _update_step(self, var, g, slots, lr, step):
        dtype = var.dtype
        m, v = slots
        b1, b2 = self.beta_1, self.beta_2
        t = step + 1.0
        decay = _const(0.96, dtype)
        u_t = b1 * (1.0 - 0.5 * K.pow(decay, t))
        u_t_1 = b1 * (1.0 - 0.5 * K.pow(decay, t + 1.0))
        table = _nadam_cache_table(dtype)
        idx = K.cast(K.minimum(t, float(len(table) - 1)), "int64")
        u_product_t = K.pow(_const(b1, dtype), t) * K.gather(_const(table, dtype), idx)
        u_product_t_1 = u_product_t * u_t_1
        b2_power = K.pow(_const(b2, dtype), t)
        m = m + (g - m) * (1 - b1)
        v = v + (K.square(g) - v) * (1 - b2)
        m_hat = u_t_1 * m / (1.0 - u_product_t_1) + (1.0 - u_t) * g / (1.0 - u_product_t)
        v_hat = v / (1.0 - b2_power)
        return var - (m_hat * lr) / (K.sqrt(v_hat) + self.epsilon), [m, v]

    def _hyper_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


# ============================================================================== lookup
_CLASSES = {c.__name__.lower(): c for c in (SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax, Nadam)}


def _lookup(name: str):
    key = name.lower().replace("_", "")
    if key not in _CLASSES:
        known = ", ".join(sorted(_CLASSES))
        raise ValueError(f"Could not interpret optimizer identifier: {name} (unknown optimizer {name!r}; "
                         f"known: {known}, or their Keras class names)")
    return _CLASSES[key]


def serialize(optimizer: Optimizer) -> dict:
    """``{'module', 'class_name', 'config', 'registered_name'}``, as Keras 3 writes it."""
    return {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None}


def deserialize(config: dict, custom_objects: dict | None = None) -> Optimizer:
    name = config.get("class_name", "")
    cls = (custom_objects or {}).get(name) or _lookup(name)
    return cls.from_config(dict(config.get("config", {})), custom_objects)


def get(identifier) -> Optimizer:
    """An optimizer from a name ('adam', 'RMSprop', ...), a ``{'class_name', 'config'}`` dict, an
    instance (returned as is) or an optimizer class."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str):
        return _lookup(identifier)()
    if isinstance(identifier, dict) and "class_name" in identifier:
        return deserialize(identifier)
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}; expected one of "
                     f"{', '.join(sorted(_CLASSES))}, a config dict or an Optimizer instance")


# Keras 1/2 lower-case aliases
sgd, rmsprop, adam, adamw, adagrad, adadelta, adamax, nadam = (
    SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax, Nadam)

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "Nadam",
           "get", "serialize", "deserialize", "schedules"]
