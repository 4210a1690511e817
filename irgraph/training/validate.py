"""Host-side checks of what users pass to predict/fit/evaluate, with errors in user terms.

Each check names the model input or output, the expected and the actual shape, dtype or values, and
what to do, so that a wrong batch never ends as a silently wrong number (an embedding row read
through a negative id, a zero loss for an out-of-range class) or as an onnxruntime, numpy or graph
error about an internal node.

* `cast_checked`: numpy's ``astype`` without wrap-around: integers (or whole floats) that the
  target integer dtype cannot hold are refused.
* `id_bounds` / `check_ids`: which model inputs feed the ids of an Embedding (on the layer graph
  through shape-only layers; where a nested model, wrapper, Lambda or custom layer is reached, any
  Gather from a table found on the lowered graph through value-preserving ops: casts, reshapes,
  transposes, concatenations, slices), and a vectorised check that they lie in ``[0, input_dim)``.
* `check_label_shape`, `check_label_values`, `check_class_weight`, `check_sample_weight`: labels
  against the output shape and the loss (built-in losses only: a custom loss may read labels of
  any shape), sparse class indices against the number of classes.
* `count_arg`, `fraction_arg`: integer arguments that must be at least 1 (batch_size, steps,
  epochs...), validation_split in [0, 1).
"""
from __future__ import annotations

import weakref
from typing import NamedTuple

import numpy as np


def _fmt(shape) -> str:
    return "(" + ", ".join("None" if not isinstance(d, int) else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def _first_bad(bad: np.ndarray) -> tuple:
    """Index of the first True entry of a boolean array, as a tuple."""
    flat = int(np.argmax(bad.reshape(-1)))
    return tuple(int(i) for i in np.unravel_index(flat, bad.shape))


def _at(index: tuple) -> str:
    rest = index[1:]
    return f"sample {index[0]}" + (f", position {rest[0] if len(rest) == 1 else rest}" if rest else "")


# ------------------------------------------------------------------------------------- arguments
def count_arg(value, what: str, minimum: int = 1, allow_none: bool = True):
    """``value`` as an int >= ``minimum`` (None passes when allowed); bools and non-whole numbers
    are refused rather than truncated."""
    if value is None:
        if allow_none:
            return None
        raise TypeError(f"{what} must be an integer >= {minimum}, got None")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float, np.floating)) \
            or (isinstance(value, (float, np.floating)) and not float(value).is_integer()):
        raise TypeError(f"{what} must be an integer >= {minimum}, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value}")
    return value


def fraction_arg(value, what: str) -> float:
    """A fraction in [0, 1) (validation_split)."""
    if value is None:
        return 0.0
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what} must be a number in [0, 1), got {value!r}")
    value = float(value)
    if not 0 <= value < 1:
        raise ValueError(f"{what} must be in [0, 1) (the fraction of the samples held out for validation), "
                         f"got {value}")
    return value


# ------------------------------------------------------------------------------------- casts
def cast_checked(x: np.ndarray, dtype, what: str) -> np.ndarray:
    """``x.astype(dtype)``, refusing values an integer ``dtype`` cannot hold (numpy would wrap them
    around) and non-whole floats (numpy would truncate them). ``what`` names the data in messages
    ("input 'ids'", "labels for output 'out'")."""
    dtype = np.dtype(dtype)
    k = x.dtype.kind
    if dtype.kind in "iu" and k in "iuf" and x.size and not np.can_cast(x.dtype, dtype, "safe"):
        if k == "f":
            finite = np.isfinite(x)
            if not finite.all():
                i = _first_bad(~finite)
                raise ValueError(f"{what} expects integer ({dtype.name}) values, got {x.dtype} data with "
                                 f"the non-finite value {x[i]} at {_at(i)}; pass whole numbers")
            whole = np.mod(x, 1) == 0
            if not whole.all():
                i = _first_bad(~whole)
                raise TypeError(f"{what} expects integer ({dtype.name}) values, got {x.dtype} values that "
                                f"are not whole numbers (e.g. {x[i]} at {_at(i)}); pass integers")
        info = np.iinfo(dtype)
        lo, hi = x.min(), x.max()
        if lo < info.min or hi > info.max:
            bad = (x < info.min) | (x > info.max)
            i = _first_bad(bad)
            raise ValueError(f"{what} expects {dtype.name} values, got {x.dtype} values from {lo} to {hi}: "
                             f"{x[i]} at {_at(i)} is outside the {dtype.name} range [{info.min}, "
                             f"{info.max}] and would wrap around; pass values that fit in {dtype.name}")
    return x.astype(dtype)


