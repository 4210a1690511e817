"""Convolution, pooling, padding and resizing backend functions (Keras 2 signatures).

Kernels come in Keras layout and are transposed to ONNX layout inside the graph (onnxruntime folds
the Transpose of an initializer): ConvND (k..., in/groups, out), Conv2DTranspose (kh, kw, out, in),
depthwise (kh, kw, in, depth_multiplier). Channels-last data is transposed to channels-first around
each ONNX op. Keras 'same' padding is computed explicitly per axis (the odd pad goes at the end);
only a strided 'same' window over an unknown spatial dim falls back to ONNX auto_pad='SAME_UPPER',
which is the same rule evaluated at run time. Keras 1 keywords (border_mode, dim_ordering,
filter_dilation) are accepted; kernels are always in the Keras 2 layout.
"""
from __future__ import annotations

from ..ops.trace import apply
from . import config
from .math import _v, permute_dimensions, reshape, symbolic

__all__ = ["conv1d", "conv2d", "conv3d", "conv2d_transpose", "depthwise_conv2d", "separable_conv2d",
           "pool1d", "pool2d", "pool3d", "temporal_padding", "spatial_2d_padding",
           "asymmetric_spatial_2d_padding", "spatial_3d_padding", "resize_images", "resize_volumes"]


# ------------------------------------------------------------------------------------- helpers
def _ints(value, n: int, what: str) -> tuple:
    """An int or a sequence of n ints -> a tuple of n ints."""
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError(f"{what} needs {n} values (one per spatial axis), got {value}")
    return value


def _legacy(fn: str, kwargs: dict, padding, data_format, dilation_rate=None):
    """Keras 1 keyword spellings: border_mode, dim_ordering ('default'/'th'/'tf'), filter_dilation."""
    padding = kwargs.pop("border_mode", padding)
    ordering = kwargs.pop("dim_ordering", None)
    if ordering is not None and ordering != "default":
        data_format = ordering
    dilation_rate = kwargs.pop("filter_dilation", dilation_rate)
    for ignored in ("image_shape", "filter_shape", "volume_shape"):
        kwargs.pop(ignored, None)
    if kwargs:
        raise TypeError(f"{fn}() got unexpected keyword argument(s) {', '.join(sorted(kwargs))}")
    return padding, config.normalize_data_format(data_format), dilation_rate


def _check_rank(x, n: int, data_format: str, fn: str) -> None:
    if x.ndim != n + 2:
        axes = {1: "steps", 2: "rows, cols", 3: "dim1, dim2, dim3"}[n]
        layout = f"(batch, channels, {axes})" if data_format == "channels_first" else f"(batch, {axes}, channels)"
        raise ValueError(f"{fn} expects a {n + 2}D input {layout} for {data_format} data, "
                         f"got shape {x.shape}")


def _to_nc(x, data_format: str):
    """(N, s..., C) -> (N, C, s...) for channels_last data; channels_first passes through."""
    if data_format == "channels_first":
        return x
    n = x.ndim
    return permute_dimensions(x, (0, n - 1) + tuple(range(1, n - 1)))


def _from_nc(y, data_format: str):
    if data_format == "channels_first":
        return y
    n = y.ndim
    return permute_dimensions(y, (0,) + tuple(range(2, n)) + (1,))


def _spatial(x, data_format: str) -> tuple:
    return tuple(x.shape[2:] if data_format == "channels_first" else x.shape[1:-1])


def _channels(x, data_format: str):
    return x.shape[1] if data_format == "channels_first" else x.shape[-1]


