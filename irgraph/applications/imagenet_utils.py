"""What every application shares (Keras's ``keras.applications.imagenet_utils``): finding the weight
and class-index files Keras publishes, on this machine only (never a download), loading them,
Keras's input-shape rules, ``preprocess_input`` and ``decode_predictions``, and the model input
from ``input_tensor``.

Keras caches its downloads in ``$KERAS_HOME/models`` (when ``KERAS_HOME`` is set) or
``~/.keras/models``; a file put there by Keras, or copied there by hand on a machine without
internet, is found under the same name.
"""
from __future__ import annotations

import json
import os
import warnings

import numpy as np

from .. import backend as K
from ..saving import ModelFileNotFoundError

KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
CLASS_INDEX_FILE = "imagenet_class_index.json"
CLASS_INDEX_URL = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
_CAFFE_MEAN = (103.939, 116.779, 123.68)  # B, G, R
_TORCH_MEAN = (0.485, 0.456, 0.406)  # R, G, B
_TORCH_STD = (0.229, 0.224, 0.225)


class WeightsNotFoundError(ModelFileNotFoundError):
    """A weight (or class-index) file that is not on this machine. A FileNotFoundError; also a
    ValueError, which is what Keras raises for a ``weights=`` path that does not exist."""


# ------------------------------------------------------------------------------------ local files
def keras_cache_dirs() -> list[str]:
    """The directories Keras downloads ``models`` files to, in the order they are searched."""
    dirs = []
    if os.environ.get("KERAS_HOME"):
        dirs.append(os.path.join(os.environ["KERAS_HOME"], "models"))
    dirs.append(os.path.join(os.path.expanduser("~"), ".keras", "models"))
    return list(dict.fromkeys(dirs))


def find_keras_file(file_name: str, url: str, what: str) -> str:
    """The path of ``file_name`` in Keras's cache directories; a FileNotFoundError saying which
    file is missing, where it was looked for and where Keras publishes it otherwise."""
    dirs = keras_cache_dirs()
    for d in dirs:
        path = os.path.join(d, file_name)
        if os.path.isfile(path):
            return path
    raise WeightsNotFoundError(
        f"{what}: the file '{file_name}' is not on this machine (searched: {', '.join(dirs)}). "
        f"irgraph never downloads: fetch it from {url} where there is internet and put it in one of "
        "those directories (set KERAS_HOME to use <KERAS_HOME>/models)")


def weights_path(file_name: str, weights, model_name: str, url: str | None = None) -> str | None:
    """The weight file to load for ``weights=``: None for None (random initialization), Keras's
    cached file ``file_name`` for ``"imagenet"``, the path itself otherwise (which must exist).
    ``url``: where Keras publishes the file, only named in the error (default: Keras's bucket,
    ``.../keras-applications/<model_name lowercased>/<file_name>``)."""
    if weights is None:
        return None
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    if not isinstance(weights, str):
        raise ValueError("The `weights` argument should be either `None` (random initialization), "
                         "`imagenet` (pre-training on ImageNet), or the path to the weights file to be "
                         f"loaded; got {type(weights).__name__}")
    if weights == "imagenet":
        if url is None:
            url = f"{KERAS_WEIGHTS_URL}{model_name.lower()}/{file_name}"
        return find_keras_file(file_name, url, f"{model_name}(weights='imagenet')")
    if not os.path.isfile(weights):
        raise WeightsNotFoundError(
            f"{model_name}(weights={weights!r}): no such file. The `weights` argument should be either "
            "`None` (random initialization), `imagenet` (pre-training on ImageNet), or the path to the "
            "weights file to be loaded")
    return weights


