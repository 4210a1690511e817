"""Backpropagation through time for the ONNX LSTM, GRU and RNN primitives.

The forward pass stays the native ONNX recurrent operator. Its VJP (`recurrent_vjp`, called by the
ops in `recurrent.py`) works per direction, in the *forward-equivalent* time order (a reverse
direction is the forward recurrence of the time-reversed input, `ReverseTime`):

1. batched over all steps, it recomputes what does not depend on the backward carry: the previous
   states ``H_prev = [h0; Y[:-1]]``, the gate pre-activations (two large MatMuls), the activations
   and their derivatives, and for LSTM the cell sequence (`LSTMCellScan`, two elementwise nodes per
   step). These give per-step factors ``A`` with ``d(pre-activations)_t = M(dH_t, dC_t) * A_t``;
2. one reverse ``Scan`` (`LSTMBackwardScan`, `GRUBackwardScan`, `RNNBackwardScan`) carries the
   state gradients: 4 to 12 small nodes per step, one MatMul with R;
3. batched again: dX = dZ W, dW = sum dZ^T X, dR = sum dZ^T H_prev, dB, d initial state = the
   final carry.

``sequence_lens`` (ONNX semantics: steps past a sequence's length give zeros and leave the state
alone; a reverse direction runs within each length) becomes a (T, B, 1) mask: the factors are
zeroed at padded steps, and the scan passes the carry through them unchanged (plus the output's
gradient for `RecurrentScan`, whose output at a masked step is the state it holds).
The scan primitives have no VJP of their own (no second derivatives of recurrent layers).
"""
from __future__ import annotations

import numpy as np
from onnx import helper

from . import grad_utils as gu
from .base import FLOAT_DTYPES, Op, ShapeError, Spec, dims_equal, fmt_shape, merge_dim, register
from .trace import apply

# ------------------------------------------------------------------------------ ReverseTime
@register
class ReverseTime(Op):
    """Reverse axis 0 (time) of a time-major tensor [T, B, ...]; with an optional int32
    ``sequence_lens`` [B], only the first ``len[b]`` steps of each sequence (ONNX
    ReverseSequence), otherwise all of them. Its own adjoint."""

    name = "ReverseTime"

    def infer(self, attrs, ins):
        x = ins[0]
        lens = ins[1] if len(ins) > 1 else None
        if x.rank < 2:
            raise ShapeError(f"ReverseTime needs a [time, batch, ...] tensor, got {fmt_shape(x.shape)}")
        if lens is not None and (lens.rank != 1 or lens.dtype != "int32"
                                 or not dims_equal(lens.shape[0], x.shape[1])):
            raise ShapeError(f"ReverseTime sequence_lens must be int32 [batch] for {fmt_shape(x.shape)}, "
                             f"got {fmt_shape(lens.shape)} {lens.dtype}")
        return [Spec(x.shape, x.dtype)]

    def emit(self, e, attrs, ins, outs):
        if len(ins) > 1 and ins[1]:
            lens = e.tmp("lens64")
            e.node("Cast", [ins[1]], [lens], to=e.onnx_dtype("int64"))
            e.node("ReverseSequence", [ins[0], lens], outs, time_axis=0, batch_axis=1)
            return
        i64 = lambda v: e.const(np.array(v, dtype=np.int64))  # noqa: E731
        e.node("Slice", [ins[0], i64([-1]), i64([-(2**62)]), i64([0]), i64([-1])], outs)

    def compute(self, attrs, x, lens=None):
        if lens is None:
            return (x[::-1].copy(),)
        out = x.copy()
        for b, n in enumerate(lens):
            out[:n, b] = x[:n, b][::-1]
        return (out,)

    def vjp(self, attrs, ins, outs, grads):
        (g,) = grads
        if g is None:
            return [None] * len(ins)
        return [apply("ReverseTime", [g] + list(ins[1:]))] + [None] * (len(ins) - 1)


