"""Keras 2's graph-mode backend: K.placeholder, K.variable, K.function, K.gradients, updates,
the learning phase, Input(tensor=...), against numpy, float64 finite differences and PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import irgraph
from irgraph import backend as K
from irgraph import layers as L
from irgraph.models import Model


@pytest.fixture(autouse=True)
def _phase_reset():
    K.clear_session()
    yield
    K.clear_session()


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


# ----------------------------------------------------------------------------- basics
def test_placeholder_variable_function_basics():
    x = K.placeholder(shape=(None, 3), name="x")
    v = K.variable(np.array([1.0, 2.0, 3.0]), name="w")
    assert K.int_shape(x) == (None, 3) and K.int_shape(v) == (3,) and v.dtype == "float32"
    assert K.is_placeholder(x) and not K.is_placeholder(v)
    assert not K.is_keras_tensor(x) and not K.is_keras_tensor(v) and not K.is_keras_tensor(x * v)
    assert K.is_keras_tensor(irgraph.Input(shape=(3,)))
    assert K.count_params(v) == 3
    y = K.sum(x * v, axis=1)
    f = K.function([x], [y, K.square(v)])
    a = rand(4, 3)
    out = f([a])
    assert isinstance(out, list) and len(out) == 2
    np.testing.assert_allclose(out[0], (a * [1, 2, 3]).sum(1), rtol=1e-5)
    np.testing.assert_allclose(out[1], [1, 4, 9])
    assert K.placeholder(ndim=2).shape == (None, None)
    single = K.function(x, K.sum(x))(a)  # one tensor in, one array out (tf.keras)
    np.testing.assert_allclose(single, a.sum(), rtol=1e-5)


def test_eval_constant_and_values():
    v = K.variable([[1.0, 2.0]])
    c = K.constant(3.0, shape=(1, 2))
    np.testing.assert_allclose(K.eval(v * c + 1), [[4, 7]])
    np.testing.assert_allclose(K.eval(v), [[1, 2]])
    K.batch_set_value([(v, [[5.0, 6.0]])])
    assert [a.tolist() for a in K.batch_get_value([v])] == [[[5.0, 6.0]]]
    np.testing.assert_allclose(K.eval(K.zeros((2, 2)) + K.ones((2, 2)) + K.eye(2)), [[2, 1], [1, 2]])


def test_set_value_is_seen_by_an_existing_function():
    x = K.placeholder(shape=(None, 2))
    v = K.variable(np.ones(2))
    dense = L.Dense(1, use_bias=False)
    out = dense(x * v)
    f = K.function([x], [out])
    a = rand(3, 2)
    w = dense.get_weights()[0]
    np.testing.assert_allclose(f([a])[0], a @ w, rtol=1e-5)
    K.set_value(v, [2.0, -1.0])
    np.testing.assert_allclose(f([a])[0], (a * [2, -1]) @ w, rtol=1e-5)
    dense.set_weights([np.ones_like(w)])  # a layer weight (an initializer of the session)
    np.testing.assert_allclose(f([a])[0], (a * [2, -1]).sum(1, keepdims=True), rtol=1e-5)


# ----------------------------------------------------------------------------- updates
def test_updates_after_outputs_from_old_values():
    v = K.variable(1.0)
    u = K.variable(10.0)
    x = K.placeholder(shape=())
    f = K.function([x], [v * 1, u * 1], updates=[(v, v + x), K.update(u, v * 100)])
    out = f([np.float32(2.0)])
    assert [float(o) for o in out] == [1.0, 10.0]  # outputs computed before the updates
    assert float(K.get_value(v)) == 3.0
    assert float(K.get_value(u)) == 100.0  # computed from v before the call
    out = f([np.float32(2.0)])
    assert [float(o) for o in out] == [3.0, 100.0]


def test_several_updates_of_one_variable():
    v = K.variable(1.0)
    f = K.function([], [v * 1], updates=[K.update_add(v, 2.0), K.update_add(v, 3.0), K.update_sub(v, 1.0)])
    f([])
    assert float(K.get_value(v)) == 5.0
    w = K.variable(1.0)
    g = K.function([], [], updates=[K.update(w, w * 10), K.update_add(w, 1.0)])
    g([])
    assert float(K.get_value(w)) == 11.0
    m = K.variable([0.0, 10.0])
    h = K.function([], [], updates=[K.moving_average_update(m, K.constant([10.0, 0.0]), 0.9)])
    h([])
    np.testing.assert_allclose(K.get_value(m), [1.0, 9.0], rtol=1e-6)


def test_updates_train_a_model_weight():
    x = K.placeholder(shape=(None, 2))
    dense = L.Dense(1)
    y = dense(x)
    loss = K.mean(K.square(y - 1.0))
    grads = K.gradients(loss, dense.trainable_weights)
    f = K.function([x], [loss], updates=[(p, p - 0.1 * g) for p, g in zip(dense.trainable_weights, grads)])
    a = rand(8, 2)
    losses = [float(f([a])[0]) for _ in range(20)]
    assert losses[-1] < 0.5 * losses[0]


# ----------------------------------------------------------------------------- learning phase
def test_learning_phase_input_selects_dropout():
    x = K.placeholder(shape=(None, 200))
    y = L.Dropout(0.5)(x)
    f = K.function([x, K.learning_phase()], [y])
    a = np.ones((4, 200), "float32")
    np.testing.assert_allclose(f([a, 0])[0], a)
    train = f([a, 1])[0]
    assert set(np.unique(train).tolist()) <= {0.0, 2.0} and 0.3 < (train == 0).mean() < 0.7
    with pytest.raises(ValueError, match="learning phase"):
        f([a, 3])


def test_set_learning_phase_fixes_the_phase():
    x = K.placeholder(shape=(None, 200))
    y = L.Dropout(0.5)(x)
    K.set_learning_phase(1)
    assert K.learning_phase() == 1
    train = K.function([x], [y])([np.ones((2, 200), "float32")])[0]
    assert (train == 0).any()
    K.set_learning_phase(0)
    np.testing.assert_allclose(K.function([x], [y])([np.ones((2, 200), "float32")])[0], 1.0)
    # Keras 2 code passing K.learning_phase() (now the int 0) among the inputs still feeds the phase
    f = K.function([x, K.learning_phase()], [y])
    assert (f([np.ones((2, 200), "float32"), 1])[0] == 0).any()


# ----------------------------------------------------------------------------- gradients of a conv net
def _conv_net():
    inp = irgraph.Input(shape=(6, 6, 2), name="image")
    h = L.Conv2D(4, (3, 3), padding="same", activation="relu", name="conv_a")(inp)
    out = L.Conv2D(3, (3, 3), activation="tanh", name="conv_b")(h)
    return Model(inp, out), inp, h, out


def _np_conv(x, w, b, padding):
    """float64 reference: NHWC x, (kh, kw, cin, cout) w."""
    if padding == "same":
        p = w.shape[0] // 2
        x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    win = np.lib.stride_tricks.sliding_window_view(x, w.shape[:2], axis=(1, 2))  # N,H,W,C,kh,kw
    return np.einsum("nhwcij,ijco->nhwo", win, w) + b


def _np_forward(model, x):
    (wa, ba), (wb, bb) = [[p.astype(np.float64) for p in model.get_layer(n).get_weights()]
                          for n in ("conv_a", "conv_b")]
    h = np.maximum(_np_conv(x, wa, ba, "same"), 0)
    return np.tanh(_np_conv(h, wb, bb, "valid"))


def _torch_net(model):
    import torch
    convs = []
    for name, pad in (("conv_a", 1), ("conv_b", 0)):
        w, b = model.get_layer(name).get_weights()
        c = torch.nn.Conv2d(w.shape[2], w.shape[3], 3, padding=pad).double()
        with torch.no_grad():
            c.weight.copy_(torch.from_numpy(w.transpose(3, 2, 0, 1).astype(np.float64)))
            c.bias.copy_(torch.from_numpy(b.astype(np.float64)))
        convs.append(c)
    return convs


def test_gradient_of_activation_mean_wrt_image_vs_finite_differences_and_torch():
    import torch
    model, inp, _, out = _conv_net()
    loss = K.mean(out[..., 1])
    grad = K.gradients(loss, inp)[0]
    f = K.function([inp], [loss, grad])
    x = rand(2, 6, 6, 2, seed=3)
    value, g = f([x])
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(value, _np_forward(model, x64)[..., 1].mean(), rtol=1e-5)
    # float64 central differences of the numpy reference
    fd = np.zeros_like(x64)
    eps = 1e-6
    for idx in np.ndindex(x.shape):
        xp, xm = x64.copy(), x64.copy()
        xp[idx] += eps
        xm[idx] -= eps
        fd[idx] = (_np_forward(model, xp)[..., 1].mean() - _np_forward(model, xm)[..., 1].mean()) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-6)
    # PyTorch autograd on the same weights
    conv_a, conv_b = _torch_net(model)
    xt = torch.from_numpy(x64.transpose(0, 3, 1, 2)).requires_grad_(True)
    torch.tanh(conv_b(torch.relu(conv_a(xt))))[:, 1].mean().backward()
    np.testing.assert_allclose(g, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-6)


def test_gradient_wrt_intermediate_tensor_vs_torch():
    import torch
    model, inp, h, out = _conv_net()
    loss = K.sum(K.square(out))
    g_h, g_x = K.gradients(loss, [h, inp])
    f = K.function([inp], [h, g_h, g_x])
    x = rand(1, 6, 6, 2, seed=4)
    h_val, gh, gx = f([x])
    _, conv_b = _torch_net(model)
    ht = torch.from_numpy(h_val.astype(np.float64).transpose(0, 3, 1, 2)).requires_grad_(True)
    torch.tanh(conv_b(ht)).square().sum().backward()
    np.testing.assert_allclose(gh, ht.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-5)
    assert gx.shape == x.shape and np.abs(gx).sum() > 0


def test_gradients_none_for_unrelated_and_non_scalar_loss_summed():
    x = K.placeholder(shape=(None, 3))
    other = K.placeholder(shape=(None, 3))
    v = K.variable(np.ones(3))
    unused = K.variable(np.ones(3))
    y = x * v * 2.0  # non-scalar: summed, as TensorFlow does
    gv, gu, go = K.gradients(y, [v, unused, other])
    assert gu is None and go is None
    a = rand(5, 3)
    np.testing.assert_allclose(K.function([x], [gv])([a])[0], 2 * a.sum(0), rtol=1e-5)
    assert K.gradients(y, [L.Dense(2)(other)]) == [None]


def test_stop_gradient():
    x = K.placeholder(shape=(None, 2))
    loss = K.sum(x * K.stop_gradient(x))
    g = K.gradients(loss, x)[0]
    a = rand(3, 2)
    np.testing.assert_allclose(K.function([x], [g])([a])[0], a, rtol=1e-6)


# ----------------------------------------------------------------------------- models on backend tensors
def test_model_called_on_concatenation_of_variables_and_placeholder():
    model, _, _, _ = _conv_net()
    content = K.variable(rand(1, 6, 6, 2, seed=5))
    style = K.variable(rand(1, 6, 6, 2, seed=6))
    comb = K.placeholder(shape=(1, 6, 6, 2))
    batch = K.concatenate([content, style, comb], axis=0)
    out = model(batch)
    x = rand(1, 6, 6, 2, seed=7)
    got = K.function([comb], [out])([x])[0]
    ref = model.predict(np.concatenate([K.get_value(content), K.get_value(style), x]), verbose=0)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_input_tensor_the_way_applications_build_models():
    content = K.variable(rand(1, 6, 6, 2, seed=5))
    comb = K.placeholder(shape=(1, 6, 6, 2))
    input_tensor = K.concatenate([content, comb], axis=0)
    assert not K.is_keras_tensor(input_tensor)
    img_input = irgraph.Input(tensor=input_tensor, shape=(None, None, 2))
    assert K.is_keras_tensor(img_input) and img_input.shape == (2, 6, 6, 2)
    x = L.Conv2D(3, (3, 3), name="block1_conv1")(img_input)
    model = Model(img_input, x, name="app")
    assert [lyr.name for lyr in model.layers][1:] == ["block1_conv1"]
    assert model.count_params() == 3 * 3 * 2 * 3 + 3
    a = rand(1, 6, 6, 2, seed=8)
    loss = K.mean(model.output)
    grad = K.gradients(loss, comb)[0]
    f = K.function([comb], [model.output, grad])
    out, g = f([a])
    batch = np.concatenate([K.get_value(content), a])
    np.testing.assert_allclose(out, model.predict(batch, verbose=0), rtol=1e-5, atol=1e-6)
    assert g.shape == (1, 6, 6, 2) and np.abs(g).sum() > 0
    # a model input: the model's own graph starts at it
    np.testing.assert_allclose(K.function([img_input], [x])([batch])[0], out, rtol=1e-6)


# ----------------------------------------------------------------------------- bad input
def test_function_input_errors():
    x = K.placeholder(shape=(None, 3), name="pixels")
    y = K.placeholder(shape=(None, 3), name="labels")
    f = K.function([x], [x * 2])
    with pytest.raises(ValueError, match=r"expects 1 input\(s\) \(pixels\), got 2"):
        f([rand(2, 3), rand(2, 3)])
    with pytest.raises(ValueError, match=r"input 'pixels' expects shape \(None, 3\)"):
        f([rand(2, 4)])
    with pytest.raises(TypeError, match="input 'pixels' expects float32"):
        f([np.array([["a", "b", "c"]])])
    with pytest.raises(ValueError, match="output 0 .* depends on placeholder 'labels'.*not among the inputs"):
        K.function([x], [x + y])
    with pytest.raises(TypeError, match="outputs\\[1\\] is None.*K.gradients returns None"):
        K.function([x], [x, K.gradients(K.sum(x), y)[0]])
    with pytest.raises(ValueError, match="variable 'v' has shape \\(3,\\); its new value has shape \\(4,\\)"):
        K.function([x], [x], updates=[(K.variable(np.ones(3), name="v"), K.constant(np.ones(4)))])
    ids = K.placeholder(shape=(None,), dtype="int32", name="ids")
    with pytest.raises(TypeError, match="input 'ids' expects integer.*not whole numbers"):
        K.function([ids], [ids * 2])([np.array([1.5])])
    with pytest.raises(TypeError, match="loss 0 .* has dtype int32; a loss must be float"):
        K.gradients(K.cast(x, "int32"), x)
    with pytest.raises(TypeError, match=r"variables\[1\] is a str"):
        K.gradients(K.sum(x), [x, "x"])
    v = K.variable(np.ones(3), name="v3")
    step = K.function([x], [], updates=[(v, K.sum(x, axis=1))])  # (None,): the batch must be 3
    with pytest.raises(ValueError, match="update of variable 'v3' computed a value of shape \\(2,\\)"):
        step([rand(2, 3)])
    np.testing.assert_allclose(K.get_value(v), 1.0)  # nothing assigned
    with pytest.raises(TypeError, match="takes a list of 2 arrays"):
        K.function([x, y], [x + y])(rand(2, 3))


def test_function_fast_path_still_checks_its_input():
    """After a first call, one plain array goes straight to the session; anything else (another
    rank, another size of a known dim, another dtype, a non-contiguous array) takes the checked
    path: converted when it can be, refused with the input's name when it cannot."""
    x = K.placeholder(shape=(None, 3), name="pixels")
    f = K.function([x], [x * 2])
    a = rand(4, 3)
    np.testing.assert_allclose(f([a])[0], 2 * a, rtol=1e-6)  # builds the session and the fast path
    np.testing.assert_allclose(f([rand(7, 3, seed=1)])[0], 2 * rand(7, 3, seed=1), rtol=1e-6)
    with pytest.raises(ValueError, match=r"input 'pixels' expects shape \(None, 3\), got an array of shape \(2, 4\)"):
        f([rand(2, 4)])
    with pytest.raises(ValueError, match=r"input 'pixels' expects shape \(None, 3\) \(rank 2\)"):
        f([rand(3)])
    np.testing.assert_allclose(f([a.astype(np.float64)])[0], 2 * a, rtol=1e-6)
    wide = rand(3, 8)
    np.testing.assert_allclose(f([wide.T[::2]])[0], 2 * wide.T[::2], rtol=1e-6)  # strided view
    np.testing.assert_allclose(f([np.asfortranarray(a)])[0], 2 * a, rtol=1e-6)
    # an unknown dim after a known one: the general check only
    seq = K.placeholder(shape=(None, 2, None), name="seq")
    g = K.function([seq], [K.sum(seq, axis=2)])
    for t in (3, 5):
        s = rand(2, 2, t, seed=t)
        np.testing.assert_allclose(g([s])[0], s.sum(axis=2), rtol=1e-5)
    with pytest.raises(ValueError, match=r"input 'seq' expects shape \(None, 2, None\)"):
        g([rand(2, 3, 4)])


