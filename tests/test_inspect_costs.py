"""Costs of `irgraph inspect` (irgraph.inspection): parameters and MACs of every layer type equal
formulas computed here by hand from the layer's arguments (the conventions are those written in
irgraph/inspection/costs.py: a bias add costs one per output element, an elementwise op one per
element and extra input, a pooling window one per element it visits, data movement nothing); the
view of the exported ONNX file gives the same per-layer figures as the IR; parameters held in
Constant nodes and constant subgraphs count."""
from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from irgraph import layers as L
from irgraph.inspection import model_report, onnx_report
from irgraph.models import Model

B = 3  # the batch every figure is computed at


def out_len(n, k, stride=1, dilation=1, padding="valid"):
    if padding == "same":
        return math.ceil(n / stride)
    return (n - dilation * (k - 1) - 1) // stride + 1


def row(report, name):
    rows = {r["name"]: r for r in report["layers"]}
    assert name in rows, f"no row {name!r}; rows: {list(rows)}"
    return rows[name]


def single_layer(layer, input_shape, dtype="float32"):
    x = L.Input(shape=input_shape, dtype=dtype)
    y = layer(x)
    if isinstance(y, (list, tuple)):
        y = y[0]
    return Model(x, y)


def check(model, name, macs, params):
    """The IR report and the report of the exported ONNX file both give these figures."""
    ir = row(model_report(model, batch=B), name)
    assert (ir["macs"], ir["params"]) == (macs, params), ir
    assert ir["params"] == model.get_layer(name).count_params()
    exported = row(onnx_report(model.to_onnx(), batch=B), name)
    assert (exported["macs"], exported["params"]) == (macs, params), exported
    return ir


def test_dense():
    m = single_layer(L.Dense(7, name="d"), (5,))
    check(m, "d", B * (5 * 7 + 7), 5 * 7 + 7)
    m = single_layer(L.Dense(7, use_bias=False, activation="relu", name="d"), (4, 5))
    # a 3-D input: the product per position, then the activation (one per element)
    check(m, "d", B * 4 * 5 * 7 + B * 4 * 7, 35)


@pytest.mark.parametrize("stride,dilation,padding,groups", [
    (1, 1, "valid", 1), (2, 1, "same", 1), (1, 2, "valid", 1), (1, 1, "same", 2), (3, 1, "valid", 4)])
