"""Layer-level gradient checks of the recurrent layers (issue 8, item 1).

Each case builds a small Keras-functional model with irgraph's layers, sets well-scaled random
weights, and differentiates L = sum_k sum(output_k * r_k) (random cotangents r_k, one per model
output, so every output -- states included -- feeds the loss) with ``irgraph.backend.gradients``
(K.gradients) w.r.t. every weight *and* every float model input. The lowered training graph plus
its gradients is emitted as ONNX and run in onnxruntime (float32).

The reference is independent: a numpy float64 forward of the same layers written below from
Keras's equations (SimpleRNN, LSTM gates i f c o, GRU gates z r h with reset_after true and
false), differentiated by central finite differences (eps 1e-6, float64: truncation ~1e-12 and
round-off ~1e-10, far below the tolerance).

Tolerance: irgraph computes in float32 (unit round-off 6e-8); a BPTT over 5 steps of 3 units
sums a few hundred products, so its gradients carry relative errors of a few 1e-7 of the largest
gradient. We compare with rtol 1e-4 and an absolute floor of 1e-5 x the largest reference
gradient of the case (entries near zero have no meaningful relative error in float32).
"""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import irgraph
from irgraph import activations
from irgraph import backend as K
from irgraph.layers import (GRU, LSTM, Bidirectional, Dense, Input, SimpleRNN, TimeDistributed)
from irgraph.models import Model

B, T, F, H = 3, 5, 4, 3
EPS = 1e-6
RTOL, ATOL_FRACTION = 1e-4, 1e-5


# ============================================================================ numpy reference
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


ACT = {  # Keras 3 definitions
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "hard_sigmoid": lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0),  # Keras 3: relu6(x + 3) / 6
    "relu": lambda x: np.maximum(x, 0.0),
    "linear": lambda x: x,
    "softsign": lambda x: x / (1.0 + np.abs(x)),
    "softplus": lambda x: np.logaddexp(0.0, x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
}


def _rows(a, batch_dims=1):
    """A bias or kernel with leading perturbation axes made to broadcast against ``batch_dims``
    batch axes: (..., n) -> (..., 1, n) for a bias; a kernel passes batch_dims with its 2 axes."""
    return a if a is None or isinstance(a, float) else a.reshape(
        a.shape[:-1] + (1,) * batch_dims + a.shape[-1:])


def cell_sequence(kind, x, kernel, rec, bias, act="tanh", rec_act="sigmoid", state=None,
                  go_backwards=False, reset_after=True):
    """Keras recurrence over x (batch, time, in) in float64. Returns the outputs (batch, time, H) in
    processing order (Keras's go_backwards order) and the final states ([h] or [h, c])."""
    n, steps = x.shape[-3], x.shape[-2]
    units = rec.shape[-2]
    f, g = ACT[act], ACT[rec_act]
    if bias is not None and not (kind == "gru" and reset_after):
        bias = _rows(bias)
    h = np.zeros((n, units)) if state is None else state[0]
    c = None
    if kind == "lstm":
        c = np.zeros((n, units)) if state is None else state[1]
    outs = []
    for t in (range(steps - 1, -1, -1) if go_backwards else range(steps)):
        xt = x[..., t, :]
        if kind == "simple":
            h = f(xt @ kernel + h @ rec + (0.0 if bias is None else bias))
        elif kind == "lstm":
            z = xt @ kernel + h @ rec + (0.0 if bias is None else bias)
            i, fg, cc, o = (z[..., k * units:(k + 1) * units] for k in range(4))
            c = g(fg) * c + g(i) * f(cc)
            h = g(o) * f(c)
        elif kind == "gru":
            u = units
            if reset_after:
                bx, bh = (0.0, 0.0) if bias is None else (_rows(bias[..., 0, :]), _rows(bias[..., 1, :]))
                xz, hz = xt @ kernel + bx, h @ rec + bh
                z = g(xz[..., :u] + hz[..., :u])
                r = g(xz[..., u:2 * u] + hz[..., u:2 * u])
                hh = f(xz[..., 2 * u:] + r * hz[..., 2 * u:])
            else:
                xz = xt @ kernel + (0.0 if bias is None else bias)
                z = g(xz[..., :u] + h @ rec[..., :u])
                r = g(xz[..., u:2 * u] + h @ rec[..., u:2 * u])
                hh = f(xz[..., 2 * u:] + (r * h) @ rec[..., 2 * u:])
            h = z * h + (1.0 - z) * hh
        else:
            raise ValueError(kind)
        outs.append(h)
    return np.stack(np.broadcast_arrays(*outs), axis=-2), ([h] if c is None else [h, c])