# ----------------------------------------------------------------------------- generative programs
def test_deep_dream_like_gradient_ascent_raises_the_loss():
    model, inp, h, out = _conv_net()
    loss = K.mean(K.square(h[:, 1:-1, 1:-1, :])) + K.mean(out)
    grads = K.gradients(loss, inp)[0]
    grads = grads / (K.sqrt(K.mean(K.square(grads))) + 1e-5)
    f = K.function([inp], [loss, grads])
    x = rand(1, 6, 6, 2, seed=9)
    first, _ = f([x])
    for _ in range(5):
        value, g = f([x])
        x = x + 0.05 * g
    assert f([x])[0] > first + 1e-3


def _gram(x):
    features = K.batch_flatten(K.permute_dimensions(x, (2, 0, 1)))
    return K.dot(features, K.transpose(features))


def test_style_transfer_like_loss_lowered_by_lbfgs():
    from scipy.optimize import fmin_l_bfgs_b
    rows = cols = 6
    model, _, _, _ = _conv_net()
    content = K.variable(rand(1, rows, cols, 2, seed=10))
    style = K.variable(rand(1, rows, cols, 2, seed=11))
    comb = K.placeholder((1, rows, cols, 2))
    feats = model(K.concatenate([content, style, comb], axis=0))
    content_loss = K.sum(K.square(feats[2] - feats[0]))
    style_loss = K.sum(K.square(_gram(feats[1]) - _gram(feats[2]))) / (4.0 * 9 * 16 ** 2)
    a = K.square(comb[:, :rows - 1, :cols - 1, :] - comb[:, 1:, :cols - 1, :])
    b = K.square(comb[:, :rows - 1, :cols - 1, :] - comb[:, :rows - 1, 1:, :])
    tv = K.sum(K.pow(a + b, 1.25))
    loss = content_loss + style_loss + 0.01 * tv
    grads = K.gradients(loss, comb)
    f = K.function([comb], [loss] + grads)

    def loss_and_grads(flat):
        value, g = f([flat.reshape(1, rows, cols, 2).astype("float32")])
        return float(value), g.reshape(-1).astype("float64")

    x0 = rand(1, rows, cols, 2, seed=12).reshape(-1).astype("float64")
    start = loss_and_grads(x0)[0]
    x, end, _ = fmin_l_bfgs_b(loss_and_grads, x0, maxfun=20)
    assert end < 0.7 * start


