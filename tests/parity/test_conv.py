"""Parity of convolution, pooling, padding, cropping and upsampling layers with PyTorch (CPU).

Weights are set in Keras layout and converted to torch layout here, independently of the backend's
in-graph Transposes. Keras 'same' padding is reproduced with F.pad (the odd pad at the end); a
Conv2DTranspose is checked as the input gradient of the matching Keras-padded conv (TF's definition).
Every layer runs in both data formats.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import irgraph
from irgraph import backend as K
from irgraph import layers as L
from irgraph.models import Model

from helpers import assert_close, export_and_run, layer_output, rand

torch.set_num_threads(1)
TOL = dict(rtol=1e-5, atol=1e-5)


@pytest.fixture(params=["channels_last", "channels_first"])
def fmt(request):
    K.set_image_data_format(request.param)
    return request.param


# ------------------------------------------------------------------------------------- layout helpers
def to_keras(x_nc: np.ndarray, fmt: str) -> np.ndarray:
    """(N, C, s...) -> the layer's layout."""
    return x_nc if fmt == "channels_first" else np.moveaxis(x_nc, 1, -1).copy()


def to_nc(y: np.ndarray, fmt: str) -> np.ndarray:
    return y if fmt == "channels_first" else np.moveaxis(y, -1, 1)


def keras_kernel_to_torch(kernel: np.ndarray) -> torch.Tensor:
    """Keras (k..., in/groups, out) -> torch (out, in/groups, k...)."""
    n = kernel.ndim - 2
    return torch.from_numpy(np.transpose(kernel, (n + 1, n) + tuple(range(n))).copy())


def tup(v, n):
    return (v,) * n if isinstance(v, int) else tuple(v)