def _kind(layer):
    return {SimpleRNN: "simple", LSTM: "lstm", GRU: "gru"}[type(layer)]


def np_layer(layer, w, x, initial_state=None):
    """The Keras outputs of a SimpleRNN/GRU/LSTM or Bidirectional ``layer`` from the weights in
    ``w`` (path -> float64 array): out, or [out, *states] with return_state."""
    if isinstance(layer, Bidirectional):
        fw, bw = layer.forward_layer, layer.backward_layer
        n = len(fw.state_names)
        s_fw = initial_state[:n] if initial_state else None
        s_bw = initial_state[n:] if initial_state else None
        y_fw, st_fw = _np_rnn(fw, w, x, s_fw)
        y_bw, st_bw = _np_rnn(bw, w, x, s_bw)
        if layer.return_sequences:
            y_bw = y_bw[..., ::-1, :]  # Keras re-aligns the backward sequence with the input order
        y_fw, y_bw = np.broadcast_arrays(y_fw, y_bw)
        mode = layer.merge_mode
        out = {"concat": lambda: [np.concatenate([y_fw, y_bw], -1)], "sum": lambda: [y_fw + y_bw],
               "mul": lambda: [y_fw * y_bw], "ave": lambda: [(y_fw + y_bw) / 2],
               None: lambda: [y_fw, y_bw]}[mode]()
        outs = out + (st_fw + st_bw if layer.return_state else [])
        return outs if len(outs) > 1 else outs[0]
    y, states = _np_rnn(layer, w, x, initial_state)
    return [y] + states if layer.return_state else y


def _np_rnn(layer, w, x, state):
    p = layer.name + "/"
    kw = {}
    if isinstance(layer, GRU):
        kw["reset_after"] = layer.reset_after
    if not isinstance(layer, SimpleRNN):
        kw["rec_act"] = activations.serialize(layer.recurrent_activation)
    seq, states = cell_sequence(_kind(layer), x, w[p + "kernel"], w[p + "recurrent_kernel"],
                                w.get(p + "bias"), act=activations.serialize(layer.activation),
                                state=state, go_backwards=layer.go_backwards, **kw)
    return (seq if layer.return_sequences else states[0]), states


def np_dense(layer, w, x):
    kernel = w[layer.name + "/kernel"]
    # perturbed weights carry a leading axis: put it before x's batch (and time) axes
    y = x @ kernel.reshape(kernel.shape[:-2] + (1,) * (x.ndim - 2) + kernel.shape[-2:])
    if layer.use_bias:
        y = y + _rows(w[layer.name + "/bias"], x.ndim - 1)
    return ACT[activations.serialize(layer.activation)](y)


