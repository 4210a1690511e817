"""Model configs: the Keras-style JSON description of an architecture, and rebuilding from it.

A functional config lists the layers (``class_name``, ``config``, ``name``, ``inbound_nodes``) and the
model's inputs and outputs as ``[layer_name, node_index, tensor_index]`` references. Each inbound
node records its input tensors the same way plus the call-argument template (``inputs, args,
kwargs`` with tensors as ``{"__slot__": i}``), so keyword calls (``initial_state=``), list inputs
(merge layers) and dict or list model inputs/outputs come back as they were. Node indices count only
the calls that belong to the model (a layer's ``_inbound_nodes`` may also hold calls made for other
models). A `Sequential` config is its list of layer configs (an ``InputLayer`` first once built).

Rebuilding instantiates classes by name from irgraph's layer classes plus ``custom_objects``;
nothing stored is ever executed: a `Lambda` keeps only its function's name and needs the function
in ``custom_objects``, and so does a custom layer class.
"""
from __future__ import annotations

import codecs
import contextlib
import inspect
import json
import marshal
import re
import threading
import types

import numpy as np

from .layers.base import Layer, _Slot, flatten, rebuild
from .saving import ModelFileError, charge_allocation
from .tensor import KerasTensor

# ================================================================================== values
_TAGS = ("__slot__", "__tuple__", "__dict__", "__slice__", "__ellipsis__", "__ndarray__", "__dtype__",
         "__npscalar__")


