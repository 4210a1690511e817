"""Every primitive's VJP rule against central finite differences in float64 (see vjp_harness).

`CASES` (and test_recurrent_vjp's cases for LSTM, GRU, RNN) cover every differentiable registered
primitive; `NON_DIFFERENTIABLE` lists the ops whose rule returns no gradient, `BACKWARD_ONLY` the
scan primitives used only inside recurrent VJPs. `test_every_op_is_covered` fails when a primitive
is added without one of them.
"""
from __future__ import annotations


import numpy as np
import pytest

from irgraph.ir import Graph
from irgraph.ops import OPS, Op, Spec
from irgraph.ops.trace import Value, apply, constant, tracing
from irgraph.passes.autodiff import gradients

from vjp_harness import Case, Inp, check_case
from test_recurrent_vjp import CASES as RECURRENT_CASES

B = "batch"


def c(value, like):
    """A constant with the dtype of ``like`` (cases are built in float64 and in float32)."""
    return constant(np.asarray(value, dtype=like.dtype))


def i64(values):
    return constant(np.asarray(values, dtype=np.int64))


def unary(op, kind="normal", shape=(B, 3, 4), **attrs):
    return Case(op, f"{op}" + "".join(f"-{k}{v}" for k, v in attrs.items()), {"x": Inp(shape, kind)},
                lambda x: apply(op, [x], **attrs))


CASES: list[Case] = []

# ---------------------------------------------------------------------------------- elementwise
CASES += [
    unary("Relu"), unary("Sigmoid"), unary("Tanh"), unary("Exp"), unary("Log", "positive"),
    unary("Sqrt", "positive"), unary("Erf"), unary("Softplus"), unary("Softsign"),
    unary("Reciprocal", "away"), unary("Floor"), unary("Ceil"), unary("Round"), unary("Sin"), unary("Cos"),
    unary("Abs"), unary("Neg"), unary("Sign"), unary("Identity"),
    unary("Elu", alpha=0.7), unary("Selu"), unary("LeakyRelu", alpha=0.1),
    Case("HardSigmoid", "HardSigmoid-saturating", {"x": Inp((B, 3, 4))},
         lambda x: apply("HardSigmoid", [x * c(3.0, x)], alpha=0.3, beta=0.4)),
    Case("Clip", "Clip-min-max", {"x": Inp((B, 3, 4))}, lambda x: apply("Clip", [x], min=-0.5, max=0.7)),
    Case("Clip", "Clip-max-only", {"x": Inp((B, 3, 4))}, lambda x: apply("Clip", [x], max=0.2)),
    unary("Softmax", axis=-1), unary("Softmax", axis=1), unary("Softmax", axis=0),
    unary("LogSoftmax", axis=-1), unary("LogSoftmax", axis=1),
    # float32 has ~7 digits: the round trip's differences need a large step and a loose tolerance
    Case("Cast", "Cast-float32-roundtrip", {"x": Inp((B, 3))},
         lambda x: apply("Cast", [apply("Cast", [x], to="float32")], to=x.dtype) * c(2.0, x),
         eps=1e-2, rtol=1e-4, atol=1e-5, note="float32 round trip"),
    Case("Cast", "Cast-int-no-grad", {"x": Inp((B, 3)), "y": Inp((B, 3))},
         lambda x, y: apply("Cast", [apply("Cast", [x * c(3.0, x)], to="int64")], to=x.dtype) + y),
]


def binary(op, sa, sb, ka="normal", kb="normal", tag=""):
    return Case(op, f"{op}-{tag or 'x'.join(map(str, sa)) + '-' + 'x'.join(map(str, sb))}",
                {"a": Inp(sa, ka), "b": Inp(sb, kb)}, lambda a, b: apply(op, [a, b]))


for _op in ("Add", "Sub", "Mul", "Max", "Min"):
    CASES += [binary(_op, (B, 3, 4), (4,), tag="bcast-trailing"),
              binary(_op, (B, 1, 4), (B, 3, 1), tag="bcast-both")]
CASES += [
    binary("Div", (B, 3, 4), (4,), kb="away", tag="bcast-trailing"),
    binary("Div", (B, 1, 4), (B, 3, 1), kb="away", tag="bcast-both"),
    binary("Pow", (B, 3, 4), (4,), ka="positive", tag="bcast-trailing"),
    binary("Pow", (B, 1, 4), (B, 3, 1), ka="positive", kb="uniform", tag="bcast-both"),
    # a negative base with a constant integer exponent: the exponent's gradient is masked away
    Case("Pow", "Pow-negative-base-const-exponent", {"a": Inp((B, 3))},
         lambda a: apply("Pow", [a, c(3.0, a)])),
    # b's finite differences are NaN where a < 0; `test_pow_exponent_gradient_masked` checks b
    Case("Pow", "Pow-negative-base-integer-exponent", {"a": Inp((B, 3)),
                                                      "b": Inp((3,), "given", np.array([2.0, 3.0, 1.0]), grad=False)},
         lambda a, b: apply("Pow", [a, b])),
    Case("Where", "Where-bcast", {"x": Inp((B, 3, 4)), "a": Inp((B, 3, 4)), "b": Inp((4,))},
         lambda x, a, b: apply("Where", [x > 0.2, a, b])),
    Case("Where", "Where-bcast-both", {"a": Inp((B, 1, 4)), "b": Inp((B, 3, 1))},
         lambda a, b: apply("Where", [constant(np.array([[True], [False], [True]])), a, b])),
]