# ----------------------------------------------------------------------------- more Keras 2 patterns
def test_learning_phase_selects_batch_normalization_statistics():
    x = K.placeholder(shape=(None, 3))
    y = L.BatchNormalization(epsilon=1e-3)(x)
    f = K.function([x, K.learning_phase()], [y])
    a = rand(16, 3) * 3 + 5
    np.testing.assert_allclose(f([a, 0])[0], a / np.sqrt(1 + 1e-3), rtol=1e-5)  # moving stats: 0 and 1
    train = f([a, 1])[0]
    np.testing.assert_allclose(train, (a - a.mean(0)) / np.sqrt(a.var(0) + 1e-3), rtol=1e-4, atol=1e-4)


def test_keras2_deep_dream_loss_accumulated_into_a_variable():
    model, inp, h, out = _conv_net()
    layer_dict = {layer.name: layer for layer in model.layers}
    loss = K.variable(0.0)
    for name, coeff in (("conv_a", 0.5), ("conv_b", 2.0)):
        x = layer_dict[name].output
        scaling = K.prod(K.cast(K.shape(x), "float32"))
        loss += coeff * K.sum(K.square(x[:, 1:-1, 1:-1, :])) / scaling
    grads = K.gradients(loss, model.input)[0]
    grads /= K.maximum(K.mean(K.abs(grads)), K.epsilon())
    f = K.function([model.input], [loss, grads])
    x = rand(1, 6, 6, 2, seed=13)
    value, g = f([x])
    h_val, o_val = K.function([inp], [h, out])([x])
    expect = 0.5 * np.sum(h_val[:, 1:-1, 1:-1] ** 2) / h_val.size + 2.0 * np.sum(o_val[:, 1:-1, 1:-1] ** 2) / o_val.size
    np.testing.assert_allclose(value, expect, rtol=1e-5)
    np.testing.assert_allclose(np.mean(np.abs(g)), 1.0, rtol=1e-4)


