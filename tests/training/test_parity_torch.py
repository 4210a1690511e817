"""Training parity with an independent trainer: PyTorch autograd computes the gradients, the
Keras 3 update rules are re-implemented below in torch; from identical weights and batches, the loss
and every weight after 3 steps must match irgraph's onnxruntime training step to 1e-5 relative."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import irgraph
from irgraph.layers import (BatchNormalization, Conv2D, Dense, Flatten, Input, MaxPooling2D,
                            concatenate)
from irgraph.models import Model

STEPS = 3


# --------------------------------------------------------------------------- Keras update rules
class KerasRule:
    """Keras 3 optimizer math applied to torch tensors (no autograd)."""

    def __init__(self, kind, lr):
        self.kind, self.lr, self.state, self.t = kind, lr, {}, 0

    def step(self, params, grads):
        self.t += 1
        for i, (p, g) in enumerate(zip(params, grads)):
            s = self.state.setdefault(i, {})
            if self.kind == "sgd_nesterov":
                m = s.get("m", torch.zeros_like(p))
                m = 0.9 * m - self.lr * g
                p += 0.9 * m - self.lr * g
                s["m"] = m
            elif self.kind == "rmsprop":
                v = s.get("v", torch.zeros_like(p))
                v = 0.9 * v + 0.1 * g * g
                p -= self.lr * g / torch.sqrt(v + 1e-7)
                s["v"] = v
            elif self.kind == "adam":
                m, v = s.get("m", torch.zeros_like(p)), s.get("v", torch.zeros_like(p))
                m = m + (g - m) * (1 - 0.9)
                v = v + (g * g - v) * (1 - 0.999)
                alpha = self.lr * np.sqrt(1 - 0.999 ** self.t) / (1 - 0.9 ** self.t)
                p -= alpha * m / (torch.sqrt(v) + 1e-7)
                s["m"], s["v"] = m, v


def irgraph_optimizer(kind, lr):
    from irgraph import optimizers
    return {"sgd_nesterov": lambda: optimizers.SGD(learning_rate=lr, momentum=0.9, nesterov=True),
            "rmsprop": lambda: optimizers.RMSprop(learning_rate=lr),
            "adam": lambda: optimizers.Adam(learning_rate=lr)}[kind]()


def run_parity(model, torch_loss_fn, xs, ys, kind, lr=0.05, loss="mse", loss_weights=None,
               state_fn=None):
    """Train ``model`` for STEPS full-batch steps in irgraph and with ``torch_loss_fn`` in torch."""
    if kind == "adam":
        # Adam divides each update by sqrt(v) ~ |g|, so a float32 rounding error in a near-zero
        # gradient becomes a relative error of the step itself; with Keras's default Adam rate the
        # difference to the float64 reference stays within 1e-5 of every weight.
        lr = 0.001
    params = [torch.tensor(w.astype(np.float64)) for w in model.get_weights()]
    trainable = [v.trainable for v in model.weights]
    model.compile(optimizer=irgraph_optimizer(kind, lr), loss=loss, loss_weights=loss_weights)
    rule = KerasRule(kind, lr)
    for _ in range(STEPS):
        ours = model.train_on_batch(xs, ys)
        ours = ours[0] if isinstance(ours, list) else ours
        leaves = [p.clone().requires_grad_(t) for p, t in zip(params, trainable)]
        ref = torch_loss_fn(leaves, [torch.tensor(x.astype(np.float64)) for x in xs],
                            [torch.tensor(y.astype(np.float64)) for y in ys])
        grads = torch.autograd.grad(ref, [p for p, t in zip(leaves, trainable) if t])
        np.testing.assert_allclose(ours, ref.item(), rtol=1e-5)
        with torch.no_grad():
            if state_fn is not None:  # layer state (moving statistics) from the step's starting weights
                state_fn(params, [torch.tensor(x.astype(np.float64)) for x in xs])
            rule.step([p for p, t in zip(params, trainable) if t], list(grads))
    for w, p in zip(model.get_weights(), params):
        np.testing.assert_allclose(w, p.numpy(), rtol=1e-5, atol=1e-6)


def data(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


# --------------------------------------------------------------------------- models
KINDS = ["sgd_nesterov", "rmsprop", "adam"]


@pytest.mark.parametrize("kind", KINDS)
def test_mlp(kind):
    x = Input(shape=(6,))
    h = Dense(8, activation="tanh")(x)
    model = Model(x, Dense(3)(h))
    xs, ys = data((16, 6)), data((16, 3), seed=7)

    def ref(p, xs, ys):
        h = torch.tanh(xs[0] @ p[0] + p[1])
        return ((h @ p[2] + p[3] - ys[0]) ** 2).mean()

    run_parity(model, ref, xs, ys, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_conv_net_with_pooling_and_shared_submodel(kind):
    digit = Input(shape=(8, 8, 1))
    v = Conv2D(4, (3, 3), activation="relu")(digit)
    v = MaxPooling2D((2, 2))(v)
    vision = Model(digit, Flatten()(v))
    a, b = Input(shape=(8, 8, 1)), Input(shape=(8, 8, 1))
    out = Dense(1, activation="sigmoid")(concatenate([vision(a), vision(b)]))
    model = Model([a, b], out)
    xa, xb = data((8, 8, 8, 1), (8, 8, 8, 1), seed=1)
    ys = [(np.random.default_rng(2).random((8, 1)) > 0.5).astype(np.float32)]

    def vision_t(p, x):  # NHWC -> NCHW conv, pool, back to NHWC for Keras's flatten order
        k = p[0].permute(3, 2, 0, 1)
        y = F.max_pool2d(F.relu(F.conv2d(x.permute(0, 3, 1, 2), k, p[1])), 2)
        return y.permute(0, 2, 3, 1).reshape(x.shape[0], -1)

    def ref(p, xs, ys):
        z = torch.cat([vision_t(p, xs[0]), vision_t(p, xs[1])], dim=1) @ p[2] + p[3]
        return F.binary_cross_entropy_with_logits(z, ys[0])

    run_parity(model, ref, [xa, xb], ys, kind, lr=0.02, loss="binary_crossentropy")


@pytest.mark.parametrize("kind", KINDS)
def test_batch_normalization(kind):
    x = Input(shape=(5,))
    # no bias before BatchNormalization: its gradient is exactly zero, and RMSprop/Adam would turn
    # float32 rounding noise in that zero into steps of size ~lr
    h = Dense(6, use_bias=False)(x)
    h = BatchNormalization(momentum=0.9)(h)
    model = Model(x, Dense(2)(h))
    xs, ys = data((12, 5), seed=3), data((12, 2), seed=8)

    def forward(p, x):
        h = x @ p[0]
        mean, var = h.mean(0), h.var(0, unbiased=False)
        return (h - mean) / torch.sqrt(var + 1e-3) * p[1] + p[2], mean, var

    def ref(p, xs, ys):
        h, _, _ = forward(p, xs[0])
        return ((h @ p[5] + p[6] - ys[0]) ** 2).mean()

    def update_moving(params, xs):  # Keras: moving = moving * momentum + batch * (1 - momentum)
        _, mean, var = forward(params, xs[0])
        params[3].mul_(0.9).add_(0.1 * mean)
        params[4].mul_(0.9).add_(0.1 * var)

    run_parity(model, ref, xs, ys, kind, state_fn=update_moving)


@pytest.mark.parametrize("kind", KINDS)
def test_two_outputs_with_loss_weights(kind):
    x = Input(shape=(4,), name="x")
    h = Dense(5, activation="relu")(x)
    main = Dense(2, name="main")(h)
    aux = Dense(1, activation="sigmoid", name="aux")(x)
    model = Model(x, [main, aux])
    xs = data((10, 4), seed=4)
    y_main = data((10, 2), seed=5)[0]
    y_aux = (np.random.default_rng(6).random((10, 1)) > 0.5).astype(np.float32)

    def ref(p, xs, ys):
        h = F.relu(xs[0] @ p[0] + p[1])
        main_loss = ((h @ p[2] + p[3] - ys[0]) ** 2).mean()
        aux_loss = F.binary_cross_entropy_with_logits(xs[0] @ p[4] + p[5], ys[1])
        return main_loss + 0.2 * aux_loss

    run_parity(model, ref, xs, [y_main, y_aux], kind, loss={"main": "mse", "aux": "binary_crossentropy"},
               loss_weights={"main": 1.0, "aux": 0.2})


def test_conv_net_with_unread_borders():
    """Windows that stop short of the end of an axis (a stride-2 'valid' conv over 6 positions, a 2x2
    pooling over 3): trim_borders crops the chain above them, the gradients must not change."""
    x = Input(shape=(11, 11, 2))
    h = Conv2D(3, (3, 3), strides=2, padding="same", activation="relu")(x)   # 11 -> 6
    h = Conv2D(4, (3, 3), strides=2, activation="tanh")(h)                   # 6 -> 2, reads 5
    h = MaxPooling2D((2, 2))(Conv2D(4, (1, 1))(h))                           # 2 -> 1
    model = Model(x, Dense(2)(Flatten()(h)))
    xs, ys = data((6, 11, 11, 2), seed=9), data((6, 2), seed=10)

    def ref(p, xs, ys):
        def conv(h, k, b, **kw):
            return F.conv2d(h, k.permute(3, 2, 0, 1), b, **kw)
        h = F.relu(conv(F.pad(xs[0].permute(0, 3, 1, 2), (1, 1, 1, 1)), p[0], p[1], stride=2))
        h = torch.tanh(conv(h, p[2], p[3], stride=2))
        h = F.max_pool2d(conv(h, p[4], p[5]), 2).permute(0, 2, 3, 1).reshape(h.shape[0], -1)
        return ((h @ p[6] + p[7] - ys[0]) ** 2).mean()

    run_parity(model, ref, xs, ys, "rmsprop", lr=0.01)
    train = model._trainer.graphs.train_passes.after("trim_borders")
    convs = sorted(train.node(n)["specs"][0].shape[2] for n in train.nodes_of("op") if train.node(n)["op"] == "Conv")
    assert convs == [2, 2, 5]  # the first conv computes 5 of its 6 rows, the 1x1 conv only what the pool reads