# ------------------------------------------------------------------------------ Scan emission
class _Body:
    """Builds a Scan body GraphProto; names come from the emitter, so they are unique model-wide."""

    def __init__(self, e, dtype: str):
        self.e, self.dtype = e, dtype
        self.inputs, self.outputs, self.nodes = [], [], []

    def input(self, hint: str, rank: int, dtype: str | None = None) -> str:
        name = self.e.tmp(hint)
        self.inputs.append(helper.make_tensor_value_info(name, self.e.onnx_dtype(dtype or self.dtype),
                                                         [None] * rank))
        return name

    def __call__(self, op_type: str, *ins: str, **attrs) -> str:
        out = self.e.tmp(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(ins), [out], **attrs))
        return out

    def output(self, name: str, rank: int) -> None:
        if any(o.name == name for o in self.outputs) or name in {i.name for i in self.inputs}:
            name = self("Identity", name)
        self.outputs.append(helper.make_tensor_value_info(name, self.e.onnx_dtype(self.dtype), [None] * rank))

    def graph(self, name: str):
        return helper.make_graph(self.nodes, self.e.tmp(name), self.inputs, self.outputs)


def _scan(e, body: _Body, states: list, scan_ins: list, outs: list, reverse: bool, hint: str) -> None:
    n = len(scan_ins)
    e.node("Scan", states + scan_ins, outs, body=body.graph(hint), num_scan_inputs=n,
           scan_input_directions=[int(reverse)] * n,
           scan_output_directions=[int(reverse)] * (len(outs) - len(states)))


class _ScanOp(Op):
    """Shared shape rule: ``seq_inputs`` are [T, B, k] (None allowed where optional), the outputs are
    the per-step ``seq_outputs`` [T, B, width] and the final carries [B, H]."""

    seq_inputs: tuple = ()
    optional: tuple = ("dY", "mask", "rmask")

    def vjp(self, attrs, ins, outs, grads):
        raise NotImplementedError(f"primitive {self.name} has no gradient rule: it is part of the gradient "
                                  "of a recurrent layer, and second derivatives of recurrent layers "
                                  "(a gradient of a gradient through LSTM, GRU or SimpleRNN) are not supported")

    def _named(self, ins):
        names = self.input_names
        ins = list(ins) + [None] * (len(names) - len(ins))
        return dict(zip(names, ins))

    def infer(self, attrs, ins):
        named = self._named(ins)
        for k, v in named.items():
            if v is None and k not in self.optional:
                raise ShapeError(f"{self.name} needs input {k}")
        ref = next(named[k] for k in self.seq_inputs if named[k] is not None)
        dtype = ref.dtype
        if dtype not in FLOAT_DTYPES:
            raise ShapeError(f"{self.name} needs floating-point inputs, got {dtype}")
        t, b = ref.shape[0], ref.shape[1]
        for k in self.seq_inputs:
            v = named[k]
            if v is None:
                continue
            if v.rank != 3 or not (dims_equal(v.shape[0], t) and dims_equal(v.shape[1], b)):
                raise ShapeError(f"{self.name} input {k} must be [time, batch, n] like "
                                 f"{fmt_shape(ref.shape)}, got {fmt_shape(v.shape)}")
            t, b = merge_dim(t, v.shape[0]), merge_dim(b, v.shape[1])
        return self.out_specs(attrs, named, t, b, dtype)


@register
class LSTMCellScan(_ScanOp):
    """c_t = f_t * c_{t-1} + ig_t over time (forward): inputs f, ig [T, B, H], c0 [B, H];
    output the cell sequence [T, B, H]."""

    name = "LSTMCellScan"
    input_names = ("f", "ig", "c0")
    seq_inputs = ("f", "ig")
    optional = ()

    def out_specs(self, attrs, named, t, b, dtype):
        return [Spec((t, b, named["f"].shape[2]), dtype)]

    def emit(self, e, attrs, ins, outs):
        body = _Body(e, e.dtype_of(ins[0]))
        c_prev, f, ig = body.input("c_prev", 2), body.input("f", 2), body.input("ig", 2)
        c = body("Add", body("Mul", c_prev, f), ig)
        body.output(c, 2)
        body.output(c, 2)
        _scan(e, body, [ins[2]], [ins[0], ins[1]], [e.tmp("c_last"), outs[0]], reverse=False, hint="cell_body")


