"""Property-based (hypothesis, stateful): random interleavings of train_on_batch, fit, set_weights,
get_weights, save/load_model, compile, predict and evaluate never make the model diverge from a plain
numpy re-implementation of the same network trained with SGD."""
import tempfile

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from irgraph import optimizers
from irgraph.models import load_model

from reference import NumpyNet, assert_matches, build_model, data

X, Y = data(n=24, seed=3)
batch_slices = st.integers(0, 2).map(lambda i: slice(i * 8, (i + 1) * 8))


class TrainingState(RuleBasedStateMachine):
    @initialize(lr=st.sampled_from([0.05, 0.2]), momentum=st.sampled_from([0.0, 0.5]))
    def start(self, lr, momentum):
        self.model = build_model(lr, momentum)
        self.ref = NumpyNet(self.model.get_weights(), lr, momentum)
        self.folder = tempfile.TemporaryDirectory()

    def teardown(self):
        if hasattr(self, "folder"):
            self.folder.cleanup()

    @rule(sl=batch_slices)
    def train_on_batch(self, sl):
        self.model.train_on_batch(X[sl], Y[sl])
        self.ref.step(X[sl], Y[sl])

    @rule(batch_size=st.sampled_from([8, 12, 24]), epochs=st.integers(1, 2))
    def fit(self, batch_size, epochs):
        self.model.fit(X, Y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
        for _ in range(epochs):
            self.ref.fit(X, Y, batch_size)

    @rule(seed=st.integers(0, 2**16))
    def set_weights(self, seed):
        rng = np.random.default_rng(seed)
        new = [rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in self.model.get_weights()]
        self.model.set_weights(new)
        self.ref.w = [w.astype(np.float64) for w in new]

    @rule()
    def get_weights(self):
        for got, want in zip(self.model.get_weights(), self.ref.w):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)

    @rule()
    def save_and_load(self):
        path = f"{self.folder.name}/model.onnx"
        self.model.save(path)
        self.model = load_model(path)  # weights, optimizer slots and step count come back

    @rule(lr=st.sampled_from([0.02, 0.1]))
    def compile_again(self, lr):
        momentum = self.ref.momentum
        self.model.compile(optimizers.SGD(lr, momentum=momentum), "mse")  # new optimizer: fresh slots
        self.ref.lr = lr
        self.ref.fresh_optimizer()

    @rule()
    def predict(self):
        np.testing.assert_allclose(self.model.predict(X, verbose=0), self.ref.forward(X)[1],
                                   rtol=1e-4, atol=2e-4)

    @rule()
    def evaluate(self):
        np.testing.assert_allclose(self.model.evaluate(X, Y, verbose=0), self.ref.loss(X, Y),
                                   rtol=1e-4, atol=1e-6)

    @invariant()
    def agrees(self):
        if hasattr(self, "model"):
            for got, want in zip(self.model.get_weights(), self.ref.w):
                np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)


TrainingState.TestCase.settings = settings(max_examples=30, stateful_step_count=12, deadline=None,
                                           suppress_health_check=list(HealthCheck), derandomize=True)
test_training_state_machine = TrainingState.TestCase


def test_the_reference_is_checked_by_every_read():
    """assert_matches compares weights, predictions and the loss (not a vacuous comparison)."""
    model = build_model()
    ref = NumpyNet(model.get_weights())
    ref.step(X[:8], Y[:8])
    try:
        assert_matches(model, ref, X, Y)
    except AssertionError:
        return
    raise AssertionError("a model one step behind the reference passed the comparison")
