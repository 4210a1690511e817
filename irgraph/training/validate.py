"""Host-side checks of what users pass to predict/fit/evaluate, with errors in user terms.

Each check names the model input or output, the expected and the actual shape, dtype or values, and
what to do, so that a wrong batch never ends as a silently wrong number (an embedding row read
through a negative id, a zero loss for an out-of-range class) or as an onnxruntime, numpy or graph
error about an internal node.

* `check_label_shape`, `check_label_values`, `check_class_weight`, `check_sample_weight`: labels
  against the output shape and the loss (built-in losses only: a custom loss may read labels of
  any shape), sparse class indices against the number of classes.

The checks of inputs and arguments that predict shares (`cast_checked`, `id_bounds`, `count_arg`,
...) are in `irgraph.input_checks`, in the runtime layer below. A loss tells its label kind itself
(``loss.label_kind``, see `irgraph.losses`): the training layer does not import the user API.
"""
from __future__ import annotations

import numpy as np

from ..input_checks import at_index, first_bad, fmt_shape


# ------------------------------------------------------------------------------------- labels
def loss_kind(loss) -> str | None:
    """'sparse', 'categorical', 'binary' or 'elementwise' for a built-in loss over the last axis;
    None for custom losses (which may read labels of any shape) and other axes."""
    return getattr(loss, "label_kind", None)


def _loss_name(loss) -> str:
    return str(getattr(loss, "name", None) or type(loss).__name__)


def num_classes(out_shape: tuple, loss) -> int | None:
    """Classes of an output as its labels count them: the last dim, 2 for one sigmoid unit."""
    last = out_shape[-1] if len(out_shape) > 1 else 1
    if not isinstance(last, int):
        return None
    if loss_kind(loss) == "sparse":
        return last
    return 2 if last == 1 else last


def check_label_dtype(output: str, y: np.ndarray) -> None:
    if y.dtype.kind not in "biuf":
        raise TypeError(f"labels for output '{output}' must be numbers (int, float or bool), got an array "
                        f"of dtype {y.dtype}; convert them (e.g. class names to class indices) first")


def check_label_shape(output: str, y_shape: tuple, out_shape: tuple, loss) -> None:
    """Labels against the output shape for the built-in losses, with Keras's rank alignment
    ((N,) labels for an (N, 1) output are fine, as are (N, 1) labels for an (N,) output)."""
    kind = loss_kind(loss)
    if kind is None or not y_shape:
        return
    name = _loss_name(loss)
    ys, ps = tuple(y_shape), tuple(out_shape)
    classes = ps[-1] if len(ps) > 1 else None
    if kind == "sparse":
        ok = _dims_match(ys[1:], ps[1:-1]) or _dims_match(ys[1:], ps[1:-1] + (1,))
        if ok:
            return
        hint = "pass one integer class index per sample"
        if len(ys) == len(ps) and _dims_match(ys[1:], ps[1:]) and classes not in (None, 1):
            hint = ("these look like one-hot labels: use loss='categorical_crossentropy' for them, or pass "
                    "y.argmax(-1)")
        raise ValueError(f"labels for output '{output}' have shape {tuple(y_shape)}, but loss '{name}' needs "
                         f"integer class indices of shape {fmt_shape(ps[:-1])} or {fmt_shape(ps[:-1] + (1,))} for the "
                         f"output of shape {fmt_shape(ps)}; {hint}")
    ya, pa = _align(ys, ps)
    broadcast = kind == "elementwise"
    if len(ya) == len(pa) and all(_dim_ok(a, b, broadcast) for a, b in zip(ya[1:], pa[1:])):
        return
    if kind == "categorical" and classes not in (None, 1) and (
            _dims_match(ys[1:], ps[1:-1]) or _dims_match(ys[1:], ps[1:-1] + (1,))):
        raise ValueError(f"labels for output '{output}' have shape {tuple(y_shape)}, but loss '{name}' needs "
                         f"one-hot labels of shape {fmt_shape(ps)} ({classes} classes); these look like integer "
                         f"class indices: use loss='sparse_categorical_crossentropy', or convert them with "
                         f"irgraph.utils.to_categorical(y, {classes})")
    raise ValueError(f"labels for output '{output}' have shape {tuple(y_shape)}, but the output has shape "
                     f"{fmt_shape(ps)} and loss '{name}' needs labels of that shape (one row per sample); pass "
                     f"labels of shape {fmt_shape(ps)}, or change the output layer to match the labels")


