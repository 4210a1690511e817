"""Model files written by Keras, read without Keras or TensorFlow (issue 11).

- Keras 3 ``.keras`` archives: a zip of ``config.json`` (the model's config and its compile
  config), ``metadata.json`` and ``model.weights.h5``. The weights file holds one group per object
  with state, at the path Keras reaches it by: ``layers/<snake_case class name>[_N]/vars/<i>``,
  nested models under their own ``layers``, a recurrent layer's weights under its ``cell``, a
  wrapper's under ``layer`` (``forward_layer``/``backward_layer`` for Bidirectional), the optimizer's
  under ``optimizer/vars`` (iterations, learning rate, then its slots). Keras writes the layer's name
  as the ``name`` attribute of each ``vars`` group; layers are matched by that name, and by Keras's
  path rule where a file has no names.
- Keras 2 (and tf.keras, and Keras 3's legacy) ``.h5`` full models: the ``model_config`` and
  ``training_config`` attributes (JSON) and the weights under ``model_weights`` (read by
  `saving_h5`).

Reading never runs anything a file names: configs are JSON and resolve only to irgraph's classes or
to what ``custom_objects`` gives; a Lambda's stored code is dropped. Archives are read into memory
member by member, never extracted, so nothing is written anywhere; members with absolute or ``..``
paths and members that decompress to far more than they store are refused, and every weight's shape
is checked against the model before its data is read (so a dataset that declares a huge shape is
refused, not allocated). Every problem is a `ModelFileError` naming the file and the member, layer
or weight.
"""
from __future__ import annotations

import json
import os
import re
import warnings
import zipfile

import numpy as np

from .saving import ModelFileError, ModelFileNotFoundError

CONFIG_MEMBER = "config.json"
METADATA_MEMBER = "metadata.json"
WEIGHTS_MEMBER = "model.weights.h5"
NPZ_WEIGHTS_MEMBER = "model.weights.npz"

# A member that decompresses to more than BOMB_FLOOR_BYTES *and* to more than MAX_EXPANSION times
# what it stores is a decompression bomb (Keras stores members uncompressed; deflate cannot exceed
# about 1032:1). The floor is lower than Keras's in-memory guard (4 GiB) because irgraph reads the
# weights member into memory.
BOMB_FLOOR_BYTES = 1 << 28
MAX_EXPANSION = 100


# ================================================================================ recognising
def is_keras_archive(path) -> bool:
    """A zip archive with a ``config.json`` member (Keras 3's ``.keras`` format)."""
    try:
        if not zipfile.is_zipfile(os.fspath(path)):
            return False
        with zipfile.ZipFile(os.fspath(path)) as zf:
            return CONFIG_MEMBER in zf.namelist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def is_keras_h5_model(path) -> bool:
    """An HDF5 file with a ``model_config`` attribute (a Keras 2 / legacy ``.h5`` full model)."""
    from .saving_h5 import h5py_module, is_hdf5
    if not is_hdf5(path):
        return False
    try:
        with h5py_module().File(os.fspath(path), "r") as f:
            return "model_config" in f.attrs
    except OSError:
        return False


def is_keras3_weights(h5file) -> bool:
    """A Keras 3 ``.weights.h5`` layout (groups ``layers``/``vars``, no ``layer_names``)."""
    return ("layers" in h5file or "vars" in h5file) and "layer_names" not in h5file.attrs


def is_keras3_weights_file(path) -> bool:
    from .saving_h5 import h5py_module
    try:
        with h5py_module().File(os.fspath(path), "r") as f:
            return is_keras3_weights(f)
    except OSError:
        return False


# ================================================================================ the archive
def _safe_member_name(name: str) -> bool:
    if not name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or "\\" in name:
        return False
    return ".." not in name.split("/")


