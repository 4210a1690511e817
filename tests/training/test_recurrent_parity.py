"""Training parity of the recurrent layers with an independent trainer (issue 8, item 1).

From identical weights and batches, irgraph's onnxruntime training step and a float64 PyTorch
reference (autograd for the gradients, the Keras 3 update rules of test_parity_torch.KerasRule, plus
plain SGD) must give the same loss at each of 3 steps and the same weights after them, to 1e-5
relative, with SGD, RMSprop and Adam.

The torch side uses ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` with the Keras weights mapped into torch's
layout (via ``torch.func.functional_call``, so the gradient flows back to the Keras-layout tensors):
kernel (in, gates*H) -> weight_ih = kernel.T, recurrent_kernel (H, gates*H) -> weight_hh =
recurrent_kernel.T; LSTM gates i, f, c, o are torch's i, f, g, o; GRU gates z, r, h are reordered
to torch's r, z, n, and Keras's reset_after bias rows [input; recurrent] are torch's b_ih, b_hh.
torch has no GRU with the reset gate before the recurrent product (Keras's reset_after=False):
that one is written out below in torch from Keras's equations. Masked sequences are checked
against running each sequence alone, without its padding.
"""
import numpy as np
import pytest
import torch
from torch.func import functional_call

from irgraph import optimizers
from irgraph.layers import (GRU, LSTM, Bidirectional, Dense, Embedding, Input, SimpleRNN)
from irgraph.models import Model

from test_parity_torch import KerasRule, irgraph_optimizer

STEPS = 3
B, T, F, H = 3, 5, 4, 3
KINDS = ["sgd", "rmsprop", "adam"]


# --------------------------------------------------------------------------- trainer
class Rule(KerasRule):
    """KerasRule plus Keras's plain SGD (var -= lr * g)."""

    def step(self, params, grads):
        if self.kind != "sgd":
            return super().step(params, grads)
        self.t += 1
        for p, g in zip(params, grads):
            p -= self.lr * g


def make_optimizer(kind, lr):
    return optimizers.SGD(learning_rate=lr) if kind == "sgd" else irgraph_optimizer(kind, lr)


