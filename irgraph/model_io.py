"""A model's structured inputs and outputs: matching the data a user passes to the model's inputs, and
giving results back in the structure the model was built with (Keras 3's rules).

`Signature` is built by the model from its ``Model(inputs, outputs)`` structures. Its flat order is
Keras's (`irgraph.tree`): ``model.inputs``, ``model.outputs``, the ONNX graph's inputs and outputs
and the runtime's feeds all follow it.

Data for the inputs (``model(x)``, ``predict``, ``fit``) is matched so:
- a dict, when the model's inputs are a dict (nested or not): by key, along each input's path;
  keys the model does not have are ignored with Keras's warning ("The structure of `inputs` doesn't
  match the expected structure"), a missing one is an error ('Missing data for input "b"');
- a dict, otherwise: by ``Input`` name (extra keys ignored);
- anything else: along the model's structure (a list and a tuple count as alike); data of another
  structure is flattened and matched by position, with Keras's warning (an error when the model's
  inputs are a dict whose keys are not in sorted order, since the order would then be a guess);
- a value of None: accepted for an ``Input(optional=True)`` only.

A list of plain numbers is one array, not a structure (``predict([[1., 2.]])`` for a one-input
model), as irgraph and Keras 2 always took it.
"""
from __future__ import annotations

import warnings

from . import tree


class MissingInputError(ValueError, TypeError):
    """None given for an input that is not optional (a ValueError, as Keras raises; a TypeError, as
    irgraph raised before inputs could be optional)."""


class InputSlot:
    """One flat model input: position, ONNX/Input name, path in the input structure, shape, dtype,
    and whether None may be passed for it."""

    __slots__ = ("index", "name", "path", "shape", "dtype", "optional")

    def __init__(self, index, name, path, shape, dtype, optional):
        self.index, self.name, self.path = index, name, tuple(path)
        self.shape, self.dtype, self.optional = tuple(shape), dtype, bool(optional)

    @property
    def path_text(self) -> str:
        return tree.path_text(self.path)


def _holds_arrays(x) -> bool:
    """Whether ``x`` is a structure of data rather than the data of one input: a dict, or a list or
    tuple holding an array, a tensor, None or another such structure (a list of plain numbers is the
    data of one input)."""
    if isinstance(x, dict):
        return True
    if isinstance(x, (list, tuple)):
        return any(v is None or hasattr(v, "shape") or _holds_arrays(v) for v in x)
    return False


def _data_leaves(data) -> list:
    """The leaves of user data in Keras's order, a list of plain numbers being one leaf."""
    if not _holds_arrays(data):
        return [data]
    out = []
    for _, child in tree._items(data):
        out.extend(_data_leaves(child))
    return out


def _at_path(data, path):
    """``data`` followed along ``path``; raises KeyError where a key or position is missing."""
    for k in path:
        if isinstance(data, dict):
            data = data[k]
        elif isinstance(data, (list, tuple)) and isinstance(k, int) and 0 <= k < len(data):
            data = data[k]
        else:
            raise KeyError(k)
    return data


def _fits(struct, data) -> bool:
    """Whether ``data`` follows ``struct`` (Keras's same structure, lists and tuples alike): a leaf
    of the structure takes any data that is not itself a structure of arrays."""
    if not tree.is_nested(struct):
        return not _holds_arrays(data)
    if isinstance(struct, dict):
        return isinstance(data, dict) and set(data) == set(struct) and all(_fits(struct[k], data[k]) for k in struct)
    if not isinstance(data, (list, tuple)) or isinstance(data, dict) or len(data) != len(struct):
        return False
    if tree._is_namedtuple(struct) != tree._is_namedtuple(data) or (
            tree._is_namedtuple(struct) and type(struct) is not type(data)):
        return False
    return all(_fits(s, d) for s, d in zip(struct, data))


