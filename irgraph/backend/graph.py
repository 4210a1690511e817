"""Keras 2's graph-mode backend: placeholders, variables, constants, symbolic gradients, updates
and the learning phase, as functional-API tensors (`K.function` in `backend/graph_function.py` runs them).

Everything here is a node of the functional graph, so the ordinary machinery (lowering by tracing,
shape inference, autodiff, emission) handles it:

* ``K.placeholder`` is an `InputLayer` output (``Input(batch_shape=shape)``), marked as a backend
  placeholder;
* ``K.variable`` is a `VariableTensor`: a weight-store `Variable` (one owner of its value) that is
  also the output tensor of a `VariableLayer`, a call with no inputs that traces to the weight node;
* ``K.constant`` (and ``K.arange``, ``K.random_*``) outside a trace is the output of a
  `SourceLayer`, a call with no inputs traced when lowered;
* ``K.gradients`` on functional tensors records a `GradientsLayer` call that reads the loss and the
  tensors it differentiates against; lowered, it calls `irgraph.passes.autodiff.gradients` on the Values
  those tensors already have in the traced graph, so the forward is traced once and shared with
  every other output. Passes know no models and ops know no layers: the layer only connects the two.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..layers.base import Layer, Node, _Slot
from ..ops.base import FLOAT_DTYPES, Op, register
from ..ops.trace import Value, active, apply, constant as trace_constant, current, to_value
from ..tensor import KerasTensor
from ..variables import Variable, assign_all
from . import config

__all__ = ["placeholder", "variable", "constant", "is_placeholder", "is_keras_tensor", "is_variable",
           "get_value", "set_value", "batch_get_value", "batch_set_value", "eval", "count_params",
           "gradients", "stop_gradient", "update", "update_add", "update_sub", "moving_average_update",
           "learning_phase", "set_learning_phase", "clear_session", "in_train_phase", "in_test_phase", "Update",
           "VariableTensor", "zeros", "ones", "eye", "random_normal_variable", "random_uniform_variable"]


# ------------------------------------------------------------------------------- learning phase
class LearningPhase(int):
    """What ``K.learning_phase()`` returns outside a trace when no phase was set: the integer 0
    (inference), which `K.function` also recognises in its inputs as "the learning phase is fed at
    each call" (0: inference, 1: training), as Keras 2's learning-phase placeholder."""

    def __new__(cls):
        return super().__new__(cls, 0)

    def __repr__(self) -> str:
        return "<learning_phase placeholder>"


LEARNING_PHASE = LearningPhase()
_phase = {"value": None}  # set by set_learning_phase


def learning_phase():
    """1 while tracing a training graph, 0 while tracing an inference graph; outside a trace the
    value given to `set_learning_phase`, else the learning-phase placeholder (an int 0 that
    `K.function` accepts as an input)."""
    if active():
        return int(current().training)
    return LEARNING_PHASE if _phase["value"] is None else _phase["value"]


def set_learning_phase(value) -> None:
    """Fix the learning phase (0 or 1) for the `K.function`s built from now on."""
    if value not in (0, 1):
        raise ValueError(f"set_learning_phase expects 0 (test) or 1 (train), got {value!r}")
    _phase["value"] = int(value)


def clear_session() -> None:
    """Reset automatic layer names and the learning phase (as Keras's clear_session does)."""
    config.clear_session()
    _phase["value"] = None


def default_phase() -> int:
    return 0 if _phase["value"] is None else _phase["value"]


def in_train_phase(x, alt, training=None):
    """``x`` in training graphs, ``alt`` in inference graphs (decided when the graph is traced)."""
    if training is None:
        training = learning_phase()
    chosen = x if training else alt
    return chosen() if callable(chosen) else chosen


def in_test_phase(x, alt, training=None):
    return in_train_phase(alt, x, training)


# ------------------------------------------------------------------------------- placeholders
def placeholder(shape=None, ndim=None, dtype=None, sparse=False, name=None):
    """A tensor fed at each `K.function` call (Keras 2 ``K.placeholder``): ``shape`` includes the
    batch axis (None for unknown dims), or ``ndim`` unknown dims."""
    from ..layers.input_layer import InputLayer
    if sparse:
        raise ValueError("K.placeholder(sparse=True) is not supported: irgraph has no sparse tensors")
    if shape is None:
        if ndim is None:
            raise ValueError("K.placeholder needs a shape (including the batch axis) or an ndim")
        shape = (None,) * int(ndim)
    layer = InputLayer(batch_shape=tuple(shape), dtype=dtype or config.floatx(),
                       name=name or config.unique_name("placeholder"))
    layer.is_backend_placeholder = True
    return layer.output


