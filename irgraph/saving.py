"""Saving and loading models and weights; file writing that never damages what was saved before.

The model file
--------------
``model.save(path)`` writes ONE self-contained ONNX file: the inference graph of ``to_onnx`` with
the weights as initializers (it deploys anywhere as is), plus, for irgraph, metadata_props:

- ``irgraph.format_version``: this file layout's version (`FORMAT_VERSION`; 1 had no checksum);
- ``irgraph.model_config``: JSON ``{'class_name', 'config'}`` of the architecture (serialization.py);
- ``irgraph.weights``: JSON list of the weight paths in ``model.weights`` order;
- ``irgraph.compile_config``: JSON of the compile arguments (optimizer class and config, loss and
  metric identifiers per output, loss weights), when the model is compiled;
- ``irgraph.iterations``: the optimizer's step count;
- ``irgraph.checksum``: ``sha256:<hex>`` over every ``irgraph.*`` entry before it and every
  initializer (name, data type, dims, data), so a changed weight, slot or config is detected;
  the graph's nodes are not covered (loading rebuilds them from the config);
- ``irgraph.complete``: the number of entries before it, written last (protobuf writes the
  metadata after the graph), so that a file cut at a field boundary is still detected;

and the optimizer slots as extra initializers ``optimizer_state/<weight path>:<slot>``, which no
graph node reads (onnxruntime and the ONNX checker accept unused initializers). Keras's ``.h5`` and
``.keras`` suffixes are accepted, and the file at such a path holds these same ONNX bytes.

``save_weights`` writes an ``.npz`` archive (numpy's format, no pickles, a CRC-32 per array) keyed
by weight path.

Writing: every file goes to ``.<name>.irgraph-tmp-<random>`` in the target folder, locked while it
is written, then renamed over the target, so a crash or ``kill -9`` mid-save leaves the previous
file intact; the next save of that target removes temporaries no live writer holds. A replaced
file keeps its permission bits; a new one gets the usual ``0o666 & ~umask``.

Loading reads data only, from the one file named: JSON and arrays, never pickles, never code, and
never ONNX external data. irgraph does not write external data, so a tensor that points at another
file is refused rather than resolved (even inside the file's folder): a loaded model then never
holds bytes of another file, and no later save can embed one. Everything is checked before it is
used: the checksum, the JSON types of every metadata field (serialization.check_layer_spec), and
the size of every weight the config would create against what the file stores, before any weight
is allocated (`charge_weight`). Any problem is a `ModelFileError` naming the file and the field.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import stat
import threading
import zipfile

import numpy as np

try:
    import fcntl
except ImportError:  # Windows: an open file cannot be removed there anyway
    fcntl = None

FORMAT_VERSION = 2
SLOT_PREFIX = "optimizer_state/"
META_VERSION = "irgraph.format_version"
META_CONFIG = "irgraph.model_config"
META_WEIGHTS = "irgraph.weights"
META_COMPILE = "irgraph.compile_config"
META_ITERATIONS = "irgraph.iterations"
META_CHECKSUM = "irgraph.checksum"
META_END = "irgraph.complete"
MAX_JSON_DEPTH = 128  # about 40 models nested in one another; deeper JSON is refused, not recursed
TMP_MARK = ".irgraph-tmp-"


class ModelFileError(ValueError):
    """A model or weights file that cannot be read (corrupt, truncated, not irgraph's)."""


class ModelFileNotFoundError(ModelFileError, FileNotFoundError):
    """The file does not exist (a ValueError, and a FileNotFoundError for Keras-style handlers)."""


# ================================================================================== writing
def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` at ``path`` so that ``path`` always holds either the old or the new bytes."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    prefix = "." + os.path.basename(path)[:200] + TMP_MARK
    _remove_stale_temporaries(folder, prefix)
    fd, tmp, lock = _new_temporary(folder, prefix, _mode_for(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    finally:
        if lock is not None:
            os.close(lock)
    _fsync_folder(folder)


def _mode_for(path: str) -> int:
    """The permission bits of the file being replaced, or None for a new file (umask applies)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


def _new_temporary(folder: str, prefix: str, mode):
    """``(fd, path, lock_fd)`` of a new temporary, created with mode 0o666 (the umask applies) or
    ``mode``, and locked (``lock_fd``, None without flock) until closed after the rename, so that
    `_remove_stale_temporaries` of another process never takes it."""
    while True:
        tmp = os.path.join(folder, prefix + os.urandom(6).hex())
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        try:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
            if fcntl is None:
                return fd, tmp, None
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.path.samestat(os.fstat(fd), os.stat(tmp)):  # not removed before it was locked
                return fd, tmp, os.dup(fd)
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(fd)
            _remove(tmp)
            raise
        os.close(fd)


def _remove_stale_temporaries(folder: str, prefix: str) -> None:
    """Remove the temporaries of this target left by saves that were killed: those no live process
    holds locked (a lock dies with its process, even after ``kill -9``)."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix)]
    except OSError:
        return
    for name in names:
        tmp = os.path.join(folder, name)
        if fcntl is None:
            _remove(tmp)
            continue
        try:
            fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while a writer holds it
            if os.path.samestat(os.fstat(fd), os.stat(tmp)):
                os.unlink(tmp)
        except OSError:
            pass
        finally:
            os.close(fd)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX; elsewhere the call is skipped)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_overwrite(path: str, overwrite: bool) -> None:
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"'{path}' exists and overwrite=False")


def _weights_by_path(model) -> dict:
    out: dict = {}
    for v in model.weights:
        if v.path in out:
            raise ValueError(f"model '{model.name}' has two different weights named '{v.path}' (two layers "
                             "with the same name, e.g. in a nested model); rename one to save the model")
        out[v.path] = v
    return out


def checksum(proto) -> str:
    """``sha256:<hex>`` of the ``irgraph.*`` metadata entries (but the checksum and the end marker)
    and of every initializer's name, data type, dims and data, in file order."""
    h = hashlib.sha256()
    for p in proto.metadata_props:
        if p.key.startswith("irgraph.") and p.key not in (META_CHECKSUM, META_END):
            h.update(json.dumps([p.key, p.value]).encode() + b"\n")
    for t in proto.graph.initializer:
        h.update(json.dumps([t.name, t.data_type, list(t.dims)]).encode() + b"\n")
        h.update(t.raw_data if t.HasField("raw_data") else t.SerializeToString(deterministic=True))
    return "sha256:" + h.hexdigest()


def seal(proto, props: dict | None = None) -> None:
    """Write the metadata of ``proto`` (``props``, or the entries it has) followed by a new checksum
    and end marker: what `model_proto` does, and what a deliberate edit of a saved file needs."""
    if props is None:
        props = {p.key: p.value for p in proto.metadata_props}
    del proto.metadata_props[:]
    for k, v in props.items():
        if k not in (META_CHECKSUM, META_END):
            entry = proto.metadata_props.add()
            entry.key, entry.value = k, v
    for k in (META_CHECKSUM, META_END):  # the end marker last: a file cut before it is detected
        entry = proto.metadata_props.add()
        entry.key = k
        entry.value = checksum(proto) if k == META_CHECKSUM else str(len(proto.metadata_props) - 1)


def model_proto(model, include_optimizer: bool = True):
    """The ONNX ModelProto that `save_model` writes: the newest value of every weight and optimizer
    slot, wherever it lives, read under the weight store's lock as one consistent set."""
    from .variables import LOCK
    with LOCK:
        return _model_proto(model, include_optimizer)


def _model_proto(model, include_optimizer: bool):
    import onnx
    from onnx import numpy_helper

    from .serialization import compile_config, dumps, layer_spec
    weights = _weights_by_path(model)
    meta = {META_VERSION: str(FORMAT_VERSION), META_CONFIG: dumps(layer_spec(model)),
            META_WEIGHTS: dumps(list(weights))}
    compiled = getattr(model, "compiled", None) if include_optimizer else None
    if compiled is not None:
        meta[META_COMPILE] = dumps(compile_config(compiled))
        meta[META_ITERATIONS] = str(int(compiled.optimizer.iterations))
    proto = model.to_onnx(check=False)
    graph = proto.graph
    inits = {t.name: t for t in graph.initializer}
    for path, v in weights.items():  # weights no graph node reads (pruned) are kept as well
        if path not in inits:
            graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(v.numpy()), path))
        elif not np.array_equal(numpy_helper.to_array(inits[path]), v.numpy()):
            raise ValueError(f"the ONNX graph of model '{model.name}' has a tensor named '{path}' that is "
                             "not that weight; rename the layer to save the model")
    if compiled is not None:
        slots = compiled.optimizer.state_of(model.weights)
        for key in sorted(slots):
            arr = np.ascontiguousarray(np.asarray(slots[key]))
            graph.initializer.append(numpy_helper.from_array(arr, SLOT_PREFIX + key))
    props = {p.key: p.value for p in proto.metadata_props}
    props.update(meta)
    seal(proto, props)
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
    from .variables import LOCK
    buf = io.BytesIO()
    with LOCK, zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:  # one consistent set of weights
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


def _parse_json(text: str, field: str):
    """JSON metadata, refused (ValueError) when unreadable or nested deeper than MAX_JSON_DEPTH."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise ValueError(f"the metadata {field} is not valid JSON ({type(err).__name__}: {err})") from None
    stack = [(value, 1)]
    while stack:  # iterative: nothing here recurses with the depth of the data
        obj, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"the metadata {field} is nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(obj, dict):
            stack.extend((v, depth + 1) for v in obj.values())
        elif isinstance(obj, list):
            stack.extend((v, depth + 1) for v in obj)
    return value


def _count(text: str, field: str, limit: int = 2 ** 63 - 1) -> int:
    if not re.fullmatch(r"[0-9]{1,19}", text) or int(text) > limit:
        raise ValueError(f"the metadata {field} must be a whole number from 0 to {limit}, got {text[:80]!r}")
    return int(text)


def read_model_file(filepath):
    """``(proto, metadata)`` of a file written by `save_model`; a clear `ModelFileError` otherwise.
    The checksum is verified, no tensor may point at external data, and the metadata
    ``irgraph.model_config``, ``irgraph.weights`` and ``irgraph.compile_config`` come back
    parsed from JSON (``irgraph.weights`` checked to be a list of distinct names)."""
    import onnx
    path = os.fspath(filepath)
    data = _read_bytes(path, "a model")
    bad = f"cannot load a model from '{path}'"
    if not data:
        raise ModelFileError(f"{bad}: the file is empty")
    try:
        proto = onnx.load_model_from_string(data)  # parses only: external data is not followed
    except Exception as err:  # protobuf's DecodeError and friends
        raise ModelFileError(f"{bad}: it is not a readable ONNX file (truncated or corrupt?): "
                             f"{type(err).__name__}: {err}") from None
    texts = [s for p in proto.metadata_props for s in (p.key, p.value)]
    if not all(isinstance(s, str) for s in texts + [t.name for t in proto.graph.initializer]):
        raise ModelFileError(f"{bad}: the file is damaged: a name or metadata entry is not UTF-8 text")
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
        version = _count(meta.get(META_VERSION, ""), META_VERSION, limit=2 ** 31 - 1)
    except ValueError as err:
        raise ModelFileError(f"{bad}: {err}") from None
    if not 1 <= version <= FORMAT_VERSION:
        raise ModelFileError(f"{bad}: format version {version} is not supported by this irgraph "
                             f"(it reads versions 1 to {FORMAT_VERSION})")
    for t in list(proto.graph.initializer) + [s.values for s in proto.graph.sparse_initializer]:
        if t.data_location == onnx.TensorProto.EXTERNAL or len(t.external_data):
            raise ModelFileError(
                f"{bad}: the tensor '{t.name}' keeps its data in another file (ONNX external data), "
                "which irgraph never writes and never reads: a model file must be self-contained. "
                "Make it one file with onnx.load(path) and onnx.save(model, path) if you trust it")
    if version >= 2 or META_CHECKSUM in meta:
        if META_CHECKSUM not in meta:
            raise ModelFileError(f"{bad}: the metadata {META_CHECKSUM} is missing (the file is damaged)")
        if meta[META_CHECKSUM] != checksum(proto):
            raise ModelFileError(f"{bad}: the file is damaged: its weights or metadata changed after it "
                                 f"was saved (the {META_CHECKSUM} does not match; a disk or transfer "
                                 "error, or an edit). Use a backup or save the model again")
    try:
        for key in (META_CONFIG, META_WEIGHTS, META_COMPILE):
            if key in meta:
                meta[key] = _parse_json(meta[key], key)
        if META_WEIGHTS not in meta:
            raise ValueError(f"the metadata {META_WEIGHTS} is missing")
        names = meta[META_WEIGHTS]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"the metadata {META_WEIGHTS} must be a list of weight names, got "
                             f"{json.dumps(names)[:100]}")
        if len(set(names)) != len(names):
            raise ValueError(f"the metadata {META_WEIGHTS} names a weight twice")
    except ValueError as err:
        raise ModelFileError(f"{bad}: {err}") from None
    return proto, meta


def _stored_values(proto, names, source) -> int:
    """How many values the weights ``names`` hold in the file, from each initializer's dims and
    data size (nothing decoded); a tensor whose data does not fill its dims is refused."""
    from onnx import helper
    inits = {t.name: t for t in proto.graph.initializer}
    total = 0
    for name in names:
        t = inits.get(name)
        if t is None:
            raise ModelFileError(f"{source}: the weight '{name}' listed in the metadata has no initializer "
                                 "(the file is damaged)")
        n = math.prod(t.dims)
        try:
            dtype = helper.tensor_dtype_to_np_dtype(t.data_type)
            field = helper.tensor_dtype_to_field(t.data_type)
        except Exception:
            raise ModelFileError(f"{source}: the weight '{name}' has the unsupported data type "
                                 f"{t.data_type}") from None
        if t.HasField("raw_data"):
            fits, held = len(t.raw_data) == n * dtype.itemsize, f"{len(t.raw_data)} bytes"
        else:
            fits, held = len(getattr(t, field)) == n, f"{len(getattr(t, field))} values"
        if min(t.dims, default=0) < 0 or not fits:
            raise ModelFileError(f"{source}: the weight '{name}' has dims {tuple(t.dims)} ({n} values of "
                                 f"{dtype}) but holds {held} (the file is damaged)")
        total += n
    return total


_allocation = threading.local()  # the weight budget of the model load_model rebuilds on this thread
_SLACK = 1 << 16  # headroom: a custom layer may create a small weight that it does not keep


def charge_weight(layer_name: str, weight_name, shape) -> None:
    """Called by ``Layer.add_weight`` before it allocates a weight. While `load_model` rebuilds a
    model, its weights may not hold more values in all than the file stores (plus a little), so
    a config edited to ``Dense(20_000_000)`` is refused before the memory is taken."""
    n = math.prod(max(int(d), 0) for d in shape)
    charge_allocation(layer_name, f"the weight '{weight_name}' of shape {tuple(shape)}", n)


def charge_allocation(layer_name: str, what: str, n: int, kept: bool = True) -> None:
    """Count ``n`` values that rebuilding ``layer_name`` is about to allocate (see `charge_weight`);
    values not ``kept`` (a temporary array) need only fit the budget, they do not use it up."""
    budget = getattr(_allocation, "budget", None)
    if budget is None:
        return
    if n > (budget[0] if kept else budget[2] + _SLACK):
        raise ModelFileError(
            f"{budget[1]}: metadata {META_CONFIG}: layer '{layer_name}' would create {what} "
            f"({n:,} values), more than the file stores for all the weights ({budget[2]:,} values): "
            "the config does not match the weights (the file was edited, or is not irgraph's)")
    if kept:
        budget[0] -= n


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
            raise ModelFileError(f"{source}: the tensor '{name}' cannot be read ({err})") from None
    return get, inits


# what rebuilding a layer from a malformed config can raise; anything else is a bug to report
_CONFIG_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError,
                  OverflowError)


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):  # noqa: A002
    from .serialization import check_compile_config, check_layer_spec, compile_kwargs, deserialize_layer
    path = os.fspath(filepath)
    if not safe_mode:
        raise ValueError("load_model(safe_mode=False) is not supported: irgraph never runs code stored in "
                         "a file; pass the functions of Lambda layers in custom_objects")
    from . import keras_files
    from .saving_h5 import is_hdf5
    if keras_files.is_keras_archive(path) or is_hdf5(path):  # written by Keras (recognised by content)
        return keras_files.load(path, custom_objects=custom_objects, compile=compile)
    source = f"loading the model from '{path}'"
    proto, meta = read_model_file(path)
    names = meta[META_WEIGHTS]
    stored = _stored_values(proto, names, source)
    try:
        check_layer_spec(meta[META_CONFIG], custom_objects)
        _allocation.budget = [stored + _SLACK, source, stored]
        try:
            model = deserialize_layer(meta[META_CONFIG], custom_objects)
        finally:
            _allocation.budget = None
    except ModelFileError:
        raise
    except _CONFIG_ERRORS as err:
        raise ModelFileError(f"{source}: metadata {META_CONFIG}: {_message(err)}") from None
    get, inits = _initializer_getter(proto, source)
    mapping = assign_weights(model, list(names), get, source)
    if compile and META_COMPILE in meta:
        try:
            iterations = _count(meta.get(META_ITERATIONS, "0"), META_ITERATIONS)
        except ValueError as err:
            raise ModelFileError(f"{source}: {err}") from None
        try:
            check_compile_config(meta[META_COMPILE])
            kwargs = compile_kwargs(meta[META_COMPILE], custom_objects)
        except _CONFIG_ERRORS as err:
            raise ModelFileError(f"{source}: metadata {META_COMPILE}: {_message(err)}") from None
        try:
            model.compile(**kwargs)
        except _CONFIG_ERRORS as err:
            raise ModelFileError(f"{source}: cannot compile it as it was saved: {_message(err)} "
                                 "(load_model(..., compile=False) loads it uncompiled)") from None
        model.optimizer.iterations = iterations
        model.optimizer.set_state_of(model.weights, _slots(inits, mapping, get, source))
    return model


def _message(err) -> str:
    """An exception as words: ValueError's own message, others with their type."""
    if isinstance(err, ValueError):
        return str(err)
    if isinstance(err, RecursionError):
        return "it is nested too deeply to rebuild"
    return f"{type(err).__name__}: {err}"


def _slots(inits, mapping, get, source) -> dict:
    saved = sorted(mapping, key=len, reverse=True)
    slots = {}
    for name in inits:
        if not name.startswith(SLOT_PREFIX):
            continue
        key = name[len(SLOT_PREFIX):]
        path = next((p for p in saved if key.startswith(p + ":")), None)
        if path is None:
            raise ModelFileError(f"{source}: optimizer state '{key}' belongs to no weight of the model")
        slots[f"{mapping[path].path}:{key[len(path) + 1:]}"] = get(name)
    return slots


def load_weights(model, filepath, by_name: bool = False) -> None:
    """Set the weights from `save_weights`'s ``.npz`` (or from a `save_model` file)."""
    path = os.fspath(filepath)
    source = f"loading weights from '{path}'"
    data = _read_bytes(path, "weights")
    if not data.startswith(b"PK"):
        proto, meta = read_model_file(path)
        names = meta[META_WEIGHTS]
        _stored_values(proto, names, source)
        get, _ = _initializer_getter(proto, source)
    else:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                damaged = zf.testzip()  # reads every entry, checking its CRC-32
            if damaged is not None:
                raise ModelFileError(f"{source}: the file is damaged: its entry '{damaged}' fails its "
                                     "CRC-32 check. Use a backup or save the weights again")
            archive = np.load(io.BytesIO(data), allow_pickle=False)
            names = list(archive.files)
            arrays = {n: archive[n] for n in names}
        except ModelFileError:
            raise
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
