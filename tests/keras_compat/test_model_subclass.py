"""Subclassed models (``class M(Model)`` with ``__init__`` and ``call``), held to the behaviours of
keras/src/models/model_test.py (Keras 3): traced on first use into the same IR, ONNX and training
path as functional models."""
import numpy as np
import onnxruntime as ort
import pytest

from irgraph.layers import Dense, Dropout
from irgraph.models import Model
from irgraph.tensor import Input, KerasTensor


class TwoDense(Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = Dense(4, activation="relu")
        self.out = Dense(1)

    def call(self, x):
        return self.out(self.hidden(x))


class WithDropout(Model):
    def __init__(self, rate=0.99):
        super().__init__()
        self.dense = Dense(16, kernel_initializer="ones")
        self.drop = Dropout(rate)

    def call(self, x, training=None):
        return self.drop(self.dense(x), training=training)


def _data(n=8):
    rng = np.random.default_rng(0)
    return rng.random((n, 3), dtype=np.float32), rng.random((n, 1), dtype=np.float32)


# keras/src/models/model_test.py::test_functional_subclass_model / subclass basic flow
def test_subclass_predict():
    x, _ = _data()
    model = TwoDense()
    assert not model.built
    assert model.predict(x, verbose=0).shape == (8, 1)
    assert model.built


# keras/src/models/model_test.py: numeric value of a subclassed model's call
def test_subclass_matches_numpy():
    x, _ = _data()
    model = TwoDense()
    y = model(x)
    (w1, b1), (w2, b2) = model.hidden.get_weights(), model.out.get_weights()
    np.testing.assert_allclose(y, np.maximum(x @ w1 + b1, 0) @ w2 + b2, rtol=1e-5, atol=1e-5)


# keras/src/models/model_test.py: layers assigned as attributes are tracked
def test_subclass_tracks_layers_and_weights():
    model = TwoDense()
    model.build((None, 3))
    assert model.layers == [model.hidden, model.out]
    assert len(model.weights) == 4
    assert model.count_params() == 3 * 4 + 4 + 4 + 1


# keras/src/models/model_test.py: a symbolic call of a subclassed model
def test_subclass_symbolic_call():
    model = TwoDense()
    inp = Input(shape=(3,))
    out = model(inp)
    assert isinstance(out, KerasTensor) and tuple(out.shape) == (None, 1)
    wrapper = Model(inp, out)
    x, _ = _data()
    np.testing.assert_allclose(wrapper.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


# keras/src/models/model_test.py: fit / evaluate of a subclassed model (compile before the build)
def test_subclass_fit_evaluate():
    x, y = _data(32)
    model = TwoDense()
    model.compile("adam", "mse")
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert len(history.history["loss"]) == 3
    assert np.isfinite(model.evaluate(x, y, verbose=0))
    assert np.isfinite(model.train_on_batch(x, y))


# keras/src/models/model_test.py: the training flag reaches call (Dropout)
def test_subclass_training_flag():
    model = WithDropout(0.99)
    x = np.ones((4, 3), "float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), np.full((4, 16), 3.0), rtol=1e-6)
    model.compile("sgd", "mse")
    # in training nearly all units drop: the loss against the inference output is large
    loss = model.train_on_batch(x, np.full((4, 16), 3.0, "float32"))
    assert loss > 1.0


# keras/src/saving (export): a built subclassed model exports ONNX that runs in onnxruntime
def test_subclass_to_onnx_runs(tmp_path):
    x, _ = _data()
    model = TwoDense()
    with pytest.raises(ValueError, match="This model has not yet been built"):
        model.to_onnx()
    expected = model.predict(x, verbose=0)
    path = tmp_path / "m.onnx"
    model.to_onnx(str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


# keras/src/models/model_test.py: Model() with no arguments is allowed
def test_model_without_arguments():
    model = Model()
    assert not model.built and model.layers == []


# keras/src/models/model_test.py::test_functional_subclass_model (extra constructor arguments)
def test_functional_subclass_with_extra_arguments():
    class Head(Model):
        def __init__(self, units, **kwargs):
            inp = Input(shape=(3,))
            super().__init__(inp, Dense(units)(inp), **kwargs)
            self.units = units

    model = Head(5, name="head")
    assert model.name == "head" and model.units == 5
    assert model.predict(np.ones((2, 3), "float32"), verbose=0).shape == (2, 5)


# keras/src/models/model_test.py: dict inputs of a subclassed model, matched by key
def test_subclass_dict_inputs():
    from irgraph.layers import Concatenate

    class TwoInputs(Model):
        def __init__(self):
            super().__init__()
            self.concat = Concatenate()
            self.out = Dense(2)

        def call(self, inputs):
            return self.out(self.concat([inputs["a"], inputs["b"]]))

    x, _ = _data()
    model = TwoInputs()
    assert model.predict({"a": x, "b": x[:, :2]}, verbose=0).shape == (8, 2)
    assert model.input_names == ["a", "b"]


# keras/src/saving/saving_lib_test.py (custom model saved and loaded with custom_objects)
def test_subclass_save_and_load(tmp_path):
    from irgraph.models import load_model
    x, _ = _data()
    model = TwoDense()
    expected = model.predict(x, verbose=0)
    model.save(str(tmp_path / "m.onnx"))
    # the file holds the traced graph; it comes back as that functional graph with the weights
    loaded = load_model(str(tmp_path / "m.onnx"), custom_objects={"TwoDense": TwoDense})
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6)


# keras/src/models/sequential_test.py::test_basic_flow_as_a_submodel (a subclassed model inside)
def test_subclass_inside_sequential():
    from irgraph.models import Sequential
    x, _ = _data()
    model = Sequential([TwoDense(), Dense(2)])
    assert model.predict(x, verbose=0).shape == (8, 2)
    assert len(model.weights) == 6


# keras/src/models/model_test.py: the layers assigned in __init__ are listed before the build
def test_subclass_layers_before_build():
    model = TwoDense()
    assert model.layers == [model.hidden, model.out]
    assert model.weights == []


# keras/src/trainers/trainer_test.py (fit on a generator): the first batch builds the model
def test_subclass_fit_on_generator():
    def batches():
        x, y = _data(4)
        while True:
            yield x, y

    model = TwoDense()
    model.compile("sgd", "mse")
    history = model.fit(batches(), steps_per_epoch=3, epochs=2, verbose=0)
    assert model.built and len(history.history["loss"]) == 2


# keras/src/models/model_test.py: layers held in a list attribute are tracked, in order
def test_subclass_tracks_layer_lists():
    class Stack(Model):
        def __init__(self):
            super().__init__()
            self.blocks = [Dense(4, activation="relu"), Dense(3)]
            self.out = Dense(1)

        def call(self, x):
            for block in self.blocks:
                x = block(x)
            return self.out(x)

    model = Stack()
    assert model.layers == model.blocks + [model.out]
    x, _ = _data()
    assert model.predict(x, verbose=0).shape == (8, 1)
    assert model.layers == model.blocks + [model.out]
    assert len(model.weights) == 6