def is_placeholder(x) -> bool:
    """Whether ``x`` is fed from outside: a `K.placeholder` or an `Input`."""
    from ..layers.input_layer import InputLayer
    if not isinstance(x, KerasTensor) or x._keras_history is None:
        return False
    node = x.node
    return isinstance(node.layer, InputLayer) and not node.input_tensors


# ------------------------------------------------------------------------------- variables
class VariableLayer(Layer):
    """A call with no inputs whose output is a variable's value (the weight node when lowered).
    The variable is the layer's weight, so a model built on it holds it (its ``predict`` session
    follows `K.set_value`), as tf.keras tracks the variables its op layers read; a model built
    from ``Input(tensor=...)`` starts after it and does not (Keras 2's applications)."""

    _drops_masks_silently = True

    def __init__(self, var: Variable, output: KerasTensor):
        super().__init__(name=config.unique_name("variable"))
        self.var = var
        self._weights.append(var)
        self.built = True
        self._inbound_nodes.append(Node(self, ((), (), {}), [], [output], _Slot(0)))

    def call(self, inputs=None):
        return to_value(self.var)

    def get_config(self) -> dict:
        raise TypeError(f"a model reading the K.variable '{self.var.path}' cannot be saved as a config: "
                        "make the value a layer weight (add_weight) or an Input instead")


class VariableTensor(KerasTensor, Variable):
    """What ``K.variable`` returns: a weight-store `Variable` (its value has one owner; `K.set_value`
    writes through it) that is also a functional tensor, so it enters expressions, layer calls and
    `K.function`s like a placeholder, and traced code (a Lambda reading it) sees the weight."""

    def __init__(self, value, dtype: str, name: str, constraint=None):
        Variable.__init__(self, np.asarray(value, dtype=dtype), name=name, constraint=constraint)
        self._keras_mask = None
        self._keras_history = (VariableLayer(self, self), 0, 0)

    def __repr__(self) -> str:
        return f"<K.variable '{self.path}' shape={self.shape} dtype={self.dtype}>"


def variable(value, dtype=None, name=None, constraint=None):
    """A variable (Keras 2 ``K.variable``) holding a copy of ``value``, of ``dtype`` (floatx by
    default). Use it in expressions and layer calls like a tensor; read it with `get_value` or
    `eval`, change it with `set_value` or a `K.function`'s ``updates``."""
    arr = np.array(value.numpy() if isinstance(value, Variable) else value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"K.variable needs numbers, got an array of dtype {arr.dtype}")
    dtype = np.dtype(dtype or (config.floatx() if arr.dtype.kind == "f" or arr.dtype == np.float64
                               else arr.dtype)).name
    return VariableTensor(arr, dtype, name or config.unique_name("variable"), constraint)


def is_variable(x) -> bool:
    return isinstance(x, Variable)


_store_tensors: dict = {}  # id(Variable) -> (Variable, its functional tensor), for weights used in updates


def variable_tensor(var: Variable) -> KerasTensor:
    """The functional tensor of a weight-store variable (a layer weight used in an update)."""
    if isinstance(var, VariableTensor):
        return var
    known = _store_tensors.get(id(var))
    if known is not None and known[0] is var:
        return known[1]
    t = KerasTensor(var.shape, var.dtype, name=var.path)
    t._keras_history = (VariableLayer(var, t), 0, 0)
    _store_tensors[id(var)] = (var, t)
    return t


def zeros(shape, dtype=None, name=None):
    """A variable of zeros (Keras 2 ``K.zeros``)."""
    return variable(np.zeros(tuple(shape), dtype=dtype or config.floatx()), dtype, name)


def ones(shape, dtype=None, name=None):
    return variable(np.ones(tuple(shape), dtype=dtype or config.floatx()), dtype, name)


def eye(size, dtype=None, name=None):
    n, m = (size, size) if isinstance(size, numbers.Integral) else tuple(size)
    return variable(np.eye(n, m, dtype=dtype or config.floatx()), dtype, name)


