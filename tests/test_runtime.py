"""predict / predict_on_batch: input handling, errors for people, batching, session caching."""
import numpy as np
import pytest

import irgraph
from irgraph.layers import Dense, Embedding, Flatten, Input
from irgraph.models import Model
from helpers import rand


def two_input_model():
    a = Input(shape=(4,), name="feat")
    t = Input(shape=(3,), dtype="int32", name="tokens")
    e = Flatten()(Embedding(10, 2)(t))
    return Model([a, t], Dense(2, name="out")(irgraph.layers.concatenate([a, e])))


def test_list_dict_and_cast_inputs_agree():
    m = two_input_model()
    xa, xt = rand(5, 4), np.array([[1, 2, 3]] * 5, dtype=np.int64)
    y1 = m.predict([xa, xt], verbose=0)
    y2 = m.predict({"tokens": xt.astype(np.int32), "feat": xa.astype(np.float64)}, verbose=0)
    y3 = m.predict_on_batch([xa.tolist(), xt.astype(np.float32)])  # whole-number floats are accepted
    np.testing.assert_allclose(y1, y2, rtol=1e-6)
    np.testing.assert_allclose(y1, y3, rtol=1e-6)


@pytest.mark.parametrize("bad, exc, words", [
    # Keras 3's wording (issue 10): "expects 2 named input(s)", "Missing data for input",
    # "expected shape=(None, 4), found shape=(5, 3)"
    (lambda xa, xt: [xa], ValueError, ["expects 2 named input(s)", "feat", "tokens"]),
    (lambda xa, xt: {"feat": xa, "tokenz": xt}, ValueError, ["Missing data for input", "tokenz"]),
    (lambda xa, xt: {"feat": xa}, ValueError, ["Missing data for input", "tokens"]),
    (lambda xa, xt: [xa[:, :3], xt], ValueError, ["feat", "expected shape=(None, 4), found shape=(5, 3)"]),
    (lambda xa, xt: [xa[None], xt], ValueError, ["feat", "expected shape=(None, 4), found shape=(1, 5, 4)"]),
    (lambda xa, xt: [xa[:, :, None] + np.zeros(3), xt], ValueError, ["feat", "rank 2", "path '0'"]),
    (lambda xa, xt: [xa, xt + 0.5], TypeError, ["tokens", "int32", "whole numbers"]),
    (lambda xa, xt: [np.array([["a"] * 4] * 5), xt], TypeError, ["feat", "float32"]),
    (lambda xa, xt: xa, ValueError, ["expects 2 named input(s)"]),
])
def test_bad_inputs_name_the_input_and_shapes(bad, exc, words):
    m = two_input_model()
    xa, xt = rand(5, 4), np.ones((5, 3), np.int32)
    with pytest.raises(exc) as err:
        m.predict(bad(xa, xt), verbose=0)
    for w in words:
        assert w in str(err.value)


def test_sample_count_mismatch():
    m = two_input_model()
    with pytest.raises(ValueError, match="same number of samples"):
        m.predict([rand(5, 4), np.ones((4, 3), np.int32)], verbose=0)


def test_batched_predict_matches_single_batch_and_generators():
    x = Input(shape=(3,))
    m = Model(x, Dense(2)(x))
    data = rand(100, 3)
    full = m.predict_on_batch(data)
    np.testing.assert_allclose(m.predict(data, batch_size=32, verbose=0), full, rtol=1e-6)
    gen = (data[i:i + 25] for i in range(0, 100, 25))
    np.testing.assert_allclose(m.predict(gen, verbose=0), full, rtol=1e-6)
    gen2 = ((data[i:i + 50], None) for i in range(0, 100, 50))
    np.testing.assert_allclose(m.predict_generator(gen2, steps=2), full, rtol=1e-6)


def test_progress_bar_printed(capsys):
    x = Input(shape=(3,))
    Model(x, Dense(2)(x)).predict(rand(70, 3), batch_size=32, verbose=1)
    assert "3/3 [" in capsys.readouterr().out


def test_session_cached_until_weights_change():
    x = Input(shape=(3,))
    d = Dense(2)
    m = Model(x, d(x))
    data = rand(4, 3)
    m.predict_on_batch(data)
    sess = m._runner().session
    m.predict_on_batch(data)
    assert m._runner().session is sess
    Dense(5)(Input(shape=(2,)))  # creating unrelated weights does not invalidate it
    assert m._runner().session is sess
    d.set_weights([np.ones((3, 2)), np.zeros(2)])
    np.testing.assert_allclose(m.predict_on_batch(data), np.repeat(data.sum(1, keepdims=True), 2, 1), rtol=1e-5)
    assert m._runner().session is not sess


def test_device_choice_errors():
    x = Input(shape=(3,))
    m = Model(x, Dense(2)(x))
    with pytest.raises(ValueError, match="device must be"):
        m.predict(rand(2, 3), device="tpu")
    from irgraph.runtime import cuda_available
    if not cuda_available():
        with pytest.raises(ValueError, match="onnxruntime-gpu"):
            m.predict(rand(2, 3), device="cuda")
    assert m.predict(rand(2, 3), device="cpu", verbose=0).shape == (2, 2)


def test_large_graphs_get_onnxruntime_basic_optimizations_only():
    import onnxruntime as ort

    from irgraph import runtime
    from irgraph.layers import Dense, Input
    from irgraph.models import Model
    x = Input(shape=(4,))
    model = Model(x, Dense(2)(Dense(3)(x)))
    full = runtime.make_session(model.to_onnx(), ["CPUExecutionProvider"])
    assert full.get_session_options().graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    runtime.configure(large_graph_nodes=2)
    try:
        basic = runtime.make_session(model.to_onnx(), ["CPUExecutionProvider"])
    finally:
        runtime.configure(large_graph_nodes=10_000)
    assert basic.get_session_options().graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    data = np.ones((2, 4), np.float32)
    np.testing.assert_allclose(basic.run(None, {"input_layer": data})[0], model.predict(data, verbose=0), rtol=1e-6)
