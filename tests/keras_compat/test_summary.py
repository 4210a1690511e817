"""``model.summary()``: the behaviours of keras/src/utils/summary_utils_test.py, and the same rows and
totals as Keras 3 prints for the same models (issue 10, point 9).

Keras 3 (torch backend) prints the reference summaries here; both texts are parsed into their table
cells, so the layout may differ but each row's name (type), output shape, params, connections and
trainable mark, the row order and the totals must agree.

Out of scope: none of summary_utils_test.py's tests (no quantization, dtype policy, pickling or
export in them). Known difference, kept on purpose: a subclassed model is traced with a free batch
axis (its ONNX graph has a dynamic batch), so its rows show ``None`` where Keras shows the batch of
the first eager call (``(1, 10)`` in Keras, ``(None, 10)`` here).
"""
from __future__ import annotations

import numpy as np
import pytest

import irgraph
from irgraph import backend as K
from irgraph.layers import Dense, Input, Layer
from irgraph.models import Model, Sequential

from .keras_torch import keras


# ------------------------------------------------------------------------------------ helpers
def summary_text(model, **kwargs) -> str:
    """The summary through print_fn (called once, with the whole text, as Keras 3 does)."""
    calls = []
    model.summary(print_fn=calls.append, **kwargs)
    assert len(calls) == 1
    return calls[0]


def table_rows(text: str) -> list[list[str]]:
    """The cells of each table row of a printed summary (wrapped cell lines joined)."""
    rows, current = [], None
    for line in text.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            current = cells if current is None else [f"{a} {b}".strip() for a, b in zip(current, cells)]
        elif line.startswith(("├", "└")) and current is not None:
            rows.append(current)
            current = None
    return rows


def total_lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines()
            if ln.strip().startswith(("Total params", "Trainable params", "Non-trainable params", "Optimizer params"))]


def keras_text(model, monkeypatch, **kwargs) -> str:
    monkeypatch.setenv("COLUMNS", "320")  # Keras's rich console would fold a wide table into 80 columns
    calls = []
    model.summary(print_fn=calls.append, **kwargs)
    return "\n".join(calls)


def assert_same_summary(ir_model, k_model, monkeypatch, **kwargs):
    kwargs.setdefault("line_length", 260)
    mine, theirs = summary_text(ir_model, **kwargs), keras_text(k_model, monkeypatch, **kwargs)
    assert table_rows(mine) == table_rows(theirs)
    assert total_lines(mine) == total_lines(theirs)


def one_dense(lib):
    x = lib.Input((2,), name="x")
    return lib.Model(x, lib.layers.Dense(3, name="d")(x))


# ------------------------------------------------------------------------ summary_utils_test.py
# keras/src/utils/summary_utils_test.py::SummaryUtilsTest::test_print_model_summary
@pytest.mark.parametrize("optimizer", ["adam", None])
def test_print_model_summary(optimizer):
    model = one_dense(irgraph)
    model.compile(optimizer=optimizer, loss="mse", metrics=["mse"])
    if optimizer:
        model.fit(np.zeros((4, 2)), np.zeros((4, 3)), verbose=0)  # builds the optimizer
    text = summary_text(model)
    if optimizer:
        for line in ("Total params: 29", "Trainable params: 9", "Non-trainable params: 0", "Optimizer params: 20"):
            assert line in text
    else:
        for line in ("Total params: 9", "Trainable params: 9", "Non-trainable params: 0"):
            assert line in text
        assert "Optimizer params" not in text


# keras/src/utils/summary_utils_test.py::SummaryUtilsTest::test_print_model_summary_custom_build
def test_print_model_summary_custom_build():
    class MyModel(Model):
        def __init__(self):
            super().__init__()
            self.dense1 = Dense(4, activation="relu")
            self.dense2 = Dense(2, activation="softmax")
            self.unbuilt_dense = Dense(1)

        def build(self, input_shape):
            self.dense1.build(input_shape)
            self.dense2.build(self.dense1.compute_output_shape(input_shape))

        def call(self, inputs):
            return self.dense2(self.dense1(inputs))

    model = MyModel()
    model.build((None, 2))
    text = summary_text(model)
    rows = {r[0].split()[0]: r for r in table_rows(text)}
    assert rows[model.dense1.name][1] == "(None, 4)"
    assert rows[model.dense2.name][1] == "(None, 2)"
    assert rows[model.unbuilt_dense.name][1:] == ["?", "0 (unbuilt)"]
    for line in ("Total params: 22", "Trainable params: 22", "Non-trainable params: 0"):
        assert line in text