# ------------------------------------------------------------------------------------- embedding ids
class IdBound(NamedTuple):
    """Ids read by ``layer`` must lie in ``[0, limit)``."""

    limit: int
    layer: str        # the scope (layer path) of the Gather
    table: str        # description of what is indexed ("Embedding with input_dim=10")


# ops whose output values are values of (one of) their inputs: ids keep their meaning through them
_VALUE_PRESERVING = {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Concat",
                     "Slice", "Expand", "Tile", "Cast", "Split"}
_bounds_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def id_bounds(model) -> dict:
    """``{input name: IdBound}`` for the model inputs whose values index a table (the ids of an
    Embedding, of an Embedding inside a nested model or TimeDistributed, or any Gather from a
    tensor of static size), directly or through value-preserving ops. Found on the lowered graph,
    cached per layer graph."""
    graph = model.graph
    cached = _bounds_cache.get(graph)
    if cached is None:
        cached = _bounds_cache[graph] = _find_id_bounds(graph)
    return cached


# layers whose outputs are values of their inputs (ids keep their meaning through them)
_PASS_LAYERS = {"InputLayer", "Reshape", "Flatten", "Permute", "RepeatVector", "Cropping1D", "Cropping2D",
                "Cropping3D", "Concatenate"}
# layers of irgraph.layers that wrap other layers or user code: their ids are found on the lowered graph
_OPAQUE_LAYERS = {"Lambda", "OpLayer", "TimeDistributed", "Bidirectional", "Merge"}


def _find_id_bounds(graph) -> dict:
    """On the layer graph when every path from the inputs meets a built-in layer first (the common
    case, no lowering: a 1200-layer model costs nothing); on the lowered graph when a path reaches
    a nested model, a wrapper, a Lambda or a custom layer, whose Gathers only lowering shows."""
    out = _layer_id_bounds(graph)
    return _lowered_id_bounds(graph) if out is None else out


def _consumers_reached(graph, start, follow):
    """Every ``(node id, input slot, node)`` that reads a tensor reached from ``start``, walking on
    through the consumers for which ``follow(node, slot)`` is true (explicit stack, each node once)."""
    seen, stack = set(), [start]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for dst, slot, _ in graph.consumers(node):
            d = graph.node(dst)
            yield dst, slot, d
            if follow(d, slot):
                stack.append(dst)


def _layer_id_bounds(graph):
    """``{input: IdBound}`` from the layer graph, or None when an opaque layer is reached."""
    from ..layers.embeddings import Embedding

    def through(d, slot):
        cls = type(d.get("layer"))
        return d["kind"] == "call" and slot is not None and cls.__name__ in _PASS_LAYERS \
            and cls.__module__.startswith("irgraph.layers")

    out = {}
    for nid in graph.inputs:
        best = None
        for _, slot, d in _consumers_reached(graph, nid, through):
            if d["kind"] != "call" or slot is None:
                continue
            layer = d["layer"]
            cls = type(layer)
            if cls is Embedding or (isinstance(layer, Embedding) and cls.call is Embedding.call):
                if best is None or layer.input_dim < best.limit:
                    best = IdBound(layer.input_dim, layer.name, f"Embedding with input_dim={layer.input_dim}")
            elif cls.__name__ in _OPAQUE_LAYERS or not cls.__module__.startswith("irgraph.layers"):
                return None
        if best is not None:
            out[graph.node(nid)["name"]] = best
    return out


def _lowered_id_bounds(graph) -> dict:
    from irgraph.passes.lower import lower
    g = lower(graph)

    def through(d, slot):
        return d["kind"] == "op" and (d["op"] in _VALUE_PRESERVING or (d["op"] == "Gather" and slot == 0))

    out = {}
    for nid in g.inputs:
        best = None
        for dst, slot, d in _consumers_reached(g, nid, through):
            if d["kind"] != "op" or d["op"] != "Gather" or slot != 1:
                continue
            data = g.in_tensors(dst)[0]
            spec = g.spec(data)
            axis = d["attrs"].get("axis", 0) % max(spec.rank, 1)
            dim = spec.shape[axis] if spec.rank else None
            if isinstance(dim, int) and (best is None or dim < best.limit):
                var = g.node(data[0]).get("var") if g.kind(data[0]) == "weight" else None
                table = (f"Embedding with input_dim={dim}" if var is not None and
                         var.path.endswith("embeddings") else f"a table of {dim} entries on axis {axis}")
                best = IdBound(dim, d.get("scope") or dst, table)
        if best is not None:
            out[g.node(nid)["name"]] = best
    return out


