"""``model.layers`` in Keras 3's order and with Keras 3's contents, and so ``weights``,
``get_weights``/``set_weights`` and ``summary`` in Keras's order (issue 10, point 4).

Mirrors keras/src/models/functional_test.py (``test_basic_flow_multi_input``, ``test_layer_getters``,
``test_functional_ops`` style checks of ``model.layers``) and the ``map_graph`` ordering of
keras/src/ops/function.py. Each seed model of examples/seed_models.py is built here a second time with
Keras 3 (torch backend), the Keras twin taking the irgraph layers' names in call order; both list the
same layers in the same order, and weights taken from Keras load into irgraph by position.
"""
from __future__ import annotations


import numpy as np
import pytest

from .keras_torch import keras  # noqa: E402

import irgraph  # noqa: E402
from examples import seed_models as seeds  # noqa: E402


def _call_order_names(model):
    """The model's non-Input layers in the order they were called (independent of ``layers``)."""
    out, seen = [], set()
    for node in model._nodes:
        if id(node.layer) not in seen:
            seen.add(id(node.layer))
            out.append(node.layer.name)
    return out


def _input_names(model):
    return [t._keras_history[0].name for t in model.inputs]


def _keras_mlp(ir):
    n = iter(_call_order_names(ir))
    L = keras.layers
    inputs = keras.Input(shape=(784,), name=_input_names(ir)[0])
    x = L.Dense(64, activation="relu", name=next(n))(inputs)
    x = L.Dense(64, activation="relu", name=next(n))(x)
    out = L.Dense(10, activation="softmax", name=next(n))(x)
    return keras.Model(inputs, out)


def _keras_inception(ir, size):
    n = iter(_call_order_names(ir))
    L = keras.layers
    img = keras.Input(shape=(size, size, 3), name=_input_names(ir)[0])
    t1 = L.Conv2D(64, (1, 1), padding="same", activation="relu", name=next(n))(img)
    t1 = L.Conv2D(64, (3, 3), padding="same", activation="relu", name=next(n))(t1)
    t2 = L.Conv2D(64, (1, 1), padding="same", activation="relu", name=next(n))(img)
    t2 = L.Conv2D(64, (5, 5), padding="same", activation="relu", name=next(n))(t2)
    t3 = L.MaxPooling2D((3, 3), strides=(1, 1), padding="same", name=next(n))(img)
    t3 = L.Conv2D(64, (1, 1), padding="same", activation="relu", name=next(n))(t3)
    out = L.Concatenate(axis=1, name=next(n))([t1, t2, t3])
    return keras.Model(img, out)


def _keras_residual(ir, size):
    n = iter(_call_order_names(ir))
    L = keras.layers
    x = keras.Input(shape=(size, size, 3), name=_input_names(ir)[0])
    y = L.Conv2D(3, (3, 3), padding="same", name=next(n))(x)
    z = L.Add(name=next(n))([x, y])
    return keras.Model(x, z)


def _keras_shared_vision(ir, vision_ir):
    L = keras.layers
    vn = iter(_call_order_names(vision_ir))
    digit_input = keras.Input(shape=(27, 27, 1), name=_input_names(vision_ir)[0])
    x = L.Conv2D(64, (3, 3), name=next(vn))(digit_input)
    x = L.Conv2D(64, (3, 3), name=next(vn))(x)
    x = L.MaxPooling2D((2, 2), name=next(vn))(x)
    out = L.Flatten(name=next(vn))(x)
    n = iter(_call_order_names(ir))
    vision = keras.Model(digit_input, out, name=next(n))
    a_name, b_name = _input_names(ir)
    digit_a = keras.Input(shape=(27, 27, 1), name=a_name)
    digit_b = keras.Input(shape=(27, 27, 1), name=b_name)
    out_a, out_b = vision(digit_a), vision(digit_b)
    concatenated = L.Concatenate(name=next(n))([out_a, out_b])
    out = L.Dense(1, activation="sigmoid", name=next(n))(concatenated)
    return keras.Model([digit_a, digit_b], out)


def _chain_names(t):
    """Layer names from the Input up to tensor ``t`` along each call's first input."""
    names = []
    while not isinstance(t._keras_history[0], irgraph.layers.InputLayer):
        names.append(t._keras_history[0].name)
        t = t.node.input_tensors[0]
    return names[::-1]


def _keras_multi_io(ir):
    main, aux = (t._keras_history[0].name for t in ir.outputs)
    chain = _chain_names(ir.outputs[0])  # embedding, lstm, concatenate, 3 x dense, main_output
    n = iter(chain[:2] + [aux] + chain[2:])  # the listing's creation order
    L = keras.layers
    main_name, aux_name = _input_names(ir)
    main_input = keras.Input(shape=(100,), dtype="int32", name=main_name)
    x = L.Embedding(output_dim=512, input_dim=10000, name=next(n))(main_input)
    lstm_out = L.LSTM(32, name=next(n))(x)
    aux_output = L.Dense(1, activation="sigmoid", name=next(n))(lstm_out)
    aux_input = keras.Input(shape=(5,), name=aux_name)
    x = L.Concatenate(name=next(n))([lstm_out, aux_input])
    x = L.Dense(64, activation="relu", name=next(n))(x)
    x = L.Dense(64, activation="relu", name=next(n))(x)
    x = L.Dense(64, activation="relu", name=next(n))(x)
    main_output = L.Dense(1, activation="sigmoid", name=next(n))(x)
    return keras.Model([main_input, aux_input], [main_output, aux_output])