# ============================================================================ irgraph gradients
def irgraph_gradients(model, inputs, cotangents):
    """Gradients of sum_k sum(out_k * cot_k) w.r.t. every weight (by path) and every float model
    input (list), computed with K.gradients on the lowered training graph, run in onnxruntime."""
    from irgraph.onnx import emit_model
    from irgraph.ops.trace import Value, tracing
    from irgraph.passes import cleanup, infer_shapes, lower

    g = infer_shapes(lower(model.graph, training=True))
    weights = g.nodes_of("weight")
    in_ids = list(g.inputs)
    in_names = [g.node(n)["name"] for n in in_ids]
    float_in = [n for n in in_ids if g.node(n)["specs"][0].dtype.startswith("float")]
    with tracing(g, training=True):
        loss = None
        for k, onid in enumerate(list(g.outputs)):
            t = g.output_tensor(onid)
            spec = g.spec(t)
            cot = Value(g, g.add_input(f"cotangent{k}", spec), 0, spec)
            term = K.sum(Value(g, *t, spec) * cot)
            loss = term if loss is None else loss + term
        wrt = [Value(g, n, 0, g.node(n)["specs"][0]) for n in weights + float_in]
        grads = K.gradients(loss, wrt)
    names = []
    for i, gv in enumerate(grads):
        assert gv is not None, f"no gradient for {(weights + float_in)[i]}"
        names.append(f"grad{i}")
        g.add_output(f"grad{i}", gv.tensor)
    g.refresh_edges()
    proto = emit_model(cleanup(g), opset=17)
    onnx.checker.check_model(proto, full_check=True)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])
    feeds = dict(zip(in_names, inputs))
    feeds.update({f"cotangent{k}": c.astype(np.float32) for k, c in enumerate(cotangents)})
    got = dict(zip(names, sess.run(names, feeds)))
    paths = [g.node(n)["var"].path for n in weights]
    w_grads = {p: got[f"grad{i}"] for i, p in enumerate(paths)}
    x_grads = [got[f"grad{len(paths) + i}"] for i in range(len(float_in))]
    return w_grads, x_grads


def finite_differences(fn, arrays: dict, key, cotangents):
    """d/d arrays[key] of sum_k sum(fn(arrays)_k * cot_k), central differences in float64.

    All perturbations of ``key`` go through the reference at once, stacked on a new leading axis
    (the numpy references broadcast over leading axes); an output that does not depend on ``key``
    comes back without that axis (its difference is zero)."""
    base = arrays[key]
    n = base.size
    steps = (np.eye(n) * EPS).reshape((n,) + base.shape)
    up, down = fn({**arrays, key: base + steps}), fn({**arrays, key: base - steps})
    grad = np.zeros(n)
    for u, d, c in zip(up, down, cotangents):
        grad += (np.broadcast_to(u - d, (n,) + c.shape) * c).reshape(n, -1).sum(axis=1)
    return (grad / (2 * EPS)).reshape(base.shape)


def set_random_weights(model, seed=0, scale=0.5):
    """Uniform(-scale, scale) weights: gates and activations stay in their sensitive ranges."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-scale, scale, w.shape).astype(np.float32) for w in model.get_weights()])


def check_model(model, inputs, reference, seed=1, cotangent_seed=None):
    """Compare irgraph's K.gradients with finite differences of ``reference(w, xs) -> outputs``.

    ``inputs``: model inputs (float32 arrays); ``reference`` gets the weights by path and the
    inputs, all float64, and returns the model's outputs (a list, in model output order)."""
    set_random_weights(model, seed)
    w64 = {v.path: np.asarray(a, np.float64) for v, a in zip(model.weights, model.get_weights())}
    xs64 = [np.asarray(x, np.float64) for x in inputs]

    def fn(arrays):
        w = {k: v for k, v in arrays.items() if not k.startswith("input:")}
        xs = [arrays.get(f"input:{i}", x) for i, x in enumerate(xs64)]
        outs = reference(w, xs)
        return list(outs) if isinstance(outs, (list, tuple)) else [outs]

    arrays = {**w64, **{f"input:{i}": x for i, x in enumerate(xs64) if x.dtype.kind == "f"}}
    outs = fn(arrays)
    # the forward itself must agree (else the gradient comparison is meaningless)
    pred = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    pred = pred if isinstance(pred, list) else [pred]
    assert len(pred) == len(outs)
    for p, o in zip(pred, outs):
        np.testing.assert_allclose(p, o, rtol=1e-5, atol=1e-5)
    rng = np.random.default_rng(cotangent_seed if cotangent_seed is not None else seed + 100)
    cots = [rng.standard_normal(o.shape) for o in outs]
    w_grads, x_grads = irgraph_gradients(model, [np.asarray(x) for x in inputs], cots)
    expected = {k: finite_differences(fn, arrays, k, cots) for k in arrays}
    scale = max(float(np.abs(e).max()) for e in expected.values())
    assert scale > 1e-3
    got = {**w_grads, **{f"input:{i}": gx for i, gx in enumerate(x_grads)}}
    assert sorted(got) == sorted(expected), (sorted(got), sorted(expected))
    for k in expected:
        assert np.abs(expected[k]).max() > 0 or np.abs(got[k]).max() == 0, k
        np.testing.assert_allclose(got[k], expected[k], rtol=RTOL, atol=ATOL_FRACTION * scale, err_msg=k)
    return expected