def set_random_weights(model, seed=0, scale=0.5):
    """Uniform(-scale, scale) for every weight (biases too, so their mapping is exercised)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-scale, scale, w.shape).astype(np.float32) for w in model.get_weights()])


def run(model, torch_loss, xs, ys, kind, lr=0.1, seed=0, batches=None):
    """STEPS full-batch steps in irgraph (train_on_batch) and in torch; ``torch_loss(p, xs, ys)``
    gets the weights by path as float64 torch tensors and the batches as torch tensors.
    ``batches``: one (xs, ys) per step instead of the same xs, ys at every step."""
    if kind in ("adam", "rmsprop"):
        # RMSprop's and Adam's steps are g / sqrt(v): for a small gradient entry the update is
        # ~lr * g / sqrt(eps), so the float32 rounding of that entry (~1e-7 absolute) is amplified
        # by ~lr * 3e3; with lr 0.1 it reached 3e-6 in a GRU kernel (beyond the 1e-6 floor).
        # Keras's default rate for both, 0.001, keeps it below the tolerance while each step still
        # moves every weight by ~1e-3, far above it.
        lr = 0.001
    set_random_weights(model, seed)
    paths = [v.path for v in model.weights]
    assert len(set(paths)) == len(paths), paths
    assert all(v.trainable for v in model.weights)
    params = {p: torch.tensor(w.astype(np.float64)) for p, w in zip(paths, model.get_weights())}
    model.compile(optimizer=make_optimizer(kind, lr), loss="mse")
    rule = Rule(kind, lr)

    def as_torch(a):
        return torch.tensor(a if a.dtype.kind in "iu" else a.astype(np.float64))
    batches = batches or [(xs, ys)] * STEPS
    for step, (xs, ys) in enumerate(batches):
        txs, tys = [as_torch(x) for x in xs], [as_torch(y) for y in ys]
        ours = model.train_on_batch(xs if len(xs) > 1 else xs[0], ys[0])
        ours = ours[0] if isinstance(ours, list) else ours
        leaves = {k: p.clone().requires_grad_(True) for k, p in params.items()}
        ref = torch_loss(leaves, txs, tys)
        grads = torch.autograd.grad(ref, list(leaves.values()), allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(leaves.values(), grads)]
        np.testing.assert_allclose(ours, ref.item(), rtol=1e-5, err_msg=f"loss at step {step}")
        with torch.no_grad():
            rule.step(list(params.values()), grads)
    for path, w in zip(paths, model.get_weights()):
        np.testing.assert_allclose(w, params[path].numpy(), rtol=1e-5, atol=1e-6, err_msg=path)


def mse(out, y):
    return ((out - y) ** 2).mean()


def data(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def batch(x_shape, y_shape, seed=0):
    """([x], [y]): one input and one target batch."""
    x, y = data(x_shape, y_shape, seed=seed)
    return [x], [y]


# --------------------------------------------------------------------------- torch references
_MODULES = {}


def _module(cls, n_in, units, **kw):
    key = (cls, n_in, units, tuple(sorted(kw.items())))
    if key not in _MODULES:
        _MODULES[key] = cls(n_in, units, batch_first=True, dtype=torch.float64, **kw)
    return _MODULES[key]


def _reorder_gru(a):
    """Keras gate blocks z, r, h (last axis) -> torch r, z, n."""
    z, r, h = a.chunk(3, dim=-1)
    return torch.cat([r, z, h], dim=-1)


def torch_params(kind, p, prefix, suffix=""):
    """torch parameter dict of one direction of one layer from the Keras weights ``prefix``/..."""
    k, rk = p[prefix + "/kernel"], p[prefix + "/recurrent_kernel"]
    b = p.get(prefix + "/bias")
    units = rk.shape[0]
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[kind]
    if kind == "gru":
        k, rk = _reorder_gru(k), _reorder_gru(rk)
        b_ih, b_hh = _reorder_gru(b[0]), _reorder_gru(b[1])  # reset_after: [input; recurrent]
    else:
        b_ih, b_hh = b, torch.zeros(gates * units, dtype=torch.float64)
    return {f"weight_ih{suffix}": k.T, f"weight_hh{suffix}": rk.T,
            f"bias_ih{suffix}": b_ih, f"bias_hh{suffix}": b_hh}


TORCH_CLASS = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}


def torch_layer(kind, p, prefix, x, state=None):
    """One Keras layer run by torch's module: (outputs (B, T, H), final h (B, H), final c or None)."""
    units = p[prefix + "/recurrent_kernel"].shape[0]
    mod = _module(TORCH_CLASS[kind], x.shape[-1], units)
    args = (x,)
    if state is not None:
        args = (x, tuple(s[None] for s in state) if kind == "lstm" else state[0][None])
    out, st = functional_call(mod, torch_params(kind, p, prefix, "_l0"), args)
    if kind == "lstm":
        return out, st[0][0], st[1][0]
    return out, st[0], None


def gru_reset_before(p, prefix, x, state=None):
    """Keras GRU with reset_after=False (no torch module has it): z, r = sigmoid(x W + b + h U),
    hh = tanh(x W_h + b_h + (r * h) U_h), h = z * h + (1 - z) * hh. Returns (outputs, h)."""
    k, rk, b = p[prefix + "/kernel"], p[prefix + "/recurrent_kernel"], p[prefix + "/bias"]
    u = rk.shape[0]
    h = torch.zeros(x.shape[0], u, dtype=torch.float64) if state is None else state[0]
    outs = []
    for t in range(x.shape[1]):
        xz = x[:, t] @ k + b
        z = torch.sigmoid(xz[:, :u] + h @ rk[:, :u])
        r = torch.sigmoid(xz[:, u:2 * u] + h @ rk[:, u:2 * u])
        hh = torch.tanh(xz[:, 2 * u:] + (r * h) @ rk[:, 2 * u:])
        h = z * h + (1 - z) * hh
        outs.append(h)
    return torch.stack(outs, 1), h


def dense(p, prefix, x, act=None):
    y = x @ p[prefix + "/kernel"] + p[prefix + "/bias"]
    return act(y) if act else y