def load_weights_into(model, path) -> None:
    """Load a Keras HDF5 weight file (``save_weights``'s layout, or a full-model file with its
    weights under ``model_weights``) into ``model``: by layer name when the layers with weights
    have the same names in the file and the model, otherwise by position in Keras's layer order,
    as Keras loads its applications' files (some name layers otherwise, e.g. auto-named layers
    saved by an older Keras). Every layer with weights must find its counterpart with the same
    number and shapes of weights; nothing is set unless everything fits. A file that is not HDF5
    (irgraph's own ``save_weights``/``save`` files) goes to ``model.load_weights``;
    ``path=None`` does nothing."""
    from ..saving_h5 import is_hdf5, load_hdf5_weights
    if path is None:
        return
    if is_hdf5(path):
        load_hdf5_weights(model, path, by_name="auto")
    else:
        model.load_weights(path)


# ------------------------------------------------------------------------------- argument checks
_KERAS2_INJECTED = ("backend", "layers", "models", "utils")  # keras_applications' module arguments


def check_kwargs(kwargs: dict, model_name: str) -> None:
    """Keras 2's applications took ``backend=``, ``layers=``, ``models=``, ``utils=`` (modules
    injected by ``keras_applications``): accepted and ignored; anything else is refused."""
    unknown = sorted(k for k in kwargs if k not in _KERAS2_INJECTED)
    if unknown:
        raise TypeError(f"{model_name}() got unexpected keyword arguments: {', '.join(unknown)}")


def validate_weights_args(weights, include_top: bool, classes: int, input_shape=None,
                          default_shape=None) -> None:
    """Keras's checks of ``weights=``: None, ``"imagenet"`` or an existing file; ImageNet weights
    with the top need 1000 classes (and, when ``default_shape`` is given, that input shape;
    `obtain_input_shape` checks it too)."""
    if not (weights is None or isinstance(weights, (str, os.PathLike))):
        raise ValueError("The `weights` argument should be either `None` (random initialization), "
                         "`imagenet` (pre-training on ImageNet), or the path to the weights file to be "
                         f"loaded. Received: weights={weights!r}")
    if isinstance(weights, (str, os.PathLike)) and weights != "imagenet" and not os.path.isfile(weights):
        raise WeightsNotFoundError(
            f"weights={os.fspath(weights)!r}: no such file. The `weights` argument should be either `None` "
            "(random initialization), `imagenet` (pre-training on ImageNet), or the path to the weights "
            "file to be loaded")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError('If using `weights="imagenet"` with `include_top=True`, `classes` should be '
                         f"1000. Received: classes={classes}")
    if (weights == "imagenet" and include_top and input_shape is not None and default_shape is not None
            and tuple(input_shape) != tuple(default_shape)):
        raise ValueError("When setting `include_top=True` and loading `imagenet` weights, `input_shape` "
                         f"should be {tuple(default_shape)}. Received: input_shape={tuple(input_shape)}")


def validate_activation(classifier_activation, weights) -> None:
    """Pretrained tops were trained with softmax: only ``softmax`` or ``None`` (the logits) fit."""
    if weights is None or classifier_activation in (None, "softmax", "linear"):
        return
    from .. import activations
    if classifier_activation in (activations.get("softmax"), activations.get("linear")):
        return
    raise ValueError("Only `None` and `softmax` activations are allowed for the `classifier_activation` "
                     "argument when using pretrained weights, with `include_top=True`; Received: "
                     f"classifier_activation={classifier_activation}")


