"""The IR and each pass, run alone."""
import networkx as nx
import numpy as np
import pytest

import irgraph
from irgraph import backend as K
from irgraph.layers import Dense, Input, Lambda
from irgraph.ops.base import ShapeError, Spec
from irgraph.passes import cleanup, infer_shapes, lower
from irgraph.passes.manager import PassManager, inference_pipeline


def shared_model():
    a, b = Input(shape=(8,), name="a"), Input(shape=(8,), name="b")
    shared = Dense(4, name="shared")
    out = Dense(2, name="head")(irgraph.layers.concatenate([shared(a), shared(b)]))
    return irgraph.Model([a, b], out)


def test_layer_graph_has_input_call_weight_output_nodes():
    g = shared_model().graph
    assert [g.node(n)["name"] for n in g.inputs] == ["a", "b"]
    assert g.count("call") == 4  # shared twice, concatenate, head
    assert g.count("weight") == 4
    assert [g.node(n)["name"] for n in g.outputs] == ["head"]
    assert nx.is_directed_acyclic_graph(g.nx)


def test_shared_weights_have_one_node_and_several_consumers():
    g = shared_model().graph
    shared = g.shared_weights()
    assert sorted(g.node(w)["var"].path for w in shared) == ["shared/bias", "shared/kernel"]
    assert all(len(readers) == 2 for readers in shared.values())
    low = lower(g)
    assert sorted(low.node(w)["var"].path for w in low.shared_weights()) == ["shared/bias", "shared/kernel"]


def test_tensor_edges_carry_shape_and_dtype():
    g = shared_model().graph
    for _, dst, data in g.nx.edges(data=True):
        if not data.get("weight"):
            assert "shape" in data and "dtype" in data


def test_lower_keeps_layer_scopes_and_call_index():
    low = lower(shared_model().graph)
    scopes = {low.node(n)["scope"] for n in low.nodes_of("op")}
    assert {"shared", "shared[1]", "head"} <= scopes
    assert low.count("call") == 0
    # symbolic batch dimension on inputs
    assert low.node(low.inputs[0])["specs"][0].shape == ("batch", 8)


def test_nested_model_scopes():
    inner_in = Input(shape=(3,))
    inner = irgraph.Model(inner_in, Dense(3, name="inner_dense")(inner_in), name="inner")
    x = Input(shape=(3,))
    model = irgraph.Model(x, inner(inner(x)))
    low = lower(model.graph)
    scopes = {low.node(n)["scope"] for n in low.nodes_of("op")}
    assert "inner/inner_dense" in scopes and "inner[1]/inner_dense" in scopes


def test_infer_shapes_rerun_with_new_input_shape():
    x = Input(shape=(None, 5), name="seq")
    y = Dense(3)(x)
    low = lower(irgraph.Model(x, y).graph)
    assert low.spec(low.output_tensor(low.outputs[0])).shape == ("batch", "seq_1", 3)
    g2 = infer_shapes(low, {"seq": (4, 11, 5)})
    assert g2.spec(g2.output_tensor(g2.outputs[0])).shape == (4, 11, 3)
    assert low.spec(low.output_tensor(low.outputs[0])).shape == ("batch", "seq_1", 3)  # pure


def test_infer_shapes_error_names_layer_and_shapes():
    x = Input(shape=(None, 5), name="seq")
    low = lower(irgraph.Model(x, Dense(3, name="proj")(x)).graph)
    with pytest.raises(ShapeError) as err:
        infer_shapes(low, {"seq": ("batch", 7, 6)})
    msg = str(err.value)
    assert "proj" in msg and "MatMul" in msg and "(batch, 7, 6)" in msg
    with pytest.raises(ValueError, match="unknown input"):
        infer_shapes(low, {"nope": (1, 2, 5)})


def test_cleanup_folds_shape_arithmetic_and_removes_dead_code():
    x = Input(shape=(4, 6))

    def fn(t):
        n = K.shape(t)[1] * 2  # shape arithmetic on a static dim: foldable
        _unused = K.exp(t)  # dead code
        return K.reshape(t, (-1, 24)) + K.cast(n, "float32")

    model = irgraph.Model(x, Lambda(fn)(x))
    low = infer_shapes(lower(model.graph))
    before = low.op_counts()
    after = cleanup(low).op_counts()
    assert "Shape" in before and "Shape" not in after
    assert "Exp" in before and "Exp" not in after
    arr = np.random.default_rng(0).standard_normal((2, 4, 6)).astype(np.float32)
    np.testing.assert_allclose(model.predict(arr, verbose=0), arr.reshape(2, 24) + 8.0, rtol=1e-6)


def test_cleanup_common_subexpressions():
    x = Input(shape=(3,))
    model = irgraph.Model(x, Lambda(lambda t: K.exp(t) + K.exp(t))(x))
    low = infer_shapes(lower(model.graph))
    assert low.op_counts()["Exp"] == 2
    assert cleanup(low).op_counts()["Exp"] == 1


def test_pass_manager_keeps_every_intermediate_graph():
    pm = inference_pipeline()
    g = shared_model().graph
    out = pm.run(g)
    assert [n for n, _ in pm.history] == ["input", "lower", "infer_shapes", "cleanup", "fuse"]
    assert pm.after("input") is g and pm.graph is out
    assert pm.after("lower").count("call") == 0
    with pytest.raises(KeyError):
        pm.after("autodiff")
    custom = PassManager([("noop", lambda gr: gr)])
    assert custom.run(g) is g


def test_graph_copy_is_independent():
    low = lower(shared_model().graph)
    cp = low.copy()
    n = cp.nodes_of("op")[0]
    cp.node(n)["specs"][0] = Spec((1,), "float32")
    assert low.node(n)["specs"][0] != cp.node(n)["specs"][0]