def check_ids(x: np.ndarray, bound: IdBound, input_name: str) -> None:
    """Refuse ids outside ``[0, bound.limit)`` (NaN included): one vectorised min and max."""
    if not x.size:
        return
    k = x.dtype.kind
    if k == "i":  # one reduction: negative ids viewed as unsigned are huge
        if x.view(f"u{x.dtype.itemsize}").max() < bound.limit:
            return
    elif k in "ub":
        if x.max() < bound.limit:
            return
    elif x.min() >= 0 and x.max() < bound.limit:  # False for NaN
        whole = np.mod(x, 1) == 0
        if whole.all():
            return
        i = _first_bad(~whole)
        raise ValueError(f"input '{input_name}' feeds the ids of layer '{bound.layer}' ({bound.table}), which "
                         f"must be whole numbers; got {x[i]} at {_at(i)}, which the layer would truncate. Pass "
                         f"integer ids (e.g. declare the Input with dtype='int32')")
    lo, hi = x.min(), x.max()
    bad = ~((x >= 0) & (x < bound.limit))
    i = _first_bad(bad)
    raise ValueError(
        f"input '{input_name}' feeds the ids of layer '{bound.layer}' ({bound.table}), which must lie in "
        f"[0, {bound.limit}); got ids from {lo} to {hi} ({x[i]} at {_at(i)}). A negative id would silently "
        f"read (and train) row {bound.limit - 1}, an id >= {bound.limit} has no row. Map the ids into "
        f"0..{bound.limit - 1} (e.g. one id for unknown tokens) or give the layer a larger input_dim")


# ------------------------------------------------------------------------------------- labels
_SHAPE_LOSSES = None


def _loss_table():
    global _SHAPE_LOSSES
    if _SHAPE_LOSSES is None:
        from .. import losses as L
        elementwise = (L.mean_squared_error, L.mean_absolute_error, L.mean_absolute_percentage_error,
                       L.mean_squared_logarithmic_error, L.huber, L.log_cosh, L.hinge, L.squared_hinge,
                       L.categorical_hinge, L.kl_divergence, L.poisson, L.cosine_similarity)
        table = {id(fn): "elementwise" for fn in elementwise}
        table[id(L.sparse_categorical_crossentropy)] = "sparse"
        table[id(L.categorical_crossentropy)] = "categorical"
        table[id(L.binary_crossentropy)] = "binary"
        _SHAPE_LOSSES = table
    return _SHAPE_LOSSES


def loss_kind(loss) -> str | None:
    """'sparse', 'categorical', 'binary' or 'elementwise' for a built-in loss over the last axis;
    None for custom losses (which may read labels of any shape) and other axes."""
    from .. import losses as L
    if not isinstance(loss, L.LossFunctionWrapper):
        return None
    kind = _loss_table().get(id(loss.fn))
    if kind is None:
        return None
    if loss._fn_kwargs.get("axis", -1) != -1:
        return None
    return kind


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
                         f"integer class indices of shape {_fmt(ps[:-1])} or {_fmt(ps[:-1] + (1,))} for the "
                         f"output of shape {_fmt(ps)}; {hint}")
    ya, pa = _align(ys, ps)
    broadcast = kind == "elementwise"
    if len(ya) == len(pa) and all(_dim_ok(a, b, broadcast) for a, b in zip(ya[1:], pa[1:])):
        return
    if kind == "categorical" and classes not in (None, 1) and (
            _dims_match(ys[1:], ps[1:-1]) or _dims_match(ys[1:], ps[1:-1] + (1,))):
        raise ValueError(f"labels for output '{output}' have shape {tuple(y_shape)}, but loss '{name}' needs "
                         f"one-hot labels of shape {_fmt(ps)} ({classes} classes); these look like integer "
                         f"class indices: use loss='sparse_categorical_crossentropy', or convert them with "
                         f"irgraph.utils.to_categorical(y, {classes})")
    raise ValueError(f"labels for output '{output}' have shape {tuple(y_shape)}, but the output has shape "
                     f"{_fmt(ps)} and loss '{name}' needs labels of that shape (one row per sample); pass "
                     f"labels of shape {_fmt(ps)}, or change the output layer to match the labels")


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
            i = _first_bad(~whole)
            raise ValueError(f"labels for output '{output}' must be integer class indices for loss '{name}', "
                             f"got {y[i]} at {_at(i)}; pass class indices 0..{'n-1' if n is None else n - 1}")
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
    i = _first_bad(bad)
    raise ValueError(f"labels for output '{output}' must be class indices in [0, {n}) for loss '{name}' "
                     f"(the output has {n} classes); got labels from {lo} to {hi} ({y[i]} at {_at(i)}). "
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
        i = _first_bad(~finite)
        raise ValueError(f"sample_weight for output '{output}' must be finite, got {arr[i]} at {_at(i)}")
    return arr