# ---------------------------------------------------------------------------------- reductions
def reduce_case(op, axes, keepdims, kind="normal", tag=""):
    return Case(op, f"{op}-axes{axes}-keep{int(keepdims)}{tag}", {"x": Inp((B, 3, 4), kind)},
                lambda x: apply(op, [x], axes=axes, keepdims=keepdims))


for _op in ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd"):
    for _axes in ((1,), (-1,), (0, 2), None):
        for _keep in (True, False):
            CASES.append(reduce_case(_op, _axes, _keep, kind="away" if _op == "ReduceProd" else "normal"))
CASES += [
    Case("ReduceProd", "ReduceProd-zeros", {"x": Inp((4, 3), "given", np.array(
        [[0.0, 1.5, 0.0], [2.0, 0.0, 0.0], [0.5, -3.0, 0.0], [1.2, 0.7, 0.9]]))},
        lambda x: apply("ReduceProd", [x], axes=(0,), keepdims=False),
        note="one zero, two zeros and all zeros in a column"),
]

# ---------------------------------------------------------------------------------- shapes
CASES += [
    Case("Reshape", "Reshape-static", {"x": Inp((B, 3, 4))}, lambda x: apply("Reshape", [x], shape=(0, -1, 2))),
    Case("Reshape", "Reshape-dynamic", {"x": Inp((B, 3, 4)), "y": Inp((B, 12))},
         lambda x, y: apply("Reshape", [x, apply("Shape", [y])], out_shape=(B, 12)) * y),
    Case("Transpose", "Transpose", {"x": Inp((B, 3, 4))}, lambda x: apply("Transpose", [x], perm=[2, 0, 1])),
    Case("Flatten", "Flatten-axis1", {"x": Inp((B, 3, 4))}, lambda x: apply("Flatten", [x], axis=1)),
    Case("Flatten", "Flatten-axis2", {"x": Inp((B, 3, 2, 2))}, lambda x: apply("Flatten", [x], axis=2)),
    Case("Concat", "Concat-static", {"a": Inp((B, 3, 4)), "b": Inp((B, 1, 4)), "c": Inp((B, 2, 4))},
         lambda a, b, c_: apply("Concat", [a, b, c_], axis=1)),
    Case("Concat", "Concat-batch-axis", {"a": Inp((B, 3)), "b": Inp((B, 3)), "c": Inp((2, 3))},
         lambda a, b, c_: apply("Concat", [a, b, c_], axis=0), note="run-time lengths: dynamic Slices"),
    Case("Split", "Split-one-unused", {"x": Inp((B, 5, 2))},
         lambda x: apply("Split", [x], axis=1, sizes=(1, 3, 1))[1]),
    Case("Split", "Split-all", {"x": Inp((B, 5, 2))}, lambda x: apply("Split", [x], axis=-1, sizes=(1, 1))),
    Case("Slice", "Slice-steps-negative", {"x": Inp((B, 7, 6))},
         lambda x: apply("Slice", [x], starts=[-1, 1], ends=[-8, 5], axes=[1, 2], steps=[-2, 3])),
    Case("Slice", "Slice-unit-step-pad", {"x": Inp((B, 7, 6))},
         lambda x: apply("Slice", [x], starts=[1, -4], ends=[-2, 2**62], axes=[1, -1], steps=[1, 1])),
    Case("Slice", "Slice-batch-axis", {"x": Inp((B, 3))},
         lambda x: apply("Slice", [x], starts=[1], ends=[2**62], axes=[0], steps=[1]), note="run-time length"),
    Case("Slice", "Slice-last-of-unknown-length", {"x": Inp((B, "t", 3))},
         lambda x: apply("Slice", [x], starts=[-1, 2], ends=[2**62, 0], axes=[1, 2], steps=[1, -1])),
    Case("Slice", "Slice-dynamic-form", {"x": Inp((B, "t", 4))},
         lambda x: apply("Slice", [x, i64([-3, 1]), i64([2**62, 4])], axes=[1, 2], steps=[1, 2],
                         out_shape=(B, None, 2))),
    Case("Gather", "Gather-axis0-repeated", {"x": Inp((5, 3))},
         lambda x: apply("Gather", [x, i64([[0, 2, 2], [4, 0, 2]])], axis=0)),
    Case("Gather", "Gather-axis1-negative", {"x": Inp((B, 4, 3))},
         lambda x: apply("Gather", [x, i64([-1, 1, 3, -1])], axis=1)),
    Case("Gather", "Gather-scalar-index", {"x": Inp((B, 4, 3))},
         lambda x: apply("Gather", [x, i64(2)], axis=2)),
    Case("Gather", "Gather-int32-indices-batch", {"x": Inp((B, 3))},
         lambda x: apply("Gather", [x, constant(np.array([1, 1, 0], dtype=np.int32))], axis=0)),
    Case("Unsqueeze", "Unsqueeze", {"x": Inp((B, 3))}, lambda x: apply("Unsqueeze", [x], axes=(0, -1))),
    Case("Squeeze", "Squeeze", {"x": Inp((B, 1, 3, 1))}, lambda x: apply("Squeeze", [x], axes=(1, -1))),
    Case("Expand", "Expand-static", {"x": Inp((B, 1, 4))}, lambda x: apply("Expand", [x], shape=(3, 1, 3, 1))),
    Case("Expand", "Expand-dynamic", {"x": Inp((3, 1)), "y": Inp((B, 3, 4))},
         lambda x, y: apply("Expand", [x, apply("Shape", [y])], out_shape=(B, 3, 4)) * y),
    Case("Tile", "Tile", {"x": Inp((B, 2, 3))}, lambda x: apply("Tile", [x], repeats=(2, 1, 3))),
    Case("Pad", "Pad-constant", {"x": Inp((B, 3, 4))},
         lambda x: apply("Pad", [x], pads=(0, 1, 2, 0, 2, 1), mode="constant", value=0.0)),
    Case("Pad", "Pad-reflect", {"x": Inp((B, 4, 5))},
         lambda x: apply("Pad", [x], pads=(0, 2, 3, 0, 3, 1), mode="reflect")),
    Case("Pad", "Pad-edge", {"x": Inp((B, 3, 4))},
         lambda x: apply("Pad", [x], pads=(0, 2, 1, 0, 3, 2), mode="edge")),
    Case("ScatterElements", "ScatterElements-add", {"d": Inp((3, 4)), "u": Inp((2, 4))},
         lambda d, u: apply("ScatterElements", [d, i64([[0, 2, 2, 1], [2, 2, 0, -1]]), u], axis=0, reduction="add")),
    Case("ScatterElements", "ScatterElements-none", {"d": Inp((B, 5)), "u": Inp((B, 2))},
         lambda d, u: apply("ScatterElements", [d, i64([[4, 0], [1, 3]]), u], axis=1)),
    Case("GatherElements", "GatherElements", {"d": Inp((B, 4))},
         lambda d: apply("GatherElements", [d, i64([[0, 0, 3], [2, 1, 2]])], axis=1)),
]