def obtain_input_shape(input_shape, default_size: int, min_size: int, data_format: str,
                       require_flatten: bool, weights=None) -> tuple:
    """The model's input shape (without the batch axis) by Keras's rules: the default
    (``default_size`` square, 3 channels) where the top needs a fixed shape and none was given,
    unknown spatial dims without the top; refuses shapes ImageNet weights cannot take, spatial dims
    under ``min_size``, and an unknown dim with the top (whose Flatten/Dense need it)."""
    first = data_format == "channels_first"
    if input_shape is not None:
        input_shape = tuple(input_shape)
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        channels = input_shape[0] if first else input_shape[-1]
        if channels not in (1, 3):
            warnings.warn("This model usually expects 1 or 3 input channels. However, it was passed an "
                          f"input_shape with {channels} input channels.", stacklevel=3)
        default_shape = (channels, default_size, default_size) if first else (default_size, default_size, channels)
    else:
        default_shape = (3, default_size, default_size) if first else (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and input_shape != default_shape:
            raise ValueError("When setting `include_top=True` and loading `imagenet` weights, `input_shape` "
                             f"should be {default_shape}. Received: input_shape={input_shape}")
        return default_shape
    if input_shape:
        if len(input_shape) != 3:
            raise ValueError(f"`input_shape` must be a tuple of three integers. Received: input_shape={input_shape}")
        channels, spatial = (input_shape[0], input_shape[1:]) if first else (input_shape[-1], input_shape[:2])
        if channels != 3 and weights == "imagenet":
            raise ValueError(f"The input must have 3 channels; Received `input_shape={input_shape}`")
        if any(d is not None and d < min_size for d in spatial):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; Received: "
                             f"input_shape={input_shape}")
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (3, None, None) if first else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError("If `include_top` is True, you should specify a static `input_shape`. "
                         f"Received: input_shape={input_shape}")
    return input_shape


# ------------------------------------------------------------------------------------ model input
def source_inputs(tensor) -> list:
    """The Input tensors a functional tensor is computed from, in first-visit order (Keras's
    ``get_source_inputs``); iterative, so any depth works."""
    from ..layers.input_layer import InputLayer
    out, seen, stack = [], set(), [tensor]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t._keras_history is None:
            continue
        layer = t._keras_history[0]
        if isinstance(layer, InputLayer):
            out.append(t)
            continue
        stack.extend(reversed(t.node.all_input_tensors))
    return out


def _is_layer_tensor(x) -> bool:
    """Keras 2's ``is_keras_tensor``: the output of an Input or of a layer, not of a backend op (a
    ``K.variable``, a constant, ``K.concatenate(...)``), which Keras 2 wrapped with ``Input(tensor=)``."""
    from ..backend.graph import SourceLayer, VariableLayer
    from ..layers.core import OpLayer
    from ..tensor import KerasTensor
    from ..variables import Variable
    if not isinstance(x, KerasTensor) or isinstance(x, Variable) or x._keras_history is None:
        return False
    return not isinstance(x._keras_history[0], (OpLayer, SourceLayer, VariableLayer))


def image_input(input_tensor, input_shape):
    """``(tensor the model's first layer reads, the model's inputs)`` for ``input_tensor=``, as
    Keras does: a new ``Input(shape=input_shape)`` for None; an Input, a ``K.placeholder`` or a
    layer's output as it is (the model's inputs are then the Inputs it comes from, so the
    application extends that graph); a backend tensor (a ``K.variable``, or an expression such as
    ``K.concatenate([...])`` of variables and placeholders) through
    ``Input(tensor=input_tensor, shape=input_shape)``, which becomes the model's input and, in a
    ``K.function``, takes the tensor's value."""
    from ..tensor import Input
    if input_tensor is None:
        x = Input(shape=input_shape)
        return x, x
    x = input_tensor if _is_layer_tensor(input_tensor) else Input(tensor=input_tensor, shape=input_shape)
    inputs = source_inputs(x)
    return x, (inputs[0] if len(inputs) == 1 else inputs)


def pooled_features(x, pooling, name: str = None):
    """``pooling=None | "avg" | "max"`` applied to the last feature map (no top)."""
    from .. import layers
    if pooling is None:
        return x
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=name)(x) if name else layers.GlobalAveragePooling2D()(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=name)(x) if name else layers.GlobalMaxPooling2D()(x)
    raise ValueError(f"`pooling` should be None, 'avg' or 'max'. Received: pooling={pooling!r}")


# -------------------------------------------------------------------------------- preprocessing
def _mode_and_format(mode, data_format):
    if mode not in ("caffe", "tf", "torch"):
        raise ValueError(f"Expected mode to be one of `caffe`, `tf` or `torch`. Received: mode={mode}")
    return K.normalize_data_format(data_format)


