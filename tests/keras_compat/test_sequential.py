"""Deferred-build Sequential models, held to the behaviours of keras/src/models/sequential_test.py
(Keras 3): a Sequential without an input shape is built by its first call, fit, predict or build."""
import numpy as np
import pytest

from irgraph.layers import Dense
from irgraph.models import Model, Sequential
from irgraph.tensor import Input, KerasTensor

NOT_BUILT = "This model has not yet been built"


def _deferred():
    return Sequential([Dense(4), Dense(5)])


# keras/src/models/sequential_test.py::test_basic_flow_deferred
def test_deferred_built_by_eager_call():
    model = Sequential(name="seq")
    model.add(Dense(4))
    model.add(Dense(5))
    assert not model.built
    assert len(model.layers) == 2
    model.summary()  # Keras 3 prints an unbuilt Sequential's summary too
    y = model(np.random.random((3, 2)))
    assert model.built
    assert y.shape == (3, 5)
    assert len(model.weights) == 4
    model.summary()


# keras/src/models/sequential_test.py::test_basic_flow_deferred (symbolic call)
def test_deferred_built_by_symbolic_call():
    model = _deferred()
    x = Input(shape=(2,))
    y = model(x)
    assert isinstance(y, KerasTensor)
    assert tuple(y.shape) == (None, 5)
    assert model.built
    assert model.predict(np.ones((3, 2)), verbose=0).shape == (3, 5)


# keras/src/models/sequential_test.py::test_basic_flow_deferred (pop after a deferred build)
def test_deferred_then_pop():
    model = _deferred()
    model(np.random.random((3, 2)))
    model.pop()
    assert len(model.layers) == 1
    assert model.built
    assert len(model.weights) == 2
    assert model(np.random.random((3, 2))).shape == (3, 4)


# keras/src/models/sequential_test.py::test_serialization (built deferred: model.build((2, 3)))
def test_deferred_built_by_build():
    model = _deferred()
    model.build((2, 3))
    assert model.built
    assert len(model.weights) == 4
    assert model.to_onnx() is not None


# keras/src/models/model_test.py / trainer: fit builds a deferred model
def test_deferred_built_by_fit():
    model = Sequential([Dense(4, activation="relu"), Dense(1)])
    model.compile("sgd", "mse")  # compile before the build: Keras accepts it
    x, y = np.random.rand(8, 3).astype("float32"), np.random.rand(8, 1).astype("float32")
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert model.built
    assert len(history.history["loss"]) == 2
    assert model.predict(x, verbose=0).shape == (8, 1)
    assert np.isfinite(model.evaluate(x, y, verbose=0))


# keras/src/models/model_test.py: predict on an unbuilt Sequential builds it
def test_deferred_built_by_predict():
    model = _deferred()
    assert model.predict(np.ones((4, 2), "float32"), verbose=0).shape == (4, 5)
    assert model.built


def test_deferred_built_by_train_on_batch():
    model = Sequential([Dense(1)])
    model.compile("sgd", "mse")
    loss = model.train_on_batch(np.ones((4, 3), "float32"), np.zeros((4, 1), "float32"))
    assert np.isfinite(loss)
    assert model.built


# keras/src/models/model_test.py: summary / export of an unbuilt model raise Keras's message
def test_export_before_build_raises():
    model = _deferred()
    with pytest.raises(ValueError, match=NOT_BUILT):
        model.to_onnx()


# keras/src/models/sequential_test.py::test_errors ("no layers")
def test_call_without_layers_raises():
    with pytest.raises(ValueError, match="no layers"):
        Sequential()(np.random.random((3, 2)))


# keras/src/models/sequential_test.py::test_basic_flow_as_a_submodel / functional model as first layer
def test_functional_model_as_first_layer():
    inp = Input(shape=(3,))
    inner = Model(inp, Dense(2)(inp))
    model = Sequential([inner, Dense(1)])
    assert model.built  # the inner model's input gives the Sequential its input
    assert tuple(model.input_shape) == (None, 3)
    assert model.predict(np.ones((5, 3), "float32"), verbose=0).shape == (5, 1)


def test_deferred_sequential_numeric():
    model = Sequential([Dense(3, activation="relu"), Dense(2)])
    x = np.random.rand(6, 4).astype("float32")
    out = model.predict(x, verbose=0)
    (w1, b1), (w2, b2) = model.layers[0].get_weights(), model.layers[1].get_weights()
    np.testing.assert_allclose(out, np.maximum(x @ w1 + b1, 0) @ w2 + b2, rtol=1e-5, atol=1e-5)


# keras/src/models/sequential_test.py::test_errors (build conflict)
def test_build_conflict_raises():
    model = Sequential([Input(shape=(2,), batch_size=3), Dense(2)])
    with pytest.raises(ValueError, match="already been configured"):
        model.build((3, 4))
    model.build((3, 2))  # the shape it has is fine


# keras/src/models/sequential_test.py::test_basic_flow_deferred with integer data (Embedding first)
def test_deferred_integer_inputs():
    from irgraph.layers import Embedding
    model = Sequential([Embedding(10, 4), Dense(1)])
    assert model.predict(np.array([[1, 2], [3, 4]]), verbose=0).shape == (2, 2, 1)


# keras/src/models/sequential_test.py::test_basic_flow_deferred: predict on a generator builds it
def test_deferred_predict_on_generator():
    model = Sequential([Dense(1)])
    batches = (np.ones((2, 3), "float32") for _ in range(2))
    assert model.predict(batches, steps=2, verbose=0).shape == (4, 1)
