"""Convolution, pooling and resizing primitives, in ONNX layout (N, C, spatial...).

Every op takes explicit per-axis ``strides``, ``pads`` (ONNX order: all begins, then all ends),
``dilations`` and ``group``; ``auto_pad='SAME_UPPER'`` replaces ``pads`` only where the backend
could not compute them (a strided 'same' op over an unknown spatial dim). Keras semantics (layouts,
'same' padding, data formats) live in ``irgraph.backend.conv``.
"""
from __future__ import annotations

import numpy as np

from .base import FLOAT_DTYPES, Op, ShapeError, Spec, fmt_shape, register
from . import grad_utils as gu
from .trace import apply, constant


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
        if not isinstance(kernel[i], int):  # a run-time kernel (the weight gradient's Conv)
            out.append(None)
            continue
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
    out = {"strides": list(attrs.get("strides") or (1,) * n),
           "dilations": list(attrs.get("dilations") or (1,) * n), "group": int(attrs.get("group", 1))}
    if all(isinstance(k, int) for k in kernel):  # else ONNX reads it from the weight at run time
        out["kernel_shape"] = list(kernel)
    return {**out, **_padding_attrs(attrs, n)}


def _padding_attrs(attrs, n: int) -> dict:
    """``auto_pad`` when set, else explicit ``pads`` (zeros by default): ONNX takes one or the other."""
    if attrs.get("auto_pad"):
        return {"auto_pad": attrs["auto_pad"]}
    return {"pads": list(attrs.get("pads") or (0,) * (2 * n))}


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
        if isinstance(x.shape[1], int) and isinstance(c_per_group, int) and x.shape[1] != c_per_group * group:
            raise ShapeError(f"Conv input has {x.shape[1]} channels, the kernel {fmt_shape(w.shape)} "
                             f"with group={group} expects {c_per_group * group}")
        if isinstance(m, int) and m % group:
            raise ShapeError(f"Conv output channels {m} are not divisible by group={group}")
        if b is not None and (b.rank != 1 or b.shape[0] != m):
            raise ShapeError(f"Conv bias must have shape ({m},), got {fmt_shape(b.shape)}")
        spatial = _window_shape(x, w.shape[2:], attrs, "Conv")
        return [Spec((x.shape[0], m) + spatial, x.dtype)]

    def emit(self, e, attrs, ins, outs):
        kernel = e.shape_of(ins[1])[2:]
        e.node("Conv", ins, outs, **_conv_attrs(attrs, len(kernel), kernel))

    def vjp(self, attrs, ins, outs, grads):
        """x: ConvTranspose of the gradient with the same weight (`_conv_input_grad`);
        w: a Conv of the batch/channel-swapped input and gradient (`_conv_weight_grad`);
        b: the gradient summed over all axes but the channels."""
        x, w = ins[0], ins[1]
        b = ins[2] if len(ins) > 2 else None
        (g,) = grads
        if g is None:
            return [None] * len(ins)
        if not gu.static(w.sym_shape[2:]):
            raise NotImplementedError(
                "cannot differentiate a Conv whose kernel size is only known at run time (the weight "
                "gradient of a convolution over inputs of unknown spatial size): second-order "
                "gradients of such convolutions need static spatial input shapes")
        group = attrs.get("group", 1)
        gx = _conv_input_grad(g, w, x, attrs, group) if gu.needs_grad(x) else None
        gw = _conv_weight_grad(x, g, w, attrs, group) if gu.needs_grad(w) else None
        out = [gx, gw]
        if len(ins) > 2:
            out.append(_bias_grad(g) if gu.needs_grad(b) else None)
        return out


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

    def vjp(self, attrs, ins, outs, grads):
        """ConvTranspose is the adjoint of Conv: x gets Conv(g, w) with the same strides, pads,
        dilations and group (cut back to x's length when output_padding >= stride); w gets the
        Conv weight gradient with the roles of input and output gradient exchanged."""
        x, w = ins[0], ins[1]
        b = ins[2] if len(ins) > 2 else None
        (g,) = grads
        if g is None:
            return [None] * len(ins)
        if attrs.get("auto_pad"):
            raise NotImplementedError("the gradient of ConvTranspose with auto_pad is not implemented; "
                                      "give explicit pads")
        n = x.ndim - 2
        strides, dilations, pads = _geometry(attrs, n)
        out_pad = list(attrs.get("output_padding") or (0,) * n)
        group = attrs.get("group", 1)
        gx = gw = None
        if gu.needs_grad(x):
            gx = apply("Conv", [g, w], strides=tuple(strides), dilations=tuple(dilations), pads=tuple(pads),
                       group=group)
            if any(op >= s for op, s in zip(out_pad, strides)):  # the Conv sees op // s extra steps
                gx = _crop_to(gx, x, [0] * n)
        if gu.needs_grad(w):
            gw = _conv_weight_grad(g, x, w, {**attrs, "output_padding": None}, group)
        out = [gx, gw]
        if len(ins) > 2:
            out.append(_bias_grad(g) if gu.needs_grad(b) else None)
        return out


