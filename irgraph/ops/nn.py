"""Convolution, pooling and resizing primitives, in ONNX layout (N, C, spatial...).

Every op takes explicit per-axis ``strides``, ``pads`` (ONNX order: all begins, then all ends),
``dilations`` and ``group``; ``auto_pad='SAME_UPPER'`` replaces ``pads`` only where the backend
could not compute them (a strided 'same' op over an unknown spatial dim). Keras semantics (layouts,
'same' padding, data formats) live in ``irgraph.backend.conv``.
"""
from __future__ import annotations

import numpy as np

from .base import FLOAT_DTYPES, Op, ShapeError, Spec, fmt_shape, register


def _out_dim(size, k_eff, stride, pad_begin, pad_end, auto_pad):
    """Output length of a sliding window; symbolic dims survive when the op keeps the length."""
    if auto_pad == "SAME_UPPER":
        if isinstance(size, int):
            return -(-size // stride)
        return size if stride == 1 else None
    if isinstance(size, int):
        return (size + pad_begin + pad_end - k_eff) // stride + 1
    if stride == 1 and pad_begin + pad_end == k_eff - 1:
        return size
    return None


def _window_shape(x: Spec, kernel, attrs, what: str) -> tuple:
    """Spatial output dims of a Conv or pool over ``x`` (N, C, spatial...)."""
    n = x.rank - 2
    strides = attrs.get("strides") or (1,) * n
    dilations = attrs.get("dilations") or (1,) * n
    pads = attrs.get("pads") or (0,) * (2 * n)
    auto_pad = attrs.get("auto_pad")
    for name, v, want in (("kernel", kernel, n), ("strides", strides, n), ("dilations", dilations, n),
                          ("pads", pads, 2 * n)):
        if len(v) != want:
            raise ShapeError(f"{what} over {n} spatial axes needs {want} {name} values, got {tuple(v)}")
    out = []
    for i, size in enumerate(x.shape[2:]):
        k_eff = (kernel[i] - 1) * dilations[i] + 1
        d = _out_dim(size, k_eff, strides[i], pads[i], pads[i + n], auto_pad)
        if isinstance(d, int) and d <= 0:
            raise ShapeError(
                f"{what} window {k_eff} (kernel {kernel[i]}, dilation {dilations[i]}) is larger than "
                f"spatial axis {i} of the input {fmt_shape(x.shape)} padded by "
                f"({pads[i]}, {pads[i + n]}); use 'same' padding or a smaller kernel")
        out.append(d)
    return tuple(out)


def _check_float_nc(x: Spec, what: str) -> None:
    if x.rank < 3:
        raise ShapeError(f"{what} needs an input of rank >= 3 (N, C, spatial...), got {fmt_shape(x.shape)}")
    if x.dtype not in FLOAT_DTYPES:
        raise ShapeError(f"{what} needs a floating-point input, got {x.dtype}")


def _conv_attrs(attrs, n: int, kernel) -> dict:
    """The ONNX attributes of a Conv/ConvTranspose node."""
    out = {"kernel_shape": list(kernel), "strides": list(attrs.get("strides") or (1,) * n),
           "dilations": list(attrs.get("dilations") or (1,) * n), "group": int(attrs.get("group", 1))}
    if attrs.get("auto_pad"):
        out["auto_pad"] = attrs["auto_pad"]
    else:
        out["pads"] = list(attrs.get("pads") or (0,) * (2 * n))
    return out


@register
class Conv(Op):
    """Conv(X (N, C, s...), W (M, C/group, k...), B (M,) optional); attrs strides, pads,
    dilations, group, auto_pad."""

    name = "Conv"

    def infer(self, attrs, ins):
        x, w = ins[0], ins[1]
        b = ins[2] if len(ins) > 2 else None
        _check_float_nc(x, "Conv")
        group = attrs.get("group", 1)
        if w.rank != x.rank:
            raise ShapeError(f"Conv kernel {fmt_shape(w.shape)} must have the rank of the input {fmt_shape(x.shape)}")
        m, c_per_group = w.shape[0], w.shape[1]
        if isinstance(x.shape[1], int) and x.shape[1] != c_per_group * group:
            raise ShapeError(f"Conv input has {x.shape[1]} channels, the kernel {fmt_shape(w.shape)} "
                             f"with group={group} expects {c_per_group * group}")
        if m % group:
            raise ShapeError(f"Conv output channels {m} are not divisible by group={group}")
        if b is not None and (b.rank != 1 or b.shape[0] != m):
            raise ShapeError(f"Conv bias must have shape ({m},), got {fmt_shape(b.shape)}")
        spatial = _window_shape(x, w.shape[2:], attrs, "Conv")
        return [Spec((x.shape[0], m) + spatial, x.dtype)]

    def emit(self, e, attrs, ins, outs):
        kernel = e.shape_of(ins[1])[2:]
        e.node("Conv", ins, outs, **_conv_attrs(attrs, len(kernel), kernel))


@register
class ConvTranspose(Op):
    """ConvTranspose(X (N, C, s...), W (C, M/group, k...), B (M,) optional); attrs strides,
    pads, dilations, group, output_padding (all explicit).
    Output length: stride*(in-1) + output_padding + (k-1)*dilation + 1 - pad_begin - pad_end."""

    name = "ConvTranspose"

    def infer(self, attrs, ins):
        x, w = ins[0], ins[1]
        b = ins[2] if len(ins) > 2 else None
        _check_float_nc(x, "ConvTranspose")
        n = x.rank - 2
        group = attrs.get("group", 1)
        if w.rank != x.rank:
            raise ShapeError(f"ConvTranspose kernel {fmt_shape(w.shape)} must have the rank of the "
                             f"input {fmt_shape(x.shape)}")
        if isinstance(x.shape[1], int) and x.shape[1] != w.shape[0]:
            raise ShapeError(f"ConvTranspose input has {x.shape[1]} channels, the kernel "
                             f"{fmt_shape(w.shape)} expects {w.shape[0]}")
        m = w.shape[1] * group
        if b is not None and (b.rank != 1 or b.shape[0] != m):
            raise ShapeError(f"ConvTranspose bias must have shape ({m},), got {fmt_shape(b.shape)}")
        strides = attrs.get("strides") or (1,) * n
        dilations = attrs.get("dilations") or (1,) * n
        pads = attrs.get("pads") or (0,) * (2 * n)
        out_pad = attrs.get("output_padding") or (0,) * n
        spatial = []
        for i, size in enumerate(x.shape[2:]):
            k_eff = (w.shape[2 + i] - 1) * dilations[i] + 1
            grow = out_pad[i] + k_eff - pads[i] - pads[i + n] - strides[i]
            if isinstance(size, int):
                d = strides[i] * size + grow
                if d <= 0:
                    raise ShapeError(f"ConvTranspose output axis {i} would have length {d}: pads "
                                     f"({pads[i]}, {pads[i + n]}) are too large")
            else:
                d = size if strides[i] == 1 and grow == 0 else None
            spatial.append(d)
        return [Spec((x.shape[0], m) + tuple(spatial), x.dtype)]

    def emit(self, e, attrs, ins, outs):
        kernel = e.shape_of(ins[1])[2:]
        n = len(kernel)
        e.node("ConvTranspose", ins, outs, **_conv_attrs(attrs, n, kernel),
               output_padding=list(attrs.get("output_padding") or (0,) * n))


class _Pool(Op):
    """Pooling over (N, C, s...); attrs kernel_shape, strides, pads, auto_pad."""

    def infer(self, attrs, ins):
        (x,) = ins
        _check_float_nc(x, self.name)
        spatial = _window_shape(x, attrs["kernel_shape"], attrs, self.name)
        return [Spec(x.shape[:2] + spatial, x.dtype)]

    def _attrs(self, attrs, n):
        out = {"kernel_shape": list(attrs["kernel_shape"]), "strides": list(attrs.get("strides") or (1,) * n)}
        if attrs.get("auto_pad"):
            out["auto_pad"] = attrs["auto_pad"]
        else:
            out["pads"] = list(attrs.get("pads") or (0,) * (2 * n))
        return out


@register
class MaxPool(_Pool):
    """Max pooling; padded positions never win (they act as -inf)."""

    name = "MaxPool"

    def emit(self, e, attrs, ins, outs):
        e.node("MaxPool", ins, outs, **self._attrs(attrs, len(attrs["kernel_shape"])))


@register
class AveragePool(_Pool):
    """Average pooling that excludes padded positions from the count (count_include_pad=0)."""

    name = "AveragePool"

    def emit(self, e, attrs, ins, outs):
        e.node("AveragePool", ins, outs, count_include_pad=0,
               **self._attrs(attrs, len(attrs["kernel_shape"])))


@register
class Resize(Op):
    """Upsample by integer ``scales`` (one per axis, 1 for untouched axes).
    ``mode='nearest'`` repeats values (np.repeat on each axis); ``mode='linear'`` interpolates with
    half-pixel centres (TF2 / PyTorch align_corners=False)."""

    name = "Resize"

    def infer(self, attrs, ins):
        (x,) = ins
        scales = attrs["scales"]
        if len(scales) != x.rank:
            raise ShapeError(f"Resize needs one scale per axis of {fmt_shape(x.shape)}, got {tuple(scales)}")
        if any(int(s) != s or s < 1 for s in scales):
            raise ShapeError(f"Resize scales must be positive integers, got {tuple(scales)}")
        if attrs.get("mode", "nearest") not in ("nearest", "linear"):
            raise ShapeError(f"Resize mode must be 'nearest' or 'linear', got {attrs.get('mode')!r}")
        shape = tuple(d * int(s) if isinstance(d, int) else (d if s == 1 else None)
                      for d, s in zip(x.shape, scales))
        return [Spec(shape, x.dtype)]

    def emit(self, e, attrs, ins, outs):
        scales = e.const(np.array(attrs["scales"], dtype=np.float32))
        if attrs.get("mode", "nearest") == "nearest":
            e.node("Resize", [ins[0], "", scales], outs, mode="nearest",
                   coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        else:
            e.node("Resize", [ins[0], "", scales], outs, mode="linear",
                   coordinate_transformation_mode="half_pixel")

    def compute(self, attrs, x):
        if attrs.get("mode", "nearest") != "nearest":
            raise NotImplementedError("only nearest resizing folds in numpy")
        for axis, s in enumerate(attrs["scales"]):
            x = np.repeat(x, int(s), axis=axis)
        return (x,)