def encode_value(obj, where: str = "value"):
    """A JSON-able form of a call-argument value: plain data, tuples, slices, numpy arrays and
    dtypes, and tensor slots, each tagged so that `decode_value` gives back the same types."""
    if isinstance(obj, _Slot):
        return {"__slot__": obj.i}
    if isinstance(obj, np.generic):
        if obj.dtype.kind not in "biuf":
            raise ValueError(f"{where}: cannot save a numpy {obj.dtype} value")
        return {"__npscalar__": [obj.dtype.name, obj.item()]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise ValueError(f"{where}: cannot save a numpy array of dtype {obj.dtype}")
        return {"__ndarray__": [obj.dtype.name, list(obj.shape), obj.ravel().tolist()]}
    if isinstance(obj, np.dtype) or (isinstance(obj, type) and issubclass(obj, np.generic)):
        return {"__dtype__": np.dtype(obj).name}
    if obj is Ellipsis:
        return {"__ellipsis__": None}
    if isinstance(obj, slice):
        return {"__slice__": [encode_value(v, where) for v in (obj.start, obj.stop, obj.step)]}
    if isinstance(obj, tuple):
        return {"__tuple__": [encode_value(v, where) for v in obj]}
    if isinstance(obj, list):
        return [encode_value(v, where) for v in obj]
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not (len(obj) == 1 and next(iter(obj)) in _TAGS):
            return {k: encode_value(v, where) for k, v in obj.items()}
        return {"__dict__": [[encode_value(k, where), encode_value(v, where)] for k, v in obj.items()]}
    raise ValueError(f"{where}: cannot save a value of type {type(obj).__name__} ({obj!r:.80}); only "
                     "numbers, strings, None, lists, tuples, dicts, slices and numpy arrays can be "
                     "stored in a model config")


def decode_value(obj):
    if isinstance(obj, list):
        return [decode_value(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1 and next(iter(obj)) in _TAGS:
        return _decode_tagged(*next(iter(obj.items())))
    return {k: decode_value(x) for k, x in obj.items()}


_TAG_FORMS = {"__slot__": "a whole number >= 0", "__tuple__": "a list", "__dict__": "a list of [key, value] pairs",
              "__slice__": "a list [start, stop, step]", "__ellipsis__": "null",
              "__ndarray__": "[dtype name, shape, values]", "__npscalar__": "[dtype name, number]",
              "__dtype__": "a dtype name"}


def _decode_tagged(tag, v):
    """One tagged value of `encode_value`; a ValueError saying what the tag needs if malformed."""
    pairs = isinstance(v, list) and all(isinstance(p, list) and len(p) == 2 for p in v)
    well_formed = {
        "__slot__": isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "__tuple__": isinstance(v, list), "__dict__": pairs,
        "__slice__": isinstance(v, list) and len(v) == 3, "__ellipsis__": True,
        "__ndarray__": isinstance(v, list) and len(v) == 3 and isinstance(v[1], list),
        "__npscalar__": isinstance(v, list) and len(v) == 2 and isinstance(v[1], (int, float)),
        "__dtype__": isinstance(v, str)}[tag]
    if not well_formed:
        raise ValueError(f"a stored {tag} value must be {_TAG_FORMS[tag]}, got {v!r:.80}")
    if tag == "__slot__":
        return _Slot(v)
    if tag == "__tuple__":
        return tuple(decode_value(x) for x in v)
    if tag == "__slice__":
        return slice(*(decode_value(x) for x in v))
    if tag == "__ellipsis__":
        return Ellipsis
    if tag == "__dtype__":
        return np.dtype(_safe_dtype(v))
    try:
        if tag == "__dict__":
            return {_hashable(decode_value(k)): decode_value(x) for k, x in v}
        if tag == "__ndarray__":
            dtype, shape, data = v
            return np.asarray(data, dtype=_safe_dtype(dtype)).reshape(shape)
        return np.dtype(_safe_dtype(v[0])).type(v[1])  # __npscalar__
    except (TypeError, ValueError, OverflowError) as err:
        raise ValueError(f"a stored {tag} value is malformed ({err}): {v!r:.80}") from None


def _hashable(k):
    return tuple(_hashable(x) for x in k) if isinstance(k, list) else k


def _safe_dtype(name):
    try:
        dt = np.dtype(str(name))
    except TypeError:
        raise ValueError(f"unknown dtype {name!r} in a model config") from None
    if dt.kind not in "biuf":
        raise ValueError(f"unsupported dtype {name!r} in a model config")
    return dt


def _plain(obj, where: str):
    """A layer config made JSON-able: tuples become lists, numpy scalars and arrays plain numbers."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (int, float)):
        return obj
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (list, tuple)):
        return [_plain(v, where) for v in obj]
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise ValueError(f"{where}: config key {k!r} is not a string")
            out[k] = _plain(v, f"{where}, entry '{k}'")
        return out
    if hasattr(obj, "get_config") and not isinstance(obj, type) and _is_irgraph(type(obj)):
        # a regularizer (or other irgraph object) kept as an object in a layer config
        return {"class_name": type(obj).__name__, "config": _plain(obj.get_config(), where)}
    raise ValueError(f"{where} is a {type(obj).__name__} ({obj!r:.80}), which cannot be saved as JSON; "
                     "get_config() must return plain values (numbers, strings, lists, dicts)")


def dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


# ================================================================================== registry
def _registry() -> dict:
    from . import layers as layers_mod
    from .layers.core import OpLayer
    from .models import Model, Sequential
    reg = {name: obj for name, obj in vars(layers_mod).items()
           if isinstance(obj, type) and issubclass(obj, Layer)}
    for cls in list(reg.values()):
        reg.setdefault(cls.__name__, cls)
    reg.update(Model=Model, Functional=Model, Sequential=Sequential, OpLayer=OpLayer)
    return reg


def _is_irgraph(cls) -> bool:
    return (cls.__module__ or "").split(".")[0] == "irgraph"


def _lookup_class(class_name: str, module, layer_name, custom_objects):
    custom_objects = custom_objects or {}
    what = f"layer '{layer_name}'" if layer_name else "a layer"
    if class_name in custom_objects:
        return custom_objects[class_name]
    if ">" in class_name:  # Keras 3's registered name 'package>Class' (its legacy .h5 writes it)
        class_name = class_name.rsplit(">", 1)[-1]
        if class_name in custom_objects:
            return custom_objects[class_name]
    from_elsewhere = module is not None and str(module).split(".")[0] not in ("irgraph", "keras")
    cls = None if from_elsewhere else _registry().get(class_name)
    if cls is None:
        where = f" (defined in module '{module}')" if from_elsewhere else ""
        raise ValueError(f"unknown layer class {class_name!r}{where} for {what}: it is not an irgraph "
                         f"layer; pass the class when loading: custom_objects={{{class_name!r}: "
                         f"{class_name}}}")
    return cls


# ================================================================================== shared objects
# A layer object that appears at several places of one config (a model used directly and inside
# TimeDistributed, one layer wrapped twice) is written in full each time with the same
# ``shared_object_id``, and rebuilt once: later occurrences reuse the first object.
_state = threading.local()


@contextlib.contextmanager
def _shared_scope():
    outer = getattr(_state, "objects", None)
    if outer is None:
        _state.objects = {}
    try:
        yield _state.objects
    finally:
        if outer is None:
            _state.objects = None


# ================================================================================== saving
def layer_spec(layer) -> dict:
    """``{'class_name', 'config'}`` (plus ``'module'`` for classes defined outside irgraph, and
    ``'shared_object_id'`` for a layer met more than once)."""
    with _shared_scope() as seen:
        spec = {"class_name": type(layer).__name__, "config": layer_config(layer)}
        if not _is_irgraph(type(layer)):
            spec["module"] = type(layer).__module__
        if id(layer) in seen:
            first = seen[id(layer)][1]
            next_id = 1 + sum("shared_object_id" in s for _, s in seen.values())
            sid = first.setdefault("shared_object_id", next_id)
            spec["shared_object_id"] = sid
        else:
            seen[id(layer)] = (layer, spec)  # the layer is kept alive so that ids stay unique
        return spec


def layer_config(layer) -> dict:
    from .layers.core import Lambda, OpLayer
    from .layers.recurrent import Bidirectional
    from .layers.wrappers import TimeDistributed
    from .models import Model
    where = f"layer '{layer.name}' ({type(layer).__name__})"
    if isinstance(layer, Model):
        return irgraph_model_config(layer)
    if isinstance(layer, OpLayer):
        return {"name": layer.name, "function": _backend_fn_name(layer.fn, where),
                "template": encode_value(layer.template, where)}
    _check_custom_config(layer)
    saved, _state.objects = _state.objects, {}  # what get_config serializes itself is discarded
    try:
        cfg = dict(layer.get_config())
    finally:
        _state.objects = saved
    if isinstance(layer, TimeDistributed):
        cfg["layer"] = layer_spec(layer.layer)
    elif isinstance(layer, Bidirectional):
        cfg["layer"] = layer_spec(layer.forward_layer)
        cfg["backward_layer"] = layer_spec(layer.backward_layer)
    elif isinstance(layer, Lambda):  # irgraph's files hold function names, never code
        cfg["function"] = _function_name(layer.function)
        cfg["arguments"] = encode_value(layer.arguments, f"{where}: arguments")
        if callable(layer._output_shape):
            cfg["output_shape"] = _named_function(layer._output_shape)
        if callable(layer.mask):
            cfg["mask"] = _named_function(layer.mask)
    return _plain(cfg, f"config of {where}")


def _check_custom_config(layer) -> None:
    """A layer class defined outside irgraph that keeps the base ``get_config`` while its
    ``__init__`` requires arguments of its own cannot be rebuilt from its config: refused when the
    config is written (Keras 3 raises NotImplementedError there too), naming the class and arguments."""
    cls = type(layer)
    if _is_irgraph(cls):
        return
    from .models import Model
    own = next((c for c in cls.__mro__ if "get_config" in vars(c)), None)
    if own is None or (_is_irgraph(own) and issubclass(cls, Model)) or not _is_irgraph(own):
        return
    if own is Layer and layer.__dict__.get("_auto_config") is not None:
        return  # Keras 3's auto-config: the plain __init__ arguments are in the base config
    try:
        params = inspect.signature(cls.__init__).parameters.values()
    except (TypeError, ValueError):
        return
    base = set(inspect.signature(own.__init__).parameters) if hasattr(own, "__init__") else set()
    needed = [p.name for p in list(params)[1:]
              if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in base
              and p.default is p.empty]
    if needed:
        raise NotImplementedError(
            f"Layer {cls.__name__} (layer '{layer.name}') was created by passing non-serializable argument "
            f"values in `__init__()` (its arguments {needed} are not all numbers, strings, None or lists "
            "and dicts of them), and therefore the object must override `get_config()` in order to be "
            "serializable: return them from "
            "get_config(), e.g. `return {**super().get_config(), " +
            ", ".join(f"'{n}': self.{n}" for n in needed) + "}`")


def _backend_fn_name(fn, where) -> str:
    from . import backend
    name = getattr(fn, "__name__", None)
    if name is None or getattr(backend, name, None) is not fn or not hasattr(fn, "__wrapped__"):
        raise ValueError(f"{where}: the op function {fn!r} is not an irgraph.backend function, so it "
                         "cannot be saved by name; wrap it in a Lambda layer")
    return name


def irgraph_model_config(model) -> dict:
    """irgraph's own form of a model's config (the one its ONNX files hold)."""
    with _shared_scope():
        return _model_config(model)


def _node_numbers(model) -> tuple[dict, dict]:
    """``(node id -> its index among its layer's calls in this model, layer id -> those nodes)``:
    the node numbers a config's references use."""
    if not getattr(model, "_nodes", None) and not getattr(model, "_inputs", None):
        raise ValueError(f"model '{model.name}' ({type(model).__name__}) has no functional graph "
                         "(inputs and outputs), so it has no config to save")
    node_index: dict[int, int] = {}
    per_layer: dict[int, list] = {}
    for node in model._nodes:
        lst = per_layer.setdefault(id(node.layer), [])
        node_index[id(node)] = len(lst)
        lst.append(node)
    return node_index, per_layer


def _model_config(model) -> dict:
    from .models import Sequential
    if isinstance(model, Sequential):
        return sequential_config(model)
    node_index, per_layer = _node_numbers(model)

    def ref(t):
        layer, idx, ti = t._keras_history
        node = layer._inbound_nodes[idx]
        if id(node) in node_index:
            return [layer.name, node_index[id(node)], ti]
        from .layers.input_layer import InputLayer
        if isinstance(layer, InputLayer):
            return [layer.name, 0, 0]
        raise ValueError(f"model '{model.name}': its input {t.name} is not the output of an Input; "
                         "only models whose inputs are Input() tensors can be saved")

    layers = []
    for layer in model._layers_list:
        nodes = [{"input_tensors": [ref(t) for t in n.input_tensors],
                  "template": encode_value(n.template, f"call of layer '{layer.name}'")}
                 for n in per_layer.get(id(layer), [])]
        spec = layer_spec(layer)
        spec["name"] = layer.name
        spec["inbound_nodes"] = nodes
        layers.append(spec)
    ins, in_tpl = flatten(model._input_struct, lambda o: isinstance(o, KerasTensor))
    outs, out_tpl = flatten(model._output_struct, lambda o: isinstance(o, KerasTensor))
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": [ref(t) for t in ins], "input_structure": encode_value(in_tpl),
            "output_layers": [ref(t) for t in outs], "output_structure": encode_value(out_tpl)}


def sequential_config(model) -> dict:
    specs = []
    if model._input_tensor is not None:
        specs.append(layer_spec(model._input_tensor._keras_history[0]))
    specs.extend(layer_spec(layer) for layer in model._stack)
    return {"name": model.name, "trainable": model.trainable, "layers": specs}


# ================================================================================== Keras 3 format: writing
# ``Model.get_config`` / ``to_json`` write Keras 3's format, which Keras 3's ``from_config`` and
# ``model_from_json`` read: each layer ``{'module', 'class_name', 'config', 'registered_name',
# 'build_config', 'name', 'inbound_nodes'}`` with calls as ``{'args': [...], 'kwargs': {...}}`` whose
# tensors are ``__keras_tensor__`` records, and ``input_layers``/``output_layers`` shaped like the
# model's inputs and outputs. Layers Keras 3 does not have (irgraph's op layers, Keras 1's Merge
# with a mode Keras 3 has no layer for) keep irgraph's module, so only irgraph reads them back.
# In ``input_layers``/``output_layers`` (not in calls) a nested functional model's calls are
# numbered from 1: Keras counts the call that created it.
KERAS3_LAYERS = frozenset(
    "Activation Add Average AveragePooling1D AveragePooling2D AveragePooling3D BatchNormalization "
    "Bidirectional Concatenate Conv1D Conv2D Conv2DTranspose Conv3D Cropping1D Cropping2D Cropping3D Dense "
    "DepthwiseConv2D Dot Dropout ELU Embedding Flatten GRU GlobalAveragePooling1D GlobalAveragePooling2D "
    "GlobalAveragePooling3D GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D InputLayer LSTM Lambda "
    "LayerNormalization LeakyReLU Masking MaxPooling1D MaxPooling2D MaxPooling3D Maximum Minimum Multiply "
    "PReLU Permute ReLU RepeatVector Reshape SeparableConv2D SimpleRNN Softmax SpatialDropout1D "
    "SpatialDropout2D SpatialDropout3D Subtract TimeDistributed UpSampling1D UpSampling2D UpSampling3D "
    "ZeroPadding1D ZeroPadding2D ZeroPadding3D".split())

# irgraph arguments Keras 3's constructors do not take (Keras 1/2 leftovers, irgraph extras)
_NOT_KERAS3_ARGS = {"Embedding": ("input_length",), "SpatialDropout1D": ("data_format", "noise_shape", "trainable"),
                    "SpatialDropout2D": ("noise_shape", "trainable"),
                    "SpatialDropout3D": ("noise_shape", "trainable")}
_MERGE_MODES = {"sum": "Add", "mul": "Multiply", "ave": "Average", "max": "Maximum", "min": "Minimum",
                "concat": "Concatenate", "dot": "Dot", "cos": "Dot"}
_OBJECT_MODULES = (("_initializer", "keras.initializers"), ("_regularizer", "keras.regularizers"),
                   ("_constraint", "keras.constraints"))


def _dtype_policy(name):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name}, "registered_name": None}


def _keras3_object(v, module):
    """``{'class_name', 'config'}`` (initializer, regularizer, constraint) as Keras 3 writes it."""
    if isinstance(v, dict) and "class_name" in v and "module" not in v:
        return {"module": module, "class_name": v["class_name"], "config": v.get("config") or {},
                "registered_name": None}
    return v


def _keras3_class_and_config(layer, cfg):
    """Keras 3's class name and constructor arguments for an irgraph layer's config."""
    name = type(layer).__name__
    if name == "Merge" and _MERGE_MODES.get(cfg.get("mode")):  # Keras 1's Merge(mode=...)
        mode = cfg["mode"]
        base = {k: cfg[k] for k in ("name", "trainable", "dtype") if k in cfg}
        if mode == "concat":
            return "Concatenate", {**base, "axis": cfg.get("concat_axis", -1)}
        if mode in ("dot", "cos"):
            return "Dot", {**base, "axes": cfg.get("dot_axes", -1), "normalize": mode == "cos"}
        return _MERGE_MODES[mode], base
    cfg = {k: v for k, v in cfg.items() if k not in _NOT_KERAS3_ARGS.get(name, ()) and k != "batch_input_shape"}
    for key, value in list(cfg.items()):
        for suffix, module in _OBJECT_MODULES:
            if key.endswith(suffix):
                cfg[key] = _keras3_object(value, module)
    if isinstance(cfg.get("dtype"), str):
        cfg["dtype"] = _dtype_policy(cfg["dtype"])
    return name, cfg


def _keras3_module(layer, class_name) -> tuple:
    """``(module, registered_name)`` of a layer's class as Keras 3 writes them."""
    cls = type(layer)
    if not _is_irgraph(cls):
        return cls.__module__, cls.__name__
    if class_name in KERAS3_LAYERS:
        return "keras.layers", None
    return cls.__module__, class_name


def keras3_layer_spec(layer) -> dict:
    """One layer (or model) as Keras 3 serializes it (without name and inbound nodes)."""
    from .layers.core import OpLayer
    from .layers.input_layer import InputLayer
    from .layers.recurrent import Bidirectional
    from .layers.wrappers import Wrapper
    from .models import Model
    where = f"layer '{layer.name}' ({type(layer).__name__})"
    if isinstance(layer, Model):
        return _keras3_model_spec(layer)
    if isinstance(layer, OpLayer):
        return {"module": "irgraph.layers.core", "class_name": "OpLayer", "registered_name": "OpLayer",
                "config": {"name": layer.name, "function": _backend_fn_name(layer.fn, where),
                           "template": encode_value(layer.template, where)}}
    _check_custom_config(layer)
    cfg = dict(layer.get_config())
    if isinstance(layer, Wrapper):
        cfg["layer"] = keras3_layer_spec(layer.layer)
    elif isinstance(layer, Bidirectional):
        cfg["layer"] = keras3_layer_spec(layer.forward_layer)
        cfg["backward_layer"] = keras3_layer_spec(layer.backward_layer)
    if isinstance(layer, InputLayer):
        class_name = "InputLayer"
        cfg = {"sparse": False, "ragged": False, "optional": False, **cfg}
    else:
        class_name, cfg = _keras3_class_and_config(layer, cfg)
    module, registered = _keras3_module(layer, class_name)
    return {"module": module, "class_name": class_name, "config": _plain(cfg, f"config of {where}"),
            "registered_name": registered}


def _keras3_model_spec(model) -> dict:
    from .models import Model, Sequential
    cls = type(model)
    if cls is Sequential:
        module, class_name, registered = "keras", "Sequential", None
    elif cls is Model:
        module, class_name, registered = "keras.src.models.functional", "Functional", "Functional"
    else:
        module, class_name, registered = cls.__module__, cls.__name__, cls.__name__
    spec = {"module": module, "class_name": class_name, "config": model.get_config(),
            "registered_name": registered}
    if not isinstance(model, Sequential) and model.built and not model._awaiting_build():
        spec["build_config"] = {"input_shape": None}
    return spec


def _is_functional(layer) -> bool:
    from .models import Model, Sequential
    return isinstance(layer, Model) and not isinstance(layer, Sequential)


def _keras3_json(v):
    """Call arguments as plain JSON (tuples as lists; Keras writes them so)."""
    if isinstance(v, (list, tuple)):
        return [_keras3_json(x) for x in v]
    if isinstance(v, dict):
        return {k: _keras3_json(x) for k, x in v.items()}
    return encode_value(v, "a call argument")


def keras3_functional_config(model) -> dict:
    """A functional model's config in Keras 3's format."""
    from .layers.input_layer import InputLayer
    node_index, per_layer = _node_numbers(model)

    def ref(t, io=False):
        layer, idx, ti = t._keras_history
        node = layer._inbound_nodes[idx]
        if id(node) in node_index:
            return [layer.name, node_index[id(node)] + (1 if io and _is_functional(layer) else 0), ti]
        if isinstance(layer, InputLayer):
            return [layer.name, 0, 0]
        raise ValueError(f"model '{model.name}': its input {t.name} is not the output of an Input; "
                         "only models whose inputs are Input() tensors can be saved")

    def tensor(t):
        return {"class_name": KERAS_TENSOR, "config": {"shape": list(t.shape), "dtype": str(t.dtype),
                                                         "keras_history": ref(t)}}

    layers = []
    for layer in model._layers_list:
        spec = keras3_layer_spec(layer)
        nodes = []
        for n in per_layer.get(id(layer), []):
            inputs, args, kwargs = rebuild(n.template, [tensor(t) for t in n.input_tensors])
            nodes.append({"args": _keras3_json([inputs, *args]), "kwargs": _keras3_json(kwargs)})
        first = per_layer.get(id(layer))
        if first and "build_config" not in spec:
            shapes = rebuild(first[0].template, [list(t.shape) for t in first[0].input_tensors])[0]
            spec["build_config"] = {"input_shape": _keras3_json(shapes)}
        spec["name"] = layer.name
        spec["inbound_nodes"] = nodes
        layers.append(spec)

    def structure(struct):
        # tuples stay tuples in the config (Keras's get_config keeps them; JSON makes them lists)
        leaves, tpl = flatten(struct, lambda o: isinstance(o, KerasTensor))
        return rebuild(tpl, [ref(t, io=True) for t in leaves])

    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": structure(model._input_struct), "output_layers": structure(model._output_struct)}


def keras3_sequential_config(model) -> dict:
    specs = []
    if model._input_tensor is not None:
        specs.append(keras3_layer_spec(model._input_tensor._keras_history[0]))
    specs.extend(keras3_layer_spec(layer) for layer in model._stack)
    return {"name": model.name, "trainable": model.trainable, "dtype": _dtype_policy(model.dtype), "layers": specs}


def model_config(model) -> dict:
    """``Model.get_config``: Keras 3's config of a model. A Sequential lists its layers; a
    functional model (or a subclass whose ``__init__`` takes the functional arguments) its layers and
    calls; any other subclass of Model gives ``{'name', 'trainable', 'dtype'}`` plus, when it does not
    override get_config, its plain ``__init__`` arguments (Keras 3's rule), so that
    ``cls(**config)`` rebuilds it."""
    from .models import Sequential
    if isinstance(model, Sequential):
        return keras3_sequential_config(model)
    if _functional_like(type(model)) and not _has_own_call(type(model)):
        return keras3_functional_config(model)
    cfg = {"name": model.name, "trainable": model.trainable, "dtype": _dtype_policy(model.dtype)}
    auto = model.__dict__.get("_auto_config")
    if auto is not None and not _overrides_get_config(type(model)):
        cfg.update(auto)
    return cfg


def _has_own_call(cls) -> bool:
    from .models import Model, Sequential
    return not issubclass(cls, Sequential) and cls.call is not Model.call


def _overrides_get_config(cls) -> bool:
    from .models import Model
    return next(c for c in cls.__mro__ if "get_config" in vars(c)) is not Model


def _functional_like(cls) -> bool:
    """Keras 3's ``functional_like_constructor``: ``__init__`` takes Functional's arguments, or
    ``*args`` and ``**kwargs``."""
    from .models import Model, Sequential
    if cls is Model or issubclass(cls, Sequential):
        return True
    spec = inspect.getfullargspec(cls.__init__)
    if spec.args[1:] in (["inputs", "outputs", "name"], inspect.getfullargspec(Model.__init__).args[1:]):
        return True
    return spec.varargs is not None and spec.varkw is not None


# ================================================================================== checking
# A stored config is checked before anything is built (load_model): every field that rebuilding
# reads has the JSON type it needs, and an error names the field by its path in the JSON, as
# ``config.layers[3].config.units``. irgraph's own layers also get their numeric, list and flag
# arguments checked by name (a custom layer's arguments are its own business).
_INT_ARGS = frozenset({"units", "filters", "input_dim", "output_dim", "n", "depth_multiplier", "groups",
                       "input_length", "batch_size"})
_INTS_ARGS = frozenset({"kernel_size", "strides", "pool_size", "dilation_rate", "size", "cropping", "axis",
                        "axes"})
_SHAPE_ARGS = frozenset({"shape", "batch_shape", "batch_input_shape", "input_shape", "noise_shape",
                         "target_shape", "dims"})
_NUMBER_ARGS = frozenset({"rate", "momentum", "epsilon", "dropout", "recurrent_dropout"})
_BOOL_ARGS = frozenset({"use_bias", "center", "scale", "return_sequences", "return_state", "go_backwards",
                        "stateful", "unroll", "mask_zero", "keepdims", "reset_after", "unit_forget_bias",
                        "trainable"})
_WRAPPERS = ("TimeDistributed", "Bidirectional")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_ints(v) -> bool:
    """A whole number, None, or (nested) lists of them."""
    return v is None or _is_int(v) or (isinstance(v, list) and all(_is_ints(x) for x in v))


def _is_ref(r) -> bool:
    return (isinstance(r, list) and len(r) == 3 and isinstance(r[0], str) and _is_int(r[1])
            and _is_int(r[2]) and r[1] >= 0 and r[2] >= 0)


def _need(ok: bool, where: str, what: str, value) -> None:
    if not ok:
        raise ValueError(f"{where} must be {what}, got {json.dumps(value)[:100]}")


def _check_value(value, where: str) -> None:
    """A stored call template or argument value decodes (`decode_value`)."""
    try:
        decode_value(value)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None


def check_layer_spec(spec, custom_objects=None) -> None:
    """Check a stored ``{'class_name', 'config'}`` (a model's, with its layers) before rebuilding it;
    a ValueError names the first malformed field. Iterative, so deep nesting cannot exhaust the
    stack; the JSON itself is depth-limited when read (saving.py)."""
    custom_objects = custom_objects or {}
    stack = [(spec, "")]
    while stack:
        spec, at = stack.pop()
        field = (lambda key: f"{at}.{key}" if at else key)  # noqa: E731 (binds this spec's path)
        _need(isinstance(spec, dict), at or "the model config", "an object {'class_name', 'config'}", spec)
        cls_name = spec.get("class_name")
        _need(isinstance(cls_name, str), field("class_name"), "a class name", cls_name)
        cfg = spec.get("config")
        _need(isinstance(cfg, dict) or cfg is None, field("config"), "an object", cfg)
        cfg = cfg or {}
        for key, ok, what in (("module", lambda v: v is None or isinstance(v, str), "a module name"),
                              ("name", lambda v: v is None or isinstance(v, str), "a string"),
                              ("shared_object_id", _is_int, "a whole number")):
            if key in spec:
                _need(ok(spec[key]), field(key), what, spec[key])
        nodes = spec.get("inbound_nodes", [])
        _need(isinstance(nodes, list), field("inbound_nodes"), "a list", nodes)
        for i, node in enumerate(nodes):
            where = field(f"inbound_nodes[{i}]")
            _need(isinstance(node, dict), where, "an object {'input_tensors', 'template'}", node)
            refs = node.get("input_tensors")
            _need(isinstance(refs, list) and all(map(_is_ref, refs)), f"{where}.input_tensors",
                  "a list of [layer name, node index, tensor index]", refs)
            _check_value(node.get("template"), f"{where}.template")
        sub = lambda key: f"{field('config')}.{key}"  # noqa: E731
        if cls_name in ("Model", "Functional", "Sequential") or "input_layers" in cfg:  # a model
            _need(isinstance(cfg["layers"], list), sub("layers"), "a list of layers", cfg["layers"])
            stack.extend((s, sub(f"layers[{i}]")) for i, s in reversed(list(enumerate(cfg["layers"]))))
            for key in ("input_layers", "output_layers"):
                if key in cfg:
                    _need(isinstance(cfg[key], list) and all(map(_is_ref, cfg[key])), sub(key),
                          "a list of [layer name, node index, tensor index]", cfg[key])
            for key in ("input_structure", "output_structure"):
                _check_value(cfg.get(key), sub(key))
        module = spec.get("module")
        if cls_name in custom_objects or (module is not None and module.split(".")[0] != "irgraph"):
            continue  # a custom class: its config is its own
        if cls_name in _WRAPPERS:
            _need(isinstance(cfg.get("layer"), dict), sub("layer"), "a layer {'class_name', 'config'}",
                  cfg.get("layer"))
            stack.append((cfg["layer"], sub("layer")))
            if cfg.get("backward_layer") is not None:
                stack.append((cfg["backward_layer"], sub("backward_layer")))
        if cls_name in ("Lambda", "OpLayer"):
            _need(isinstance(cfg.get("function"), str), sub("function"), "a function name", cfg.get("function"))
            _check_value(cfg.get("template" if cls_name == "OpLayer" else "arguments"),
                         sub("template" if cls_name == "OpLayer" else "arguments"))
        for key, value in cfg.items():
            if key in _INT_ARGS:
                _need(value is None or _is_int(value), sub(key), "a whole number", value)
            elif key in _INTS_ARGS:
                _need(_is_ints(value), sub(key), "a whole number or a list of them", value)
            elif key in _SHAPE_ARGS:
                _need(value is None or (isinstance(value, list) and _is_ints(value)), sub(key),
                      "a list of whole numbers (or nulls)", value)
            elif key in _NUMBER_ARGS:
                _need(value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)),
                      sub(key), "a number", value)
            elif key in _BOOL_ARGS:
                _need(isinstance(value, bool), sub(key), "true or false", value)
            elif key == "name":
                _need(value is None or isinstance(value, str), sub(key), "a string", value)


