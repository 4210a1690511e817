"""Masking with Keras semantics (issue 8): masks made by Embedding(mask_zero), Masking, Lambda(mask=)
and custom layers, carried through the layers that support them, consumed by SimpleRNN, GRU, LSTM
and Bidirectional (in predict, in the exported ONNX file run by plain onnxruntime, and in training
losses), weighing losses and metrics; pad_sequences; the bad-input errors.

The reference is a numpy RNN written here with Keras's masking rules (keras/src/backend/numpy/rnn.py):
a masked step leaves the states unchanged and outputs the previous output (the first state, so the
initial ``h`` before any unmasked step), or zeros with ``zero_output_for_mask``."""
import warnings

import numpy as np
import pytest

import irgraph
from irgraph import backend as K
from irgraph import layers as L
from irgraph.models import Model
from irgraph.preprocessing.sequence import pad_sequences
from helpers import bare_session

V, D, H = 12, 3, 4  # vocabulary, embedding size, units
SEQUENCES = [[3, 7, 1], [5, 2, 9, 4, 11], [8]]  # lengths 3, 5, 1
T = 6


# ----------------------------------------------------------------------------------- reference
def _sig(v):
    return 1 / (1 + np.exp(-v))


def _step(kind, layer, x, states, weights):
    """One Keras step (default activations) from Keras-layout weights: (output, new states)."""
    kernel, rec = weights[0], weights[1]
    bias = weights[2] if len(weights) > 2 else None
    h = states[0]
    if kind == "SimpleRNN":
        h = np.tanh(x @ kernel + h @ rec + bias)
        return h, [h]
    if kind == "LSTM":
        z = x @ kernel + h @ rec + bias
        i, f, g, o = np.split(z, 4, axis=-1)
        c = _sig(f) * states[1] + _sig(i) * np.tanh(g)
        h = _sig(o) * np.tanh(c)
        return h, [h, c]
    n = rec.shape[0]
    if layer.reset_after:
        xz = x @ kernel + bias[0]
        rz = h @ rec + bias[1]
        z, r = _sig(xz[:, :n] + rz[:, :n]), _sig(xz[:, n:2 * n] + rz[:, n:2 * n])
        hh = np.tanh(xz[:, 2 * n:] + r * rz[:, 2 * n:])
    else:
        xz = x @ kernel + bias
        z = _sig(xz[:, :n] + h @ rec[:, :n])
        r = _sig(xz[:, n:2 * n] + h @ rec[:, n:2 * n])
        hh = np.tanh(xz[:, 2 * n:] + (r * h) @ rec[:, 2 * n:])
    h = z * h + (1 - z) * hh
    return h, [h]


def np_masked_rnn(layer, x, mask, weights=None, go_backwards=False, zero_output=False, initial=None):
    """Keras's masked recurrence: (outputs in processing order (batch, T, H), last output, states)."""
    kind = type(layer).__name__
    weights = weights if weights is not None else layer.get_weights()
    n_states = 2 if kind == "LSTM" else 1
    states = [np.zeros((x.shape[0], layer.units))] * n_states if initial is None else list(initial)
    steps = range(x.shape[1])[::-1] if go_backwards else range(x.shape[1])
    outputs = []
    for t in steps:
        keep = mask[:, t:t + 1].astype(bool)
        out, new = _step(kind, layer, x[:, t], states, weights)
        previous = np.zeros_like(out) if zero_output else states[0]
        outputs.append(np.where(keep, out, previous))
        states = [np.where(keep, s1, s0) for s0, s1 in zip(states, new)]
    return np.stack(outputs, 1), outputs[-1], states


def padded(padding):
    return pad_sequences(SEQUENCES, maxlen=T, padding=padding)


def embedding_model(rnn, **rnn_kwargs):
    ids = irgraph.Input((None,), dtype="int32")
    emb = L.Embedding(V, D, mask_zero=True, name="emb")
    out = rnn(emb(ids), **rnn_kwargs)
    return Model(ids, out), emb


def _randomize(layer, seed):
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32) for w in layer.get_weights()])


def run_bare(model, *arrays):
    """The model's exported ONNX file in a plain onnxruntime session."""
    sess = bare_session(model.to_onnx(check=True))
    return sess.run(None, {n: a for n, a in zip(model.input_names, arrays)})