def _window_attrs(fn: str, spatial, kernel, strides, dilations, padding) -> dict:
    """ONNX pads (or auto_pad) for Keras padding 'valid', 'same' or 'causal' (1D).

    'same': total = max((ceil(in/s) - 1)*s + (k-1)*d + 1 - in, 0), pad_before = total // 2.
    With an unknown dim this is known only for stride 1 (total = (k-1)*d); otherwise the op uses
    auto_pad='SAME_UPPER', which onnxruntime supports only without dilation."""
    padding = str(padding).lower()
    n = len(kernel)
    begin, end = [0] * n, [0] * n
    for i, (size, k, s, d) in enumerate(zip(spatial, kernel, strides, dilations)):
        k_eff = (k - 1) * d + 1
        if padding == "valid":
            total = 0
        elif padding == "same":
            if size is None:
                if s != 1:
                    if any(dd != 1 for dd in dilations):
                        raise ValueError(f"{fn}: padding='same' with strides {tuple(strides)} and dilation "
                                         f"{tuple(dilations)} needs known spatial dims, got {tuple(spatial)}; "
                                         "give the Input a static shape")
                    return {"auto_pad": "SAME_UPPER"}
                total = k_eff - 1
            else:
                total = max((-(-size // s) - 1) * s + k_eff - size, 0)
        elif padding == "causal" and n == 1:
            begin[i] = k_eff - 1
            continue
        else:
            raise ValueError(f"{fn}: padding must be 'valid' or 'same'"
                             f"{' (or causal)' if n == 1 else ''}, got {padding!r}")
        begin[i], end[i] = total // 2, total - total // 2
    for i, (size, k, d) in enumerate(zip(spatial, kernel, dilations)):
        k_eff = (k - 1) * d + 1
        if size is not None and size + begin[i] + end[i] < k_eff:
            dilated = f" (dilation {tuple(dilations)})" if max(dilations) > 1 else ""
            raise ValueError(f"{fn}: the window {tuple(kernel)}{dilated} is larger than the input's spatial "
                             f"dims {tuple(spatial)} with padding={padding!r}; use padding='same', a smaller "
                             "window or a larger input")
    return {"pads": tuple(begin) + tuple(end)}


# ------------------------------------------------------------------------------------- convolutions
def _conv_nc(fn, x_nc, w, bias, spatial, strides, padding, dilation_rate, kernel_spatial, group):
    """Conv over a channels-first input with an ONNX-layout kernel ``w`` (out, in/group, k...)."""
    n = len(kernel_spatial)
    strides = _ints(strides, n, f"{fn} strides")
    dilations = _ints(dilation_rate, n, f"{fn} dilation_rate")
    attrs = _window_attrs(fn, spatial, kernel_spatial, strides, dilations, padding)
    ins = [x_nc, w] + ([] if bias is None else [_v(bias, x_nc.dtype)])
    return apply("Conv", ins, strides=strides, dilations=dilations, group=group, **attrs)


def _conv_nd(fn, n, x, kernel, strides, padding, data_format, dilation_rate, bias, kwargs):
    padding, data_format, dilation_rate = _legacy(fn, kwargs, padding, data_format, dilation_rate)
    x = _v(x)
    kernel = _v(kernel, x.dtype)
    _check_rank(x, n, data_format, fn)
    if kernel.ndim != n + 2:
        raise ValueError(f"{fn} expects a {n + 2}D kernel (k..., in_channels/groups, filters), "
                         f"got shape {kernel.shape}")
    channels, k_in = _channels(x, data_format), kernel.shape[-2]
    if channels is not None and channels % k_in:
        raise ValueError(f"{fn}: the input has {channels} channels, which is not a multiple of the "
                         f"kernel's input channels {k_in} (kernel shape {kernel.shape})")
    group = 1 if channels is None else channels // k_in
    w = permute_dimensions(kernel, (n + 1, n) + tuple(range(n)))  # -> (out, in/group, k...)
    y = _conv_nc(fn, _to_nc(x, data_format), w, bias, _spatial(x, data_format), strides, padding,
                 dilation_rate, kernel.shape[:n], group)
    return _from_nc(y, data_format)


@symbolic
def conv1d(x, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1, bias=None, **kwargs):
    """1D convolution; kernel (k, in/groups, filters); padding 'valid', 'same' or 'causal'.
    ``bias`` (filters,) is an irgraph extension that feeds the Conv node's bias input."""
    if data_format is None:
        data_format = "channels_last"  # Keras 1/2: 1D data is (steps, features) whatever the image format
    return _conv_nd("conv1d", 1, x, kernel, strides, padding, data_format, dilation_rate, bias, kwargs)


@symbolic
def conv2d(x, kernel, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1), bias=None,
           **kwargs):
    """2D convolution; kernel (kh, kw, in/groups, filters); groups follow from the channel counts."""
    return _conv_nd("conv2d", 2, x, kernel, strides, padding, data_format, dilation_rate, bias, kwargs)


@symbolic
def conv3d(x, kernel, strides=(1, 1, 1), padding="valid", data_format=None, dilation_rate=(1, 1, 1),
           bias=None, **kwargs):
    return _conv_nd("conv3d", 3, x, kernel, strides, padding, data_format, dilation_rate, bias, kwargs)


def _transpose_pads(size, k_eff, s, padding, output_padding, target):
    """(pad_begin, pad_end, output_padding) of a ConvTranspose reproducing Keras/TF's output.

    TF computes conv2d_transpose as the gradient of a conv whose input has the target length, so the
    full transposed output ((in-1)*s + k_eff) is cropped by that conv's pad_before = total // 2."""
    same = padding == "same"
    if target is not None and size is not None:
        full = (size - 1) * s + k_eff
        begin = max(full - target, 0) // 2 if same else 0
        end = full - begin - target
    elif output_padding is None:  # Keras: out = in*s ('same'), in*s + max(k_eff - s, 0) ('valid')
        total = k_eff - s
        begin = max(total, 0) // 2 if same else 0
        end = total - begin if same else min(total, 0)
    else:  # Keras: out = (in-1)*s + k_eff - 2*(k_eff//2 if same else 0) + output_padding
        crop = 2 * (k_eff // 2) if same else 0
        begin = max(crop - output_padding, 0) // 2
        end = crop - output_padding - begin
    return begin, max(end, 0), max(-end, 0)


@symbolic
def conv2d_transpose(x, kernel, output_shape=None, strides=(1, 1), padding="valid", data_format=None,
                     dilation_rate=(1, 1), output_padding=None, bias=None, **kwargs):
    """Transposed 2D convolution; kernel (kh, kw, filters, in_channels).

    The output size follows Keras: ``output_shape`` (full shape, as Keras's backend takes it) if given,
    else ``output_padding`` (Keras 2.2+ layer argument) or the default in*stride ('same')."""
    padding, data_format, dilation_rate = _legacy("conv2d_transpose", kwargs, padding, data_format, dilation_rate)
    padding = str(padding).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"conv2d_transpose: padding must be 'valid' or 'same', got {padding!r}")
    x = _v(x)
    kernel = _v(kernel, x.dtype)
    _check_rank(x, 2, data_format, "conv2d_transpose")
    if kernel.ndim != 4:
        raise ValueError(f"conv2d_transpose expects a 4D kernel (kh, kw, filters, in_channels), got {kernel.shape}")
    channels = _channels(x, data_format)
    if channels is not None and channels != kernel.shape[3]:
        raise ValueError(f"conv2d_transpose: the input has {channels} channels, the kernel {kernel.shape} "
                         f"expects {kernel.shape[3]} (its last axis)")
    strides = _ints(strides, 2, "conv2d_transpose strides")
    dilations = _ints(dilation_rate, 2, "conv2d_transpose dilation_rate")
    out_pad = None if output_padding is None else _ints(output_padding, 2, "conv2d_transpose output_padding")
    targets = (None, None)
    if output_shape is not None:
        out = tuple(output_shape)
        targets = tuple(out[2:4] if data_format == "channels_first" else out[1:3])
        targets = tuple(None if t is None else int(t) for t in targets)
    pads, ops = [0] * 4, [0, 0]
    for i, size in enumerate(_spatial(x, data_format)):
        k_eff = (kernel.shape[i] - 1) * dilations[i] + 1
        pads[i], pads[i + 2], ops[i] = _transpose_pads(size, k_eff, strides[i], padding,
                                                       None if out_pad is None else out_pad[i], targets[i])
    w = permute_dimensions(kernel, (3, 2, 0, 1))  # -> (in, out, kh, kw)
    ins = [_to_nc(x, data_format), w] + ([] if bias is None else [_v(bias, x.dtype)])
    y = apply("ConvTranspose", ins, strides=strides, dilations=dilations, group=1, pads=tuple(pads),
              output_padding=tuple(ops))
    return _from_nc(y, data_format)


def _depthwise_weight(fn, x, depthwise_kernel, data_format):
    """(kh, kw, in, dm) -> ONNX grouped-conv weight (in*dm, 1, kh, kw); output channel c*dm + m."""
    kernel = _v(depthwise_kernel, x.dtype)
    if kernel.ndim != 4:
        raise ValueError(f"{fn} expects a 4D depthwise kernel (kh, kw, in_channels, depth_multiplier), "
                         f"got {kernel.shape}")
    kh, kw, cin, dm = kernel.shape
    channels = _channels(x, data_format)
    if channels is not None and channels != cin:
        raise ValueError(f"{fn}: the input has {channels} channels, the depthwise kernel {kernel.shape} "
                         f"expects {cin}")
    w = reshape(permute_dimensions(kernel, (2, 3, 0, 1)), (cin * dm, 1, kh, kw))
    return w, cin, (kh, kw)


@symbolic
def depthwise_conv2d(x, depthwise_kernel, strides=(1, 1), padding="valid", data_format=None,
                     dilation_rate=(1, 1), bias=None, **kwargs):
    padding, data_format, dilation_rate = _legacy("depthwise_conv2d", kwargs, padding, data_format, dilation_rate)
    x = _v(x)
    _check_rank(x, 2, data_format, "depthwise_conv2d")
    w, cin, ksize = _depthwise_weight("depthwise_conv2d", x, depthwise_kernel, data_format)
    y = _conv_nc("depthwise_conv2d", _to_nc(x, data_format), w, bias, _spatial(x, data_format), strides,
                 padding, dilation_rate, ksize, cin)
    return _from_nc(y, data_format)


@symbolic
def separable_conv2d(x, depthwise_kernel, pointwise_kernel, strides=(1, 1), padding="valid",
                     data_format=None, dilation_rate=(1, 1), bias=None, **kwargs):
    """Depthwise conv (kh, kw, in, dm) then a 1x1 conv with the pointwise kernel (1, 1, in*dm, filters)."""
    padding, data_format, dilation_rate = _legacy("separable_conv2d", kwargs, padding, data_format, dilation_rate)
    x = _v(x)
    _check_rank(x, 2, data_format, "separable_conv2d")
    w, cin, ksize = _depthwise_weight("separable_conv2d", x, depthwise_kernel, data_format)
    pointwise = _v(pointwise_kernel, x.dtype)
    if pointwise.ndim != 4 or pointwise.shape[:2] != (1, 1) or pointwise.shape[2] != w.shape[0]:
        raise ValueError(f"separable_conv2d expects a pointwise kernel (1, 1, {w.shape[0]}, filters), "
                         f"got {pointwise.shape}")
    y = _conv_nc("separable_conv2d", _to_nc(x, data_format), w, None, _spatial(x, data_format), strides,
                 padding, dilation_rate, ksize, cin)
    pw = permute_dimensions(pointwise, (3, 2, 0, 1))  # -> (filters, in*dm, 1, 1)
    y = _conv_nc("separable_conv2d", y, pw, bias, y.shape[2:], 1, "valid", 1, (1, 1), 1)
    return _from_nc(y, data_format)


# ------------------------------------------------------------------------------------- pooling
def _pool(fn, n, x, pool_size, strides, padding, data_format, pool_mode, kwargs):
    padding, data_format, _ = _legacy(fn, kwargs, padding, data_format)
    x = _v(x)
    _check_rank(x, n, data_format, fn)
    padding = str(padding).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"{fn}: padding must be 'valid' or 'same', got {padding!r}")
    if pool_mode not in ("max", "avg"):
        raise ValueError(f"{fn}: pool_mode must be 'max' or 'avg', got {pool_mode!r}")
    kernel = _ints(pool_size, n, f"{fn} pool_size")
    strides = _ints(kernel if strides is None else strides, n, f"{fn} strides")
    attrs = _window_attrs(fn, _spatial(x, data_format), kernel, strides, (1,) * n, padding)
    op = "MaxPool" if pool_mode == "max" else "AveragePool"
    y = apply(op, [_to_nc(x, data_format)], kernel_shape=kernel, strides=strides, **attrs)
    return _from_nc(y, data_format)


@symbolic
def pool1d(x, pool_size, strides=1, padding="valid", data_format=None, pool_mode="max", **kwargs):
    if data_format is None:
        data_format = "channels_last"  # as conv1d
    return _pool("pool1d", 1, x, pool_size, strides, padding, data_format, pool_mode, kwargs)


@symbolic
def pool2d(x, pool_size, strides=(1, 1), padding="valid", data_format=None, pool_mode="max", **kwargs):
    """Max or average pooling; 'same' pads never win a max and are not counted in an average."""
    return _pool("pool2d", 2, x, pool_size, strides, padding, data_format, pool_mode, kwargs)


@symbolic
def pool3d(x, pool_size, strides=(1, 1, 1), padding="valid", data_format=None, pool_mode="max", **kwargs):
    return _pool("pool3d", 3, x, pool_size, strides, padding, data_format, pool_mode, kwargs)


# ------------------------------------------------------------------------------------- padding
def _pad_pairs(padding, n: int, fn: str) -> tuple:
    """int, (sym_1, ..., sym_n) or ((b1, e1), ..., (bn, en)) -> ((b1, e1), ..., (bn, en))."""
    if isinstance(padding, int):
        return ((padding, padding),) * n
    padding = tuple(padding)
    if n == 1 and len(padding) == 2 and all(isinstance(p, int) for p in padding):
        return (tuple(padding),)
    if len(padding) == n and all(isinstance(p, int) for p in padding):
        return tuple((p, p) for p in padding)
    if len(padding) == n and all(len(tuple(p)) == 2 for p in padding):
        return tuple((int(p[0]), int(p[1])) for p in padding)
    raise ValueError(f"{fn}: padding must be an int, {n} ints or {n} (begin, end) pairs, got {padding!r}")


def _pad_spatial(fn, x, pairs, data_format):
    x = _v(x)
    n = len(pairs)
    _check_rank(x, n, data_format, fn)
    if any(b < 0 or e < 0 for b, e in pairs):
        raise ValueError(f"{fn}: padding must be non-negative, got {pairs}")
    first = 2 if data_format == "channels_first" else 1
    begin, end = [0] * x.ndim, [0] * x.ndim
    for i, (b, e) in enumerate(pairs):
        begin[first + i], end[first + i] = b, e
    return apply("Pad", [x], pads=tuple(begin + end), mode="constant", value=0.0)


@symbolic
def temporal_padding(x, padding=(1, 1)):
    """Zero-pad the steps axis of (batch, steps, features)."""
    return _pad_spatial("temporal_padding", x, _pad_pairs(padding, 1, "temporal_padding"), "channels_last")


@symbolic
def spatial_2d_padding(x, padding=((1, 1), (1, 1)), data_format=None, **kwargs):
    _, data_format, _ = _legacy("spatial_2d_padding", kwargs, None, data_format)
    return _pad_spatial("spatial_2d_padding", x, _pad_pairs(padding, 2, "spatial_2d_padding"), data_format)


@symbolic
def asymmetric_spatial_2d_padding(x, top_pad=1, bottom_pad=1, left_pad=1, right_pad=1, data_format=None,
                                  **kwargs):
    """Keras 1 spelling of spatial_2d_padding with four pads."""
    _, data_format, _ = _legacy("asymmetric_spatial_2d_padding", kwargs, None, data_format)
    return _pad_spatial("asymmetric_spatial_2d_padding", x, ((top_pad, bottom_pad), (left_pad, right_pad)),
                        data_format)


@symbolic
def spatial_3d_padding(x, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
    _, data_format, _ = _legacy("spatial_3d_padding", kwargs, None, data_format)
    return _pad_spatial("spatial_3d_padding", x, _pad_pairs(padding, 3, "spatial_3d_padding"), data_format)


# ------------------------------------------------------------------------------------- resizing
def resize(x, factors, data_format, fn="resize", interpolation="nearest"):
    """Upsample the spatial axes by integer ``factors`` (nearest repeats; bilinear, half-pixel)."""
    x = _v(x)
    n = len(factors)
    _check_rank(x, n, data_format, fn)
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"{fn}: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    if interpolation == "bilinear" and n != 2:
        raise ValueError(f"{fn}: bilinear interpolation needs 2 spatial axes, got {n}")
    factors = tuple(int(f) for f in factors)
    if any(f < 1 for f in factors):
        raise ValueError(f"{fn}: upsampling factors must be positive integers, got {factors}")
    first = 2 if data_format == "channels_first" else 1
    scales = [1] * x.ndim
    scales[first:first + n] = factors
    if interpolation == "bilinear":  # onnxruntime interpolates the two innermost axes: go NCHW
        y = apply("Resize", [_to_nc(x, data_format)], scales=(1, 1) + factors, mode="linear")
        return _from_nc(y, data_format)
    return apply("Resize", [x], scales=tuple(scales), mode="nearest")


@symbolic
def resize_images(x, height_factor, width_factor, data_format=None, interpolation="nearest", **kwargs):
    _, data_format, _ = _legacy("resize_images", kwargs, None, data_format)
    return resize(x, (height_factor, width_factor), data_format, "resize_images", interpolation)


@symbolic
def resize_volumes(x, depth_factor, height_factor, width_factor, data_format=None, **kwargs):
    _, data_format, _ = _legacy("resize_volumes", kwargs, None, data_format)
    return resize(x, (depth_factor, height_factor, width_factor), data_format, "resize_volumes")