def _is_identifier(v) -> bool:
    """A stored loss or metric: None, a name, or {'class_name', 'config'}."""
    return v is None or isinstance(v, str) or (
        isinstance(v, dict) and isinstance(v.get("class_name"), str)
        and isinstance(v.get("config", {}), (dict, type(None))))


def check_compile_config(cfg) -> None:
    """Check a stored compile config (`compile_config`) before `compile_kwargs` reads it."""
    _need(isinstance(cfg, dict), "the compile config", "an object", cfg)
    opt = cfg.get("optimizer")
    _need(isinstance(opt, str) or (isinstance(opt, dict) and isinstance(opt.get("class_name"), str)
                                   and isinstance(opt.get("config", {}), dict)),
          "optimizer", "an optimizer name or {'class_name', 'config'}", opt)
    loss = cfg.get("loss")
    _need(isinstance(loss, dict), "loss", "an object {output name: loss}", loss)
    for name, ident in loss.items():
        _need(_is_identifier(ident), f"loss.{name}", "a loss name or {'class_name', 'config'}", ident)
    weights = cfg.get("loss_weights")
    numbers = list(weights.values()) if isinstance(weights, dict) else weights
    _need(weights is None or (isinstance(numbers, list) and all(
        isinstance(w, (int, float)) and not isinstance(w, bool) for w in numbers)),
        "loss_weights", "null, a list of numbers or an object {output name: number}", weights)
    for key in ("metrics", "weighted_metrics"):
        value = cfg.get(key)
        _need(value is None or isinstance(value, dict), key, "an object {output name: [metrics]}", value)
        for name, ms in (value or {}).items():
            _need(isinstance(ms, list) and all(map(_is_identifier, ms)), f"{key}.{name}",
                  "a list of metric names or {'class_name', 'config'}", ms)


