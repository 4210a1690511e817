"""Model, Sequential and the layer-node API."""
import numpy as np
import pytest

import irgraph
from irgraph.layers import Dense, Dropout, Input, Lambda, TimeDistributed
from irgraph.models import Model, Sequential
from helpers import export_and_run, rand


def mlp(name=None):
    x = Input(shape=(6,), name="features")
    h = Dense(5, activation="relu", name="hidden")(x)
    return Model(x, Dense(3, activation="softmax", name="probs")(h), name=name)


def test_keras1_and_keras2_constructor_spellings():
    x = Input(shape=(4,))
    y = Dense(2)(x)
    m1, m2 = Model(input=x, output=y), Model(inputs=x, outputs=y)
    assert m1.input is x and m2.output is y
    with pytest.raises(ValueError, match="inputs and outputs"):
        Model(inputs=x)


def test_dict_inputs_and_outputs():
    a, b = Input(shape=(3,), name="a"), Input(shape=(2,), name="b")
    h = irgraph.layers.concatenate([a, b])
    model = Model({"a": a, "b": b}, {"score": Dense(1, name="d1")(h), "cls": Dense(4, name="d2")(h)})
    # flat in Keras's order: a dict's keys sorted (Keras 3's tree.flatten)
    assert model.input_names == ["a", "b"] and model.output_names == ["cls", "score"]
    xa, xb = rand(5, 3), rand(5, 2, seed=1)
    out = model.predict({"b": xb, "a": xa}, verbose=0)
    assert set(out) == {"score", "cls"} and out["score"].shape == (5, 1) and out["cls"].shape == (5, 4)
    proto = model.to_onnx()
    assert [o.name for o in proto.graph.output] == ["cls", "score"]


def test_model_called_as_layer_reuses_weights():
    inner = mlp()
    x = Input(shape=(6,))
    outer = Model(x, inner(x))
    assert outer.count_params() == inner.count_params() == 6 * 5 + 5 + 5 * 3 + 3
    arr = rand(4, 6)
    np.testing.assert_allclose(outer.predict(arr, verbose=0), inner.predict(arr, verbose=0), rtol=1e-6)
    inner.get_layer("hidden").set_weights([np.ones((6, 5)), np.zeros(5)])
    np.testing.assert_allclose(outer.predict(arr, verbose=0), inner.predict(arr, verbose=0), rtol=1e-6)


def test_shared_submodel_counted_once_and_time_distributed_model():
    inner = mlp()
    a, b = Input(shape=(6,)), Input(shape=(6,))
    both = Model([a, b], irgraph.layers.add([inner(a), inner(b)]))
    assert both.count_params() == inner.count_params()
    seq = Input(shape=(7, 6))
    td = Model(seq, TimeDistributed(inner)(seq))
    assert td.output_shape == (None, 7, 3)
    arr = rand(2, 7, 6)
    out = export_and_run(td, [arr])[0]
    ref = inner.predict(arr.reshape(14, 6), verbose=0).reshape(2, 7, 3)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_model_from_intermediate_tensors_and_get_layer():
    model = mlp()
    hidden = Model(model.input, model.get_layer("hidden").output)
    assert hidden.output_shape == (None, 5)
    assert model.get_layer(index=1).name == "hidden"
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        model.get_layer("nope")
    arr = rand(3, 6)
    w, bias = model.get_layer("hidden").get_weights()
    np.testing.assert_allclose(hidden.predict(arr, verbose=0), np.maximum(arr @ w + bias, 0), rtol=1e-5, atol=1e-6)


def test_graph_disconnected_error_names_the_input():
    a, b = Input(shape=(2,), name="left"), Input(shape=(2,), name="right")
    y = irgraph.layers.add([a, b])
    with pytest.raises(ValueError, match="Graph disconnected.*right"):
        Model(a, y)


def test_duplicate_layer_names_rejected():
    x = Input(shape=(2,))
    y = Dense(2, name="same")(Dense(2, name="same")(x))
    with pytest.raises(ValueError, match="unique.*same"):
        Model(x, y)


def test_sequential_add_pop_and_input_shape():
    model = Sequential()
    model.add(Dense(4, input_shape=(3,)))
    model.add(Dense(2))
    assert model.output_shape == (None, 2) and len(model.layers) == 2
    model.pop()
    assert model.output_shape == (None, 4)
    seq2 = Sequential([Input(shape=(3,)), Dense(5), Dropout(0.5), Dense(1)])
    assert seq2.count_params() == 3 * 5 + 5 + 5 + 1
    arr = rand(4, 3)
    export_and_run(seq2, [arr])
    with pytest.raises(ValueError, match="not yet been built"):  # Keras 3: export needs a build
        Sequential([Dense(3)]).to_onnx()
    assert Sequential([Dense(3)]).predict(arr).shape == (4, 3)  # Keras 3: predict builds it


def test_sequential_built_by_first_call():
    seq = Sequential([Dense(3), Dense(2)])
    x = Input(shape=(5,))
    assert Model(x, seq(x)).output_shape == (None, 2)


def test_summary_lists_layers_and_counts_shared_once(capsys):
    x = Input(shape=(4,))
    shared = Dense(4, name="shared")
    model = Model(x, shared(shared(x)))
    model.summary()
    text = capsys.readouterr().out
    assert "shared (Dense)" in text and "Total params: 20" in text and "Trainable params: 20" in text
    lines = []
    model.summary(print_fn=lines.append)
    assert any("Non-trainable params: 0" in line for line in lines)


def test_trainable_flag_moves_weights():
    model = mlp()
    model.get_layer("hidden").trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2
    model.summary(print_fn=lambda s: None)


def test_call_model_on_numpy_and_layer_on_numpy():
    model = mlp()
    arr = rand(2, 6)
    np.testing.assert_allclose(model(arr), model.predict(arr, verbose=0), rtol=1e-6)
    d = Dense(2, kernel_initializer="ones", bias_initializer="zeros")
    np.testing.assert_allclose(d(np.ones((3, 4), np.float32)), np.full((3, 2), 4.0))


def test_lambda_and_backend_ops_on_functional_tensors():
    from irgraph import backend as K
    a, b = Input(shape=(3,)), Input(shape=(3,))
    c = K.relu(a - b) * 2.0
    model = Model([a, b], Lambda(lambda t: t ** 2)(c))
    xa, xb = rand(4, 3), rand(4, 3, seed=2)
    out = export_and_run(model, [xa, xb])[0]
    np.testing.assert_allclose(out, (np.maximum(xa - xb, 0) * 2) ** 2, rtol=1e-5, atol=1e-6)


def test_custom_layer_with_weights_and_sublayers():
    from irgraph import backend as K
    from irgraph.layers import Layer

    class Scale(Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.proj = Dense(3, name="inner_proj")

        def build(self, input_shape):
            self.alpha = self.add_weight(name="alpha", shape=(input_shape[-1],), initializer="ones")
            super().build(input_shape)

        def call(self, x):
            return self.proj(x * self.alpha) + K.mean(x, axis=-1, keepdims=True)

    x = Input(shape=(4,))
    layer = Scale()
    model = Model(x, layer(x))
    assert [v.path for v in layer.weights] == ["scale/alpha", "inner_proj/kernel", "inner_proj/bias"]
    assert model.count_params() == 4 + 4 * 3 + 3
    arr = rand(2, 4)
    k, bias = layer.proj.get_weights()
    np.testing.assert_allclose(export_and_run(model, [arr])[0], arr @ k + bias + arr.mean(-1, keepdims=True),
                               rtol=1e-5, atol=1e-6)