class _BackwardScan(_ScanOp):
    """Reverse scan over the forward-equivalent time order carrying the state gradients.

    The state enters the gates through ``R`` (``h R^T``, adjoint ``dz R``). With per-gate state
    masks (recurrent dropout: gate k reads ``(h * m_k) R_k^T``), ``R`` is the R_k stacked [g, H, H]
    and ``rmask`` the masks stacked [g, B, H]: the adjoint is ``sum_k (dz_k R_k) * m_k``, one
    batched MatMul over the gates."""

    def adjoint(self, body, named, dz):
        if not named.get("rmask"):
            return body("MatMul", dz, named["R"])
        gates, _, hidden = body.e.shape_of(named["R"])
        per_gate = body("Reshape", dz, body.e.const(np.array([0, gates, hidden], dtype=np.int64)))
        prod = body("MatMul", body("Transpose", per_gate, perm=[1, 0, 2]), named["R"])
        return body("ReduceSum", body("Mul", prod, named["rmask"]), body.e.const(np.array([0], dtype=np.int64)),
                    keepdims=0)

    def emit(self, e, attrs, ins, outs):
        named = self._named(["" if i is None else i for i in ins])
        named = {k: (v or None) for k, v in named.items()}
        body = _Body(e, e.dtype_of(named["A"]))
        carries = [body.input(f"d{s}", 2) for s in self.carry_names]
        seq_names = [k for k in self.seq_inputs if named.get(k)] + (["mask"] if named.get("mask") else [])
        step = {k: body.input(k, 2, "bool" if k == "mask" else None) for k in seq_names}
        # step: the new carries, the per-step outputs, and the carries plus this step's output gradient
        new_carries, seq_outs, with_output = self.step(body, named, carries, step)
        if "mask" in step:  # steps outside the mask pass the carry through, with the output's
            # gradient when the op's output there is the state it holds (RecurrentScan)
            held = with_output if attrs.get("masked_outputs_hold_state") else carries
            new_carries = [body("Where", step["mask"], new, old) for new, old in zip(new_carries, held)]
        for name in new_carries:
            body.output(name, 2)
        for name in seq_outs:
            body.output(name, 2)
        n_carry = len(self.carry_names)
        state_outs = outs[len(seq_outs):len(seq_outs) + n_carry]
        _scan(e, body, [named[f"d{s}0"] for s in self.carry_names], [named[k] for k in seq_names],
              state_outs + outs[:len(seq_outs)], reverse=True, hint=f"{self.name}_body")

    def out_specs(self, attrs, named, t, b, dtype):
        h = named["dh0"].shape[1]
        seq = [Spec((t, b, w), dtype) for w in self.seq_widths(named, h)]
        return seq + [Spec((b, h), dtype)] * len(self.carry_names)


@register
class LSTMBackwardScan(_BackwardScan):
    """Per step (reverse): dH = dh + dY; dC = dc + dH * Ac; dZ = [dC, dH, dC, dC] * A (ONNX gates
    i, o, f, c); dh <- dZ R; dc <- dC * f. Outputs dZ [T, B, 4H], then the final dh, dc."""

    name = "LSTMBackwardScan"
    input_names = ("dY", "A", "Ac", "f", "R", "dh0", "dc0", "mask", "rmask")
    seq_inputs = ("dY", "A", "Ac", "f")
    carry_names = ("h", "c")

    def seq_widths(self, named, h):
        return [4 * h]

    def step(self, body, named, carries, s):
        dh, dc = carries
        dH = body("Add", dh, s["dY"]) if "dY" in s else dh
        dC = body("Add", dc, body("Mul", dH, s["Ac"]))
        dz = body("Mul", body("Concat", dC, dH, dC, dC, axis=-1), s["A"])
        return [self.adjoint(body, named, dz), body("Mul", dC, s["f"])], [dz], [dH, dc]