# ---------------------------------------------------------------------------------- linalg
CASES += [
    binary("MatMul", (B, 3, 4), (4, 5), tag="dense-3d"),
    binary("MatMul", (B, 3, 4), (B, 4, 2), tag="batched"),
    binary("MatMul", (2, 1, 3, 4), (3, 4, 2), tag="bcast-batch"),
    binary("MatMul", (4,), (B, 4, 5), tag="rank1-left"),
    binary("MatMul", (B, 3, 4), (4,), tag="rank1-right"),
    binary("MatMul", (4,), (4,), tag="rank1-both"),
    binary("MatMul", (B, 4), (4, 3), tag="2d"),
]
for _ta in (0, 1):
    for _tb in (0, 1):
        CASES.append(Case("Gemm", f"Gemm-tA{_ta}-tB{_tb}",
                          {"a": Inp((4, 3) if _ta else (3, 4)), "b": Inp((5, 4) if _tb else (4, 5)), "c": Inp((5,))},
                          lambda a, b, c_, ta=_ta, tb=_tb: apply("Gemm", [a, b, c_], transA=ta, transB=tb)))
CASES.append(Case("Gemm", "Gemm-batch-no-bias", {"a": Inp((B, 4)), "b": Inp((3, 4))},
                  lambda a, b: apply("Gemm", [a, b], transB=1)))


# ---------------------------------------------------------------------------------- nn
def conv(id_, xs, ws, bias=None, **attrs):
    ins = {"x": Inp(xs), "w": Inp(ws)}
    if bias:
        ins["b"] = Inp((ws[0],))
    return Case("Conv", id_, ins, lambda *v: apply("Conv", list(v), **attrs))


