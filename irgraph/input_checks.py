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
* `count_arg`, `fraction_arg`: integer arguments that must be at least 1 (batch_size, steps,
  epochs...), validation_split in [0, 1).

The checks of labels and weights, which depend on the loss, are in `irgraph.training.validate`.
These sit in the runtime layer (predict uses them), below training, and know layers only by their
class names (the user API is above them).
"""
from __future__ import annotations

import weakref
from typing import NamedTuple

import numpy as np

from .passes.lower import lower


def fmt_shape(shape) -> str:
    return "(" + ", ".join("None" if not isinstance(d, int) else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def first_bad(bad: np.ndarray) -> tuple:
    """Index of the first True entry of a boolean array, as a tuple."""
    flat = int(np.argmax(bad.reshape(-1)))
    return tuple(int(i) for i in np.unravel_index(flat, bad.shape))


def at_index(index: tuple) -> str:
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
                i = first_bad(~finite)
                raise ValueError(f"{what} expects integer ({dtype.name}) values, got {x.dtype} data with "
                                 f"the non-finite value {x[i]} at {at_index(i)}; pass whole numbers")
            whole = np.mod(x, 1) == 0
            if not whole.all():
                i = first_bad(~whole)
                raise TypeError(f"{what} expects integer ({dtype.name}) values, got {x.dtype} values that "
                                f"are not whole numbers (e.g. {x[i]} at {at_index(i)}); pass integers")
        info = np.iinfo(dtype)
        lo, hi = x.min(), x.max()
        if lo < info.min or hi > info.max:
            bad = (x < info.min) | (x > info.max)
            i = first_bad(bad)
            raise ValueError(f"{what} expects {dtype.name} values, got {x.dtype} values from {lo} to {hi}: "
                             f"{x[i]} at {at_index(i)} is outside the {dtype.name} range [{info.min}, "
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


def _is_plain_embedding(cls) -> bool:
    """Whether layers of class ``cls`` read ids as irgraph's Embedding does: the class itself, or a
    subclass that keeps its ``call``. Known by class name and module, like the other layer tables
    here: this module is below the layers (the runtime layer of the design)."""
    for base in cls.__mro__:
        if base.__name__ == "Embedding" and base.__module__ == "irgraph.layers.embeddings":
            return cls.call is base.call
    return False


def _layer_id_bounds(graph):
    """``{input: IdBound}`` from the layer graph, or None when an opaque layer is reached."""
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
            if _is_plain_embedding(cls):
                if best is None or layer.input_dim < best.limit:
                    best = IdBound(layer.input_dim, layer.name, f"Embedding with input_dim={layer.input_dim}")
            elif cls.__name__ in _OPAQUE_LAYERS or not cls.__module__.startswith("irgraph.layers"):
                return None
        if best is not None:
            out[graph.node(nid)["name"]] = best
    return out


def _lowered_id_bounds(graph) -> dict:
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
        i = first_bad(~whole)
        raise ValueError(f"input '{input_name}' feeds the ids of layer '{bound.layer}' ({bound.table}), which "
                         f"must be whole numbers; got {x[i]} at {at_index(i)}, which the layer would truncate. Pass "
                         f"integer ids (e.g. declare the Input with dtype='int32')")
    lo, hi = x.min(), x.max()
    bad = ~((x >= 0) & (x < bound.limit))
    i = first_bad(bad)
    raise ValueError(
        f"input '{input_name}' feeds the ids of layer '{bound.layer}' ({bound.table}), which must lie in "
        f"[0, {bound.limit}); got ids from {lo} to {hi} ({x[i]} at {at_index(i)}). A negative id would silently "
        f"read (and train) row {bound.limit - 1}, an id >= {bound.limit} has no row. Map the ids into "
        f"0..{bound.limit - 1} (e.g. one id for unknown tokens) or give the layer a larger input_dim")