def test_cleanup_cancels_and_composes_transposes():
    x = Input(shape=(2, 3, 4))
    undo = Lambda(lambda t: K.permute_dimensions(K.permute_dimensions(t, (0, 2, 3, 1)), (0, 3, 1, 2)))(x)
    twice = Lambda(lambda t: K.permute_dimensions(K.permute_dimensions(t, (0, 2, 1, 3)), (0, 1, 3, 2)))(x)
    model = irgraph.Model(x, [undo, twice])
    g = cleanup(infer_shapes(lower(model.graph)))
    assert g.op_counts().get("Transpose") == 1
    arr = np.random.default_rng(0).standard_normal((2, 2, 3, 4)).astype(np.float32)
    a, b = model.predict(arr, verbose=0)
    np.testing.assert_allclose(a, arr)
    np.testing.assert_allclose(b, arr.transpose(0, 2, 1, 3).transpose(0, 1, 3, 2))


def test_cleanup_sinks_transposes_through_activations():
    from irgraph.layers import Conv2D, MaxPooling2D
    x = Input(shape=(8, 8, 3))
    y = MaxPooling2D((2, 2))(Conv2D(4, (3, 3), activation="relu")(Conv2D(4, (3, 3), activation="relu", padding="same")(x)))
    model = irgraph.Model(x, y)
    g = cleanup(infer_shapes(lower(model.graph)))
    data_transposes = [n for n in g.nodes_of("op") if g.node(n)["op"] == "Transpose"
                       and g.kind(g.in_tensors(n)[0][0]) != "weight"]
    assert len(data_transposes) == 2  # into NCHW once, back to NHWC once
    arr = np.random.default_rng(0).standard_normal((2, 8, 8, 3)).astype(np.float32)
    from helpers import export_and_run
    export_and_run(model, [arr])


def test_cleanup_runs_a_pooling_and_its_gradient_indices_once():
    from irgraph.layers import Conv2D, Flatten, MaxPooling2D
    x = Input(shape=(4, 4, 2))
    model = irgraph.Model(x, Dense(1)(Flatten()(MaxPooling2D((2, 2))(Conv2D(2, 1)(x)))))
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    model.train_on_batch(rng.standard_normal((3, 4, 4, 2)).astype(np.float32), np.ones((3, 1), np.float32))
    pools = [n for n in model.export_training().graph.node if n.op_type == "MaxPool"]
    assert len(pools) == 1 and len(pools[0].output) == 2  # the forward reads the indexed pooling's values
    assert sum(n.op_type == "MaxPool" for n in model.export_training(which="eval").graph.node) == 1


def test_trim_borders_crops_what_no_window_reads_and_keeps_values():
    from irgraph.layers import AveragePooling2D, Conv2D, MaxPooling2D
    from irgraph.onnx import emit_model
    from irgraph.passes import trim_borders
    from helpers import bare_session
    x = Input(shape=(12, 13, 2))
    h = Conv2D(3, (3, 3), activation="relu")(x)                          # 10 x 11
    a = MaxPooling2D((2, 2))(Conv2D(4, (3, 3))(h))                       # 8 x 9 pooled: reads 8 x 8
    b = AveragePooling2D((3, 3))(Conv2D(2, (3, 3), strides=2, padding="same")(x))  # 6 x 7: reads 6 x 6
    model = irgraph.Model(x, [a, b])
    before = infer_shapes(lower(model.graph))
    after = trim_borders(before)

    def conv_outputs(g):  # (channels, height, width) of each Conv, NCHW
        return sorted(g.node(n)["specs"][0].shape[1:] for n in g.nodes_of("op") if g.node(n)["op"] == "Conv")

    assert conv_outputs(before) == [(2, 6, 7), (3, 10, 11), (4, 8, 9)]  # the pass left its input alone
    # the first conv feeds the second only (through transposes and relu), so it computes 10 x 10 too
    assert conv_outputs(after) == [(2, 6, 6), (3, 10, 10), (4, 8, 8)]
    arr = np.random.default_rng(0).standard_normal((2, 12, 13, 2)).astype(np.float32)
    outs = [bare_session(emit_model(g)).run(None, {model.input_names[0]: arr}) for g in (before, after)]
    for u, v in zip(*outs):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-6)


def test_fuse_turns_dense_matmul_plus_bias_into_gemm_only_where_it_is_2d():
    from irgraph.layers import Dense, Input
    from irgraph.models import Model
    from irgraph.passes.fuse import fuse
    x = Input(shape=(4,))
    seq = Input(shape=(3, 4))
    h = Dense(5, activation="relu")(x)
    model = Model([x, seq], [Dense(2)(h), Dense(2)(seq)])  # the second Dense is 3-D: MatMul + Add stay
    pm = inference_pipeline()
    before = pm.run(model.graph)
    assert pm.after("cleanup").op_counts().get("Gemm", 0) == 0
    counts = before.op_counts()
    assert counts["Gemm"] == 2 and counts["MatMul"] == 1 and counts["Add"] == 1
    assert fuse(pm.after("cleanup")).op_counts() == counts  # the pass alone, on any graph
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((6, 4)).astype(np.float32), rng.standard_normal((6, 3, 4)).astype(np.float32)
    k1, b1, k2, b2, k3, b3 = model.get_weights()
    out1, out2 = model.predict([a, b], verbose=0)
    np.testing.assert_allclose(out1, np.maximum(a @ k1 + b1, 0) @ k2 + b2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out2, b @ k3 + b3, rtol=1e-5, atol=1e-6)
