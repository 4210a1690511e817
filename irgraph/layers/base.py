"""`Layer`: lazy build, weights, call recording (nodes), and tracing into primitive ops.

Calling a layer on functional tensors records a `Node` and computes the output shapes by tracing
``call`` into a scratch graph, so custom layers and Lambdas need no output-shape code. Calling it on
symbolic `Value`s (inside another layer's call, or during lowering) traces it directly. Calling it
on numpy arrays runs it eagerly through onnxruntime.
"""
from __future__ import annotations

import functools
import inspect
import re
import warnings
from typing import NamedTuple

import numpy as np

from .. import initializers as init_mod
from ..backend import config
from ..ops.base import ShapeError, Spec
from ..ops.trace import Value, current, scope, tracing
from ..tensor import KerasTensor
from .. import variables as store
from ..variables import Variable
from .input_spec import InputSpec, assert_input_compatibility  # noqa: F401 (InputSpec: Keras 1/2 import path)


def _fmt(shape) -> str:
    if isinstance(shape, list):
        return "[" + ", ".join(_fmt(s) for s in shape) + "]"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _snake(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()
    return s.replace("__", "_")


# --------------------------------------------------------------------------------- structures
class _Slot:
    """Placeholder for a tensor inside a call-argument template."""

    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i


def flatten(obj, is_leaf) -> tuple[list, object]:
    """Split a nest of lists/tuples/dicts into its leaves (as selected by ``is_leaf``) and a template."""
    leaves: list = []

    def walk(o):
        if is_leaf(o):
            leaves.append(o)
            return _Slot(len(leaves) - 1)
        if isinstance(o, list):
            return [walk(v) for v in o]
        if isinstance(o, tuple):
            return tuple(walk(v) for v in o)
        if isinstance(o, dict):
            return {k: walk(v) for k, v in o.items()}
        return o

    return leaves, walk(obj)


def rebuild(template, leaves):
    if isinstance(template, _Slot):
        return leaves[template.i]
    if isinstance(template, list):
        return [rebuild(v, leaves) for v in template]
    if isinstance(template, tuple):
        return tuple(rebuild(v, leaves) for v in template)
    if isinstance(template, dict):
        return {k: rebuild(v, leaves) for k, v in template.items()}
    return template


def _is_tensor(o) -> bool:
    return isinstance(o, (KerasTensor, Value))


def _shape_struct(inputs):
    if isinstance(inputs, (list, tuple)):
        return [_shape_struct(i) for i in inputs]
    if isinstance(inputs, dict):  # a layer called on a dict is built on a dict of shapes (Keras 3)
        return {k: _shape_struct(v) for k, v in inputs.items()}
    return tuple(inputs.shape)


class CallArguments(NamedTuple):
    """A call's positional and keyword arguments, tensors in place (Keras 3's ``node.arguments``)."""

    args: tuple
    kwargs: dict


class Node:
    """One call of a layer: the call-argument template, input tensors (flattened) and outputs.

    Masks (Keras's ``_keras_mask``) are tensors of the graph like any other: ``mask_tensors`` are
    the input masks the call read without the user passing them (the ``mask`` argument Keras fills
    in, and the previous mask ``compute_mask`` gets), laid out by ``masking``; the output masks
    follow the outputs in ``output_tensors``, and ``masking.output_masks`` says which output each
    belongs to. ``input_tensors`` and ``template`` stay what the user passed (saved configs)."""

    def __init__(self, layer, template, input_tensors, output_tensors, output_template,
                 mask_tensors=(), masking=None):
        self.layer = layer
        self.template = template
        self.input_tensors = list(input_tensors)
        self.output_tensors = list(output_tensors)
        self.output_template = output_template
        self.mask_tensors = list(mask_tensors)
        self.masking = masking or MaskPlan.none()
        for t in self.input_tensors:  # Keras 3: each producer lists the calls that read its tensors
            producer = t._keras_history[0] if getattr(t, "_keras_history", None) else None
            if producer is not None:
                producer.__dict__.setdefault("_outbound_nodes", []).append(self)

    # Keras 3's names for a call: the operation called, whether it is an Input's node, its arguments
    @property
    def operation(self):
        return self.layer

    @property
    def is_input(self) -> bool:
        return not self.input_tensors

    @property
    def arguments(self) -> "CallArguments":
        inputs, args, kwargs = rebuild(self.template, self.input_tensors)
        return CallArguments(args=tuple(args) if self.is_input else (inputs,) + tuple(args), kwargs=dict(kwargs))

    @property
    def all_input_tensors(self) -> list:
        """What the call reads: the user's tensors, then the input masks it was given."""
        return self.input_tensors + self.mask_tensors if self.mask_tensors else self.input_tensors

    @property
    def inputs(self):
        """The first positional argument of the call (tensor or list), as the user passed it."""
        args = rebuild(self.template, self.input_tensors)[0]
        return args

    @property
    def outputs(self):
        return rebuild(self.output_template, self.output_tensors)

    @property
    def input_shapes(self):
        return _shape_struct(self.inputs)

    @property
    def output_shapes(self):
        return _shape_struct(self.outputs)

    @property
    def parent_nodes(self) -> list:
        return [t.node for t in self.all_input_tensors]

    @property
    def index(self) -> int:
        """This call's position in its layer's ``_inbound_nodes`` (O(1): the outputs record it)."""
        layer, i, _ = self.output_tensors[0]._keras_history
        if layer is self.layer and self.layer._inbound_nodes[i] is self:
            return i
        return self.layer._inbound_nodes.index(self)


def _check_array_inputs(layer, inputs) -> None:
    """Keras's errors for a layer called on something that is neither a tensor nor an array (None,
    a string, a Python number or list of numbers)."""
    for x in flatten(inputs, lambda o: not isinstance(o, (list, tuple, dict)))[0]:
        if x is None:
            raise ValueError(f"Inputs to a layer should be tensors. Got 'None' (of type {type(x)}) as input for "
                             f"layer '{layer.name}'. Call it on Input() tensors, another layer's outputs or "
                             "numpy arrays")
        if not (hasattr(x, "__array__") and hasattr(x, "shape")):
            raise ValueError("Only input tensors may be passed as positional arguments. The following argument "
                             f"value should be passed as a keyword argument: {x} (of type {type(x)}). Layer "
                             f"'{layer.name}' ({type(layer).__name__}) is called on Input() tensors, another "
                             "layer's outputs or numpy arrays (np.asarray(...) for Python numbers)")


# --------------------------------------------------------------------------------- the layer
def _recording_build(build):
    """``build`` that first notes the input shape it is given (``_build_shapes``, as Keras's
    ``_build_shapes_dict``), so that a layer built by a direct ``build(shape)`` call, never called,
    still knows its output shape (``summary``)."""
    @functools.wraps(build)
    def recorded(self, *args, **kwargs):
        shape = args[0] if args else next(iter(kwargs.values()), None)
        if shape is not None and "_build_shapes" not in self.__dict__:
            object.__setattr__(self, "_build_shapes", shape)
        return build(self, *args, **kwargs)
    recorded._records_shapes = True
    return recorded


class Layer:
    _call_has_training: dict = {}

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        if not cls.__module__.startswith("irgraph."):  # a user's class: Keras 3's auto-config
            object.__setattr__(obj, "_auto_config", _auto_config(cls, args, kwargs))
        return obj

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_records_shapes", False):
            cls.build = _recording_build(build)

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None, batch_input_shape=None,
                 batch_size=None, input_dim=None, input_length=None, weights=None,
                 activity_regularizer=None, batch_shape=None, autocast=True, **kwargs):
        # autocast: Keras 3's mixed-precision switch, accepted as Keras accepts it (irgraph computes
        # every layer in its own dtype)
        if kwargs:
            bad = ", ".join(sorted(kwargs))
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {bad}")
        object.__setattr__(self, "_sublayers", [])
        self._weights: list[Variable] = []
        self._inbound_nodes: list[Node] = []
        self.built = False
        self._trainable = bool(trainable)
        self.dtype = np.dtype(dtype or config.floatx()).name
        self.input_spec = None
        from .. import regularizers
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._initial_weights = weights
        if name is None:
            name = config.unique_name(self._default_name())
        else:
            config.reserve_name(name)
        self.name = name
        # Keras 1/2 ways of giving the input shape to the first layer of a Sequential
        if input_dim is not None and input_shape is None:
            input_shape = (input_length, input_dim) if input_length is not None else (input_dim,)
        elif input_length is not None and input_shape is None:
            input_shape = (input_length,)
        batch_input_shape = batch_input_shape or batch_shape
        if input_shape is not None and batch_input_shape is None:
            batch_input_shape = (batch_size,) + tuple(input_shape)
        self._batch_input_shape = None if batch_input_shape is None else tuple(batch_input_shape)

    def _default_name(self) -> str:
        return _snake(type(self).__name__)

    # ----------------------------------------------------------------------------- masking
    @property
    def supports_masking(self) -> bool:
        """Whether the layer computes an output mask (Keras 3: set by the layer, else True exactly
        when its class overrides ``compute_mask``). A layer that does not drops its input's mask."""
        value = self.__dict__.get("_supports_masking")
        if value is None:
            return type(self).compute_mask is not Layer.compute_mask
        return value

    @supports_masking.setter
    def supports_masking(self, value) -> None:
        object.__setattr__(self, "_supports_masking", bool(value))

    def compute_mask(self, inputs, mask=None):
        """The output mask(s) from the inputs and the previous mask; by default the previous mask."""
        return mask

    def _mask_sources(self) -> list:
        """Functional tensors ``compute_mask`` reads besides the call's inputs (none by default)."""
        return []

    # attribute tracking: sub-layers assigned as attributes contribute their weights
    def __setattr__(self, key, value):
        if isinstance(value, Layer) and key != "_outer" and hasattr(self, "_sublayers"):
            if value not in self._sublayers and value is not self:
                self._sublayers.append(value)
        object.__setattr__(self, key, value)

    # ----------------------------------------------------------------------------- weights
    def add_weight(self, name=None, shape=None, dtype=None, initializer=None, regularizer=None,
                   trainable=True, constraint=None, **kwargs):
        if isinstance(name, (tuple, list)):  # Keras 1: add_weight(shape, initializer, name=...)
            name, shape, initializer = kwargs.pop("name", None), tuple(name), shape if initializer is None else initializer
        kwargs.pop("use_resource", None)
        kwargs.pop("autocast", None)
        if kwargs:
            raise TypeError(f"layer '{self.name}': add_weight got unexpected arguments {sorted(kwargs)}")
        if shape is None:
            raise ValueError(f"layer '{self.name}': add_weight needs a shape")
        shape = tuple(int(d) for d in shape)
        if any(d is None for d in shape):
            raise ValueError(f"layer '{self.name}': weight {name!r} needs a fully known shape, got {shape}")
        dtype = np.dtype(dtype or self.dtype).name
        init = init_mod.get(initializer if initializer is not None else "glorot_uniform",
                            where=f"layer '{self.name}', weight {name!r}")
        from ..saving import charge_weight
        charge_weight(self.name, name, shape)  # load_model: no weight larger than the file holds
        try:
            value = np.asarray(init(shape, dtype), dtype=dtype)
        except ValueError as err:
            raise ValueError(f"layer '{self.name}', weight {name!r}: {err}") from None
        name = name or f"variable_{len(self._weights)}"
        from .. import regularizers
        var = Variable(value, name=name, layer_name=self.name, trainable=trainable and self._trainable,
                       regularizer=regularizers.get(regularizer), constraint=constraint)
        var._declared_trainable = trainable
        self._weights.append(var)
        return var

    def add_loss(self, loss) -> None:
        """Add a scalar loss term from inside ``call`` (counted in training graphs only)."""
        from ..ops.trace import active, current, to_value
        if not active():
            raise ValueError(f"layer '{self.name}': add_loss works inside call(); a loss on model "
                             "tensors can be written as a Lambda output with its own loss")
        st = current()
        if st.training:
            st.losses.append(to_value(loss))

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._all_layers():
            layer._trainable = bool(value) if layer is not self else layer._trainable
            for v in layer._weights:
                v.trainable = bool(value) and getattr(v, "_declared_trainable", True)

    def _all_layers(self):
        """This layer and its sub-layers, each once, depth first in attribute order (explicit
        stack: nested models of any depth)."""
        seen, out = set(), []
        stack = [self]
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            out.append(layer)
            stack.extend(reversed(layer._sublayers))
        return out

    @property
    def weights(self) -> list[Variable]:
        seen, out = set(), []
        for layer in self._all_layers():
            for v in layer._weights:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def trainable_weights(self) -> list[Variable]:
        return [v for v in self.weights if v.trainable]

    @property
    def non_trainable_weights(self) -> list[Variable]:
        return [v for v in self.weights if not v.trainable]

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def get_weights(self) -> list[np.ndarray]:
        with store.LOCK:  # one consistent set, even while another thread writes
            return [v.numpy().copy() for v in self.weights]

    def set_weights(self, weights) -> None:
        params = self.weights
        weights = list(weights)
        if not self.built and not params:
            raise ValueError(f"layer '{self.name}' has no weights yet: its weights are created when it is "
                             "first called on an input (or by build(input_shape)); call it first")
        if len(weights) != len(params):
            raise ValueError(f"You called `set_weights(weights)` on layer '{self.name}' with a weight list of "
                             f"length {len(weights)}, but the layer was expecting {len(params)} weights. "
                             f"Layer '{self.name}' expects {len(params)} weight arrays "
                             f"({', '.join(v.path + str(v.shape) for v in params) or 'none'}), "
                             f"got {len(weights)}; pass them in the order of layer.weights")
        for v, w in zip(params, weights):
            w = np.asarray(w)
            if w.shape != v.shape:
                raise ValueError(f"Layer {self.name} weight shape {v.shape} is not compatible with provided weight "
                                 f"shape {w.shape}. Layer '{self.name}': weight '{v.path}' has shape {v.shape}, "
                                 f"the provided array has shape {w.shape}")
        store.assign_all(zip(params, weights))

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"layer '{self.name}' is not built yet: call it on an input first "
                             "(its weights depend on the input shape)")
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    # ----------------------------------------------------------------------------- build / call
    def build(self, input_shape) -> None:
        self.built = True

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(f"layer class {type(self).__name__} must define call()")

    def compute_output_shape(self, input_shape):
        """Output shape(s) for an input shape, found by tracing ``call``."""
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        ins = [KerasTensor(tuple(s), self.dtype if self.dtype else "float32") for s in shapes]
        specs = self._scratch_trace(ins if isinstance(input_shape, list) else ins[0], (), {})
        out = [_known(s.shape) for s in specs[0]]
        return out[0] if len(out) == 1 else out

    def _maybe_build(self, inputs) -> None:
        if self.built:
            return
        shapes = _shape_struct(inputs)
        if isinstance(shapes, list) and len(shapes) == 1 and not isinstance(inputs, (list, tuple)):
            shapes = shapes[0]
        try:
            self.build(shapes)
        except (ShapeError,) as err:
            raise ValueError(f"layer '{self.name}' could not be built for input shape {_fmt(shapes)}: {err}") from None
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def _check_input_spec(self, inputs) -> None:
        """Keras's checks of ``self.input_spec`` (an InputSpec or a list of them) on a call."""
        if self.input_spec is not None:
            assert_input_compatibility(self.input_spec, inputs, self.name)

    def _accepts_training(self) -> bool:
        cls = type(self)
        if cls not in Layer._call_has_training:
            params = inspect.signature(cls.call).parameters
            Layer._call_has_training[cls] = "training" in params or any(
                p.kind == p.VAR_KEYWORD for p in params.values())
        return Layer._call_has_training[cls]

    def __call__(self, inputs, *args, **kwargs):
        leaves, _ = flatten((inputs, args, kwargs), _is_tensor)
        if any(isinstance(t, KerasTensor) for t in leaves):
            if any(isinstance(t, Value) for t in leaves):
                raise TypeError(f"layer '{self.name}' was called on a mix of functional-API tensors "
                                "and traced tensors")
            return self._functional_call(inputs, args, kwargs)
        if leaves:
            return self._traced_call(inputs, args, kwargs)
        return self._eager_call(inputs, args, kwargs)

    def _traced_call(self, inputs, args, kwargs, scope_name=None):
        """Run ``call`` on traced Values, recording primitive ops under this layer's scope."""
        st = current()
        with scope(scope_name or self.name):
            self._check_input_spec(inputs)
            self._maybe_build(inputs)
            if self._accepts_training() and kwargs.get("training") is None:  # None: the outer phase
                kwargs = dict(kwargs, training=st.training)
            try:
                out = self.call(inputs, *args, **kwargs)
                if st.training and self.activity_regularizer is not None:
                    for v in flatten(out, lambda o: isinstance(o, Value))[0]:
                        st.losses.append(self.activity_regularizer(v))
                return out
            except ShapeError:
                raise
            except (ValueError, TypeError) as err:
                if str(err).startswith(("Input ", "layer '", "in layer '")):
                    raise
                raise type(err)(f"in layer '{st.scope_name}' ({type(self).__name__}): {err}") from err

    def _call_and_mask(self, inputs, args, kwargs, plan, mask_values, scope_name=None):
        """Trace ``call`` and, where the plan asks, ``compute_mask``: (outputs, flat output masks).

        ``mask_values`` are the traced input masks, in the order of the plan's mask tensors."""
        previous = kwargs.get("mask") if plan.explicit else plan.previous_mask(mask_values)
        if plan.auto_mask:
            kwargs = dict(kwargs, mask=previous)
        out = self._traced_call(inputs, args, kwargs, scope_name=scope_name)
        wanted = plan.output_masks
        if not plan.compute or (wanted is not None and all(i is None for i in wanted)):
            return out, []
        flat_out = flatten(out, lambda o: isinstance(o, Value))[0]
        sources = mask_values[len(plan.tensors) - len(plan.sources):]
        current().mask_sources = dict(zip(map(id, plan.sources), sources))  # read by compute_mask
        with scope(scope_name or self.name):
            masks = self.compute_mask(inputs, previous)
            return out, _flat_masks(self, masks, flat_out)

    def _scratch_trace(self, inputs, args, kwargs, plan=None):
        """Trace this call on fresh inputs in a throwaway graph; return (output specs, template,
        per flat output its mask spec or None)."""
        from ..ir import Graph
        plan = plan or MaskPlan.none()
        leaves, template = flatten((inputs, args, kwargs), lambda o: isinstance(o, KerasTensor))
        g = Graph("scratch")
        with tracing(g, training=False):
            vals = []
            for i, t in enumerate(leaves + plan.tensors):
                shape = tuple(("batch" if a == 0 else f"?{i}_{a}") if d is None else d
                              for a, d in enumerate(t.shape))
                nid = g.add_input(f"x{i}", Spec(shape, t.dtype))
                vals.append(Value(g, nid, 0, g.node(nid)["specs"][0]))
            a_inputs, a_args, a_kwargs = rebuild(template, vals[:len(leaves)])
            out, masks = self._call_and_mask(a_inputs, a_args, a_kwargs, plan, vals[len(leaves):])
        out_leaves, out_template = flatten(out, lambda o: isinstance(o, Value))
        stray = [o for o in flatten(out, lambda o: not isinstance(o, (list, tuple, dict)))[0]
                 if not isinstance(o, Value) and o is not None]
        if not out_leaves or stray:
            raise ValueError(f"layer '{self.name}' ({type(self).__name__}): call() returned "
                             f"{(stray or [out])[0]!r} (of type {type((stray or [out])[0]).__name__}); operation "
                             "outputs must be tensors. Return the results of backend (K) functions or layer "
                             "calls on the inputs")
        masks = masks or [None] * len(out_leaves)
        return [v.spec for v in out_leaves], out_template, [None if m is None else m.spec for m in masks]

    def _functional_call(self, inputs, args, kwargs):
        self._check_input_spec(inputs)
        self._maybe_build(inputs)
        plan = MaskPlan.for_call(self, inputs, kwargs)
        specs, out_template, mask_specs = self._scratch_trace(inputs, args, kwargs, plan)
        leaves, template = flatten((inputs, args, kwargs), lambda o: isinstance(o, KerasTensor))
        node_index = len(self._inbound_nodes)
        outs = [KerasTensor(_known(s.shape), s.dtype, name=f"{self.name}/{node_index}/{i}",
                            history=(self, node_index, i)) for i, s in enumerate(specs)]
        masks, slots = [], []  # each output's mask follows the outputs; slots: where, or None
        for out, m in zip(outs, mask_specs):
            k = len(outs) + len(masks)
            slots.append(None if m is None else k)
            if m is not None:
                out._keras_mask = KerasTensor(_known(m.shape), m.dtype, name=f"{self.name}/{node_index}/{k}",
                                              history=(self, node_index, k))
                masks.append(out._keras_mask)
        plan.output_masks = slots
        self._inbound_nodes.append(Node(self, template, leaves, outs + masks, out_template,
                                        plan.tensors, plan))
        return rebuild(out_template, outs)

    def _trace_node(self, node: Node, values: list, scope_name: str):
        """Lowering entry: re-run a recorded call on traced Values; returns the flat outputs
        followed by the output masks the call recorded."""
        n_user = len(node.input_tensors)
        inputs, args, kwargs = rebuild(node.template, values[:n_user])
        plan = node.masking
        if not plan.tensors and not any(i is not None for i in plan.output_masks or ()):
            out, masks = self._traced_call(inputs, args, kwargs, scope_name=scope_name), []
        else:
            out, masks = self._call_and_mask(inputs, args, kwargs, plan, values[n_user:], scope_name)
        leaves, _ = flatten(out, lambda o: isinstance(o, Value))
        recorded = [m for m, i in zip(masks, plan.output_masks or ()) if i is not None]
        if len(leaves) + len(recorded) != len(node.output_tensors) or None in recorded:
            raise RuntimeError(f"layer '{self.name}' returned {len(leaves)} tensors and "
                               f"{len(recorded)} masks when lowered, {len(node.output_tensors)} in all "
                               "when it was called")
        return leaves + recorded

    def _trace_node_with_masks(self, node: Node, values: list, scope_name: str, masks: dict):
        """`_trace_node` for a call inside a model called on masked tensors: those masks were not
        there when the call was recorded, so Keras's rules are applied here to the traced values.
        ``masks`` maps the id of each functional tensor of the model to its mask; this call adds
        its outputs'. Returns the flat outputs and the masks the call recorded, as `_trace_node`."""
        n_user = len(node.input_tensors)
        inputs, args, kwargs = rebuild(node.template, values[:n_user])
        plan = node.masking
        first = rebuild(node.template, node.input_tensors)[0]
        previous = _map_masks(first, lambda t: masks.get(id(t)))
        if plan.explicit:
            previous = kwargs["mask"]
        elif not flatten(previous, lambda o: isinstance(o, Value))[0]:
            previous = None
        elif _call_accepts(self, "mask"):
            kwargs = dict(kwargs, mask=previous)
        out = self._traced_call(inputs, args, kwargs, scope_name=scope_name)
        flat_out = flatten(out, lambda o: isinstance(o, Value))[0]
        computed = [None] * len(flat_out)
        if self.supports_masking:
            reads = values[n_user:]
            current().mask_sources = dict(zip(map(id, plan.sources), reads[len(reads) - len(plan.sources):]))
            with scope(scope_name):
                computed = _flat_masks(self, self.compute_mask(inputs, previous), flat_out)
        masks.update((id(t), m) for t, m in zip(node.output_tensors, computed) if m is not None)
        recorded = [computed[i] for i, slot in enumerate(plan.output_masks or ()) if slot is not None]
        if None in recorded:
            raise RuntimeError(f"layer '{self.name}' gave no mask for an output that had one when it was "
                               "called; inside a model called on masked tensors its compute_mask must "
                               "give one again")
        return flat_out + recorded

    def _eager_call(self, inputs, args, kwargs):
        """``layer(numpy_array)``: build a one-layer model around the call and run it."""
        from ..models import Model
        from ..tensor import Input
        _check_array_inputs(self, inputs)
        arrays = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        arrays = [np.asarray(a) for a in arrays]
        ins = [Input(batch_shape=(None,) + a.shape[1:], dtype=a.dtype if a.dtype.kind in "iu" else None)
               for a in arrays]
        # the input_spec sees the arrays' own shapes (Keras reports "found shape=(2, 4)")
        given = [KerasTensor(a.shape, t.dtype) for a, t in zip(arrays, ins)]
        self._check_input_spec(given if isinstance(inputs, (list, tuple)) else given[0])
        out = self(ins if isinstance(inputs, (list, tuple)) else ins[0], *args, **kwargs)
        return Model(ins, out).predict_on_batch(arrays if len(arrays) > 1 else arrays[0])

    # ----------------------------------------------------------------------------- node accessors
    def _node_attr(self, attr: str, what: str, accessor: str):
        if not self._inbound_nodes:
            raise AttributeError(f"layer '{self.name}' has never been called and thus has no defined {what}")
        values = [getattr(n, attr) for n in self._inbound_nodes]
        if len(values) == 1 or (attr.endswith("shapes") and all(v == values[0] for v in values)):
            return values[0]
        raise AmbiguousNodeError(
            f"Layer {self.name} has multiple inbound nodes, hence the notion of \"layer {what}\" is "
            f"ill-defined. Use `{accessor}(node_index)` instead.")

    @property
    def input(self):
        return self._node_attr("inputs", "input", "get_input_at")

    @property
    def output(self):
        return self._node_attr("outputs", "output", "get_output_at")

    @property
    def input_shape(self):
        if not self._inbound_nodes and self._batch_input_shape is not None:
            return self._batch_input_shape
        return self._node_attr("input_shapes", "input shape", "get_input_shape_at")

    @property
    def output_shape(self):
        return self._node_attr("output_shapes", "output shape", "get_output_shape_at")

    def _node_at(self, i: int) -> Node:
        if not 0 <= i < len(self._inbound_nodes):
            raise ValueError(f"layer '{self.name}' has {len(self._inbound_nodes)} inbound node(s); "
                             f"asked for node {i}")
        return self._inbound_nodes[i]

    def get_input_at(self, node_index: int):
        return self._node_at(node_index).inputs

    def get_output_at(self, node_index: int):
        return self._node_at(node_index).outputs

    def get_input_shape_at(self, node_index: int):
        return self._node_at(node_index).input_shapes

    def get_output_shape_at(self, node_index: int):
        return self._node_at(node_index).output_shapes

    @property
    def inbound_nodes(self):
        return list(self._inbound_nodes)

    # ----------------------------------------------------------------------------- config
    def get_config(self) -> dict:
        cfg = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self.activity_regularizer is not None:
            cfg["activity_regularizer"] = serialize_regularizer(self.activity_regularizer)
        if self._batch_input_shape is not None:
            cfg["batch_input_shape"] = self._batch_input_shape
        auto = self.__dict__.get("_auto_config")
        if auto is not None and type(self).get_config is Layer.get_config:
            cfg.update(auto)  # a user's class without get_config: its __init__ arguments (Keras 3)
        return cfg

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _auto_config(cls, args, kwargs):
    """Keras 3's auto-config of a user's layer class: the ``__init__`` arguments (defaults filled
    in, ``**kwargs`` spread, ``name`` left to the base config) when all are plain values (numbers,
    strings, None, lists/tuples/dicts of them); None otherwise (such a class needs get_config)."""
    try:
        sig = inspect.signature(cls.__init__)
        bound = sig.bind(None, *args, **kwargs)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    if any(p.kind == p.POSITIONAL_ONLY for p in params[1:]):
        return None
    bound.apply_defaults()
    values = dict(bound.arguments)
    values.pop(params[0].name, None)
    for p in params:
        if p.kind == p.VAR_KEYWORD:
            values.update(values.pop(p.name, {}))
        elif p.kind == p.VAR_POSITIONAL and values.pop(p.name, ()):
            return None
    values.pop("name", None)
    return values if _is_plain_value(values) else None