@register
class GRUBackwardScan(_BackwardScan):
    """linear_before_reset=1, per step (reverse): dH = dh + dY; dQ = [dH, dH, dH] * A;
    dh <- dQ R + dH * z. Outputs dH [T, B, H] (the gate gradients are formed batched after), dh.

    linear_before_reset=0 (A is Az, plus inputs An, Br, r and Rn; R is Rzr [2H, H]):
    dn = dH * An; drh = dn Rn; dzr = [dH * Az, drh * Br]; dh <- dzr Rzr + dH * z + drh * r.
    Outputs dzr [T, B, 2H], dn [T, B, H], then dh."""

    name = "GRUBackwardScan"
    input_names = ("dY", "A", "z", "An", "Br", "r", "R", "Rn", "dh0", "mask", "rmask")
    seq_inputs = ("dY", "A", "z", "An", "Br", "r")
    optional = ("dY", "mask", "An", "Br", "r", "Rn", "rmask")
    carry_names = ("h",)

    def seq_widths(self, named, h):
        return [h] if named["r"] is None else [2 * h, h]

    def step(self, body, named, carries, s):
        (dh,) = carries
        dH = body("Add", dh, s["dY"]) if "dY" in s else dh
        through_z = body("Mul", dH, s["z"])
        if "r" not in s:  # linear_before_reset=1
            dq = body("Mul", body("Concat", dH, dH, dH, axis=-1), s["A"])
            return [body("Add", self.adjoint(body, named, dq), through_z)], [dH], [dH]
        dn = body("Mul", dH, s["An"])
        drh = body("MatMul", dn, named["Rn"])
        dzr = body("Concat", body("Mul", dH, s["A"]), body("Mul", drh, s["Br"]), axis=-1)
        new = body("Add", body("Add", self.adjoint(body, named, dzr), through_z), body("Mul", drh, s["r"]))
        return [new], [dzr, dn], [dH]


@register
class RNNBackwardScan(_BackwardScan):
    """Per step (reverse): dZ = (dh + dY) * A; dh <- dZ R. Outputs dZ [T, B, H], then dh."""

    name = "RNNBackwardScan"
    input_names = ("dY", "A", "R", "dh0", "mask", "rmask")
    seq_inputs = ("dY", "A")
    carry_names = ("h",)

    def seq_widths(self, named, h):
        return [h]

    def step(self, body, named, carries, s):
        (dh,) = carries
        dH = body("Add", dh, s["dY"]) if "dY" in s else dh
        dz = body("Mul", dH, s["A"])
        return [self.adjoint(body, named, dz)], [dz], [dH]


# ------------------------------------------------------------------------------ activations
DEFAULT_ACTIVATIONS = {"LSTM": ("Sigmoid", "Tanh", "Tanh"), "GRU": ("Sigmoid", "Tanh"), "RNN": ("Tanh",)}
# ONNX defaults of the activations that read activation_alpha / activation_beta, in that order
_ALPHA_BETA = {"Affine": (1.0, 0.0), "HardSigmoid": (0.2, 0.5), "Elu": (1.0, None),
               "LeakyRelu": (0.01, None), "ThresholdedRelu": (1.0, None), "ScaledTanh": (1.0, 1.0)}


def direction_activations(cell: str, attrs: dict, direction: int) -> list:
    """[(name, alpha, beta)] of one direction's activations; alphas and betas are consumed in
    order by the activations that take them (over all directions), defaults otherwise."""
    per_dir = len(DEFAULT_ACTIVATIONS[cell])
    dirs = 2 if attrs.get("direction") == "bidirectional" else 1
    names = list(attrs.get("activations") or DEFAULT_ACTIVATIONS[cell] * dirs)
    alphas, betas = list(attrs.get("activation_alpha") or ()), list(attrs.get("activation_beta") or ())
    acts = []
    for name in names:
        alpha, beta = _ALPHA_BETA.get(name, (None, None))
        if alpha is not None and alphas:
            alpha = alphas.pop(0)
        if beta is not None and betas:
            beta = betas.pop(0)
        acts.append((name, alpha, beta))
    return acts[direction * per_dir:(direction + 1) * per_dir]