# ================================================================================== loading
def deserialize_layer(spec: dict, custom_objects=None):
    """A layer (or model) from ``{'class_name', 'config'}``."""
    with _shared_scope() as made:
        sid = spec.get("shared_object_id") if isinstance(spec, dict) else None
        if sid is not None and ("load", sid) in made:
            return made[("load", sid)]
        layer = _deserialize_layer(spec, custom_objects)
        if sid is not None:
            made[("load", sid)] = layer
        return layer


def _deserialize_layer(spec: dict, custom_objects=None):
    from .layers.core import Lambda, OpLayer
    from .layers.recurrent import Bidirectional
    from .layers.wrappers import TimeDistributed
    from .models import Model
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise ValueError(f"a layer entry of the config is not {{'class_name', 'config'}}: {spec!r:.200}")
    class_name = spec["class_name"]
    cfg = dict(spec.get("config") or {})
    name = cfg.get("name", spec.get("name"))
    cls = _lookup_class(class_name, spec.get("module"), name, custom_objects)
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise ValueError(f"custom_objects[{class_name!r}] for layer '{name}' is not a Layer class")
    try:
        if issubclass(cls, Model):
            return cls.from_config(cfg, custom_objects=custom_objects)
        if issubclass(cls, OpLayer):
            from . import backend
            fn_name = str(cfg["function"])
            fn = None if fn_name.startswith("_") else getattr(backend, fn_name, None)
            if not callable(fn) or not hasattr(fn, "__wrapped__"):  # only @symbolic backend ops
                raise ValueError(f"op layer '{name}' uses unknown backend function {cfg['function']!r}")
            template = decode_value(cfg["template"])
            _charge_sizes(fn, fn_name, template, name)
            return cls(fn, template, name=name)
        if issubclass(cls, TimeDistributed):
            cfg["layer"] = deserialize_layer(cfg["layer"], custom_objects)
            inner = cfg.pop("layer")
            return cls(inner, **cfg)
        if issubclass(cls, Bidirectional):
            fw = _renamed(cfg.pop("layer"), "forward_")
            bw = cfg.pop("backward_layer", None)
            return cls(deserialize_layer(fw, custom_objects),
                       backward_layer=None if bw is None else deserialize_layer(bw, custom_objects), **cfg)
        if issubclass(cls, Lambda):
            return cls.from_config(cfg, custom_objects=custom_objects)
        return cls.from_config(_with_custom_functions(cfg, custom_objects))
    except (TypeError, KeyError, IndexError, AttributeError) as err:
        raise ValueError(f"cannot rebuild layer '{name}' ({class_name}) from its config: "
                         f"{type(err).__name__}: {err}" + (
                             "; a custom layer needs a get_config() returning its constructor "
                             "arguments" if not _is_irgraph(cls) else "")) from None


