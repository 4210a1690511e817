"""Masked sequences for the native ONNX recurrent operators (Keras masking semantics).

Keras skips masked steps: the state is carried unchanged through them, and the output at a masked
step is the output of the last unmasked step before it in processing order (the initial state's
``h`` when there is none), or zeros with ``zero_output_for_mask`` (Bidirectional's setting when it
returns sequences). The ONNX LSTM/GRU/RNN operators only skip steps at the *end* of a sequence
(``sequence_lens``). So, for any mask pattern:

1. compact: each sequence's unmasked steps move to the front, in time order (a permutation of the
   time axis per sequence, applied as one Gather of whole feature rows, which also lays the steps
   out time-major, as the ONNX op reads them); ``lengths`` counts them;
2. run the native op with ``sequence_lens = lengths`` (forward, reverse or both directions; ONNX
   processes a reverse direction from step ``length - 1`` down to 0, and its final states are the
   states at the last valid step);
3. restore: the output at time t is the compacted output at position ``before(t)`` (the unmasked
   steps before t, for an unmasked t), or for a masked t the output of the nearest unmasked step
   before it in processing order: position ``before(t) - 1`` going forwards, ``before(t)`` going
   backwards; none (the initial ``h``, or zeros) when no such step exists.

Everything here is a few integer ops on the (batch, time) mask plus two row Gathers, which replace
the two Transposes the unmasked path has; the gradient flows through Gather (a scatter-add) and
the native op.
"""
from __future__ import annotations

from .. import backend as K
from ..backend import rnn as rnn_backend
from ..ops import grad_utils as gu
from ..ops.trace import apply


def _time_index(mask):
    """0..T-1 as an int32 (1, T) row, for a (batch, T) mask of static or run-time length."""
    steps = apply("Range", [gu.i64(0), gu.dim(mask, 1), gu.i64(1)], length=mask.sym_shape[1])
    return K.expand_dims(K.cast(steps, "int32"), 0)


def _rows(x):
    """(a, b, F) -> (a * b, F): one row per step of each sequence."""
    return K.reshape(x, (-1, x.shape[-1]))


class SequenceMask:
    """The positions of one (batch, time) mask: built once, used to compact the input and to put
    each direction's outputs back at their time steps."""

    def __init__(self, mask, x, what: str):
        if mask.ndim != 2:
            raise ValueError(f"{what} expects a mask of shape (batch, timesteps), got shape {mask.shape}")
        keep = mask if mask.dtype == "bool" else K.cast(mask, "bool")
        # broadcast to the sequence's (batch, timesteps): a mask of another length fails here rather
        # than giving outputs of its length
        self.keep = apply("Expand", [keep, gu.dims(x, 0, 2)], out_shape=x.sym_shape[:2])
        self.ones = K.cast(self.keep, "int32")
        self.before = K.cumsum(self.ones, axis=1, exclusive=True)      # unmasked steps before t
        self.lengths = K.sum(self.ones, axis=1)                         # (batch,) int32
        steps = _time_index(self.keep)
        masked_rank = K.expand_dims(self.lengths, -1) + steps - self.before
        self.destination = K.where(self.keep, self.before, masked_rank)  # t's compacted position
        source = apply("ScatterElements", [K.zeros_like(self.destination), self.destination,
                                           apply("Expand", [steps, K.shape(self.destination)],
                                                 out_shape=self.destination.sym_shape)], axis=1)
        self.source = source                                            # compacted position -> t
        batch = apply("Range", [gu.i64(0), gu.dim(mask, 0), gu.i64(1)], length=mask.sym_shape[0])
        self.batch = K.expand_dims(K.cast(batch, "int32"), -1)         # (batch, 1): 0..B-1
        self.steps = K.cast(gu.dims(mask, 1, 2), "int32")              # (1,): T

    def compact(self, x):
        """Time-major (T, batch, F): each sequence's unmasked steps first, in time order."""
        row = self.batch * self.steps + self.source                     # (batch, T) rows of x
        return K.gather(_rows(x), K.transpose(row))

    def restore(self, y, reverse: bool, initial_h=None, zero_output=False):
        """Outputs (batch, T, H) at their time steps from the time-major compacted outputs ``y``
        (T, batch, H)."""
        if reverse:   # the nearest unmasked step at or after t
            last = K.cast(gu.dims(self.keep, 1, 2), "int32") - 1
            position = K.minimum(self.before, last)
            found = K.less(self.before, K.expand_dims(self.lengths, -1))
        else:         # the nearest unmasked step at or before t
            upto = self.before + self.ones
            position = K.maximum(upto - 1, 0)
            found = K.greater(upto, 0)
        batch_size = K.cast(gu.dims(self.keep, 0, 1), "int32")
        out = K.gather(_rows(y), position * batch_size + self.batch)
        keep = self.keep if zero_output else found
        if initial_h is None or zero_output:
            return out * K.cast(K.expand_dims(keep, -1), y.dtype)
        return K.where(K.expand_dims(keep, -1), out, K.expand_dims(initial_h, 1))

    def final_state(self, state, initial=None):
        """An op's final state, the initial one for a sequence with no unmasked step."""
        if initial is None:
            return state
        return K.where(K.expand_dims(K.greater(self.lengths, 0), -1), state, initial)

    def last_processed(self, reverse: bool):
        """Whether the step processed last (time T-1, or 0 going backwards) is unmasked: (batch, 1)."""
        index = (slice(None), slice(0, 1)) if reverse else (slice(None), slice(-1, None))
        return K.getitem(self.keep, index)