def seq(shape=(B, T, F), seed=0, scale=1.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


LAYERS = {"simple_rnn": lambda **kw: SimpleRNN(H, **kw),
          "lstm": lambda **kw: LSTM(H, **kw),
          "gru": lambda **kw: GRU(H, **kw),
          "gru_reset_before": lambda **kw: GRU(H, reset_after=False, **kw)}


def one_layer(layer, time=T):
    x = Input(shape=(time, F))
    out = layer(x)
    model = Model(x, out)
    return model, (lambda w, xs: np_layer(layer, w, xs[0]))


# ============================================================================ cases
@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("return_sequences", [False, True])
def test_single_layer(name, return_sequences):
    model, ref = one_layer(LAYERS[name](return_sequences=return_sequences))
    check_model(model, [seq()], ref)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_return_state_gradient_from_the_states(name):
    """Every output (sequence and each state) gets its own cotangent: gradients flow from h and c."""
    model, ref = one_layer(LAYERS[name](return_sequences=True, return_state=True))
    assert len(model.outputs) == (3 if name == "lstm" else 2)
    check_model(model, [seq()], ref)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_return_state_only_states_used(name):
    """The loss reads only the final states (the sequence output is not a model output)."""
    layer = LAYERS[name](return_state=True)
    x = Input(shape=(T, F))
    outs = layer(x)
    model = Model(x, outs[1:])
    check_model(model, [seq(seed=3)], lambda w, xs: np_layer(layer, w, xs[0])[1:])


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("return_sequences", [False, True])
def test_go_backwards(name, return_sequences):
    model, ref = one_layer(LAYERS[name](go_backwards=True, return_sequences=return_sequences))
    check_model(model, [seq(seed=4)], ref)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_initial_state_from_other_tensors(name):
    """initial_state computed by Dense layers from a second input: the gradient reaches those
    Dense weights and the second input."""
    layer = LAYERS[name](return_sequences=True)
    x, z = Input(shape=(T, F)), Input(shape=(2,))
    makers = [Dense(H, activation="tanh") for _ in layer.state_names]
    states = [d(z) for d in makers]
    model = Model([x, z], layer(x, initial_state=states))

    def ref(w, xs):
        return np_layer(layer, w, xs[0], [np_dense(d, w, xs[1]) for d in makers])
    check_model(model, [seq(seed=5), seq((B, 2), seed=6)], ref)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_initial_state_with_go_backwards_and_states_out(name):
    layer = LAYERS[name](go_backwards=True, return_state=True)
    x = Input(shape=(T, F))
    states = [Input(shape=(H,)) for _ in layer.state_names]
    model = Model([x] + states, layer(x, initial_state=states))
    xs = [seq(seed=7)] + [seq((B, H), seed=8 + i) for i in range(len(states))]
    check_model(model, xs, lambda w, xs: np_layer(layer, w, xs[0], list(xs[1:])))


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("return_sequences", [False, True])
def test_unroll(name, return_sequences):
    model, ref = one_layer(LAYERS[name](unroll=True, return_sequences=return_sequences))
    check_model(model, [seq(seed=9)], ref)


def test_two_stacked_layers():
    first, second = LSTM(H, return_sequences=True), GRU(2, return_sequences=True)
    x = Input(shape=(T, F))
    model = Model(x, second(first(x)))
    check_model(model, [seq(seed=10)], lambda w, xs: np_layer(second, w, np_layer(first, w, xs[0])))


def test_three_stacked_layers_mixed_kinds_last_step():
    a = SimpleRNN(H, return_sequences=True)
    b = GRU(H, reset_after=False, return_sequences=True, go_backwards=True)
    c = LSTM(2)
    x = Input(shape=(T, F))
    model = Model(x, c(b(a(x))))
    check_model(model, [seq(seed=11)], lambda w, xs: np_layer(c, w, np_layer(b, w, np_layer(a, w, xs[0]))))


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("name", ["lstm", "gru", "simple_rnn"])
def test_bidirectional(merge_mode, name):
    layer = Bidirectional(LAYERS[name](return_sequences=True), merge_mode=merge_mode)
    x = Input(shape=(T, F))
    model = Model(x, layer(x))
    check_model(model, [seq(seed=12)], lambda w, xs: np_layer(layer, w, xs[0]))


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_last_step(merge_mode):
    layer = Bidirectional(GRU(H, reset_after=False), merge_mode=merge_mode)
    x = Input(shape=(T, F))
    model = Model(x, layer(x))
    check_model(model, [seq(seed=13)], lambda w, xs: np_layer(layer, w, xs[0]))


def test_bidirectional_return_state_and_initial_state():
    layer = Bidirectional(LSTM(H, return_sequences=True, return_state=True), merge_mode="sum")
    x = Input(shape=(T, F))
    states = [Input(shape=(H,)) for _ in range(4)]  # forward h, c then backward h, c
    model = Model([x] + states, layer(x, initial_state=states))
    xs = [seq(seed=14)] + [seq((B, H), seed=15 + i) for i in range(4)]
    check_model(model, xs, lambda w, xs: np_layer(layer, w, xs[0], list(xs[1:])))


def test_bidirectional_with_unlike_backward_layer():
    """A backward_layer of another kind: two ops, not one bidirectional op."""
    layer = Bidirectional(LSTM(H, return_sequences=True),
                          backward_layer=GRU(H, return_sequences=True, go_backwards=True),
                          merge_mode="concat")
    x = Input(shape=(T, F))
    model = Model(x, layer(x))
    check_model(model, [seq(seed=16)], lambda w, xs: np_layer(layer, w, xs[0]))


def test_stacked_bidirectional():
    first = Bidirectional(LSTM(H, return_sequences=True), merge_mode="concat")
    second = Bidirectional(SimpleRNN(2), merge_mode="ave")
    x = Input(shape=(T, F))
    model = Model(x, second(first(x)))
    check_model(model, [seq(seed=17)], lambda w, xs: np_layer(second, w, np_layer(first, w, xs[0])))


def test_time_distributed_dense_after_lstm():
    rnn = LSTM(H, return_sequences=True)
    dense = Dense(2, activation="tanh")
    x = Input(shape=(T, F))
    model = Model(x, TimeDistributed(dense)(rnn(x)))
    check_model(model, [seq(seed=18)], lambda w, xs: np_dense(dense, w, np_layer(rnn, w, xs[0])))


def test_time_distributed_small_model_before_gru():
    v = Input(shape=(F,))
    d1, d2 = Dense(5, activation="relu"), Dense(3, activation="sigmoid")
    inner = Model(v, d2(d1(v)))
    rnn = GRU(H, return_sequences=True)
    x = Input(shape=(T, F))
    model = Model(x, rnn(TimeDistributed(inner)(x)))
    check_model(model, [seq(seed=19)],
                lambda w, xs: np_layer(rnn, w, np_dense(d2, w, np_dense(d1, w, xs[0]))))


@pytest.mark.parametrize("inner", ["simple_rnn", "lstm_sequences", "bidirectional_gru_sequences"])
def test_time_distributed_around_recurrent_layer(inner):
    """TimeDistributed around a recurrent layer: (batch, outer, inner time, F)."""
    rnn = {"simple_rnn": lambda: SimpleRNN(H),
           "lstm_sequences": lambda: LSTM(H, return_sequences=True),
           "bidirectional_gru_sequences": lambda: Bidirectional(GRU(H, return_sequences=True))}[inner]()
    x = Input(shape=(2, T, F))
    model = Model(x, TimeDistributed(rnn)(x))

    def ref(w, xs):
        flat = xs[0].reshape(xs[0].shape[:-4] + (B * 2, T, F))
        y = np_layer(rnn, w, flat)
        rest = 1 if inner == "simple_rnn" else 2
        return y.reshape(y.shape[:-1 - rest] + (B, 2) + y.shape[-rest:])
    check_model(model, [seq((B, 2, T, F), seed=20)], ref)


ACTIVATION_CASES = [
    ("simple_rnn", dict(activation="relu")),
    ("simple_rnn", dict(activation="elu")),
    ("simple_rnn", dict(activation="softsign")),
    ("simple_rnn", dict(activation="linear")),
    ("simple_rnn", dict(activation="softplus")),
    ("simple_rnn", dict(activation="sigmoid")),
    ("lstm", dict(activation="relu", recurrent_activation="hard_sigmoid")),
    ("lstm", dict(activation="elu", recurrent_activation="sigmoid")),
    ("lstm", dict(activation="softsign", recurrent_activation="hard_sigmoid")),
    ("lstm", dict(activation="linear", recurrent_activation="tanh")),
    ("gru", dict(activation="relu", recurrent_activation="hard_sigmoid")),
    ("gru", dict(activation="softsign", recurrent_activation="softplus")),
    ("gru", dict(activation="elu", recurrent_activation="sigmoid")),
    ("gru_reset_before", dict(activation="linear", recurrent_activation="hard_sigmoid")),
    ("gru_reset_before", dict(activation="relu", recurrent_activation="sigmoid")),
]


@pytest.mark.parametrize("name,kw", ACTIVATION_CASES,
                         ids=[f"{n}-{kw.get('activation')}-{kw.get('recurrent_activation', '')}"
                              for n, kw in ACTIVATION_CASES])
def test_activations(name, kw):
    # inputs scaled by 3: hard_sigmoid (kinks at +-3) saturates on some entries, relu is cut
    model, ref = one_layer(LAYERS[name](return_sequences=True, **kw))
    check_model(model, [seq(seed=21, scale=3.0)], ref)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_without_bias(name):
    model, ref = one_layer(LAYERS[name](use_bias=False, return_sequences=True))
    check_model(model, [seq(seed=22)], ref)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_around_a_backwards_layer(return_sequences):
    """Bidirectional(LSTM(go_backwards=True)): the 'forward' copy runs backwards and its clone
    forwards; Keras flips the second one's sequence, the first keeps its processing order."""
    layer = Bidirectional(LSTM(H, go_backwards=True, return_sequences=return_sequences), merge_mode="concat")
    x = Input(shape=(T, F))
    model = Model(x, layer(x))
    check_model(model, [seq(seed=28)], lambda w, xs: np_layer(layer, w, xs[0]))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_unknown_time_length(name):
    """Input(shape=(None, F)): one model and one gradient graph, differentiated on two lengths."""
    layer = LAYERS[name](return_sequences=True)
    model, ref = one_layer(layer, time=None)
    check_model(model, [seq((B, 5, F), seed=23)], ref)
    check_model(model, [seq((B, 2, F), seed=24)], ref, seed=1)


def test_unknown_time_length_bidirectional_stacked_and_backwards():
    first = Bidirectional(GRU(H, return_sequences=True), merge_mode="concat")
    second = LSTM(2, go_backwards=True)
    x = Input(shape=(None, F))
    model = Model(x, second(first(x)))

    def ref(w, xs):
        return np_layer(second, w, np_layer(first, w, xs[0]))
    check_model(model, [seq((B, 4, F), seed=25)], ref)
    check_model(model, [seq((B, 7, F), seed=26)], ref)


# ============================================================================ K.gradients in a layer
@pytest.mark.parametrize("name", sorted(LAYERS) + ["bidirectional"])
def test_input_gradient_inside_a_custom_layer(name):
    """A custom layer whose call runs a recurrent layer and returns K.gradients(sum(y * y), x): the
    gradient w.r.t. the input, computed while tracing, is the model's output (its forward pass)."""
    from irgraph.layers import Layer
    rnn = (Bidirectional(GRU(H, return_sequences=True), merge_mode="sum") if name == "bidirectional"
           else LAYERS[name](return_sequences=True))

    class InputGradient(Layer):
        def __init__(self, inner, **kwargs):
            super().__init__(**kwargs)
            self.inner = inner  # a tracked sublayer: its weights are the model's

        def call(self, x):
            y = self.inner(x)
            return K.gradients(K.sum(y * y), [x])[0]

    x = Input(shape=(T, F))
    model = Model(x, InputGradient(rnn)(x))
    set_random_weights(model, seed=29)
    xs = seq(seed=30)
    w64 = {v.path: np.asarray(a, np.float64) for v, a in zip(model.weights, model.get_weights())}

    def loss(arrays):
        y = np_layer(rnn, w64, arrays["x"])
        return [(y * y).sum(axis=(-3, -2, -1))]
    expected = finite_differences(loss, {"x": xs.astype(np.float64)}, "x", [np.ones(())])
    got = model.predict(xs, verbose=0)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL_FRACTION * np.abs(expected).max())


