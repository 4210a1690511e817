"""Recurrent backend functions: Keras-layout weights -> one ONNX LSTM / GRU / RNN op.

Weights stay in Keras layout (kernel (in, gates*H), recurrent_kernel (H, gates*H), bias); the
reordering into ONNX's W [dirs, gates*H, in], R [dirs, gates*H, H], B [dirs, 2*gates*H] is emitted
as graph ops (Split/Concat/Transpose/Unsqueeze), which onnxruntime folds for initializers.

Tensors are batch-major as in Keras: ``x`` is (batch, time, features). Each function returns
``(y, h)`` (``(y, h, c)`` for LSTM) with ``y`` (batch, time, dirs, H) holding every step's output in
input time order (for the reverse direction too, as ONNX does) and the final states (dirs, batch, H).
"""
from __future__ import annotations

import numpy as np

from ..ops import grad_utils as gu
from ..ops.trace import apply
from .math import (_v, cast, concatenate, expand_dims, getitem, permute_dimensions, reshape, split,
                   symbolic, transpose)

__all__ = ["RNN_ACTIVATIONS", "gru", "lstm", "recurrent_dropout_mask", "reverse_time", "rnn_activation",
           "simple_rnn"]

# Keras activation name -> (ONNX recurrent activation, alpha, beta); None: the function takes none.
# All are run by onnxruntime's CPU LSTM/GRU/RNN kernels.
RNN_ACTIVATIONS = {
    "tanh": ("Tanh", None, None),
    "sigmoid": ("Sigmoid", None, None),
    "hard_sigmoid": ("HardSigmoid", 1.0 / 6.0, 0.5),  # Keras 3: relu6(x + 3) / 6
    "hard_sigmoid_keras2": ("HardSigmoid", 0.2, 0.5),  # Keras 1/2: clip(0.2 x + 0.5, 0, 1)
    "relu": ("Relu", None, None),
    "linear": ("Affine", 1.0, 0.0),
    "softsign": ("Softsign", None, None),
    "softplus": ("Softplus", None, None),
    "elu": ("Elu", 1.0, None),
}

_LSTM_ORDER = (0, 3, 1, 2)  # Keras gates i, f, c, o -> ONNX i, o, f, c
DIRECTIONS = ("forward", "reverse", "bidirectional")


def rnn_activation(name: str) -> tuple:
    """The ONNX (name, alpha, beta) of a Keras activation name, or a ValueError saying what works."""
    if name not in RNN_ACTIVATIONS:
        raise ValueError(f"activation {name!r} has no ONNX recurrent-op equivalent; "
                         f"use one of {', '.join(sorted(RNN_ACTIVATIONS))}")
    return RNN_ACTIVATIONS[name]


def _activation_attrs(names, dirs: int) -> dict:
    acts, alphas, betas = [], [], []
    for name in list(names) * dirs:
        onnx_name, alpha, beta = rnn_activation(name)
        acts.append(onnx_name)
        if alpha is not None:
            alphas.append(float(alpha))
        if beta is not None:
            betas.append(float(beta))
    return {"activations": tuple(acts), "activation_alpha": tuple(alphas) or None,
            "activation_beta": tuple(betas) or None}


def _reorder(x, order, units: int):
    """Reorder the gate blocks of the last axis of ``x`` (identity order: unchanged)."""
    if order is None:
        return x
    parts = split(x, [units] * len(order), axis=-1)
    return concatenate([parts[i] for i in order], axis=-1)


def _stack(per_direction):
    """(dirs, ...) from one tensor per direction."""
    parts = [expand_dims(t, 0) for t in per_direction]
    return parts[0] if len(parts) == 1 else concatenate(parts, axis=0)


def _onnx_weights(weights, order, units: int):
    """ONNX W, R, B (B None without bias) from per-direction Keras (kernel, recurrent, bias)."""
    ws = [transpose(_reorder(_v(k), order, units)) for k, _, _ in weights]
    rs = [transpose(_reorder(_v(r), order, units)) for _, r, _ in weights]
    if all(b is None for _, _, b in weights):
        return _stack(ws), _stack(rs), None
    bs = []
    for _, _, bias in weights:
        b = _reorder(_v(bias), order, units)
        if b.ndim == 1:  # one Keras bias: the ONNX recurrent bias Rb is zero
            bs.append(concatenate([b, np.zeros(b.shape, dtype=b.dtype)], axis=0))
        else:  # GRU reset_after: rows [input bias; recurrent bias] are ONNX's [Wb, Rb]
            bs.append(reshape(b, (-1,)))
    return _stack(ws), _stack(rs), _stack(bs)


def _state_input(state, dirs: int):
    """initial state (dirs, batch, H) from a (batch, H) tensor or a list of one per direction."""
    if state is None:
        return None
    per_dir = list(state) if isinstance(state, (list, tuple)) else [state]
    if len(per_dir) != dirs:
        raise ValueError(f"expected one initial state tensor per direction ({dirs}), got {len(per_dir)}")
    return _stack([_v(s) for s in per_dir])


