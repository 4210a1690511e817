"""Recurrent layers: SimpleRNN, GRU, LSTM and the Bidirectional wrapper.

Each call lowers to one ONNX RNN / GRU / LSTM op (Bidirectional: one op with
direction='bidirectional' when its two layers match). Weights keep the Keras layout
(kernel, recurrent_kernel, bias); the backend emits their reordering into ONNX's layout.
"""
from __future__ import annotations

import numpy as np

from .. import activations, initializers
from .. import backend as K
from ._args import positive_int
from .base import Layer
from .core import _pop_alias
from .masked_rnn import run_masked

__all__ = ["SimpleRNN", "GRU", "LSTM", "Bidirectional"]


def _split_inputs(inputs, initial_state):
    """Keras 2 also accepts ``layer([x, h, c])``: the states after the sequence."""
    if isinstance(inputs, (list, tuple)):
        inputs, rest = inputs[0], list(inputs[1:])
        initial_state = rest or initial_state
    if initial_state is not None and not isinstance(initial_state, (list, tuple)):
        initial_state = [initial_state]
    return inputs, None if initial_state is None else list(initial_state)


def _sequence_shape(shape):
    """The (batch, time, features) shape out of a build shape (a list when states are inputs)."""
    if isinstance(shape, list) and shape and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(shape)


def _first_mask(mask):
    """The sequence's mask out of a mask structure (Keras passes one per input: [x, *states])."""
    while isinstance(mask, (list, tuple)):
        mask = mask[0] if mask else None
    return mask


def _pick(t, axis: int, index: int, count: int):
    """Entry ``index`` of ``axis`` (of size ``count``), dropping that axis."""
    if count == 1:
        return K.squeeze(t, axis)
    return K.getitem(t, (slice(None),) * axis + (index,))