def _align(ys: tuple, ps: tuple) -> tuple:
    """Keras's squeeze_or_expand_to_same_rank on shapes."""
    if len(ys) == len(ps) + 1 and ys[-1] == 1:
        return ys[:-1], ps
    if len(ps) == len(ys) + 1 and ps[-1] == 1:
        return ys, ps[:-1]
    return ys, ps


def _dim_ok(a, b, broadcast: bool) -> bool:
    return not isinstance(a, int) or not isinstance(b, int) or a == b or (broadcast and a == 1)


def _dims_match(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(_dim_ok(x, y, False) for x, y in zip(a, b))


def check_label_values(output: str, y: np.ndarray, out_shape: tuple, loss) -> None:
    """Sparse class indices: whole numbers in ``[0, num_classes)`` (or the loss's ignore_class)."""
    if loss_kind(loss) != "sparse" or not y.size:
        return
    n = num_classes(out_shape, loss)
    name = _loss_name(loss)
    if y.dtype.kind == "f":
        whole = np.isfinite(y) & (np.mod(y, 1) == 0)
        if not whole.all():
            i = first_bad(~whole)
            raise ValueError(f"labels for output '{output}' must be integer class indices for loss '{name}', "
                             f"got {y[i]} at {at_index(i)}; pass class indices 0..{'n-1' if n is None else n - 1}")
    if n is None:
        return
    lo, hi = y.min(), y.max()
    if lo >= 0 and hi < n:
        return
    ignore = loss._fn_kwargs.get("ignore_class")
    bad = (y < 0) | (y >= n)
    if ignore is not None:
        bad &= y != ignore
    if not bad.any():
        return
    i = first_bad(bad)
    raise ValueError(f"labels for output '{output}' must be class indices in [0, {n}) for loss '{name}' "
                     f"(the output has {n} classes); got labels from {lo} to {hi} ({y[i]} at {at_index(i)}). "
                     f"Remap the labels to 0..{n - 1}, or give the output layer as many units as there "
                     f"are classes")


def check_class_weight(output: str, class_weight, out_shape: tuple, loss) -> dict:
    """``{class index: weight}`` with int keys; keys must be classes of the output (Keras accepts
    a subset of the classes: the others weigh 1) and weights finite and non-negative."""
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight for output '{output}' must be a dict {{class index: weight}}, got "
                        f"{type(class_weight).__name__}")
    n = num_classes(out_shape, loss)
    out = {}
    for key, w in class_weight.items():
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)):
            raise TypeError(f"class_weight for output '{output}': keys must be integer class indices, got "
                            f"{key!r}")
        key = int(key)
        if key < 0 or (n is not None and key >= n):
            classes = f"{n} classes (0..{n - 1})" if n is not None else "an unknown number of classes"
            raise ValueError(f"class_weight for output '{output}' has a weight for class {key}, but the output "
                             f"has {classes}; keys are class indices: remove the key or fix the output's units")
        try:
            w = float(w)
        except (TypeError, ValueError):
            raise TypeError(f"class_weight for output '{output}': the weight of class {key} must be a number, "
                            f"got {w!r}") from None
        if not np.isfinite(w) or w < 0:
            raise ValueError(f"class_weight for output '{output}': the weight of class {key} must be a finite "
                             f"number >= 0, got {w}")
        out[key] = w
    return out


def check_sample_weight(output: str, w, n: int) -> np.ndarray:
    """One finite weight per sample, as float32 of shape (n,)."""
    try:
        arr = np.asarray(w)
    except Exception as err:
        raise TypeError(f"sample_weight for output '{output}': cannot convert {type(w).__name__} to an "
                        f"array: {err}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight for output '{output}' must be numbers, got an array of dtype {arr.dtype}")
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.shape != (n,):
        raise ValueError(f"sample_weight for output '{output}' must have shape ({n},) (one weight per sample), "
                         f"got shape {arr.shape}" + ("; per-timestep weights are not supported"
                                                     if arr.ndim == 2 and arr.shape[0] == n else ""))
    arr = arr.astype(np.float32)
    finite = np.isfinite(arr)
    if not finite.all():
        i = first_bad(~finite)
        raise ValueError(f"sample_weight for output '{output}' must be finite, got {arr[i]} at {at_index(i)}")
    return arr