def test_function_fed_at_an_intermediate_tensor():
    model, inp, h, out = _conv_net()
    f = K.function([h], [out])
    hv = np.abs(rand(2, 6, 6, 4, seed=14))
    full = K.function([inp], [h, out])
    x = rand(2, 6, 6, 2, seed=15)
    h_val, o_val = full([x])
    np.testing.assert_allclose(f([h_val])[0], o_val, rtol=1e-5, atol=1e-6)
    assert f([hv])[0].shape == (2, 4, 4, 3)


def test_gradients_wrt_layer_weights_vs_torch():
    import torch
    model, inp, _, out = _conv_net()
    loss = K.mean(K.square(out))
    conv_b = model.get_layer("conv_b")
    gk, gb = K.gradients(loss, conv_b.trainable_weights)
    x = rand(2, 6, 6, 2, seed=16)
    gk_val, gb_val = K.function([inp], [gk, gb])([x])
    conv_a_t, conv_b_t = _torch_net(model)
    xt = torch.from_numpy(x.astype(np.float64).transpose(0, 3, 1, 2))
    torch.tanh(conv_b_t(torch.relu(conv_a_t(xt)))).square().mean().backward()
    np.testing.assert_allclose(gk_val, conv_b_t.weight.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gb_val, conv_b_t.bias.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_cumulative_ranges_and_loops():
    import torch
    x = K.placeholder(shape=(None, 4))
    a = rand(3, 4, seed=17)
    a[1, 2] = 0.0  # a zero: exact products, finite gradients
    g = K.gradients(K.sum(K.cumprod(x, axis=1)), x)[0]
    cp, cs, g_val = K.function([x], [K.cumprod(x, axis=1), K.cumsum(x, axis=1), g])([a])
    np.testing.assert_allclose(cp, np.cumprod(a, 1), rtol=1e-6)
    np.testing.assert_allclose(cs, np.cumsum(a, 1), rtol=1e-6)
    t = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    torch.cumprod(t, 1).sum().backward()
    np.testing.assert_allclose(g_val, t.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(K.eval(K.arange(2, 8, 2)), [2, 4, 6])
    assert K.eval(K.arange(3)).dtype == np.int32
    seq = K.constant(np.arange(4.0))
    np.testing.assert_allclose(K.eval(K.map_fn(lambda e: e * 2, seq)), [0, 2, 4, 6])
    assert float(K.eval(K.foldl(lambda acc, e: acc * 10 + e, seq))) == 123.0
    assert float(K.eval(K.foldr(lambda acc, e: acc * 10 + e, seq))) == 3210.0
    assert K.eval(K.any(K.constant([0.0, 1.0]))) and not K.eval(K.all(K.constant([0.0, 1.0])))
    with pytest.raises(ValueError, match="map_fn needs a static length"):
        K.map_fn(lambda e: e, x)


def test_random_tensors_fresh_at_each_call():
    f = K.function([], [K.random_normal((4000,), mean=1.0, stddev=2.0), K.random_uniform((1000,), 2.0, 3.0),
                        K.random_binomial((4000,), p=0.25)])
    normal, uniform, binom = f([])
    assert abs(normal.mean() - 1.0) < 0.15 and abs(normal.std() - 2.0) < 0.15
    assert uniform.min() >= 2.0 and uniform.max() < 3.0
    assert set(np.unique(binom).tolist()) <= {0.0, 1.0} and abs(binom.mean() - 0.25) < 0.05
    assert not np.array_equal(f([])[0], normal)
    # inside a traced Lambda, with a shape from the batch (the VAE sampling pattern)
    z = irgraph.Input(shape=(3,))
    noisy = L.Lambda(lambda t: t + K.random_normal(shape=(K.shape(t)[0], 3), stddev=0.0))(z)
    np.testing.assert_allclose(Model(z, noisy).predict(np.ones((5, 3), "float32"), verbose=0), 1.0)


def test_crossentropies_keras2_signatures():
    t = K.placeholder(shape=(None, 3))
    p = K.placeholder(shape=(None, 3))
    labels = K.placeholder(shape=(None,), dtype="int32")
    f = K.function([t, p, labels], [K.binary_crossentropy(t, p), K.binary_crossentropy(t, p, from_logits=True),
                                    K.categorical_crossentropy(t, p),
                                    K.categorical_crossentropy(t, p, from_logits=True),
                                    K.sparse_categorical_crossentropy(labels, p)])
    tv = np.array([[0, 1, 0], [1, 0, 0]], "float32")
    pv = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]], "float32")
    lv = np.array([1, 0], "int32")
    bce, bce_logits, cce, cce_logits, scce = f([tv, pv, lv])
    np.testing.assert_allclose(bce, -(tv * np.log(pv) + (1 - tv) * np.log(1 - pv)), rtol=1e-5)
    sig = 1 / (1 + np.exp(-pv))
    np.testing.assert_allclose(bce_logits, -(tv * np.log(sig) + (1 - tv) * np.log(1 - sig)), rtol=1e-5)
    np.testing.assert_allclose(cce, -np.log([0.5, 0.6]), rtol=1e-5)
    np.testing.assert_allclose(cce_logits, -np.log(np.exp(pv[[0, 1], [1, 0]]) / np.exp(pv).sum(1)), rtol=1e-5)
    np.testing.assert_allclose(scce, -np.log([0.5, 0.6]), rtol=1e-5)