def random_uniform_variable(shape, low, high, dtype=None, name=None, seed=None):
    rng = np.random.default_rng(seed)
    return variable(rng.uniform(low, high, size=tuple(shape)), dtype, name)


def random_normal_variable(shape, mean, scale, dtype=None, name=None, seed=None):
    rng = np.random.default_rng(seed)
    return variable(rng.normal(mean, scale, size=tuple(shape)), dtype, name)


# ------------------------------------------------------------------------------- constants
class SourceLayer(Layer):
    """A call with no inputs whose output is what ``fn()`` traces to: ``K.constant``, ``K.arange``
    or ``K.random_normal`` called outside a trace with no functional tensor to start from."""

    _drops_masks_silently = True

    def __init__(self, fn, spec, name=None):
        super().__init__(name=name)
        self.fn = fn
        self.built = True
        out = KerasTensor(tuple(d if isinstance(d, int) else None for d in spec.shape), spec.dtype,
                          name=self.name, history=(self, 0, 0))
        self._inbound_nodes.append(Node(self, ((), (), {}), [], [out], _Slot(0)))

    def call(self, inputs=None):
        return self.fn()

    @property
    def output(self):
        return self._inbound_nodes[0].output_tensors[0]

    def get_config(self) -> dict:
        raise TypeError(f"a model reading the backend tensor '{self.name}' cannot be saved as a config")


def source_tensor(fn, base_name: str, name=None) -> KerasTensor:
    """A functional tensor computed by ``fn`` (backend calls, no inputs): traced once now in a
    scratch graph for its shape and dtype, again when a K.function or model is lowered."""
    from ..ir import Graph
    from ..ops.trace import tracing
    with tracing(Graph("scratch")):
        spec = to_value(fn()).spec
    return SourceLayer(fn, spec, name or config.unique_name(base_name)).output


def constant(value, dtype=None, shape=None, name=None):
    """A constant tensor (Keras 2 ``K.constant``): a constant node while tracing, else a functional
    tensor. A scalar ``value`` with a ``shape`` fills that shape."""
    arr = np.asarray(value, dtype=dtype or config.floatx())
    if shape is not None:
        arr = np.broadcast_to(arr, tuple(shape)).copy() if arr.size == 1 else arr.reshape(tuple(shape))
    if active():
        return trace_constant(arr)
    return source_tensor(lambda: trace_constant(arr), "constant", name)


def is_keras_tensor(x) -> bool:
    """Keras 2's test: True for tensors made by layers from `Input`s (they have a Keras history);
    False for placeholders, variables, constants and backend expressions of only those (Keras
    applications wrap such a tensor with ``Input(tensor=...)``)."""
    if not isinstance(x, KerasTensor) or x._keras_history is None:
        return False
    from ..layers.core import OpLayer
    stack, seen = [x], set()
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        layer = t._keras_history[0]
        if isinstance(layer, (VariableLayer, SourceLayer)) or getattr(layer, "is_backend_placeholder", False):
            continue
        if not isinstance(layer, OpLayer):
            return True
        stack.extend(t.node.all_input_tensors)
    return False


# ------------------------------------------------------------------------------- values
def _as_variable(x, fn: str) -> Variable:
    if isinstance(x, Variable):
        return x
    raise TypeError(f"{fn} needs a variable (from K.variable, or a layer weight), got "
                    f"{type(x).__name__}; to compute a tensor's value use K.eval or a K.function")


def get_value(x) -> np.ndarray:
    """The current value of a variable, as a numpy array (a copy); a plain number or array (an
    optimizer's ``lr``, which irgraph keeps as a number) comes back as an array."""
    if isinstance(x, (numbers.Number, np.ndarray, np.number)):
        return np.array(x)
    return np.array(_as_variable(x, "K.get_value").numpy())


def batch_get_value(xs) -> list:
    return [get_value(x) for x in xs]


def set_value(x, value) -> None:
    """Write ``value`` into a variable through the weight store (every K.function, model and
    training session reading it sees the new value from its next call on)."""
    if isinstance(x, numbers.Number):
        raise TypeError(f"K.set_value got the number {x!r}, not a variable: a number cannot be changed in place. "
                        "For an optimizer's learning rate assign the attribute: model.optimizer.learning_rate = value")
    _as_variable(x, "K.set_value").assign(value)