def _pairs():
    size = seeds.SMALL["image_size"]
    mlp = seeds.k2_mlp().model
    yield "mlp", mlp, _keras_mlp(mlp)
    k1 = seeds.k1_mlp().model
    yield "k1_mlp", k1, _keras_mlp(k1)
    inc = seeds.k2_inception(image_size=size).model
    yield "inception", inc, _keras_inception(inc, size)
    res = seeds.k2_residual(image_size=size).model
    yield "residual", res, _keras_residual(res, size)
    sv = seeds.k2_shared_vision()
    yield "shared_vision", sv.model, _keras_shared_vision(sv.model, sv.vision_model)
    mio = seeds.k2_multi_io().model
    yield "multi_io", mio, _keras_multi_io(mio)


@pytest.fixture(scope="module")
def pairs():
    return list(_pairs())


def test_seed_models_list_layers_in_keras_order(pairs):
    """functional_test.py ``test_basic_flow_multi_input`` / ``test_layer_getters``: ``model.layers``
    (Input layers included) in ``map_graph``'s order -- by decreasing depth, ties by traversal."""
    for name, ir, km in pairs:
        assert [lyr.name for lyr in ir.layers] == [lyr.name for lyr in km.layers], name


def test_inception_order_is_keras_not_creation_order(pairs):
    ir = dict((n, m) for n, m, _ in pairs)["inception"]
    names = [lyr.name for lyr in ir.layers]
    created = _call_order_names(ir)
    # the second conv of tower 1 comes after the max pooling of tower 3 (same depth, deeper first)
    assert names.index(created[1]) > names.index(created[4])


def test_weights_follow_keras_order(pairs):
    """functional_test.py: ``model.weights`` follow ``model.layers``; same shapes, same owners."""
    for name, ir, km in pairs:
        assert [tuple(w.shape) for w in ir.weights] == [tuple(w.shape) for w in km.weights], name
        owners = [lyr.name for lyr in ir.layers for _ in lyr.weights]
        k_owners = [lyr.name for lyr in km.layers for _ in lyr.weights]
        assert owners == k_owners, name


def _inputs_for(km, seed=0):
    rng = np.random.default_rng(seed)
    xs = []
    for t in km.inputs:
        shape = (2,) + tuple(t.shape[1:])
        if "int" in str(t.dtype):
            xs.append(rng.integers(1, 10000, size=shape).astype("int32"))
        else:
            xs.append(rng.standard_normal(shape).astype("float32"))
    return xs


def test_keras_weights_round_trip(pairs):
    """saving_lib_test.py / model_test.py weight round trips: ``get_weights()`` of the Keras model
    loads by ``set_weights`` into the irgraph model, and both predict the same."""
    for name, ir, km in pairs:
        ir.set_weights(km.get_weights())
        xs = _inputs_for(km)
        want = km.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        got = ir.predict(xs if len(xs) > 1 else xs[0])
        want = want if isinstance(want, list) else [want]
        got = got if isinstance(got, list) else [got]
        for w, g in zip(want, got):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=1e-5, rtol=1e-5, err_msg=name)
        # and back: irgraph's list loads into Keras
        km.set_weights(ir.get_weights())


def test_operations_are_not_layers():
    """functional_test.py ``test_functional_ops``-style: a backend op on functional tensors
    (``a + b``) is an Operation in Keras 3, not a Layer: out of ``model.layers`` (it has no weights),
    still in the graph, in ``summary`` and reachable by ``get_layer`` name."""
    a = irgraph.Input(shape=(3,), name="a")
    b = irgraph.Input(shape=(3,), name="b")
    s = a + b
    out = irgraph.layers.Dense(2, name="head")(s)
    model = irgraph.Model([a, b], out)
    op = s._keras_history[0]
    assert [lyr.name for lyr in model.layers] == ["a", "b", "head"]
    assert model.get_layer(op.name) is op
    assert model.get_layer(index=2).name == "head"
    lines = []
    model.summary(print_fn=lines.append)  # summary_utils.py: a Functional's rows are its operations
    cells = [ln.strip("│ ").split() for ln in "\n".join(lines).splitlines() if ln.startswith("│")]
    rows = [c[0] for c in cells if c and c[0] in {"a", "b", "head", op.name}]
    assert rows == ["a", "b", op.name, "head"]

    ka = keras.Input(shape=(3,), name="a")
    kb = keras.Input(shape=(3,), name="b")
    km = keras.Model([ka, kb], keras.layers.Dense(2, name="head")(ka + kb))
    assert [lyr.name for lyr in km.layers] == ["a", "b", "head"]
    model.set_weights(km.get_weights())
    x = [np.ones((1, 3), "float32"), np.arange(3, dtype="float32")[None]]
    np.testing.assert_allclose(model.predict(x), km.predict(x, verbose=0), atol=1e-5)


def test_unused_input_listed_first():
    """function.py ``map_graph``: an Input no output uses is kept, first among depth 0."""
    a = irgraph.Input(shape=(3,), name="a")
    unused = irgraph.Input(shape=(3,), name="unused")
    out = irgraph.layers.Dense(2, name="d")(a)
    model = irgraph.Model([a, unused], out)
    ka = keras.Input(shape=(3,), name="a")
    ku = keras.Input(shape=(3,), name="unused")
    km = keras.Model([ka, ku], keras.layers.Dense(2, name="d")(ka))
    assert [lyr.name for lyr in model.layers] == [lyr.name for lyr in km.layers]
