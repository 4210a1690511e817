"""Test-only evaluators for onnx.reference: the ONNX LSTM, GRU and RNN operators with every option
irgraph emits (directions, sequence_lens, initial states, activations with alpha/beta,
linear_before_reset), and Scan with reverse scan directions. onnx's own versions ignore
sequence_lens and some activations, and its Scan runs forward only. Written from the ONNX operator
specification, step by step per sequence (no shared code with irgraph's backward)."""
from __future__ import annotations

import numpy as np
from onnx.reference.op_run import OpRun
from onnx.reference.ops.op_scan import Scan as _ReferenceScan

_DEFAULTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}
_ALPHA = {"Affine": 1.0, "HardSigmoid": 0.2, "Elu": 1.0, "LeakyRelu": 0.01, "ThresholdedRelu": 1.0,
          "ScaledTanh": 1.0}
_BETA = {"Affine": 0.0, "HardSigmoid": 0.5, "ScaledTanh": 1.0}


def _function(name, alpha, beta):
    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))
    table = {
        "Tanh": np.tanh,
        "Sigmoid": sigmoid,
        "Relu": lambda z: np.maximum(z, 0.0),
        "Affine": lambda z: alpha * z + beta,
        "HardSigmoid": lambda z: np.clip(alpha * z + beta, 0.0, 1.0),
        "Elu": lambda z: np.where(z >= 0, z, alpha * (np.exp(z) - 1.0)),
        "Softsign": lambda z: z / (1.0 + np.abs(z)),
        "Softplus": lambda z: np.log1p(np.exp(z)),
    }
    return table[name]


def _functions(cell, activations, alphas, betas, dirs):
    names = [a.decode() if isinstance(a, bytes) else a for a in (activations or _DEFAULTS[cell] * dirs)]
    alphas, betas = list(alphas or []), list(betas or [])
    funcs = []
    for name in names:
        alpha = alphas.pop(0) if name in _ALPHA and alphas else _ALPHA.get(name)
        beta = betas.pop(0) if name in _BETA and betas else _BETA.get(name)
        funcs.append(_function(name, alpha, beta))
    per = len(_DEFAULTS[cell])
    return [funcs[d * per:(d + 1) * per] for d in range(dirs)]


def _lstm_step(x, h, c, w, r, wb, rb, funcs, _lbr):
    f, g, hh = funcs
    z = x @ w.T + h @ r.T + wb + rb
    i, o, fg, cc = np.split(z, 4)
    c = f(fg) * c + f(i) * g(cc)
    return f(o) * hh(c), c


def _gru_step(x, h, c, w, r, wb, rb, funcs, lbr):
    f, g = funcs
    wz, wr, wh = np.split(w, 3)
    rz, rr, rh = np.split(r, 3)
    wbz, wbr, wbh = np.split(wb, 3)
    rbz, rbr, rbh = np.split(rb, 3)
    z = f(x @ wz.T + h @ rz.T + wbz + rbz)
    rr_ = f(x @ wr.T + h @ rr.T + wbr + rbr)
    if lbr:
        n = g(x @ wh.T + rr_ * (h @ rh.T + rbh) + wbh)
    else:
        n = g(x @ wh.T + (rr_ * h) @ rh.T + rbh + wbh)
    return (1 - z) * n + z * h, c


def _rnn_step(x, h, c, w, r, wb, rb, funcs, _lbr):
    return funcs[0](x @ w.T + h @ r.T + wb + rb), c


class _Recurrent(OpRun):
    op_domain = ""
    cell = ""
    gates = 1

    def _run(self, X, W, R, B=None, sequence_lens=None, initial_h=None, initial_c=None, P=None,
             activation_alpha=None, activation_beta=None, activations=None, clip=None, direction=None,
             hidden_size=None, input_forget=None, layout=None, linear_before_reset=None):
        assert P is None and clip is None and not input_forget and not layout
        direction = direction.decode() if isinstance(direction, bytes) else (direction or "forward")
        seq, batch, _ = X.shape
        dirs, hidden = W.shape[0], R.shape[2]
        B = np.zeros((dirs, 2 * self.gates * hidden), X.dtype) if B is None else B
        lens = np.full(batch, seq) if sequence_lens is None else sequence_lens
        h0 = np.zeros((dirs, batch, hidden), X.dtype) if initial_h is None else initial_h
        c0 = np.zeros((dirs, batch, hidden), X.dtype) if initial_c is None else initial_c
        funcs = _functions(self.cell, activations, activation_alpha, activation_beta, dirs)
        Y = np.zeros((seq, dirs, batch, hidden), X.dtype)
        Yh, Yc = h0.copy(), c0.copy()
        step = {"LSTM": _lstm_step, "GRU": _gru_step, "RNN": _rnn_step}[self.cell]
        for d in range(dirs):
            backward = direction == "reverse" or d == 1
            wb, rb = np.split(B[d], 2)
            for b in range(batch):
                h, c = h0[d, b], c0[d, b]
                steps = range(lens[b])
                for t in (reversed(steps) if backward else steps):
                    h, c = step(X[t, b], h, c, W[d], R[d], wb, rb, funcs[d], linear_before_reset)
                    Y[t, d, b] = h
                Yh[d, b], Yc[d, b] = h, c
        return (Y, Yh, Yc) if self.cell == "LSTM" else (Y, Yh)


class LSTM(_Recurrent):
    cell, gates = "LSTM", 4


class GRU(_Recurrent):
    cell, gates = "GRU", 3


class RNN(_Recurrent):
    cell, gates = "RNN", 1


class Scan(_ReferenceScan):
    """Scan with scan_input_directions / scan_output_directions (reverse iteration)."""

    def __init__(self, onnx_node, run_params):
        OpRun.__init__(self, onnx_node, run_params)
        self.input_names = self.body.input_names
        self.output_names = self.body.output_names

    def _run(self, *args, context=None, bindings=None, **_attrs):
        n_scan = self.num_scan_inputs
        n_state = len(args) - n_scan
        n_out = len(self.output_names) - n_state
        in_dirs = list(self.scan_input_directions or [0] * n_scan)
        out_dirs = list(self.scan_output_directions or [0] * n_out)
        seqs = [a[::-1] if d else a for a, d in zip(args[n_state:], in_dirs)]
        states = list(args[:n_state])
        results = [[] for _ in range(n_out)]
        for it in range(seqs[0].shape[0]):
            inputs = dict(context or {})
            inputs.update(zip(self.input_names[:n_state], states))
            inputs.update({n: s[it] for n, s in zip(self.input_names[n_state:], seqs)})
            outs = self._run_body(inputs, bindings=bindings)
            states = list(outs[:n_state])
            for res, o in zip(results, outs[n_state:]):
                res.append(o)
        stacked = [np.stack(res[::-1] if d else res) for res, d in zip(results, out_dirs)]
        return tuple(states + stacked)


REFERENCE_OPS = [LSTM, GRU, RNN, Scan]
