"""Training data: arrays, lists and dicts by name, generators; batching, shuffling, sample and class
weights, validation split; batches prepared in a background thread while onnxruntime computes."""
from __future__ import annotations

import collections.abc

import numpy as np


def is_generator_like(x) -> bool:
    return isinstance(x, collections.abc.Iterator) or (
        isinstance(x, collections.abc.Iterable) and not isinstance(x, (np.ndarray, list, tuple, dict, str))
        and not hasattr(x, "shape"))


def _as_array(v, what: str) -> np.ndarray:
    try:
        return np.asarray(v)
    except Exception as err:
        raise TypeError(f"{what}: cannot convert {type(v).__name__} to an array: {err}") from None


def structure(data, names: list[str], what: str) -> list:
    """Arrays in ``names`` order from a dict by name, a list in order, or one array."""
    if data is None:
        return [None] * len(names)
    if isinstance(data, dict):
        unknown = [k for k in data if k not in names]
        if unknown:
            raise ValueError(f"{what}: keys {unknown} name no {what.split()[0]} of the model; "
                             f"they are {names}")
        return [None if data.get(n) is None else _as_array(data[n], f"{what} '{n}'") for n in names]
    if isinstance(data, (list, tuple)) and not (len(names) == 1 and _is_flat_data(data)):
        if len(data) != len(names):
            raise ValueError(f"{what}: the model has {len(names)} ({', '.join(names)}), got a list of {len(data)}")
        return [None if v is None else _as_array(v, f"{what} '{n}'") for n, v in zip(names, data)]
    if len(names) != 1:
        raise ValueError(f"{what}: the model has {len(names)} ({', '.join(names)}); pass a list or a "
                         "dict keyed by name")
    return [_as_array(data, f"{what} '{names[0]}'")]


def _is_flat_data(data) -> bool:
    """A list that is the data of one input rather than a list of inputs."""
    return not (len(data) == 1 and hasattr(data[0], "shape")) and not all(hasattr(v, "shape") for v in data)


def class_weights_to_sample_weights(y: np.ndarray, class_weight: dict, output: str = "",
                                    sparse: bool = False) -> np.ndarray:
    """One weight per sample from ``{class index: weight}`` (classes not listed weigh 1): the class
    is the argmax of one-hot rows, else the (rounded) label itself, as in Keras. ``sparse``: the
    labels are class indices (a sparse loss), so only (N,) and (N, 1) labels have one per sample."""
    if y.ndim > 2 or (sparse and y.ndim == 2 and y.shape[1] != 1):
        raise ValueError(f"class_weight{f' for output {output!r}' if output else ''} needs one label per "
                         f"sample (labels of shape (N,), (N, 1) or one-hot (N, classes)), got labels of shape "
                         f"{y.shape}; use sample_weight instead")
    if y.ndim == 2 and y.shape[-1] > 1:
        cls = np.argmax(y, axis=-1)
    else:
        cls = np.rint(y.reshape(len(y))).astype(np.int64)
    w = np.ones(len(y), dtype=np.float32)
    for c, weight in class_weight.items():
        w[cls == int(c)] = float(weight)
    return w


class Dataset:
    """Arrays for every graph input of the step (model inputs, labels, sample weights), by name."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        lengths = {k: len(v) for k, v in arrays.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError("all inputs and targets need the same number of samples; got "
                             + ", ".join(f"{k}: {n}" for k, n in lengths.items()))
        self.arrays = arrays
        self.n = next(iter(lengths.values())) if lengths else 0

    def split(self, fraction: float):
        """Keras's validation_split: the last ``fraction`` of the samples, before shuffling."""
        if not 0 < fraction < 1:
            raise ValueError(f"validation_split must be between 0 and 1, got {fraction}")
        cut = int(self.n * (1 - fraction))
        if cut == 0 or cut == self.n:
            raise ValueError(f"validation_split={fraction} leaves no training or no validation samples "
                             f"out of {self.n}")
        return (Dataset({k: v[:cut] for k, v in self.arrays.items()}),
                Dataset({k: v[cut:] for k, v in self.arrays.items()}))

    def batches(self, batch_size: int, shuffle: bool, rng: np.random.Generator, steps: int | None = None):
        order = rng.permutation(self.n) if shuffle else np.arange(self.n)
        nb = max(1, -(-self.n // batch_size))
        if steps is not None:
            nb = min(nb, steps)
        for b in range(nb):
            idx = order[b * batch_size:(b + 1) * batch_size]
            if shuffle:
                yield {k: np.ascontiguousarray(v[idx]) for k, v in self.arrays.items()}, len(idx)
            else:
                sl = slice(b * batch_size, (b + 1) * batch_size)
                yield {k: np.ascontiguousarray(v[sl]) for k, v in self.arrays.items()}, len(idx)

    def num_batches(self, batch_size: int, steps: int | None = None) -> int:
        nb = max(1, -(-self.n // batch_size))
        return nb if steps is None else min(nb, steps)