# --------------------------------------------------------------------------------- gradients
def _geometry(attrs, n):
    return (list(attrs.get("strides") or (1,) * n), list(attrs.get("dilations") or (1,) * n),
            list(attrs.get("pads") or (0,) * (2 * n)))


def _bias_grad(g):
    return apply("ReduceSum", [g], axes=(0,) + tuple(range(2, g.ndim)), keepdims=False)


def _spatial_dims(x):
    """Shape(x)[2:]: the run-time spatial lengths of an (N, C, spatial...) tensor."""
    return gu.dims(x, 2)


def _same_upper_begin(x, kernel, strides, dilations):
    """The run-time begin pads (1-D int64) that auto_pad='SAME_UPPER' gives x's spatial axes:
    total = max((ceil(in / s) - 1) * s + k_eff - in, 0), begin = total // 2."""
    size = _spatial_dims(x)
    s = gu.i64(strides)
    k_eff = gu.i64([(k - 1) * d + 1 for k, d in zip(kernel, dilations)])
    out = apply("Div", [size + s - 1, s])
    total = apply("Max", [(out - 1) * s + k_eff - size, gu.i64([0])])
    return apply("Div", [total, gu.i64([2])])


def _crop_to(y, x, begin):
    """y[:, :, begin : begin + spatial(x)] (begin: ints or a 1-D int64 Value), shaped like x's
    spatial axes (the batch and channel dims stay y's)."""
    n = x.ndim - 2
    start = begin if isinstance(begin, gu.Value) else gu.i64(begin)
    out_shape = y.sym_shape[:2] + x.sym_shape[2:]
    return apply("Slice", [y, start, start + _spatial_dims(x)], axes=list(range(2, 2 + n)), steps=[1] * n,
                 out_shape=out_shape)


def _conv_input_grad(g, w, x, attrs, group):
    """dL/dx of y = Conv(x, w): ConvTranspose(g, w) with the forward's strides, dilations, pads and
    group, and output_padding = (in + pads - k_eff) mod stride, which restores the input length.
    Only the spatial dims of ``x`` are used. When they are unknown (and strides > 1) or the pads
    are auto_pad='SAME_UPPER', the ConvTranspose keeps every position (output_padding = stride - 1)
    and a dynamic Slice cuts out x's extent at the run-time begin pad."""
    n = x.ndim - 2
    kernel = w.sym_shape[2:]
    strides, dilations, pads = _geometry(attrs, n)
    k_eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    spatial = x.sym_shape[2:]
    kw = dict(strides=tuple(strides), dilations=tuple(dilations), group=group)
    auto = attrs.get("auto_pad")
    if auto:
        if auto != "SAME_UPPER":
            raise NotImplementedError(f"the gradient of auto_pad={auto!r} is not implemented")
        begin = _same_upper_begin(x, kernel, strides, dilations)
        y = apply("ConvTranspose", [g, w], pads=(0,) * (2 * n), output_padding=tuple(s - 1 for s in strides), **kw)
        return _crop_to(y, x, begin)
    if all(s == 1 for s in strides) and group == 1 and gu.static(kernel) and \
            all(pads[i] <= k_eff[i] - 1 and pads[i + n] <= k_eff[i] - 1 for i in range(n)):
        return _conv_input_grad_as_conv(g, w, n, k_eff, dilations, pads)
    if gu.static(spatial) or all(s == 1 for s in strides):
        out_pad = tuple(0 if s == 1 else (spatial[i] + pads[i] + pads[i + n] - k_eff[i]) % s
                        for i, s in enumerate(strides))
        return apply("ConvTranspose", [g, w], pads=tuple(pads), output_padding=out_pad, **kw)
    y = apply("ConvTranspose", [g, w], pads=tuple(pads), output_padding=tuple(s - 1 for s in strides), **kw)
    return _crop_to(y, x, [0] * n)