# ----------------------------------------------------------------------------- VGG16 (issue 9's acceptance)
def _torch_vgg_features(model, upto: str):
    """PyTorch float64 twin of the VGG16 layers up to ``upto`` (same weights)."""
    import torch
    mods = []
    for layer in model.layers[1:]:
        if type(layer).__name__ == "Conv2D":
            w, b = layer.get_weights()
            conv = torch.nn.Conv2d(w.shape[2], w.shape[3], 3, padding=1).double()
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(w.transpose(3, 2, 0, 1).astype(np.float64)))
                conv.bias.copy_(torch.from_numpy(b.astype(np.float64)))
            mods += [conv, torch.nn.ReLU()]
        elif type(layer).__name__ == "MaxPooling2D":
            mods.append(torch.nn.MaxPool2d(2))
        if layer.name == upto:
            break
    return torch.nn.Sequential(*mods)


def test_vgg16_activation_gradient_vs_torch_and_finite_differences():
    import torch
    from irgraph.applications import vgg16
    dream = K.placeholder(shape=(1, 32, 32, 3), name="dream")
    model = vgg16.VGG16(input_tensor=dream, weights=None, include_top=False)
    layer_dict = {layer.name: layer for layer in model.layers}
    loss = K.mean(layer_dict["block3_conv3"].output)
    grads = K.gradients(loss, dream)[0]
    f = K.function([dream], [loss, grads])
    x = np.random.default_rng(20).uniform(-1, 1, (1, 32, 32, 3)).astype("float32")
    value, g = f([x])
    net = _torch_vgg_features(model, "block3_conv3")
    xt = torch.from_numpy(x.astype(np.float64).transpose(0, 3, 1, 2)).requires_grad_(True)
    ref = net(xt).mean()
    ref.backward()
    np.testing.assert_allclose(value, ref.item(), rtol=1e-4)
    g_ref = xt.grad.numpy().transpose(0, 2, 3, 1)
    scale = np.abs(g_ref).max()
    np.testing.assert_allclose(g, g_ref, atol=1e-4 * scale)
    # float64 central differences (double-precision forward) at a few pixels
    rng = np.random.default_rng(21)
    with torch.no_grad():
        for _ in range(6):
            i, j, c = rng.integers(0, 32), rng.integers(0, 32), rng.integers(0, 3)
            plus, minus = x.astype(np.float64), x.astype(np.float64)
            plus[0, i, j, c] += 1e-6
            minus[0, i, j, c] -= 1e-6
            fd = (net(torch.from_numpy(plus.transpose(0, 3, 1, 2))).mean()
                  - net(torch.from_numpy(minus.transpose(0, 3, 1, 2))).mean()).item() / 2e-6
            assert abs(fd - g[0, i, j, c]) <= 1e-3 * scale + 1e-3 * abs(fd), (i, j, c, fd, g[0, i, j, c])


