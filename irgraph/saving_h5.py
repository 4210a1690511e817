"""Keras HDF5 weight files (the layout of Keras 2's ``save_weights('x.h5')``, of Keras 3's legacy
``.h5`` format and of every weight file Keras publishes for ``keras.applications``), read with
h5py (an optional extra: ``pip install irgraph[h5]``).

The layout: the root attribute ``layer_names`` lists the layers in model order; each has a group
of its name whose attribute ``weight_names`` lists its weights (``block1_conv1/kernel:0`` in Keras
2, ``block1_conv1/kernel`` in Keras 3), each a dataset at that path inside the group, in the layer's
weight order (trainable, then non-trainable). Long attributes are split into ``name0``, ``name1``,
... A full-model file holds the same under its ``model_weights`` group. Arrays are in Keras's
layouts, which are irgraph's, so they load unchanged.

Loading follows Keras 2's ``load_weights_from_hdf5_group`` (by position over the layers that have
weights, in Keras's layer order, see `keras_layer_order`) and
``load_weights_from_hdf5_group_by_name`` (by layer name; layers on one side only are skipped), with
every count and shape checked before anything is set. Within a layer, weights pair
by name (``kernel``, ``bias``, ``moving_mean``...) when both sides have the same names, else by
position as in Keras.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from .saving import ModelFileError, ModelFileNotFoundError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


@dataclass
class SavedLayer:
    """One layer's group of a weight file: its name, its weight names and their arrays."""
    name: str
    weight_names: list[str] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)


def h5py_module():
    try:
        import h5py
    except ImportError:
        raise ImportError("reading Keras HDF5 (.h5) weight files needs h5py, an optional extra: "
                          "pip install irgraph[h5]  (or: pip install h5py)") from None
    return h5py


def is_hdf5(path) -> bool:
    """Whether the file starts with the HDF5 signature (Keras writes no user block)."""
    try:
        with open(os.fspath(path), "rb") as f:
            return f.read(8) == HDF5_SIGNATURE
    except OSError:
        return False


def _text(value) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def read_attribute_list(group, name: str) -> list[str]:
    """A list-of-strings attribute, joined from its chunks ``name0``, ``name1``... when Keras had to
    split it (HDF5 object headers hold 64 KiB)."""
    attrs = group.attrs
    if name in attrs:
        return [_text(v) for v in np.atleast_1d(attrs[name])]
    out, k = [], 0
    while f"{name}{k}" in attrs:
        out.extend(_text(v) for v in np.atleast_1d(attrs[f"{name}{k}"]))
        k += 1
    return out


def _has_list(group, name: str) -> bool:
    return name in group.attrs or f"{name}0" in group.attrs


def read_hdf5_weights(path) -> list[SavedLayer]:
    """Every layer group of a Keras HDF5 weight file, in the file's ``layer_names`` order."""
    h5py = h5py_module()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileNotFoundError(f"cannot load weights from '{path}': no such file")
    source = f"loading weights from '{path}'"
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ModelFileError(f"{source}: not a readable HDF5 file (truncated or corrupt?): {err}") from None
    with f:
        root = f
        if not _has_list(f, "layer_names") and "model_weights" in f:
            root = f["model_weights"]  # a full-model file (Keras's model.save('x.h5'))
        if not _has_list(root, "layer_names"):
            hint = (" It is Keras 3's native '.weights.h5' layout: load it with model.load_weights(path) "
                    "(matched by layer), not by position" if "layers" in f or "vars" in f else "")
            raise ModelFileError(f"{source}: an HDF5 file but not Keras weights: it has no 'layer_names' "
                                 f"attribute (at its root or under 'model_weights').{hint}")
        layers = []
        for name in read_attribute_list(root, "layer_names"):
            if name not in root:
                raise ModelFileError(f"{source}: the file lists layer '{name}' but has no group for it "
                                     "(the file is damaged)")
            group = root[name]
            weight_names = read_attribute_list(group, "weight_names")
            values = []
            for wn in weight_names:
                if wn not in group:
                    raise ModelFileError(f"{source}: layer '{name}' lists weight '{wn}' but the file has no "
                                         "dataset for it (the file is damaged)")
                values.append(np.asarray(group[wn]))
            layers.append(SavedLayer(name, weight_names, values))
    return layers


# ------------------------------------------------------------------------------------ matching
def _short_name(weight_name: str) -> str:
    """``block1_conv1/kernel:0`` -> ``kernel`` (Keras 2), ``block1_conv1/kernel`` -> ``kernel``."""
    return weight_name.rsplit("/", 1)[-1].split(":", 1)[0]