def same_pads(sizes, kernel, strides, dilations):
    """Keras/TF 'same': total = max((ceil(in/s)-1)*s + (k-1)*d + 1 - in, 0); before = total // 2.
    Returned in F.pad order (last axis first)."""
    pads = []
    for size, k, s, d in zip(sizes, kernel, strides, dilations):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        pads.append((total // 2, total - total // 2))
    return [p for pair in reversed(pads) for p in pair]


TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
TORCH_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
TORCH_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def torch_conv(x_nc, kernel, bias, strides, padding, dilations, groups):
    n = x_nc.ndim - 2
    x = torch.from_numpy(x_nc)
    ks = kernel.shape[:n]
    if padding == "same":
        x = F.pad(x, same_pads(x_nc.shape[2:], ks, strides, dilations))
    elif padding == "causal":
        x = F.pad(x, [(ks[0] - 1) * dilations[0], 0])
    b = None if bias is None else torch.from_numpy(bias)
    return TORCH_CONV[n](x, keras_kernel_to_torch(kernel), b, stride=strides, dilation=dilations,
                         groups=groups).numpy()


def run_layer(layer, x_nc, fmt):
    """Run ``layer`` on data given as (N, C, s...) in ``fmt``; return the output as (N, C, s...)."""
    return to_nc(layer_output(layer, to_keras(x_nc, fmt)), fmt)


def set_random_weights(layer, x_keras, seed=1):
    layer(irgraph.Input(shape=x_keras.shape[1:]))  # build
    weights = [rand(*w.shape, seed=seed + i) for i, w in enumerate(layer.get_weights())]
    layer.set_weights(weights)
    return weights


# ------------------------------------------------------------------------------------- Conv1D/2D/3D
CONV2D_CASES = [
    # kernel, strides, padding, dilation, groups, use_bias, activation
    (3, 1, "valid", 1, 1, True, None),
    (3, 2, "same", 1, 1, True, "relu"),
    (4, 2, "same", 1, 1, False, None),          # even kernel, stride 2: extra pad at the end
    ((2, 3), (3, 1), "same", 1, 1, True, None),  # odd total pad along rows
    (3, 1, "same", 2, 1, True, "tanh"),          # dilation
    ((3, 2), 1, "valid", (2, 1), 2, True, None),  # groups and dilation
    (1, 2, "valid", 1, 1, True, "sigmoid"),
]


@pytest.mark.parametrize("kernel,strides,padding,dilation,groups,use_bias,activation", CONV2D_CASES)
def test_conv2d(fmt, kernel, strides, padding, dilation, groups, use_bias, activation):
    x = rand(2, 4, 9, 8)
    layer = L.Conv2D(6, kernel, strides=strides, padding=padding, dilation_rate=dilation, groups=groups,
                     use_bias=use_bias, activation=activation)
    weights = set_random_weights(layer, to_keras(x, fmt))
    assert weights[0].shape == tup(kernel, 2) + (4 // groups, 6)
    y = run_layer(layer, x, fmt)
    ref = torch_conv(x, weights[0], weights[1] if use_bias else None, tup(strides, 2), padding,
                     tup(dilation, 2), groups)
    ref = {"relu": np.maximum(ref, 0), "tanh": np.tanh(ref), "sigmoid": 1 / (1 + np.exp(-ref)),
           None: ref}[activation]
    assert_close(y, ref, **TOL)


@pytest.mark.parametrize("kernel,strides,padding,dilation,groups", [
    (3, 1, "valid", 1, 1), (4, 2, "same", 1, 1), (3, 1, "causal", 2, 1), (2, 1, "causal", 1, 2),
    (5, 3, "same", 1, 2)])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_conv1d(data_format, kernel, strides, padding, dilation, groups):
    x = rand(2, 4, 11)
    layer = L.Conv1D(6, kernel, strides=strides, padding=padding, dilation_rate=dilation, groups=groups,
                     data_format=data_format)
    weights = set_random_weights(layer, to_keras(x, data_format))
    y = run_layer(layer, x, data_format)
    assert_close(y, torch_conv(x, weights[0], weights[1], (strides,), padding, (dilation,), groups), **TOL)


def test_conv1d_ignores_image_data_format():
    """Keras 1/2: 1D layers take (batch, steps, features) even when images are channels_first."""
    K.set_image_data_format("channels_first")
    layer = L.Conv1D(3, 2)
    assert layer.data_format == "channels_last"
    assert layer_output(layer, rand(1, 5, 4)).shape == (1, 4, 3)


@pytest.mark.parametrize("kernel,strides,padding", [(2, 1, "valid"), (3, 2, "same"), ((2, 3, 1), (1, 2, 2), "same")])
def test_conv3d(fmt, kernel, strides, padding):
    x = rand(1, 2, 5, 6, 4)
    layer = L.Conv3D(3, kernel, strides=strides, padding=padding)
    weights = set_random_weights(layer, to_keras(x, fmt))
    y = run_layer(layer, x, fmt)
    assert_close(y, torch_conv(x, weights[0], weights[1], tup(strides, 3), padding, (1, 1, 1), 1), **TOL)


# ------------------------------------------------------------------------------------- Conv2DTranspose
def keras_deconv_length(size, k, s, padding, output_padding, d):
    """Keras's deconv_output_length."""
    k = k + (k - 1) * (d - 1)
    if output_padding is None:
        return size * s + max(k - s, 0) if padding == "valid" else size * s
    pad = k // 2 if padding == "same" else 0
    return (size - 1) * s + k - 2 * pad + output_padding


def torch_conv_transpose(x_nc, kernel, bias, strides, padding, output_padding, dilations, out_sizes=None):
    """TF's conv2d_transpose: the input gradient of the Keras-padded conv2d whose input has the
    Keras output size (independent of any crop/pad arithmetic)."""
    out_sizes = out_sizes or [keras_deconv_length(x_nc.shape[2 + i], kernel.shape[i], strides[i], padding,
                                                  None if output_padding is None else output_padding[i],
                                                  dilations[i]) for i in range(2)]
    z = torch.zeros((x_nc.shape[0], kernel.shape[2]) + tuple(out_sizes), dtype=torch.float32, requires_grad=True)
    w = torch.from_numpy(np.transpose(kernel, (3, 2, 0, 1)).copy())  # conv from `filters` to `in` channels
    zp = F.pad(z, same_pads(out_sizes, kernel.shape[:2], strides, dilations)) if padding == "same" else z
    y = F.conv2d(zp, w, stride=strides, dilation=dilations)
    assert tuple(y.shape) == x_nc.shape, "the forward conv must map the output size back to the input size"
    (grad,) = torch.autograd.grad(y, z, grad_outputs=torch.from_numpy(x_nc))
    return grad.numpy() + (0 if bias is None else bias.reshape(1, -1, 1, 1))


@pytest.mark.parametrize("kernel,strides,padding,output_padding,dilation", [
    (3, 2, "same", None, 1), (4, 2, "same", None, 1), (3, 2, "valid", None, 1), (2, 3, "valid", None, 1),
    (1, 2, "same", None, 1), ((3, 2), (2, 1), "same", None, 1), (3, 2, "same", 1, 1), (3, 2, "valid", 1, 1),
    (5, 3, "same", 2, 1), (3, 1, "same", None, 2), (3, 1, "valid", None, 2)])
def test_conv2d_transpose(fmt, kernel, strides, padding, output_padding, dilation):
    x = rand(2, 3, 5, 4)
    layer = L.Conv2DTranspose(4, kernel, strides=strides, padding=padding, output_padding=output_padding,
                              dilation_rate=dilation)
    weights = set_random_weights(layer, to_keras(x, fmt))
    assert weights[0].shape == tup(kernel, 2) + (4, 3)
    y = run_layer(layer, x, fmt)
    ref = torch_conv_transpose(x, weights[0], weights[1], tup(strides, 2), padding,
                               None if output_padding is None else tup(output_padding, 2), tup(dilation, 2))
    assert_close(y, ref, **TOL)


def test_conv2d_transpose_matches_torch_symmetric_case(fmt):
    """Valid padding has no crop ambiguity: plain F.conv_transpose2d."""
    x = rand(1, 3, 4, 5)
    layer = L.Conv2DTranspose(2, 3, strides=2, use_bias=False)
    (kernel,) = set_random_weights(layer, to_keras(x, fmt))
    w = torch.from_numpy(np.transpose(kernel, (3, 2, 0, 1)).copy())  # (in, out, kh, kw)
    ref = F.conv_transpose2d(torch.from_numpy(x), w, stride=2).numpy()
    assert_close(run_layer(layer, x, fmt), ref, **TOL)


@pytest.mark.parametrize("padding,out_sizes", [("same", (9, 10)), ("valid", (12, 11))])
def test_backend_conv2d_transpose_output_shape(fmt, padding, out_sizes):
    """K.conv2d_transpose(x, kernel, output_shape, ...) as Keras's backend takes it."""
    x = rand(2, 3, 5, 5)
    kernel = rand(3, 2, 4, 3, seed=7)
    shape = (None, 4) + out_sizes if fmt == "channels_first" else (None,) + out_sizes + (4,)
    layer = L.Lambda(lambda t: K.conv2d_transpose(t, kernel, shape, strides=(2, 2), padding=padding))
    y = run_layer(layer, x, fmt)
    assert_close(y, torch_conv_transpose(x, kernel, None, (2, 2), padding, None, (1, 1), list(out_sizes)), **TOL)


# ------------------------------------------------------------------------------------- depthwise / separable
def depthwise_to_torch(dk: np.ndarray) -> torch.Tensor:
    """(kh, kw, in, dm) -> grouped-conv weight (in*dm, 1, kh, kw); TF output channel c*dm + m."""
    cin, dm = dk.shape[2], dk.shape[3]
    return torch.from_numpy(np.stack([dk[:, :, o // dm, o % dm] for o in range(cin * dm)])[:, None].copy())


def torch_depthwise(x_nc, dk, strides, padding, dilations):
    x = torch.from_numpy(x_nc)
    if padding == "same":
        x = F.pad(x, same_pads(x_nc.shape[2:], dk.shape[:2], strides, dilations))
    return F.conv2d(x, depthwise_to_torch(dk), stride=strides, dilation=dilations, groups=dk.shape[2])


@pytest.mark.parametrize("kernel,strides,padding,dm,dilation", [
    (3, 1, "valid", 1, 1), (3, 2, "same", 2, 1), (2, 2, "same", 3, 1), ((3, 2), 1, "same", 2, 2)])
def test_depthwise_conv2d(fmt, kernel, strides, padding, dm, dilation):
    x = rand(2, 3, 7, 6)
    layer = L.DepthwiseConv2D(kernel, strides=strides, padding=padding, depth_multiplier=dm,
                              dilation_rate=dilation, activation="relu")
    dk, bias = set_random_weights(layer, to_keras(x, fmt))
    assert dk.shape == tup(kernel, 2) + (3, dm) and bias.shape == (3 * dm,)
    ref = torch_depthwise(x, dk, tup(strides, 2), padding, tup(dilation, 2)).numpy() + bias.reshape(1, -1, 1, 1)
    assert_close(run_layer(layer, x, fmt), np.maximum(ref, 0), **TOL)


@pytest.mark.parametrize("kernel,strides,padding,dm,use_bias", [
    (3, 1, "valid", 1, True), (3, 2, "same", 2, True), (4, 2, "same", 1, False)])
def test_separable_conv2d(fmt, kernel, strides, padding, dm, use_bias):
    x = rand(2, 3, 8, 7)
    layer = L.SeparableConv2D(5, kernel, strides=strides, padding=padding, depth_multiplier=dm,
                              use_bias=use_bias)
    weights = set_random_weights(layer, to_keras(x, fmt))
    dk, pk = weights[0], weights[1]
    assert pk.shape == (1, 1, 3 * dm, 5)
    mid = torch_depthwise(x, dk, tup(strides, 2), padding, (1, 1))
    b = torch.from_numpy(weights[2]) if use_bias else None
    ref = F.conv2d(mid, keras_kernel_to_torch(pk), b).numpy()
    assert_close(run_layer(layer, x, fmt), ref, **TOL)


# ------------------------------------------------------------------------------------- pooling
def torch_pool(x_nc, mode, pool, strides, padding):
    n = x_nc.ndim - 2
    x = torch.from_numpy(x_nc)
    if padding == "valid":
        fn = TORCH_MAX[n] if mode == "max" else TORCH_AVG[n]
        return fn(x, pool, strides).numpy()
    pads = same_pads(x_nc.shape[2:], pool, strides, (1,) * n)
    if mode == "max":
        return TORCH_MAX[n](F.pad(x, pads, value=-np.inf), pool, strides).numpy()
    # average over the real values only (count_include_pad=False for asymmetric pads)
    total = TORCH_AVG[n](F.pad(x, pads), pool, strides)
    count = TORCH_AVG[n](F.pad(torch.ones_like(x), pads), pool, strides)
    return (total / count).numpy()


POOL2D_CASES = [(2, None, "valid"), (3, 2, "same"), (2, 2, "same"), ((3, 2), (2, 1), "same"), (3, 1, "same"),
                ((2, 3), (1, 2), "valid")]


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("pool,strides,padding", POOL2D_CASES)
def test_pool2d(fmt, mode, pool, strides, padding):
    x = rand(2, 3, 7, 8)
    cls = L.MaxPooling2D if mode == "max" else L.AveragePooling2D
    y = run_layer(cls(pool, strides=strides, padding=padding), x, fmt)
    assert_close(y, torch_pool(x, mode, tup(pool, 2), tup(strides or pool, 2), padding), **TOL)


def test_avg_pool_same_matches_torch_count_include_pad_false(fmt):
    """Symmetric 'same' pads: torch's own count_include_pad=False."""
    x = rand(1, 2, 6, 6)
    y = run_layer(L.AveragePooling2D(3, strides=1, padding="same"), x, fmt)
    ref = F.avg_pool2d(torch.from_numpy(x), 3, 1, padding=1, count_include_pad=False).numpy()
    assert_close(y, ref, **TOL)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("pool,strides,padding", [(2, None, "valid"), (3, 2, "same"), (2, 1, "same")])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_pool1d(data_format, mode, pool, strides, padding):
    x = rand(2, 3, 9)
    cls = L.MaxPooling1D if mode == "max" else L.AveragePooling1D
    y = run_layer(cls(pool, strides=strides, padding=padding, data_format=data_format), x, data_format)
    assert_close(y, torch_pool(x, mode, (pool,), (strides or pool,), padding), **TOL)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("pool,strides,padding", [(2, None, "valid"), (2, 2, "same")])
def test_pool3d(fmt, mode, pool, strides, padding):
    x = rand(1, 2, 5, 4, 3)
    cls = L.MaxPooling3D if mode == "max" else L.AveragePooling3D
    y = run_layer(cls(pool, strides=strides, padding=padding), x, fmt)
    assert_close(y, torch_pool(x, mode, tup(pool, 3), tup(strides or pool, 3), padding), **TOL)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling(fmt, rank, mode, keepdims):
    x = rand(2, 3, *(4, 5, 3)[:rank])
    name = {"max": "GlobalMaxPooling", "avg": "GlobalAveragePooling"}[mode]
    layer = getattr(L, f"{name}{rank}D")(keepdims=keepdims, **({"data_format": fmt} if rank == 1 else {}))
    y = layer_output(layer, to_keras(x, fmt))
    axes = tuple(range(2, 2 + rank))
    ref = torch.from_numpy(x).amax(dim=axes) if mode == "max" else torch.from_numpy(x).mean(dim=axes)
    ref = ref.numpy()
    if keepdims:
        ref = to_keras(ref.reshape(ref.shape + (1,) * rank), fmt)
    assert_close(y, ref, **TOL)


# ------------------------------------------------------------------------------------- padding, cropping, upsampling
@pytest.mark.parametrize("padding,pairs", [(1, ((1, 1), (1, 1))), ((2, 0), ((2, 2), (0, 0))),
                                           (((1, 2), (0, 3)), ((1, 2), (0, 3)))])
def test_zero_padding2d(fmt, padding, pairs):
    x = rand(2, 3, 4, 5)
    y = run_layer(L.ZeroPadding2D(padding), x, fmt)
    ref = F.pad(torch.from_numpy(x), [pairs[1][0], pairs[1][1], pairs[0][0], pairs[0][1]]).numpy()
    assert_close(y, ref, **TOL)


def test_zero_padding_1d_3d(fmt):
    x1 = rand(2, 5, 3)
    assert_close(layer_output(L.ZeroPadding1D((1, 2)), x1), np.pad(x1, ((0, 0), (1, 2), (0, 0))), **TOL)
    x3 = rand(1, 2, 3, 2, 4)
    y = run_layer(L.ZeroPadding3D(((1, 0), (0, 2), (1, 1))), x3, fmt)
    assert_close(y, F.pad(torch.from_numpy(x3), [1, 1, 0, 2, 1, 0]).numpy(), **TOL)


def test_cropping(fmt):
    x1 = rand(2, 7, 3)
    assert_close(layer_output(L.Cropping1D((2, 1)), x1), x1[:, 2:-1], **TOL)
    x2 = rand(2, 3, 6, 7)
    assert_close(run_layer(L.Cropping2D(((1, 2), (0, 3))), x2, fmt), x2[:, :, 1:-2, 0:-3], **TOL)
    assert_close(run_layer(L.Cropping2D(1), x2, fmt), x2[:, :, 1:-1, 1:-1], **TOL)
    x3 = rand(1, 2, 4, 5, 6)
    assert_close(run_layer(L.Cropping3D(((1, 0), (0, 2), (1, 1))), x3, fmt), x3[:, :, 1:, :-2, 1:-1], **TOL)


@pytest.mark.parametrize("size", [2, (3, 2)])
def test_upsampling2d_nearest(fmt, size):
    x = rand(2, 3, 4, 5)
    y = run_layer(L.UpSampling2D(size), x, fmt)
    ref = F.interpolate(torch.from_numpy(x), scale_factor=tup(size, 2), mode="nearest").numpy()
    assert_close(y, ref, **TOL)


def test_upsampling2d_bilinear(fmt):
    x = rand(2, 3, 4, 5)
    y = run_layer(L.UpSampling2D((2, 3), interpolation="bilinear"), x, fmt)
    ref = F.interpolate(torch.from_numpy(x), scale_factor=(2, 3), mode="bilinear", align_corners=False).numpy()
    assert_close(y, ref, **TOL)


def test_upsampling_1d_3d(fmt):
    x1 = rand(2, 4, 3)
    assert_close(layer_output(L.UpSampling1D(3), x1), np.repeat(x1, 3, axis=1), **TOL)
    x3 = rand(1, 2, 2, 3, 2)
    y = run_layer(L.UpSampling3D((2, 1, 3)), x3, fmt)
    ref = F.interpolate(torch.from_numpy(x3), scale_factor=(2, 1, 3), mode="nearest").numpy()
    assert_close(y, ref, **TOL)


# ------------------------------------------------------------------------------------- Keras 1 / 2 spellings
def test_keras1_convolution2d():
    """Convolution2D(nb_filter, nb_row, nb_col, border_mode=, subsample=, init=, bias=, dim_ordering=)."""
    x = rand(2, 3, 9, 8)
    layer = L.Convolution2D(5, 3, 3, border_mode="same", subsample=(2, 2), init="he_normal",
                            W_regularizer=None, dim_ordering="th")
    assert (layer.filters, layer.kernel_size, layer.padding, layer.strides, layer.data_format) == \
        (5, (3, 3), "same", (2, 2), "channels_first")
    kernel, bias = set_random_weights(layer, x)
    ref = torch_conv(x, kernel, bias, (2, 2), "same", (1, 1), 1)
    assert_close(layer_output(layer, x), ref, **TOL)

    # Keras 2 legacy reading of three ints and the keyword form, channels_last ('tf')
    assert L.Conv2D(4, 3, 2).kernel_size == (3, 2)
    assert L.Convolution2D(nb_filter=4, nb_row=2, nb_col=5).kernel_size == (2, 5)
    layer = L.Convolution2D(4, 2, 2, bias=False, dim_ordering="tf", activation="relu")
    assert layer.data_format == "channels_last" and not layer.use_bias
    (kernel,) = set_random_weights(layer, to_keras(x, "channels_last"))
    ref = np.maximum(torch_conv(x, kernel, None, (1, 1), "valid", (1, 1), 1), 0)
    assert_close(to_nc(layer_output(layer, to_keras(x, "channels_last")), "channels_last"), ref, **TOL)


def test_keras1_other_convolutions():
    x1 = rand(2, 4, 10)  # (N, C, steps) -> channels_last layout for 1D
    layer = L.Convolution1D(nb_filter=3, filter_length=4, border_mode="same", subsample_length=2)
    kernel, bias = set_random_weights(layer, to_keras(x1, "channels_last"))
    y = to_nc(layer_output(layer, to_keras(x1, "channels_last")), "channels_last")
    assert_close(y, torch_conv(x1, kernel, bias, (2,), "same", (1,), 1), **TOL)

    x = rand(1, 3, 9, 9)
    layer = L.AtrousConvolution2D(4, 3, 3, atrous_rate=(2, 2), border_mode="same", dim_ordering="th")
    assert layer.dilation_rate == (2, 2)
    kernel, bias = set_random_weights(layer, x)
    assert_close(layer_output(layer, x), torch_conv(x, kernel, bias, (1, 1), "same", (2, 2), 1), **TOL)

    layer = L.Deconvolution2D(2, 3, 3, output_shape=(None, 2, 18, 18), subsample=(2, 2), border_mode="same",
                              dim_ordering="th")
    kernel, bias = set_random_weights(layer, x)
    y = layer_output(layer, x)
    assert y.shape == (1, 2, 18, 18)
    assert_close(y, torch_conv_transpose(x, kernel, bias, (2, 2), "same", None, (1, 1)), **TOL)

    layer = L.SeparableConvolution2D(4, 3, 3, depth_multiplier=2, border_mode="same", dim_ordering="th")
    dk, pk, bias = set_random_weights(layer, x)
    ref = F.conv2d(torch_depthwise(x, dk, (1, 1), "same", (1, 1)), keras_kernel_to_torch(pk),
                   torch.from_numpy(bias)).numpy()
    assert_close(layer_output(layer, x), ref, **TOL)

    x3 = rand(1, 2, 4, 4, 3)
    layer = L.Convolution3D(3, 2, 2, 2, border_mode="same", dim_ordering="th")
    kernel, bias = set_random_weights(layer, x3)
    assert kernel.shape == (2, 2, 2, 2, 3)
    assert_close(layer_output(layer, x3), torch_conv(x3, kernel, bias, (1, 1, 1), "same", (1, 1, 1), 1), **TOL)


def test_keras1_pooling_padding_upsampling():
    x = rand(2, 3, 7, 6)
    y = layer_output(L.MaxPooling2D(pool_size=(2, 2), border_mode="same", dim_ordering="th"), x)
    assert_close(y, torch_pool(x, "max", (2, 2), (2, 2), "same"), **TOL)
    y = layer_output(L.AvgPool2D((3, 3), (2, 2), "same", dim_ordering="th"), x)
    assert_close(y, torch_pool(x, "avg", (3, 3), (2, 2), "same"), **TOL)
    x1 = rand(2, 9, 4)  # (N, steps, features)
    y = layer_output(L.MaxPooling1D(pool_length=3, stride=2), x1)
    ref = np.moveaxis(torch_pool(np.moveaxis(x1, 2, 1).copy(), "max", (3,), (2,), "valid"), 1, 2)
    assert_close(y, ref, **TOL)
    assert L.MaxPool2D is L.MaxPooling2D and L.GlobalAvgPool2D is L.GlobalAveragePooling2D
    y = layer_output(L.ZeroPadding2D(padding=(1, 2), dim_ordering="th"), x)
    assert_close(y, np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2))), **TOL)
    y = layer_output(L.ZeroPadding2D(padding=(1, 0, 2, 3), dim_ordering="th"), x)  # (top, bottom, left, right)
    assert_close(y, np.pad(x, ((0, 0), (0, 0), (1, 0), (2, 3))), **TOL)
    y = layer_output(L.ZeroPadding2D(padding={"top_pad": 2, "right_pad": 1}, dim_ordering="th"), x)
    assert_close(y, np.pad(x, ((0, 0), (0, 0), (2, 0), (0, 1))), **TOL)
    assert_close(layer_output(L.UpSampling1D(length=2), x1), np.repeat(x1, 2, axis=1), **TOL)


def test_keras2_conv2d_tuple_kernel_same_padding():
    x = rand(2, 3, 6, 5)
    layer = L.Conv2D(8, (3, 3), padding="same")
    kernel, bias = set_random_weights(layer, to_keras(x, "channels_last"))
    y = to_nc(layer_output(layer, to_keras(x, "channels_last")), "channels_last")
    assert_close(y, torch_conv(x, kernel, bias, (1, 1), "same", (1, 1), 1), **TOL)


# ------------------------------------------------------------------------------------- unknown spatial dims
def test_unknown_spatial_dims_export_and_predict(fmt):
    """A conv net on Input(shape=(None, None, 3)) exports once and runs on two image sizes; it
    matches the same layers applied to static-shape inputs (strided 'same' uses auto_pad)."""
    stack = [L.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
             L.Conv2D(4, 4, padding="same", dilation_rate=2),
             L.MaxPooling2D(3, strides=2, padding="same"),
             L.AveragePooling2D(2, padding="same"),
             L.DepthwiseConv2D(2, strides=2, padding="same"),
             L.UpSampling2D(2),
             L.Conv2DTranspose(3, 3, strides=2, padding="same")]

    def build(shape):
        inp = irgraph.Input(shape=shape)
        y = inp
        for layer in stack:
            y = layer(y)
        return Model(inp, y)

    dyn = build((3, None, None) if fmt == "channels_first" else (None, None, 3))
    proto = dyn.to_onnx(check=True)
    assert any(a.name == "auto_pad" for node in proto.graph.node for a in node.attribute)
    for h, w in [(13, 11), (20, 17)]:
        x = to_keras(rand(2, 3, h, w, seed=h), fmt)
        (y,) = export_and_run(dyn, [x])
        static = build(x.shape[1:])
        assert_close(y, static.predict(x, verbose=0), **TOL)


# ------------------------------------------------------------------------------------- errors
def test_conv2d_on_rank3_input_names_the_layer():
    layer = L.Conv2D(4, 3, name="my_conv")
    with pytest.raises(ValueError, match=r"my_conv.*expected ndim=4, found ndim=3"):
        layer(irgraph.Input(shape=(10, 3)))


def test_kernel_larger_than_input_names_the_layer(fmt):
    layer = L.Conv2D(4, 5, name="big_kernel")
    shape = (2, 3, 3) if fmt == "channels_first" else (3, 3, 2)
    with pytest.raises(ValueError, match=r"big_kernel.*larger than the input's spatial dims \(3, 3\)"):
        layer(irgraph.Input(shape=shape))


def test_pool_larger_than_input_and_bad_arguments():
    with pytest.raises(ValueError, match="pool_big.*larger than"):
        L.MaxPooling2D(4, name="pool_big")(irgraph.Input(shape=(3, 3, 1)))
    with pytest.raises(ValueError, match="conv_pad.*padding must be one of 'valid', 'same'"):
        L.Conv2D(2, 3, padding="causal", name="conv_pad")
    with pytest.raises(ValueError, match="conv_ch.*channel dimension"):
        L.Conv2D(2, 3, name="conv_ch")(irgraph.Input(shape=(5, 5, None)))
    with pytest.raises(ValueError, match="conv_groups.*multiple of groups"):
        L.Conv2D(4, 3, groups=2, name="conv_groups")(irgraph.Input(shape=(5, 5, 3)))


# ------------------------------------------------------------------------------------- backend in custom code
def test_pool2d_in_lambda(fmt):
    x = rand(2, 3, 6, 5)
    layer = L.Lambda(lambda t: K.pool2d(t, (3, 3), strides=(1, 1), padding="same", pool_mode="avg"))
    ref = torch_pool(x, "avg", (3, 3), (1, 1), "same")
    assert_close(run_layer(layer, x, fmt), ref, **TOL)


class LocalResponseNormalization(L.Layer):
    """The custom LRN layer of a Keras 2 seed: K.pool2d + K.sum + K.repeat_elements."""

    def __init__(self, n=3, alpha=0.0005, beta=0.75, k=2, **kwargs):
        self.n, self.alpha, self.beta, self.k = n, alpha, beta, k
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.shape = input_shape
        super().build(input_shape)

    def call(self, x, mask=None):
        _, r, c, f = self.shape
        squared = K.square(x)
        pooled = K.pool2d(squared, (self.n, self.n), strides=(1, 1), padding="same", pool_mode="avg")
        summed = K.sum(pooled, axis=3, keepdims=True)
        averaged = self.alpha * K.repeat_elements(summed, f, axis=3)
        denom = K.pow(self.k + averaged, self.beta)
        return x / denom


def test_custom_lrn_layer():
    x = rand(2, 3, 6, 5)
    y = layer_output(LocalResponseNormalization(), to_keras(x, "channels_last"))
    pooled = torch_pool(x * x, "avg", (3, 3), (1, 1), "same")
    summed = pooled.sum(axis=1, keepdims=True)
    ref = x / (2 + 0.0005 * np.repeat(summed, 3, axis=1)) ** 0.75
    assert_close(y, to_keras(ref, "channels_last"), **TOL)


def test_get_config_round_trip():
    made = [L.Conv1D(3, 2, padding="causal"), L.Conv2D(4, (3, 2), strides=2, groups=2, activation="relu"),
            L.Conv3D(2, 2), L.Conv2DTranspose(3, 3, strides=2, output_padding=1),
            L.DepthwiseConv2D(3, depth_multiplier=2), L.SeparableConv2D(4, 3, use_bias=False),
            L.MaxPooling1D(3), L.AveragePooling2D(2, padding="same"), L.GlobalMaxPooling2D(keepdims=True),
            L.ZeroPadding1D(2), L.ZeroPadding2D(((1, 0), (2, 3))), L.Cropping2D(1), L.UpSampling1D(3),
            L.UpSampling2D(2, interpolation="bilinear"), L.UpSampling3D(2)]
    for layer in made:
        cfg = layer.get_config()
        assert type(layer).from_config(cfg).get_config() == cfg, type(layer).__name__