def _recurrent(op, x, weights, order, activations, direction, initial_state, n_states, dropout_masks=None,
               mask=None, **attrs):
    if dropout_masks is not None:
        return _recurrent_with_dropout(op, x, weights, order, activations, direction, initial_state,
                                       n_states, dropout_masks, mask, **attrs)
    if mask is not None:
        raise ValueError(f"{op}: a (batch, time) mask goes with dropout masks here; masked sequences "
                         "without recurrent dropout run the native op with sequence_lens (layers/masked_rnn)")
    x = _v(x)
    if x.ndim != 3:
        raise ValueError(f"{op} expects a 3D input (batch, timesteps, features), got shape {x.shape}")
    if direction not in DIRECTIONS:
        raise ValueError(f"{op} direction must be one of {DIRECTIONS}, got {direction!r}")
    if weights and not isinstance(weights[0], (list, tuple)):
        weights = [weights]
    dirs = 2 if direction == "bidirectional" else 1
    if len(weights) != dirs:
        raise ValueError(f"{op} direction {direction!r} needs {dirs} weight set(s), got {len(weights)}")
    outs = onnx_recurrence(op, permute_dimensions(x, (1, 0, 2)), weights, order, activations, direction,
                           initial_state, n_states, **attrs)
    y = permute_dimensions(outs[0], (2, 0, 1, 3))
    return (y,) + tuple(outs[1:])


def onnx_recurrence(op, x, weights, order, activations, direction, initial_state, n_states,
                    sequence_lens=None, **attrs):
    """One ONNX ``op`` (LSTM, GRU, RNN) over the time-major ``x`` (time, batch, features) from
    per-direction Keras weights, with optional int32 ``sequence_lens`` (batch,). Returns the op's
    outputs as it gives them: Y (time, dirs, batch, H), then the final states (dirs, batch, H)."""
    dirs = 2 if direction == "bidirectional" else 1
    units = int(_v(weights[0][1]).shape[0])
    w, r, b = _onnx_weights(weights, order, units)
    states = list(initial_state or [])
    if len(states) > n_states:
        raise ValueError(f"{op} takes at most {n_states} initial state(s), got {len(states)}")
    states += [None] * (n_states - len(states))
    inputs = [x, w, r, b, sequence_lens] + [_state_input(s, dirs) for s in states]
    while inputs[-1] is None:
        inputs.pop()
    return apply(op, inputs, hidden_size=units, direction=direction,
                 **_activation_attrs(activations, dirs), **attrs)


# ------------------------------------------------------------------------------ dropout
def recurrent_dropout_mask(x, width: int, rate: float, seed=None):
    """One Keras dropout mask for a sequence ``x`` (batch, time, features): (batch, width), each
    entry 0 with probability ``rate`` and 1/(1-rate) otherwise, reused at every step."""
    from .random import dropout
    x = _v(x)
    target = gu.shape_tensor([gu.dims(x, 0, 1), int(width)])
    ones = apply("Expand", [gu.scalar(1, x.dtype), target], out_shape=(x.sym_shape[0], int(width)))
    return dropout(ones, rate, seed=seed)


def _gate_blocks(masks, order, gates: int):
    """Per-gate masks in ONNX gate order from Keras's list (Keras gate order); one mask: all gates."""
    masks = list(masks) if isinstance(masks, (list, tuple)) else [masks] * gates
    if len(masks) != gates:
        raise ValueError(f"expected one dropout mask per gate ({gates}), got {len(masks)}")
    return [_v(masks[i]) for i in (order or range(gates))]


def _stacked_rt(r, gates: int, units: int):
    """[G, H, H] the R_k^T, from ONNX's R [G*H, H]."""
    return permute_dimensions(reshape(r, (gates, units, units)), (0, 2, 1))


def _one_direction(state):
    """An initial state (batch, H), given alone or as a list of one (the layers' per-direction form)."""
    if isinstance(state, (list, tuple)):
        if len(state) != 1:
            raise ValueError(f"one direction takes one initial state tensor per state, got {len(state)}")
        state = state[0]
    return _v(state)