# layer class name -> (ONNX op, Keras->ONNX gate order, number of states)
_OPS = {"SimpleRNN": ("RNN", None, 1), "GRU": ("GRU", None, 1),
        "LSTM": ("LSTM", rnn_backend._LSTM_ORDER, 2)}


def _activations(layer) -> tuple:
    from .. import activations
    act = activations.serialize(layer.activation)
    if type(layer).__name__ == "SimpleRNN":
        return (act,)
    rec = activations.serialize(layer.recurrent_activation)
    return (rec, act, act) if type(layer).__name__ == "LSTM" else (rec, act)


def native_op_with_lengths(layer, x, weights, direction, initial_state, lengths):
    """The layer's ONNX op over time-major ``x`` (T, batch, F) with ``sequence_lens``; returns
    (y (T, dirs, batch, H), *final states (dirs, batch, H)) as the op gives them."""
    op, order, n_states = _OPS[type(layer).__name__]
    extra = {"linear_before_reset": int(bool(layer.reset_after))} if op == "GRU" else {}
    return rnn_backend.onnx_recurrence(op, x, weights, order, _activations(layer), direction, initial_state,
                                       n_states, lengths, **extra)


def _direction(t, axis: int, d: int, count: int):
    """Direction ``d`` of ``axis`` (of size ``count``), that axis dropped."""
    if count == 1:
        return K.squeeze(t, axis)
    return K.getitem(t, (slice(None),) * axis + (d,))


_REVERSE = {"forward": (False,), "reverse": (True,), "bidirectional": (False, True)}


def run_masked(layer, x, layers, direction, initial_state, mask):
    """What ``_RNN._run`` returns (per direction: output, [final states]) for a masked sequence:
    one native op over the compacted steps, outputs restored to their time steps."""
    seq = SequenceMask(mask, x, layer._what())
    y, *states = native_op_with_lengths(layer, seq.compact(x), [lyr._weight_set() for lyr in layers],
                                        direction, initial_state, seq.lengths)
    n = len(layers)
    results = []
    for d, reverse in enumerate(_REVERSE[direction]):
        initial = [s[d] for s in initial_state] if initial_state else [None] * len(states)
        finals = [seq.final_state(_direction(s, 0, d, n), init) for s, init in zip(states, initial)]
        zero = layers[d].zero_output_for_mask
        if layer.return_sequences:
            out = seq.restore(_direction(y, 1, d, n), reverse, initial[0], zero)
        elif zero:  # Keras's last output is the last processed step's, zeroed when that step is masked
            out = finals[0] * K.cast(seq.last_processed(reverse), finals[0].dtype)
        else:
            out = finals[0]
        results.append((out, finals))
    return results
