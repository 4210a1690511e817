"""Random backend functions (training graphs)."""
from __future__ import annotations

from ..random_state import rng
from ..ops.trace import apply, to_value
from .math import cast, getitem, greater_equal, symbolic

__all__ = ["dropout", "random_uniform_like"]


def _seed(seed):
    return float(seed if seed is not None else int(rng().integers(1, 2**31 - 1)))


@symbolic
def random_uniform_like(x, seed=None):
    return apply("RandomUniformLike", [x], seed=_seed(seed))


@symbolic
def dropout(x, level, noise_shape=None, seed=None):
    """Inverted dropout: zero each element with probability ``level``, scale the rest by 1/(1-level).
    ``noise_shape`` (None entries follow x) shares one draw along the axes where it is 1."""
    x = to_value(x)
    like = x
    if noise_shape is not None:
        if len(noise_shape) != x.ndim:
            raise ValueError(f"dropout noise_shape {tuple(noise_shape)} must have rank {x.ndim}")
        like = getitem(x, tuple(slice(0, 1) if d == 1 else slice(None) for d in noise_shape))
    keep = cast(greater_equal(random_uniform_like(like, seed), float(level)), x.dtype)
    return x * keep * (1.0 / (1.0 - float(level)))