def activation_and_derivative(act: tuple, z):
    """(f(z), f'(z)) for an ONNX recurrent activation, from the pre-activation z."""
    name, alpha, beta = act
    if name == "Tanh":
        y = apply("Tanh", [z])
        return y, 1.0 - y * y
    if name == "Sigmoid":
        y = apply("Sigmoid", [z])
        return y, y * (1.0 - y)
    if name == "HardSigmoid":
        y = apply("HardSigmoid", [z], alpha=alpha, beta=beta)
        u = z * alpha + beta
        inside = apply("And", [apply("Greater", [u, gu.scalar(0, z.dtype)]),
                               apply("Less", [u, gu.scalar(1, z.dtype)])])
        return y, gu.where(inside, gu.scalar(alpha, z.dtype), 0.0)
    if name == "Relu":
        return apply("Relu", [z]), gu.cast(apply("Greater", [z, gu.scalar(0, z.dtype)]), z.dtype)
    if name == "Affine":
        return z * alpha + beta, gu.expand_like(gu.scalar(alpha, z.dtype), z)
    if name == "Softsign":
        s = apply("Reciprocal", [apply("Abs", [z]) + 1.0])
        return apply("Softsign", [z]), s * s
    if name == "Softplus":
        return apply("Softplus", [z]), apply("Sigmoid", [z])
    if name == "Elu":
        y = apply("Elu", [z], alpha=alpha)
        return y, gu.where(apply("Greater", [z, gu.scalar(0, z.dtype)]), 1.0, y + alpha)
    raise NotImplementedError(f"no gradient for the recurrent activation {name!r}; the supported ones are "
                              "Tanh, Sigmoid, HardSigmoid, Relu, Affine, Softsign, Softplus and Elu")


# ------------------------------------------------------------------------------ helpers
def _take(v, index: int, axis: int, count: int):
    """``v`` without its ``axis`` (of length ``count``), at ``index``."""
    if count == 1:
        return apply("Squeeze", [v], axes=(axis,))
    return apply("Gather", [v, gu.i64(index)], axis=axis)


def _stack(parts: list, axis: int = 0):
    parts = [apply("Unsqueeze", [p], axes=(axis,)) for p in parts]
    return parts[0] if len(parts) == 1 else apply("Concat", parts, axis=axis)


def _split(v, n: int, axis: int = -1):
    width = v.shape[axis] // n
    return apply("Split", [v], sizes=[width] * n, axis=axis)


def _previous_states(y, first):
    """[first; y[:-1]] along time, shaped like ``y`` (its time axis may be unknown)."""
    head = apply("Slice", [y], starts=[0], ends=[-1], axes=[0])
    both = apply("Concat", [apply("Unsqueeze", [first], axes=(0,)), head], axis=0)
    return gu.reshape_like(both, y)


def _flat(v):
    """[T, B, k] -> [T*B, k]."""
    return apply("Reshape", [v], shape=(-1, v.shape[-1]))


def _sum_outer(dz, h):
    """sum over steps and batch of dz_tb^T h_tb: [T, B, G], [T, B, K] -> [G, K]."""
    return apply("MatMul", [gu.transpose_last2(_flat(dz)), _flat(h)])


def _sum_steps(dz):
    return apply("ReduceSum", [dz], axes=(0, 1), keepdims=False)


def _step_mask(x, lens):
    """[T, B, 1] bool: step t of sequence b is within its length."""
    steps = apply("Range", [gu.i64(0), gu.dim(x, 0), gu.i64(1)], length=x.sym_shape[0])
    return apply("Less", [apply("Reshape", [steps], shape=(-1, 1, 1)),
                          apply("Reshape", [gu.cast(lens, "int64")], shape=(1, -1, 1))])


def _masked(v, mask):
    return v if mask is None else gu.where(mask, v, 0.0)


def _rows(v, start: int, stop: int, axis: int = 0):
    """``v[start:stop]`` along ``axis`` (static size); ``v`` itself when that is all of it."""
    if start == 0 and stop == v.shape[axis]:
        return v
    return apply("Slice", [v], starts=[start], ends=[stop], axes=[axis])