_SIZE_ARGS = {"one_hot": "num_classes"}  # backend ops that build an array of that many values


def _charge_sizes(fn, fn_name, template, layer_name) -> None:
    """An op layer's size argument counts like a weight while load_model rebuilds a model
    (`saving.charge_allocation`): ``one_hot(x, 10**10)`` is refused before its class vector exists."""
    arg = _SIZE_ARGS.get(fn_name)
    if arg is None:
        return
    try:
        args, kwargs = template
        n = inspect.signature(fn).bind(*args, **kwargs).arguments.get(arg)
    except (TypeError, ValueError):
        return  # calling the op reports it
    if isinstance(n, int) and not isinstance(n, bool):
        charge_allocation(layer_name, f"the '{arg}' vector of {fn_name}", n, kept=False)


_FUNCTION_KEYS = ("activation", "_initializer", "_regularizer", "_constraint")


def _with_custom_functions(cfg, custom_objects):
    """Activations, initializers, regularizers and constraints saved by the name of a custom
    function come back as that function from ``custom_objects``."""
    if not custom_objects:
        return cfg
    out = dict(cfg)
    for k, v in cfg.items():
        if k.endswith(_FUNCTION_KEYS) and isinstance(v, str) and v in custom_objects:
            out[k] = custom_objects[v]
    return out


def _py(name) -> str:
    """How the object would be spelled in the user's code, for error messages."""
    return str(name) if str(name).isidentifier() else "fn"


def _renamed(spec, prefix):
    spec = dict(spec)
    cfg = dict(spec.get("config") or {})
    name = cfg.get("name") or ""
    cfg["name"] = name[len(prefix):] if name.startswith(prefix) and len(name) > len(prefix) else None
    spec["config"] = cfg
    return spec


# ================================================================================== Lambda
# A Lambda's function (and a mask or output_shape function) is written by name -- Keras 3's
# ``{'class_name': 'function', 'config': name}`` -- or, for a ``lambda``, as Keras 3's
# ``__lambda__`` record of its code so that Keras can load it (``safe_mode=False``). Reading never
# runs stored code: every function comes from ``custom_objects``, by its name or the layer's.
def _function_name(fn) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


def _named_function(fn) -> dict:
    return {"module": "builtins", "class_name": "function", "config": _function_name(fn),
            "registered_name": "function"}


def function_config(fn) -> dict:
    name = _function_name(fn)
    if name == "<lambda>" and isinstance(fn, types.FunctionType):
        closure = [c.cell_contents for c in fn.__closure__] if fn.__closure__ else None
        defaults = list(fn.__defaults__) if fn.__defaults__ else None
        if _is_json_plain(closure) and _is_json_plain(defaults):
            code = codecs.encode(marshal.dumps(fn.__code__), "base64").decode("ascii")
            return {"class_name": "__lambda__", "config": {"code": code, "defaults": defaults, "closure": closure}}
    return _named_function(fn)


def _is_json_plain(v) -> bool:
    if v is None or isinstance(v, (bool, int, float, str)):
        return True
    if isinstance(v, (list, tuple)):
        return all(map(_is_json_plain, v))
    return isinstance(v, dict) and all(isinstance(k, str) and _is_json_plain(x) for k, x in v.items())


def lambda_mask_config(mask, where):
    """A Lambda's ``mask`` in Keras 3's forms: a function record, or ``__numpy__`` values."""
    from .tensor import KerasTensor
    if isinstance(mask, KerasTensor):
        raise ValueError(f"{where}: its mask is another layer's tensor, which a saved config cannot hold; "
                         "compute it in a mask function instead: Lambda(..., mask=lambda inputs, mask: ...)")
    if callable(mask):
        return function_config(mask)
    a = np.asarray(mask)
    return {"class_name": "__numpy__", "config": {"value": a.tolist(), "dtype": a.dtype.name}}


def _stored_function_name(spec):
    """``(name, is_stored_code)`` of a stored function: a name, Keras 3's function record, a
    ``__lambda__`` code record (never decoded) or irgraph's older ``{'function': name}``."""
    if isinstance(spec, str):
        return spec, False
    if isinstance(spec, dict):
        if spec.get("class_name") == "function" and isinstance(spec.get("config"), str):
            return spec["config"], False
        if spec.get("class_name") == "__lambda__" or spec.get("stored_code"):
            return None, True
        if isinstance(spec.get("function"), str):
            return spec["function"], False
    return None, False


_CODE_REFUSED = ("which irgraph never runs: running code stored in a config carries a risk of arbitrary "
                 "code execution (irgraph refuses it even with safe_mode=False)")