def _is_plain_value(v) -> bool:
    if v is None or isinstance(v, (bool, int, float, str)):
        return True
    if isinstance(v, (list, tuple)):
        return all(map(_is_plain_value, v))
    return isinstance(v, dict) and all(isinstance(k, str) and _is_plain_value(x) for k, x in v.items())


def serialize_regularizer(reg):
    """A regularizer as a config dict that `regularizers.get` reads back (None stays None)."""
    if reg is None or not hasattr(reg, "get_config"):
        return None if reg is None else getattr(reg, "__name__", None)
    return {"class_name": type(reg).__name__, "config": reg.get_config()}


# --------------------------------------------------------------------------------- masks
def _known(shape) -> tuple:
    """A traced shape as a functional-API shape (symbolic dims become None)."""
    return tuple(d if isinstance(d, int) else None for d in shape)


def _is_mask_leaf(o) -> bool:
    return o is None or isinstance(o, (KerasTensor, Value, np.ndarray))


class MaskPlan:
    """How one call reads and writes masks, decided when the layer is called on functional tensors.

    ``tensors``: the mask tensors the call node reads besides the user's arguments (the input
    masks laid out by ``template``, a structure like the first argument with a slot or None per
    tensor, then ``sources``, tensors a ``compute_mask`` reads directly, e.g. ``Lambda(mask=t)``);
    ``explicit``: the user passed ``mask=``; ``auto_mask``: Keras fills in ``call``'s ``mask``
    argument; ``compute``: the layer supports masking, so ``compute_mask`` runs;
    ``output_masks``: per flat output, the index of its mask in the node's outputs, or None."""

    def __init__(self, tensors=(), template=None, explicit=False, auto_mask=False, compute=False,
                 output_masks=None, sources=()):
        self.tensors, self.template = list(tensors), template
        self.explicit, self.auto_mask, self.compute = explicit, auto_mask, compute
        self.output_masks = output_masks
        self.sources = list(sources)

    @classmethod
    def none(cls) -> "MaskPlan":
        return cls(output_masks=[])

    def previous_mask(self, mask_values):
        if self.template is None:
            return None
        return rebuild(self.template, mask_values)

    @classmethod
    def for_call(cls, layer, inputs, kwargs) -> "MaskPlan":
        explicit = kwargs.get("mask") is not None
        input_masks = _map_masks(inputs)
        masks, template = flatten(input_masks, lambda o: isinstance(o, KerasTensor))
        accepts = _call_accepts(layer, "mask")
        compute = layer.supports_masking
        if explicit:
            _check_explicit_mask(layer, inputs, kwargs["mask"])
        if masks and not compute and not explicit and not getattr(layer, "_drops_masks_silently", False):
            warnings.warn(f"Layer '{layer.name}' (of type {type(layer).__name__}) was passed an input with "
                          "a mask attached to it. However, this layer does not support masking and will "
                          "therefore destroy the mask information. Downstream layers will not see the mask.",
                          stacklevel=4)
        auto = bool(masks) and accepts and not explicit
        if explicit or not (auto or compute) or not masks:
            masks, template = [], (None if explicit or not masks else template)
        sources = [t for t in layer._mask_sources() if isinstance(t, KerasTensor)] if compute else []
        return cls(masks + sources, template if masks else None, explicit, auto, compute, None, sources)


