"""MobileNet, MobileNetV2 and InceptionV3: Keras's parameter counts, output shapes and layer names;
predictions from random weights against a PyTorch (float64) implementation written here from the
papers' structure and Keras's padding rules; Keras-layout HDF5 weight files written with h5py load
by ``weights=path`` and ``weights="imagenet"``; argument errors."""
import functools
import math
import pathlib

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import irgraph
from irgraph import backend as K
from irgraph.applications import inception_v3, mobilenet, mobilenet_v2
from irgraph.layers import Input
from irgraph.saving import ModelFileError
from irgraph.saving_h5 import keras_layer_order

MobileNet, MobileNetV2, InceptionV3 = mobilenet.MobileNet, mobilenet_v2.MobileNetV2, inception_v3.InceptionV3
FEATURES = {MobileNet: 1024, MobileNetV2: 1280, InceptionV3: 2048}


@pytest.fixture(scope="module", autouse=True)
def _module_state():
    """One torch thread for the reference's small float64 ops (~20x faster than two on a busy
    2-core machine); the cached models are freed when the module ends."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    _cached.cache_clear()


# ============================================================================ counts and shapes
@functools.lru_cache(maxsize=None)
def _cached(build, items):
    return build(weights=None, **dict(items))


def _model(build, **kwargs):
    """A model with random weights, built once for the tests that only read its structure."""
    return _cached(build, tuple(sorted(kwargs.items())))


# Keras's model.summary() figures: (total, non-trainable) parameters
@pytest.mark.parametrize("build, kwargs, total, frozen", [
    (MobileNet, {}, 4_253_864, 21_888),
    (MobileNet, {"include_top": False}, 3_228_864, 21_888),
    (MobileNet, {"alpha": 0.75}, 2_601_976, None),
    (MobileNet, {"alpha": 0.5}, 1_342_536, None),
    (MobileNet, {"alpha": 0.25}, 475_544, None),
    (MobileNetV2, {}, 3_538_984, 34_112),
    (MobileNetV2, {"include_top": False}, 2_257_984, 34_112),
    (MobileNetV2, {"alpha": 0.35}, 1_691_208, None),
    (MobileNetV2, {"alpha": 0.35, "include_top": False}, 410_208, 14_080),
    (InceptionV3, {}, 23_851_784, None),
    (InceptionV3, {"include_top": False}, 21_802_784, 34_432),
])
def test_parameter_counts_equal_keras(build, kwargs, total, frozen):
    model = _model(build, **kwargs)
    assert model.count_params() == total
    if frozen is not None:
        assert sum(int(np.prod(w.shape)) for w in model.non_trainable_weights) == frozen


@pytest.mark.parametrize("build, size, out", [(MobileNet, 224, 7), (MobileNetV2, 224, 7), (InceptionV3, 299, 8)])
def test_output_shapes(build, size, out):
    c = FEATURES[build]
    top = _model(build)
    assert top.input_shape == (None, size, size, 3) and top.output_shape == (None, 1000)
    assert _model(build, include_top=False, input_shape=(size, size, 3)).output_shape == (None, out, out, c)
    free = _model(build, include_top=False)
    assert free.input_shape == (None, None, None, 3) and free.output_shape == (None, None, None, c)
    for pooling in ("avg", "max"):
        pooled = _model(build, include_top=False, pooling=pooling)
        assert pooled.output_shape == (None, c) and pooled.count_params() == free.count_params()
    assert top.count_params() - free.count_params() == c * 1000 + 1000  # the top is one class layer


@pytest.mark.parametrize("build, no_top, with_top", [(MobileNetV2, 154, 156), (InceptionV3, 311, 313)])
def test_layer_counts_equal_keras(build, no_top, with_top):
    assert len(_model(build, include_top=False).layers) == no_top
    assert len(_model(build).layers) == with_top


def _weighted(model):
    return [layer.name for layer in model.layers if layer.weights]


def test_mobilenet_layer_names():
    model = _model(MobileNet)
    expected = ["conv1", "conv1_bn"] + [f"conv_{kind}_{i}{bn}" for i in range(1, 14)
                                        for kind in ("dw", "pw") for bn in ("", "_bn")] + ["conv_preds"]
    assert _weighted(model) == expected
    assert model.name == "mobilenet_1.00_224"
    assert [model.get_layer(f"conv_pad_{i}").padding for i in (2, 4, 6, 12)] == [((0, 1), (0, 1))] * 4
    assert model.get_layer("conv1_relu").max_value == 6.0
    assert [type(model.get_layer(n)).__name__ for n in ("dropout", "reshape_2", "predictions")] == \
        ["Dropout", "Reshape", "Activation"]


def test_mobilenet_v2_layer_names():
    model = _model(MobileNetV2)
    parts = ("depthwise", "depthwise_BN", "project", "project_BN")
    expected = (["Conv1", "bn_Conv1"] + [f"expanded_conv_{p}" for p in parts]
                + [f"block_{i}_{p}" for i in range(1, 17) for p in ("expand", "expand_BN") + parts]
                + ["Conv_1", "Conv_1_bn", "predictions"])
    assert _weighted(model) == expected
    adds = [layer.name for layer in model.layers if type(layer).__name__ == "Add"]
    assert adds == [f"block_{i}_add" for i in (2, 4, 5, 7, 8, 9, 11, 12, 14, 15)]
    bn = model.get_layer("block_5_project_BN")
    assert (bn.epsilon, bn.momentum) == (1e-3, 0.999)
    assert model.get_layer("out_relu").max_value == 6.0


# Facts of Keras's published InceptionV3 file: its layers are named as a fresh Keras 2.0 session
# named them, conv2d_k / batch_normalization_k in the order the layers are made.
INCEPTION_KERNELS = {1: (3, 3, 3, 32), 5: (3, 3, 80, 192), 6: (1, 1, 192, 64), 12: (1, 1, 192, 32),
                     27: (3, 3, 288, 384), 33: (1, 7, 128, 128), 34: (7, 1, 128, 192), 36: (7, 1, 128, 128),
                     39: (1, 7, 128, 192), 72: (3, 3, 192, 320), 76: (3, 3, 192, 192), 77: (1, 1, 1280, 320),
                     79: (1, 3, 384, 384), 80: (3, 1, 384, 384), 85: (1, 1, 1280, 192), 94: (1, 1, 2048, 192)}


def test_inception_v3_layer_names_and_file_layout():
    irgraph.layers.Conv2D(4, 3)  # names made before do not shift the model's names
    model = InceptionV3(weights=None)
    expected = [f"{kind}_{k}" for k in range(1, 95) for kind in ("conv2d", "batch_normalization")]
    assert sorted(_weighted(model)) == sorted(expected + ["predictions"])
    for k, shape in INCEPTION_KERNELS.items():
        assert model.get_layer(f"conv2d_{k}").get_weights()[0].shape == shape
    bn = model.get_layer("batch_normalization_94")
    assert [w.name for w in bn.weights] == ["beta", "moving_mean", "moving_variance"]  # scale=False
    blocks = {f"mixed{i}" for i in range(11)} | {"mixed9_0", "mixed9_1", "avg_pool"}
    assert blocks <= {layer.name for layer in model.layers}
    assert sorted(_weighted(_model(InceptionV3, include_top=False))) == sorted(expected)


def test_inception_v3_layers_as_keras_lists_them():
    """Every layer's name, and the order Keras lists (and loads) them, as Keras 2 printed them."""
    listing = pathlib.Path(__file__).with_name("keras2_inception_v3_notop_layers.txt").read_text().split("\n")
    expected = [line for line in listing if line and not line.startswith("#")]
    model = _model(InceptionV3, include_top=False)
    assert len(expected) == len(model.layers) == 311
    assert [layer.name for layer in keras_layer_order(model)][1:] == expected[1:]  # [0]: the Input