CASES += [
    conv("Conv1D-stride2-asym-pads", (B, 2, 9), (3, 2, 3), bias=True, strides=(2,), pads=(2, 1)),
    conv("Conv2D-dil-stride-asym-group2", (B, 4, 7, 6), (6, 2, 3, 2), bias=True, strides=(2, 1),
         dilations=(2, 2), pads=(1, 0, 0, 2), group=2),
    conv("Conv2D-depthwise-mult2", (B, 3, 5, 5), (6, 1, 3, 3), strides=(2, 2), pads=(1, 1, 1, 1), group=3),
    conv("Conv3D", (1, 2, 4, 4, 3), (2, 2, 2, 3, 2), bias=True, strides=(1, 2, 1), pads=(1, 0, 0, 0, 1, 1)),
    conv("Conv2D-unknown-spatial-stride2", (B, 2, "h", "w"), (3, 2, 3, 3), strides=(2, 2), pads=(1, 0, 1, 1)),
    conv("Conv2D-same-upper-unknown", (B, 2, "h", "w"), (3, 2, 3, 2), bias=True, strides=(2, 3),
         auto_pad="SAME_UPPER"),
    # the weight gradient as one MatMul per kernel offset (static spatial sizes), and the single-Conv
    # fallback for kernels with too many offsets
    conv("Conv2D-wgrad-matmul-stride-dil-pads", (B, 3, 9, 8), (4, 3, 3, 2), bias=True, strides=(2, 3),
         dilations=(2, 1), pads=(1, 2, 0, 1)),
    conv("Conv2D-wgrad-matmul-1x1-stride2", (B, 3, 5, 6), (2, 3, 1, 1), strides=(2, 2)),
    conv("Conv2D-wgrad-matmul-group3-stride", (B, 6, 7, 5), (3, 2, 2, 3), strides=(3, 2), pads=(0, 1, 1, 0),
         group=3),
    # channels-last weight gradient (group 1, >= 8 channels) and the stride-1 input gradient as a Conv
    conv("Conv2D-c8-stride1-same-pads", (B, 8, 6, 5), (3, 8, 3, 3), bias=True, pads=(1, 1, 1, 1)),
    conv("Conv2D-c9-stride-dil-asym", (B, 9, 9, 8), (2, 9, 3, 2), strides=(2, 1), dilations=(1, 2),
         pads=(1, 0, 0, 1)),
    conv("Conv1D-c8-dil2-stride1", (B, 8, 9), (2, 8, 3), dilations=(2,), pads=(2, 1)),
    conv("Conv2D-wgrad-large-kernel-fallback", (1, 1, 10, 10), (2, 1, 9, 9), pads=(1, 0, 0, 1)),
    Case("ConvTranspose", "ConvTranspose2D-stride-outpad-group", {"x": Inp((B, 4, 3, 4)), "w": Inp((4, 1, 3, 2)),
                                                                  "b": Inp((2,))},
         lambda x, w, b: apply("ConvTranspose", [x, w, b], strides=(2, 3), pads=(1, 0, 0, 1), output_padding=(1, 2),
                               group=2)),
    Case("ConvTranspose", "ConvTranspose1D-dilation", {"x": Inp((B, 2, 5)), "w": Inp((2, 3, 3))},
         lambda x, w: apply("ConvTranspose", [x, w], strides=(1,), dilations=(2,), pads=(1, 2))),
    Case("MaxPool", "MaxPool2D-overlap-pads", {"x": Inp((B, 2, 7, 6))},
         lambda x: apply("MaxPool", [x], kernel_shape=(3, 2), strides=(2, 1), pads=(1, 0, 1, 1))),
    Case("MaxPool", "MaxPool1D", {"x": Inp((B, 3, 9))},
         lambda x: apply("MaxPool", [x], kernel_shape=(2,), strides=(2,))),
    Case("MaxPool", "MaxPool2D-same-upper-unknown", {"x": Inp((B, 2, "h", "w"))},
         lambda x: apply("MaxPool", [x], kernel_shape=(2, 3), strides=(2, 2), auto_pad="SAME_UPPER")),
    Case("MaxPool", "MaxPool2D-non-overlapping-stride3", {"x": Inp((B, 2, 7, 8))},
         lambda x: apply("MaxPool", [x], kernel_shape=(2, 3), strides=(3, 3))),
    Case("MaxPool", "MaxPool2D-non-overlapping-unknown", {"x": Inp((B, 2, "h", "w"))},
         lambda x: apply("MaxPool", [x], kernel_shape=(2, 2), strides=(2, 2))),
    Case("MaxUnpool", "MaxUnpool2D", {"x": Inp((B, 2, 5, 7)), "g": Inp((B, 2, 2, 3))},
         lambda x, g: apply("MaxUnpool", [g, apply("MaxPoolWithIndices", [x], kernel_shape=(2, 2),
                                                   strides=(2, 2))[1], x], kernel_shape=(2, 2), strides=(2, 2))),
    Case("MaxPoolWithIndices", "MaxPoolWithIndices", {"x": Inp((B, 2, 5, 5))},
         lambda x: apply("MaxPoolWithIndices", [x], kernel_shape=(2, 2), strides=(2, 2), pads=(0, 0, 1, 1))),
    Case("AveragePool", "AveragePool2D-pads-strides", {"x": Inp((B, 2, 7, 6))},
         lambda x: apply("AveragePool", [x], kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 0))),
    Case("AveragePool", "AveragePool1D-unknown-length", {"x": Inp((B, 2, "l"))},
         lambda x: apply("AveragePool", [x], kernel_shape=(3,), strides=(2,), pads=(1, 1))),
    Case("AveragePool", "AveragePool3D", {"x": Inp((1, 2, 4, 3, 4))},
         lambda x: apply("AveragePool", [x], kernel_shape=(2, 2, 2), strides=(2, 1, 2), pads=(0, 1, 0, 1, 0, 1))),
    Case("AveragePool", "AveragePool2D-same-upper-unknown", {"x": Inp((B, 2, "h", "w"))},
         lambda x: apply("AveragePool", [x], kernel_shape=(3, 2), strides=(2, 2), auto_pad="SAME_UPPER")),
    Case("Resize", "Resize-nearest-nchw", {"x": Inp((B, 2, 3, 2))},
         lambda x: apply("Resize", [x], scales=(1, 1, 2, 3), mode="nearest")),
    Case("Resize", "Resize-nearest-nhwc-unknown", {"x": Inp((B, "h", 2, 2))},
         lambda x: apply("Resize", [x], scales=(1, 2, 2, 1), mode="nearest")),
    Case("Resize", "Resize-linear", {"x": Inp((B, 2, 3, 4))},
         lambda x: apply("Resize", [x], scales=(1, 1, 2, 3), mode="linear")),
    Case("Resize", "Resize-linear-unknown-size1", {"x": Inp((B, 1, "h", 1))},
         lambda x: apply("Resize", [x], scales=(1, 1, 4, 2), mode="linear")),
]