# --------------------------------------------------------------------------- models
LAYER = {"lstm": lambda **kw: LSTM(H, **kw), "gru": lambda **kw: GRU(H, **kw),
         "rnn": lambda **kw: SimpleRNN(H, **kw)}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_single_layer_last_output(cell, kind):
    """LSTM, GRU (reset_after=True, torch nn.GRU's form) and SimpleRNN (nn.RNN)."""
    layer = LAYER[cell]()
    x = Input(shape=(T, F))
    model = Model(x, layer(x))
    xs, ys = batch((B, T, F), (B, H))

    def ref(p, xs, ys):
        _, h, _ = torch_layer(cell, p, layer.name, xs[0])
        return mse(h, ys[0])
    run(model, ref, xs, ys, kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_single_layer_sequences_and_dense_head(cell, kind):
    layer, head = LAYER[cell](return_sequences=True), Dense(2)
    x = Input(shape=(T, F))
    model = Model(x, head(layer(x)))
    xs, ys = batch((B, T, F), (B, T, 2), seed=1)

    def ref(p, xs, ys):
        y, _, _ = torch_layer(cell, p, layer.name, xs[0])
        return mse(dense(p, head.name, y), ys[0])
    run(model, ref, xs, ys, kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_gru_reset_before(return_sequences, kind):
    layer = GRU(H, reset_after=False, return_sequences=return_sequences)
    x = Input(shape=(T, F))
    model = Model(x, layer(x))
    xs, ys = batch((B, T, F), (B, T, H) if return_sequences else (B, H), seed=2)

    def ref(p, xs, ys):
        y, h = gru_reset_before(p, layer.name, xs[0])
        return mse(y if return_sequences else h, ys[0])
    run(model, ref, xs, ys, kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("merge_mode,return_sequences", [("concat", False), ("concat", True), ("sum", True)])
def test_bidirectional_lstm(merge_mode, return_sequences, kind):
    """Against nn.LSTM(bidirectional=True) (its reverse direction's outputs are aligned with the
    input order, as Keras re-aligns them)."""
    layer = Bidirectional(LSTM(H, return_sequences=return_sequences), merge_mode=merge_mode)
    x = Input(shape=(T, F))
    model = Model(x, layer(x))
    width = 2 * H if merge_mode == "concat" else H
    xs, ys = batch((B, T, F), (B, T, width) if return_sequences else (B, width), seed=3)
    fw, bw = layer.forward_layer.name, layer.backward_layer.name

    def ref(p, xs, ys):
        mod = _module(torch.nn.LSTM, F, H, bidirectional=True)
        params = {**torch_params("lstm", p, fw, "_l0"), **torch_params("lstm", p, bw, "_l0_reverse")}
        out, (h, _) = functional_call(mod, params, (xs[0],))
        y_fw, y_bw = (out[..., :H], out[..., H:]) if return_sequences else (h[0], h[1])
        y = torch.cat([y_fw, y_bw], -1) if merge_mode == "concat" else y_fw + y_bw
        return mse(y, ys[0])
    run(model, ref, xs, ys, kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("merge_mode", ["concat", "sum"])
def test_bidirectional_gru_sequences(merge_mode, kind):
    layer = Bidirectional(GRU(H, return_sequences=True), merge_mode=merge_mode)
    x = Input(shape=(T, F))
    model = Model(x, layer(x))
    xs, ys = batch((B, T, F), (B, T, 2 * H if merge_mode == "concat" else H), seed=4)
    fw, bw = layer.forward_layer.name, layer.backward_layer.name

    def ref(p, xs, ys):
        mod = _module(torch.nn.GRU, F, H, bidirectional=True)
        params = {**torch_params("gru", p, fw, "_l0"), **torch_params("gru", p, bw, "_l0_reverse")}
        out, _ = functional_call(mod, params, (xs[0],))
        y = out if merge_mode == "concat" else out[..., :H] + out[..., H:]
        return mse(y, ys[0])
    run(model, ref, xs, ys, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_two_stacked_lstms_with_return_sequences(kind):
    """Against one nn.LSTM(num_layers=2)."""
    first, second = LSTM(H, return_sequences=True), LSTM(H, return_sequences=True)
    x = Input(shape=(T, F))
    model = Model(x, second(first(x)))
    xs, ys = batch((B, T, F), (B, T, H), seed=5)

    def ref(p, xs, ys):
        mod = _module(torch.nn.LSTM, F, H, num_layers=2)
        params = {**torch_params("lstm", p, first.name, "_l0"), **torch_params("lstm", p, second.name, "_l1")}
        out, _ = functional_call(mod, params, (xs[0],))
        return mse(out, ys[0])
    run(model, ref, xs, ys, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_stacked_gru_then_simple_rnn(kind):
    first, second = GRU(H, return_sequences=True), SimpleRNN(2, return_sequences=True)
    x = Input(shape=(T, F))
    model = Model(x, second(first(x)))
    xs, ys = batch((B, T, F), (B, T, 2), seed=6)

    def ref(p, xs, ys):
        y, _, _ = torch_layer("gru", p, first.name, xs[0])
        y, _, _ = torch_layer("rnn", p, second.name, y)
        return mse(y, ys[0])
    run(model, ref, xs, ys, kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_initial_state_from_a_dense_of_a_second_input(cell, kind):
    """initial_state = Dense(second input): the gradient must reach those Dense layers (their
    weights are compared after the steps like every other weight)."""
    layer = LAYER[cell](return_sequences=True)
    makers = [Dense(H, activation="tanh") for _ in layer.state_names]
    x, z = Input(shape=(T, F)), Input(shape=(2,))
    model = Model([x, z], layer(x, initial_state=[d(z) for d in makers]))
    xs = data((B, T, F), (B, 2), seed=7)
    ys = data((B, T, H), seed=8)

    def ref(p, xs, ys):
        state = [dense(p, d.name, xs[1], torch.tanh) for d in makers]
        y, _, _ = torch_layer(cell, p, layer.name, xs[0], state)
        return mse(y, ys[0])
    run(model, ref, xs, ys, kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cell", ["lstm", "gru"])  # SimpleRNN's: tests/gradcheck/test_recurrent_layers.py
@pytest.mark.parametrize("return_sequences", [False, True])
def test_go_backwards(cell, return_sequences, kind):
    """Keras runs the reversed sequence and returns the outputs in processing order."""
    layer = LAYER[cell](go_backwards=True, return_sequences=return_sequences)
    x = Input(shape=(T, F))
    model = Model(x, layer(x))
    xs, ys = batch((B, T, F), (B, T, H) if return_sequences else (B, H), seed=9)

    def ref(p, xs, ys):
        y, h, _ = torch_layer(cell, p, layer.name, xs[0].flip(1))
        return mse(y if return_sequences else h, ys[0])
    run(model, ref, xs, ys, kind)


# --------------------------------------------------------------------------- masked inputs
LENGTHS = [5, 3, 2]  # one full sequence, two padded ones


def _padded_ids(padding, seed=10, vocab=7):
    rng = np.random.default_rng(seed)
    ids = np.zeros((B, T), np.int64)
    for i, n in enumerate(LENGTHS):
        valid = rng.integers(1, vocab, n)
        if padding == "pre":
            ids[i, T - n:] = valid
        else:
            ids[i, :n] = valid
    return ids


def _valid(x, i, padding):
    """Sample ``i`` of x (batch, time, ...) without its padding, with a batch axis of 1."""
    n = LENGTHS[i]
    return (x[i:i + 1, T - n:] if padding == "pre" else x[i:i + 1, :n])


def _each_alone(run_one, x, padding):
    return torch.cat([run_one(_valid(x, i, padding)) for i in range(B)], 0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_embedding_mask_zero(cell, padding, kind):
    """Embedding(mask_zero=True) -> LSTM/GRU: the masked steps are skipped, so the result equals
    the layer run on each sequence alone (pad_sequences pads at the start by default)."""
    emb, layer = Embedding(7, F, mask_zero=True), LAYER[cell]()
    ids_in = Input(shape=(T,), dtype="int64")
    model = Model(ids_in, layer(emb(ids_in)))
    ids = _padded_ids(padding)
    ys = data((B, H), seed=11)

    def ref(p, xs, ys):
        e = p[emb.name + "/embeddings"][xs[0]]
        return mse(_each_alone(lambda s: torch_layer(cell, p, layer.name, s)[1], e, padding), ys[0])
    run(model, ref, [ids], ys, kind)


def _zero_padded(xs, padding):
    """``xs`` with each sequence's padded steps (before or after its LENGTHS[i] valid ones) zeroed."""
    for i, n in enumerate(LENGTHS):
        if padding == "pre":
            xs[i, :T - n] = 0.0
        else:
            xs[i, n:] = 0.0
    return xs


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("cell", ["lstm", "gru_reset_before", "rnn"])
def test_masking_layer(cell, padding, kind):
    """Masking(0.0) on float sequences whose padded steps are all zeros."""
    from irgraph.layers import Masking
    layer = GRU(H, reset_after=False) if cell == "gru_reset_before" else LAYER[cell]()
    x = Input(shape=(T, F))
    model = Model(x, layer(Masking(mask_value=0.0)(x)))
    xs = _zero_padded(data((B, T, F), seed=12)[0], padding)
    ys = data((B, H), seed=13)

    def one(p, s):
        if cell == "gru_reset_before":
            return gru_reset_before(p, layer.name, s)[1]
        return torch_layer(cell, p, layer.name, s)[1]

    def ref(p, xs, ys):
        return mse(_each_alone(lambda s: one(p, s), xs[0], padding), ys[0])
    run(model, ref, [xs], ys, kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_mask_through_stacked_layers(padding, kind):
    """The mask is carried from the Embedding through LSTM(return_sequences=True) to the second
    layer: each sequence alone through both layers."""
    emb = Embedding(7, F, mask_zero=True)
    first, second = LSTM(H, return_sequences=True), GRU(H)
    ids_in = Input(shape=(T,), dtype="int64")
    model = Model(ids_in, second(first(emb(ids_in))))
    ids = _padded_ids(padding, seed=14)
    ys = data((B, H), seed=15)

    def one(p, s):
        y, _, _ = torch_layer("lstm", p, first.name, s)
        return torch_layer("gru", p, second.name, y)[1]

    def ref(p, xs, ys):
        e = p[emb.name + "/embeddings"][xs[0]]
        return mse(_each_alone(lambda s: one(p, s), e, padding), ys[0])
    run(model, ref, [ids], ys, kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_mask_through_bidirectional(padding, kind):
    """Embedding(mask_zero=True) -> Bidirectional(LSTM), concat of the last outputs: each sequence
    alone through nn.LSTM(bidirectional=True)."""
    emb = Embedding(7, F, mask_zero=True)
    layer = Bidirectional(LSTM(H), merge_mode="concat")
    ids_in = Input(shape=(T,), dtype="int64")
    model = Model(ids_in, layer(emb(ids_in)))
    ids = _padded_ids(padding, seed=16)
    ys = data((B, 2 * H), seed=17)
    fw, bw = layer.forward_layer.name, layer.backward_layer.name

    def one(p, s):
        mod = _module(torch.nn.LSTM, F, H, bidirectional=True)
        params = {**torch_params("lstm", p, fw, "_l0"), **torch_params("lstm", p, bw, "_l0_reverse")}
        _, (h, _) = functional_call(mod, params, (s,))
        return torch.cat([h[0], h[1]], -1)

    def ref(p, xs, ys):
        e = p[emb.name + "/embeddings"][xs[0]]
        return mse(_each_alone(lambda s: one(p, s), e, padding), ys[0])
    run(model, ref, [ids], ys, kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_mask_with_go_backwards(padding, kind):
    """Masking -> LSTM(go_backwards=True): the reversed valid steps of each sequence alone."""
    from irgraph.layers import Masking
    layer = LSTM(H, go_backwards=True)
    x = Input(shape=(T, F))
    model = Model(x, layer(Masking(mask_value=0.0)(x)))
    xs = _zero_padded(data((B, T, F), seed=18)[0], padding)
    ys = data((B, H), seed=19)

    def ref(p, xs, ys):
        return mse(_each_alone(lambda s: torch_layer("lstm", p, layer.name, s.flip(1))[1], xs[0], padding),
                   ys[0])
    run(model, ref, [xs], ys, kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_unknown_time_length(cell, kind):
    """Input(shape=(None, F)): the steps see sequences of 5, 2 and 4 steps (one training graph)."""
    layer, head = LAYER[cell](return_sequences=True), Dense(1)
    x = Input(shape=(None, F))
    model = Model(x, head(layer(x)))
    batches = [batch((B, n, F), (B, n, 1), seed=20 + n) for n in (5, 2, 4)]

    def ref(p, xs, ys):
        y, _, _ = torch_layer(cell, p, layer.name, xs[0])
        return mse(dense(p, head.name, y), ys[0])
    run(model, ref, None, None, kind, batches=batches)


# --------------------------------------------------------------------------- seed-like models
@pytest.mark.parametrize("kind", KINDS)
def test_shared_lstm_on_two_inputs(kind):
    """One LSTM applied to two inputs (the seed's tweet-pair classifier): its gradient is the sum
    of both uses."""
    from irgraph.layers import concatenate
    shared, head = LSTM(H), Dense(1, activation="sigmoid")
    a, b = Input(shape=(T, F)), Input(shape=(T, F))
    model = Model([a, b], head(concatenate([shared(a), shared(b)])))
    xa, xb = data((B, T, F), (B, T, F), seed=30)
    ys = [np.random.default_rng(31).random((B, 1)).astype(np.float32)]

    def ref(p, xs, ys):
        ha = torch_layer("lstm", p, shared.name, xs[0])[1]
        hb = torch_layer("lstm", p, shared.name, xs[1])[1]
        return mse(dense(p, head.name, torch.cat([ha, hb], -1), torch.sigmoid), ys[0])
    run(model, ref, [xa, xb], ys, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_encoder_states_as_decoder_initial_state(kind):
    """Sequence to sequence: the encoder's return_state [h, c] is the decoder's initial_state."""
    from irgraph.layers import TimeDistributed
    encoder = LSTM(H, return_state=True)
    decoder, head = LSTM(H, return_sequences=True), Dense(2)
    a, b = Input(shape=(T, F)), Input(shape=(T - 1, 2))
    _, h, c = encoder(a)
    model = Model([a, b], TimeDistributed(head)(decoder(b, initial_state=[h, c])))
    xa, xb = data((B, T, F), (B, T - 1, 2), seed=32)
    ys = data((B, T - 1, 2), seed=33)

    def ref(p, xs, ys):
        _, h, c = torch_layer("lstm", p, encoder.name, xs[0])
        y, _, _ = torch_layer("lstm", p, decoder.name, xs[1], [h, c])
        return mse(dense(p, head.name, y), ys[0])
    run(model, ref, [xa, xb], ys, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_bidirectional_encoder_repeat_vector_decoder(kind):
    """The seed's sentence autoencoder: Bidirectional(LSTM) encoder, RepeatVector, LSTM decoder
    with return_sequences, TimeDistributed(Dense)."""
    from irgraph.layers import RepeatVector, TimeDistributed
    encoder = Bidirectional(LSTM(H), merge_mode="concat", name="encoder_lstm")
    decoder, head = LSTM(H, return_sequences=True), Dense(F)
    x = Input(shape=(T, F))
    model = Model(x, TimeDistributed(head)(decoder(RepeatVector(T)(encoder(x)))))
    [xs] = data((B, T, F), seed=34)
    fw, bw = encoder.forward_layer.name, encoder.backward_layer.name

    def ref(p, xs, ys):
        mod = _module(torch.nn.LSTM, F, H, bidirectional=True)
        params = {**torch_params("lstm", p, fw, "_l0"), **torch_params("lstm", p, bw, "_l0_reverse")}
        _, (h, _) = functional_call(mod, params, (xs[0],))
        code = torch.cat([h[0], h[1]], -1)
        y, _, _ = torch_layer("lstm", p, decoder.name, code[:, None, :].expand(-1, T, -1))
        return mse(dense(p, head.name, y), ys[0])
    run(model, ref, [xs], [xs], kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_mask_with_initial_state_and_an_empty_sequence(cell, kind):
    """Masked input, initial_state from a Dense of a second input, one fully padded row: that row's
    output is its initial state, so its gradient goes straight into the Dense."""
    emb, layer = Embedding(7, F, mask_zero=True), LAYER[cell]()
    makers = [Dense(H, activation="tanh") for _ in layer.state_names]
    ids_in, z = Input(shape=(T,), dtype="int64"), Input(shape=(2,))
    model = Model([ids_in, z], layer(emb(ids_in), initial_state=[d(z) for d in makers]))
    ids = np.array([[1, 2, 3, 0, 0], [0, 0, 0, 0, 0], [0, 0, 4, 5, 6]], np.int64)
    lengths = [(0, 3), (0, 0), (2, 5)]
    [zs] = data((B, 2), seed=35)
    ys = data((B, H), seed=36)

    def ref(p, xs, ys):
        e = p[emb.name + "/embeddings"][xs[0]]
        state = [dense(p, d.name, xs[1], torch.tanh) for d in makers]
        outs = []
        for i, (start, stop) in enumerate(lengths):
            s = [v[i:i + 1] for v in state]
            if start == stop:
                outs.append(s[0])
            else:
                outs.append(torch_layer(cell, p, layer.name, e[i:i + 1, start:stop], s)[1])
        return mse(torch.cat(outs, 0), ys[0])
    run(model, ref, [ids, zs], ys, kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_masked_sequence_output_loss(padding, kind):
    """Embedding(mask_zero=True) -> LSTM(return_sequences=True) -> TimeDistributed(Dense): the mask
    reaches the loss, which Keras 3 averages over the valid steps only (sum(loss * mask) /
    sum(mask)); each sequence alone on the torch side."""
    from irgraph.layers import TimeDistributed
    emb, layer, head = Embedding(7, F, mask_zero=True), LSTM(H, return_sequences=True), Dense(2)
    ids_in = Input(shape=(T,), dtype="int64")
    model = Model(ids_in, TimeDistributed(head)(layer(emb(ids_in))))
    ids = _padded_ids(padding, seed=37)
    ys = data((B, T, 2), seed=38)

    def ref(p, xs, ys):
        e = p[emb.name + "/embeddings"][xs[0]]
        total, count = 0.0, 0
        for i in range(B):
            y = dense(p, head.name, torch_layer("lstm", p, layer.name, _valid(e, i, padding))[0])
            total = total + ((y - _valid(ys[0], i, padding)) ** 2).mean(-1).sum()
            count += LENGTHS[i]
        return total / count
    run(model, ref, [ids], ys, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_masked_unknown_time_length(kind):
    """Input(shape=(None,)) ids with mask_zero, padded at the start, a different length per step."""
    emb, layer = Embedding(7, F, mask_zero=True), Bidirectional(GRU(H), merge_mode="sum")
    ids_in = Input(shape=(None,), dtype="int64")
    model = Model(ids_in, layer(emb(ids_in)))
    rng = np.random.default_rng(39)
    steps = []
    for width, lengths in ((6, [6, 2, 4]), (3, [1, 3, 2]), (4, [4, 4, 1])):
        ids = np.zeros((B, width), np.int64)
        for i, n in enumerate(lengths):
            ids[i, width - n:] = rng.integers(1, 7, n)
        steps.append(([ids], data((B, H), seed=40 + width)))
    fw, bw = layer.forward_layer.name, layer.backward_layer.name

    def ref(p, xs, ys):
        mod = _module(torch.nn.GRU, F, H, bidirectional=True)
        params = {**torch_params("gru", p, fw, "_l0"), **torch_params("gru", p, bw, "_l0_reverse")}
        outs = []
        for row in xs[0]:
            e = p[emb.name + "/embeddings"][row[row > 0]][None]
            _, h = functional_call(mod, params, (e,))
            outs.append(h[0] + h[1])
        return mse(torch.cat(outs, 0), ys[0])
    run(model, ref, None, None, kind, batches=steps)
