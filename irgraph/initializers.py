"""Keras weight initializers (same names, defaults and formulas), drawing from a seedable RNG."""
from __future__ import annotations

import numpy as np

from .random_state import rng, set_seed  # noqa: F401  (irgraph.initializers.set_seed, as before)


def _fans(shape):
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    def __call__(self, shape, dtype="float32"):
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor arguments (every initializer stores them under their own names)."""
        return dict(vars(self))


class Zeros(Initializer):
    def __call__(self, shape, dtype="float32"):
        return np.zeros(shape, dtype)


class Ones(Initializer):
    def __call__(self, shape, dtype="float32"):
        return np.ones(shape, dtype)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype="float32"):
        return np.broadcast_to(np.asarray(self.value, dtype), shape).copy()


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype="float32"):
        g = np.random.default_rng(self.seed) if self.seed is not None else rng()
        return g.normal(self.mean, self.stddev, shape).astype(dtype)


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, dtype="float32"):
        g = np.random.default_rng(self.seed) if self.seed is not None else rng()
        return g.uniform(self.minval, self.maxval, shape).astype(dtype)


def _truncated(g, mean, stddev, shape):
    """Normal samples redrawn until within two standard deviations (as Keras does)."""
    out = g.normal(0.0, 1.0, shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = g.normal(0.0, 1.0, int(bad.sum()))
        bad = np.abs(out) > 2
    return mean + stddev * out


class TruncatedNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype="float32"):
        g = np.random.default_rng(self.seed) if self.seed is not None else rng()
        return _truncated(g, self.mean, self.stddev, shape).astype(dtype)


class VarianceScaling(Initializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if distribution == "normal":
            distribution = "truncated_normal"
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling mode must be fan_in, fan_out or fan_avg, got {mode!r}")
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def __call__(self, shape, dtype="float32"):
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        scale = self.scale / max(1.0, n)
        g = np.random.default_rng(self.seed) if self.seed is not None else rng()
        if self.distribution == "truncated_normal":
            return _truncated(g, 0.0, np.sqrt(scale) / 0.87962566103423978, shape).astype(dtype)
        if self.distribution == "untruncated_normal":
            return g.normal(0.0, np.sqrt(scale), shape).astype(dtype)
        limit = np.sqrt(3.0 * scale)
        return g.uniform(-limit, limit, shape).astype(dtype)


def _preset(name, scale, mode, distribution):
    """A named VarianceScaling (GlorotUniform, ...): a class, so it serializes under its own name."""
    def __init__(self, seed=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)
    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": lambda self: {"seed": self.seed}})


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    def __init__(self, gain=1.0, seed=None):
        self.gain, self.seed = gain, seed

    def __call__(self, shape, dtype="float32"):
        if len(shape) < 2:
            raise ValueError(f"the orthogonal initializer needs a shape of rank >= 2, got {shape}")
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        g = np.random.default_rng(self.seed) if self.seed is not None else rng()
        a = g.normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q[:rows, :cols]).reshape(shape).astype(dtype)


class Identity(Initializer):
    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype="float32"):
        if len(shape) != 2:
            raise ValueError(f"the identity initializer needs a 2D shape, got {shape}")
        return (self.gain * np.eye(*shape)).astype(dtype)


_BY_NAME = {
    "zeros": Zeros, "zero": Zeros, "ones": Ones, "one": Ones, "constant": Constant,
    "random_normal": RandomNormal, "normal": RandomNormal, "random_uniform": RandomUniform,
    "uniform": RandomUniform, "truncated_normal": TruncatedNormal,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_uniform": HeUniform,
    "he_normal": HeNormal, "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal, "identity": Identity, "variance_scaling": VarianceScaling,
}


def get(identifier, where: str = ""):
    """An initializer from a name, a config dict, an instance or a callable ``(shape, dtype)``."""
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, Initializer) or (callable(identifier) and not isinstance(identifier, type)):
        return identifier
    if isinstance(identifier, dict):
        cls = identifier.get("class_name", "")
        key = _snake(cls)
        if key not in _BY_NAME:
            raise ValueError(f"{where + ': ' if where else ''}unknown initializer {cls!r}")
        return _BY_NAME[key](**identifier.get("config", {}))
    if isinstance(identifier, str):
        key = _snake(identifier)
        if key not in _BY_NAME:
            raise ValueError(f"{where + ': ' if where else ''}unknown initializer {identifier!r}; "
                             f"known: {', '.join(sorted(_BY_NAME))}")
        return _BY_NAME[key]()
    raise TypeError(f"{where + ': ' if where else ''}cannot interpret {identifier!r} as an initializer")


def _snake(name: str) -> str:
    import re
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def serialize(init) -> dict | str:
    if isinstance(init, Initializer):
        return {"class_name": type(init).__name__, "config": init.get_config()}
    return getattr(init, "__name__", repr(init))


# Keras 2 lower-case function aliases
zeros, ones = Zeros, Ones
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_uniform, he_normal = HeUniform, HeNormal
lecun_uniform, lecun_normal = LecunUniform, LecunNormal
orthogonal, identity = Orthogonal, Identity