CASES += [
    Case("TopK", "TopK-values", {"x": Inp((B, 5))}, lambda x: apply("TopK", [x], k=3, axis=1)),
    Case("CumSum", "CumSum-axis1", {"x": Inp((B, 5, 2))}, lambda x: apply("CumSum", [x], axis=1)),
    Case("CumSum", "CumSum-exclusive-reverse", {"x": Inp((B, 5))},
         lambda x: apply("CumSum", [x], axis=-1, exclusive=True, reverse=True)),
]


# ---------------------------------------------------------------------------------- second order
def grad_of(op_build, wrt=(0,)):
    """The gradient of sum(op(*xs) * fixed weights) w.r.t. some inputs, as a traced function of the
    inputs, so the harness differentiates the VJP graphs themselves (double backward)."""
    def build(*xs):
        y = op_build(*xs)
        w = constant(np.linspace(-1.0, 1.0, int(np.prod([d for d in y.shape]))).reshape(y.shape).astype(y.dtype))
        loss = apply("ReduceSum", [y * w], axes=None, keepdims=False)
        return [gv for gv in gradients(loss, [xs[i] for i in wrt]) if gv is not None]
    return build


CASES += [
    Case("Tanh", "2nd-Tanh", {"x": Inp((2, 3))}, grad_of(lambda x: apply("Tanh", [x]))),
    Case("Softmax", "2nd-Softmax", {"x": Inp((2, 4))}, grad_of(lambda x: apply("Softmax", [x], axis=-1))),
    Case("MatMul", "2nd-MatMul", {"a": Inp((2, 3)), "b": Inp((3, 2))},
         grad_of(lambda a, b: apply("Tanh", [apply("MatMul", [a, b])]), wrt=(0, 1))),
    Case("Conv", "2nd-Conv2D", {"x": Inp((2, 2, 5, 4)), "w": Inp((2, 1, 3, 2))},
         grad_of(lambda x, w: apply("Tanh", [apply("Conv", [x, w], strides=(2, 1), pads=(1, 0, 0, 1), group=2)]),
                 wrt=(0, 1))),
    Case("MaxPool", "2nd-MaxPool", {"x": Inp((2, 1, 4, 4))},
         grad_of(lambda x: apply("Tanh", [apply("MaxPool", [x], kernel_shape=(2, 2), strides=(2, 2))]))),
    Case("Gather", "2nd-Gather", {"x": Inp((4, 2))},
         grad_of(lambda x: apply("Tanh", [apply("Gather", [x, i64([3, 0, 3])], axis=0)]))),
    Case("AveragePool", "2nd-AveragePool", {"x": Inp((2, 1, 5, 4))},
         grad_of(lambda x: apply("Tanh", [apply("AveragePool", [x], kernel_shape=(2, 2), strides=(2, 1),
                                                pads=(1, 0, 0, 0))]))),
]