def _pair_weights(layer, saved: SavedLayer, where: str, skip_mismatch: bool):
    """``[(variable, array)]`` for one layer, or None when skipped for a mismatch."""
    variables = layer.weights
    if len(variables) != len(saved.values):
        msg = (f"{where} (named \"{layer.name}\") expects {len(variables)} weight(s) "
               f"({', '.join(v.path + str(tuple(v.shape)) for v in variables) or 'none'}), but the saved "
               f"weights of layer '{saved.name}' have {len(saved.values)} element(s) "
               f"({', '.join(saved.weight_names) or 'none'}).")
        return _mismatch(msg, skip_mismatch)
    model_names = [v.name.rsplit("/", 1)[-1] for v in variables]
    saved_names = [_short_name(n) for n in saved.weight_names]
    order = range(len(variables))
    if sorted(model_names) == sorted(saved_names) and len(set(model_names)) == len(model_names):
        by_name = {n: i for i, n in enumerate(saved_names)}
        order = [by_name[n] for n in model_names]
    pairs = []
    for v, i in zip(variables, order):
        value = saved.values[i]
        if tuple(value.shape) != tuple(v.shape):
            msg = (f"{where} (named \"{layer.name}\"), weight '{v.path}' has shape {tuple(v.shape)}, but the "
                   f"saved weight '{saved.weight_names[i]}' has shape {tuple(value.shape)}.")
            return _mismatch(msg, skip_mismatch)
        pairs.append((v, value))
    return pairs


def _mismatch(msg: str, skip: bool):
    if not skip:
        raise ModelFileError(msg)
    warnings.warn(f"Skipping loading of weights: {msg}", stacklevel=4)
    return None


def _layers_with_weights(model) -> list:
    return [layer for layer in model.layers if layer.weights]


def keras_layer_order(model) -> list:
    """Keras's order of the model's layers (see `irgraph.models.keras_layer_order`)."""
    from .models import keras_layer_order as order
    return order(model)


def _by_position(model, saved: list[SavedLayer], source: str) -> list:
    layers = [layer for layer in keras_layer_order(model) if layer.weights]
    saved = [s for s in saved if s.values]
    if len(layers) != len(saved):
        raise ModelFileError(
            f"{source}: You are trying to load a weight file containing {len(saved)} layers into a model "
            f"with {len(layers)} layers (counting layers with weights). Load by name "
            "(load_weights(path, by_name=True)) when the models differ.")
    pairs = []
    for k, (layer, s) in enumerate(zip(layers, saved)):
        pairs += _pair_weights(layer, s, f"{source}: Layer #{k}", skip_mismatch=False)
    return pairs


def _name_differences(model, saved: list[SavedLayer]) -> str:
    """'' when the layers with weights have the same names on both sides, else what differs."""
    file_names = {s.name for s in saved if s.values}
    model_names = {lyr.name for lyr in _layers_with_weights(model)}
    missing = [n for n in (lyr.name for lyr in _layers_with_weights(model)) if n not in file_names]
    extra = [s.name for s in saved if s.values and s.name not in model_names]
    return "; ".join(([f"layers of the model missing from the file: {', '.join(missing)}"] if missing else [])
                     + ([f"layers in the file but not in the model: {', '.join(extra)}"] if extra else []))


def _by_name(model, saved: list[SavedLayer], source: str, skip_mismatch: bool) -> list:
    index: dict[str, list] = {}
    for layer in model.layers:
        index.setdefault(layer.name, []).append(layer)
    pairs = []
    for k, s in enumerate(saved):
        for layer in index.get(s.name, []):
            got = _pair_weights(layer, s, f"{source}: Layer #{k}", skip_mismatch)
            pairs += got or []
    return pairs


def _matching(model, saved: list[SavedLayer], source: str) -> list:
    """How Keras's applications load their files, made safer: by name when the layers with weights
    have the same names on both sides, otherwise by position in Keras's layer order (what Keras
    always does: the published files name some layers otherwise, e.g. auto-named layers saved by
    another Keras version), with the name differences in any error."""
    differences = _name_differences(model, saved)
    if not differences:
        return _by_name(model, saved, source, skip_mismatch=False)
    try:
        return _by_position(model, saved, source)
    except ModelFileError as err:
        raise ModelFileError(f"{err} The layer names differ too ({differences}): is it the weight file of "
                             "this model, with the same include_top?") from None


def load_hdf5_weights(model, path, by_name=False, skip_mismatch: bool = False) -> None:
    """Set ``model``'s weights from a Keras HDF5 weight file. ``by_name=True``: by layer name
    (Keras 2's rules: layers on one side only are skipped); False: by position over the layers that
    have weights, in Keras's layer order; ``"auto"``: by name when the names of the layers with
    weights agree on both sides, else by position (applications). ``skip_mismatch`` (by name only)
    skips, with a warning, layers whose weight counts or shapes differ. Nothing is set unless
    every weight to set fits."""
    if skip_mismatch and not by_name:
        raise ValueError("When calling model.load_weights, skip_mismatch can only be set to True when "
                         "by_name is True.")
    source = f"loading weights from '{os.fspath(path)}'"
    saved = read_hdf5_weights(path)
    if by_name == "auto":
        pairs = _matching(model, saved, source)
    elif by_name:
        pairs = _by_name(model, saved, source, skip_mismatch)
    else:
        pairs = _by_position(model, saved, source)
    from .variables import LOCK
    with LOCK:  # all new weights or all old ones, for any concurrent reader
        for v, value in pairs:
            v.assign(value)
    if getattr(model, "_runtime", None) is not None:
        model._runtime = None  # a cached inference session holds the old weights