def _custom_function(spec, what, layer_name, custom_objects, key_suffix=""):
    """The function a stored Lambda entry names, from ``custom_objects``; a ValueError naming the
    layer and the key to pass when it is not there."""
    custom_objects = custom_objects or {}
    name, stored_code = _stored_function_name(spec)
    keys = ([name] if name else []) + ([f"{layer_name}{key_suffix}"] if isinstance(layer_name, str) else [])
    for key in keys:
        if callable(custom_objects.get(key)):
            return custom_objects[key]
    if stored_code:
        raise ValueError(f"Lambda layer '{layer_name}' holds the stored Python code of an anonymous {what}, "
                         f"{_CODE_REFUSED}; pass the function when loading, keyed by the layer name: "
                         f"custom_objects={{{layer_name + key_suffix!r}: fn}}")
    if name is None:
        raise ValueError(f"Lambda layer '{layer_name}': its stored {what} {spec!r:.80} is not a function name")
    raise ValueError(f"Lambda layer '{layer_name}' calls the {what} {name!r}, which is not in custom_objects: "
                     f"irgraph never loads code from a file, so pass the function when loading: "
                     f"custom_objects={{{name!r}: {_py(name)}}} (or keyed by the layer name {layer_name!r})")


def _stored_shape(v):
    if isinstance(v, list) and all(x is None or _is_int(x) for x in v):
        return tuple(v)
    if isinstance(v, list) and v and all(isinstance(x, (list, tuple)) for x in v):
        return [tuple(x) for x in v]
    return v


def lambda_kwargs(config, custom_objects=None, safe_mode=None) -> dict:
    """The constructor arguments of a Lambda from its config (Keras 3's forms, irgraph's older
    ones, Keras 2's names). ``safe_mode`` changes nothing: stored code is never run."""
    cfg = dict(config)
    name = cfg.get("name")
    if isinstance(cfg.get("dtype"), dict):  # Keras 3's DTypePolicy record
        cfg["dtype"] = _keras3_value(cfg["dtype"])
    cfg["function"] = _custom_function(cfg.get("function"), "function", name, custom_objects)
    shape = cfg.get("output_shape")
    if isinstance(shape, (str, dict)):  # a function: used when given, else the traced shape answers
        try:
            cfg["output_shape"] = _custom_function(shape, "output_shape function", name, custom_objects,
                                                   ".output_shape")
        except ValueError:
            cfg["output_shape"] = None
    elif shape is not None:
        cfg["output_shape"] = _stored_shape(shape)
    mask = cfg.get("mask")
    if isinstance(mask, dict) and mask.get("class_name") == "__numpy__":
        inner = mask.get("config") or {}
        cfg["mask"] = np.asarray(inner.get("value"), dtype=_safe_dtype(inner.get("dtype", "bool")))
    elif isinstance(mask, dict) and isinstance(mask.get("value"), list):  # irgraph's older form
        cfg["mask"] = np.asarray(mask["value"], dtype=bool)
    elif mask is not None:
        cfg["mask"] = _custom_function(mask, "mask function", name, custom_objects, ".mask")
    cfg["arguments"] = decode_value(cfg.get("arguments") or {})
    return cfg


def model_from_config(cls, config, custom_objects=None):
    with _shared_scope():
        return _model_from_config(cls, config, custom_objects)


_FUNCTIONAL_KEYS = ("name", "layers", "input_layers", "output_layers")


def _model_from_config(cls, config, custom_objects=None):
    from .models import Model, Sequential
    if cls is not Model and not issubclass(cls, Sequential) and not (
            isinstance(config, dict) and all(k in config for k in _FUNCTIONAL_KEYS) and _functional_like(cls)):
        return _revive_subclass(cls, config)
    if is_keras3_config(config):
        config = keras3_to_irgraph(config)
    elif _has_keras2_nodes(config):  # Keras 1/2's inbound nodes: [[layer, node, tensor, kwargs], ...]
        from .keras_files import keras2_to_irgraph
        config = keras2_to_irgraph(config)
    if issubclass(cls, Sequential):
        return _sequential_from_config(cls, config, custom_objects)
    if isinstance(config, list) or (isinstance(config, dict) and "layers" in config
                                    and "input_layers" not in config):  # a Sequential config
        return _sequential_from_config(Sequential, config, custom_objects)
    if not isinstance(config, dict) or "layers" not in config:
        raise ValueError(f"{cls.__name__}.from_config needs a functional config with 'layers', "
                         f"'input_layers' and 'output_layers'; got {str(config)[:200]}")
    created: dict[str, Layer] = {}
    order: list[str] = []
    pending: dict[str, list] = {}
    tensors: dict[tuple, KerasTensor] = {}
    counts: dict[str, int] = {}
    for spec in config["layers"]:
        layer = deserialize_layer(spec, custom_objects)
        name = spec.get("name", layer.name)
        created[name], pending[name], counts[name] = layer, list(spec.get("inbound_nodes") or []), 0
        order.append(name)
        from .layers.input_layer import InputLayer
        if isinstance(layer, InputLayer):
            tensors[(name, 0, 0)] = layer._inbound_nodes[0].output_tensors[0]
    while any(pending.values()):
        progress = False
        for name in order:
            queue = pending[name]
            while queue and all(tuple(r) in tensors for r in queue[0]["input_tensors"]):
                node = queue.pop(0)
                _call_node(created[name], name, node, counts[name], tensors)
                counts[name] += 1
                progress = True
        if not progress:
            stuck = [(n, [r for r in pending[n][0]["input_tensors"] if tuple(r) not in tensors])
                     for n in order if pending[n]]
            absent = [r[0] for _, refs in stuck for r in refs if r[0] not in created]
            why = f"Missing node: {absent[0]} (no layer of that name)" if absent else \
                "its layers call each other in a loop"
            raise ValueError(f"model config '{config.get('name')}' is inconsistent: layer "
                             f"'{stuck[0][0]}' needs tensors {stuck[0][1]} that no layer produces; {why}")

    def struct(refs_key, tpl_key):
        refs = []
        for r in config[refs_key]:
            if tuple(r) not in tensors:
                raise ValueError(f"model config '{config.get('name')}': {refs_key} names tensor {r}, "
                                 "which no layer produces")
            refs.append(tensors[tuple(r)])
        tpl = decode_value(config[tpl_key]) if tpl_key in config else (
            _Slot(0) if len(refs) == 1 else [_Slot(i) for i in range(len(refs))])
        try:
            return rebuild(tpl, refs)
        except IndexError:
            raise ValueError(f"model config '{config.get('name')}': {tpl_key} refers to more tensors than "
                             f"the {len(refs)} of {refs_key}") from None

    inputs, outputs = struct("input_layers", "input_structure"), struct("output_layers", "output_structure")
    return cls(inputs=inputs, outputs=outputs, name=config.get("name"),
               trainable=config.get("trainable", True))


def _revive_subclass(cls, config):
    """Keras 3's rule for a Model subclass whose config is not a functional graph it can take:
    ``cls(**config)``."""
    config = {k: (_keras3_value(v) if k == "dtype" else v) for k, v in dict(config).items()}
    try:
        return cls(**config)
    except TypeError as err:
        raise TypeError(f"Unable to revive model from config. When overriding the `get_config()` method, make "
                        f"sure that the returned config contains all items used as arguments in the constructor "
                        f"to {cls.__name__}, which is the default behavior. You can override this default "
                        f"behavior by defining a `from_config(cls, config)` class method to specify how to create "
                        f"an instance of {cls.__name__} from its config. Received config={config!r:.200}. Error "
                        f"encountered during deserialization: {err}") from None


def _call_node(layer, name, node, index, tensors):
    ins = [tensors[tuple(r)] for r in node["input_tensors"]]
    default = {"__tuple__": [_slots_list(len(ins)), {"__tuple__": []}, {}]}  # (inputs, (), {})
    template = decode_value(node.get("template", default))
    try:
        inputs, args, kwargs = rebuild(template, ins)
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"rebuilding the model: the call template of layer '{name}' does not fit its "
                         f"{len(ins)} input tensors: {node.get('template')!r:.120}") from None
    try:
        layer(inputs, *args, **kwargs)
    except ModelFileError:  # a weight larger than the file holds (saving.charge_weight)
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as err:
        raise ValueError(f"rebuilding the model: calling layer '{name}' failed: {err}") from None
    new = layer._inbound_nodes[-1]
    for i, t in enumerate(new.output_tensors):
        tensors[(name, index, i)] = t


