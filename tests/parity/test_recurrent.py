"""SimpleRNN, GRU, LSTM and Bidirectional against PyTorch (float64) or numpy references.

Weights are drawn in Keras layout and converted to PyTorch's layout here, independently of the
backend's reordering: that checks the gate orders (Keras LSTM i, f, c, o; GRU z, r, h)."""
import numpy as np
import pytest
import torch

import irgraph
from irgraph import layers as L
from irgraph.models import Model, Sequential
from helpers import assert_close, bare_session, export_and_run, layer_output, rand

B, T, F, H = 2, 5, 3, 4  # batch, time, features, units
KINDS = {"LSTM": L.LSTM, "GRU": L.GRU, "SimpleRNN": L.SimpleRNN}


# ----------------------------------------------------------------------------------- references
def keras_weights(layer, seed=10):
    """Random weights (scaled to keep the gates unsaturated) set on a built layer, and returned."""
    ws = [rand(*w.shape, seed=seed + i) * 0.5 for i, w in enumerate(layer.get_weights())]
    layer.set_weights(ws)
    return ws


def _gru_perm(h):
    """Keras GRU gates z, r, h -> PyTorch r, z, n."""
    return np.r_[h:2 * h, 0:h, 2 * h:3 * h]


def to_torch(kind, kernel, recurrent, bias):
    """PyTorch (weight_ih, weight_hh, bias_ih, bias_hh) from Keras-layout weights."""
    h = recurrent.shape[0]
    if kind == "GRU":
        p = _gru_perm(h)
        return kernel[:, p].T, recurrent[:, p].T, bias[0][p], bias[1][p]
    return kernel.T, recurrent.T, bias, np.zeros_like(bias)  # LSTM gates i, f, c(g), o agree


def torch_rnn(kind, x, weight_sets, state=None, nonlinearity="tanh"):
    """Run torch.nn.LSTM/GRU/RNN (batch_first, float64); returns output and final states as numpy."""
    h = weight_sets[0][1].shape[0]
    kw = {"nonlinearity": nonlinearity} if kind == "SimpleRNN" else {}
    cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "SimpleRNN": torch.nn.RNN}[kind]
    mod = cls(x.shape[-1], h, batch_first=True, bidirectional=len(weight_sets) == 2, dtype=torch.float64, **kw)
    with torch.no_grad():
        for suffix, ws in zip(("", "_reverse"), weight_sets):
            for name, w in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), to_torch(kind, *ws)):
                getattr(mod, f"{name}_l0{suffix}").copy_(torch.from_numpy(np.asarray(w, np.float64)))
        if state is not None:
            state = tuple(torch.from_numpy(np.asarray(s, np.float64)) for s in state)
            state = state if kind == "LSTM" else state[0]
        y, hn = mod(torch.from_numpy(x.astype(np.float64)), state)
    hn = hn if isinstance(hn, tuple) else (hn,)
    return y.numpy(), [s.numpy() for s in hn]


ACT = {"tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "relu": lambda v: np.maximum(v, 0),
       "linear": lambda v: v, "hard_sigmoid": lambda v: np.clip(v / 6 + 0.5, 0, 1)}  # Keras 3


def np_lstm(x, kernel, recurrent, bias, activation="tanh", recurrent_activation="sigmoid"):
    f, g = ACT[recurrent_activation], ACT[activation]
    x = x.astype(np.float64)
    h = c = np.zeros((x.shape[0], recurrent.shape[0]))
    ys = []
    for t in range(x.shape[1]):
        i_, f_, c_, o_ = np.split(x[:, t] @ kernel + h @ recurrent + bias, 4, axis=-1)
        c = f(f_) * c + f(i_) * g(c_)
        h = f(o_) * g(c)
        ys.append(h)
    return np.stack(ys, 1), h, c


def np_gru_reset_before(x, kernel, recurrent, bias):
    """Keras GRU with reset_after=False: the reset gate applies before the recurrent matmul."""
    sig = ACT["sigmoid"]
    n = recurrent.shape[0]
    h = np.zeros((x.shape[0], n))
    ys = []
    for t in range(x.shape[1]):
        xz, xr, xh = np.split(x[:, t].astype(np.float64) @ kernel + bias, 3, axis=-1)
        z = sig(xz + h @ recurrent[:, :n])
        r = sig(xr + h @ recurrent[:, n:2 * n])
        hh = np.tanh(xh + (r * h) @ recurrent[:, 2 * n:])
        h = z * h + (1 - z) * hh
        ys.append(h)
    return np.stack(ys, 1), h