def _channel_index(ndim: int, data_format: str) -> tuple:
    """An index that selects one channel's entries: ``(..., c)`` or ``(.., c, :, :)``."""
    if data_format == "channels_last":
        return (Ellipsis,)
    return (slice(None),) * (ndim - 3)  # channels_first: the channel axis is ndim - 3


def preprocess_input(x, data_format=None, mode: str = "caffe"):
    """Keras's ImageNet preprocessing of a batch (or one image) of RGB values in [0, 255].
    ``caffe``: RGB to BGR, then each channel minus the ImageNet mean (no scaling); ``tf``: scaled
    to [-1, 1]; ``torch``: scaled to [0, 1], then each channel normalised by the ImageNet mean
    and std. Numpy arrays come back as float arrays; like Keras, a float array is changed in
    place (pass a copy to keep it). Functional tensors give a functional tensor."""
    from ..tensor import KerasTensor
    data_format = _mode_and_format(mode, data_format)
    if isinstance(x, KerasTensor):  # any functional tensor: placeholders and variables included
        return _preprocess_symbolic(x, data_format, mode)
    return _preprocess_numpy(x, data_format, mode)


def _preprocess_numpy(x, data_format, mode):
    x = np.asarray(x)
    if not issubclass(x.dtype.type, np.floating):
        x = x.astype(K.floatx(), copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    lead = _channel_index(x.ndim, data_format)
    channel_axis = -1 if data_format == "channels_last" else x.ndim - 3
    if mode == "torch":
        x /= 255.0
        mean, std = _TORCH_MEAN, _TORCH_STD
    else:
        x = np.flip(x, axis=channel_axis)  # a view, as Keras's x[..., ::-1]
        mean, std = _CAFFE_MEAN, None
    for c in range(3):
        idx = lead + (c,) if data_format == "channels_last" else lead + (c, Ellipsis)
        x[idx] -= mean[c]
        if std is not None:
            x[idx] /= std[c]
    return x


def _preprocess_symbolic(x, data_format, mode):
    if mode == "tf":
        return x / 127.5 - 1.0
    first = data_format == "channels_first"
    if mode == "torch":
        x = x / 255.0
        mean = np.asarray(_TORCH_MEAN, K.floatx())
        std = np.asarray(_TORCH_STD, K.floatx())
    else:
        x = x[(slice(None),) * (x.ndim - 3) + (slice(None, None, -1),)] if first else x[..., ::-1]
        mean, std = np.asarray(_CAFFE_MEAN, K.floatx()), None
    x = K.bias_add(x, -mean, data_format)
    if std is not None:
        shape = (3, 1, 1) if first else (3,)
        x = x / std.reshape(shape)
    return x


# ------------------------------------------------------------------------------ class index
def decode_predictions(preds, top: int = 5):
    """The ``top`` ImageNet classes of each prediction as ``(class_id, name, score)`` tuples, best
    first. Reads ``imagenet_class_index.json`` from Keras's cache directories (never downloads)."""
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError("`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape "
                         f"(samples, 1000)). Received array with shape: {preds.shape}")
    index = _class_index()
    results = []
    for pred in preds:
        best = pred.argsort()[-top:][::-1]
        result = [tuple(index[str(i)]) + (pred[i],) for i in best]
        result.sort(key=lambda r: r[2], reverse=True)
        results.append(result)
    return results


def _class_index() -> dict:
    path = find_keras_file(CLASS_INDEX_FILE, CLASS_INDEX_URL, "decode_predictions")
    with open(path, encoding="utf-8") as f:
        index = json.load(f)
    if not isinstance(index, dict) or any(str(i) not in index for i in range(1000)):
        raise ValueError(f"decode_predictions: '{path}' is not the ImageNet class index (a JSON object "
                         "with keys '0' to '999', each [class_id, name])")
    return index
