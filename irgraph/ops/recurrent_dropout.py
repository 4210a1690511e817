"""RecurrentScan: the forward recurrence of LSTM / GRU / RNN with a per-gate mask on the state
(Keras's recurrent dropout), as an ONNX Scan; the native ONNX ops cannot mask the state.

Inputs (one direction, forward time order; the caller reverses time for go_backwards):
``xw`` [T, B, G*H] the input side of the gate pre-activations (x W^T + Wb, input dropout already
applied), ``rt`` [G, H, H] the R_k^T stacked (gates in ONNX order), ``rb`` [G*H] or None the
recurrent bias, ``rmask`` [B, G*H] the state masks m_k side by side, ``h0`` [B, H],
``c0`` [B, H] (LSTM; None otherwise), ``step_mask`` [T, B, 1] bool or None (Keras masking: steps
outside it keep the state, and their output is the state held, i.e. the last unmasked step's
output or h0). Gate k reads ``(h * m_k) R_k^T + Rb_k``;
the GRU candidate reads ``r * ((h * m_h) R_h^T + Rb_h)`` (linear_before_reset=1) or
``(r * h * m_h) R_h^T + Rb_h`` (0), as Keras 3's cells with ``recurrent_dropout`` do.
Outputs: Y [T, B, H], Y_h [B, H] (and Y_c for LSTM). Attributes: ``cell``, ``hidden_size``,
``activations`` / ``activation_alpha`` / ``activation_beta`` (ONNX names, one direction) and
``linear_before_reset``. Its VJP is the recurrent backward of `recurrent_grad` with the masked
state path.
"""
from __future__ import annotations

import numpy as np

from . import grad_utils as gu
from onnx import helper

from .base import FLOAT_DTYPES, Op, ShapeError, Spec, dims_equal, fmt_shape, register
from .recurrent_grad import (_Body, _cell_gradients, _Direction, _previous_states, _scan, _sum_steps,
                             direction_activations)

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _emit_activation(body: _Body, act: tuple, z: str) -> str:
    name, alpha, beta = act
    if name == "HardSigmoid":
        return body("HardSigmoid", z, alpha=float(alpha), beta=float(beta))
    if name == "Elu":
        return body("Elu", z, alpha=float(alpha))
    if name == "Affine":
        e, dtype = body.e, body.dtype
        return body("Add", body("Mul", z, e.const(np.array(alpha, dtype))), e.const(np.array(beta, dtype)))
    if name in ("Tanh", "Sigmoid", "Relu", "Softsign", "Softplus"):
        return body(name, z)
    raise NotImplementedError(f"recurrent activation {name!r} has no Scan form")


class _Outside:
    """Nodes before the Scan: the per-gate blocks of rt, the masks and rb that the body reads."""

    def __init__(self, e, hidden: int, gates: int):
        self.e, self.hidden, self.gates = e, hidden, gates

    def i64(self, values) -> str:
        return self.e.const(np.array(values, dtype=np.int64))

    def node(self, op: str, *ins: str, **attrs) -> str:
        out = self.e.tmp(op.lower())
        self.e.node(op, list(ins), [out], **attrs)
        return out

    def rows(self, name: str, start: int, stop: int) -> str:
        """``name[start:stop]`` along axis 0."""
        return self.node("Slice", name, self.i64([start]), self.i64([stop]), self.i64([0]))

    def stacked_masks(self, rmask: str) -> str:
        """[B, G*H] -> [G, B, H]."""
        per_gate = self.node("Reshape", rmask, self.i64([0, self.gates, self.hidden]))
        return self.node("Transpose", per_gate, perm=[1, 0, 2])

    def split(self, body: _Body, v: str, n: int) -> list:
        outs = [body.e.tmp("gate") for _ in range(n)]
        body.nodes.append(helper.make_node("Split", [v, self.i64([self.hidden] * n)], outs, axis=-1))
        return outs


