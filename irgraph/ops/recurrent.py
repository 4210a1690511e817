"""Recurrent primitives: the ONNX LSTM, GRU and RNN operators (time-major layout 0).

Inputs follow ONNX: X [seq, batch, in], W [dirs, gates*H, in], R [dirs, gates*H, H],
optional B [dirs, 2*gates*H], sequence_lens [batch], initial_h [dirs, batch, H] (and initial_c
for LSTM). Outputs: Y [seq, dirs, batch, H], Y_h [dirs, batch, H] (and Y_c for LSTM).
Attrs: ``hidden_size``, ``direction`` ('forward', 'reverse', 'bidirectional'), ``activations``
(ONNX names, one list per direction), ``activation_alpha``/``activation_beta`` (consumed in order
by the activations that take them), and ``linear_before_reset`` for GRU.
"""
from __future__ import annotations

from . import recurrent_dropout  # noqa: F401  (registers RecurrentScan)
from .recurrent_grad import recurrent_vjp
from .base import FLOAT_DTYPES, Op, ShapeError, Spec, dims_equal, fmt_shape, merge_dim, register

DIRECTIONS = {"forward": 1, "reverse": 1, "bidirectional": 2}


class _Recurrent(Op):
    gates = 1
    n_states = 1  # Y_h, plus Y_c for LSTM
    attr_names = ("hidden_size", "direction", "activations", "activation_alpha", "activation_beta")

    def infer(self, attrs, ins):
        ins = list(ins) + [None] * (5 + self.n_states - len(ins))
        x, w, r, b, seq_lens = ins[:5]
        states = ins[5:5 + self.n_states]
        hidden = attrs["hidden_size"]
        if attrs.get("direction", "forward") not in DIRECTIONS:
            raise ShapeError(f"{self.name} direction must be one of {sorted(DIRECTIONS)}, "
                             f"got {attrs.get('direction')!r}")
        dirs = DIRECTIONS[attrs.get("direction", "forward")]
        if x.rank != 3:
            raise ShapeError(f"{self.name} input X must be [seq, batch, input] (rank 3), got {fmt_shape(x.shape)}")
        if x.dtype not in FLOAT_DTYPES:
            raise ShapeError(f"{self.name} needs a floating-point input, got {x.dtype}")
        seq, batch, width = x.shape
        gh = self.gates * hidden
        self._expect("W", w, (dirs, gh, width), x.dtype)
        self._expect("R", r, (dirs, gh, hidden), x.dtype)
        if b is not None:
            self._expect("B", b, (dirs, 2 * gh), x.dtype)
        if seq_lens is not None:
            self._expect("sequence_lens", seq_lens, (batch,), "int32")
        for name, s in zip(("initial_h", "initial_c"), states):
            if s is not None:
                self._expect(name, s, (dirs, batch, hidden), x.dtype)
                batch = merge_dim(batch, s.shape[1])
        state = Spec((dirs, batch, hidden), x.dtype)
        return [Spec((seq, dirs, batch, hidden), x.dtype)] + [state] * self.n_states

    def _expect(self, what, spec, shape, dtype):
        if spec.rank != len(shape) or not all(dims_equal(a, e) for a, e in zip(spec.shape, shape)):
            raise ShapeError(f"{self.name} input {what} should have shape {fmt_shape(shape)}, "
                             f"got {fmt_shape(spec.shape)}")
        if spec.dtype != dtype:
            raise ShapeError(f"{self.name} input {what} should be {dtype}, got {spec.dtype}")

    def emit(self, e, attrs, ins, outs):
        kw = {k: (list(attrs[k]) if isinstance(attrs[k], (tuple, list)) else attrs[k])
              for k in self.attr_names if attrs.get(k) not in (None, (), [])}
        e.node(self.name, ins, outs, **kw)

    def vjp(self, attrs, ins, outs, grads):
        """Backpropagation through time: recomputation batched over the steps and one reverse Scan
        per direction (see recurrent_grad)."""
        return recurrent_vjp(self.name, attrs, ins, outs, grads)


@register
class LSTM(_Recurrent):
    name = "LSTM"
    gates = 4
    n_states = 2


@register
class GRU(_Recurrent):
    name = "GRU"
    gates = 3
    attr_names = _Recurrent.attr_names + ("linear_before_reset",)


@register
class RNN(_Recurrent):
    name = "RNN"
