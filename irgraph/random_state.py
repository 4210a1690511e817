"""The seedable random generator shared by weight initializers, backend random functions and the
shuffling of `fit`: ``irgraph.set_seed(n)`` makes all of them repeatable. It imports nothing of
irgraph, so every layer of the design may use it."""
from __future__ import annotations

import numpy as np

_rng = [np.random.default_rng()]


def set_seed(seed: int | None) -> None:
    _rng[0] = np.random.default_rng(seed)


def rng() -> np.random.Generator:
    return _rng[0]