class _Direction:
    """One direction of a recurrent op, in forward-equivalent time order: the tensors the cells
    need, and how the state enters the gates (``h_side``, ``state_matrix``, ``scan_weights``,
    ``r_gradient``).

    Native ONNX op: gate k reads ``h R_k^T + Rb_k``. Gate-masked recurrence (`RecurrentScan`,
    recurrent dropout): gate k reads ``(h * m_k) R_k^T + Rb_k``, with ``rt`` [G, H, H] the R_k^T
    and ``rmask`` [B, G*H] the m_k side by side."""

    hidden: int
    rt = rmask = w = None
    scan_attrs: dict = {}  # RecurrentScan: {"masked_outputs_hold_state": 1}

    def _gate_masks(self, g0: int, g1: int):
        """The masks of gates g0..g1 as [B, g, H]."""
        block = _rows(self.rmask, g0 * self.hidden, g1 * self.hidden, axis=-1)
        return apply("Reshape", [block], shape=(-1, g1 - g0, self.hidden))

    def h_side(self, h, g0: int, g1: int):
        """What gates g0..g1 receive from the state sequence h [T, B, H] (bias included)."""
        lo, hi = g0 * self.hidden, g1 * self.hidden
        rb = None if self.rb is None else _rows(self.rb, lo, hi)
        if self.rmask is None:
            out = apply("MatMul", [h, gu.transpose_last2(_rows(self.r, lo, hi))])
        else:  # [T, B, g, 1, H] @ [g, H, H] -> [T, B, g, 1, H] -> [T, B, g*H]
            read = apply("Unsqueeze", [h], axes=(-2,)) * self._gate_masks(g0, g1)
            per_gate = apply("MatMul", [apply("Unsqueeze", [read], axes=(-2,)), _rows(self.rt, g0, g1)])
            out = gu.reshape(per_gate, [gu.dims(h, 0, 2), hi - lo], out_shape=tuple(h.sym_shape[:2]) + (hi - lo,))
        return out if rb is None else out + rb

    def gate_mask(self, g0: int, g1: int):
        lo, hi = g0 * self.hidden, g1 * self.hidden
        return None if self.rmask is None else _rows(self.rmask, lo, hi, axis=-1)

    def state_matrix(self, g0: int, g1: int):
        """What the adjoint of gates g0..g1 multiplies by: their rows of R, or with masks the R_k
        stacked [g, H, H]."""
        if self.rmask is None:
            return _rows(self.r, g0 * self.hidden, g1 * self.hidden)
        return apply("Transpose", [_rows(self.rt, g0, g1)], perm=(0, 2, 1))

    def scan_weights(self, g0: int, g1: int) -> tuple:
        """(R, rmask) inputs of a backward scan for the adjoint of gates g0..g1."""
        if self.rmask is None:
            return self.state_matrix(g0, g1), None
        masks = apply("Transpose", [self._gate_masks(g0, g1)], perm=(1, 0, 2))  # [g, B, H]
        return self.state_matrix(g0, g1), masks

    def r_gradient(self, blocks):
        """Gradient of R (or rt) from [(d gates g0..g1 [T, B, g*H], state read [T, B, H], g0, g1)]."""
        if self.rmask is None:
            parts = [_sum_outer(dq, h) for dq, h, _g0, _g1 in blocks]
            return parts[0] if len(parts) == 1 else apply("Concat", parts, axis=0)
        parts = []
        for dq, h, g0, g1 in blocks:  # per gate: sum over steps and batch of (h * m_k)^T dq_k
            g = g1 - g0
            read = apply("Unsqueeze", [h], axes=(-2,)) * self._gate_masks(g0, g1)         # [T, B, g, H]
            read = apply("Transpose", [apply("Reshape", [read], shape=(-1, g, self.hidden))], perm=(1, 2, 0))
            grad = apply("Transpose", [apply("Reshape", [dq], shape=(-1, g, self.hidden))], perm=(1, 0, 2))
            parts.append(apply("MatMul", [read, grad]))                                    # [g, H, H]
        return parts[0] if len(parts) == 1 else apply("Concat", parts, axis=0)


