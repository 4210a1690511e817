"""Core, merge, normalization, embedding and TimeDistributed layers against PyTorch (or numpy)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import irgraph
from irgraph import backend as K
from irgraph import layers as L
from irgraph.models import Model, Sequential
from helpers import assert_close, export_and_run, layer_output, rand


def T(x):
    return torch.from_numpy(np.asarray(x))


ACTIVATIONS = {
    None: lambda t: t, "linear": lambda t: t, "relu": F.relu, "relu6": F.relu6,
    "leaky_relu": lambda t: F.leaky_relu(t, 0.2), "elu": F.elu, "selu": F.selu, "gelu": F.gelu,
    "silu": F.silu, "swish": F.silu, "sigmoid": torch.sigmoid, "hard_sigmoid": lambda t: F.relu6(t + 3) / 6,
    "tanh": torch.tanh, "softmax": lambda t: F.softmax(t, -1), "log_softmax": lambda t: F.log_softmax(t, -1),
    "softplus": F.softplus, "softsign": F.softsign, "exponential": torch.exp,
}


# ----------------------------------------------------------------------------------- Dense
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_dense_activation(activation):
    x = rand(4, 6)
    w, b = rand(6, 3, seed=1) * 0.5, rand(3, seed=2)
    d = L.Dense(3, activation=activation)
    d.build((None, 6))
    d.set_weights([w, b])  # Keras layout: kernel (in, out)
    ref = ACTIVATIONS[activation](T(x) @ T(w) + T(b)).numpy()
    assert_close(layer_output(d, x), ref)


def test_dense_3d_input_and_no_bias():
    x = rand(2, 5, 6)
    w = rand(6, 4, seed=1)
    d = L.Dense(4, use_bias=False)
    d.build((None, 5, 6))
    assert len(d.weights) == 1
    d.set_weights([w])
    y = layer_output(d, x)
    assert y.shape == (2, 5, 4)
    assert_close(y, F.linear(T(x), T(w).T).numpy())


def test_dense_matches_torch_linear_module():
    lin = torch.nn.Linear(6, 3)
    x = rand(5, 6)
    d = L.Dense(3)
    d.build((None, 6))
    d.set_weights([lin.weight.detach().numpy().T, lin.bias.detach().numpy()])
    assert_close(layer_output(d, x), lin(T(x)).detach().numpy())


def test_dense_keras1_arguments():
    model = Sequential()
    model.add(L.Dense(output_dim=5, init="he_normal", input_dim=7, activation="tanh"))
    model.add(L.Dense(2, bias=False))
    assert model.input_shape == (None, 7) and model.output_shape == (None, 2)
    d0 = model.layers[0]
    assert d0.units == 5 and d0.kernel_initializer.mode == "fan_in" and d0.kernel_initializer.scale == 2.0
    assert [w.shape for w in model.get_weights()] == [(7, 5), (5,), (5, 2)]
    x = rand(3, 7)
    w0, b0, w1 = model.get_weights()
    assert_close(export_and_run(model, [x])[0], np.tanh(x @ w0 + b0) @ w1)


def test_dense_errors():
    with pytest.raises(ValueError, match="positive number of units"):
        L.Dense(0)
    with pytest.raises(ValueError, match=r"'dense_1'.*expected axis -1 of input shape to have value 4"):
        d = L.Dense(2, name="dense_1")
        d(irgraph.Input((4,)))
        d(irgraph.Input((5,)))


# ----------------------------------------------------------------------------------- shape layers
@pytest.mark.parametrize("layer,shape", [
    (lambda: L.Dropout(0.5), (3, 4)),
    (lambda: L.Dropout(p=0.3), (3, 4, 2)),
    (lambda: L.SpatialDropout1D(0.5), (2, 5, 3)),
    (lambda: L.SpatialDropout2D(0.5), (2, 4, 4, 3)),
    (lambda: L.SpatialDropout2D(0.5, data_format="channels_first"), (2, 3, 4, 4)),
    (lambda: L.SpatialDropout3D(0.5), (2, 3, 3, 3, 2)),
])
def test_dropouts_are_identity_at_inference(layer, shape):
    x = rand(*shape)
    assert_close(layer_output(layer(), x), x)


def test_flatten():
    x = rand(2, 3, 4, 5)
    assert_close(layer_output(L.Flatten(), x), x.reshape(2, -1))
    # channels_first: Keras moves channels last before flattening (so a following Dense matches)
    assert_close(layer_output(L.Flatten(data_format="channels_first"), x),
                 x.transpose(0, 2, 3, 1).reshape(2, -1))
    K.set_image_data_format("channels_first")
    assert_close(layer_output(L.Flatten(), x), x.transpose(0, 2, 3, 1).reshape(2, -1))


def test_flatten_channels_first_3d_and_2d_input():
    x = rand(2, 3, 4)
    assert_close(layer_output(L.Flatten(data_format="channels_first"), x), x.transpose(0, 2, 1).reshape(2, -1))
    x2 = rand(2, 3)
    assert_close(layer_output(L.Flatten(), x2), x2)


def test_reshape():
    x = rand(2, 3, 4)
    assert_close(layer_output(L.Reshape((4, 3)), x), x.reshape(2, 4, 3))
    assert_close(layer_output(L.Reshape((-1, 2)), x), x.reshape(2, 6, 2))
    assert_close(layer_output(L.Reshape((12,)), x), x.reshape(2, 12))
    assert L.Reshape((-1, 2)).compute_output_shape((None, 3, 4)) == (None, 6, 2)


def test_reshape_errors_name_layer_and_shapes():
    inp = irgraph.Input((3, 4))
    with pytest.raises(ValueError, match=r"'bad_reshape'.*\(None, 3, 4\).*12 values.*\(5, 2\)"):
        L.Reshape((5, 2), name="bad_reshape")(inp)
    with pytest.raises(ValueError, match=r"'bad2'.*\(-1, 5\)"):
        L.Reshape((-1, 5), name="bad2")(inp)
    with pytest.raises(ValueError, match="at most one -1"):
        L.Reshape((-1, -1))


def test_reshape_dynamic_axis():
    inp = irgraph.Input((None, 4))
    model = Model(inp, L.Reshape((-1, 2))(inp))
    for n in (3, 5):
        x = rand(2, n, 4)
        assert_close(export_and_run(model, [x])[0], x.reshape(2, -1, 2))


def test_permute_and_repeat_vector():
    x = rand(2, 3, 4, 5)
    assert_close(layer_output(L.Permute((3, 1, 2)), x), x.transpose(0, 3, 1, 2))
    assert_close(layer_output(L.Permute((2, 1, 3)), x), x.transpose(0, 2, 1, 3))
    with pytest.raises(ValueError, match=r"'perm'.*permutation"):
        L.Permute((0, 1), name="perm")
    v = rand(2, 5)
    assert_close(layer_output(L.RepeatVector(3), v), np.repeat(v[:, None], 3, axis=1))
    with pytest.raises(ValueError, match=r"'rv'.*ndim=2"):
        L.RepeatVector(3, name="rv")(irgraph.Input((3, 4)))


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_embedding(dtype):
    table = rand(10, 4)
    idx = np.array([[0, 3, 9], [2, 2, 7]], dtype=dtype)
    emb = L.Embedding(10, 4)
    emb.build((None, 3))
    assert emb.get_weights()[0].shape == (10, 4)  # Keras layout (V, D)
    emb.set_weights([table])
    y = layer_output(emb, idx)
    assert_close(y, F.embedding(T(idx.astype("int64")), T(table)).numpy())


def test_embedding_keras1_sequential_and_float_indices():
    model = Sequential([L.Embedding(input_dim=8, output_dim=3, input_length=5, init="uniform")])
    assert model.input_shape == (None, 5) and model.inputs[0].dtype == "int32"
    idx = np.array([[1, 2, 3, 4, 7]], dtype="int32")
    table = model.get_weights()[0]
    assert_close(export_and_run(model, [idx])[0], table[idx])
    y = layer_output(L.Embedding(8, 3, weights=[table]), idx.astype("float32"))
    assert_close(y, table[idx])


# ----------------------------------------------------------------------------------- merges
MERGES = [
    (L.Add, L.add, lambda xs: sum(xs)),
    (L.Multiply, L.multiply, lambda xs: xs[0] * xs[1] * xs[2]),
    (L.Average, L.average, lambda xs: sum(xs) / 3),
    (L.Maximum, L.maximum, lambda xs: np.maximum(np.maximum(xs[0], xs[1]), xs[2])),
    (L.Minimum, L.minimum, lambda xs: np.minimum(np.minimum(xs[0], xs[1]), xs[2])),
]


@pytest.mark.parametrize("cls,fn,ref", MERGES)
def test_elementwise_merges(cls, fn, ref):
    xs = [rand(3, 4, 5, seed=i) for i in range(3)]
    assert_close(layer_output(cls(), *xs), ref(xs))
    ins = [irgraph.Input((4, 5)) for _ in xs]
    model = Model(ins, fn(ins))
    assert_close(export_and_run(model, xs)[0], ref(xs))


def test_subtract_and_broadcasting_merge():
    a, b = rand(3, 4), rand(3, 4, seed=1)
    assert_close(layer_output(L.Subtract(), a, b), a - b)
    ins = [irgraph.Input((4,)), irgraph.Input((4,))]
    assert_close(export_and_run(Model(ins, L.subtract(ins)), [a, b])[0], a - b)
    with pytest.raises(ValueError, match="needs 2 inputs, got 3"):
        L.Subtract()(ins + [irgraph.Input((4,))])
    c = rand(3, 1, seed=2)
    assert_close(layer_output(L.Add(), a, c), a + c)


@pytest.mark.parametrize("cls", [L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum])
def test_merge_incompatible_shapes(cls):
    a, b = irgraph.Input((4, 5)), irgraph.Input((4, 6))
    with pytest.raises(ValueError, match=r"'mrg'.*\(None, 4, 5\).*\(None, 4, 6\).*same rank"):
        cls(name="mrg")([a, b])
    with pytest.raises(ValueError, match=r"'mrg2'.*\(None, 4, 5\).*\(None, 5\)"):
        cls(name="mrg2")([a, irgraph.Input((5,))])


def test_merge_needs_a_list():
    with pytest.raises(ValueError, match="'add'.*list of tensors"):
        L.Add()(irgraph.Input((3,)))


@pytest.mark.parametrize("axis", [-1, 1, 2])
def test_concatenate(axis):
    a, b = rand(2, 3, 4), rand(2, 3, 4, seed=1)
    assert_close(layer_output(L.Concatenate(axis=axis), a, b), np.concatenate([a, b], axis=axis))
    ins = [irgraph.Input((3, 4)), irgraph.Input((3, 4))]
    assert_close(export_and_run(Model(ins, L.concatenate(ins, axis=axis)), [a, b])[0],
                 np.concatenate([a, b], axis=axis))


def test_concatenate_dynamic_axes_and_errors():
    ins = [irgraph.Input((None, 4)), irgraph.Input((None, 2))]
    model = Model(ins, L.Concatenate()(ins))
    assert model.output_shape == (None, None, 6)
    for n in (2, 5):
        a, b = rand(3, n, 4), rand(3, n, 2, seed=1)
        assert_close(export_and_run(model, [a, b])[0], np.concatenate([a, b], -1))
    with pytest.raises(ValueError, match=r"'cat'.*\(None, 3, 4\).*\(None, 5, 4\)"):
        L.Concatenate(axis=-1, name="cat")([irgraph.Input((3, 4)), irgraph.Input((5, 4))])


@pytest.mark.parametrize("sa,sb,axes,ref", [
    ((5,), (5,), 1, lambda a, b: np.sum(a * b, 1, keepdims=True)),
    ((5,), (5,), -1, lambda a, b: np.sum(a * b, 1, keepdims=True)),
    ((68, 64), (4, 64), [2, 2], lambda a, b: np.einsum("bid,bjd->bij", a, b)),  # memory network
    ((6, 4), (6, 3), [1, 1], lambda a, b: np.einsum("bdi,bdj->bij", a, b)),
    ((4, 6), (6, 3), [2, 1], lambda a, b: a @ b),
    ((6, 4), (3, 6), [1, 2], lambda a, b: np.einsum("bdi,bjd->bij", a, b)),
    ((4, 6), (6,), [2, 1], lambda a, b: np.einsum("bid,bd->bi", a, b)),
])
def test_dot(sa, sb, axes, ref):
    a, b = rand(3, *sa), rand(3, *sb, seed=1)
    y = layer_output(L.Dot(axes=axes), a, b)
    assert_close(y, ref(a, b))


def _unit(x, axis):
    return x / np.sqrt(np.maximum(np.sum(x * x, axis=axis, keepdims=True), 1e-12))


def test_dot_normalize_is_cosine():
    a, b = rand(4, 7), rand(4, 7, seed=1)
    y = layer_output(L.Dot(axes=1, normalize=True), a, b)
    assert_close(y, F.cosine_similarity(T(a), T(b), dim=1).numpy()[:, None])
    a3, b3 = rand(2, 5, 6), rand(2, 3, 6, seed=1)
    y = layer_output(L.Dot(axes=[2, 2], normalize=True), a3, b3)
    assert_close(y, np.einsum("bid,bjd->bij", _unit(a3, 2), _unit(b3, 2)))


def test_dot_errors_and_function():
    a, b = irgraph.Input((68, 64)), irgraph.Input((4, 64))
    assert L.dot([a, b], axes=[2, 2]).shape == (None, 68, 4)
    with pytest.raises(ValueError, match=r"'dt'.*\(None, 68, 64\).*\(None, 4, 64\)"):
        L.Dot(axes=[1, 1], name="dt")([a, b])
    for bad in ([3, 2], [0, 2], [-4, 2]):
        with pytest.raises(ValueError, match=r"'dt2'.*out of range.*not the batch axis"):
            L.Dot(axes=bad, name="dt2")([a, b])
    with pytest.raises(ValueError, match=r"'dt3'.*pair of ints"):
        L.Dot(axes=[1, 2, 3], name="dt3")


@pytest.mark.parametrize("mode,kw,ref", [
    ("concat", {"concat_axis": 1}, lambda a, b: np.concatenate([a, b], 1)),
    ("concat", {}, lambda a, b: np.concatenate([a, b], -1)),
    ("sum", {}, lambda a, b: a + b),
    ("mul", {}, lambda a, b: a * b),
    ("ave", {}, lambda a, b: (a + b) / 2),
    ("max", {}, np.maximum),
    ("dot", {"dot_axes": [2, 2]}, lambda a, b: np.einsum("bid,bjd->bij", a, b)),
    ("dot", {"dot_axes": 1}, lambda a, b: np.einsum("bdi,bdj->bij", a, b)),
    ("dot", {"dot_axes": [(2,), (2,)]}, lambda a, b: np.einsum("bid,bjd->bij", a, b)),  # Keras 1.0 babi
    ("cos", {"dot_axes": [2, 2]}, lambda a, b: np.einsum("bid,bjd->bij", _unit(a, 2), _unit(b, 2))),
])
def test_keras1_merge(mode, kw, ref):
    a, b = rand(2, 3, 4), rand(2, 3, 4, seed=1)
    ins = [irgraph.Input((3, 4)), irgraph.Input((3, 4))]
    out = L.merge(ins, mode=mode, name="m", **kw)
    assert out._keras_history[0].name == "m"
    assert_close(export_and_run(Model(ins, out), [a, b])[0], ref(a, b))
    # the Keras 1 Merge layer
    ins = [irgraph.Input((3, 4)), irgraph.Input((3, 4))]
    out = L.Merge(mode=mode, **kw)(ins)
    assert_close(export_and_run(Model(ins, out), [a, b])[0], ref(a, b))


def test_keras1_merge_callable_and_unknown_mode():
    ins = [irgraph.Input((3,)), irgraph.Input((3,))]
    out = L.merge(ins, mode=lambda xs: xs[0] - xs[1], output_shape=lambda s: s[0])
    a, b = rand(2, 3), rand(2, 3, seed=1)
    assert_close(export_and_run(Model(ins, out), [a, b])[0], a - b)
    with pytest.raises(ValueError, match="unknown mode 'avg'"):
        L.merge(ins, mode="avg")


# ----------------------------------------------------------------------------------- normalization
def _bn_weights(c, seed=0):
    g = np.random.default_rng(seed)
    return [g.uniform(0.5, 1.5, c).astype("float32"), g.normal(size=c).astype("float32"),
            g.normal(size=c).astype("float32"), g.uniform(0.5, 2.0, c).astype("float32")]


@pytest.mark.parametrize("axis,shape", [(-1, (4, 6)), (-1, (2, 3, 4, 5)), (1, (2, 5, 3, 4)), (2, (2, 3, 5))])
def test_batch_normalization_inference(axis, shape):
    x = rand(*shape)
    c = shape[axis]
    gamma, beta, mean, var = _bn_weights(c)
    bn = L.BatchNormalization(axis=axis, epsilon=1e-3)
    bn.build((None,) + shape[1:])
    bn.set_weights([gamma, beta, mean, var])  # Keras order
    assert [v.name for v in bn.non_trainable_weights] == ["moving_mean", "moving_variance"]
    y = layer_output(bn, x)
    xt = T(np.moveaxis(x, axis, 1))
    ref = F.batch_norm(xt, T(mean), T(var), T(gamma), T(beta), training=False, eps=1e-3).numpy()
    assert_close(y, np.moveaxis(ref, 1, axis))


@pytest.mark.parametrize("center,scale", [(False, True), (True, False), (False, False)])
def test_batch_normalization_center_scale(center, scale):
    x = rand(3, 4, 6)
    gamma, beta, mean, var = _bn_weights(6)
    bn = L.BatchNormalization(center=center, scale=scale)
    bn.build((None, 4, 6))
    bn.set_weights(([gamma] if scale else []) + ([beta] if center else []) + [mean, var])
    ref = F.batch_norm(T(x).permute(0, 2, 1), T(mean), T(var), T(gamma) if scale else None,
                       T(beta) if center else None, training=False, eps=1e-3).permute(0, 2, 1).numpy()
    assert_close(layer_output(bn, x), ref)


def test_batch_normalization_keras1_mode_and_frozen():
    bn = L.BatchNormalization(mode=0, axis=1)
    x = rand(2, 3, 4, 4)
    bn.build((None, 3, 4, 4))
    ws = _bn_weights(3, seed=3)
    bn.set_weights(ws)
    bn.trainable = False
    assert bn.trainable_weights == [] and len(bn.non_trainable_weights) == 4
    ref = F.batch_norm(T(x), T(ws[2]), T(ws[3]), T(ws[0]), T(ws[1]), training=False, eps=1e-3).numpy()
    assert_close(layer_output(bn, x), ref)


@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 8)])
def test_layer_normalization(shape):
    x = rand(*shape)
    c = shape[-1]
    gamma, beta = rand(c, seed=1), rand(c, seed=2)
    ln = L.LayerNormalization()
    ln.build((None,) + shape[1:])
    ln.set_weights([gamma, beta])
    ref = F.layer_norm(T(x), (c,), T(gamma), T(beta), eps=1e-3).numpy()
    assert_close(layer_output(ln, x), ref)


def test_layer_normalization_multiple_axes_and_no_affine():
    x = rand(2, 3, 4)
    y = layer_output(L.LayerNormalization(axis=[1, 2], center=False, scale=False), x)
    assert_close(y, F.layer_norm(T(x), (3, 4), eps=1e-3).numpy())
    y = layer_output(L.LayerNormalization(axis=1, epsilon=1e-5, center=False, scale=False), x)
    m, v = x.mean(1, keepdims=True), x.var(1, keepdims=True)
    assert_close(y, (x - m) / np.sqrt(v + 1e-5))


def test_layer_normalization_rms_scaling():
    x = rand(3, 8)
    ln = L.LayerNormalization(rms_scaling=True)
    ln.build((None, 8))
    assert [v.name for v in ln.weights] == ["gamma"]  # as Keras 3: no beta with rms_scaling
    gamma = 1 + rand(8, seed=1)
    ln.set_weights([gamma])
    ref = x / np.sqrt(np.mean(x * x, -1, keepdims=True) + 1e-3) * gamma
    assert_close(layer_output(ln, x), ref)


# ----------------------------------------------------------------------------------- TimeDistributed
def test_time_distributed_dense_static_and_dynamic():
    d = L.Dense(3, activation="tanh")
    td = L.TimeDistributed(d)
    x = rand(2, 5, 16)
    y = layer_output(td, x)
    w, b = d.get_weights()
    assert_close(y, np.tanh(x @ w + b))
    inp = irgraph.Input(shape=(None, 16))
    out = L.TimeDistributed(d)(inp)
    assert out.shape == (None, None, 3)
    model = Model(inp, out)
    for n in (4, 7):
        x = rand(3, n, 16, seed=n)
        assert_close(export_and_run(model, [x])[0], np.tanh(x @ w + b))


def test_time_distributed_model():
    inner_in = irgraph.Input((4, 4))
    h = L.Flatten()(inner_in)
    inner = Model(inner_in, L.Dense(5, activation="relu")(h))
    w, b = inner.get_weights()
    ref = lambda x: np.maximum(x.reshape(x.shape[0], x.shape[1], -1) @ w + b, 0)  # noqa: E731
    x = rand(2, 3, 4, 4)
    assert_close(layer_output(L.TimeDistributed(inner), x), ref(x))
    inp = irgraph.Input((None, 4, 4))
    model = Model(inp, L.TimeDistributed(inner)(inp))
    for n in (2, 5):
        x = rand(2, n, 4, 4, seed=n)
        assert_close(export_and_run(model, [x])[0], ref(x))


def test_time_distributed_errors():
    with pytest.raises(TypeError, match="wraps a layer"):
        L.TimeDistributed(lambda x: x)
    with pytest.raises(ValueError, match="'td'.*min_ndim=3"):
        L.TimeDistributed(L.Dense(2), name="td")(irgraph.Input((4,)))


# ----------------------------------------------------------------------------------- Lambda
def test_lambda_euclidean_distance_seed():
    def euclidean_distance(vects):
        x, y = vects
        return K.sqrt(K.sum(K.square(x - y), axis=1, keepdims=True))

    ins = [irgraph.Input((6,)), irgraph.Input((6,))]
    out = L.Lambda(euclidean_distance, output_shape=lambda s: (s[0][0], 1))(ins)
    assert out.shape == (None, 1)
    a, b = rand(4, 6), rand(4, 6, seed=1)
    assert_close(export_and_run(Model(ins, out), [a, b])[0],
                 torch.cdist(T(a)[:, None], T(b)[:, None]).numpy()[:, 0])


def test_lambda_power_and_arguments():
    x = rand(3, 5)
    assert_close(layer_output(L.Lambda(lambda t: t ** 2), x), x ** 2)
    y = layer_output(L.Lambda(lambda t, k, scale: t[:, :k] * scale, arguments={"k": 2, "scale": 3.0}), x)
    assert_close(y, x[:, :2] * 3.0)


def test_lambda_errors():
    with pytest.raises(TypeError, match="'lam'.*callable"):
        L.Lambda(3, name="lam")
    with pytest.raises(ValueError, match=r"layer 'lam2'"):
        L.Lambda(lambda t: K.concatenate([t, K.expand_dims(t, 1)]), name="lam2")(irgraph.Input((3,)))


def test_op_layer_from_backend_on_functional_tensors():
    a, b = irgraph.Input((4,)), irgraph.Input((4,))
    out = K.relu(a + b)
    x, y = rand(3, 4), rand(3, 4, seed=1)
    assert_close(export_and_run(Model([a, b], out), [x, y])[0], F.relu(T(x) + T(y)).numpy())


# ----------------------------------------------------------------------------------- layer API
def test_auto_unique_names():
    names = [L.Dense(2).name for _ in range(3)]
    assert names == ["dense", "dense_1", "dense_2"]
    assert L.BatchNormalization().name == "batch_normalization"
    assert L.Lambda(lambda t: t).name == "lambda"
    L.Dense(2, name="dense_7")
    assert L.Dense(2).name == "dense_8"
    irgraph.clear_session()
    assert L.Dense(2).name == "dense"


@pytest.mark.parametrize("make,shape", [
    (lambda: L.Dense(3, activation="relu", use_bias=False, kernel_initializer="he_uniform"), (None, 4)),
    (lambda: L.Activation("softplus"), (None, 4)),
    (lambda: L.Dropout(0.25, seed=1), (None, 4)),
    (lambda: L.SpatialDropout2D(0.1, data_format="channels_first"), (None, 2, 3, 3)),
    (lambda: L.Flatten(data_format="channels_first"), (None, 2, 3)),
    (lambda: L.Reshape((2, -1)), (None, 6)),
    (lambda: L.Permute((2, 1)), (None, 3, 4)),
    (lambda: L.RepeatVector(4), (None, 3)),
    (lambda: L.Embedding(7, 3, mask_zero=True), (None, 5)),
    (lambda: L.BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5, center=False), (None, 3, 4)),
    (lambda: L.LayerNormalization(axis=-1, epsilon=1e-5, scale=False), (None, 3, 4)),
    (lambda: L.Concatenate(axis=1), [(None, 3), (None, 3)]),
    (lambda: L.Dot(axes=(1, 1), normalize=True), [(None, 3), (None, 3)]),
    (lambda: L.Add(), [(None, 3), (None, 3)]),
])
def test_config_round_trip(make, shape):
    layer = make()
    cfg = layer.get_config()
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg
    assert layer.compute_output_shape(shape) == clone.compute_output_shape(shape)
    clone.name = "other"  # both build to the same weight shapes
    ins = [irgraph.Input(s[1:]) for s in (shape if isinstance(shape, list) else [shape])]
    layer(ins if isinstance(shape, list) else ins[0])
    clone(ins if isinstance(shape, list) else ins[0])
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in clone.get_weights()]


def test_config_keeps_layer_specific_arguments():
    assert L.SpatialDropout2D.from_config(L.SpatialDropout2D(0.1, data_format="channels_first")
                                          .get_config()).data_format == "channels_first"
    assert L.SpatialDropout1D.from_config(L.SpatialDropout1D(0.1).get_config()).data_format == "channels_last"
    ln = L.LayerNormalization.from_config(L.LayerNormalization(rms_scaling=True, gamma_initializer="zeros")
                                          .get_config())
    assert ln.rms_scaling and type(ln.gamma_initializer).__name__ == "Zeros"
    bn = L.BatchNormalization.from_config(L.BatchNormalization(moving_variance_initializer="zeros",
                                                               beta_init="ones").get_config())
    assert type(bn.moving_variance_initializer).__name__ == "Zeros"
    assert type(bn.beta_initializer).__name__ == "Ones"
    m = L.Merge.from_config(L.Merge(mode="concat", concat_axis=1, name="mg").get_config())
    assert (m.mode, m.concat_axis, m.name) == ("concat", 1, "mg")


def test_time_distributed_config_round_trip():
    td = L.TimeDistributed(L.Dense(3, activation="relu"), name="td")
    cfg = td.get_config()
    assert cfg["layer"]["class_name"] == "Dense" and cfg["layer"]["config"]["units"] == 3
    clone = L.TimeDistributed.from_config(cfg)
    assert clone.name == "td" and clone.layer.units == 3 and clone.get_config() == cfg
    assert clone.compute_output_shape((None, 5, 4)) == (None, 5, 3)


def test_keras1_merge_layer_names_do_not_consume_auto_names():
    ins = [irgraph.Input((3,)), irgraph.Input((3,))]
    L.Merge(mode="sum")(ins)
    assert L.Add().name == "add" and L.Dot(1).name == "dot"


def test_count_params_and_weight_errors():
    d = L.Dense(3, name="fc")
    with pytest.raises(ValueError, match="'fc' is not built"):
        d.count_params()
    d.build((None, 4))
    assert d.count_params() == 15
    with pytest.raises(ValueError, match=r"'fc' expects 2 weight arrays.*fc/kernel\(4, 3\).*got 1"):
        d.set_weights([np.zeros((4, 3))])
    with pytest.raises(ValueError, match=r"'fc'.*'fc/bias' has shape \(3,\).*\(4,\)"):
        d.set_weights([np.zeros((4, 3)), np.zeros(4)])
    bn = L.BatchNormalization()
    bn.build((None, 5))
    assert bn.count_params() == 20 and len(bn.trainable_weights) == 2
    e = L.Embedding(10, 4)
    e.build((None, 3))
    assert e.count_params() == 40


def test_trainable_false_moves_weights():
    d = L.Dense(3)
    d.build((None, 4))
    assert len(d.trainable_weights) == 2 and d.non_trainable_weights == []
    d.trainable = False
    assert d.trainable_weights == [] and [v.name for v in d.non_trainable_weights] == ["kernel", "bias"]
    d.trainable = True
    assert len(d.trainable_weights) == 2
    d2 = L.Dense(3, trainable=False)
    d2.build((None, 4))
    assert d2.trainable_weights == [] and len(d2.non_trainable_weights) == 2
    assert d2.get_config()["trainable"] is False