def alone(model, sequence):
    """The prediction for one sequence without any padding."""
    return model.predict(np.array([sequence], dtype=np.int32), verbose=0)


RNNS = {"LSTM": lambda **k: L.LSTM(H, **k), "GRU": lambda **k: L.GRU(H, **k),
        "GRU-reset_before": lambda **k: L.GRU(H, reset_after=False, **k),
        "SimpleRNN": lambda **k: L.SimpleRNN(H, **k)}


# ----------------------------------------------------------------------------------- recurrent layers
@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("kind", list(RNNS))
def test_padded_batch_equals_each_sequence_alone(kind, return_sequences, padding):
    rnn = RNNS[kind](return_sequences=return_sequences)
    model, emb = embedding_model(rnn)
    _randomize(rnn, 1)
    ids = padded(padding)
    batch = model.predict(ids, verbose=0)
    for i, seq in enumerate(SEQUENCES):
        single = alone(model, seq)[0]
        if return_sequences:
            steps = np.flatnonzero(ids[i])
            np.testing.assert_allclose(batch[i, steps], single, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_allclose(batch[i], single, rtol=1e-5, atol=1e-6)
    # Keras's outputs at every step, masked ones included, from the numpy reference
    x = emb.get_weights()[0][ids]
    seqs, last, _ = np_masked_rnn(rnn, x, ids != 0)
    np.testing.assert_allclose(batch, seqs if return_sequences else last, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run_bare(model, ids)[0], batch, rtol=1e-5, atol=1e-6)


def test_the_issue_example_lstm_ignores_trailing_zeros():
    model, _ = embedding_model(L.LSTM(H))
    a = model.predict(np.array([[1, 2, 0, 0, 0]]), verbose=0)
    b = model.predict(np.array([[1, 2]]), verbose=0)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert np.abs(a).max() > 1e-4


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_any_mask_pattern_matches_keras_reference(kind):
    """Masking with holes in the middle and at both ends, go_backwards too."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 7, D)).astype(np.float32)
    holes = np.array([[0, 1, 1, 0, 1, 0, 0], [1, 0, 0, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0, 0]], bool)
    x[holes == 0] = 0.0
    for go_backwards in (False, True):
        irgraph.clear_session()
        inp = irgraph.Input((None, D))
        rnn = RNNS[kind](return_sequences=True, go_backwards=go_backwards)
        model = Model(inp, rnn(L.Masking()(inp)))
        _randomize(rnn, 2)
        seqs, _, _ = np_masked_rnn(rnn, x, holes, go_backwards=go_backwards)
        got = model.predict(x, verbose=0)
        np.testing.assert_allclose(got, seqs, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(run_bare(model, x)[0], seqs, rtol=1e-5, atol=1e-6)


def test_initial_state_is_the_output_before_the_first_unmasked_step():
    ids_in = irgraph.Input((None,), dtype="int32")
    h0, c0 = irgraph.Input((H,)), irgraph.Input((H,))
    rnn = L.LSTM(H, return_sequences=True, return_state=True)
    emb = L.Embedding(V, D, mask_zero=True)
    y, h, c = rnn(emb(ids_in), initial_state=[h0, c0])
    model = Model([ids_in, h0, c0], [y, h, c])
    _randomize(rnn, 4)
    ids = padded("pre")
    rng = np.random.default_rng(5)
    s0 = [rng.normal(size=(3, H)).astype(np.float32) for _ in range(2)]
    got = model.predict([ids] + s0, verbose=0)
    seqs, _, states = np_masked_rnn(rnn, emb.get_weights()[0][ids], ids != 0, initial=s0)
    for g, e in zip(got, [seqs] + states):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    assert np.allclose(got[0][2, :5], s0[0][2])  # five padding steps repeat the initial h


def test_all_steps_masked_keeps_the_initial_state():
    model, _ = embedding_model(L.GRU(H, return_sequences=True))
    got = model.predict(np.zeros((2, 4), np.int32), verbose=0)
    assert np.all(got == 0)


MERGES = ["concat", "sum", "mul", "ave", None]


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("merge_mode", MERGES)
def test_bidirectional(merge_mode, return_sequences, padding):
    bi = L.Bidirectional(L.LSTM(H, return_sequences=return_sequences), merge_mode=merge_mode)
    model, emb = embedding_model(bi)
    _randomize(bi, 6)
    ids = padded(padding)
    got = model.predict(ids, verbose=0)
    got = got if isinstance(got, list) else [got]
    x, mask = emb.get_weights()[0][ids], ids != 0
    ws = bi.get_weights()
    zero = return_sequences  # Bidirectional sets zero_output_for_mask when returning sequences
    fw_seq, fw_last, _ = np_masked_rnn(bi.forward_layer, x, mask, ws[:3], zero_output=zero)
    bw_seq, bw_last, _ = np_masked_rnn(bi.backward_layer, x, mask, ws[3:], go_backwards=True,
                                       zero_output=zero)
    a, b = (fw_seq, bw_seq[:, ::-1]) if return_sequences else (fw_last, bw_last)
    expected = {"concat": [np.concatenate([a, b], -1)], "sum": [a + b], "mul": [a * b],
                "ave": [(a + b) / 2], None: [a, b]}[merge_mode]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    for g, e in zip(run_bare(model, ids), expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    # each sequence alone: the same values at its own steps
    for i, seq in enumerate(SEQUENCES):
        single = model.predict(np.array([seq], np.int32), verbose=0)
        single = single if isinstance(single, list) else [single]
        for g, s in zip(got, single):
            g = g[i, np.flatnonzero(ids[i])] if return_sequences else g[i]
            np.testing.assert_allclose(g, s[0], rtol=1e-5, atol=1e-6)


def test_bidirectional_of_two_kinds_is_masked_too():
    bi = L.Bidirectional(L.GRU(H, return_sequences=True),
                         backward_layer=L.SimpleRNN(H, return_sequences=True, go_backwards=True))
    model, emb = embedding_model(bi)
    ids = padded("pre")
    got = model.predict(ids, verbose=0)
    for i, seq in enumerate(SEQUENCES):
        single = alone(model, seq)[0]
        np.testing.assert_allclose(got[i, np.flatnonzero(ids[i])], single, rtol=1e-5, atol=1e-6)


def test_inference_graph_keeps_the_native_recurrent_op():
    model, _ = embedding_model(L.LSTM(H))
    ops = [n.op_type for n in model.to_onnx().graph.node]
    assert ops.count("LSTM") == 1 and "Loop" not in ops and "Scan" not in ops


def test_stacked_masked_layers():
    ids_in = irgraph.Input((None,), dtype="int32")
    x = L.Embedding(V, D, mask_zero=True)(ids_in)
    x = L.LSTM(H, return_sequences=True)(x)
    out = L.GRU(H)(x)
    model = Model(ids_in, out)
    ids = padded("pre")
    got = model.predict(ids, verbose=0)
    for i, seq in enumerate(SEQUENCES):
        np.testing.assert_allclose(got[i], alone(model, seq)[0], rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------- propagation
def test_masks_are_graph_tensors_and_propagate():
    ids_in = irgraph.Input((None,), dtype="int32")
    x = L.Embedding(V, D, mask_zero=True)(ids_in)
    for layer in (L.Dense(5), L.Activation("relu"), L.Dropout(0.5), L.LayerNormalization(),
                  L.TimeDistributed(L.Dense(2))):
        x = layer(x)
        assert x._keras_mask is not None and x._keras_mask.shape == (None, None), layer
        assert x._keras_mask.dtype == "bool"
    model = Model(ids_in, x)
    assert "output_masks" in model.graph.meta  # the output's mask is a tensor of the layer graph


def test_non_supporting_layer_drops_the_mask_with_keras_warning():
    ids_in = irgraph.Input((6,), dtype="int32")
    x = L.Embedding(V, D, mask_zero=True)(ids_in)
    with pytest.warns(UserWarning, match="does not support masking"):
        y = L.Flatten()(x)
    assert getattr(y, "_keras_mask", None) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        L.Dense(2)(x)  # supports masking: no warning


def test_merge_masks():
    """Keras 3: Add/Multiply/... or the masks (none if an input has none); Concatenate any-reduces
    the concatenated full-shape masks; Dot has none."""
    a_in, b_in = irgraph.Input((None,), dtype="int32"), irgraph.Input((None, D))
    a = L.Embedding(V, D, mask_zero=True)(a_in)
    b = L.Masking()(b_in)
    outs = [L.Add()([a, b]), L.Concatenate()([a, b]), L.Concatenate(axis=1)([a, b]), L.Maximum()([a, b])]
    assert L.Add()([a, b_in])._keras_mask is None
    assert L.Dot(axes=-1)([a, b])._keras_mask is None
    masks = [o._keras_mask for o in outs]
    model = Model([a_in, b_in], masks)
    ids = np.array([[1, 0, 2, 0]], np.int32)
    feats = np.array([[[1, 1, 1], [0, 0, 0], [0, 0, 0], [2, 0, 0]]], np.float32)
    add, cat, cat_time, mx = model.predict([ids, feats], verbose=0)
    either = np.array([[True, False, True, True]])
    np.testing.assert_array_equal(add, either)
    np.testing.assert_array_equal(cat, either)
    np.testing.assert_array_equal(cat_time, np.concatenate([ids != 0, np.any(feats != 0, -1)], 1))
    np.testing.assert_array_equal(mx, either)


def test_maximum_ignores_masked_values():
    a_in, b_in = irgraph.Input((None, 1)), irgraph.Input((None, 1))
    a, b = L.Masking(-9.0)(a_in), L.Masking(-9.0)(b_in)
    model = Model([a_in, b_in], L.Maximum()([a, b]))
    x = np.array([[[5.0], [-9.0], [1.0]]], np.float32)
    y = np.array([[[-9.0], [3.0], [2.0]]], np.float32)
    # a masked entry is zeroed by Masking, then replaced by the other input's value
    np.testing.assert_allclose(model.predict([x, y], verbose=0), [[[5.0], [3.0], [2.0]]])


def test_masking_layer():
    inp = irgraph.Input((None, 2))
    layer = L.Masking(mask_value=0.0)
    out = layer(inp)
    model = Model(inp, [out, out._keras_mask])
    x = np.array([[[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]], [[2.0, 2.0], [0.0, 0.0], [2.0, 1.0]]], np.float32)
    y, mask = model.predict(x, verbose=0)
    np.testing.assert_array_equal(mask, [[False, True, False], [True, False, True]])  # Keras's test
    np.testing.assert_allclose(y, x)
    assert L.Masking is irgraph.layers.core.Masking


def test_lambda_mask_callable_tensor_and_array():
    ids_in = irgraph.Input((4,), dtype="int32")
    emb = L.Embedding(V, D)(ids_in)
    by_fn = L.Lambda(lambda x: x * 2, mask=lambda x, m: K.greater(K.sum(x, axis=-1), 0.0))(emb)
    fixed = np.array([[True, False, True, True]])
    by_array = L.Lambda(lambda x: x, mask=fixed)(emb)
    other = L.Embedding(V, 1, mask_zero=True)(ids_in)
    by_tensor = L.Lambda(lambda x: x, mask=other._keras_mask)(emb)
    model = Model(ids_in, [by_fn._keras_mask, by_array._keras_mask, by_tensor._keras_mask, emb])
    ids = np.array([[1, 0, 3, 4]], np.int32)
    m_fn, m_arr, m_tensor, e = model.predict(ids, verbose=0)
    np.testing.assert_array_equal(m_fn, e.sum(-1) > 0)
    np.testing.assert_array_equal(m_arr, fixed)
    np.testing.assert_array_equal(m_tensor, ids != 0)
    assert L.Lambda(lambda x: x)(emb)._keras_mask is None


def test_lambda_function_receives_the_mask():
    ids_in = irgraph.Input((None,), dtype="int32")
    emb = L.Embedding(V, D, mask_zero=True)(ids_in)
    zeroed = L.Lambda(lambda x, mask: x * K.expand_dims(K.cast(mask, "float32"), -1))(emb)
    model = Model(ids_in, zeroed)
    out = model.predict(np.array([[1, 0, 2]], np.int32), verbose=0)
    assert np.all(out[0, 1] == 0) and np.any(out[0, 0] != 0)


class _EveryOtherStep(L.Layer):
    """A custom layer (Keras 2 style: supports_masking set before super().__init__) whose
    compute_mask keeps steps whose first feature is positive."""

    def __init__(self, **kwargs):
        self.supports_masking = True
        super().__init__(**kwargs)

    def call(self, inputs, mask=None):
        return inputs

    def compute_mask(self, inputs, mask=None):
        return K.greater(inputs[:, :, 0], 0.0)


def test_custom_compute_mask_is_consumed_by_lstm():
    inp = irgraph.Input((None, D))
    custom = _EveryOtherStep()
    assert custom.supports_masking
    rnn = L.LSTM(H, return_sequences=True)
    model = Model(inp, rnn(custom(inp)))
    x = np.random.default_rng(7).normal(size=(2, 5, D)).astype(np.float32)
    seqs, _, _ = np_masked_rnn(rnn, x, x[:, :, 0] > 0)
    np.testing.assert_allclose(model.predict(x, verbose=0), seqs, rtol=1e-5, atol=1e-6)


def test_custom_layer_receives_the_mask_argument():
    seen = []

    class Reader(L.Layer):
        def call(self, inputs, mask=None):
            seen.append(mask)
            return inputs

    ids_in = irgraph.Input((None,), dtype="int32")
    Reader()(L.Embedding(V, D, mask_zero=True)(ids_in))
    assert seen and seen[-1] is not None and seen[-1].dtype == "bool"


def test_nested_model_and_saved_model_keep_masks(tmp_path):
    model, emb = embedding_model(L.LSTM(H))
    path = str(tmp_path / "m.onnx")
    model.save(path)
    loaded = irgraph.models.load_model(path)
    ids = padded("pre")
    np.testing.assert_allclose(loaded.predict(ids, verbose=0), model.predict(ids, verbose=0), rtol=1e-6)


# ----------------------------------------------------------------------------------- losses, metrics
def _sequence_model(recurrent=lambda: L.LSTM(H, return_sequences=True)):
    ids_in = irgraph.Input((None,), dtype="int32")
    x = L.Embedding(V, D, mask_zero=True)(ids_in)
    x = recurrent()(x)
    out = L.TimeDistributed(L.Dense(1), name="out")(x)
    return Model(ids_in, out)


def test_sequence_loss_and_metric_are_means_over_unmasked_steps():
    model = _sequence_model()
    model.compile("sgd", "mse", metrics=["mae"])
    ids = padded("pre")
    y = np.random.default_rng(8).normal(size=(3, T, 1)).astype(np.float32)
    pred = model.predict(ids, verbose=0)
    keep = ids != 0
    err = (pred - y)[..., 0]
    loss, mae = model.evaluate(ids, y, verbose=0)
    np.testing.assert_allclose(loss, np.mean(err[keep] ** 2), rtol=1e-5)
    np.testing.assert_allclose(mae, np.mean(np.abs(err[keep])), rtol=1e-5)
    # the padding's labels do not matter
    y2 = y.copy()
    y2[~keep] = 100.0
    np.testing.assert_allclose(model.evaluate(ids, y2, verbose=0)[0], loss, rtol=1e-6)


def test_sample_weight_and_mask_combine():
    model = _sequence_model()
    model.compile("sgd", "mse")
    ids = padded("post")
    y = np.random.default_rng(9).normal(size=(3, T, 1)).astype(np.float32)
    w = np.array([1.0, 0.0, 2.0], np.float32)
    err2 = (model.predict(ids, verbose=0) - y)[..., 0] ** 2
    keep = ids != 0
    expected = np.sum(err2 * keep * w[:, None]) / keep.sum()  # Keras 3: sum(l * w * m) / valid
    np.testing.assert_allclose(model.evaluate(ids, y, sample_weight=w, verbose=0), expected, rtol=1e-5)


# ----------------------------------------------------------------------------------- training
def _train_once(build, ids, y, loss="mse"):
    irgraph.clear_session()
    irgraph.set_seed(11)
    model = build()
    model.compile(irgraph.optimizers.SGD(0.1), loss)
    before = model.evaluate(ids, y, verbose=0, batch_size=len(ids))
    step = model.train_on_batch(ids, y)
    return model, before, step


LAYERS = {"LSTM": lambda: L.LSTM(H), "GRU": lambda: L.GRU(H), "SimpleRNN": lambda: L.SimpleRNN(H),
          "GRU-reset_before": lambda: L.GRU(H, reset_after=False),
          "Bidirectional": lambda: L.Bidirectional(L.LSTM(H), merge_mode="sum")}


@pytest.mark.parametrize("kind", list(LAYERS))
def test_training_ignores_where_the_padding_is(kind):
    """Losses and one SGD step on a batch padded at the start equal those on the batch padded at
    the end, and the loss equals the mean of each sequence's loss alone."""
    def build():
        ids_in = irgraph.Input((None,), dtype="int32")
        x = L.Embedding(V, D, mask_zero=True)(ids_in)
        return Model(ids_in, L.Dense(1)(LAYERS[kind]()(x)))

    y = np.array([[0.5], [-1.0], [2.0]], np.float32)
    pre, loss_pre, step_pre = _train_once(build, padded("pre"), y)
    post, loss_post, step_post = _train_once(build, padded("post"), y)
    np.testing.assert_allclose(loss_pre, loss_post, rtol=1e-5)
    np.testing.assert_allclose(step_pre, loss_pre, rtol=1e-5)
    np.testing.assert_allclose(step_post, loss_post, rtol=1e-5)
    for a, b in zip(pre.get_weights(), post.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    irgraph.clear_session()
    irgraph.set_seed(11)
    single = build()
    single.compile("sgd", "mse")
    each = [single.evaluate(np.array([s], np.int32), y[i:i + 1], verbose=0) for i, s in enumerate(SEQUENCES)]
    np.testing.assert_allclose(loss_pre, np.mean(each), rtol=1e-5)


SEQUENCE_LAYERS = {
    "LSTM": lambda: L.LSTM(H, return_sequences=True),
    "Bidirectional-GRU-concat": lambda: L.Bidirectional(L.GRU(H, return_sequences=True)),
    "SimpleRNN": lambda: L.SimpleRNN(H, return_sequences=True)}


@pytest.mark.parametrize("kind", list(SEQUENCE_LAYERS))
def test_training_sequence_output_weights_match_unpadded_training(kind):
    """One SGD step on one sequence padded to T equals one step on the sequence alone (the mask
    weighs the padded steps out of the loss and the gradient)."""
    def build():
        return _sequence_model(SEQUENCE_LAYERS[kind])

    seq = SEQUENCES[0]
    y = np.random.default_rng(12).normal(size=(1, len(seq), 1)).astype(np.float32)
    ids = pad_sequences([seq], maxlen=T)
    y_padded = np.zeros((1, T, 1), np.float32)
    y_padded[:, T - len(seq):] = y
    a, loss_a, _ = _train_once(build, ids, y_padded)
    b, loss_b, _ = _train_once(build, np.array([seq], np.int32), y)
    np.testing.assert_allclose(loss_a, loss_b, rtol=1e-5)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------------- pad_sequences
def test_pad_sequences_matches_keras_tests():
    a = [[1], [1, 2], [1, 2, 3]]
    np.testing.assert_array_equal(pad_sequences(a, maxlen=3, padding="pre"), [[0, 0, 1], [0, 1, 2], [1, 2, 3]])
    np.testing.assert_array_equal(pad_sequences(a, maxlen=3, padding="post"), [[1, 0, 0], [1, 2, 0], [1, 2, 3]])
    np.testing.assert_array_equal(pad_sequences(a, maxlen=2, truncating="pre"), [[0, 1], [1, 2], [2, 3]])
    np.testing.assert_array_equal(pad_sequences(a, maxlen=2, truncating="post"), [[0, 1], [1, 2], [1, 2]])
    np.testing.assert_array_equal(pad_sequences(a, maxlen=3, value=1), [[1, 1, 1], [1, 1, 2], [1, 2, 3]])
    assert pad_sequences(a).dtype == np.int32 and pad_sequences(a).shape == (3, 3)
    f = [[1.2], [1.2, 2.3], [1.2, 2.3, 3.4]]
    np.testing.assert_allclose(pad_sequences(f, maxlen=3, padding="post", dtype="float32"),
                               [[1.2, 0, 0], [1.2, 2.3, 0], [1.2, 2.3, 3.4]])
    np.testing.assert_allclose(pad_sequences(f, maxlen=2, truncating="post", dtype="float32"),
                               [[0, 1.2], [1.2, 2.3], [1.2, 2.3]])
    np.testing.assert_allclose(pad_sequences(f, maxlen=3, value=1, dtype="float32"),
                               [[1, 1, 1.2], [1, 1.2, 2.3], [1.2, 2.3, 3.4]])
    s = [["1"], ["1", "2"], ["1", "2", "3"]]
    np.testing.assert_array_equal(pad_sequences(s, maxlen=3, padding="post", value="pad", dtype="<U3"),
                                  [["1", "pad", "pad"], ["1", "2", "pad"], ["1", "2", "3"]])
    np.testing.assert_array_equal(pad_sequences(s, maxlen=2, truncating="pre", value="pad", dtype=object),
                                  [["pad", "1"], ["1", "2"], ["2", "3"]])
    with pytest.raises(ValueError, match="`dtype` int32 is not compatible with "):
        pad_sequences(s, maxlen=2, truncating="post", value="pad")
    v = [[[1, 1]], [[2, 1], [2, 2]], [[3, 1], [3, 2], [3, 3]]]
    np.testing.assert_array_equal(pad_sequences(v, maxlen=2, truncating="post"),
                                  [[[0, 0], [1, 1]], [[2, 1], [2, 2]], [[3, 1], [3, 2]]])
    np.testing.assert_array_equal(pad_sequences(v, maxlen=3, value=1),
                                  [[[1, 1], [1, 1], [1, 1]], [[1, 1], [2, 1], [2, 2]], [[3, 1], [3, 2], [3, 3]]])
    with pytest.raises(ValueError, match="padding"):
        pad_sequences(a, padding="middle")
    from irgraph.utils import pad_sequences as keras3_place  # Keras 3: keras.utils.pad_sequences
    assert keras3_place is pad_sequences


# ----------------------------------------------------------------------------------- bad input
def test_custom_compute_mask_of_the_wrong_shape_names_the_layer():
    class Bad(L.Layer):
        def call(self, inputs):
            return inputs

        def compute_mask(self, inputs, mask=None):
            return K.greater(inputs[:, 0, :], 0.0)  # (batch, features), not (batch, time)

    inp = irgraph.Input((5, 3))
    with pytest.raises(ValueError, match=r"layer 'bad'.*compute_mask returned a mask of shape "
                                         r"\(None, 3\) for an output of shape \(None, 5, 3\)"):
        Bad(name="bad")(inp)


def test_explicit_mask_of_the_wrong_shape():
    inp, m = irgraph.Input((5, 3)), irgraph.Input((4,), dtype="bool")
    with pytest.raises(ValueError, match=r"layer 'lstm_x'.*mask of shape \(None, 4\) for an input of "
                                         r"shape \(None, 5, 3\)"):
        L.LSTM(2, name="lstm_x")(inp, mask=m)


def test_explicit_mask_is_used():
    inp, m = irgraph.Input((None, D)), irgraph.Input((None,), dtype="bool")
    rnn = L.GRU(H, return_sequences=True)
    model = Model([inp, m], rnn(inp, mask=m))
    x = np.random.default_rng(13).normal(size=(2, 4, D)).astype(np.float32)
    keep = np.array([[1, 1, 0, 0], [0, 1, 1, 1]], bool)
    seqs, _, _ = np_masked_rnn(rnn, x, keep)
    np.testing.assert_allclose(model.predict([x, keep], verbose=0), seqs, rtol=1e-5, atol=1e-6)


def test_mask_zero_needs_room_for_the_padding_id():
    with pytest.raises(ValueError, match=r"Embedding layer 'e'.*mask_zero=True.*input_dim must be at least 2"):
        L.Embedding(1, 4, mask_zero=True, name="e")
    L.Embedding(2, 4, mask_zero=True)  # the padding id and one real id


def test_sequences_longer_than_input_length():
    inp = irgraph.Input((7,), dtype="int32")
    with pytest.raises(ValueError, match=r"Embedding layer 'emb5' was declared with input_length=5.*"
                                         r"shape \(7,\).*pad_sequences"):
        L.Embedding(V, D, input_length=5, name="emb5")(inp)


def test_model_used_as_a_layer_gives_its_outputs_their_masks():
    ids_in = irgraph.Input((None,), dtype="int32")
    encoder = Model(ids_in, L.LSTM(H, return_sequences=True)(L.Embedding(V, D, mask_zero=True)(ids_in)))
    outer_in = irgraph.Input((None,), dtype="int32")
    seq = encoder(outer_in)
    assert seq._keras_mask is not None
    rnn = L.GRU(H)
    model = Model(outer_in, rnn(seq))
    ids = padded("pre")
    got = model.predict(ids, verbose=0)
    for i, s in enumerate(SEQUENCES):
        np.testing.assert_allclose(got[i], alone(model, s)[0], rtol=1e-5, atol=1e-6)


def test_global_average_pooling_1d_averages_unmasked_steps():
    ids_in = irgraph.Input((None,), dtype="int32")
    emb = L.Embedding(V, D, mask_zero=True)
    pooled = L.GlobalAveragePooling1D()(emb(ids_in))
    assert pooled._keras_mask is None
    model = Model(ids_in, pooled)
    ids = padded("pre")
    table = emb.get_weights()[0]
    expected = [table[np.array(s)].mean(0) for s in SEQUENCES]
    np.testing.assert_allclose(model.predict(ids, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_masks_enter_a_model_used_as_a_layer():
    """Keras 3 passes the masks of the tensors a model is called on into its layers."""
    inner_in = irgraph.Input((None, D))
    rnn = L.LSTM(H, return_sequences=True)
    inner = Model(inner_in, L.Dense(2)(rnn(inner_in)))
    ids_in = irgraph.Input((None,), dtype="int32")
    out = inner(L.Embedding(V, D, mask_zero=True)(ids_in))
    assert out._keras_mask is not None  # Dense passes the LSTM's sequence mask on
    model = Model(ids_in, L.SimpleRNN(H)(out))
    ids = padded("pre")
    got = model.predict(ids, verbose=0)
    for i, s in enumerate(SEQUENCES):
        np.testing.assert_allclose(got[i], alone(model, s)[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run_bare(model, ids)[0], got, rtol=1e-5, atol=1e-6)
    seq_model = irgraph.Sequential([L.GRU(H)])
    seq_out = seq_model(L.Embedding(V, D, mask_zero=True)(ids_in))
    model2 = Model(ids_in, seq_out)
    got2 = model2.predict(ids, verbose=0)
    for i, s in enumerate(SEQUENCES):
        np.testing.assert_allclose(got2[i], alone(model2, s)[0], rtol=1e-5, atol=1e-6)


def test_batch_normalization_training_moments_skip_masked_steps():
    ids_in = irgraph.Input((None,), dtype="int32")
    emb = L.Embedding(V, D, mask_zero=True)
    bn = L.BatchNormalization(momentum=0.5)
    x = bn(emb(ids_in))
    assert x._keras_mask is not None
    model = Model(ids_in, L.Dense(1)(L.LSTM(H)(x)))
    model.compile("sgd", "mse")
    ids = padded("pre")
    vectors = emb.get_weights()[0][ids[ids != 0]]  # the unmasked steps' embeddings (before the step)
    model.train_on_batch(ids, np.zeros((3, 1), np.float32))
    moving_mean, moving_var = bn.get_weights()[2:]
    np.testing.assert_allclose(moving_mean, 0.5 * vectors.mean(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(moving_var, 0.5 + 0.5 * vectors.var(0), rtol=1e-4, atol=1e-6)


def _positive_steps(inputs, mask=None):
    return K.greater(K.sum(inputs, axis=-1), 0.0)


def _double(x):
    return x * 2


def test_lambda_mask_is_saved(tmp_path):
    inp = irgraph.Input((None, D))
    rnn = L.GRU(H)
    model = Model(inp, rnn(L.Lambda(_double, mask=_positive_steps)(inp)))
    path = str(tmp_path / "lambda_mask.onnx")
    model.save(path)
    with pytest.raises(ValueError, match="'_positive_steps', which is not in custom_objects"):
        irgraph.models.load_model(path, custom_objects={"_double": _double})
    loaded = irgraph.models.load_model(path, custom_objects={"_double": _double, "_positive_steps": _positive_steps})
    x = np.random.default_rng(14).normal(size=(2, 5, D)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    fixed = Model(inp, L.GRU(H)(L.Lambda(_double, mask=np.array([[True, False, True, True, True]]))(inp)))
    fixed.save(path)
    again = irgraph.models.load_model(path, custom_objects={"_double": _double})
    np.testing.assert_allclose(again.predict(x[:1], verbose=0), fixed.predict(x[:1], verbose=0), rtol=1e-6)
