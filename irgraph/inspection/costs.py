"""Multiply-accumulate counts of one operator, from its attributes and its input and output shapes.

One formula per ONNX operator type (irgraph's primitives carry the ONNX names and attributes, so
the same formulas serve the IR graphs of every pass). The conventions, chosen so that a graph
counts the same before and after fusion (MatMul + Add -> Gemm) and so that they agree with
onnx-tool where both count the same thing:

- a multiply-accumulate of a product (Conv, Gemm, MatMul, the recurrent operators) is one MAC,
  and a bias add is one per output element;
- an elementwise operator costs one per output element and per extra input (``Add(a, b)``: one,
  ``Sum(a, b, c)``: two, ``Relu``: one); BatchNormalization three (subtract the mean, scale,
  shift; its per-channel preparation is folded); Softmax three (exp, sum, divide);
- a pooling window costs one per element it visits; a reduction one per input element;
- data movement (Reshape, Transpose, Concat, Gather (Embedding), Slice, Pad, Cast, ...) costs 0;
- the recurrent operators cost, per time step, direction and sample, the products with W and R,
  one bias add per gate unit (two for GRU with ``linear_before_reset``) and their gate arithmetic (LSTM 9 per unit: 3 sigmoids, 2 tanh, 3 products,
  one sum; GRU 8; RNN 1).

`macs` returns None when the operator is unknown or a needed dimension is not known: the caller
shows "unknown", never a wrong 0.
"""
from __future__ import annotations

import math

ZERO_COST = frozenset("""
    Reshape Flatten Transpose Squeeze Unsqueeze Concat Split Slice Gather GatherElements GatherND
    Pad Tile Expand Identity Cast CastLike Shape Size Dropout Constant ConstantOfShape Range OneHot
    DepthToSpace SpaceToDepth StopGradient ReverseTime NonZero RandomUniformLike RandomNormalLike
    RandomUniform RandomNormal EyeLike Compress ReverseSequence MaxUnpool SequenceConstruct Optional
""".split())

ELEMENTWISE = frozenset("""
    Add Sub Mul Div Pow Max Min Sum Mean Mod BitShift And Or Xor Not Equal Greater GreaterOrEqual
    Less LessOrEqual Where PRelu Relu LeakyRelu Elu Selu Celu Sigmoid HardSigmoid HardSwish Tanh Exp
    Log Sqrt Abs Neg Erf Sign Floor Ceil Round Reciprocal Sin Cos Tan Asin Acos Atan Sinh Cosh Asinh
    Acosh Atanh Softplus Softsign Clip Gelu Mish ThresholdedRelu IsNaN IsInf BitwiseAnd BitwiseOr
    BitwiseXor BitwiseNot Shrink QuickGelu
""".split())

REDUCTIONS = frozenset("""
    ReduceSum ReduceMean ReduceMax ReduceMin ReduceProd ReduceL1 ReduceL2 ReduceLogSum
    ReduceLogSumExp ReduceSumSquare ArgMax ArgMin CumSum TopK GlobalAveragePool GlobalMaxPool
    GlobalLpPool
""".split())

POOLS = frozenset({"MaxPool", "AveragePool", "LpPool", "MaxPoolWithIndices", "MaxRoiPool"})

RECURRENT_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
RECURRENT_UNIT_OPS = {"LSTM": 9, "GRU": 8, "RNN": 1}

# inputs that configure an operator (shapes, axes, indices, pads...) rather than carry data: a
# constant read there is not a parameter
CONFIG_INPUTS = {
    "Reshape": {1}, "Expand": {1}, "Tile": {1}, "Slice": {1, 2, 3, 4}, "Pad": {1, 2, 3},
    "Resize": {1, 2, 3}, "Upsample": {1}, "Unsqueeze": {1}, "Squeeze": {1}, "Split": {1},
    "ConstantOfShape": {0}, "Range": {0, 1, 2}, "TopK": {1}, "OneHot": {1, 2}, "Gather": {1},
    "GatherElements": {1}, "GatherND": {1}, "ScatterElements": {1}, "ScatterND": {1},
    "Clip": {1, 2}, "Dropout": {1, 2}, "CumSum": {1}, "ReduceSum": {1}, "ReduceMean": {1},
    "ReduceMax": {1}, "ReduceMin": {1}, "ReduceProd": {1}, "ReduceL1": {1}, "ReduceL2": {1},
    "ReduceLogSum": {1}, "ReduceLogSumExp": {1}, "ReduceSumSquare": {1}, "Where": {0},
    "LSTM": {4}, "GRU": {4}, "RNN": {4}, "Trilu": {1}, "Compress": {1}, "NonMaxSuppression": {2, 3, 4},
}

# inputs that hold a layer's weights even when they are single numbers (a Dense(1) bias)
WEIGHT_INPUTS = {
    "Conv": {1, 2}, "ConvTranspose": {1, 2}, "Gemm": {1, 2}, "MatMul": {1}, "PRelu": {1},
    "BatchNormalization": {1, 2, 3, 4}, "InstanceNormalization": {1, 2},
    "LayerNormalization": {1, 2}, "LSTM": {1, 2, 3}, "GRU": {1, 2, 3}, "RNN": {1, 2, 3},
}


def is_config_input(op: str, slot: int) -> bool:
    return slot in CONFIG_INPUTS.get(op, ())


def is_weight_input(op: str, slot: int) -> bool:
    return slot in WEIGHT_INPUTS.get(op, ())


def known(op: str) -> bool:
    return (op in ZERO_COST or op in ELEMENTWISE or op in REDUCTIONS or op in POOLS
            or op in _FORMULAS)