def test_style_transfer_loss_and_gradients_vs_torch_at_two_images():
    import torch
    model, _, _, _ = _conv_net()
    rows = cols = 6
    content_img, style_img = rand(1, rows, cols, 2, seed=22), rand(1, rows, cols, 2, seed=23)
    content, style = K.variable(content_img), K.variable(style_img)
    comb = K.placeholder((1, rows, cols, 2))
    feats = model(K.concatenate([content, style, comb], axis=0))
    loss = (K.sum(K.square(feats[2] - feats[0])) + K.sum(K.square(_gram(feats[1]) - _gram(feats[2]))) * 0.01
            + 0.1 * K.sum(K.pow(K.square(comb[:, :-1, :-1, :] - comb[:, 1:, :-1, :])
                                + K.square(comb[:, :-1, :-1, :] - comb[:, :-1, 1:, :]), 1.25)))
    f = K.function([comb], [loss, K.gradients(loss, comb)[0]])
    conv_a, conv_b = _torch_net(model)

    def torch_loss(c):
        fixed = [torch.from_numpy(img.astype(np.float64)) for img in (content_img, style_img)]
        batch = torch.cat(fixed + [c])
        fe = torch.tanh(conv_b(torch.relu(conv_a(batch.permute(0, 3, 1, 2))))).permute(0, 2, 3, 1)

        def gram(t):
            flat = t.permute(2, 0, 1).reshape(t.shape[2], -1)
            return flat @ flat.T
        tv = ((c[:, :-1, :-1] - c[:, 1:, :-1]) ** 2 + (c[:, :-1, :-1] - c[:, :-1, 1:]) ** 2) ** 1.25
        return ((fe[2] - fe[0]) ** 2).sum() + ((gram(fe[1]) - gram(fe[2])) ** 2).sum() * 0.01 + 0.1 * tv.sum()

    for seed in (24, 25):
        x = rand(1, rows, cols, 2, seed=seed)
        value, g = f([x])
        xt = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
        ref = torch_loss(xt)
        ref.backward()
        np.testing.assert_allclose(value, ref.item(), rtol=1e-4)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-3, atol=1e-4 * np.abs(xt.grad.numpy()).max())