def _map_masks(inputs, mask_of=lambda t: t._keras_mask):
    """The structure of ``inputs`` with each functional tensor replaced by its mask (None when it
    has none)."""
    if isinstance(inputs, (list, tuple)):
        return [_map_masks(x, mask_of) for x in inputs]
    if isinstance(inputs, dict):
        return {k: _map_masks(v, mask_of) for k, v in inputs.items()}
    return mask_of(inputs) if isinstance(inputs, KerasTensor) else None


def _call_accepts(layer, name: str) -> bool:
    key = (type(layer), name)
    if key not in _ACCEPTS:
        params = inspect.signature(type(layer).call).parameters
        _ACCEPTS[key] = name in params
    return _ACCEPTS[key]


_ACCEPTS: dict = {}


def _mask_problem(mask_shape, shape) -> bool:
    """Whether a mask of ``mask_shape`` cannot cover the leading axes of a tensor of ``shape``."""
    if not 1 <= len(mask_shape) <= len(shape):
        return True
    return any(isinstance(a, int) and isinstance(b, int) and a != b for a, b in zip(mask_shape, shape))


def _check_explicit_mask(layer, inputs, mask) -> None:
    x = inputs[0] if isinstance(inputs, (list, tuple)) and inputs else inputs
    m = mask[0] if isinstance(mask, (list, tuple)) and mask else mask
    if not hasattr(m, "shape") or not hasattr(x, "shape") or getattr(layer, "_checks_own_mask", False):
        return
    if _mask_problem(tuple(m.shape), tuple(x.shape)):
        raise ValueError(f"layer '{layer.name}' ({type(layer).__name__}) was given a mask of shape "
                         f"{_fmt(tuple(m.shape))} for an input of shape {_fmt(tuple(x.shape))}: a mask covers "
                         f"the input's leading axes, e.g. (batch, timesteps) = {_fmt(tuple(x.shape)[:2])} "
                         "for a sequence; pass one boolean per sample and step")