# ============================================================================ PyTorch reference
def _t(a):
    return torch.from_numpy(np.asarray(a, np.float64))


def _same_pad(x, kernel, stride):
    """TensorFlow's 'same': total padding split with the odd pixel at the end."""
    pads = []
    for n, k in zip(x.shape[2:], kernel):
        total = max((math.ceil(n / stride) - 1) * stride + k - n, 0)
        pads.append((total // 2, total - total // 2))
    (top, bottom), (left, right) = pads
    return F.pad(x, (left, right, top, bottom))


def _conv(x, weights, kernel, filters, stride=1, padding="same"):
    """Keras Conv2D: kernel (kh, kw, in, out) -> torch (out, in, kh, kw)."""
    w = weights[0]
    assert w.shape == tuple(kernel) + (x.shape[1], filters), (w.shape, kernel, filters)
    if padding == "same":
        x = _same_pad(x, kernel, stride)
    return F.conv2d(x, _t(w).permute(3, 2, 0, 1), _t(weights[1]) if len(weights) > 1 else None, stride)


def _depthwise(x, weights, stride, padding):
    """Keras DepthwiseConv2D, kernel (kh, kw, in, mult): output channel ``c * mult + m`` is input
    channel ``c`` correlated with ``kernel[:, :, c, m]``; written as a sum of shifted products."""
    (w,) = weights
    kh, kw, cin, mult = w.shape
    assert (kh, kw, cin) == (3, 3, x.shape[1])
    if padding == "same":
        x = _same_pad(x, (kh, kw), stride)
    x = x.repeat_interleave(mult, dim=1)
    kernel = _t(w).reshape(kh, kw, cin * mult, 1, 1)
    rows, cols = (x.shape[2] - kh) // stride + 1, (x.shape[3] - kw) // stride + 1
    return sum(x[:, :, i:i + (rows - 1) * stride + 1:stride, j:j + (cols - 1) * stride + 1:stride] * kernel[i, j]
               for i in range(kh) for j in range(kw))


def _bn(x, weights, eps=1e-3):
    """Inference batch norm; three weights when Keras's layer has no scale."""
    gamma, beta, mean, var = weights if len(weights) == 4 else ([np.ones_like(weights[0])] + list(weights))
    return F.batch_norm(x, _t(mean), _t(var), _t(gamma), _t(beta), False, 0.0, eps)


def _relu6(x):
    return x.clamp(0.0, 6.0)


MOBILENET_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]


def torch_mobilenet(w, x, alpha, depth_multiplier, classes=None):
    x = _relu6(_bn(_conv(x, w["conv1"], (3, 3), int(32 * alpha), stride=2), w["conv1_bn"]))
    for i, (filters, stride) in enumerate(MOBILENET_BLOCKS, start=1):
        if stride == 2:
            x = F.pad(x, (0, 1, 0, 1))  # one column right, one row below, then 'valid'
        x = _depthwise(x, w[f"conv_dw_{i}"], stride, "same" if stride == 1 else "valid")
        assert x.shape[1] % depth_multiplier == 0
        x = _relu6(_bn(x, w[f"conv_dw_{i}_bn"]))
        x = _relu6(_bn(_conv(x, w[f"conv_pw_{i}"], (1, 1), int(filters * alpha)), w[f"conv_pw_{i}_bn"]))
    if classes is None:
        return x
    x = x.mean(dim=(2, 3), keepdim=True)
    return _conv(x, w["conv_preds"], (1, 1), classes).flatten(1)


V2_BLOCKS = [(16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6), (64, 2, 6), (64, 1, 6),
             (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6),
             (320, 1, 6)]


def _divisible8(v):
    r = max(8, int(v + 4) // 8 * 8)
    return r + 8 if r < 0.9 * v else r


def torch_mobilenet_v2(w, x, alpha, classes=None):
    x = _relu6(_bn(_conv(x, w["Conv1"], (3, 3), _divisible8(32 * alpha), stride=2), w["bn_Conv1"]))
    for i, (filters, stride, expansion) in enumerate(V2_BLOCKS):
        p = f"block_{i}_" if i else "expanded_conv_"
        inputs = x
        if i:
            x = _relu6(_bn(_conv(x, w[p + "expand"], (1, 1), expansion * x.shape[1]), w[p + "expand_BN"]))
        x = _relu6(_bn(_depthwise(x, w[p + "depthwise"], stride, "same"), w[p + "depthwise_BN"]))
        x = _bn(_conv(x, w[p + "project"], (1, 1), _divisible8(int(filters * alpha))), w[p + "project_BN"])
        if stride == 1 and x.shape == inputs.shape:
            x = x + inputs
    x = _relu6(_bn(_conv(x, w["Conv_1"], (1, 1), max(1280, _divisible8(1280 * alpha))), w["Conv_1_bn"]))
    if classes is None:
        return x
    kernel, bias = w["predictions"]
    return x.mean(dim=(2, 3)) @ _t(kernel) + _t(bias)


class TorchInception:
    """InceptionV3 reading the weights of conv2d_k / batch_normalization_k in order."""

    def __init__(self, w):
        self.w, self.k = w, 0

    def c(self, x, filters, kh, kw, stride=1, padding="same"):
        self.k += 1
        x = _conv(x, self.w[f"conv2d_{self.k}"], (kh, kw), filters, stride, padding)
        return F.relu(_bn(x, self.w[f"batch_normalization_{self.k}"]))

    def pool_branch(self, x, filters):
        return self.c(F.avg_pool2d(x, 3, 1, padding=1, count_include_pad=False), filters, 1, 1)

    def __call__(self, x, classes=None):
        c = self.c
        x = c(c(x, 32, 3, 3, 2, "valid"), 32, 3, 3, padding="valid")
        x = F.max_pool2d(c(x, 64, 3, 3), 3, 2)
        x = F.max_pool2d(c(c(x, 80, 1, 1, padding="valid"), 192, 3, 3, padding="valid"), 3, 2)
        for pool_filters in (32, 64, 64):
            b1 = c(x, 64, 1, 1)
            b5 = c(c(x, 48, 1, 1), 64, 5, 5)
            b3 = c(c(c(x, 64, 1, 1), 96, 3, 3), 96, 3, 3)
            x = torch.cat([b1, b5, b3, self.pool_branch(x, pool_filters)], 1)
        b3 = c(x, 384, 3, 3, 2, "valid")
        bd = c(c(c(x, 64, 1, 1), 96, 3, 3), 96, 3, 3, 2, "valid")
        x = torch.cat([b3, bd, F.max_pool2d(x, 3, 2)], 1)
        for n in (128, 160, 160, 192):
            b1 = c(x, 192, 1, 1)
            b7 = c(c(c(x, n, 1, 1), n, 1, 7), 192, 7, 1)
            bd = c(c(c(c(c(x, n, 1, 1), n, 7, 1), n, 1, 7), n, 7, 1), 192, 1, 7)
            x = torch.cat([b1, b7, bd, self.pool_branch(x, 192)], 1)
        b3 = c(c(x, 192, 1, 1), 320, 3, 3, 2, "valid")
        b7 = c(c(c(c(x, 192, 1, 1), 192, 1, 7), 192, 7, 1), 192, 3, 3, 2, "valid")
        x = torch.cat([b3, b7, F.max_pool2d(x, 3, 2)], 1)
        for _ in range(2):
            b1 = c(x, 320, 1, 1)
            t = c(x, 384, 1, 1)
            b3 = torch.cat([c(t, 384, 1, 3), c(t, 384, 3, 1)], 1)
            t = c(c(x, 448, 1, 1), 384, 3, 3)
            bd = torch.cat([c(t, 384, 1, 3), c(t, 384, 3, 1)], 1)
            x = torch.cat([b1, b3, bd, self.pool_branch(x, 192)], 1)
        assert self.k == 94
        if classes is None:
            return x
        kernel, bias = self.w["predictions"]
        return x.mean(dim=(2, 3)) @ _t(kernel) + _t(bias)


def randomize(model, seed=0):
    """Random weights that keep activations O(1) through the depth: He-scaled kernels, batch-norm
    statistics and affine terms away from their identity defaults."""
    rng = np.random.default_rng(seed)
    values = []
    for v in model.weights:
        shape, kind = tuple(v.shape), v.name.rsplit("/", 1)[-1]
        if kind in ("kernel", "depthwise_kernel"):
            fan_in = np.prod(shape[:-1]) if kind == "kernel" else np.prod(shape[:2])
            values.append(rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in)))
        elif kind in ("gamma", "moving_variance"):
            values.append(rng.random(shape, dtype=np.float32) * np.float32(0.8) + np.float32(0.6))
        else:  # beta, moving_mean, bias
            values.append(rng.standard_normal(shape, dtype=np.float32) * np.float32(0.2))
    model.set_weights(values)
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