def _conv_input_grad_as_conv(g, w, n, k_eff, dilations, pads):
    """Stride-1 input gradient as a plain Conv (onnxruntime's Conv is much faster than its
    ConvTranspose): correlate g with the spatially flipped kernel, in/out channels swapped, padded by
    k_eff - 1 - pad on each side, which gives back exactly the input's length."""
    flip = apply("Slice", [w], starts=[-1] * n, ends=[-2**62] * n, axes=list(range(2, 2 + n)),
                 steps=[-1] * n)
    w_t = apply("Transpose", [flip], perm=[1, 0] + list(range(2, 2 + n)))
    new_pads = tuple(k_eff[i % n] - 1 - pads[i] for i in range(2 * n))
    return apply("Conv", [g, w_t], strides=(1,) * n, dilations=tuple(dilations), pads=new_pads, group=1)


def _conv_weight_grad(x, g, w, attrs, group):
    """dL/dw of y = Conv(x, w) (w: (M, C/group, k...)), as one Conv: the input with batch and
    channels swapped (N, C, s...) -> (C/group, group*N, s...) is convolved with the gradient as
    kernel (N, M, o...) -> (M, N, o...) using ``group`` groups, strides = the forward dilations
    and dilations = the forward strides; the result (C/group, M, >=k...) is cut to k and
    transposed to (M, C/group, k...). With groups, input channel j*N + n of the swapped tensor
    holds sample n of group j, so each output channel only meets its own group's inputs."""
    n = x.ndim - 2
    kernel = tuple(w.sym_shape[2:])
    cpg = w.sym_shape[1]
    strides, dilations, pads = _geometry(attrs, n)
    fast = _conv_weight_grad_matmul(x, g, w, attrs, group)
    if fast is not None:
        return fast
    if attrs.get("auto_pad"):
        # pad by the most SAME_UPPER can (k_eff - 1 in all, at most (k_eff - 1) // 2 in front),
        # then drop the front pad it does not use
        k_eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
        most = [(k - 1) // 2 for k in k_eff]
        begin = _same_upper_begin(x, kernel, strides, dilations)
        xp = apply("Pad", [x], pads=(0, 0) + tuple(most) + (0, 0) + tuple(k - 1 for k in k_eff),
                   mode="constant", value=0.0)
        sp = tuple(None for _ in range(n))
        xp = apply("Slice", [xp, gu.i64(most) - begin, gu.i64([gu.BIG] * n)], axes=list(range(2, 2 + n)),
                   steps=[1] * n, out_shape=xp.sym_shape[:2] + sp)
        pads = [0] * (2 * n)
    else:
        xp = x
    spatial = xp.sym_shape[2:]
    sp_parts = list(spatial) if gu.static(spatial) else [_spatial_dims(xp)]
    if group == 1:
        xt = apply("Transpose", [xp], perm=[1, 0] + list(range(2, 2 + n)))
    else:
        xr = gu.reshape(xp, [0, group, cpg] + sp_parts, (xp.sym_shape[0], group, cpg) + spatial)
        xt = apply("Transpose", [xr], perm=[2, 1, 0] + list(range(3, 3 + n)))
        xt = gu.reshape(xt, [cpg, -1] + sp_parts, (cpg, None) + spatial)
    gt = apply("Transpose", [g], perm=[1, 0] + list(range(2, 2 + n)))
    dw = apply("Conv", [xt, gt], strides=tuple(dilations), dilations=tuple(strides), pads=tuple(pads), group=group)
    dw = apply("Slice", [dw], starts=[0] * n, ends=list(kernel), axes=list(range(2, 2 + n)), steps=[1] * n)
    dw = apply("Transpose", [dw], perm=[1, 0] + list(range(2, 2 + n)))
    if tuple(dw.sym_shape) != tuple(w.sym_shape) and gu.static(w.sym_shape):
        dw = apply("Reshape", [dw], shape=tuple(w.sym_shape))  # a no-op that restores the static spec
    return dw


_MATMUL_WGRAD_MAX_OFFSETS = 64  # beyond this many kernel offsets, the single Conv is kept


def _conv_weight_grad_matmul(x, g, w, attrs, group):
    """dL/dw of y = Conv(x, w) as MatMuls over the windows of each kernel offset, or None where it
    does not apply (auto_pad, spatial sizes or channels unknown when tracing, very large kernels).

    x is padded with the forward pads. For kernel offset k, the input positions it meets are
    x[:, :, k*d : k*d + (o-1)*s + 1 : s] (N, C, o...), and dw[:, :, k] = sum over samples of
    g_n (M, o) @ x_n,k (o, C). Group 1: the windows of a few offsets at a time gathered channels
    last into (N, o, k*C) patches and one batched MatMul per such chunk; the sum over samples is a
    ones-row product. Groups: (G, C/G, N*o) @ (G, N*o, M/G) per offset. Results are arranged into
    (M, C/G, k...). Much faster in onnxruntime than a Conv with a large kernel."""
    n = x.ndim - 2
    kernel = tuple(w.sym_shape[2:])
    m, cpg = w.sym_shape[0], w.sym_shape[1]
    spatial, out_sp = tuple(x.sym_shape[2:]), tuple(g.sym_shape[2:])
    if (attrs.get("auto_pad") or not gu.static(kernel) or not gu.static(spatial) or not gu.static(out_sp)
            or not isinstance(m, int) or not isinstance(cpg, int) or m % group
            or int(np.prod(kernel)) > _MATMUL_WGRAD_MAX_OFFSETS):
        return None
    strides, dilations, pads = _geometry(attrs, n)
    padded = [sp + pads[i] + pads[i + n] for i, sp in enumerate(spatial)]
    for i in range(n):  # every window must lie inside the padded input
        if out_sp[i] <= 0 or (kernel[i] - 1) * dilations[i] + (out_sp[i] - 1) * strides[i] >= padded[i]:
            return None
    c = cpg * group
    mpg = m // group
    xp = x
    if any(pads):
        xp = apply("Pad", [x], pads=(0, 0) + tuple(pads[:n]) + (0, 0) + tuple(pads[n:]), mode="constant", value=0.0)
    offsets = list(np.ndindex(*kernel))

    if group == 1:
        # per sample, (M, o) @ (o, k*C): the gradient keeps its (N, M, o...) layout and the input's
        # windows are gathered channels last (runs of C contiguous values) into patches, a few
        # kernel offsets at a time so that the patches stay within a budget per sample.
        # onnxruntime's batched MatMul works one sample's blocks at a time, which stays in cache
        # where one long Gemm over N*o streams from memory; the sum over samples is a (1, N) @
        # (N, ...) product (its ReduceSum over the leading axis is several times slower)
        gm = apply("Reshape", [g], shape=(0, m, -1))                             # (N, M, o)
        ones = _ones_row(g)                                                      # (1, N)
        xt = apply("Transpose", [xp], perm=[0] + list(range(2, 2 + n)) + [1])   # (N, s..., C)
        xt = apply("Reshape", [xt], shape=(0, -1, c))                            # (N, s, C)
        positions = int(np.prod(out_sp))
        per_offset = positions * c * np.dtype(x.dtype).itemsize
        n_chunks = min(len(offsets), -(-len(offsets) * per_offset // max(_PATCH_BYTES_PER_SAMPLE, 1)))
        size = -(-len(offsets) // n_chunks)
        parts = []
        for first in range(0, len(offsets), size):
            chunk = offsets[first:first + size]
            idx = constant(_patch_indices(padded, out_sp, chunk, strides, dilations))
            patches = apply("Gather", [xt, idx], axis=1)                         # (N, o*kc, C)
            patches = apply("Reshape", [patches], shape=(0, positions, len(chunk) * c))
            per_sample = apply("Reshape", [apply("MatMul", [gm, patches])], shape=(0, -1))  # (N, M*kc*C)
            parts.append(apply("Reshape", [apply("MatMul", [ones, per_sample])], shape=(m, len(chunk), c)))
        dw = parts[0] if len(parts) == 1 else apply("Concat", parts, axis=1)    # (M, k, C)
        dw = apply("Reshape", [dw], shape=(m,) + kernel + (c,))
        return apply("Transpose", [dw], perm=[0, n + 1] + list(range(1, n + 1)))  # (M, C, k...)
    # groups: (G, C/G, N*o) @ (G, N*o, M/G) per offset
    gt = apply("Transpose", [g], perm=[0] + list(range(2, 2 + n)) + [1])        # (N, o..., M)
    xt = apply("Transpose", [xp], perm=[1, 0] + list(range(2, 2 + n)))          # (C, N, s...)
    gm = apply("Reshape", [gt], shape=(-1, group, mpg))
    gm = apply("Transpose", [gm], perm=[1, 0, 2])                                # (G, N*o, M/G)
    parts = []
    for offset in offsets:  # the input positions each kernel offset meets (steps = strides)
        starts = [k * d for k, d in zip(offset, dilations)]
        ends = [st + (o - 1) * s + 1 for st, o, s in zip(starts, out_sp, strides)]
        xs = apply("Slice", [xt], starts=starts, ends=ends, axes=list(range(2, 2 + n)), steps=list(strides))
        xs = apply("Reshape", [xs], shape=(group, cpg, -1))                      # (G, C/G, N*o)
        parts.append(apply("MatMul", [xs, gm]))                                  # (G, C/G, M/G)
    dw = parts[0] if len(parts) == 1 else apply("Concat", parts, axis=0)
    dw = apply("Reshape", [dw], shape=kernel + (group, cpg, mpg))
    dw = apply("Transpose", [dw], perm=[n, n + 2, n + 1] + list(range(n)))      # (G, M/G, C/G, k...)
    dw = apply("Reshape", [dw], shape=(m, cpg) + kernel)
    return dw


_PATCH_BYTES_PER_SAMPLE = 512 << 10  # weight-gradient patches gathered at once, per sample


def _patch_indices(spatial, out_sp, offsets, strides, dilations) -> np.ndarray:
    """For each output position (row-major) and each kernel offset in ``offsets``, the flat index of
    the input position it meets, over spatial axes of lengths ``spatial``: shape (o * k,), int64."""
    axes = np.meshgrid(*[np.arange(v) * st for v, st in zip(out_sp, strides)], indexing="ij")
    starts = np.stack(axes, -1).reshape(-1, len(out_sp))                          # (o, n)
    pos = starts[:, None, :] + (np.array(offsets) * np.array(dilations))[None, :, :]  # (o, k, n)
    flat = np.ravel_multi_index(tuple(pos[..., i] for i in range(len(spatial))), tuple(spatial))
    return flat.reshape(-1).astype(np.int64)


def _ones_row(x):
    """A (1, N) row of ones, N = x's (run-time) batch size: sums over samples as one product."""
    n = x.sym_shape[0]
    one = gu.scalar(1, x.dtype)
    if isinstance(n, int):
        return apply("Expand", [one], shape=(1, n))
    return apply("Expand", [one, gu.shape_tensor([1, gu.dims(x, 0, 1)])], out_shape=(1, n))


class _Pool(Op):
    """Pooling over (N, C, s...); attrs kernel_shape, strides, pads, auto_pad."""

    def infer(self, attrs, ins):
        (x,) = ins
        _check_float_nc(x, self.name)
        spatial = _window_shape(x, attrs["kernel_shape"], attrs, self.name)
        return [Spec(x.shape[:2] + spatial, x.dtype)]

    def _attrs(self, attrs, n):
        return {"kernel_shape": list(attrs["kernel_shape"]), "strides": list(attrs.get("strides") or (1,) * n),
                **_padding_attrs(attrs, n)}


@register
class MaxPool(_Pool):
    """Max pooling; padded positions never win (they act as -inf)."""

    name = "MaxPool"

    def emit(self, e, attrs, ins, outs):
        e.node("MaxPool", ins, outs, **self._attrs(attrs, len(attrs["kernel_shape"])))

    def vjp(self, attrs, ins, outs, grads):
        """Each window's gradient goes to its argmax: the pooling is recomputed with its Indices
        output (`MaxPoolWithIndices`) and the gradient scatter-added there. Ties inside a window
        go to the first maximum (onnxruntime's index); overlapping windows accumulate."""
        (x,), (g,) = ins, grads
        if g is None:
            return [None]
        _, idx = apply("MaxPoolWithIndices", [x], **attrs)
        return [_pool_grad(x, idx, g, attrs)]


@register
class MaxPoolWithIndices(_Pool):
    """MaxPool with its second ONNX output: the int64 index of each maximum in the flattened input
    (N*C*spatial, padding not counted), used by the MaxPool gradient."""

    name = "MaxPoolWithIndices"

    def infer(self, attrs, ins):
        (y,) = super().infer(attrs, ins)
        return [y, Spec(y.shape, "int64")]

    def emit(self, e, attrs, ins, outs):
        e.node("MaxPool", ins, outs, storage_order=0, **self._attrs(attrs, len(attrs["kernel_shape"])))

    def vjp(self, attrs, ins, outs, grads):
        (x,) = ins
        if grads[0] is None:
            return [None]
        return [_pool_grad(x, outs[1], grads[0], attrs)]


def _pool_grad(x, idx, g, attrs):
    """Route the pooled gradient g to the argmax positions idx of x. Windows that cannot overlap
    (strides >= kernel, no padding) send at most one value to each input, so onnxruntime's
    MaxUnpool (float32 only) places them exactly; otherwise they are scatter-added."""
    n = x.ndim - 2
    kernel = tuple(attrs["kernel_shape"])
    strides = tuple(attrs.get("strides") or (1,) * n)
    if (x.dtype == "float32" and not attrs.get("auto_pad") and not any(attrs.get("pads") or ())
            and not any(d != 1 for d in (attrs.get("dilations") or ()))
            and all(s >= k for s, k in zip(strides, kernel))):
        return apply("MaxUnpool", [g, idx, x], kernel_shape=kernel, strides=strides)
    return _scatter_pool_grad(x, idx, g)


@register
class MaxUnpool(Op):
    """MaxUnpool(g, indices, x): zeros shaped like x with g[i] written at the flat position
    indices[i] (MaxPool's Indices over N*C*spatial); attrs kernel_shape, strides. x only gives
    the output shape. Positions must not repeat (non-overlapping windows)."""

    name = "MaxUnpool"

    def infer(self, attrs, ins):
        g, idx, x = ins
        if idx.dtype != "int64" or idx.rank != g.rank:
            raise ShapeError(f"MaxUnpool indices must be int64 shaped like the values {fmt_shape(g.shape)}, "
                             f"got {fmt_shape(idx.shape)} {idx.dtype}")
        if g.dtype != x.dtype or g.rank != x.rank:
            raise ShapeError(f"MaxUnpool values {fmt_shape(g.shape)} {g.dtype} do not match the output "
                             f"{fmt_shape(x.shape)} {x.dtype}")
        return [Spec(x.shape, x.dtype)]

    def emit(self, e, attrs, ins, outs):
        g, idx, x = ins
        shape = e.shape_of(x)
        if all(isinstance(d, int) for d in shape):
            s = e.const(np.array(shape, dtype=np.int64), "unpool_shape")
        else:
            s = e.tmp("unpool_shape")
            e.node("Shape", [x], [s])
        n = len(attrs["kernel_shape"])
        e.node("MaxUnpool", [g, idx, s], outs, kernel_shape=list(attrs["kernel_shape"]),
               strides=list(attrs.get("strides") or (1,) * n), pads=[0] * (2 * n))

    def vjp(self, attrs, ins, outs, grads):
        """The values' gradient is read back at their positions: a Gather from the flat output
        gradient. The indices and the shape source get none."""
        g, idx, _ = ins
        (gy,) = grads
        if gy is None:
            return [None, None, None]
        flat = apply("Gather", [apply("Reshape", [gy], shape=(-1,)), apply("Reshape", [idx], shape=(-1,))], axis=0)
        return [gu.reshape_like(flat, g), None, None]


def _scatter_pool_grad(x, idx, g):
    flat = apply("Reshape", [gu.zeros_like(x)], shape=(-1,))
    flat = apply("ScatterElements", [flat, apply("Reshape", [idx], shape=(-1,)),
                                     apply("Reshape", [g], shape=(-1,))], axis=0, reduction="add")
    return gu.reshape_like(flat, x)


@register
class AveragePool(_Pool):
    """Average pooling that excludes padded positions from the count (count_include_pad=0)."""

    name = "AveragePool"

    def emit(self, e, attrs, ins, outs):
        e.node("AveragePool", ins, outs, count_include_pad=0,
               **self._attrs(attrs, len(attrs["kernel_shape"])))

    def vjp(self, attrs, ins, outs, grads):
        """Each window spreads g / count over its unpadded inputs. The count map is a Conv of a
        (1, 1, spatial...) ones tensor with a ones kernel (same strides and pads); the spreading is
        a ConvTranspose with a ones kernel over (N*C, 1, ...), i.e. the Conv input gradient."""
        (x,), (g,) = ins, grads
        if g is None:
            return [None]
        n = x.ndim - 2
        kernel = tuple(attrs["kernel_shape"])
        geo = {k: attrs[k] for k in ("strides", "pads", "auto_pad") if attrs.get(k) is not None}
        ones_k = constant(np.ones((1, 1) + kernel, dtype=x.dtype))
        plane = apply("Slice", [x], starts=[0, 0], ends=[1, 1], axes=[0, 1], steps=[1, 1])
        count = apply("Conv", [gu.ones_like(plane), ones_k], **geo)
        spread = apply("Reshape", [g / count], shape=(-1, 1) + (0,) * n)
        dx = _conv_input_grad(spread, ones_k, x, geo, 1)
        return [gu.reshape_like(dx, x)]


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

    def vjp(self, attrs, ins, outs, grads):
        """nearest: each input feeds an s0 x s1 x ... block, so the gradient is that block's sum
        (split every scaled axis into (dim, scale) and sum the scale axes).
        linear (half-pixel, clamped at the borders): output t of each block of s along an axis is
        a_t * x[i] + b_t * x[i-1] + c_t * x[i+1] (neighbours clamped to the edge), so the gradient
        is the weighted block sums A, B, C put back with B shifted left and C shifted right."""
        (x,), (g,) = ins, grads
        if g is None:
            return [None]
        scales = [int(s) for s in attrs["scales"]]
        if attrs.get("mode", "nearest") == "nearest":
            parts, shape, summed = [], [], []
            for i, (d, s) in enumerate(zip(x.sym_shape, scales)):
                parts.append(d if isinstance(d, int) else gu.dims(x, i, i + 1))
                shape.append(d)
                if s != 1:
                    summed.append(len(shape))
                    parts.append(s)
                    shape.append(s)
            if not summed:
                return [g]
            return [apply("ReduceSum", [gu.reshape(g, parts, shape)], axes=tuple(summed), keepdims=False)]
        for axis, s in enumerate(scales):
            if s != 1:
                g = _linear_resize_adjoint(g, x, axis, s)
        return [g]


def _linear_resize_adjoint(g, x, axis, s):
    """Undo the linear upsampling of one axis (length n*s in g, n in x)."""
    rank = g.ndim
    parts, shape = [], []
    for i, d in enumerate(g.sym_shape):
        src = x if i == axis else g
        dd = src.sym_shape[i]
        parts.append(dd if isinstance(dd, int) else gu.dims(src, i, i + 1))
        shape.append(dd)
        if i == axis:
            parts.append(s)
            shape.append(s)
    blocks = gu.reshape(g, parts, shape)
    frac = [(t + 0.5) / s - 0.5 for t in range(s)]
    wshape = [1] * (rank + 1)
    wshape[axis + 1] = s

    def weighted(ws):
        w = constant(np.array(ws, dtype=g.dtype).reshape(wshape))
        return apply("ReduceSum", [blocks * w], axes=(axis + 1,), keepdims=False)

    a = weighted([1 - abs(f) for f in frac])
    b = weighted([-f if f < 0 else 0.0 for f in frac])  # weight of the left neighbour x[i-1]
    c = weighted([f if f > 0 else 0.0 for f in frac])   # weight of the right neighbour x[i+1]

    def sl(v, start, end):
        return apply("Slice", [v], starts=[start], ends=[end], axes=[axis], steps=[1])

    def pad(v, begin, end):
        pads = [0] * (2 * rank)
        pads[axis], pads[axis + rank] = begin, end
        return apply("Pad", [v], pads=tuple(pads), mode="constant", value=0.0)

    # x[i-1] (clamped: x[0] at i = 0) read B[i]: x[j] gets B[j+1], and x[0] also B[0]
    left = pad(sl(b, 1, gu.BIG), 0, 1)
    left = apply("Concat", [sl(left, 0, 1) + sl(b, 0, 1), sl(left, 1, gu.BIG)], axis=axis)
    # x[i+1] (clamped: x[n-1] at i = n-1) read C[i]: x[j] gets C[j-1], and x[n-1] also C[n-1]
    right = pad(sl(c, 0, -1), 1, 0)
    right = apply("Concat", [sl(right, 0, -1), sl(right, -1, gu.BIG) + sl(c, -1, gu.BIG)], axis=axis)
    return a + left + right