def _flat_masks(layer, masks, flat_out) -> list:
    """``compute_mask``'s result as one bool Value or None per flat output, each checked."""
    from ..ops.trace import to_value
    from .. import backend as K
    if masks is None:
        return [None] * len(flat_out)
    flat, _ = flatten(masks, _is_mask_leaf)
    if len(flat_out) == 1 and len(flat) > 1:
        flat = flat[:1]
    flat = (flat + [None] * len(flat_out))[:len(flat_out)]
    out = []
    for m, y in zip(flat, flat_out):
        if m is None:
            out.append(None)
            continue
        if isinstance(m, KerasTensor):
            raise TypeError(f"layer '{layer.name}' ({type(layer).__name__}): compute_mask returned a "
                            "functional-API tensor; masks are computed with backend ops on the traced "
                            "inputs (or given as a numpy array)")
        m = to_value(np.asarray(m)) if not isinstance(m, Value) else m
        if _mask_problem(m.sym_shape, y.sym_shape):
            raise ValueError(f"layer '{layer.name}' ({type(layer).__name__}): compute_mask returned a mask of "
                             f"shape {_fmt(m.shape)} for an output of shape {_fmt(y.shape)}; a mask covers "
                             f"the output's leading axes, e.g. (batch, timesteps) = {_fmt(y.shape[:2])} for a "
                             "sequence output")
        out.append(m if m.dtype == "bool" else K.cast(m, "bool"))
    return out


class AmbiguousNodeError(AttributeError, AssertionError):
    """A node-dependent attribute was read on a layer called several times (Keras 1 raised
    AssertionError, Keras 2 AttributeError; this is both)."""