def _read_member(zf: zipfile.ZipFile, name: str, source: str) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > BOMB_FLOOR_BYTES and info.file_size > MAX_EXPANSION * max(info.compress_size, 1):
        raise ModelFileError(f"{source}: archive member '{name}' declares {info.file_size:,} bytes but "
                             f"stores only {info.compress_size:,}; refusing to read a potential "
                             "decompression bomb")
    try:
        with zf.open(info) as f:
            data = f.read(info.file_size + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as err:
        raise ModelFileError(f"{source}: archive member '{name}' cannot be read (the file is truncated "
                             f"or corrupt): {err}") from None
    if len(data) != info.file_size:
        raise ModelFileError(f"{source}: archive member '{name}' holds {len(data):,} bytes, not the "
                             f"{info.file_size:,} its header declares (the file is corrupt)")
    return data


def read_archive(path) -> tuple[dict, dict, bytes | None]:
    """``(config, metadata, weights_h5_bytes)`` of a ``.keras`` archive, after the checks above."""
    path = os.fspath(path)
    source = f"loading the Keras model '{path}'"
    if not os.path.exists(path):
        raise ModelFileNotFoundError(f"{source}: no such file")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise ModelFileError(f"{source}: not a readable zip archive (truncated or corrupt?): {err}") from None
    with zf:
        names = zf.namelist()
        bad = [n for n in names if not _safe_member_name(n)]
        if bad:
            raise ModelFileError(f"{source}: the archive has member(s) with absolute or parent ('..') "
                                 f"paths {bad[:5]}; refusing to read it (path traversal)")
        if CONFIG_MEMBER not in names:
            raise ModelFileError(f"{source}: the archive has no '{CONFIG_MEMBER}', so it is not a Keras "
                                 f"model archive (members: {names[:8]})")
        config = _json(_read_member(zf, CONFIG_MEMBER, source), CONFIG_MEMBER, source)
        metadata = (_json(_read_member(zf, METADATA_MEMBER, source), METADATA_MEMBER, source)
                    if METADATA_MEMBER in names else {})
        if NPZ_WEIGHTS_MEMBER in names and WEIGHTS_MEMBER not in names:
            raise ModelFileError(f"{source}: the weights are in Keras's '.npz' archive format, which irgraph "
                                 "does not read; save the model with the default (h5) weights format")
        weights = _read_member(zf, WEIGHTS_MEMBER, source) if WEIGHTS_MEMBER in names else None
    if not isinstance(config, dict) or "class_name" not in config:
        raise ModelFileError(f"{source}: '{CONFIG_MEMBER}' is not a Keras model config (an object with "
                             "'class_name' and 'config')")
    return config, metadata if isinstance(metadata, dict) else {}, weights


def _json(data: bytes, member: str, source: str):
    try:
        return json.loads(data.decode("utf8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ModelFileError(f"{source}: '{member}' is not valid JSON: {err}") from None


# ================================================================================ classes
def missing_classes(config, custom_objects=None) -> list[str]:
    """Every layer class a (Keras 2 or 3) model config names that neither irgraph nor
    ``custom_objects`` provides, each once, in the order met; nested models and wrapped layers
    included."""
    from .serialization import _registry
    known = set(_registry())
    missing: list[str] = []
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, dict):
            cname, cfg = node.get("class_name"), node.get("config")
            if isinstance(cname, str) and isinstance(cfg, dict) and _is_layer_spec(node):
                module = node.get("module")
                foreign = isinstance(module, str) and module.split(".")[0] not in ("keras", "irgraph")
                plain = cname.rsplit(">", 1)[-1]  # Keras's registered name 'package>Class'
                given = cname in (custom_objects or {}) or plain in (custom_objects or {})
                custom = foreign or ">" in cname  # a class of the user's: only custom_objects gives it
                if not given and (custom or cname not in known) and plain not in missing:
                    missing.append(plain)
                stack.extend(reversed([cfg.get("layers"), cfg.get("layer"), cfg.get("backward_layer")]))
            elif isinstance(node.get("layers"), list):
                stack.append(node["layers"])
    return missing


def _is_layer_spec(node: dict) -> bool:
    """A layer entry of a config (not an initializer, regularizer or dtype policy): it has a name in
    its config or inbound nodes, or it is a model."""
    cfg = node["config"]
    return ("inbound_nodes" in node or "layers" in cfg or "layer" in cfg or "batch_input_shape" in cfg
            or "batch_shape" in cfg or ("name" in cfg and "trainable" in cfg))


def check_classes(config, custom_objects, source: str) -> None:
    missing = missing_classes(config, custom_objects)
    if missing:
        given = ", ".join(f"{n!r}: {n}" for n in missing)
        raise ModelFileError(f"{source}: the model uses {len(missing)} layer class(es) irgraph does not "
                             f"have: {', '.join(missing)}. Pass them when loading: "
                             f"custom_objects={{{given}}}")


# ================================================================================ Keras 2 configs
def is_keras2_node(node) -> bool:
    """A Keras 1/2 inbound node: a list of ``[layer, node_index, tensor_index(, kwargs)]``."""
    return isinstance(node, list) and all(isinstance(r, list) and len(r) in (3, 4) and isinstance(r[0], str)
                                          for r in node)


def _keras1_merge(cfg: dict) -> dict:
    """Keras 1's Merge config: a built-in mode is kept; a mode, output shape or mask that was a
    Python function (``*_type`` 'function' or 'lambda', stored as code) is refused, never run."""
    cfg = dict(cfg)
    for key in ("mode", "output_shape", "output_mask"):
        kind = cfg.pop(f"{key}_type", "raw")
        if kind != "raw" and cfg.get(key) is not None:
            raise ModelFileError(f"Merge layer '{cfg.get('name')}': its {key} is stored Python code "
                                 f"({kind}), which irgraph never runs; rebuild this layer in code")
    if cfg.get("output_mask") is None:
        cfg.pop("output_mask", None)
    if not cfg.get("arguments"):
        cfg.pop("arguments", None)
    return cfg


_ACTIVATION_KEYS = ("activation", "recurrent_activation", "inner_activation")


def keras2_to_irgraph(config):
    """A Keras 1/2 model config (``{'class_name', 'config'}`` or a layer list) with its inbound nodes
    in irgraph's form (tensor references plus a call template), and Keras 2's meaning of
    'hard_sigmoid' kept; nested models too. Other forms pass through unchanged."""
    from .serialization import _Slot, encode_value
    if isinstance(config, list):
        return [keras2_to_irgraph(x) for x in config]
    if not isinstance(config, dict):
        return config
    out = {k: ("hard_sigmoid_keras2" if k in _ACTIVATION_KEYS and v == "hard_sigmoid" else v)
           for k, v in config.items()}
    if out.get("class_name") == "InputLayer" and isinstance(out.get("config"), dict) \
            and "input_dtype" in out["config"]:  # Keras 1's name of the dtype
        cfg = dict(out["config"])
        cfg.setdefault("dtype", cfg.pop("input_dtype"))
        cfg.pop("input_dtype", None)
        out["config"] = cfg
    if out.get("class_name") == "Merge" and isinstance(out.get("config"), dict):
        out["config"] = _keras1_merge(out["config"])
    if isinstance(out.get("config"), (dict, list)):
        out["config"] = keras2_to_irgraph(out["config"])
    for key in ("layer", "backward_layer"):
        if isinstance(out.get(key), dict):
            out[key] = keras2_to_irgraph(out[key])
    if isinstance(out.get("layers"), list):
        out["layers"] = [keras2_to_irgraph(x) for x in out["layers"]]
    nodes = out.get("inbound_nodes")
    if isinstance(nodes, list) and nodes and all(is_keras2_node(n) for n in nodes):
        converted = []
        for node in nodes:
            kwargs = {}
            for ref in node:
                if len(ref) == 4 and isinstance(ref[3], dict):
                    kwargs.update(ref[3])
            inputs = _Slot(0) if len(node) == 1 else [_Slot(i) for i in range(len(node))]
            converted.append({"input_tensors": [list(r[:3]) for r in node],
                              "template": encode_value((inputs, (), kwargs), f"a call of layer "
                                                       f"'{out.get('name')}'")})
        out["inbound_nodes"] = converted
    return out


# ================================================================================ Keras 3 weights
def to_snake_case(name: str) -> str:
    """Keras's path name of a class: ``BatchNormalization`` -> ``batch_normalization``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _keras_class_name(layer) -> str:
    from .models import Model, Sequential
    if type(layer) is Sequential:
        return "Sequential"
    if type(layer) is Model:
        return "Functional"
    return type(layer).__name__


class _Entry:
    """One object's group in a Keras 3 weights file, read with h5py's low-level API (its high-level
    objects cost more than the data here: a 1,000-layer file reads in half the time)."""
    __slots__ = ("gid", "_vars")

    def __init__(self, gid):
        self.gid = gid
        self._vars = False  # not looked up yet

    @staticmethod
    def open(parent_gid, name: str):
        """The entry of member ``name`` of a group, or None."""
        try:
            return _Entry(_h5().h5g.open(parent_gid, name.encode("utf8")))
        except (KeyError, ValueError):
            return None

    def child(self, name: str):
        return _Entry.open(self.gid, name)

    def has(self, name: str) -> bool:
        return self.gid.links.exists(name.encode("utf8"))

    def members(self) -> list[str]:
        return [self.gid.get_objname_by_idx(i).decode("utf8") for i in range(self.gid.get_num_objs())]

    @property
    def vars(self):
        if self._vars is False:
            self._vars = self.child("vars")
        return self._vars

    def name(self):
        """The layer name Keras wrote on ``vars`` (None when the file has none)."""
        h5py = _h5()
        v = self.vars
        if v is None or not h5py.h5a.exists(v.gid, b"name"):
            return None
        attr = h5py.h5a.open(v.gid, b"name")
        buf = np.empty((), dtype=attr.dtype)
        attr.read(buf)
        value = buf[()]
        return value.decode("utf8") if isinstance(value, bytes) else str(value)

    def datasets(self) -> list:
        """The low-level datasets ``vars/0``, ``vars/1``, ... (not read yet)."""
        v = self.vars
        if v is None:
            return []
        keys = sorted((k for k in v.members() if k.isdigit()), key=int)
        return [_h5().h5d.open(v.gid, k.encode("utf8")) for k in keys]


def _h5():
    from .saving_h5 import h5py_module
    return h5py_module()


def _read(dataset) -> np.ndarray:
    if dataset.dtype.kind not in "biuf":
        raise ModelFileError(f"a weight in the file holds {dataset.dtype} data, not numbers")
    out = np.empty(dataset.shape, dtype=dataset.dtype)
    if out.size:
        dataset.read(_h5().h5s.ALL, _h5().h5s.ALL, out)
    return out


def _layer_entries(container: _Entry, layers, class_names) -> list:
    """The entry of each layer of ``layers`` under ``container`` (a ``layers`` group): at Keras's path
    (snake-case class name, ``_N`` for repeats) when the ``name`` Keras wrote there is the layer's,
    else found by that name among all members (files of models whose class names differ)."""
    by_name = None
    used: dict[str, int] = {}
    out = []
    for layer in layers:
        base = to_snake_case(class_names.get(layer.name) or _keras_class_name(layer))
        if base in used:
            used[base] += 1
            key = f"{base}_{used[base]}"
        else:
            used[base] = 0
            key = base
        if not (layer.weights or _has_nested_state(layer)):
            out.append(None)
            continue
        entry = container.child(key)
        written = entry.name() if entry is not None else None
        if entry is None or (written is not None and written != layer.name):
            if by_name is None:
                by_name = {}
                for member in container.members():
                    e = container.child(member)
                    n = e.name() if e is not None else None
                    if n is not None:
                        by_name.setdefault(n, e)
            entry = by_name.get(layer.name)
        out.append(entry)
    return out


def _has_nested_state(layer) -> bool:
    return bool(getattr(layer, "layers", None))


def _state_datasets(layer, entry: _Entry, class_names, where: str) -> list:
    """The datasets holding ``layer``'s weights, in its weight order."""
    from .layers.recurrent import Bidirectional
    from .layers.wrappers import TimeDistributed
    from .models import Model
    if isinstance(layer, Model):
        container = entry.child("layers")
        if container is None:
            return []
        out = []
        for child, sub in zip(layer.layers, _layer_entries(container, layer.layers, class_names)):
            if child.weights:
                if sub is None:
                    raise ModelFileError(f"{where}: the weights file has no entry for layer '{child.name}' "
                                         f"of nested model '{layer.name}'")
                out += _state_datasets(child, sub, class_names, where)
        return out
    if isinstance(layer, Bidirectional):
        parts = []
        for attr, sub in (("forward_layer", layer.forward_layer), ("backward_layer", layer.backward_layer)):
            if not entry.has(attr):
                raise ModelFileError(f"{where}: Bidirectional layer '{layer.name}' has no '{attr}' in the "
                                     "weights file")
            parts += _state_datasets(sub, entry.child(attr), class_names, where)
        return parts
    if isinstance(layer, TimeDistributed) and entry.has("layer"):
        return entry.datasets() + _state_datasets(layer.layer, entry.child("layer"), class_names, where)
    own = entry.datasets()
    if entry.has("cell"):  # Keras 3's recurrent layers keep their weights in their cell
        own += entry.child("cell").datasets()
    return own


def keras3_weight_values(model, h5file, source: str, class_names=None, skip_mismatch: bool = False):
    """``[(layer, [arrays])]`` for the layers of ``model`` with weights, from a Keras 3 weights file
    (every shape checked against the layer before any data is read)."""
    class_names = class_names or {}
    if "layers" not in h5file:
        raise ModelFileError(f"{source}: the weights file has no 'layers' group (not a Keras 3 weights file)")
    pairs = []
    layers = model.layers
    root = _Entry(h5file.id)
    for layer, entry in zip(layers, _layer_entries(root.child("layers"), layers, class_names)):
        if not layer.weights:
            continue
        where = f"{source}: layer '{layer.name}'"
        if entry is None:
            if skip_mismatch:
                warnings.warn(f"{where}: no entry in the weights file; its weights are left as they are")
                continue
            raise ModelFileError(f"{where} ({type(layer).__name__}) has weights but the weights file has no "
                                 "entry for it (a file of another model?)")
        datasets = _state_datasets(layer, entry, class_names, source)
        expected = [tuple(w.shape) for w in layer.weights]
        found = [tuple(d.shape) for d in datasets]
        if expected != found:
            msg = (f"{where} ({type(layer).__name__}) expects {len(expected)} weight(s) of shapes {expected}, "
                   f"the file has {len(found)} of shapes {found}")
            if skip_mismatch:
                warnings.warn(msg + "; skipped (skip_mismatch=True)")
                continue
            raise ModelFileError(msg)
        try:
            pairs.append((layer, [_read(d) for d in datasets]))
        except ModelFileError as err:
            raise ModelFileError(f"{where}: {err}") from None
    return pairs


def set_keras3_weights(model, h5file, source: str, class_names=None, skip_mismatch: bool = False) -> None:
    for layer, values in keras3_weight_values(model, h5file, source, class_names, skip_mismatch):
        layer.set_weights(values)


def load_keras3_weights_file(model, path, skip_mismatch: bool = False) -> None:
    """`Model.load_weights` for Keras 3's ``.weights.h5`` files."""
    from .saving_h5 import h5py_module
    source = f"loading weights from '{os.fspath(path)}'"
    with _open_h5(h5py_module(), os.fspath(path), source) as f:
        set_keras3_weights(model, f, source, skip_mismatch=skip_mismatch)


def _open_h5(h5py, path_or_bytes, source):
    """An HDF5 file from a path, or from bytes held in memory (HDF5's file-image driver: no Python
    file object in the read path, nothing written to disk)."""
    try:
        if isinstance(path_or_bytes, bytes):
            fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
            fapl.set_fapl_core(backing_store=False)
            fapl.set_file_image(path_or_bytes)
            return h5py.File(h5py.h5f.open(b"model.weights.h5", h5py.h5f.ACC_RDONLY, fapl=fapl))
        return h5py.File(path_or_bytes, "r")
    except (OSError, ValueError) as err:
        raise ModelFileError(f"{source}: the weights are not a readable HDF5 file (truncated or corrupt?): "
                             f"{err}") from None


# ================================================================================ optimizer state
# How Keras 3 lays out each optimizer's variables after ``iteration`` and ``learning_rate``: one
# group per ``add_optimizer_variables`` call of its ``build``; within a group, per trainable weight,
# one variable per slot name. (irgraph's slot names are Keras 3's.)
_SLOT_GROUPS = {
    "SGD": lambda o: [["momentum"]] if o.momentum != 0 else [],
    "RMSprop": lambda o: [["velocity"]] + ([["momentum"]] if o.momentum > 0 else [])
    + ([["average_gradient"]] if o.centered else []),
    "Adam": lambda o: [["momentum", "velocity"]] + ([["velocity_hat"]] if o.amsgrad else []),
    "AdamW": lambda o: [["momentum", "velocity"]] + ([["velocity_hat"]] if o.amsgrad else []),
    "Adagrad": lambda o: [["accumulator"]],
    "Adadelta": lambda o: [["accumulated_grad", "accumulated_delta_var"]],
    "Adamax": lambda o: [["momentum", "norm"]],
    "Nadam": lambda o: [["momentum", "velocity"]],
}


def set_keras3_optimizer_state(model, h5file, source: str) -> bool:
    """Restore ``iterations`` and the slots of the compiled optimizer from ``optimizer/vars``;
    False (with a warning) when the file's layout does not fit this optimizer."""
    opt = model.optimizer
    vars_ = h5file.get("optimizer/vars") if "optimizer" in h5file else None
    if opt is None or vars_ is None:
        return False
    layout = _SLOT_GROUPS.get(type(opt).__name__)
    datasets = [vars_[k] for k in sorted((k for k in vars_ if k.isdigit()), key=int)]
    weights = model.trainable_weights
    extra = 1 if type(opt).__name__ == "Nadam" else 0  # Nadam's u_product comes after its slots
    if layout is None or list(opt.slot_names()) != [s for g in layout(opt) for s in g]:
        warnings.warn(f"{source}: the optimizer state of {type(opt).__name__} is not restored (irgraph does "
                      "not know its Keras 3 layout); training continues from fresh optimizer slots")
        return False
    expected = 2 + extra + sum(len(g) for g in layout(opt)) * len(weights)
    if len(datasets) == 2:  # compiled but never trained: Keras built no slots (nor u_product) yet
        opt.iterations = int(np.asarray(datasets[0][()]))
        return True
    if len(datasets) != expected:
        warnings.warn(f"{source}: the file holds {len(datasets)} optimizer variables, {type(opt).__name__} "
                      f"over this model's {len(weights)} trainable weights needs {expected}; the optimizer "
                      "state is not restored (training continues from fresh slots)")
        return False
    state, i = {}, 2
    for group in layout(opt):
        for w in weights:
            for slot in group:
                d = datasets[i]
                i += 1
                if tuple(d.shape) != tuple(w.shape):
                    warnings.warn(f"{source}: optimizer slot '{slot}' of weight '{w.path}' has shape "
                                  f"{tuple(d.shape)} in the file, the weight {tuple(w.shape)}; the optimizer "
                                  "state is not restored")
                    return False
                state[f"{w.path}:{slot}"] = np.asarray(d[()])
    opt.iterations = int(np.asarray(datasets[0][()]))
    opt.set_state_of(weights, state)
    return True


# ================================================================================ compile configs
def _keras3_object(v):
    """A Keras 3 serialized object as irgraph's ``{'class_name', 'config'}`` (functions by name)."""
    if isinstance(v, dict) and "class_name" in v:
        if v["class_name"] == "function":
            return v.get("config")
        cfg = v.get("config")
        if isinstance(cfg, dict):
            cfg = {k: x for k, x in cfg.items() if k not in ("dtype", "reduction") and x is not None}
        return {"class_name": v["class_name"], "config": cfg or {}}
    if isinstance(v, list):
        return [_keras3_object(x) for x in v]
    if isinstance(v, dict):
        return {k: _keras3_object(x) for k, x in v.items()}
    return v


def compile_from_keras_config(model, cfg: dict, custom_objects, source: str) -> None:
    """``model.compile`` from a Keras 3 ``compile_config`` or a Keras 2 ``training_config``."""
    from . import optimizers
    co = custom_objects or {}
    opt_cfg = cfg.get("optimizer", cfg.get("optimizer_config"))
    try:
        if isinstance(opt_cfg, dict):
            opt_cfg = {"class_name": opt_cfg.get("class_name"), "config": opt_cfg.get("config") or {}}
            optimizer = optimizers.deserialize(opt_cfg, co)
        else:
            optimizer = opt_cfg
        kwargs = {k: _resolve(_keras3_object(cfg.get(k)), co)
                  for k in ("loss", "metrics", "weighted_metrics") if cfg.get(k) is not None}
        if cfg.get("loss_weights") is not None:
            kwargs["loss_weights"] = cfg["loss_weights"]
        model.compile(optimizer=optimizer, **kwargs)
    except (ValueError, TypeError, KeyError) as err:
        raise ModelFileError(f"{source}: the model's compile configuration cannot be restored ({err}); load "
                             "it with compile=False and compile it yourself") from None


def _resolve(v, co):
    """Names and configs of losses and metrics, with ``custom_objects`` for custom ones."""
    if isinstance(v, str):
        return co.get(v, v)
    if isinstance(v, dict) and "class_name" in v and "config" in v:
        cls = co.get(v["class_name"])
        return cls.from_config(v["config"]) if cls is not None else v
    if isinstance(v, list):
        return [_resolve(x, co) for x in v]
    if isinstance(v, dict):
        return {k: _resolve(x, co) for k, x in v.items()}
    return v


# ================================================================================ loading
def load_keras_archive(path, custom_objects=None, compile: bool = True, safe_mode: bool = True):  # noqa: A002
    """A model from a Keras 3 ``.keras`` archive: architecture, weights, compile arguments and
    optimizer state."""
    from .models import model_from_json
    from .saving_h5 import h5py_module
    path = os.fspath(path)
    source = f"loading the Keras model '{path}'"
    config, _metadata, weights = read_archive(path)
    check_classes(config, custom_objects, source)
    model = _build(lambda: model_from_json(json.dumps(config), custom_objects=custom_objects,
                                           safe_mode=safe_mode), source)
    class_names = _class_names(config)
    if weights is not None:
        with _open_h5(h5py_module(), weights, source) as f:
            set_keras3_weights(model, f, source, class_names)
            if compile and isinstance(config.get("compile_config"), dict):
                compile_from_keras_config(model, config["compile_config"], custom_objects, source)
                set_keras3_optimizer_state(model, f, source)
    elif compile and isinstance(config.get("compile_config"), dict):
        compile_from_keras_config(model, config["compile_config"], custom_objects, source)
    return model


def load_keras_h5(path, custom_objects=None, compile: bool = True):  # noqa: A002
    """A model from a Keras 2 / tf.keras / Keras 3 legacy ``.h5`` file."""
    from .models import model_from_json
    from .saving_h5 import h5py_module, load_hdf5_weights, read_attribute_list
    path = os.fspath(path)
    source = f"loading the Keras model '{path}'"
    h5py = h5py_module()
    with _open_h5(h5py, path, source) as f:
        if "model_config" not in f.attrs:
            raise ModelFileError(f"{source}: an HDF5 file without a 'model_config' attribute: it holds "
                                 "weights only (build the model in code and call load_weights) or is "
                                 "not a Keras file")
        config = _json(_attr_bytes(f.attrs["model_config"]), "model_config", source)
        training = (_json(_attr_bytes(f.attrs["training_config"]), "training_config", source)
                    if "training_config" in f.attrs else None)
        has_weights = "model_weights" in f and bool(read_attribute_list(f["model_weights"], "layer_names"))
        version = _attr_bytes(f.attrs.get("keras_version", b"")).decode("utf8", "replace")
    check_classes(config, custom_objects, source)
    if not version.startswith("3"):  # written by Keras 1 or 2 (or tf.keras)
        config = keras2_to_irgraph(config)
    else:
        from .serialization import is_keras3_config, keras3_to_irgraph
        inner = config.get("config")
        if config.get("class_name") == "Sequential" and isinstance(inner, dict) \
                and isinstance(inner.get("layers"), list) and not is_keras3_config(inner):
            # a Sequential in Keras 3's legacy .h5 carries no module names: say which form it is
            config = dict(config, config=keras3_to_irgraph(inner))
    model = _build(lambda: model_from_json(json.dumps(config), custom_objects=custom_objects), source)
    if has_weights:
        load_hdf5_weights(model, path)
    if compile and isinstance(training, dict):
        compile_from_keras_config(model, training, custom_objects, source)
    return model


def _attr_bytes(v) -> bytes:
    if isinstance(v, bytes):
        return v
    if isinstance(v, np.ndarray) and v.shape == ():
        v = v[()]
    return v if isinstance(v, bytes) else str(v).encode("utf8")


def _build(make, source):
    try:
        return make()
    except ModelFileError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as err:
        raise ModelFileError(f"{source}: the model cannot be rebuilt from its config: {err}") from None


def _class_names(config) -> dict:
    """Layer name -> class name over a (nested) Keras config, for Keras's weight paths."""
    out, stack = {}, [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            cfg = node.get("config")
            if isinstance(node.get("class_name"), str) and isinstance(cfg, dict) and isinstance(cfg.get("name"), str):
                out.setdefault(cfg["name"], node["class_name"])
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return out


def load(path, custom_objects=None, compile: bool = True, safe_mode: bool = True):  # noqa: A002
    """A Keras model file of any kind irgraph reads, recognised by its content."""
    if is_keras_archive(path):
        return load_keras_archive(path, custom_objects, compile, safe_mode)
    return load_keras_h5(path, custom_objects, compile)