def test_conv1d(stride, dilation, padding, groups):
    n, c, f, k = 17, 8, 12, 3
    m = single_layer(L.Conv1D(f, k, strides=stride, dilation_rate=dilation, padding=padding, groups=groups,
                              name="c"), (n, c))
    lo = out_len(n, k, stride, dilation, padding)
    check(m, "c", B * lo * f * (c // groups) * k + B * lo * f, k * (c // groups) * f + f)


@pytest.mark.parametrize("stride,dilation,padding,groups", [
    ((1, 1), (1, 1), "valid", 1), ((2, 1), (1, 1), "same", 1), ((1, 1), (2, 3), "valid", 1),
    ((2, 2), (1, 1), "same", 3)])
def test_conv2d(stride, dilation, padding, groups):
    h, w, c, f, kh, kw = 13, 11, 6, 9, 3, 2
    m = single_layer(L.Conv2D(f, (kh, kw), strides=stride, dilation_rate=dilation, padding=padding,
                              groups=groups, name="c"), (h, w, c))
    ho = out_len(h, kh, stride[0], dilation[0], padding)
    wo = out_len(w, kw, stride[1], dilation[1], padding)
    check(m, "c", B * ho * wo * f * (c // groups) * kh * kw + B * ho * wo * f,
          kh * kw * (c // groups) * f + f)


def test_conv3d():
    d, h, w, c, f, k = 6, 7, 5, 2, 4, 3
    m = single_layer(L.Conv3D(f, k, strides=(1, 2, 1), padding="same", name="c"), (d, h, w, c))
    do, ho, wo = d, math.ceil(h / 2), w
    check(m, "c", B * do * ho * wo * f * c * k ** 3 + B * do * ho * wo * f, k ** 3 * c * f + f)


def test_depthwise_conv2d():
    h, w, c, k, mult = 10, 9, 4, 3, 2
    m = single_layer(L.DepthwiseConv2D(k, depth_multiplier=mult, strides=2, name="dw"), (h, w, c))
    ho, wo = out_len(h, k, 2), out_len(w, k, 2)
    check(m, "dw", B * ho * wo * c * mult * k * k + B * ho * wo * c * mult, k * k * c * mult + c * mult)


def test_separable_conv2d():
    h, w, c, k, mult, f = 9, 8, 3, 3, 2, 5
    m = single_layer(L.SeparableConv2D(f, k, depth_multiplier=mult, padding="same", name="sep"), (h, w, c))
    depthwise = B * h * w * c * mult * k * k
    pointwise = B * h * w * f * c * mult + B * h * w * f
    check(m, "sep", depthwise + pointwise, k * k * c * mult + c * mult * f + f)


@pytest.mark.parametrize("stride,padding", [(1, "valid"), (2, "valid"), (2, "same")])
def test_conv2d_transpose(stride, padding):
    h, w, c, f, k = 5, 4, 3, 6, 3
    m = single_layer(L.Conv2DTranspose(f, k, strides=stride, padding=padding, name="ct"), (h, w, c))
    if padding == "same":
        ho, wo = h * stride, w * stride
    else:
        ho, wo = (h - 1) * stride + k, (w - 1) * stride + k
    # every input element is multiplied into a k x k x f window of the output; then the bias
    check(m, "ct", B * h * w * c * f * k * k + B * ho * wo * f, k * k * f * c + f)


T, I, H = 7, 5, 4


@pytest.mark.parametrize("layer,gates,unit_ops,bias_adds,params", [
    (lambda: L.LSTM(H, name="r"), 4, 9, 4 * H, 4 * (I * H + H * H + H)),
    (lambda: L.GRU(H, name="r"), 3, 8, 2 * 3 * H, 3 * (I * H + H * H + 2 * H)),   # reset_after=True
    (lambda: L.GRU(H, reset_after=False, name="r"), 3, 8, 3 * H, 3 * (I * H + H * H + H)),
    (lambda: L.SimpleRNN(H, name="r"), 1, 1, H, I * H + H * H + H),
])
def test_recurrent(layer, gates, unit_ops, bias_adds, params):
    m = single_layer(layer(), (T, I))
    per_step = gates * H * I + gates * H * H + bias_adds + unit_ops * H
    check(m, "r", B * T * per_step, params)


def test_bidirectional_lstm_counts_both_directions():
    m = single_layer(L.Bidirectional(L.LSTM(H, return_sequences=True), name="bi"), (T, I))
    per_step = 4 * H * I + 4 * H * H + 4 * H + 9 * H
    r = row(model_report(m, batch=B), "bi")
    assert r["params"] == 2 * 4 * (I * H + H * H + H)
    # both directions, then the two outputs are joined (concatenation: data movement)
    assert r["macs"] == 2 * B * T * per_step


def test_recurrent_with_unknown_time_asks_for_it():
    m = single_layer(L.LSTM(H, name="r"), (None, I))
    report = model_report(m, batch=B)
    assert row(report, "r")["macs"] is None
    [(axis, symbol)] = report["unresolved_dims"]["input_layer"]
    assert axis == 1 and any(f"--dim {symbol}=N" in note for note in report["notes"]), report["notes"]
    assert row(model_report(m, batch=B, dims={symbol: T}), "r")["macs"] == B * T * (
        4 * H * I + 4 * H * H + 4 * H + 9 * H)


def test_embedding():
    m = single_layer(L.Embedding(50, 6, name="emb"), (9,), dtype="int32")
    check(m, "emb", 0, 50 * 6)


def test_batch_normalization():
    h, w, c = 4, 5, 6
    m = single_layer(L.BatchNormalization(name="bn"), (h, w, c))
    r = check(m, "bn", 3 * B * h * w * c, 4 * c)  # subtract the mean, scale, shift; 4 vectors
    assert r["non_trainable_params"] == 2 * c      # the moving mean and variance


@pytest.mark.parametrize("layer,shape,expected", [
    (lambda: L.MaxPooling2D((2, 3), name="p"), (8, 9, 4), B * 4 * 3 * 4 * 6),
    (lambda: L.AveragePooling2D(2, strides=1, name="p"), (5, 6, 3), B * 4 * 5 * 3 * 4),
    (lambda: L.MaxPooling1D(3, name="p"), (12, 5), B * 4 * 5 * 3),
    (lambda: L.AveragePooling3D(2, name="p"), (4, 6, 2, 3), B * 2 * 3 * 1 * 3 * 8),
    (lambda: L.GlobalAveragePooling2D(name="p"), (6, 7, 5), B * 6 * 7 * 5),
    (lambda: L.GlobalMaxPooling1D(name="p"), (9, 4), B * 9 * 4),
])
def test_pooling(layer, shape, expected):
    check(single_layer(layer(), shape), "p", expected, 0)


N = 10


@pytest.mark.parametrize("merge,n_inputs,per_element", [
    (L.Add, 3, 2), (L.Subtract, 2, 1), (L.Multiply, 2, 1), (L.Maximum, 3, 2), (L.Minimum, 2, 1),
    (L.Average, 3, 3), (L.Concatenate, 3, 0)])
def test_merge(merge, n_inputs, per_element):
    xs = [L.Input(shape=(N,)) for _ in range(n_inputs)]
    m = Model(xs, merge(name="m")(xs))
    check(m, "m", B * N * per_element, 0)


def test_dot():
    a, b = L.Input(shape=(N,)), L.Input(shape=(N,))
    m = Model([a, b], L.Dot(axes=1, name="m")([a, b]))
    check(m, "m", 2 * B * N, 0)  # the products (one per position), then their sum (one per position)


def test_shared_weights_counted_once_and_linked():
    x1, x2 = L.Input(shape=(5,)), L.Input(shape=(5,))
    shared = L.Dense(3, name="shared")
    m = Model([x1, x2], L.Add(name="sum")([shared(x1), shared(x2)]))
    report = model_report(m, batch=B)
    assert report["total"]["params"] == m.count_params() == 18
    first, second = report["layers"][0], report["layers"][1]
    assert first["params"] == 18 and second["params"] == 0
    assert second["shared_weights"] == ["shared/kernel", "shared/bias"]
    assert first["macs"] == second["macs"] == B * (15 + 3)


def test_totals_and_peak_memory_of_a_chain():
    m = single_layer(L.Dense(8, name="d"), (4,))
    report = model_report(m, batch=B)
    total = report["total"]
    assert total["params"] == 40 and total["weight_bytes"] == 160 and total["macs"] == B * 40
    mem = report["memory"]["inference_peak_bytes"]
    # the input and the output live together; the weights stay
    assert mem["peak_bytes"] == 160 + 4 * B * (4 + 8)


def test_train_step_memory_counts_weights_slots_and_activations():
    m = single_layer(L.Dense(8, name="d"), (4,))
    m.compile(optimizer="adam", loss="mse")
    report = model_report(m, batch=B, train=True)
    train = report["memory"]["train_step"]
    assert train["weight_bytes"] == 160 and train["optimizer_slot_bytes"] == 2 * 160
    # at least: weights and slots held, new weights and slots written, the batch and labels
    assert train["peak_bytes"] >= 2 * 3 * 160 + 4 * B * (4 + 8)
    assert not any("not compiled" in n for n in report["notes"])


def test_costs_per_sample_without_batch_and_symbolic_shapes_shown():
    m = single_layer(L.Dense(7, name="d"), (5,))
    report = model_report(m)
    assert report["batch"] is None and report["costs_at_batch"] == 1
    r = row(report, "d")
    assert r["macs"] == 5 * 7 + 7 and r["output_shapes"] == [["batch", 7]]


# ------------------------------------------------------------------- ONNX files made by hand
def onnx_model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_parameters_in_constant_nodes_and_constant_subgraphs():
    w = np.ones((4, 6), np.float32)
    nodes = [
        helper.make_node("Constant", [], ["w"], name="fc/w", value=numpy_helper.from_array(w)),
        helper.make_node("ConstantOfShape", ["bshape"], ["b"], name="fc/b",
                         value=numpy_helper.from_array(np.zeros(1, np.float32))),
        helper.make_node("Transpose", ["w"], ["wt"], name="fc/wt", perm=[1, 0]),  # folded
        helper.make_node("MatMul", ["x", "wt"], ["y0"], name="fc/MatMul"),
        helper.make_node("Add", ["y0", "b"], ["y1"], name="fc/Add"),
        helper.make_node("Reshape", ["y1", "shape"], ["y"], name="out/Reshape"),
    ]
    inits = [numpy_helper.from_array(np.array([4], np.int64), "bshape"),
             numpy_helper.from_array(np.array([-1, 2, 2], np.int64), "shape")]
    model = onnx_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 6])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    report = onnx_report(model, batch=5)
    fc = row(report, "fc")
    assert fc["params"] == 24 + 4          # the Constant's kernel and the ConstantOfShape bias
    assert fc["macs"] == 5 * 4 * 6 + 5 * 4  # the transpose is folded: no cost per run
    assert row(report, "out")["params"] == 0  # a shape is no parameter
    assert report["total"]["params"] == 28


def test_unknown_operator_is_shown_with_unknown_costs():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="pre/Relu"),
             helper.make_node("FancyOp", ["a"], ["b"], name="mystery/Fancy", domain="com.example"),
             helper.make_node("Relu", ["b"], ["y"], name="post/Relu")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.example", 1)])
    report = onnx_report(model)
    mystery = row(report, "mystery")
    assert mystery["macs"] is None and mystery["unknown_ops"] == ["FancyOp"]
    assert row(report, "pre")["macs"] == 6
    assert report["total"]["macs_complete"] is False and report["unknown_operators"] == ["FancyOp"]


def test_gemm_transposed_and_matmul_batched():
    nodes = [helper.make_node("Gemm", ["x", "w", "c"], ["g"], name="gemm", transA=1, transB=1),
             helper.make_node("MatMul", ["a", "b"], ["m"], name="mm")]
    inits = [numpy_helper.from_array(np.ones((7, 4), np.float32), "w"),
             numpy_helper.from_array(np.ones((7,), np.float32), "c"),
             numpy_helper.from_array(np.ones((2, 5, 6), np.float32), "b")]
    model = onnx_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 3]),
                               helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 3, 5])],
                       [helper.make_tensor_value_info("g", TensorProto.FLOAT, None),
                        helper.make_tensor_value_info("m", TensorProto.FLOAT, None)], inits)
    report = onnx_report(model)
    assert row(report, "gemm")["macs"] == 3 * 7 * 4 + 3 * 7
    assert row(report, "mm")["macs"] == 2 * 3 * 6 * 5
