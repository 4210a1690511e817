"""Saving and loading models and weights; file writing that never damages what was saved before.

``model.save(path)`` writes ONE ONNX file: the inference graph of ``to_onnx`` with the weights as
initializers (it deploys anywhere as is), plus, for irgraph, metadata_props:

- ``irgraph.format_version``: this file layout's version (`FORMAT_VERSION`);
- ``irgraph.model_config``: JSON ``{'class_name', 'config'}`` of the architecture (serialization.py);
- ``irgraph.weights``: JSON list of the weight paths in ``model.weights`` order;
- ``irgraph.compile_config``: JSON of the compile arguments (optimizer class and config, loss and
  metric identifiers per output, loss weights), when the model is compiled;
- ``irgraph.iterations``: the optimizer's step count;
- ``irgraph.complete``: the number of entries before it, written last (protobuf writes the
  metadata after the graph), so that a file cut at a field boundary is still detected;

and the optimizer slots as extra initializers ``optimizer_state/<weight path>:<slot>``, which no
graph node reads (onnxruntime and the ONNX checker accept unused initializers). Keras's ``.h5`` and
``.keras`` suffixes are accepted, and the file at such a path holds these same ONNX bytes.

``save_weights`` writes an ``.npz`` archive (numpy's format, no pickles) keyed by weight path. Every
write goes to a temporary file in the target folder, which is then renamed over the target, so a
crash mid-save leaves the previous file intact. Loading reads data only: JSON and arrays, never
pickles and never code.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT_VERSION = 1
SLOT_PREFIX = "optimizer_state/"
META_VERSION = "irgraph.format_version"
META_CONFIG = "irgraph.model_config"
META_WEIGHTS = "irgraph.weights"
META_COMPILE = "irgraph.compile_config"
META_ITERATIONS = "irgraph.iterations"
META_END = "irgraph.complete"


class ModelFileError(ValueError):
    """A model or weights file that cannot be read (corrupt, truncated, not irgraph's)."""


class ModelFileNotFoundError(ModelFileError, FileNotFoundError):
    """The file does not exist (a ValueError, and a FileNotFoundError for Keras-style handlers)."""


# ================================================================================== writing
def atomic_write_bytes(path, data: bytes) -> None:
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".irgraph-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _check_overwrite(path: str, overwrite: bool) -> None:
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"'{path}' exists and overwrite=False")


def _sync(model) -> None:
    trainer = getattr(model, "_trainer", None)
    if trainer is not None:
        trainer.sync()


def _weights_by_path(model) -> dict:
    out: dict = {}
    for v in model.weights:
        if v.path in out:
            raise ValueError(f"model '{model.name}' has two different weights named '{v.path}' (two layers "
                             "with the same name, e.g. in a nested model); rename one to save the model")
        out[v.path] = v
    return out


