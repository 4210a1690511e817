"""Recurrent dropout (Keras 3 semantics) in training graphs.

* `RecurrentScan` (the Scan form of the recurrence with per-gate state masks) equals the native
  ONNX LSTM / GRU / RNN when its masks are ones, and its step mask equals sequence_lens;
* the backend with fixed masks equals a numpy transcription of Keras 3's cells with those masks
  (per-gate masks with recurrent_dropout, one input mask without), and its gradients pass the
  finite-difference check;
* layers draw the masks Keras draws (count and sizes), only in training graphs; predict ignores them.
"""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

import irgraph
from irgraph import backend as K
from irgraph import layers
from irgraph.ir import Graph
from irgraph.onnx import emit_model
from irgraph.ops.base import Spec
from irgraph.ops.trace import Value, apply, constant, tracing

from vjp_harness import Case, Inp, check_case

N, T, IN, H = 3, 5, 4, 3
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
RATE = 0.3


def _run(build, feeds: dict, dtype="float32"):
    """Trace ``build`` over graph inputs named and shaped like ``feeds``; run it in onnxruntime."""
    g = Graph("t")
    with tracing(g, training=True):
        vals = {}
        for name, arr in feeds.items():
            spec = Spec(arr.shape, arr.dtype.name)
            vals[name] = Value(g, g.add_input(name, spec), 0, spec)
        for i, out in enumerate(build(**vals)):
            g.add_output(f"out{i}", out.tensor)
    g.refresh_edges()
    sess = ort.InferenceSession(emit_model(g, opset=17).SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _mask(rng, shape):
    return (np.where(rng.uniform(size=shape) < RATE, 0.0, 1.0 / (1 - RATE))).astype(np.float32)


# ---------------------------------------------------------------------------------- op level
@pytest.mark.parametrize("cell,lbr", [("LSTM", None), ("GRU", 1), ("GRU", 0), ("RNN", None)])
def test_recurrent_scan_with_unit_masks_equals_the_native_op(cell, lbr):
    rng = np.random.default_rng(1)
    g, gh = GATES[cell], GATES[cell] * H
    lens = np.array([5, 2, 4], np.int32)
    feeds = {"x": rng.standard_normal((T, N, IN)).astype(np.float32),
             "w": rng.uniform(-.5, .5, (1, gh, IN)).astype(np.float32),
             "r": rng.uniform(-.5, .5, (1, gh, H)).astype(np.float32),
             "b": rng.uniform(-.5, .5, (1, 2 * gh)).astype(np.float32),
             "h0": rng.uniform(-.5, .5, (1, N, H)).astype(np.float32),
             "c0": rng.uniform(-.5, .5, (1, N, H)).astype(np.float32)}
    extra = {} if lbr is None else {"linear_before_reset": lbr}
    acts = {"LSTM": ("Sigmoid", "Tanh", "Tanh"), "GRU": ("Sigmoid", "Tanh"), "RNN": ("Tanh",)}[cell]

    def build(x, w, r, b, h0, c0):
        states = [h0, c0] if cell == "LSTM" else [h0]
        native = apply(cell, [x, w, r, b, constant(lens)] + states, hidden_size=H, activations=acts, **extra)
        sq = lambda v: apply("Squeeze", [v], axes=(0,))  # noqa: E731
        wb, rb = apply("Split", [sq(b)], sizes=[gh, gh], axis=0)
        xw = apply("MatMul", [x, apply("Transpose", [sq(w)], perm=(1, 0))]) + wb
        rt = apply("Transpose", [apply("Reshape", [sq(r)], shape=(g, H, H))], perm=(0, 2, 1))
        ones = apply("Expand", [constant(np.ones((), np.float32)), constant(np.array([N, gh]))], out_shape=(N, gh))
        steps = constant(np.arange(T)[:, None, None] < lens[None, :, None])
        scan = apply("RecurrentScan", [xw, rt, rb, ones, sq(h0), sq(c0) if cell == "LSTM" else None, steps],
                     cell=cell, hidden_size=H, activations=acts, **extra)
        return [apply("Squeeze", [native[0]], axes=(1,))] + [sq(s) for s in native[1:]] + list(scan)

    outs = _run(build, feeds)
    k = len(outs) // 2
    assert k == (3 if cell == "LSTM" else 2)
    for nat, sc in zip(outs[1:k], outs[k + 1:]):
        np.testing.assert_allclose(sc, nat, rtol=1e-5, atol=1e-6)
    # outputs: equal within each length; past it ONNX gives zeros, RecurrentScan the state it holds
    valid = np.arange(T)[:, None, None] < lens[None, :, None]
    y_native, y_scan, final_h = outs[0], outs[k], outs[1]
    np.testing.assert_allclose(y_scan, np.where(valid, y_native, final_h[None]), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------- Keras 3 reference
def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def keras_cell_sequence(cell, x, kernel, rec, bias, in_masks, st_masks, reset_after=True):
    """Keras 3's LSTMCell / GRUCell / SimpleRNNCell over x (batch, time, in), masks as Keras uses
    them: lists of one per gate (implementation 1) or single arrays (None: no dropout)."""
    n, t, _ = x.shape
    g = GATES[cell]
    h = np.zeros((n, H))
    c = np.zeros((n, H))
    per_gate = lambda m: [np.ones(1)] * g if m is None else (m if isinstance(m, list) else [m] * g)  # noqa: E731
    mi, ms = per_gate(in_masks), per_gate(st_masks)
    k = np.split(kernel, g, axis=1)
    u = np.split(rec, g, axis=1)
    ys = []
    for step in range(t):
        xt = x[:, step]
        if cell == "RNN":
            h = np.tanh((xt * mi[0]) @ kernel + bias + (h * ms[0]) @ rec)
        elif cell == "LSTM":
            i, f, cc, o = (((xt * mi[j]) @ k[j]) + bias[j * H:(j + 1) * H] + (h * ms[j]) @ u[j] for j in range(4))
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(cc)
            h = _sigmoid(o) * np.tanh(c)
        else:
            ib, rb = (bias[0], bias[1]) if reset_after else (bias, np.zeros_like(bias))
            xz, xr, xh = (((xt * mi[j]) @ k[j]) + ib[j * H:(j + 1) * H] for j in range(3))
            z = _sigmoid(xz + (h * ms[0]) @ u[0] + rb[:H])
            r = _sigmoid(xr + (h * ms[1]) @ u[1] + rb[H:2 * H])
            if reset_after:
                hh = np.tanh(xh + r * ((h * ms[2]) @ u[2] + rb[2 * H:]))
            else:
                hh = np.tanh(xh + (r * (h * ms[2])) @ u[2])
            h = z * h + (1 - z) * hh
        ys.append(h)
    return np.stack(ys, 1), h, c


BACKEND = {"LSTM": K.lstm, "GRU": K.gru, "RNN": K.simple_rnn}
VARIANTS = [("LSTM", True), ("GRU", True), ("GRU", False), ("RNN", True)]


def _weights(rng, cell, reset_after):
    g = GATES[cell]
    bias_shape = (2, g * H) if cell == "GRU" and reset_after else (g * H,)
    return (rng.uniform(-.6, .6, (IN, g * H)), rng.uniform(-.6, .6, (H, g * H)), rng.uniform(-.3, .3, bias_shape))


@pytest.mark.parametrize("kind", ["input-only", "state-only", "both"])
@pytest.mark.parametrize("cell,reset_after", VARIANTS)
@pytest.mark.parametrize("backwards", [False, True])
def test_backend_with_masks_matches_keras_cells(cell, reset_after, kind, backwards):
    rng = np.random.default_rng(7)
    g = GATES[cell]
    x = rng.standard_normal((N, T, IN)).astype(np.float32)
    kernel, rec, bias = (w.astype(np.float32) for w in _weights(rng, cell, reset_after))
    per_gate = kind != "input-only" and g > 1
    draw = lambda width: [_mask(rng, (N, width)) for _ in range(g)] if per_gate else _mask(rng, (N, width))  # noqa: E731
    in_masks = None if kind == "state-only" else draw(IN)
    st_masks = None if kind == "input-only" else draw(H)
    const = lambda m: None if m is None else ([constant(a) for a in m] if isinstance(m, list) else constant(m))  # noqa: E731
    extra = {} if cell != "GRU" else {"reset_after": reset_after}

    def build(x):
        y, h, *_ = BACKEND[cell](x, (kernel, rec, bias), direction="reverse" if backwards else "forward",
                                  dropout_masks=(const(in_masks), const(st_masks)), **extra)
        return [y, h]

    y, h = _run(build, {"x": x})
    ref_y, ref_h, _ = keras_cell_sequence(cell, x[:, ::-1] if backwards else x, kernel, rec, bias,
                                          in_masks, st_masks, reset_after)
    if backwards:
        ref_y = ref_y[:, ::-1]
    np.testing.assert_allclose(y[:, :, 0], ref_y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h[0], ref_h, rtol=1e-5, atol=1e-5)


def _dropout_gradient_case(cell, reset_after):
    rng = np.random.default_rng(3)
    g = GATES[cell]
    masks = [[_mask(rng, (2, w)).astype(np.float64) for _ in range(g)] for w in (IN, H)]
    kernel, rec, bias = _weights(rng, cell, reset_after)
    extra = {} if cell != "GRU" else {"reset_after": reset_after}

    def build(x, k, u, b, h0):
        states = [h0, h0 * 0.5] if cell == "LSTM" else [h0]
        outs = BACKEND[cell](x, (k, u, b), initial_state=states, **extra,
                             dropout_masks=tuple([constant(a) for a in m] if g > 1 else constant(m[0]) for m in masks))
        return [outs[0]] + [apply("Squeeze", [s], axes=(0,)) for s in outs[1:]]
    tag = f"dropout-{cell}" + ("" if cell != "GRU" else f"-reset_after{int(reset_after)}")
    return Case("RecurrentScan", tag, {"x": Inp(("batch", "t", IN)), "k": Inp(kernel.shape, "given", kernel),
                                       "u": Inp(rec.shape, "given", rec), "b": Inp(bias.shape, "given", bias),
                                       "h0": Inp(("batch", H), "uniform")}, build, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("cell,reset_after", VARIANTS)
def test_backend_dropout_gradients(cell, reset_after):
    """Weights in Keras layout through the block-diagonal R, per-gate input masks and the Scan."""
    check_case(_dropout_gradient_case(cell, reset_after))


# ---------------------------------------------------------------------------------- layers
@pytest.mark.parametrize("layer_cls,gates", [(layers.LSTM, 4), (layers.GRU, 3), (layers.SimpleRNN, 1)])
@pytest.mark.parametrize("dropout,recurrent_dropout", [(0.2, 0.0), (0.2, 0.3), (0.0, 0.3)])
def test_layers_draw_keras_masks_in_training_only(monkeypatch, layer_cls, gates, dropout, recurrent_dropout):
    drawn = []
    real = K.recurrent_dropout_mask

    def recording(x, width, rate, seed=None):
        drawn.append((width, rate))
        return real(x, width, rate, seed)
    monkeypatch.setattr(K, "recurrent_dropout_mask", recording)
    inp = irgraph.Input((None, IN))
    model = irgraph.Model(inp, layer_cls(H, dropout=dropout, recurrent_dropout=recurrent_dropout)(inp))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, T, IN)).astype(np.float32)
    drawn.clear()
    model.predict(x, verbose=0)
    assert drawn == []  # inference graphs have no dropout
    model.compile("sgd", "mse")
    model.train_on_batch(x, np.zeros((8, H), np.float32))
    per_gate = gates if recurrent_dropout and gates > 1 else 1
    expected = ([(IN, dropout)] * per_gate if dropout else []) + \
               ([(H, recurrent_dropout)] * per_gate if recurrent_dropout else [])
    assert sorted(set(drawn)) == sorted(set(expected)) and len(drawn) % len(expected) == 0 \
        and len(drawn) // len(expected) >= 1, drawn
    assert [w for w, _ in drawn[:len(expected)]] == [w for w, _ in expected]


@pytest.mark.parametrize("layer_cls", [layers.LSTM, layers.GRU, layers.SimpleRNN])
def test_predict_ignores_dropout_and_training_uses_it(layer_cls):
    inp = irgraph.Input((T, IN))
    drop = irgraph.Model(inp, layer_cls(H, dropout=0.4, recurrent_dropout=0.4)(inp))
    inp2 = irgraph.Input((T, IN))
    plain = irgraph.Model(inp2, layer_cls(H)(inp2))
    plain.set_weights(drop.get_weights())
    x = np.random.default_rng(0).standard_normal((16, T, IN)).astype(np.float32)
    np.testing.assert_allclose(drop.predict(x, verbose=0), plain.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
    ops = {n.op_type for n in drop.to_onnx().graph.node}  # the inference file keeps the native op
    assert {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}[layer_cls.__name__] in ops and "Scan" not in ops
    y = np.zeros((16, H), np.float32)
    drop.compile("sgd", "mse")
    plain.compile("sgd", "mse")
    # the same weights give different training losses: the dropout masks act in the training step
    assert abs(float(drop.test_on_batch(x, y)) - float(plain.test_on_batch(x, y))) < 1e-6
    assert abs(float(drop.train_on_batch(x, y)) - float(plain.train_on_batch(x, y))) > 1e-4


def test_seeded_masks_repeat_across_models():
    """seed= fixes the mask draws (Keras 3's argument): two models with the same weights and seed
    take the same first step; another seed takes a different one."""
    x = np.random.default_rng(0).standard_normal((16, T, IN)).astype(np.float32)
    y = np.ones((16, H), np.float32)

    def first_loss(seed, weights=None):
        inp = irgraph.Input((T, IN))
        model = irgraph.Model(inp, layers.LSTM(H, dropout=0.3, recurrent_dropout=0.3, seed=seed)(inp))
        if weights is None:
            weights = [np.array(w) for w in model.get_weights()]
        model.set_weights(weights)
        model.compile("sgd", "mse")
        return float(model.train_on_batch(x, y)), weights

    a, weights = first_loss(11)
    b, _ = first_loss(11, weights)
    c, _ = first_loss(12, weights)
    assert a == pytest.approx(b, rel=1e-6)
    assert abs(a - c) > 1e-5


def _masked_model(layer_fn, bidirectional, merge_mode="concat"):
    inp = irgraph.Input((T,), dtype="int32")
    emb = layers.Embedding(6, IN, mask_zero=True)(inp)
    rnn = layer_fn()
    out = layers.Bidirectional(rnn, merge_mode=merge_mode)(emb) if bidirectional else rnn(emb)
    return irgraph.Model(inp, out)


MASKED = [(layers.LSTM, {}), (layers.GRU, {}), (layers.GRU, {"reset_after": False}), (layers.SimpleRNN, {})]


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("return_sequences,go_backwards", [(False, False), (True, False), (True, True),
                                                           (False, True)])
@pytest.mark.parametrize("layer_cls,extra", MASKED, ids=["LSTM", "GRU", "GRU-reset_before", "SimpleRNN"])
def test_recurrent_dropout_with_masks_follows_keras_masking(monkeypatch, layer_cls, extra, return_sequences,
                                                             go_backwards, bidirectional):
    """The Scan form with the Keras mask (recurrent dropout in training) against the native op over
    compacted sequences (inference): with masks of ones both give the same loss, padding at the
    start and at the end of the sequences."""
    real = K.recurrent_dropout_mask
    monkeypatch.setattr(K, "recurrent_dropout_mask", lambda x, width, rate, seed=None: real(x, width, 0.0, seed))

    def make(rate):
        return lambda: layer_cls(H, return_sequences=return_sequences, go_backwards=go_backwards,
                                 recurrent_dropout=rate, dropout=rate, **extra)
    dropping, plain = _masked_model(make(0.5), bidirectional), _masked_model(make(0.0), bidirectional)
    plain.set_weights(dropping.get_weights())
    ids = np.array([[0, 0, 3, 1, 2], [4, 2, 5, 0, 0], [1, 0, 2, 0, 3], [0, 0, 0, 0, 0]], np.int32)
    width = H * (2 if bidirectional else 1)
    y = np.random.default_rng(1).standard_normal((4, T, width) if return_sequences else (4, width))
    y = y.astype(np.float32)
    for model in (dropping, plain):
        model.compile("sgd", "mse")
    expected = float(plain.test_on_batch(ids, y))
    assert float(dropping.train_on_batch(ids, y)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("layer_cls,extra", MASKED, ids=["LSTM", "GRU", "GRU-reset_before", "SimpleRNN"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_dropout_with_initial_state(monkeypatch, layer_cls, extra, bidirectional):
    """initial_state from other tensors reaches the Scan form (masks of ones: the native op's loss)."""
    real = K.recurrent_dropout_mask
    monkeypatch.setattr(K, "recurrent_dropout_mask", lambda x, width, rate, seed=None: real(x, width, 0.0, seed))
    n_states = 2 if layer_cls is layers.LSTM else 1

    def model(rate):
        seq = irgraph.Input((T, IN))
        states = [irgraph.Input((H,)) for _ in range(n_states * (2 if bidirectional else 1))]
        rnn = layer_cls(H, recurrent_dropout=rate, return_sequences=True, **extra)
        out = (layers.Bidirectional(rnn) if bidirectional else rnn)(seq, initial_state=states)
        return irgraph.Model([seq] + states, out)
    dropping, plain = model(0.5), model(0.0)
    plain.set_weights(dropping.get_weights())
    rng = np.random.default_rng(2)
    inputs = [rng.standard_normal((4, T, IN)).astype(np.float32)] + \
        [rng.standard_normal((4, H)).astype(np.float32) for _ in range(len(dropping.inputs) - 1)]
    y = rng.standard_normal((4, T, H * (2 if bidirectional else 1))).astype(np.float32)
    for m in (dropping, plain):
        m.compile("sgd", "mse")
    assert float(dropping.train_on_batch(inputs, y)) == pytest.approx(float(plain.test_on_batch(inputs, y)), rel=1e-5)