def numel(shape) -> int | None:
    """Number of elements, or None if a dimension is not a known integer."""
    if shape is None:
        return None
    n = 1
    for d in shape:
        if d.__class__ is not int or d < 0:
            return None
        n *= d
    return n


def macs(op: str, attrs: dict, ins: list, outs: list) -> int | None:
    """MACs of one operator. ``ins``/``outs``: shapes (tuples of int, or containing str/None for
    unknown dimensions; None for an absent optional input)."""
    if op in ZERO_COST:
        return 0
    if op in ELEMENTWISE:
        n = numel(outs[0]) if outs else None
        extra = 1 if op == "Mean" else 0
        return None if n is None else n * (max(1, sum(s is not None for s in ins) - 1) + extra)
    if op in REDUCTIONS:
        return numel(ins[0])
    if op in POOLS:
        n = numel(outs[0])
        kernel = attrs.get("kernel_shape")
        return None if n is None or kernel is None else n * math.prod(kernel)
    formula = _FORMULAS.get(op)
    if formula is None:
        return None
    try:
        return formula(attrs, ins, outs)
    except (TypeError, IndexError, ValueError):  # a needed dimension is missing or symbolic
        return None


def _ints(shape) -> tuple:
    if shape is None or any(not isinstance(d, int) for d in shape):
        raise TypeError("unknown dimension")
    return tuple(shape)


def _conv(attrs, ins, outs):
    out = math.prod(_ints(outs[0]))
    w = _ints(ins[1])                       # (M, C/group, k1, k2, ...)
    bias = out if len(ins) > 2 and ins[2] is not None else 0
    return out * w[1] * math.prod(w[2:]) + bias


def _conv_transpose(attrs, ins, outs):
    x = math.prod(_ints(ins[0]))
    w = _ints(ins[1])                       # (C, M/group, k1, k2, ...)
    bias = math.prod(_ints(outs[0])) if len(ins) > 2 and ins[2] is not None else 0
    return x * w[1] * math.prod(w[2:]) + bias


def _gemm(attrs, ins, outs):
    a = _ints(ins[0])
    k = a[0] if attrs.get("transA", 0) else a[1]
    out = math.prod(_ints(outs[0]))
    bias = out if len(ins) > 2 and ins[2] is not None else 0
    return out * k + bias


def _matmul(attrs, ins, outs):
    a = _ints(ins[0])
    return math.prod(_ints(outs[0])) * a[-1]


def _recurrent(op):
    gates, unit_ops = RECURRENT_GATES[op], RECURRENT_UNIT_OPS[op]

    def formula(attrs, ins, outs):
        x = _ints(ins[0])
        seq, batch = (x[1], x[0]) if attrs.get("layout", 0) else (x[0], x[1])
        width = x[2]
        w = _ints(ins[1])
        dirs, hidden = w[0], int(attrs.get("hidden_size") or w[1] // gates)
        gh = gates * hidden
        per_step = gh * width + gh * hidden + unit_ops * hidden
        if len(ins) > 3 and ins[3] is not None:
            # W's and R's biases sum ahead of time, except GRU's recurrent bias when it is applied
            # inside the reset gate (linear_before_reset, Keras's reset_after=True)
            per_step += 2 * gh if op == "GRU" and attrs.get("linear_before_reset") else gh
        return seq * batch * dirs * per_step
    return formula


def _batchnorm(attrs, ins, outs):
    return 3 * math.prod(_ints(outs[0]))


def _softmax(attrs, ins, outs):
    return 3 * math.prod(_ints(outs[0]))


def _layernorm(attrs, ins, outs):
    # mean, subtract, square and sum, scale by 1/std, then gamma and beta
    return (5 + sum(s is not None for s in ins[1:3])) * math.prod(_ints(outs[0]))


def _lrn(attrs, ins, outs):
    return math.prod(_ints(outs[0])) * int(attrs.get("size", 1))


def _resize(attrs, ins, outs):
    mode = attrs.get("mode", "nearest")
    if isinstance(mode, bytes):
        mode = mode.decode()
    if mode == "nearest":
        return 0
    out, x = _ints(outs[0]), _ints(ins[0])
    resized = sum(1 for a, b in zip(out, x) if a != b)
    return math.prod(out) * 2 ** resized


def _scatter(attrs, ins, outs):
    reduction = attrs.get("reduction", "none")
    if isinstance(reduction, bytes):
        reduction = reduction.decode()
    return 0 if reduction == "none" else math.prod(_ints(ins[2]))


def _einsum(attrs, ins, outs):
    eq = attrs["equation"]
    if isinstance(eq, bytes):
        eq = eq.decode()
    lhs = eq.replace(" ", "").split("->")[0].split(",")
    sizes = {}
    for term, shape in zip(lhs, ins):
        if "..." in term:
            raise ValueError("ellipsis")
        for letter, dim in zip(term, _ints(shape)):
            sizes[letter] = max(sizes.get(letter, 1), dim)
    return math.prod(sizes.values())


_FORMULAS = {
    "Conv": _conv, "ConvTranspose": _conv_transpose, "Gemm": _gemm, "MatMul": _matmul,
    "LSTM": _recurrent("LSTM"), "GRU": _recurrent("GRU"), "RNN": _recurrent("RNN"),
    "BatchNormalization": _batchnorm, "Softmax": _softmax, "LogSoftmax": _softmax,
    "LayerNormalization": _layernorm, "LRN": _lrn, "Resize": _resize, "Upsample": _resize,
    "ScatterElements": _scatter, "ScatterND": _scatter, "Einsum": _einsum,
}