class _NativeDirection(_Direction):
    """Direction ``d`` of an ONNX LSTM / GRU / RNN op."""

    def __init__(self, cell, attrs, ins, outs, grads, d, dirs):
        x, w, r, b, lens, h0, c0 = ins
        reverse = attrs.get("direction") == "reverse" or d == 1
        self.flip = (lambda v: apply("ReverseTime", [v] if lens is None else [v, lens])) if reverse \
            else (lambda v: v)
        self.acts = direction_activations(cell, attrs, d)
        self.hidden = int(attrs["hidden_size"])
        self.x = self.flip(x)
        self.w, self.r = _take(w, d, 0, dirs), _take(r, d, 0, dirs)
        self.wb, self.rb = (None, None) if b is None else _split(_take(b, d, 0, dirs), 2)
        y = _take(outs[0], d, 1, dirs)
        zeros = gu.zeros_like(_take(outs[1], d, 0, dirs))
        self.h0 = zeros if h0 is None else _take(h0, d, 0, dirs)
        self.c0 = zeros if c0 is None else _take(c0, d, 0, dirs)
        self.h_prev = _previous_states(self.flip(y), self.h0)
        self.dy = None if grads[0] is None else self.flip(_take(grads[0], d, 1, dirs))
        self.dh_last = zeros if grads[1] is None else _take(grads[1], d, 0, dirs)
        self.dc_last = zeros if len(grads) < 3 or grads[2] is None else _take(grads[2], d, 0, dirs)
        self.mask = None if lens is None else _step_mask(x, lens)
        self.x_side = apply("MatMul", [self.x, gu.transpose_last2(self.w)])
        if self.wb is not None:
            self.x_side = self.x_side + self.wb


# ------------------------------------------------------------------------------ cells
def _lstm(d: _Direction):
    """Returns (d x-side pre-activations [T, B, G*H], R-gradient blocks, d Rb, dh0, dc0)."""
    act_f, act_g, act_h = d.acts
    pre = d.x_side + d.h_side(d.h_prev, 0, 4)
    a_i, a_o, a_f, a_c = _split(pre, 4)
    i, di = activation_and_derivative(act_f, a_i)
    o, do = activation_and_derivative(act_f, a_o)
    f, df = activation_and_derivative(act_f, a_f)
    g, dg = activation_and_derivative(act_g, a_c)
    keep, add = (f, i * g) if d.mask is None else (gu.where(d.mask, f, 1.0), _masked(i * g, d.mask))
    c = apply("LSTMCellScan", [keep, add, d.c0])  # masked steps keep the cell
    c_prev = _previous_states(c, d.c0)
    hc, dhc = activation_and_derivative(act_h, c)
    factors = apply("Concat", [g * di, hc * do, c_prev * df, i * dg], axis=-1)
    r, rmask = d.scan_weights(0, 4)
    dz, dh0, dc0 = apply("LSTMBackwardScan", [d.dy, _masked(factors, d.mask), o * dhc, f, r,
                                              d.dh_last, d.dc_last, d.mask, rmask], **d.scan_attrs)
    return dz, [(dz, d.h_prev, 0, 4)], dz, dh0, dc0