def model_proto(model, include_optimizer: bool = True):
    """The ONNX ModelProto that `save_model` writes."""
    import onnx
    from onnx import numpy_helper

    from .serialization import compile_config, dumps, layer_spec
    _sync(model)
    weights = _weights_by_path(model)
    meta = {META_VERSION: str(FORMAT_VERSION), META_CONFIG: dumps(layer_spec(model)),
            META_WEIGHTS: dumps(list(weights))}
    compiled = getattr(model, "compiled", None) if include_optimizer else None
    trainer = getattr(model, "_trainer", None)
    if compiled is not None:
        meta[META_COMPILE] = dumps(compile_config(compiled))
        meta[META_ITERATIONS] = str(int(trainer.iterations) if trainer is not None else 0)
    proto = model.to_onnx(check=False)
    graph = proto.graph
    inits = {t.name: t for t in graph.initializer}
    for path, v in weights.items():  # weights no graph node reads (pruned) are kept as well
        if path not in inits:
            graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(v.numpy()), path))
        elif not np.array_equal(numpy_helper.to_array(inits[path]), v.numpy()):
            raise ValueError(f"the ONNX graph of model '{model.name}' has a tensor named '{path}' that is "
                             "not that weight; rename the layer to save the model")
    if compiled is not None and trainer is not None:
        for key in sorted(trainer.slots):
            arr = np.ascontiguousarray(np.asarray(trainer.slots[key]))
            graph.initializer.append(numpy_helper.from_array(arr, SLOT_PREFIX + key))
    props = {p.key: p.value for p in proto.metadata_props if p.key != META_END}
    props.update(meta)
    props[META_END] = str(len(props))  # written last: a file cut before it is detected
    del proto.metadata_props[:]
    for k, v in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(proto, full_check=True)
    return proto


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    path = os.fspath(filepath)
    _check_overwrite(path, overwrite)
    atomic_write_bytes(path, model_proto(model, include_optimizer).SerializeToString())


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """An ``.npz`` archive (written at ``filepath`` whatever its suffix), one array per weight path."""
    path = os.fspath(filepath)
    _check_overwrite(path, overwrite)
    _sync(model)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, v in _weights_by_path(model).items():
            with zf.open(name + ".npy", "w") as f:
                np.lib.format.write_array(f, np.ascontiguousarray(v.numpy()), allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


# ================================================================================== reading
def _read_bytes(path: str, what: str) -> bytes:
    if not os.path.exists(path):
        raise ModelFileNotFoundError(f"cannot load {what} from '{path}': no such file")
    if os.path.isdir(path):
        raise ModelFileError(f"cannot load {what} from '{path}': it is a directory, not a file")
    with open(path, "rb") as f:
        return f.read()


def read_model_file(filepath):
    """``(proto, metadata)`` of a file written by `save_model`; a clear `ModelFileError` otherwise."""
    import onnx
    path = os.fspath(filepath)
    data = _read_bytes(path, "a model")
    bad = f"cannot load a model from '{path}'"
    if not data:
        raise ModelFileError(f"{bad}: the file is empty")
    try:
        proto = onnx.load_model_from_string(data)
    except Exception as err:  # protobuf's DecodeError and friends
        raise ModelFileError(f"{bad}: it is not a readable ONNX file (truncated or corrupt?): "
                             f"{type(err).__name__}: {err}") from None
    meta = {p.key: p.value for p in proto.metadata_props}
    if META_CONFIG not in meta:
        why = ("it is not an ONNX model at all (or it is truncated)" if not proto.HasField("graph")
               else "it is an ONNX model without irgraph metadata: files from to_onnx() or other tools "
                    "hold no model config (only Model.save writes one), or the file is truncated")
        raise ModelFileError(f"{bad}: {why}")
    keys = [p.key for p in proto.metadata_props]
    if META_END not in keys or meta[META_END] != str(keys.index(META_END)):
        raise ModelFileError(f"{bad}: its irgraph metadata is incomplete (the file is truncated)")
    try:
        version = int(meta.get(META_VERSION, "0"))
    except ValueError:
        raise ModelFileError(f"{bad}: unreadable {META_VERSION} {meta.get(META_VERSION)!r}") from None
    if not 1 <= version <= FORMAT_VERSION:
        raise ModelFileError(f"{bad}: format version {version} is not supported by this irgraph "
                             f"(it reads versions 1 to {FORMAT_VERSION})")
    for key in (META_CONFIG, META_WEIGHTS, META_COMPILE):
        if key in meta:
            try:
                meta[key] = json.loads(meta[key])
            except ValueError as err:
                raise ModelFileError(f"{bad}: the metadata {key} is not valid JSON ({err})") from None
    if META_WEIGHTS not in meta:
        raise ModelFileError(f"{bad}: the metadata {META_WEIGHTS} is missing")
    return proto, meta


def assign_weights(model, names: list, get, source: str) -> dict:
    """Set the model's weights from arrays named ``names`` (in the saved ``model.weights`` order);
    ``get(name)`` gives an array. By path when every path matches, otherwise by position (layers
    auto-named differently in this process) when the counts and shapes agree. Returns saved name ->
    Variable. Nothing is assigned unless every weight fits."""
    variables = model.weights
    paths = [v.path for v in variables]
    if len(set(paths)) == len(paths) and set(paths) == set(names) and len(names) == len(set(names)):
        pairs = [(v, v.path) for v in variables]
    elif len(variables) == len(names):
        pairs = list(zip(variables, names))
    else:
        missing = [p for p in paths if p not in set(names)]
        extra = [n for n in names if n not in set(paths)]
        raise ModelFileError(
            f"{source}: the model '{model.name}' has {len(variables)} weights and the file has "
            f"{len(names)}" + (f"; missing from the file: {', '.join(missing)}" if missing else "")
            + (f"; in the file but not in the model: {', '.join(extra)}" if extra else ""))
    values = []
    for v, name in pairs:
        arr = get(name)
        if tuple(arr.shape) != tuple(v.shape):
            label = f"'{v.path}'" if name == v.path else f"'{v.path}' (saved as '{name}')"
            raise ModelFileError(f"{source}: weight {label} has shape {tuple(v.shape)} in the model but "
                                 f"{tuple(arr.shape)} in the file")
        values.append(arr)
    for (v, _), arr in zip(pairs, values):
        v.assign(arr)
    if getattr(model, "_runtime", None) is not None:
        model._runtime = None  # cached inference sessions hold the old weights
    return {name: v for v, name in pairs}


def _initializer_getter(proto, source):
    from onnx import numpy_helper
    inits = {t.name: t for t in proto.graph.initializer}

    def get(name):
        if name not in inits:
            raise ModelFileError(f"{source}: the weight '{name}' listed in the metadata has no initializer "
                                 "(the file is damaged)")
        try:
            return numpy_helper.to_array(inits[name])
        except Exception as err:
            raise ModelFileError(f"{source}: the weight '{name}' cannot be read ({err})") from None
    return get, inits


def load_model(filepath, custom_objects=None, compile: bool = True):  # noqa: A002
    from .serialization import compile_kwargs, deserialize_layer
    path = os.fspath(filepath)
    source = f"loading the model from '{path}'"
    proto, meta = read_model_file(path)
    try:
        model = deserialize_layer(meta[META_CONFIG], custom_objects)
    except ModelFileError:
        raise
    except (ValueError, TypeError, KeyError) as err:
        raise ModelFileError(f"{source}: {err}") from None
    get, inits = _initializer_getter(proto, source)
    mapping = assign_weights(model, list(meta[META_WEIGHTS]), get, source)
    if compile and META_COMPILE in meta:
        try:
            model.compile(**compile_kwargs(meta[META_COMPILE], custom_objects))
        except (ValueError, TypeError, KeyError) as err:
            raise ModelFileError(f"{source}: cannot compile it as it was saved: {err} (load_model(..., "
                                 "compile=False) loads it uncompiled)") from None
        trainer = model._get_trainer()
        trainer.iterations = int(meta.get(META_ITERATIONS, "0"))
        trainer.slots = _slots(inits, mapping, get, source)
    return model


def _slots(inits, mapping, get, source) -> dict:
    from onnx import numpy_helper
    saved = sorted(mapping, key=len, reverse=True)
    slots = {}
    for name, tensor in inits.items():
        if not name.startswith(SLOT_PREFIX):
            continue
        key = name[len(SLOT_PREFIX):]
        path = next((p for p in saved if key.startswith(p + ":")), None)
        if path is None:
            raise ModelFileError(f"{source}: optimizer state '{key}' belongs to no weight of the model")
        slots[f"{mapping[path].path}:{key[len(path) + 1:]}"] = numpy_helper.to_array(tensor)
    return slots


def load_weights(model, filepath, by_name: bool = False) -> None:
    """Set the weights from `save_weights`'s ``.npz`` (or from a `save_model` file)."""
    path = os.fspath(filepath)
    source = f"loading weights from '{path}'"
    data = _read_bytes(path, "weights")
    if not data.startswith(b"PK"):
        proto, meta = read_model_file(path)
        get, _ = _initializer_getter(proto, source)
        names = list(meta[META_WEIGHTS])
    else:
        try:
            archive = np.load(io.BytesIO(data), allow_pickle=False)
            names = list(archive.files)
            arrays = {n: archive[n] for n in names}
        except Exception as err:
            raise ModelFileError(f"{source}: not a readable .npz weights file (truncated or corrupt?): "
                                 f"{type(err).__name__}: {err}") from None
        get = arrays.__getitem__
    if by_name:
        paths = [v.path for v in model.weights]
        missing = [p for p in paths if p not in names]
        extra = [n for n in names if n not in paths]
        if missing or extra:
            raise ModelFileError(f"{source} by name: " + "; ".join(
                ([f"missing from the file: {', '.join(missing)}"] if missing else [])
                + ([f"in the file but not in the model: {', '.join(extra)}"] if extra else [])))
        names = paths
    assign_weights(model, names, get, source)