def batch_set_value(tuples) -> None:
    """``[(variable, value), ...]``, assigned as one update."""
    pairs = [(_as_variable(x, "K.batch_set_value"), v) for x, v in tuples]
    assign_all(pairs)


def eval(x):  # noqa: A001 - Keras's name
    """The value of a variable or of a tensor that needs no fed input (Keras 2 ``K.eval``)."""
    if isinstance(x, Variable):
        return get_value(x)
    if isinstance(x, KerasTensor):
        from .graph_function import function
        return function([], [x])([])[0]
    if isinstance(x, Value):
        raise TypeError("K.eval cannot evaluate a tensor inside a traced call; return it from the call")
    return np.asarray(x)


def count_params(x) -> int:
    """The number of scalars in a variable (or a tensor of static shape)."""
    shape = x.shape
    if any(d is None for d in shape):
        raise ValueError(f"count_params: {x!r} has unknown dims {tuple(shape)}")
    return int(np.prod(shape, dtype=np.int64))


# ------------------------------------------------------------------------------- updates
class Update:
    """One variable update for `K.function`'s ``updates`` (what `update`, `update_add`, `update_sub`
    and `moving_average_update` return). ``kind``: "assign", "add" or "sub"."""

    __slots__ = ("variable", "kind", "value")

    def __init__(self, var, kind: str, value):
        self.variable = _as_variable(var, f"K.update{'' if kind == 'assign' else '_' + kind}")
        self.kind, self.value = kind, value

    def __repr__(self) -> str:
        return f"<Update {self.kind} {self.variable.path}>"


def update(x, new_x):
    return Update(x, "assign", new_x)


def update_add(x, increment):
    return Update(x, "add", increment)


def update_sub(x, decrement):
    return Update(x, "sub", decrement)


def moving_average_update(x, value, momentum):
    """``x = x * momentum + value * (1 - momentum)`` (Keras 2 without TensorFlow's zero-debiasing)."""
    var = _as_variable(x, "K.moving_average_update")
    return Update(var, "assign", variable_tensor(var) * momentum + value * (1.0 - momentum))


# ------------------------------------------------------------------------------- stop_gradient
@register
class StopGradient(Op):
    """Identity forward, no gradient backward (Keras ``K.stop_gradient``)."""

    name = "StopGradient"
    onnx_type = "Identity"

    def infer(self, attrs, ins):
        return [ins[0]]

    def compute(self, attrs, x):
        return (x,)

    def vjp(self, attrs, ins, outs, grads):
        return [None]


def _stop_gradient_one(x):
    return apply("StopGradient", [x])


_stop_gradient_one.__name__ = _stop_gradient_one.__qualname__ = "stop_gradient"  # names its op layers


def stop_gradient(variables):
    """``variables`` (a tensor or a list of tensors) with no gradient flowing back through them."""
    from .math import symbolic
    one = symbolic(_stop_gradient_one)
    if isinstance(variables, (list, tuple)):
        return [one(v) for v in variables]
    return one(variables)


# ------------------------------------------------------------------------------- gradients
def _total_loss(values: list):
    """The sum of the losses, each summed over its entries first (TensorFlow's ``tf.gradients``)."""
    total = None
    for v in values:
        v = to_value(v)
        s = apply("ReduceSum", [v], axes=None, keepdims=False) if v.ndim else v
        total = s if total is None else total + s
    return total


def traced_gradients(losses: list, wrt: list) -> list:
    """Gradients of the summed ``losses`` w.r.t. the Values (or Variables) ``wrt``, in a trace."""
    from irgraph.passes.autodiff import gradients as _gradients
    values = [to_value(v) for v in losses]
    if any(v.graph is not values[0].graph for v in values):
        raise ValueError("gradients(): all losses must be tensors of the same traced graph")
    return _gradients(_total_loss(values), [to_value(w) for w in wrt])