def _slots_list(n):
    return {"__slot__": 0} if n == 1 else [{"__slot__": i} for i in range(n)]


def _sequential_from_config(cls, config, custom_objects):
    if isinstance(config, list):  # Keras 2.0-2.2: the layer list itself
        config = {"layers": config}
    model = cls(name=config.get("name"), trainable=config.get("trainable", True))
    for spec in config.get("layers", []):
        model.add(deserialize_layer(spec, custom_objects))
    return model


# ================================================================================== compile
def _identifier(obj, what: str):
    """A loss or metric identifier as JSON: a name, or ``{'class_name', 'config'}`` for objects."""
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, type):
        return obj.__name__
    if hasattr(obj, "get_config") and not isinstance(obj, type):
        from .losses import LossFunctionWrapper
        if type(obj) is LossFunctionWrapper:
            fn = obj.fn
            return getattr(fn, "__name__", None) or _unsavable(obj, what)
        return {"class_name": type(obj).__name__, "config": _plain(obj.get_config(), what)}
    if callable(obj):
        return getattr(obj, "__name__", None) or _unsavable(obj, what)
    return _unsavable(obj, what)


def _unsavable(obj, what):
    raise ValueError(f"{what} {obj!r:.80} cannot be saved: give a name, a function or an object with "
                     "get_config()")


def compile_config(compiled) -> dict:
    from . import optimizers
    names = compiled.output_names
    opt = optimizers.serialize(compiled.optimizer)
    lr = opt["config"].get("learning_rate")
    if callable(compiled.optimizer.learning_rate) and not isinstance(lr, dict):
        raise ValueError("the optimizer's learning rate is a plain function, which cannot be saved; use a "
                         "LearningRateSchedule (or save with include_optimizer=False)")
    return {
        "optimizer": _plain(opt, "optimizer config"),
        "loss": {n: _identifier(i, f"loss of output '{n}'") for n, i in zip(names, compiled.loss_ids)},
        "loss_weights": dict(zip(names, compiled.loss_weights)),
        "metrics": {n: [_identifier(m, f"metric of output '{n}'") for m in ms]
                    for n, ms in zip(names, compiled.metric_ids)},
        "weighted_metrics": {n: [_identifier(m, f"weighted metric of output '{n}'") for m in ms]
                             for n, ms in zip(names, compiled.weighted_metric_ids)},
    }


def compile_kwargs(cfg: dict, custom_objects=None) -> dict:
    """The `compile` arguments for a stored compile config."""
    from . import losses, metrics, optimizers
    co = custom_objects or {}

    def resolve(ident, module, what, kind):
        if ident is None:
            return None
        if isinstance(ident, str):
            if ident in co:
                return co[ident]
            try:
                module.get(ident)
            except (ValueError, TypeError):
                raise ValueError(f"{what} {ident!r} is not a built-in {kind}: pass it when loading: "
                                 f"custom_objects={{{ident!r}: {_py(ident)}}}") from None
            return ident
        if isinstance(ident, dict):
            cname = ident.get("class_name")
            if cname in co:
                return co[cname].from_config(dict(ident.get("config") or {}))
            try:
                return module.get(ident)
            except (ValueError, TypeError):
                raise ValueError(f"{what}: unknown class {cname!r}; pass it when loading: "
                                 f"custom_objects={{{cname!r}: {cname}}}") from None
        raise ValueError(f"{what}: unreadable identifier {ident!r}")

    return {
        "optimizer": optimizers.deserialize(cfg["optimizer"], co),
        "loss": {n: resolve(i, losses, f"loss of output '{n}'", "loss") for n, i in cfg["loss"].items()},
        "loss_weights": cfg.get("loss_weights"),
        "metrics": {n: [resolve(m, metrics, f"metric of output '{n}'", "metric") for m in ms]
                    for n, ms in (cfg.get("metrics") or {}).items()},
        "weighted_metrics": {n: [resolve(m, metrics, f"weighted metric of output '{n}'", "metric")
                                 for m in ms]
                             for n, ms in (cfg.get("weighted_metrics") or {}).items()},
    }


# ================================================================================== Keras 3 format
# Keras 3 writes a functional config whose layers carry ``module``/``registered_name``/
# ``build_config`` and whose ``inbound_nodes`` are calls ``{"args": [...], "kwargs": {...}}`` with
# each tensor a ``{"class_name": "__keras_tensor__", "config": {"keras_history": [layer, node,
# index]}}``; ``input_layers``/``output_layers`` follow the structure of the model's inputs and
# outputs (one reference, a list, a dict). It is translated into irgraph's form (calls with tensor
# slots and a template) before anything is built.
KERAS_TENSOR = "__keras_tensor__"


def _has_keras2_nodes(config) -> bool:
    from .keras_files import is_keras2_node
    return isinstance(config, dict) and isinstance(config.get("layers"), list) and any(
        isinstance(spec, dict) and is_keras2_node(n) for spec in config["layers"] for n in spec.get("inbound_nodes") or [])


def is_keras3_config(config) -> bool:
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        return False
    for spec in config["layers"]:
        if not isinstance(spec, dict):
            continue
        if isinstance(spec.get("module"), str) and spec["module"].split(".")[0] == "keras":
            return True
        if any(isinstance(n, dict) and ("args" in n or "kwargs" in n) for n in spec.get("inbound_nodes") or []):
            return True
    return False


def _is_keras3_object(v) -> bool:
    return isinstance(v, dict) and "class_name" in v and "config" in v and (
        "module" in v or "registered_name" in v)


def _keras3_value(v, top: bool = False):
    """A Keras 3 config value in the form irgraph's constructors take: a DTypePolicy becomes its
    dtype name; a serialized object (initializer, regularizer, constraint) ``{'class_name',
    'config'}`` without Keras's bookkeeping and without arguments left at None."""
    if _is_keras3_object(v):
        if v["class_name"] in ("DTypePolicy", "FloatDTypePolicy") and isinstance(v["config"], dict):
            return v["config"].get("name")
        if is_keras3_config(v["config"]):
            return v  # a model (inside a wrapper): its from_config reads Keras 3's format
        cfg = v["config"]
        if isinstance(cfg, dict):
            cfg = {k: _keras3_value(x) for k, x in cfg.items() if x is not None}
        return {"class_name": v["class_name"], "config": cfg}
    if isinstance(v, dict):
        return {k: _keras3_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_keras3_value(x) for x in v]
    return v


# Keras 3 layer arguments irgraph has no use for when they hold their default
_KERAS3_DEFAULTS = {"quantization_config": None, "optional": False, "ragged": False, "sparse": False,
                    "lora_rank": None, "lora_alpha": None, "synchronized": False, "renorm": False,
                    "renorm_clipping": None, "renorm_momentum": 0.99}


def _tensor_slots(value, refs: list, where: str):
    """``value`` (call arguments of a Keras 3 config) with each ``__keras_tensor__`` record replaced
    by a slot; its ``[layer, node, index]`` reference is appended to ``refs``."""
    def walk(v):
        if isinstance(v, dict) and v.get("class_name") == KERAS_TENSOR:
            hist = (v.get("config") or {}).get("keras_history")
            if not (isinstance(hist, list) and len(hist) == 3):
                raise ValueError(f"{where}: a {KERAS_TENSOR} entry has no keras_history "
                                 f"[layer, node, index]: {v!r:.120}")
            refs.append(list(hist))
            return _Slot(len(refs) - 1)
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v
    return walk(value)


def _keras3_op_spec(spec: dict) -> dict:
    """A Keras 3 operation in a functional config (``keras.src.ops``: the ``not_equal``/``any`` a
    Masking layer's mask is computed with, ``x + y`` on symbolic tensors) as irgraph's op layer
    calling the backend function of the same name: the op's config gives its keyword arguments and
    its one call the positional ones."""
    name = spec.get("name") or (spec.get("config") or {}).get("name")
    fn_name = re.sub(r"(?<!^)(?=[A-Z])", "_", str(spec.get("class_name"))).lower()
    nodes = spec.get("inbound_nodes") or []
    if len(nodes) != 1 or not isinstance(nodes[0], dict):
        raise ValueError(f"operation '{name}' ({spec.get('class_name')}) of a Keras 3 config must be called "
                         f"once, got {len(nodes)} calls")
    refs: list = []
    args = _tensor_slots(list(nodes[0].get("args") or []), refs, f"operation '{name}'")
    kwargs = {**{k: v for k, v in (spec.get("config") or {}).items() if k != "name"},
              **_tensor_slots(dict(nodes[0].get("kwargs") or {}), refs, f"operation '{name}'")}
    call = ([_Slot(i) for i in range(len(refs))], (), {})
    return {"class_name": "OpLayer", "name": name,
            "config": {"name": name, "function": fn_name, "template": encode_value((args, kwargs))},
            "inbound_nodes": [{"input_tensors": refs, "template": encode_value(call)}]}