# ops whose rule returns no gradient (indices, booleans, shapes, random draws)
NON_DIFFERENTIABLE = {"Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Not",
                      "Shape", "ArgMax", "Range", "RandomUniformLike", "StopGradient"}
# the scan primitives of recurrent backpropagation: they only appear inside the VJPs of LSTM, GRU
# and RNN (checked by every case of test_recurrent_vjp) and have no gradient of their own
BACKWARD_ONLY = {"LSTMCellScan", "LSTMBackwardScan", "GRUBackwardScan", "RNNBackwardScan"}


@pytest.mark.parametrize("case", CASES, ids=lambda cs: cs.id)
def test_vjp(case):
    assert type(OPS[case.op]).vjp is not Op.vjp, f"{case.op} has no VJP rule"
    check_case(case)


WGRAD_CHUNKED = ("Conv2D-wgrad-matmul-stride-dil-pads", "Conv2D-c8-stride1-same-pads",
                 "Conv2D-c9-stride-dil-asym", "Conv1D-c8-dil2-stride1", "Conv3D")


@pytest.mark.parametrize("budget", [0, 9000])
@pytest.mark.parametrize("case_id", WGRAD_CHUNKED)
def test_conv_weight_gradient_patches_in_chunks(case_id, budget, monkeypatch):
    """The weight gradient gathers its patches a few kernel offsets at a time within a per-sample
    budget: with none, one offset per chunk; with a small one, uneven chunks."""
    import irgraph.ops.nn as nn_ops
    monkeypatch.setattr(nn_ops, "_PATCH_BYTES_PER_SAMPLE", budget)
    check_case(next(cs for cs in CASES if cs.id == case_id))


def test_case_ids_unique():
    ids = [cs.id for cs in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_every_op_is_covered():
    tested = {cs.op for cs in CASES + RECURRENT_CASES}
    missing = sorted(set(OPS) - tested - NON_DIFFERENTIABLE - BACKWARD_ONLY)
    assert not missing, f"primitives without a gradient check: {missing}"
    stale = sorted((tested | NON_DIFFERENTIABLE | BACKWARD_ONLY) - set(OPS))
    assert not stale, f"the gradient tables name unregistered ops: {stale}"
    assert not tested & NON_DIFFERENTIABLE


# ---------------------------------------------------------------------------------- no gradient
def _probe_graph():
    g = Graph("probe")
    spec = Spec(("batch", 3), "float64")
    with tracing(g):
        x = Value(g, g.add_input("x", spec), 0, spec)
        y = Value(g, g.add_input("y", spec), 0, spec)
        yield g, x, y


NO_GRAD_PROBES = {
    "Equal": lambda x, y: apply("Equal", [x, y]),
    "Greater": lambda x, y: apply("Greater", [x, y]),
    "Less": lambda x, y: apply("Less", [x, y]),
    "GreaterOrEqual": lambda x, y: apply("GreaterOrEqual", [x, y]),
    "LessOrEqual": lambda x, y: apply("LessOrEqual", [x, y]),
    "And": lambda x, y: apply("And", [x > 0, y > 0]),
    "Or": lambda x, y: apply("Or", [x > 0, y > 0]),
    "Not": lambda x, y: apply("Not", [x > 0]),
    "Shape": lambda x, y: apply("Shape", [x]),
    "ArgMax": lambda x, y: apply("ArgMax", [x], axis=1),
    "Range": lambda x, y: apply("Range", [c(0.0, x), c(4.0, x), c(1.0, x)], length=4),
    "RandomUniformLike": lambda x, y: apply("RandomUniformLike", [x], seed=1.0),
    "StopGradient": lambda x, y: apply("StopGradient", [x]),  # K.stop_gradient: no gradient by definition
}


@pytest.mark.parametrize("name", sorted(NON_DIFFERENTIABLE))
def test_non_differentiable_rule_returns_none(name):
    for g, x, y in _probe_graph():
        out = NO_GRAD_PROBES[name](x, y)
        n = out.node
        ins = [None if t is None else Value(g, t[0], t[1], g.spec(t)) for t in g.in_tensors(n)]
        outs = [Value(g, n, i, s) for i, s in enumerate(g.node(n)["specs"])]
        result = OPS[name].vjp(g.node(n)["attrs"], ins, outs, list(outs))
        assert list(result) == [None] * len(ins)


@pytest.mark.parametrize("name", sorted(BACKWARD_ONLY))
def test_backward_only_ops_have_no_gradient(name):
    with pytest.raises(NotImplementedError, match="no gradient rule.*second derivatives of recurrent layers"):
        OPS[name].vjp({}, [], [], [])


# ---------------------------------------------------------------------------------- tie rules
def _run_grads(build, arrays):
    """Gradients of sum(build(*inputs)) w.r.t. the inputs, run in onnxruntime (float64)."""
    from irgraph.onnx import emit_model
    from vjp_harness import Runner
    g = Graph("ties")
    with tracing(g):
        vals = []
        for i, a in enumerate(arrays):
            spec = Spec(a.shape, "float64")
            vals.append(Value(g, g.add_input(f"x{i}", spec), 0, spec))
        loss = apply("ReduceSum", [build(*vals)], axes=None, keepdims=False)
        for i, gv in enumerate(gradients(loss, vals)):
            g.add_output(f"g{i}", gv.tensor)
    return Runner(emit_model(g, opset=17))({f"x{i}": a for i, a in enumerate(arrays)})


def test_elementwise_max_min_ties_go_to_first_input():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 3.0])
    ga, gb = _run_grads(lambda x, y: apply("Max", [x, y]), [a, b])
    np.testing.assert_array_equal(ga, [1, 0, 1])
    np.testing.assert_array_equal(gb, [0, 1, 0])
    ga, gb = _run_grads(lambda x, y: apply("Min", [x, y]), [a, b])
    np.testing.assert_array_equal(ga, [1, 1, 1])
    np.testing.assert_array_equal(gb, [0, 0, 0])