def test_function_sees_weights_trained_by_fit():
    inp = irgraph.Input(shape=(3,))
    out = L.Dense(1)(inp)
    model = Model(inp, out)
    f = K.function([model.input], [model.output])
    a = rand(16, 3, seed=30)
    before = f([a])[0]
    model.compile("sgd", "mse")
    model.fit(a, np.ones((16, 1), "float32"), epochs=2, verbose=0)
    after = f([a])[0]
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, model.predict(a, verbose=0), rtol=1e-5, atol=1e-6)


def test_ctc_batch_cost_vs_torch_and_finite_differences():
    """Values against torch's ctc_loss (blank = last class, log(p + epsilon) as Keras 2); the
    gradient against float64 central differences of torch's loss (torch's own CTC gradient
    assumes log_softmax inputs, so it is not a reference for a gradient through log(p))."""
    import torch
    samples, steps, classes, max_len = 3, 7, 5, 3
    logits = np.random.default_rng(31).standard_normal((samples, steps, classes))
    probs = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype("float32")
    labels = np.array([[1, 2, 2], [0, 3, 0], [3, 3, 1]], "int32")
    label_length, input_length = np.array([[3], [2], [1]], "int32"), np.array([[7], [5], [6]], "int32")
    y_true = K.placeholder((samples, max_len), dtype="int32")
    y_pred = K.placeholder((samples, steps, classes))
    in_len, lab_len = K.placeholder((samples, 1), dtype="int32"), K.placeholder((samples, 1), dtype="int32")
    loss = K.ctc_batch_cost(y_true, y_pred, in_len, lab_len)
    f = K.function([y_true, y_pred, in_len, lab_len], [loss, K.gradients(K.sum(loss), y_pred)[0]])
    value, grad = f([labels, probs, input_length, label_length])

    def torch_loss(p):
        lp = torch.log(torch.from_numpy(p) + K.epsilon()).transpose(0, 1)
        lengths = [torch.from_numpy(a).long() for a in (labels, input_length[:, 0], label_length[:, 0])]
        return torch.nn.functional.ctc_loss(lp, *lengths, blank=classes - 1, reduction="none").numpy()
    assert value.shape == (samples, 1)
    np.testing.assert_allclose(value[:, 0], torch_loss(probs.astype(np.float64)), rtol=1e-5)
    p64, fd = probs.astype(np.float64), np.zeros(probs.shape)
    for idx in np.ndindex(probs.shape):
        plus, minus = p64.copy(), p64.copy()
        plus[idx] += 1e-6
        minus[idx] -= 1e-6
        fd[idx] = (torch_loss(plus).sum() - torch_loss(minus).sum()) / 2e-6
    np.testing.assert_allclose(grad, fd, atol=1e-4 * np.abs(fd).max())


def test_logsumexp():
    x = K.placeholder((None, 4))
    a = rand(3, 4, seed=32) * 50
    got, got_all = K.function([x], [K.logsumexp(x, axis=1, keepdims=True), K.logsumexp(x)])([a])
    ref = np.log(np.exp(a.astype(np.float64) - a.max()).sum(1, keepdims=True)) + a.max()
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    np.testing.assert_allclose(got_all, np.log(np.exp(a.astype(np.float64) - a.max()).sum()) + a.max(), rtol=1e-5)


def test_model_built_on_a_variable_follows_set_value():
    x = K.placeholder(shape=(None, 2))
    v = K.variable([1.0, 2.0])
    model = Model(x, x * v)
    a = rand(3, 2, seed=33)
    np.testing.assert_allclose(model.predict(a, verbose=0), a * [1, 2], rtol=1e-6)
    K.set_value(v, [3.0, 4.0])
    np.testing.assert_allclose(model.predict(a, verbose=0), a * [3, 4], rtol=1e-6)