def _torch_run(fn, x):
    with torch.no_grad():
        out = fn(_t(x).permute(0, 3, 1, 2))
    return out.permute(0, 2, 3, 1).numpy() if out.ndim == 4 else out.numpy()


def _assert_matches(ours, ref):
    assert ours.shape == ref.shape
    assert np.abs(ref).max() > 0.1  # the weights left something to compare
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def _image(shape, seed=1):
    return np.random.default_rng(seed).uniform(-1, 1, (2,) + shape).astype("float32")


CASES = {  # name: (build, kwargs, torch reference(weights, x))
    "mobilenet_top": (MobileNet, dict(alpha=0.25, depth_multiplier=2, classes=7, input_shape=(96, 96, 3)),
                      lambda w, x: torch_mobilenet(w, x, 0.25, 2, classes=7)),
    "mobilenet_odd": (MobileNet, dict(alpha=0.5, include_top=False, input_shape=(45, 39, 3)),
                      lambda w, x: torch_mobilenet(w, x, 0.5, 1)),
    "mobilenet_v2_top": (MobileNetV2, dict(alpha=0.35, classes=7, input_shape=(96, 96, 3)),
                         lambda w, x: torch_mobilenet_v2(w, x, 0.35, classes=7)),
    "mobilenet_v2_odd": (MobileNetV2, dict(alpha=1.3, include_top=False, input_shape=(45, 39, 3)),
                         lambda w, x: torch_mobilenet_v2(w, x, 1.3)),
    "inception_v3_top": (InceptionV3, dict(classes=7, input_shape=(80, 77, 3)),
                         lambda w, x: TorchInception(w)(x, classes=7)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_predictions_match_pytorch(case):
    build, kwargs, reference = CASES[case]
    logits = build(weights=None, classifier_activation=None, **kwargs)
    weights = randomize(logits)
    x = _image(kwargs["input_shape"])
    ref = _torch_run(lambda t: reference(weights, t), x)
    _assert_matches(logits.predict(x, verbose=0), ref)
    if "classes" in kwargs and build is not InceptionV3:  # the default activation: softmax of the logits
        probs = build(weights=None, **kwargs)
        probs.set_weights(logits.get_weights())
        np.testing.assert_allclose(probs.predict(x, verbose=0), torch.softmax(_t(ref), 1).numpy(), atol=1e-5)


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_pooling_matches_pytorch(pooling):
    model = MobileNetV2(weights=None, alpha=0.35, include_top=False, pooling=pooling, input_shape=(64, 64, 3))
    weights = randomize(model)
    x = _image((64, 64, 3))
    features = _torch_run(lambda t: torch_mobilenet_v2(weights, t, 0.35), x)
    ref = features.mean(axis=(1, 2)) if pooling == "avg" else features.max(axis=(1, 2))
    _assert_matches(model.predict(x, verbose=0), ref)


@pytest.mark.parametrize("build, kwargs", [(MobileNet, dict(alpha=0.25, classes=5, classifier_activation=None)),
                                           (MobileNetV2, dict(alpha=0.35, include_top=False))])
def test_channels_first_matches_channels_last(build, kwargs):
    x = _image((45, 38, 3))
    last = build(weights=None, input_shape=(45, 38, 3), **kwargs)
    randomize(last)
    expected = last.predict(x, verbose=0)
    K.set_image_data_format("channels_first")
    first = build(weights=None, input_shape=(3, 45, 38), **kwargs)
    first.set_weights(last.get_weights())
    got = first.predict(x.transpose(0, 3, 1, 2), verbose=0)
    _assert_matches(got.transpose(0, 2, 3, 1) if got.ndim == 4 else got, expected)


# ============================================================================ Keras HDF5 files
def write_keras_h5(path, model, order=None, rename=None):
    """``model``'s weights in the layout of Keras's published files (Keras 2 ``save_weights``):
    root attribute ``layer_names`` (every layer, in ``order``, some renamed by ``rename``); per
    layer a group with ``weight_names`` (``<layer>/<weight>:0``) and one dataset per weight at that
    path."""
    layers = {layer.name: layer for layer in model.layers}
    rename = rename or {}
    names = list(order or layers)
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([rename.get(n, n).encode() for n in names])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.0.8"
        for name in names:
            saved = rename.get(name, name)
            group = f.create_group(saved)
            wnames = [f"{saved}/{v.name.rsplit('/', 1)[-1]}:0" for v in layers[name].weights]
            group.attrs["weight_names"] = np.array([n.encode() for n in wnames], dtype="S")
            for wn, v in zip(wnames, layers[name].get_weights()):
                group.create_dataset(wn, data=v)


H5_CASES = {  # name: (build, kwargs, Keras's file name for them, torch reference(weights, x), renamed layers)
    "mobilenet": (MobileNet, dict(alpha=0.25, include_top=False, input_shape=(128, 128, 3)),
                  "mobilenet_2_5_128_tf_no_top.h5", lambda w, x: torch_mobilenet(w, x, 0.25, 1), {}),
    # keras_applications, which wrote the published MobileNetV2 files, named the class layer 'Logits'
    # (today's Keras: 'predictions'); Keras loads the files by position
    "mobilenet_v2": (MobileNetV2, dict(alpha=0.35, input_shape=(96, 96, 3), classifier_activation=None),
                     "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96.h5",
                     lambda w, x: torch_mobilenet_v2(w, x, 0.35, classes=1000), {"predictions": "Logits"}),
    "inception_v3": (InceptionV3, dict(include_top=False, input_shape=(75, 75, 3)),
                     "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5", lambda w, x: TorchInception(w)(x),
                     {}),
}


@pytest.mark.parametrize("case", sorted(H5_CASES))
def test_keras_h5_weight_files_load(case, tmp_path, monkeypatch):
    """The file under Keras's name loads by ``weights=path`` and, from ``$KERAS_HOME/models``, by
    ``weights="imagenet"``: the same weights, and the predictions of the PyTorch reference."""
    build, kwargs, file_name, reference, rename = H5_CASES[case]
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=file_name.replace(".", r"\.")):
        build(weights="imagenet", **kwargs)
    source = build(weights=None, **kwargs)
    weights = randomize(source, seed=3)
    (tmp_path / "models").mkdir()
    path = tmp_path / "models" / file_name
    order = [layer.name for layer in keras_layer_order(source)]  # the order of Keras's files
    if not rename:
        order.reverse()  # the same names: loaded by name, in any order
    write_keras_h5(path, source, order=order, rename=rename)
    irgraph.clear_session()
    irgraph.layers.Dense(3)  # a session that made other layers before
    x = _image(kwargs["input_shape"])
    for loaded in (build(weights=str(path), **kwargs), build(weights="imagenet", **kwargs)):
        for name, arrays in weights.items():
            for a, b in zip(loaded.get_layer(name).get_weights(), arrays):
                np.testing.assert_array_equal(a, b)
    _assert_matches(loaded.predict(x, verbose=0), _torch_run(lambda t: reference(weights, t), x))


@pytest.mark.parametrize("build, kwargs, file_name", [
    (MobileNet, dict(), "mobilenet_1_0_224_tf.h5"),
    (MobileNet, dict(alpha=0.75, input_shape=(160, 160, 3)), "mobilenet_7_5_160_tf.h5"),
    (MobileNetV2, dict(), "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5"),
    (MobileNetV2, dict(alpha=1.4, input_shape=(192, 192, 3)),
     "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.4_192.h5"),
    (InceptionV3, dict(), "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"),
])
def test_imagenet_file_names(build, kwargs, file_name, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=file_name.replace(".", r"\.")):
        build(weights="imagenet", **kwargs)


@pytest.mark.parametrize("build", [MobileNet, MobileNetV2])
def test_imagenet_weights_of_another_size_fall_back_to_224(build, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.warns(UserWarning, match="224x224"), pytest.raises(FileNotFoundError, match="_224_"):
        build(weights="imagenet", alpha=0.5, include_top=False, input_shape=(200, 160, 3))


def test_weight_file_of_another_model_is_refused(tmp_path):
    source = MobileNet(weights=None, alpha=0.25, include_top=False)
    path = tmp_path / "mobilenet.h5"
    write_keras_h5(path, source)
    with pytest.raises(ModelFileError, match="conv_dw_1"):
        MobileNetV2(weights=str(path), alpha=0.35, include_top=False)
    with pytest.raises(ModelFileError, match="conv_preds"):  # the file has no top
        MobileNet(weights=str(path), alpha=0.25, input_shape=(32, 32, 3))


# ============================================================================ inputs and errors
def test_input_tensor_extends_its_graph():
    image = Input(shape=(40, 40, 3))
    scaled = irgraph.layers.Lambda(lambda t: t * 2.0)(image)
    model = MobileNetV2(input_tensor=scaled, weights=None, alpha=0.35, include_top=False, pooling="avg")
    assert model.inputs[0] is image and model.output_shape == (None, 1280)
    image = Input(shape=(80, 80, 3))
    model = InceptionV3(input_tensor=image, weights=None, include_top=False)
    assert model.inputs[0] is image and model.output_shape == (None, 1, 1, 2048)


@pytest.mark.parametrize("call, error, match", [
    (lambda: MobileNet(weights="imagenet", alpha=0.3), ValueError, "alpha"),
    (lambda: MobileNet(weights=None, alpha="0.5"), ValueError, "alpha"),
    (lambda: MobileNetV2(weights=None, alpha=0), ValueError, "alpha"),
    (lambda: MobileNetV2(weights=None, include_top=False, input_shape=(64, 64)), ValueError, "three integers"),
    (lambda: MobileNet(weights="imagenet", depth_multiplier=2), ValueError, "depth_multiplier"),
    (lambda: MobileNetV2(weights="imagenet", alpha=0.6), ValueError, "alpha"),
    (lambda: InceptionV3(weights="imagenet", classes=10), ValueError, "classes"),
    (lambda: InceptionV3(weights=None, include_top=False, input_shape=(74, 80, 3)), ValueError, "75x75"),
    (lambda: MobileNet(weights=None, include_top=False, input_shape=(31, 64, 3)), ValueError, "32x32"),
    (lambda: MobileNetV2(weights="imagenet", input_shape=(100, 100, 3)), ValueError, "input_shape"),
    (lambda: MobileNet(weights=None, include_top=False, pooling="mean"), ValueError, "pooling"),
    (lambda: MobileNetV2(weights="imagenet", classifier_activation="relu"), ValueError, "classifier_activation"),
    (lambda: InceptionV3(weights=None, dropout=0.2), TypeError, "dropout"),
    (lambda: MobileNet(weights="/no/such/file.h5"), FileNotFoundError, "no such file"),
])
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_preprocess_input_is_tf_mode():
    x = np.array([[[[0.0, 127.5, 255.0]]]], "float32")
    for module in (mobilenet, mobilenet_v2, inception_v3):
        np.testing.assert_allclose(module.preprocess_input(x.copy()), [[[[-1.0, 0.0, 1.0]]]])