def built(layer, shape=(None, T, F), seed=10):
    layer.build(shape)
    return layer, keras_weights(layer, seed)


def onnx_op_types(model):
    return [n.op_type for n in model.to_onnx().graph.node]


# ----------------------------------------------------------------------------------- unidirectional
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("mode", ["last", "sequences", "state", "backwards", "backwards_last"])
def test_layer_matches_torch(kind, mode):
    x = rand(B, T, F)
    kw = {"last": {}, "sequences": {"return_sequences": True},
          "state": {"return_sequences": True, "return_state": True},
          "backwards": {"return_sequences": True, "go_backwards": True},
          "backwards_last": {"go_backwards": True}}[mode]
    layer, ws = built(KINDS[kind](H, **kw))
    backwards = kw.get("go_backwards", False)
    y, states = torch_rnn(kind, x[:, ::-1].copy() if backwards else x, [ws])
    out = layer_output(layer, x)
    if mode == "state":
        assert len(out) == 1 + len(states)
        assert_close(out[0], y)
        for got, want in zip(out[1:], states):
            assert_close(got, want[0])
    elif kw.get("return_sequences"):
        assert_close(out, y)  # go_backwards: outputs in processing order, as Keras
    else:
        assert_close(out, y[:, -1])


@pytest.mark.parametrize("kind", list(KINDS))
def test_initial_state(kind):
    x = rand(B, T, F)
    n_states = 2 if kind == "LSTM" else 1
    states = [rand(B, H, seed=20 + i) for i in range(n_states)]
    layer, ws = built(KINDS[kind](H, return_sequences=True, return_state=True))
    ins = [irgraph.Input(shape=(T, F))] + [irgraph.Input(shape=(H,)) for _ in states]
    model = Model(ins, layer(ins[0], initial_state=ins[1:]))
    out = export_and_run(model, [x] + states)
    y, finals = torch_rnn(kind, x, [ws], state=[s[None] for s in states])
    assert_close(out[0], y)
    for got, want in zip(out[1:], finals):
        assert_close(got, want[0])


def test_simple_rnn_relu():
    x = rand(B, T, F)
    layer, ws = built(L.SimpleRNN(H, activation="relu", return_sequences=True))
    assert_close(layer_output(layer, x), torch_rnn("SimpleRNN", x, [ws], nonlinearity="relu")[0])


def test_gru_reset_after_false():
    x = rand(B, T, F)
    layer, ws = built(L.GRU(H, reset_after=False, return_sequences=True))
    assert ws[2].shape == (3 * H,)
    assert_close(layer_output(layer, x), np_gru_reset_before(x, *ws)[0])


@pytest.mark.parametrize("recurrent_activation,activation",
                         [("hard_sigmoid", "tanh"), ("sigmoid", "relu"), ("hard_sigmoid", "linear")])
def test_lstm_other_activations(recurrent_activation, activation):
    x = rand(B, T, F)
    layer, ws = built(L.LSTM(H, activation=activation, recurrent_activation=recurrent_activation,
                             return_sequences=True))
    assert_close(layer_output(layer, x), np_lstm(x, *ws, activation, recurrent_activation)[0])


def test_no_bias():
    x = rand(B, T, F)
    layer, ws = built(L.LSTM(H, use_bias=False, return_sequences=True))
    assert len(ws) == 2
    assert_close(layer_output(layer, x), np_lstm(x, *ws, np.zeros(4 * H))[0])


# ----------------------------------------------------------------------------------- Bidirectional
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_bidirectional_lstm(merge_mode, return_sequences):
    x = rand(B, T, F)
    layer, ws = built(L.Bidirectional(L.LSTM(H, return_sequences=return_sequences), merge_mode=merge_mode))
    y, _ = torch_rnn("LSTM", x, [ws[:3], ws[3:]])
    if not return_sequences:  # last forward step, and the backward state after reading x[:, 0]
        y = np.concatenate([y[:, -1, :H], y[:, 0, H:]], axis=-1)
    fw, bw = y[..., :H], y[..., H:]
    want = {"concat": y, "sum": fw + bw, "mul": fw * bw, "ave": (fw + bw) / 2, None: [fw, bw]}[merge_mode]
    out = layer_output(layer, x)
    if merge_mode is None:
        assert len(out) == 2
        assert_close(out[0], want[0])
        assert_close(out[1], want[1])
    else:
        assert_close(out, want)