def _recurrent_with_dropout(op, x, weights, order, activations, direction, initial_state, n_states,
                            masks, mask=None, **attrs):
    """One direction with Keras dropout masks ``(input masks, state masks)``: each None, one mask,
    or one per gate (Keras gate order). Without state masks the input mask multiplies x and the
    native op runs; with them the recurrence is a `RecurrentScan` (the native ops cannot mask the
    state), which also takes a Keras (batch, time) ``mask``: masked steps keep the state, and their
    output is the state held. Returns what `_recurrent` returns."""
    input_masks, state_masks = masks
    if mask is not None and state_masks is None:
        raise ValueError(f"{op}: a mask goes with state dropout masks here; without them masked "
                         "sequences run the native op with sequence_lens (layers/masked_rnn)")
    if direction not in ("forward", "reverse"):
        raise ValueError(f"{op} with dropout masks runs one direction at a time, got {direction!r}")
    x = _v(x)
    if state_masks is None:
        if isinstance(input_masks, (list, tuple)):
            raise ValueError(f"{op}: one input dropout mask per gate needs state masks too (Keras's "
                             "implementation 1); pass one input mask")
        if input_masks is not None:
            x = x * expand_dims(_v(input_masks), 1)
        return _recurrent(op, x, weights, order, activations, direction, initial_state, n_states, **attrs)
    if weights and not isinstance(weights[0], (list, tuple)):
        weights = [weights]
    units = int(_v(weights[0][1]).shape[0])
    gates = _v(weights[0][1]).shape[1] // units
    w, r, b = (None if t is None else getitem(t, 0) for t in _onnx_weights(weights, order, units))
    xt = permute_dimensions(x, (1, 0, 2))
    reverse = direction == "reverse"
    if reverse:
        xt = apply("ReverseTime", [xt])
    w_blocks = split(w, [units] * gates, axis=0) if gates > 1 else [w]
    if input_masks is None:
        xw = apply("MatMul", [xt, transpose(w)])
    else:
        xw = concatenate([apply("MatMul", [xt * m, transpose(wk)])
                          for m, wk in zip(_gate_blocks(input_masks, order, gates), w_blocks)], axis=-1)
    wb = rb = None
    if b is not None:
        wb, rb = split(b, [gates * units] * 2, axis=0)
        xw = xw + wb
    rmask = concatenate(_gate_blocks(state_masks, order, gates), axis=-1)
    target = gu.shape_tensor([gu.dims(x, 0, 1), units])
    zeros = apply("Expand", [gu.scalar(0, x.dtype), target], out_shape=(x.sym_shape[0], units))
    states = [zeros if s is None else _one_direction(s)
              for s in (list(initial_state or []) + [None] * n_states)[:n_states]]
    act = _activation_attrs(activations, 1)
    step_mask = None
    if mask is not None:
        mask = _v(mask)
        if mask.ndim != 2:
            raise ValueError(f"{op} expects a mask of shape (batch, timesteps), got shape {mask.shape}")
        # broadcast to the sequence's (batch, timesteps): a mask of another length fails here
        keep = apply("Expand", [cast(mask, "bool"), gu.dims(x, 0, 2)], out_shape=x.sym_shape[:2])
        step_mask = expand_dims(transpose(keep), -1)  # (time, batch, 1)
        if reverse:
            step_mask = apply("ReverseTime", [step_mask])
    outs = apply("RecurrentScan", [xw, _stacked_rt(r, gates, units), rb, rmask, states[0],
                                   states[1] if n_states == 2 else None, step_mask],
                 cell=op, hidden_size=units, **act, **attrs)
    y = outs[0]
    if reverse:
        y = apply("ReverseTime", [y])
    y = permute_dimensions(expand_dims(y, 1), (2, 0, 1, 3))
    return (y,) + tuple(expand_dims(s, 0) for s in outs[1:])


# ------------------------------------------------------------------------------ layers' functions
@symbolic
def lstm(x, weights, activation="tanh", recurrent_activation="sigmoid", direction="forward",
         initial_state=None, dropout_masks=None, mask=None):
    """ONNX LSTM from Keras weights: per direction (kernel (in, 4H), recurrent_kernel (H, 4H),
    bias (4H,) or None), gates i, f, c, o. ``initial_state``: [h, c]. Returns (y, h, c).
    ``dropout_masks``: (input masks, state masks) of one direction, and with state masks a Keras
    ``mask``, see `_recurrent_with_dropout`."""
    return _recurrent("LSTM", x, weights, _LSTM_ORDER, (recurrent_activation, activation, activation),
                      direction, initial_state, 2, dropout_masks, mask)


@symbolic
def gru(x, weights, activation="tanh", recurrent_activation="sigmoid", direction="forward",
        initial_state=None, reset_after=True, dropout_masks=None, mask=None):
    """ONNX GRU from Keras weights: per direction (kernel (in, 3H), recurrent_kernel (H, 3H), bias
    (2, 3H) with ``reset_after`` or (3H,) without, or None), gates z, r, h. Returns (y, h)."""
    return _recurrent("GRU", x, weights, None, (recurrent_activation, activation), direction,
                      initial_state, 1, dropout_masks, mask, linear_before_reset=int(bool(reset_after)))


@symbolic
def simple_rnn(x, weights, activation="tanh", direction="forward", initial_state=None, dropout_masks=None,
               mask=None):
    """ONNX RNN from Keras weights: per direction (kernel (in, H), recurrent_kernel (H, H), bias (H,)
    or None). Returns (y, h)."""
    return _recurrent("RNN", x, weights, None, (activation,), direction, initial_state, 1, dropout_masks, mask)


@symbolic
def reverse_time(x):
    """Reverse axis 1 (time) of a batch-major sequence; works for an unknown length."""
    return getitem(x, (slice(None), slice(None, None, -1)))