class GradientsLayer(Layer):
    """The call `K.gradients` records on functional tensors: its inputs are the losses then the
    tensors it differentiates against; variables it differentiates against are read as weights.
    Its outputs are the gradients that exist (``present``); lowered, it runs reverse-mode autodiff
    on the Values the traced graph already has, so the forward pass is shared."""

    _drops_masks_silently = True

    def __init__(self, n_losses: int, wrt: list, present: list):
        super().__init__(name=config.unique_name("gradients"))
        self.n_losses = n_losses
        self.wrt = wrt  # per target: ("tensor", index among the inputs) or ("variable", Variable)
        self.present = present
        self.built = True

    def call(self, inputs):
        losses = inputs[:self.n_losses]
        targets = [inputs[self.n_losses + ref] if kind == "tensor" else ref
                   for (kind, ref), keep in zip(self.wrt, self.present) if keep]
        grads = traced_gradients(losses, targets)
        # a gradient found when K.gradients was called but not when lowered (the learning phase
        # changed the graph) is zero
        return [g if g is not None else to_value(t) * 0 for g, t in zip(grads, targets)]

    def record(self, tensors: list, specs: list) -> list:
        index = len(self._inbound_nodes)
        outs = [KerasTensor(shape, dtype, name=f"{self.name}/{index}/{i}", history=(self, index, i))
                for i, (shape, dtype) in enumerate(specs)]
        template = ([_Slot(i) for i in range(len(tensors))], (), {})
        self._inbound_nodes.append(Node(self, template, tensors, outs, [_Slot(i) for i in range(len(outs))]))
        return outs

    def get_config(self) -> dict:
        raise TypeError("a model reading K.gradients cannot be saved as a config")


def _has_functional(obj) -> bool:
    items = obj if isinstance(obj, (list, tuple)) else [obj]
    return any(isinstance(o, KerasTensor) for o in items)


def gradients(loss, variables):
    """The gradients of ``loss`` w.r.t. each of ``variables`` (Keras 2 ``K.gradients``).

    ``loss``: a tensor or a list of tensors; as in TensorFlow, a non-scalar loss (and a list) is
    summed first. ``variables``: a tensor or a list of them: variables (``K.variable``, layer
    weights), placeholders, model inputs or any intermediate tensor of a functional graph (a
    layer's output). Returns a list with one gradient per variable, shaped like it, or **None**
    where ``loss`` does not depend on it (as Keras does); the gradient w.r.t. an intermediate
    tensor is the one through the paths that start at that tensor.

    Works on functional tensors (the result is a functional tensor for `K.function`) and inside
    traced code (a Lambda, a custom layer's ``call``, a custom loss).
    """
    losses = list(loss) if isinstance(loss, (list, tuple)) else [loss]
    targets = list(variables) if isinstance(variables, (list, tuple)) else [variables]
    if not losses:
        raise ValueError("K.gradients needs at least one loss tensor")
    if not targets:
        return []
    if not _has_functional(losses) and not _has_functional(targets):
        if not active():
            raise RuntimeError("K.gradients needs symbolic tensors: functional tensors (placeholders, "
                               "variables, layer outputs) or tensors of a traced call")
        return traced_gradients(losses, targets)
    return _functional_gradients(losses, targets)


def _functional_gradients(losses: list, targets: list) -> list:
    for i, t in enumerate(losses):
        if not isinstance(t, KerasTensor):
            raise TypeError(f"K.gradients: loss {i} is a {type(t).__name__}; with functional tensors every "
                            "loss must be a functional tensor (a placeholder, variable or layer output)")
        if t.dtype not in FLOAT_DTYPES:
            raise TypeError(f"K.gradients: loss {i} ({t.name}) has dtype {t.dtype}; a loss must be float")
    for i, w in enumerate(targets):
        if not isinstance(w, (KerasTensor, Variable)):
            raise TypeError(f"K.gradients: variables[{i}] is a {type(w).__name__}; expected a variable, "
                            "a placeholder or a functional tensor")
    from .graph_function import dependent_targets
    present = dependent_targets(losses, targets)
    if not any(present):
        return [None] * len(targets)
    refs, tensors = [], list(losses)  # the call reads the losses, then the tensors with a gradient
    for w, keep in zip(targets, present):
        if keep and isinstance(w, KerasTensor):
            refs.append(("tensor", len(tensors) - len(losses)))
            tensors.append(w)
        else:
            refs.append(("variable", w))  # read as a weight (or unused, when it has no gradient)
    layer = GradientsLayer(len(losses), refs, present)
    specs = [(tuple(w.shape), w.dtype) for w, keep in zip(targets, present) if keep]
    outs = iter(layer.record(tensors, specs))
    return [next(outs) if keep else None for keep in present]