def test_reduce_max_min_ties_share_the_gradient():
    x = np.array([[1.0, 3.0, 3.0, 3.0], [0.0, -1.0, 0.0, 2.0]])
    (gx,) = _run_grads(lambda v: apply("ReduceMax", [v], axes=(1,), keepdims=False), [x])
    np.testing.assert_allclose(gx, [[0, 1 / 3, 1 / 3, 1 / 3], [0, 0, 0, 1]])
    (gx,) = _run_grads(lambda v: apply("ReduceMin", [v], axes=(1,), keepdims=False), [x])
    np.testing.assert_allclose(gx, [[1, 0, 0, 0], [0, 1, 0, 0]])


def test_maxpool_ties_go_to_the_first_maximum():
    x = np.array([[[[1.0, 1.0], [0.0, 1.0]]]])
    (gx,) = _run_grads(lambda v: apply("MaxPool", [v], kernel_shape=(2, 2), strides=(2, 2)), [x])
    np.testing.assert_array_equal(gx, [[[[1, 0], [0, 0]]]])


def test_pow_exponent_gradient_masked():
    """d(a^b)/db = a^b log a is undefined for a < 0: it is 0 there, and exact elsewhere."""
    a, b = np.array([-2.0, 0.0, 1.5, 2.0]), np.array([2.0, 3.0, 1.5, -1.0])
    ga, gb = _run_grads(lambda x, y: apply("Pow", [x, y]), [a, b])
    np.testing.assert_allclose(gb, [0.0, 0.0, 1.5 ** 1.5 * np.log(1.5), 0.5 * np.log(2.0)])
    np.testing.assert_allclose(ga, [-4.0, 0.0, 1.5 * 1.5 ** 0.5, -0.25])