def _describe(data):
    """The data as Keras's structure messages show it: each array as ``Tensor(shape=...)``."""
    if _holds_arrays(data):
        return _describe_nested(data)
    if data is None:
        return "None"
    shape = getattr(data, "shape", None)
    return f"Tensor(shape={tuple(shape)})" if shape is not None else type(data).__name__


def _describe_nested(data):
    if isinstance(data, dict):
        return {k: _describe(v) for k, v in data.items()}
    items = [_describe(v) for v in data]
    if tree._is_namedtuple(data):
        return type(data)(*items)
    return tuple(items) if isinstance(data, tuple) else items


def user_stacklevel() -> int:
    """The ``stacklevel`` for a warning given by irgraph code, so that it points at the user's line
    (the first caller outside the irgraph package), for the function calling ``warnings.warn``."""
    import os
    import sys
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def _shape_text(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class Signature:
    """The structured inputs and outputs of a model named ``owner``.

    ``input_struct`` / ``output_struct``: the structures given to ``Model(inputs, outputs)`` (their
    leaves are the model's tensors); ``slots``: the flat inputs as `InputSlot`s; ``output_names``:
    the flat outputs' names."""

    def __init__(self, owner: str, input_struct, slots: list, output_struct, output_names: list):
        self.owner = owner
        self.input_struct = input_struct
        self.slots = list(slots)
        self.output_struct = output_struct
        self.output_names = list(output_names)
        self.output_paths = [p for p, _ in tree.flatten_with_path(output_struct)]
        self._by_dict = isinstance(input_struct, dict)
        # the names data dicts and count errors use (Keras's input_spec names): the keys for
        # a dict of inputs, the Input names otherwise
        self.keys = [s.path_text if self._by_dict else s.name for s in self.slots]

    # ----------------------------------------------------------------------------- inputs
    def flat_inputs(self, data, warn: bool = True) -> list:
        """The values for the flat inputs, in order, from data in any structure Keras accepts
        (module docstring). ``warn``: give Keras's warning when the structures differ (Keras
        warns for data; a call on symbolic tensors does not)."""
        if isinstance(data, dict):
            flat = self._from_dict(data, warn)
        else:
            flat = self._from_structure(data, warn)
        for slot, value in zip(self.slots, flat):
            if value is None and not slot.optional:
                raise MissingInputError(
                    f"The input '{slot.name}' is not optional, but None was passed. Please provide a valid "
                    f"tensor: input '{slot.name}' is missing (got None); pass an array of shape "
                    f"{_shape_text(slot.shape)} (model '{self.owner}'; an input declared with "
                    "Input(..., optional=True) may be None)")
        return flat

    def _from_dict(self, data: dict, warn: bool) -> list:
        flat, missing = [], []
        for slot in self.slots:
            try:
                flat.append(_at_path(data, slot.path) if self._by_dict else data[slot.name])
            except (KeyError, TypeError):
                missing.append(slot.path_text if self._by_dict else slot.name)
        if missing:
            unknown = [k for k in data if k not in self.keys] if not self._by_dict or \
                all(len(s.path) == 1 for s in self.slots) else []
            extra = f" (keys that name no input: {unknown})" if unknown else ""
            hint = "" if self._by_dict else " (a dict is matched by Input name: Input(..., name=...))"
            raise ValueError(f'Missing data for input "{missing[0]}". You passed a data dictionary with keys '
                             f"{list(data)}. Expected the following keys: {self.keys}{extra}{hint}")
        if warn and self._by_dict and not _fits(self.input_struct, data):
            self._warn_structure(data)
        return flat

    def _from_structure(self, data, warn: bool) -> list:
        struct = self.input_struct
        if isinstance(struct, list) and len(struct) == 1 and not _holds_arrays(data):
            data = [data]  # one input given bare to a model built with [Input]
        if _fits(struct, data):
            return [_at_path(data, s.path) if s.path else data for s in self.slots]
        flat = _data_leaves(data)
        if len(flat) != len(self.slots):
            raise ValueError(
                f'Layer "{self.owner}" expects {len(self.slots)} named input(s) with keys {self.keys}, but it '
                f"received {len(flat)} input tensors. Pass inputs as a dict, e.g. `layer({{"
                + ", ".join(f"'{k}': ..." for k in self.keys) + "})`.")
        if isinstance(struct, dict) and list(struct) != sorted(struct):
            raise ValueError(self._structure_message(data) + "\n(the model's inputs are a dict whose keys are "
                             "not in sorted order, so values given by position cannot be matched to them: "
                             "pass a dict)")
        if warn:
            self._warn_structure(data)
        return flat

    def _structure_message(self, data) -> str:
        expected = tree.map_structure(lambda t: getattr(t, "name", "None"), self.input_struct)
        return ("The structure of `inputs` doesn't match the expected structure.\n"
                f"Expected: {expected}\nReceived: inputs={_describe(data)}")

    def _warn_structure(self, data) -> None:
        warnings.warn(self._structure_message(data), UserWarning, stacklevel=user_stacklevel())

    # ----------------------------------------------------------------------------- outputs
    def pack_outputs(self, flat: list):
        """The outputs in the model's output structure; a structure of one output gives it alone
        (Keras's ``unpack_singleton``)."""
        return tree.unpack_singleton(tree.pack_sequence_as(self.output_struct, list(flat)))

    def flat_targets(self, y, what: str = "targets") -> list:
        """Per flat output, its target (None where none is given): from a dict by output key path
        or output name, from data in the output structure, from a flat list, or one array."""
        n = len(self.output_names)
        if y is None:
            return [None] * n
        if isinstance(y, dict):
            if isinstance(self.output_struct, dict):
                known = {tree.path_text(p[:1]) for p in self.output_paths}
                unknown = [k for k in y if str(k) not in known and k not in self.output_names]
                if unknown:
                    raise ValueError(f"{what}: keys {unknown} name no output of the model; its outputs are "
                                     f"{self.output_names}")
                out = []
                for path, name in zip(self.output_paths, self.output_names):
                    try:
                        out.append(_at_path(y, path))
                    except (KeyError, TypeError):
                        out.append(y.get(name))
                return out
            unknown = [k for k in y if k not in self.output_names]
            if unknown:
                raise ValueError(f"{what}: keys {unknown} name no output of the model; its outputs are "
                                 f"{self.output_names}")
            return [y.get(name) for name in self.output_names]
        struct = self.output_struct
        if tree.is_nested(struct) and _fits(struct, y):
            return [_at_path(y, p) for p in self.output_paths]
        if n == 1:
            if isinstance(y, (list, tuple)) and len(y) == 1 and _holds_arrays(y):
                return [y[0]]
            return [y]
        if not _holds_arrays(y):
            raise ValueError(f"{what}: the model has {n} outputs ({', '.join(self.output_names)}); pass a "
                             "list or a dict keyed by output name")
        flat = _data_leaves(y)
        if len(flat) != n:
            raise ValueError(f"{what}: the model has {n} outputs ({', '.join(self.output_names)}), got "
                             f"{len(flat)}")
        return flat


def check_shape(slot: InputSlot, shape, owner: str | None) -> None:
    """Keras's shape check of one input (the batch axis free; a last axis of 1 may be added or
    dropped): ``expected shape=(None, 4), found shape=(2, 3)``."""
    shape = tuple(d if isinstance(d, int) else None for d in shape)
    want, got = slot.shape, shape
    if want and want[-1] == 1:
        want = want[:-1]
    if got and got[-1] == 1:
        got = got[:-1]
    for w, g in zip(want, got):
        if w is not None and g is not None and w != g:
            where = f" of layer '{owner}'" if owner else ""
            raise ValueError(f"Input {slot.index} with name '{slot.name}'{where} is incompatible with the layer: "
                             f"expected shape={_shape_text(slot.shape)}, found shape={_shape_text(shape)}")