# keras/src/utils/summary_utils_test.py::SummaryUtilsTest::test_print_model_summary_op_as_layer
def test_print_model_summary_op_as_layer():
    x = Input((2,))
    model = Model(x, K.mean(Dense(4, name="dense")(x)))
    rows = table_rows(summary_text(model, show_trainable=True))
    assert rows[1] == ["dense (Dense)", "(None, 4)", "12", "Y"]
    assert rows[2][1:] == ["()", "0", "-"] and rows[2][0].endswith("(Mean)")
    text = summary_text(model)
    for line in ("Total params: 12", "Trainable params: 12", "Non-trainable params: 0"):
        assert line in text


# keras/src/utils/summary_utils_test.py::SummaryUtilsTest::test_print_model_summary_with_mha
# (irgraph has no MultiHeadAttention: the behaviour, a three-input layer with its own weights in a
# subclassed model called on arrays, is shown with a custom attention layer of the same sizes)
def test_print_model_summary_with_three_input_layer():
    class Attention(Layer):
        def build(self, input_shape):
            d = input_shape[0][-1]
            self.wq = self.add_weight("wq", (d, 4))
            self.wk = self.add_weight("wk", (d, 4))
            self.wv = self.add_weight("wv", (d, 4))

        def call(self, inputs):
            q, k, v = inputs
            scores = K.softmax(K.batch_dot(K.dot(q, self.wq), K.permute_dimensions(K.dot(k, self.wk), (0, 2, 1))))
            return K.batch_dot(scores, K.dot(v, self.wv))

    class MyModel(Model):
        def __init__(self):
            super().__init__()
            self.att = Attention()

        def call(self, inputs):
            return self.att([inputs, inputs, inputs])

    model = MyModel()
    assert model(np.ones((1, 2, 2), np.float32)).shape == (1, 2, 4)
    text = summary_text(model)
    assert table_rows(text)[0][1:] == ["(None, 2, 4)", "24"]  # free batch axis (see the module docstring)
    for line in ("Total params: 24", "Trainable params: 24", "Non-trainable params: 0"):
        assert line in text


# keras/src/utils/summary_utils_test.py::SummaryUtilsTest::test_print_model_summary_dict_output
def test_print_model_summary_dict_output():
    class DictHead(Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.head1 = Dense(10)

        def call(self, x):
            return {"head1": self.head1(x)}

    class MyModel(Model):
        def __init__(self):
            super().__init__()
            self.dense = Dense(32)
            self.dict_head = DictHead()

        def call(self, x):
            return self.dict_head(self.dense(x))

    model = MyModel()
    model(np.zeros((1, 16), np.float32))
    rows = table_rows(summary_text(model))
    assert rows[1][0].startswith(model.dict_head.name) and rows[1][1] == "(None, 10)"


# ------------------------------------------------------------------- against Keras 3's output
# summary_utils.py print_summary: show_trainable, expand_nested, Connected to, shared layers
def test_rows_match_keras_nested_and_shared(monkeypatch):
    def build(lib):
        L = lib.layers
        a, b = lib.Input((3,), name="a"), lib.Input((3,), name="b")
        inner = lib.Model(a, L.Dense(2, name="in_d")(a), name="inner")
        both = L.Add(name="add")([inner(a), inner(b)])
        yield lib.Model([a, b], L.Dense(1, name="head")(both), name="two_calls")
        yield lib.Sequential([lib.Input((4,)), L.Dense(3, name="s1"), lib.Sequential([L.Dense(2, name="s2")], name="sub")],
                             name="outer")
        x = lib.Input((5,), name="x")
        yield lib.Model(x, [L.Dense(1, name="d1")(x), L.Dense(1, name="d2")(x)], name="two_heads")
        yield lib.Model(x, L.Dense(2, name="q")(L.Dense(2, name="p")(x)), name="chain")
        shared = L.Dense(5, name="shared")
        yield lib.Model(x, shared(shared(x)), name="shared_twice")
        frozen = L.Dense(3, name="frozen")
        m = lib.Model(x, L.Dense(1, name="free")(frozen(x)), name="frozen_layer")
        frozen.trainable = False
        yield m

    for ir_model, k_model in zip(build(irgraph), build(keras), strict=True):
        for kwargs in ({}, {"show_trainable": True, "expand_nested": True}):
            assert_same_summary(ir_model, k_model, monkeypatch, **kwargs)


# summary_utils.py: Connected to appears exactly when the functional graph is not a chain
def test_connected_column_only_for_non_chains():
    x = Input((5,))
    chain = Model(x, Dense(2)(Dense(2)(x)))
    assert "Connected to" not in summary_text(chain)
    fork = Model(x, [Dense(1)(x), Dense(1)(x)])
    assert "Connected to" in summary_text(fork)
    assert "Connected to" not in summary_text(Sequential([Input((3,)), Dense(2)]))


# the seed models (examples/seed_models.py) against their Keras twins (test_functional_layers.py)
def test_seed_model_summaries_match_keras(monkeypatch):
    from .test_functional_layers import _pairs
    for name, ir_model, k_model in _pairs():
        assert_same_summary(ir_model, k_model, monkeypatch, show_trainable=True, expand_nested=True)


# summary_utils.py: the optimizer line counts Keras's optimizer variables (iteration, learning rate
# unless scheduled, slots per trained weight, Nadam's u_product), once the optimizer is built
@pytest.mark.parametrize("make", [
    lambda lib: "adam", lambda lib: "sgd", lambda lib: lib.optimizers.SGD(momentum=0.9), lambda lib: "rmsprop",
    lambda lib: lib.optimizers.RMSprop(momentum=0.5, centered=True), lambda lib: lib.optimizers.Adam(amsgrad=True),
    lambda lib: "nadam", lambda lib: "adamax", lambda lib: "adagrad", lambda lib: "adadelta", lambda lib: "adamw",
    lambda lib: lib.optimizers.Adam(lib.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)),
], ids=["adam", "sgd", "sgd_momentum", "rmsprop", "rmsprop_centered", "amsgrad", "nadam", "adamax", "adagrad",
        "adadelta", "adamw", "adam_schedule"])