# ---------------------------------------------------------------------------------- end to end
def test_keras_model_gradients_match_torch():
    """Dense + Conv2D + MaxPooling2D + BatchNormalization (inference) + Embedding: lower the model,
    differentiate sum(output) w.r.t. every weight, run the ONNX file in onnxruntime and compare
    with PyTorch autograd on the same weights (layouts converted)."""
    import torch
    import torch.nn.functional as F

    import irgraph
    from irgraph import layers as L
    from irgraph.models import Model
    from irgraph.onnx import emit_model
    from irgraph.passes import cleanup, infer_shapes, lower
    from vjp_harness import Runner

    img = irgraph.Input(shape=(6, 6, 2), name="img")
    tok = irgraph.Input(shape=(4,), dtype="int64", name="tok")
    conv, bn = L.Conv2D(3, (3, 3), padding="same", activation="relu"), L.BatchNormalization()
    emb, dense = L.Embedding(10, 4), L.Dense(3, activation="tanh")
    h = L.Flatten()(bn(L.MaxPooling2D((2, 2))(conv(img))))
    z = L.Concatenate()([h, L.Flatten()(emb(tok))])
    model = Model([img, tok], dense(z))
    rng = np.random.default_rng(7)
    for layer in (conv, bn, emb, dense):
        layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) if v.name in ("moving_variance", "gamma")
                           else (0.3 * rng.standard_normal(w.shape)).astype(np.float32)  # tanh not saturated
                           for v, w in zip(layer.weights, layer.get_weights())])
    x = rng.standard_normal((3, 6, 6, 2)).astype(np.float32)
    t = np.array([[1, 3, 3, 9], [0, 1, 1, 1], [9, 9, 2, 3]], dtype=np.int64)  # repeated rows

    g = infer_shapes(lower(model.graph, training=False))
    weights = g.nodes_of("weight")
    with tracing(g):
        out = Value(g, *g.output_tensor(g.outputs[0]), g.spec(g.output_tensor(g.outputs[0])))
        loss = apply("ReduceSum", [out], axes=None, keepdims=False)
        grads = gradients(loss, [Value(g, n, 0, g.node(n)["specs"][0]) for n in weights])
    paths = [g.node(n)["var"].path for n in weights]
    for p, gv in zip(paths, grads):
        assert gv is not None, p
        g.add_output("grad:" + p, gv.tensor)
    g.refresh_edges()
    proto = emit_model(cleanup(g), opset=17)
    onnx_check(proto)
    run = Runner(proto, allow_reference=False)
    got = dict(zip(run.outputs, run({"img": x, "tok": t})))

    T = {p: torch.tensor(g.node(n)["var"].numpy(), dtype=torch.float64, requires_grad=True)
         for p, n in zip(paths, weights)}
    name = {v.path: v for v in model.weights}
    w = {k: T[name[k].path] for k in name}
    cw = w[f"{conv.name}/kernel"].permute(3, 2, 0, 1)   # Keras (kh, kw, in, out) -> (out, in, kh, kw)
    y = F.relu(F.conv2d(torch.tensor(x, dtype=torch.float64).permute(0, 3, 1, 2), cw, w[f"{conv.name}/bias"],
                        padding=1))
    def per_channel(v):
        return v.reshape(1, -1, 1, 1)

    # inference BatchNormalization written out: torch's batch_norm does not differentiate the
    # moving statistics, which are plain inputs of the inference graph here
    y = ((F.max_pool2d(y, 2) - per_channel(w[f"{bn.name}/moving_mean"]))
         / torch.sqrt(per_channel(w[f"{bn.name}/moving_variance"]) + 1e-3)
         * per_channel(w[f"{bn.name}/gamma"]) + per_channel(w[f"{bn.name}/beta"]))
    y = y.permute(0, 2, 3, 1).reshape(3, -1)                   # Keras Flatten of NHWC
    e = w[f"{emb.name}/embeddings"][torch.tensor(t)].reshape(3, -1)
    out = torch.tanh(torch.cat([y, e], 1) @ w[f"{dense.name}/kernel"] + w[f"{dense.name}/bias"])
    out.sum().backward()
    for p in paths:
        ref = T[p].grad.numpy()
        assert np.abs(ref).max() > 1e-2, p  # a live gradient
        np.testing.assert_allclose(got["grad:" + p], ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max(), err_msg=p)


def onnx_check(proto):
    import onnx
    onnx.checker.check_model(proto, full_check=True)


def test_backend_gradients_in_lambda_and_custom_layer():
    """K.gradients while tracing: w.r.t. a layer input (Lambda) and a weight (custom layer)."""
    import irgraph
    from irgraph import backend as K
    from irgraph import layers as L
    from irgraph.backend.grad import gradients as k_gradients
    from irgraph.models import Model

    class WeightGrad(L.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(name="w", shape=(input_shape[-1],), initializer="ones")
            super().build(input_shape)

        def call(self, x):
            y = x * self.w
            (gw,) = k_gradients(K.sum(y * y), [self.w])  # 2 * sum_batch(x^2 w)
            return x * 0 + gw

    inp = irgraph.Input(shape=(3,))
    dx = L.Lambda(lambda v: k_gradients(K.sum(K.sin(v) * v), v)[0])(inp)
    layer = WeightGrad()
    model = Model(inp, [dx, layer(inp)])
    layer.set_weights([np.array([0.5, -1.0, 2.0], np.float32)])
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    got_dx, got_dw = model.predict(x, verbose=0)
    np.testing.assert_allclose(got_dx, np.cos(x) * x + np.sin(x), rtol=1e-5, atol=1e-6)
    expect_dw = 2 * (x * x).sum(0) * np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(got_dw, np.broadcast_to(expect_dw, x.shape), rtol=1e-5, atol=1e-5)
    # a list of losses is summed, an unrelated variable gets None
    g = Graph("kgrad")
    with tracing(g):
        spec = Spec(("batch", 2), "float32")
        v = Value(g, g.add_input("v", spec), 0, spec)
        u = Value(g, g.add_input("u", spec), 0, spec)
        gv, gu = k_gradients([K.sum(v * 2.0), v * v], [v, u])
        assert gu is None and gv.sym_shape == ("batch", 2)