@pytest.mark.parametrize("kind", ["GRU", "SimpleRNN"])
def test_bidirectional_gru_and_simple_rnn(kind):
    x = rand(B, T, F)
    layer, ws = built(L.Bidirectional(KINDS[kind](H, return_sequences=True)))
    assert_close(layer_output(layer, x), torch_rnn(kind, x, [ws[:3], ws[3:]])[0])


def test_bidirectional_return_state_and_initial_state():
    x = rand(B, T, F)
    states = [rand(B, H, seed=30 + i) for i in range(4)]  # forward h, c then backward h, c
    layer, ws = built(L.Bidirectional(L.LSTM(H, return_sequences=True, return_state=True)))
    ins = [irgraph.Input(shape=(T, F))] + [irgraph.Input(shape=(H,)) for _ in states]
    model = Model(ins, layer(ins[0], initial_state=ins[1:]))
    out = export_and_run(model, [x] + states)
    h0 = np.stack([states[0], states[2]])
    c0 = np.stack([states[1], states[3]])
    y, (hn, cn) = torch_rnn("LSTM", x, [ws[:3], ws[3:]], state=[h0, c0])
    assert len(out) == 5
    assert_close(out[0], y)
    for got, want in zip(out[1:], [hn[0], cn[0], hn[1], cn[1]]):
        assert_close(got, want)
    assert onnx_op_types(model).count("LSTM") == 1


def test_bidirectional_with_explicit_backward_layer():
    """A backward layer of another kind cannot share the op: two ops, the same Keras semantics."""
    x = rand(B, T, F)
    layer, ws = built(L.Bidirectional(L.LSTM(H, return_sequences=True),
                                      backward_layer=L.GRU(H, return_sequences=True, go_backwards=True)))
    out = layer_output(layer, x)
    assert_close(out[..., :H], torch_rnn("LSTM", x, [ws[:3]])[0])
    y_bw = torch_rnn("GRU", x[:, ::-1].copy(), [ws[3:]])[0]
    assert_close(out[..., H:], y_bw[:, ::-1])


def test_bidirectional_is_one_onnx_op():
    inp = irgraph.Input(shape=(T, F))
    model = Model(inp, L.Bidirectional(L.GRU(H, return_sequences=True))(inp))
    proto = model.to_onnx()
    ops = [n for n in proto.graph.node if n.op_type == "GRU"]
    assert len(ops) == 1
    assert any(a.name == "direction" and a.s == b"bidirectional" for a in ops[0].attribute)


# ----------------------------------------------------------------------------------- graphs
def test_unknown_time_length_exported_once():
    inp = irgraph.Input(shape=(None, 8))
    layer = L.LSTM(H, return_sequences=True)
    model = Model(inp, layer(inp))
    ws = keras_weights(layer)
    proto = model.to_onnx()
    time_dim = proto.graph.input[0].type.tensor_type.shape.dim[1]
    assert not time_dim.HasField("dim_value")
    sess = bare_session(proto)
    for steps in (3, 7, 12):
        x = rand(B, steps, 8, seed=steps)
        (y,) = sess.run(None, {model.input_names[0]: x})
        assert y.shape == (B, steps, H)
        assert_close(y, torch_rnn("LSTM", x, [ws])[0])


def test_shared_lstm_has_one_weight_set():
    from irgraph.passes.lower import lower
    a, b = irgraph.Input(shape=(T, F)), irgraph.Input(shape=(T, F))
    layer = L.LSTM(H)
    model = Model([a, b], [layer(a), layer(b)])
    ws = keras_weights(layer)
    assert len(model.weights) == 3
    assert model.graph.shared_weights()
    assert lower(model.graph).shared_weights()
    xa, xb = rand(B, T, F, seed=1), rand(B, T, F, seed=2)
    out = export_and_run(model, [xa, xb])
    assert_close(out[0], torch_rnn("LSTM", xa, [ws])[0][:, -1])
    assert_close(out[1], torch_rnn("LSTM", xb, [ws])[0][:, -1])