def test_optimizer_params_match_keras(make, monkeypatch):
    def trained(lib):
        x = lib.Input((2,), name="x")
        frozen = lib.layers.Dense(3, name="frozen")
        model = lib.Model(x, lib.layers.Dense(2, name="free")(frozen(x)))
        frozen.trainable = False
        model.compile(make(lib), "mse")
        assert "Optimizer params" not in (summary_text(model) if lib is irgraph else keras_text(model, monkeypatch))
        model.fit(np.zeros((4, 2), np.float32), np.zeros((4, 2), np.float32), verbose=0)
        return model
    mine = total_lines(summary_text(trained(irgraph)))
    assert mine == total_lines(keras_text(trained(keras), monkeypatch))
    assert mine[-1].startswith("Optimizer params")


# trainer.py (Keras builds the optimizer in evaluate too): evaluate alone adds the optimizer line
def test_evaluate_builds_the_optimizer_line():
    model = one_dense(irgraph)
    model.compile("adam", "mse")
    model.predict(np.zeros((2, 2)), verbose=0)
    assert "Optimizer params" not in summary_text(model)
    model.evaluate(np.zeros((2, 2)), np.zeros((2, 3)), verbose=0)
    assert "Optimizer params: 20 (80.00 B)" in summary_text(model)


# summary_utils.py get_layer_index_bound_by_layer_name: layer_range by re.match, ends inclusive
def test_layer_range(monkeypatch):
    def build(lib):
        x = lib.Input((4,), name="x")
        h = lib.layers.Dense(3, name="h1")(x)
        h = lib.layers.Dense(3, name="h2")(h)
        return lib.Model(x, lib.layers.Dense(1, name="out")(h))
    for layer_range in (["h1", "h2"], ["h2", "h1"], ["h", "out"], ["x", "h1"]):
        assert_same_summary(build(irgraph), build(keras), monkeypatch, layer_range=layer_range)
    rows = table_rows(summary_text(build(irgraph), layer_range=["h1", "h2"]))
    assert [r[0] for r in rows] == ["h1 (Dense)", "h2 (Dense)"]


# summary_utils.py get_layer_index_bound_by_layer_name: Keras's errors for bad layer_range values
@pytest.mark.parametrize("layer_range, words", [
    (["nope", "h1"], "Passed layer_names do not match the layer names in the model"),
    (["h1"], "layer_range must be a list or tuple of length 2"),
    ([1, 2], "layer_range should contain string type only"),
])
def test_layer_range_errors(layer_range, words):
    x = Input((4,), name="x")
    model = Model(x, Dense(3, name="h1")(x))
    with pytest.raises(ValueError, match=words):
        model.summary(layer_range=layer_range, print_fn=lambda s: None)
    k_x = keras.Input((4,), name="x")
    with pytest.raises(ValueError, match=words):
        keras.Model(k_x, keras.layers.Dense(3, name="h1")(k_x)).summary(layer_range=layer_range,
                                                                        print_fn=lambda s: None)


# summary_utils.py print_summary: an unbuilt Sequential prints '?' and '0 (unbuilt)' rows
def test_unbuilt_sequential(monkeypatch):
    mine = Sequential([Dense(2, name="a"), Dense(1, name="b")])
    theirs = keras.Sequential([keras.layers.Dense(2, name="a"), keras.layers.Dense(1, name="b")])
    assert_same_summary(mine, theirs, monkeypatch, show_trainable=True)
    assert table_rows(summary_text(mine))[0] == ["a (Dense)", "?", "0 (unbuilt)"]