def _keras3_layer_spec(spec: dict) -> dict:
    if str(spec.get("module") or "").startswith("keras.src.ops."):
        return _keras3_op_spec(spec)
    out = {k: v for k, v in spec.items() if k not in ("module", "registered_name", "build_config", "inbound_nodes")}
    module = spec.get("module")
    if isinstance(module, str) and module.split(".")[0] != "keras":
        out["module"] = module  # a custom class: custom_objects must give it
    cfg = spec.get("config")
    if isinstance(cfg, dict):
        if spec.get("class_name") in ("Functional", "Model", "Sequential") and isinstance(cfg.get("layers"), list):
            cfg = keras3_to_irgraph(cfg)  # a model nested in a Keras 3 config is in Keras 3's form too
        else:
            cfg = {k: _keras3_value(v) for k, v in cfg.items()
                   if not (k in _KERAS3_DEFAULTS and v == _KERAS3_DEFAULTS[k])}
            for k in ("ragged", "sparse"):  # optional=True is kept: Input(optional=True) is supported
                if cfg.get(k):
                    raise ValueError(f"layer '{cfg.get('name')}' ({spec.get('class_name')}): {k}=True is "
                                     "not supported by irgraph")
        if spec.get("class_name") == "Lambda":
            cfg = _keras3_lambda(cfg)
        out["config"] = cfg
    out["inbound_nodes"] = [_keras3_node(n, spec.get("name") or (cfg or {}).get("name"))
                            for n in spec.get("inbound_nodes") or []]
    return out


def _keras3_lambda(cfg: dict) -> dict:
    """A Keras 3 Lambda's ``function`` (and ``mask``): a named function by its name (given back by
    custom_objects); a lambda's stored code is dropped, never decoded or run."""
    cfg = dict(cfg)
    for key in ("function", "mask"):
        v = cfg.get(key)
        if isinstance(v, dict) and v.get("class_name") == "function" and isinstance(v.get("config"), str):
            cfg[key] = v["config"] if key == "function" else {"function": v["config"]}
        elif isinstance(v, dict) and v.get("class_name") == "__lambda__":
            if key == "mask":
                raise ValueError(f"Lambda layer '{cfg.get('name')}' computes its mask with stored Python "
                                 "code, which irgraph never runs (safe_mode)")
            cfg[key] = {"stored_code": True}
    cfg.pop("output_shape", None) if cfg.get("output_shape") is None else None
    return cfg


def _keras3_node(node, layer_name) -> dict:
    if not isinstance(node, dict):
        raise ValueError(f"layer '{layer_name}': an inbound node of a Keras 3 config must be "
                         f"{{'args': [...], 'kwargs': {{...}}}}, got {node!r:.120}")
    refs: list = []
    args = _tensor_slots(list(node.get("args") or []), refs, f"layer '{layer_name}'")
    kwargs = _tensor_slots(dict(node.get("kwargs") or {}), refs, f"layer '{layer_name}'")
    if not args:
        raise ValueError(f"layer '{layer_name}': a call with no positional inputs in a Keras 3 config")
    template = (args[0], tuple(args[1:]), kwargs)
    return {"input_tensors": refs, "template": encode_value(template, f"call of layer '{layer_name}'")}


def _keras3_structure(v, where):
    """``input_layers``/``output_layers`` of Keras 3 (a reference, a list or a dict of them) as
    irgraph's flat reference list plus its structure template."""
    refs: list = []

    def is_ref(x):
        return isinstance(x, list) and len(x) == 3 and isinstance(x[0], str) and _is_int(x[1]) and _is_int(x[2])

    def walk(x):
        if is_ref(x):
            refs.append(list(x))
            return _Slot(len(refs) - 1)
        if isinstance(x, list):
            return [walk(y) for y in x]
        if isinstance(x, tuple):
            return tuple(walk(y) for y in x)
        if isinstance(x, dict):
            return {k: walk(y) for k, y in x.items()}
        raise ValueError(f"{where} of a Keras 3 config holds {x!r:.80}, not a [layer, node, index] reference")

    tpl = walk(v)
    return refs, encode_value(tpl, where)


def keras3_to_irgraph(config: dict) -> dict:
    """A Keras 3 functional config (the ``config`` of ``{'class_name': 'Functional', ...}``) in
    irgraph's config form."""
    out = {k: v for k, v in config.items() if k not in ("layers", "input_layers", "output_layers")}
    out["layers"] = [_keras3_layer_spec(s) for s in config["layers"]]
    if "input_layers" in config:
        out["input_layers"], out["input_structure"] = _keras3_structure(config["input_layers"], "input_layers")
    if "output_layers" in config:
        out["output_layers"], out["output_structure"] = _keras3_structure(config["output_layers"], "output_layers")
    _renumber_functional_calls(out)
    return out


def _renumber_functional_calls(config) -> None:
    """In ``input_layers``/``output_layers`` Keras 3 numbers the calls of a nested functional model
    from 1 (its node 0 is the call that created it); irgraph from 0. Such references (a model's
    layer, or an index one past the layer's calls) are shifted down by one, in place."""
    calls, functional = {}, set()
    for spec in config["layers"]:
        name = spec.get("name") or (spec.get("config") or {}).get("name")
        calls[name] = len(spec["inbound_nodes"])
        cfg = spec.get("config")
        if spec.get("class_name") in ("Functional", "Model") or (isinstance(cfg, dict) and "input_layers" in cfg):
            functional.add(name)
    for r in (config.get("input_layers") or []) + (config.get("output_layers") or []):
        if r[1] >= 1 and (r[0] in functional or r[1] == calls.get(r[0])):
            r[1] -= 1


def _unwrap_model_json(obj) -> tuple[str, dict]:
    """``(class_name, config)`` of a whole-model JSON object (Keras 2 and 3 write
    ``{'class_name', 'config', 'keras_version', 'backend'}``)."""
    if not isinstance(obj, dict) or "class_name" not in obj or "config" not in obj:
        raise ValueError("model_from_json: the JSON must be an object with 'class_name' and 'config' "
                         "(as Model.to_json writes it)")
    return obj["class_name"], obj["config"]


def model_to_json(model, **kwargs) -> str:
    """Keras 3's ``to_json``: the model's serialized record (``module``, ``class_name``, ``config``,
    ``registered_name``, ``build_config``) plus irgraph's ``keras_version`` and ``backend``."""
    from . import __version__ as version
    obj = {**_keras3_model_spec(model), "keras_version": f"irgraph-{version}", "backend": "onnx"}
    return json.dumps(obj, **kwargs)


def model_from_json(json_string, custom_objects=None, safe_mode=True):
    """A model (fresh weights) from `Model.to_json`'s JSON, or the JSON Keras 2 or 3 writes.
    ``safe_mode`` (always on): a Lambda's code is never taken from the JSON; its function comes from
    ``custom_objects``."""
    if not safe_mode:
        raise ValueError("model_from_json(safe_mode=False) is not supported: irgraph never runs code "
                         "stored in a config; pass the functions of Lambda layers in custom_objects")
    try:
        obj = json.loads(json_string)
    except (TypeError, ValueError) as err:
        raise ValueError(f"model_from_json: not valid JSON ({err})") from None
    class_name, config = _unwrap_model_json(obj)
    from .models import Model, Sequential
    cls = {"Functional": Model, "Model": Model, "Sequential": Sequential}.get(class_name)
    if cls is None:
        cls = (custom_objects or {}).get(class_name)
        if not (isinstance(cls, type) and issubclass(cls, Model)):
            raise ValueError(f"model_from_json: unknown model class {class_name!r}; pass it in "
                             f"custom_objects={{{class_name!r}: {_py(class_name)}}}")
    return cls.from_config(config, custom_objects=custom_objects)