def _gru(d: _Direction, linear_before_reset: int):
    act_f, act_g = d.acts
    xz, xr, xn = _split(d.x_side, 3)
    if linear_before_reset:
        hz, hr, hn = _split(d.h_side(d.h_prev, 0, 3), 3)
    else:
        hz, hr = _split(d.h_side(d.h_prev, 0, 2), 2)
    z, dz = activation_and_derivative(act_f, xz + hz)
    r, dr = activation_and_derivative(act_f, xr + hr)
    if linear_before_reset:
        n, dn = activation_and_derivative(act_g, xn + r * hn)
    else:
        rh = r * d.h_prev
        n, dn = activation_and_derivative(act_g, xn + d.h_side(rh, 2, 3))
    a_z = _masked((d.h_prev - n) * dz, d.mask)
    a_n = _masked((1.0 - z) * dn, d.mask)
    if linear_before_reset:
        a_r = a_n * hn * dr
        r_in, rmask = d.scan_weights(0, 3)
        dh, dh0 = apply("GRUBackwardScan", [d.dy, apply("Concat", [a_z, a_r, a_n * r], axis=-1), z,
                                            None, None, None, r_in, None, d.dh_last, d.mask, rmask],
                            **d.scan_attrs)
        da_z, da_r, da_n = dh * a_z, dh * a_r, dh * a_n
        dx_side = apply("Concat", [da_z, da_r, da_n], axis=-1)
        dh_side = apply("Concat", [da_z, da_r, da_n * r], axis=-1)
        return dx_side, [(dh_side, d.h_prev, 0, 3)], dh_side, dh0, None
    # the candidate reads r * h (times its state mask): fold that mask into the per-step factors
    m_n = d.gate_mask(2, 3)
    h_read, r_read = (d.h_prev, r) if m_n is None else (d.h_prev * m_n, r * m_n)
    rn = d.state_matrix(2, 3)
    if m_n is not None:  # [1, H, H] -> [H, H]
        rn = apply("Squeeze", [rn], axes=(0,))
    r_zr, rmask = d.scan_weights(0, 2)
    dzr, da_n, dh0 = apply("GRUBackwardScan", [d.dy, a_z, z, a_n, h_read * dr, r_read, r_zr, rn,
                                                d.dh_last, d.mask, rmask], **d.scan_attrs)
    dx_side = apply("Concat", [dzr, da_n], axis=-1)
    return dx_side, [(dzr, d.h_prev, 0, 2), (da_n, rh, 2, 3)], dx_side, dh0, None


def _rnn(d: _Direction):
    (act,) = d.acts
    _, da = activation_and_derivative(act, d.x_side + d.h_side(d.h_prev, 0, 1))
    r, rmask = d.scan_weights(0, 1)
    dz, dh0 = apply("RNNBackwardScan", [d.dy, _masked(da, d.mask), r, d.dh_last, d.mask, rmask],
                    **d.scan_attrs)
    return dz, [(dz, d.h_prev, 0, 1)], dz, dh0, None


def _cell_gradients(cell: str, attrs: dict, d: _Direction):
    if cell == "LSTM":
        return _lstm(d)
    if cell == "GRU":
        return _gru(d, int(attrs.get("linear_before_reset", 0)))
    return _rnn(d)


# ------------------------------------------------------------------------------ the VJP
def recurrent_vjp(cell: str, attrs: dict, ins: list, outs: list, grads: list) -> list:
    """Gradients w.r.t. X, W, R, B, sequence_lens (None), initial_h, initial_c of an ONNX
    LSTM / GRU / RNN op (see the module doc)."""
    n_in = len(ins)
    ins = list(ins) + [None] * (7 - n_in)
    grads = list(grads)
    if all(g is None for g in grads):
        return [None] * n_in
    dirs = 2 if attrs.get("direction") == "bidirectional" else 1
    per_dir = []
    for index in range(dirs):
        d = _NativeDirection(cell, attrs, ins, outs, grads, index, dirs)
        per_dir.append((d, _cell_gradients(cell, attrs, d)))
    return _gather_gradients(ins, per_dir, n_in)


def _gather_gradients(ins, per_dir, n_in):
    x, w, r, b, lens, h0, c0 = ins
    dx = dw = dr = db = dh0 = dc0 = None
    if gu.needs_grad(x):
        parts = [d.flip(apply("MatMul", [dx_side, d.w])) for d, (dx_side, *_rest) in per_dir]
        dx = parts[0] if len(parts) == 1 else parts[0] + parts[1]
    if gu.needs_grad(w):
        dw = _stack([_sum_outer(dx_side, d.x) for d, (dx_side, *_rest) in per_dir])
    if gu.needs_grad(r):
        dr = _stack([d.r_gradient(blocks) for d, (_dx, blocks, *_rest) in per_dir])
    if gu.needs_grad(b):
        db = _stack([apply("Concat", [_sum_steps(dx_side), _sum_steps(dq_bias)], axis=0)
                     for d, (dx_side, _blocks, dq_bias, *_rest) in per_dir])
    if gu.needs_grad(h0):
        dh0 = _stack([res[3] for _d, res in per_dir])
    if gu.needs_grad(c0):
        dc0 = _stack([res[4] for _d, res in per_dir])
    return [dx, dw, dr, db, None, dh0, dc0][:n_in]