class _RNN(Layer):
    """Shared by SimpleRNN, GRU and LSTM: Keras arguments, weights, checks and the call."""

    gates = 1
    state_names = ("h",)
    has_recurrent_activation = True

    def __init__(self, units=None, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False, **kwargs):
        # Keras 1 spellings
        units = _pop_alias(kwargs, units, "output_dim")
        kernel_initializer = _pop_alias(kwargs, None, "init") or kernel_initializer
        recurrent_initializer = _pop_alias(kwargs, None, "inner_init") or recurrent_initializer
        recurrent_activation = _pop_alias(kwargs, None, "inner_activation") or recurrent_activation
        kernel_regularizer = _pop_alias(kwargs, kernel_regularizer, "W_regularizer")
        recurrent_regularizer = _pop_alias(kwargs, recurrent_regularizer, "U_regularizer")
        bias_regularizer = _pop_alias(kwargs, bias_regularizer, "b_regularizer")
        dropout = _pop_alias(kwargs, None, "dropout_W") or dropout
        recurrent_dropout = _pop_alias(kwargs, None, "dropout_U") or recurrent_dropout
        for ignored in ("consume_less", "implementation", "time_major"):
            kwargs.pop(ignored, None)
        zero_output_for_mask = kwargs.pop("zero_output_for_mask", False)
        seed = kwargs.pop("seed", None)  # of the dropout masks
        super().__init__(**kwargs)
        self.seed = None if seed is None else int(seed)
        self.supports_masking = True
        self.zero_output_for_mask = bool(zero_output_for_mask)  # outputs at masked steps: 0, not the last
        what = f"layer '{self.name}' ({type(self).__name__})"
        units = positive_int(units, "the size of the state", what, count="units")
        if stateful:
            raise ValueError(f"{what}: stateful=True is not supported (an exported ONNX graph keeps no "
                             "state between runs); pass the state explicitly with "
                             "initial_state=[...] and read it back with return_state=True")
        for arg, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0 <= float(rate) < 1:
                raise ValueError(f"{what}: {arg} must be in [0, 1), got {rate!r}")
        self.units = int(units)
        self.activation = activations.get(activation, where=what)
        self.recurrent_activation = activations.get(recurrent_activation, where=what)
        for fn in (self.activation, self.recurrent_activation):
            name = activations.serialize(fn)
            try:
                K.rnn_activation(name)
            except ValueError as err:
                raise ValueError(f"{what}: {err}") from None
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, where=what)
        self.recurrent_initializer = initializers.get(recurrent_initializer, where=what)
        self.bias_initializer = initializers.get(bias_initializer, where=what)
        self.kernel_regularizer, self.recurrent_regularizer = kernel_regularizer, recurrent_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint, self.recurrent_constraint = kernel_constraint, recurrent_constraint
        self.bias_constraint = bias_constraint
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)  # no effect at inference
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful, self.unroll = bool(go_backwards), False, bool(unroll)

    # ----------------------------------------------------------------------------- weights
    def _bias_shape(self) -> tuple:
        return (self.gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def build(self, input_shape):
        shape = _sequence_shape(input_shape)
        self._check_sequence_shape(shape)
        n = self.gates * self.units
        self.kernel = self.add_weight("kernel", (shape[-1], n), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            "recurrent_kernel", (self.units, n), initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint)
        self.bias = self.add_weight("bias", self._bias_shape(), initializer=self._bias_init(),
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None
        self.built = True

    def _weight_set(self) -> tuple:
        return (self.kernel, self.recurrent_kernel, self.bias)

    # ----------------------------------------------------------------------------- checks
    def _what(self) -> str:
        return f"layer '{self.name}' ({type(self).__name__})"

    def _check_sequence_shape(self, shape):
        if len(shape) != 3:
            raise ValueError(f"{self._what()} expects a 3D input (batch, timesteps, features), got shape "
                             f"{shape}; for one step per sample add a time axis first, e.g. "
                             f"Reshape((1, {shape[-1] if shape else '...'}))")
        if shape[-1] is None:
            raise ValueError(f"{self._what()} needs the features dimension (last axis) to be known, "
                             f"got input shape {shape}")
        if self.built and shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"{self._what()} was built for {self.kernel.shape[0]} input features, got "
                             f"input shape {shape}; a shared layer needs the same feature size everywhere")

    def _check_states(self, states):
        if states is None:
            return
        names = ", ".join(self.state_names)
        expected = f"a list of {len(self.state_names)} tensor(s) [{names}] of shape (batch, {self.units})"
        if len(states) != len(self.state_names):
            raise ValueError(f"{self._what()} expects initial_state as {expected}, got {len(states)} tensor(s)")
        for s in states:
            if len(s.shape) != 2 or s.shape[-1] not in (None, self.units):
                raise ValueError(f"{self._what()} expects initial_state as {expected}, got a tensor of "
                                 f"shape {s.shape}")

    # ----------------------------------------------------------------------------- call
    def _op(self, x, weights, direction, initial_state, dropout_masks=None, mask=None):
        """The backend recurrence; returns (y (batch, time, dirs, H), *states (dirs, batch, H))."""
        raise NotImplementedError

    # ----------------------------------------------------------------------------- dropout
    def _uses_dropout(self) -> bool:
        return 0.0 < self.dropout < 1.0 or 0.0 < self.recurrent_dropout < 1.0

    def _dropout_masks(self, x):
        """Keras 3's masks for one sequence in training: (input masks, state masks), each None, one
        (batch, n) mask or a list of one per gate (Keras gate order), reused at every step.
        SimpleRNN draws one of each. GRU and LSTM draw one input mask when recurrent_dropout is 0
        (Keras's implementation 2) and one mask per gate for the input and for the state otherwise
        (recurrent_dropout selects implementation 1)."""
        per_gate = self.gates if 0.0 < self.recurrent_dropout < 1.0 and self.gates > 1 else 1

        def draw(width, rate, first):
            if not 0.0 < rate < 1.0:
                return None
            seeds = [None if self.seed is None else self.seed + first + k for k in range(per_gate)]
            masks = [K.recurrent_dropout_mask(x, width, rate, seed) for seed in seeds]
            return masks if per_gate > 1 else masks[0]
        return draw(int(x.shape[-1]), self.dropout, 0), draw(self.units, self.recurrent_dropout, per_gate)

    def _run_with_dropout(self, x, layers, direction, initial_state, mask):
        """`_run` in training with dropout: each direction runs alone with its own layer's masks
        (Keras draws them per layer). Input dropout alone keeps the native op (and masking);
        recurrent dropout runs the backend's Scan form of the recurrence, which takes the Keras mask
        as it is (masked steps keep the state and output the state held)."""
        directions = ("forward", "reverse") if direction == "bidirectional" else (direction,)
        results = []
        for d, (layer, one_direction) in enumerate(zip(layers, directions)):
            states = initial_state and [[s[d]] for s in initial_state]
            input_masks, state_masks = layer._dropout_masks(x)
            if state_masks is None:
                x_dropped = x if input_masks is None else x * K.expand_dims(input_masks, 1)
                results += self._run(x_dropped, [layer], one_direction, states, mask)
                continue
            keep = None if mask is None else K.cast(_first_mask(mask), "bool")
            y, *finals = layer._op(x, [layer._weight_set()], one_direction, states,
                                   dropout_masks=(input_masks, state_masks), mask=keep)
            finals = [_pick(s, 0, 0, 1) for s in finals]
            out = _pick(y, 2, 0, 1) if self.return_sequences else finals[0]
            if keep is not None and layer.zero_output_for_mask:  # else: the state held, as Keras
                if self.return_sequences:
                    keep = K.expand_dims(keep, -1)
                else:  # the last processed step's output
                    last = slice(0, 1) if one_direction == "reverse" else slice(-1, None)
                    keep = K.getitem(keep, (slice(None), last))
                out = out * K.cast(keep, out.dtype)
            results.append((out, finals))
        return results

    def _run(self, x, layers, direction, initial_state=None, mask=None, training=None):
        """Run one op with the weights of ``layers`` (one per direction). ``initial_state``: one list
        of per-direction tensors per state. Returns per direction (output, [final states]), the
        output being the sequence in input time order or the last step. With a (batch, time)
        ``mask``, masked steps are skipped as Keras does (see masked_rnn). In training, dropout
        and recurrent_dropout apply (see `_run_with_dropout`)."""
        if training and any(layer._uses_dropout() for layer in layers):
            return self._run_with_dropout(x, layers, direction, initial_state, mask)
        if mask is not None:
            return run_masked(self, x, layers, direction, initial_state, _first_mask(mask))
        y, *states = self._op(x, [layer._weight_set() for layer in layers], direction, initial_state)
        n = len(layers)
        results = []
        for d in range(n):
            finals = [_pick(s, 0, d, n) for s in states]
            out = _pick(y, 2, d, n) if self.return_sequences else finals[0]
            results.append((out, finals))
        return results

    def call(self, inputs, initial_state=None, mask=None, training=None):
        x, states = _split_inputs(inputs, initial_state)
        self._check_sequence_shape(tuple(x.shape))
        self._check_states(states)
        direction = "reverse" if self.go_backwards else "forward"
        [(out, finals)] = self._run(x, [self], direction, states and [[s] for s in states], mask,
                                    training=training)
        if self.go_backwards and self.return_sequences:
            out = K.reverse_time(out)  # Keras returns the outputs in processing order
        return [out] + finals if self.return_state else out

    def compute_mask(self, inputs, mask=None):
        """Keras: the input mask for the sequence output (None for the last step), none for states."""
        mask = _first_mask(mask)
        out = mask if self.return_sequences else None
        return [out] + [None] * len(self.state_names) if self.return_state else out

    # ----------------------------------------------------------------------------- config
    def _settings(self) -> dict:
        """Constructor arguments as objects (for clones); get_config serializes them."""
        s = {"units": self.units, "activation": self.activation, "use_bias": self.use_bias,
             "kernel_initializer": self.kernel_initializer,
             "recurrent_initializer": self.recurrent_initializer,
             "bias_initializer": self.bias_initializer, "kernel_regularizer": self.kernel_regularizer,
             "recurrent_regularizer": self.recurrent_regularizer,
             "bias_regularizer": self.bias_regularizer, "kernel_constraint": self.kernel_constraint,
             "recurrent_constraint": self.recurrent_constraint, "bias_constraint": self.bias_constraint,
             "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed,
             "return_sequences": self.return_sequences, "return_state": self.return_state,
             "go_backwards": self.go_backwards, "stateful": False, "unroll": self.unroll,
             "zero_output_for_mask": self.zero_output_for_mask, "trainable": self.trainable, "dtype": self.dtype}
        if self.has_recurrent_activation:
            s["recurrent_activation"] = self.recurrent_activation
        return s

    def _op_signature(self) -> dict:
        """What must match for two layers to share one bidirectional op."""
        s = self._settings()
        return {k: (activations.serialize(v) if "activation" in k else v) for k, v in s.items()
                if k in ("units", "activation", "recurrent_activation", "use_bias", "reset_after",
                         "return_sequences", "return_state", "dtype")}

    def _clone(self, **overrides):
        return type(self)(**{**self._settings(), **overrides})

    def get_config(self):
        cfg = {**super().get_config(), **self._settings()}
        for k in ("activation", "recurrent_activation"):
            if k in cfg:
                cfg[k] = activations.serialize(cfg[k])
        for k in ("kernel_initializer", "recurrent_initializer", "bias_initializer"):
            cfg[k] = initializers.serialize(cfg[k])
        return cfg


class SimpleRNN(_RNN):
    """Fully connected RNN: h = activation(x W + h U + b)."""

    has_recurrent_activation = False

    def __init__(self, units=None, activation="tanh", **kwargs):
        kwargs.pop("recurrent_activation", None)
        kwargs.pop("inner_activation", None)
        super().__init__(units, activation=activation, **kwargs)

    def _op(self, x, weights, direction, initial_state, dropout_masks=None, mask=None):
        return K.simple_rnn(x, weights, activation=activations.serialize(self.activation),
                            direction=direction, initial_state=initial_state, dropout_masks=dropout_masks,
                            mask=mask)


class GRU(_RNN):
    """Gated recurrent unit (Keras gate order z, r, h). ``reset_after=True`` (Keras 2.3+/3 default)
    has a (2, 3H) bias [input; recurrent]; ``reset_after=False`` the Keras 1/2 (3H,) bias."""

    gates = 3

    def __init__(self, units=None, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _op(self, x, weights, direction, initial_state, dropout_masks=None, mask=None):
        return K.gru(x, weights, activation=activations.serialize(self.activation),
                     recurrent_activation=activations.serialize(self.recurrent_activation),
                     direction=direction, initial_state=initial_state, reset_after=self.reset_after,
                     dropout_masks=dropout_masks, mask=mask)

    def _settings(self):
        return {**super()._settings(), "reset_after": self.reset_after}


class LSTM(_RNN):
    """Long short-term memory (Keras gate order i, f, c, o); states [h, c]."""

    gates = 4
    state_names = ("h", "c")

    def __init__(self, units=None, unit_forget_bias=True, **kwargs):
        kwargs.pop("forget_bias_init", None)  # Keras 1; the forget-gate bias follows unit_forget_bias
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        init, h = self.bias_initializer, self.units

        def bias_with_unit_forget_gate(shape, dtype="float32"):
            return np.concatenate([init((h,), dtype), np.ones((h,), dtype), init((2 * h,), dtype)])
        return bias_with_unit_forget_gate

    def _op(self, x, weights, direction, initial_state, dropout_masks=None, mask=None):
        return K.lstm(x, weights, activation=activations.serialize(self.activation),
                      recurrent_activation=activations.serialize(self.recurrent_activation),
                      direction=direction, initial_state=initial_state, dropout_masks=dropout_masks,
                      mask=mask)

    def _settings(self):
        return {**super()._settings(), "unit_forget_bias": self.unit_forget_bias}


# ------------------------------------------------------------------------------------- Bidirectional
MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Runs a copy of ``layer`` forwards and one backwards over the sequence and merges the outputs.

    The backward output (with return_sequences) is re-aligned with the input time order, as in
    Keras; ``merge_mode=None`` returns [forward, backward]; with return_state the result is the
    output(s) followed by the forward then the backward states. Weights: forward then backward."""

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, _RNN):
            raise TypeError(f"Bidirectional wraps a SimpleRNN, GRU or LSTM layer, got {type(layer).__name__}")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"Bidirectional merge_mode must be one of {MERGE_MODES}, got {merge_mode!r}")
        if layer._batch_input_shape is not None and not {"input_shape", "batch_input_shape", "batch_shape",
                                                          "input_dim"} & set(kwargs):
            kwargs["batch_input_shape"] = layer._batch_input_shape
        super().__init__(weights=weights, **kwargs)
        self.forward_layer = layer._clone(name=f"forward_{layer.name}")
        if backward_layer is None:
            backward_layer = layer._clone(name=f"backward_{layer.name}", go_backwards=not layer.go_backwards)
        self._check_backward(layer, backward_layer)
        self.backward_layer = backward_layer
        for sub in (self.forward_layer, self.backward_layer):  # Keras: zero outputs at masked steps
            sub.zero_output_for_mask = sub.return_sequences  # when returning sequences
        self.supports_masking = True
        self.merge_mode = merge_mode
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state

    def _check_backward(self, layer, backward):
        what = f"Bidirectional layer '{self.name}'"
        if not isinstance(backward, _RNN):
            raise TypeError(f"{what}: backward_layer must be a SimpleRNN, GRU or LSTM layer, "
                            f"got {type(backward).__name__}")
        if backward.go_backwards == layer.go_backwards:
            raise ValueError(f"{what}: backward_layer must have go_backwards={not layer.go_backwards} "
                             f"(the opposite of the forward layer)")
        for attr in ("return_sequences", "return_state"):
            if getattr(backward, attr) != getattr(layer, attr):
                raise ValueError(f"{what}: backward_layer must have the same {attr} as the forward layer "
                                 f"({getattr(layer, attr)})")

    def build(self, input_shape):
        shape = _sequence_shape(input_shape)
        for layer in (self.forward_layer, self.backward_layer):
            if not layer.built:
                layer.build(shape)
        self.built = True

    def _fusable(self) -> bool:
        fw, bw = self.forward_layer, self.backward_layer
        return (type(fw) is type(bw) and not fw.go_backwards and bw.go_backwards
                and fw._op_signature() == bw._op_signature())

    def call(self, inputs, initial_state=None, mask=None, training=None):
        x, states = _split_inputs(inputs, initial_state)
        fw, bw = self.forward_layer, self.backward_layer
        fw_states = bw_states = None
        if states is not None:
            n_fw, n_bw = len(fw.state_names), len(bw.state_names)
            if len(states) != n_fw + n_bw:
                raise ValueError(f"Bidirectional layer '{self.name}' expects initial_state as {n_fw + n_bw} "
                                 f"tensors (forward {list(fw.state_names)} then backward "
                                 f"{list(bw.state_names)}), got {len(states)}")
            fw_states, bw_states = states[:n_fw], states[n_fw:]
        if self._fusable():
            for layer, s in ((fw, fw_states), (bw, bw_states)):
                layer._check_sequence_shape(tuple(x.shape))
                layer._check_states(s)
            both = None if states is None else [[f, b] for f, b in zip(fw_states, bw_states)]
            (y_fw, s_fw), (y_bw, s_bw) = fw._run(x, [fw, bw], "bidirectional", both, mask, training=training)
        else:
            (y_fw, s_fw), (y_bw, s_bw) = (self._call_one(layer, x, s, mask) for layer, s in
                                          ((fw, fw_states), (bw, bw_states)))
            if self.return_sequences:
                y_bw = K.reverse_time(y_bw)
        out = self._merge(y_fw, y_bw)
        if self.return_state:
            return out + s_fw + s_bw if isinstance(out, list) else [out] + s_fw + s_bw
        return out

    @staticmethod
    def _call_one(layer, x, states, mask):
        result = layer(x, initial_state=states, mask=_first_mask(mask))
        return (result[0], list(result[1:])) if layer.return_state else (result, [])

    def compute_mask(self, inputs, mask=None):
        """Keras: the input mask for each sequence output (None for last steps), none for states."""
        mask = _first_mask(mask) if self.return_sequences else None
        out = [mask, mask] if self.merge_mode is None else [mask]
        if self.return_state:
            out += [None] * (len(self.forward_layer.state_names) + len(self.backward_layer.state_names))
        return out if len(out) > 1 else out[0]

    def _merge(self, a, b):
        mode = self.merge_mode
        if mode == "concat":
            return K.concatenate([a, b], axis=-1)
        if mode == "sum":
            return a + b
        if mode == "mul":
            return a * b
        if mode == "ave":
            return (a + b) / 2
        return [a, b]

    def get_config(self):
        def wrap(layer):
            return {"class_name": type(layer).__name__, "config": layer.get_config()}
        return {**super().get_config(), "layer": wrap(self.forward_layer), "merge_mode": self.merge_mode,
                "backward_layer": wrap(self.backward_layer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        classes = {c.__name__: c for c in (SimpleRNN, GRU, LSTM)}

        def unwrap(spec, prefix):
            cfg = dict(spec["config"])
            name = cfg.pop("name", "")
            cfg["name"] = name[len(prefix):] if name.startswith(prefix) else None
            return classes[spec["class_name"]].from_config(cfg)
        layer = unwrap(config.pop("layer"), "forward_")
        backward = config.pop("backward_layer", None)
        return cls(layer, backward_layer=backward and unwrap(backward, ""), **config)
