"""A plain numpy re-implementation of one small network and its SGD training, to check irgraph's
training state against: Input(4) -> Dense(3, tanh) -> Dense(1), mean squared error (Keras 3
reduction: sum over samples / batch size), SGD with momentum (Keras 3: m = mu m - lr g; w += m)."""
import numpy as np

from irgraph import optimizers
from irgraph.layers import Dense, Input
from irgraph.models import Model

N_IN, N_HIDDEN = 4, 3


def build_model(lr=0.1, momentum=0.5):
    x = Input(shape=(N_IN,), name="x")
    h = Dense(N_HIDDEN, activation="tanh", name="hidden")(x)
    model = Model(x, Dense(1, name="out")(h))
    model.compile(optimizers.SGD(lr, momentum=momentum), "mse")
    return model


def data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, N_IN)).astype(np.float32)
    y = (np.tanh(x @ np.array([[1.0], [-2.0], [0.5], [1.5]])) + 0.1 * x[:, :1]).astype(np.float32)
    return x, y


class NumpyNet:
    """The same network in float64 numpy: weights in Keras order, momentum slots, step count."""

    def __init__(self, weights, lr=0.1, momentum=0.5):
        self.w = [np.asarray(a, np.float64) for a in weights]
        self.lr, self.momentum = lr, momentum
        self.fresh_optimizer()

    def fresh_optimizer(self):
        self.m = [np.zeros_like(a) for a in self.w]

    def forward(self, x):
        k1, b1, k2, b2 = self.w
        h = np.tanh(x @ k1 + b1)
        return h, h @ k2 + b2

    def loss(self, x, y):
        return float(np.mean((self.forward(x)[1] - y) ** 2))

    def step(self, x, y):
        k1, b1, k2, b2 = self.w
        h, p = self.forward(x)
        dp = 2.0 * (p - y) / len(x)
        dh = (dp @ k2.T) * (1.0 - h ** 2)
        grads = [x.T @ dh, dh.sum(0), h.T @ dp, dp.sum(0)]
        for i, g in enumerate(grads):
            self.m[i] = self.momentum * self.m[i] - self.lr * g
            self.w[i] = self.w[i] + self.m[i]

    def fit(self, x, y, batch_size):
        for start in range(0, len(x), batch_size):
            self.step(x[start:start + batch_size], y[start:start + batch_size])


def assert_matches(model, ref, x, y, atol=2e-5):
    """get_weights, predict and evaluate of ``model`` agree with the reference."""
    for got, want in zip(model.get_weights(), ref.w):
        np.testing.assert_allclose(got, want, atol=atol, rtol=1e-4)
    np.testing.assert_allclose(model.predict(x, verbose=0), ref.forward(x)[1], atol=atol * 10, rtol=1e-4)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0, return_dict=True)["loss"], ref.loss(x, y),
                               rtol=1e-4, atol=1e-6)