@register
class RecurrentScan(Op):
    name = "RecurrentScan"

    def infer(self, attrs, ins):
        ins = list(ins) + [None] * (7 - len(ins))
        xw, rt, rb, rmask, h0, c0, step_mask = ins
        cell, hidden = attrs["cell"], int(attrs["hidden_size"])
        if cell not in GATES:
            raise ShapeError(f"RecurrentScan cell must be one of {sorted(GATES)}, got {cell!r}")
        gates = GATES[cell]
        gh = gates * hidden
        if xw.rank != 3 or xw.dtype not in FLOAT_DTYPES or not dims_equal(xw.shape[2], gh):
            raise ShapeError(f"RecurrentScan input xw must be float [time, batch, {gh}], got "
                             f"{fmt_shape(xw.shape)} {xw.dtype}")
        t, b = xw.shape[0], xw.shape[1]
        expected = {"rt": (rt, (gates, hidden, hidden)), "rb": (rb, (gh,)), "rmask": (rmask, (b, gh)),
                    "h0": (h0, (b, hidden)), "c0": (c0, (b, hidden)), "step_mask": (step_mask, (t, b, 1))}
        for what, (spec, shape) in expected.items():
            if spec is None:
                if what in ("rt", "rmask", "h0") or (what == "c0" and cell == "LSTM"):
                    raise ShapeError(f"RecurrentScan ({cell}) needs input {what}")
                continue
            dtype = "bool" if what == "step_mask" else xw.dtype
            if spec.rank != len(shape) or not all(dims_equal(a, e) for a, e in zip(spec.shape, shape)) \
                    or spec.dtype != dtype:
                raise ShapeError(f"RecurrentScan input {what} should be {fmt_shape(shape)} {dtype}, got "
                                 f"{fmt_shape(spec.shape)} {spec.dtype}")
        state = Spec((b, hidden), xw.dtype)
        return [Spec((t, b, hidden), xw.dtype)] + [state] * (2 if cell == "LSTM" else 1)

    def emit(self, e, attrs, ins, outs):
        ins = list(ins) + [""] * (7 - len(ins))
        xw, rt, rb, rmask, h0, c0, step_mask = ins
        cell, hidden = attrs["cell"], int(attrs["hidden_size"])
        acts = direction_activations(cell, {**attrs, "direction": "forward"}, 0)
        gates = GATES[cell]
        out = _Outside(e, hidden, gates)
        masks = out.stacked_masks(rmask)
        body = _Body(e, e.dtype_of(xw))
        h = body.input("h", 2)
        c = body.input("c", 2) if cell == "LSTM" else None
        x_t = body.input("xw", 2)
        m_t = body.input("step", 2, "bool") if step_mask else None
        zero_axis = out.i64([0])

        def from_state(state, g0, g1):
            """Gates g0..g1 from the state: per gate (state * m_k) R_k^T (+ Rb), side by side."""
            whole = (g0, g1) == (0, gates)
            gate_masks = masks if whole else out.rows(masks, g0, g1)
            weights = rt if whole else out.rows(rt, g0, g1)
            read = body("Mul", body("Unsqueeze", state, zero_axis), gate_masks)       # [g, B, H]
            per_gate = body("Transpose", body("MatMul", read, weights), perm=[1, 0, 2])
            result = body("Reshape", per_gate, out.i64([0, (g1 - g0) * hidden]))
            if not rb:
                return result
            return body("Add", result, rb if whole else out.rows(rb, g0 * hidden, g1 * hidden))

        if cell == "GRU" and not int(attrs.get("linear_before_reset", 0)):
            hz, hr = out.split(body, from_state(h, 0, 2), 2)
            xz, xr, xn = out.split(body, x_t, 3)
            z = _emit_activation(body, acts[0], body("Add", xz, hz))
            r = _emit_activation(body, acts[0], body("Add", xr, hr))
            n = _emit_activation(body, acts[1], body("Add", xn, from_state(body("Mul", r, h), 2, 3)))
            new_h, new_c = body("Add", n, body("Mul", z, body("Sub", h, n))), None
        else:
            pre = from_state(h, 0, gates)
            if cell == "LSTM":
                a_i, a_o, a_f, a_c = out.split(body, body("Add", x_t, pre), 4)
                i, o, f = (_emit_activation(body, acts[0], a) for a in (a_i, a_o, a_f))
                g = _emit_activation(body, acts[1], a_c)
                new_c = body("Add", body("Mul", f, c), body("Mul", i, g))
                new_h = body("Mul", o, _emit_activation(body, acts[2], new_c))
            elif cell == "GRU":
                hz, hr, hn = out.split(body, pre, 3)
                xz, xr, xn = out.split(body, x_t, 3)
                z = _emit_activation(body, acts[0], body("Add", xz, hz))
                r = _emit_activation(body, acts[0], body("Add", xr, hr))
                n = _emit_activation(body, acts[1], body("Add", xn, body("Mul", r, hn)))
                new_h, new_c = body("Add", n, body("Mul", z, body("Sub", h, n))), None
            else:
                new_h, new_c = _emit_activation(body, acts[0], body("Add", x_t, pre)), None
        if m_t:  # masked steps keep the state, which is also their output
            new_h = body("Where", m_t, new_h, h)
            new_c = body("Where", m_t, new_c, c) if c else None
        body.output(new_h, 2)
        if c:
            body.output(new_c, 2)
        body.output(new_h, 2)
        states = [h0] + ([c0] if c else [])
        scan_ins = [xw] + ([step_mask] if step_mask else [])
        _scan(e, body, states, scan_ins, outs[1:] + outs[:1], reverse=False, hint="recurrent_body")

    def vjp(self, attrs, ins, outs, grads):
        ins = list(ins) + [None] * (7 - len(ins))
        grads = list(grads)
        if all(g is None for g in grads):
            return [None] * 7
        d = _MaskedDirection(attrs, ins, outs, grads)
        dx_side, blocks, dq_bias, dh0, dc0 = _cell_gradients(attrs["cell"], attrs, d)
        xw, rt, rb, rmask, h0, c0, _step = ins
        return [dx_side if gu.needs_grad(xw) else None,
                d.r_gradient(blocks) if gu.needs_grad(rt) else None,
                _sum_steps(dq_bias) if gu.needs_grad(rb) else None,
                None,  # the dropout masks are random draws: no gradient
                dh0 if gu.needs_grad(h0) else None,
                dc0 if gu.needs_grad(c0) else None,
                None]


class _MaskedDirection(_Direction):
    def __init__(self, attrs, ins, outs, grads):
        xw, rt, rb, rmask, h0, c0, step_mask = ins
        self.acts = direction_activations(attrs["cell"], {**attrs, "direction": "forward"}, 0)
        self.hidden = int(attrs["hidden_size"])
        self.x_side, self.rt, self.rb, self.rmask = xw, rt, rb, rmask
        self.r = None
        zeros = gu.zeros_like(outs[1])
        self.h0, self.c0 = h0, (zeros if c0 is None else c0)
        self.h_prev = _previous_states(outs[0], h0)
        self.dy = grads[0]
        self.dh_last = zeros if grads[1] is None else grads[1]
        self.dc_last = zeros if len(grads) < 3 or grads[2] is None else grads[2]
        self.mask = step_mask
        self.scan_attrs = {"masked_outputs_hold_state": 1}