# ============================================================================ masks
LENGTHS = [5, 3, 2]


def _padded(padding, seed):
    """Sequences whose padded steps are all zeros (Masking(0.0) masks them)."""
    x = seq(seed=seed)
    for i, n in enumerate(LENGTHS):
        if padding == "pre":
            x[i, :T - n] = 0.0
        else:
            x[i, n:] = 0.0
    return x


def _each_alone(fn, x, padding):
    """fn on each sequence without its padding (Keras's mask semantics for the last output); the
    lengths are fixed, so perturbing a padded entry leaves the reference unchanged: the mask is not
    differentiable and the gradient w.r.t. padded steps is zero, as in Keras."""
    outs = []
    for i, n in enumerate(LENGTHS):
        outs.append(fn(x[..., i:i + 1, T - n:, :] if padding == "pre" else x[..., i:i + 1, :n, :]))
    return np.concatenate(np.broadcast_arrays(*outs), axis=-2)


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("name", sorted(LAYERS) + ["bidirectional", "stacked", "go_backwards"])
def test_masked_last_output(name, padding):
    from irgraph.layers import Masking
    x = Input(shape=(T, F))
    h = Masking(0.0)(x)
    if name == "bidirectional":
        layer = Bidirectional(GRU(H), merge_mode="concat")
        out = layer(h)
        one = lambda w, s: np_layer(layer, w, s)  # noqa: E731
    elif name == "stacked":
        first, second = LSTM(H, return_sequences=True), SimpleRNN(2)
        out = second(first(h))
        one = lambda w, s: np_layer(second, w, np_layer(first, w, s))  # noqa: E731
    elif name == "go_backwards":
        layer = LSTM(H, go_backwards=True)
        out = layer(h)
        one = lambda w, s: np_layer(layer, w, s)  # noqa: E731
    else:
        layer = LAYERS[name]()
        out = layer(h)
        one = lambda w, s: np_layer(layer, w, s)  # noqa: E731
    model = Model(x, out)
    xs = _padded(padding, seed=27)
    check_model(model, [xs], lambda w, xs: _each_alone(lambda s: one(w, s), xs[0], padding))


# ============================================================================ training smoke test
def test_lstm_learns_with_unknown_time_length():
    """An LSTM on a learnable toy task (sum of the sequence) with Input(shape=(None, 1)): fit on
    batches of different lengths in different calls; the loss must fall by more than half."""
    irgraph.set_seed(0)
    x = Input(shape=(None, 1))
    model = Model(x, Dense(1)(LSTM(8)(x)))
    from irgraph import optimizers
    model.compile(optimizers.Adam(learning_rate=0.02), "mse")
    rng = np.random.default_rng(0)

    def batch(n, length):
        xs = rng.uniform(-1, 1, (n, length, 1)).astype(np.float32)
        return xs, xs.sum(axis=1) / 2.0

    evals = [batch(64, length) for length in (3, 6, 9)]

    def loss():
        return float(np.mean([model.evaluate(a, b, verbose=0) for a, b in evals]))
    before = loss()
    for epoch in range(12):
        for length in (3, 5, 6, 8, 9):
            xs, ys = batch(64, length)
            model.fit(xs, ys, batch_size=16, epochs=1, verbose=0)
    after = loss()
    assert after < 0.5 * before, (before, after)