@pytest.mark.parametrize("kind,op", [("LSTM", "LSTM"), ("GRU", "GRU"), ("SimpleRNN", "RNN")])
def test_exported_graph_has_onnx_recurrent_op(kind, op):
    model = Sequential([irgraph.Input(shape=(T, F)), KINDS[kind](H), L.Dense(2)])
    assert onnx_op_types(model).count(op) == 1


# ----------------------------------------------------------------------------------- weights
@pytest.mark.parametrize("layer,expected", [
    (lambda: L.LSTM(H), 4 * (H * (F + H) + H)),
    (lambda: L.GRU(H), 3 * (H * (F + H) + 2 * H)),
    (lambda: L.GRU(H, reset_after=False), 3 * (H * (F + H) + H)),
    (lambda: L.SimpleRNN(H), H * (F + H) + H),
    (lambda: L.Bidirectional(L.LSTM(H)), 2 * 4 * (H * (F + H) + H)),
    (lambda: L.Bidirectional(L.GRU(H)), 2 * 3 * (H * (F + H) + 2 * H)),
])
def test_param_counts(layer, expected):
    inp = irgraph.Input(shape=(T, F))
    model = Model(inp, layer()(inp))
    assert model.count_params() == expected


def test_weights_order_and_shapes():
    lstm, gru, rnn = L.LSTM(H), L.GRU(H), L.SimpleRNN(H)
    bi = L.Bidirectional(L.LSTM(H, name="enc"))
    no_forget = L.LSTM(H, unit_forget_bias=False)
    for layer in (lstm, gru, rnn, bi, no_forget):
        layer.build((None, T, F))
    assert [w.shape for w in lstm.get_weights()] == [(F, 4 * H), (H, 4 * H), (4 * H,)]
    assert [w.shape for w in gru.get_weights()] == [(F, 3 * H), (H, 3 * H), (2, 3 * H)]
    assert [w.shape for w in rnn.get_weights()] == [(F, H), (H, H), (H,)]
    assert [w.path for w in bi.weights] == [f"{d}_enc/{n}" for d in ("forward", "backward")
                                            for n in ("kernel", "recurrent_kernel", "bias")]
    bias = lstm.get_weights()[2]  # unit_forget_bias: forget-gate bias 1, the others 0
    assert_close(bias, np.r_[np.zeros(H), np.ones(H), np.zeros(2 * H)])
    assert_close(no_forget.get_weights()[2], np.zeros(4 * H))


def test_keras1_aliases():
    layer = L.LSTM(output_dim=H, input_dim=F, input_length=T, inner_activation="hard_sigmoid",
                   init="glorot_normal", inner_init="orthogonal", return_sequences=True, consume_less="gpu")
    model = Sequential([layer])
    assert layer.units == H and model.input_shape == (None, T, F)
    assert irgraph.activations.serialize(layer.recurrent_activation) == "hard_sigmoid"
    ws = keras_weights(layer)
    x = rand(B, T, F)
    assert_close(export_and_run(model, [x])[0], np_lstm(x, *ws, "tanh", "hard_sigmoid")[0])


def test_bidirectional_config_round_trip():
    bi = L.Bidirectional(L.GRU(H, return_sequences=True), merge_mode="sum")
    again = L.Bidirectional.from_config(bi.get_config())
    assert again.merge_mode == "sum" and again.forward_layer.units == H
    assert not again.forward_layer.go_backwards and again.backward_layer.go_backwards


# ----------------------------------------------------------------------------------- errors
def test_rank2_input_names_the_layer():
    inp = irgraph.Input(shape=(8,))
    with pytest.raises(ValueError, match=r"'lstm'.*3D input \(batch, timesteps, features\).*\(None, 8\)"):
        L.LSTM(H)(inp)


def test_unsupported_options_raise():
    with pytest.raises(ValueError, match="'lstm'.*stateful"):
        L.LSTM(H, stateful=True)
    with pytest.raises(ValueError, match="'gru'.*'softmax'"):
        L.GRU(H, activation="softmax")
    inp = irgraph.Input(shape=(T, F))
    with pytest.raises(ValueError, match=r"'lstm_1'.*initial_state.*\[h, c\]"):
        L.LSTM(H)(inp, initial_state=[irgraph.Input(shape=(H,))])
