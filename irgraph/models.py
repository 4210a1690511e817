"""Functional `Model` and `Sequential`.

A model is a layer: calling it on new tensors traces its recorded calls again with the same weights,
so nested, shared and TimeDistributed models need nothing special. ``model.graph`` is the layer-level
IR; ``model.to_onnx()`` runs the passes and emits ONNX; ``predict`` runs it in onnxruntime.
"""
from __future__ import annotations

import collections
import inspect
import itertools

import numpy as np

from . import tree
from .ir import Graph
from .layers.base import Layer, Node, _is_tensor, flatten
from .layers.input_layer import InputLayer
from .model_io import InputSlot, Signature, check_shape, user_stacklevel
from .ops.base import Spec
from .tensor import Input, KerasTensor


def _calls_in_order(outputs, input_ids, known=(), output_paths=None) -> list[Node]:
    """The calls (Nodes) that compute ``outputs`` from the tensors whose ids are ``input_ids``, each
    once, every call after the calls producing its inputs (depth-first post-order, inputs visited in
    argument order). An explicit stack, so a chain of any length builds at the default recursion
    limit; linear in calls plus tensor uses. ``known``: calls already in that order (the part of a
    Sequential that did not change), which the walk does not enter again. ``output_paths``: the
    outputs' paths in the output structure, for the error about an output the inputs do not reach."""
    nodes: list[Node] = list(known)
    done: set = {id(n) for n in known}
    for k, out in enumerate(outputs):
        stack = [(out, out._keras_history[0].name, False)]  # (tensor, reader's name, parents done)
        while stack:
            t, reader, parents_done = stack.pop()
            if id(t) in input_ids:
                continue
            layer, node = t._keras_history[0], t.node
            if id(node) in done:
                continue
            if parents_done:
                done.add(id(node))
                nodes.append(node)
                continue
            if isinstance(layer, InputLayer):
                path = "" if output_paths is None else f"Output with path `{output_paths[k]}` is not " \
                    "connected to `inputs`: "
                raise ValueError(
                    f"{path}Graph disconnected: cannot obtain value for tensor {t.name} (input "
                    f"'{layer.name}') needed by layer '{reader}'. Pass that Input in the model's inputs.")
            stack.append((t, reader, True))
            stack.extend((p, layer.name, False) for p in reversed(node.all_input_tensors))
    return nodes


# ----------------------------------------------------------------------------- Keras's layer order
def _walk_from_outputs(inputs, outputs, stand_ins=None):
    """Keras's ``map_graph`` walk: depth-first from each output, inputs in argument order. Returns
    the call nodes in post-order, each with its inbound tensors and the layer it counts for (the
    stand-in Input of a model input that is not an Input, else its own), and each layer's
    first-visit (pre-order) index."""
    stand_ins = stand_ins or {}
    input_ids = {id(t) for t in inputs}
    visit_index: dict = {}
    post_order, finished = [], set()
    for out in outputs:
        stack = [(out, False)]
        while stack:
            t, children_done = stack.pop()
            layer, node_index, _ = t._keras_history
            node = layer._inbound_nodes[node_index]
            if id(node) in finished:
                continue
            boundary = id(t) in input_ids
            owner = stand_ins.get(id(t), layer)
            if children_done:
                finished.add(id(node))
                post_order.append((node, [] if boundary else node.input_tensors, owner))
                continue
            if not boundary or isinstance(owner, InputLayer):
                visit_index.setdefault(id(owner), (len(visit_index), owner))
            stack.append((t, True))
            if not boundary:
                stack.extend((p, False) for p in reversed(node.input_tensors))
    return post_order, visit_index


def _keras_order(inputs, outputs, sources=None) -> list:
    """The layers computing ``outputs`` from ``inputs`` in Keras 3's ``Functional._operations``
    order: by decreasing depth from the outputs (a layer called several times takes its deepest
    call), ties by first visit of a depth-first walk from the outputs; Input layers that no output
    uses come first among depth 0 (Keras's ``map_graph``). ``sources``: the tensors the model
    starts from, where they differ from ``inputs`` (a model input that is an intermediate tensor
    has an Input standing in for it, listed where Keras lists the Input it makes for it)."""
    sources = inputs if sources is None else sources
    stand_ins = {id(s): t._keras_history[0] for s, t in zip(sources, inputs) if s is not t}
    post_order, visit_index = _walk_from_outputs(sources, outputs, stand_ins)
    node_depth: dict = {}
    layer_depth: dict = {}
    for node, inbound, owner in reversed(post_order):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(owner), 0))
        layer_depth[id(owner)] = node_depth[id(node)] = depth
        for t in inbound:
            layer, node_index, _ = t._keras_history
            parent = layer._inbound_nodes[node_index]
            node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    ranked = [(-layer_depth[key], index, layer) for key, (index, layer) in visit_index.items()
              if key in layer_depth]
    for t in inputs:  # unused Inputs: depth 0, before everything else of depth 0
        layer = t._keras_history[0]
        if isinstance(layer, InputLayer) and id(layer) not in layer_depth:
            layer_depth[id(layer)] = 0
            ranked.append((0, -1, layer))
    return [layer for _, _, layer in sorted(ranked, key=lambda r: (r[0], r[1]))]


def keras_layer_order(model) -> list:
    """The model's layers in the order Keras lists them (``model.layers`` of Keras 2's Network and
    Keras 3's Functional, with its operations): by decreasing depth from the outputs, ties by first
    visit of a depth-first walk from the outputs. Weight files saved by Keras list their layers in
    this order, which is the order Keras loads them by position (ResNet's shortcut convolution comes
    after the block's first two convolutions, for example)."""
    if not getattr(model, "outputs", None):
        return list(model.layers)
    return _keras_order(model.inputs, model.outputs, model.__dict__.get("_input_sources"))


def _is_operation(layer) -> bool:
    """A backend call on functional tensors recorded as a layer (``a + b``, ``K.mean(x)``) or a
    constant source: Keras 3 makes these Operations, not Layers, so ``model.layers`` leaves them out
    (they have no weights); the graph, the config and ``summary`` keep them."""
    from .backend.graph import SourceLayer
    from .layers.core import OpLayer
    return isinstance(layer, (OpLayer, SourceLayer))


class Model(Layer):
    def __init__(self, inputs=None, outputs=None, name=None, input=None, output=None, **kwargs):  # noqa: A002
        inputs = inputs if inputs is not None else input
        outputs = outputs if outputs is not None else output
        trainable = kwargs.pop("trainable", True)
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._runtime = None
        self._graph_cache = {}
        self.compiled = None
        self._trainer = None
        self.stop_training = False
        self.history = None
        self._pending_compile = None
        if inputs is None and outputs is None:  # a subclass traced on first use, or Model()
            self._nodes, self._layers_list, self._inputs, self._outputs = [], [], [], []
            self._awaiting_trace = True
            self.built = False
            return
        if inputs is None or outputs is None:
            raise ValueError("Model needs both inputs and outputs: Model(inputs, outputs) "
                             "(Keras 1: Model(input=..., output=...))")
        self._init_graph(inputs, outputs)

    def _default_name(self):
        return "functional" if type(self) is Model else super()._default_name()

    def __setattr__(self, key, value):
        """Layers held in a list, tuple or dict attribute are tracked too (Keras tracks them)."""
        held = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
        if "_sublayers" in self.__dict__ and not key.startswith("_"):
            for item in held:
                if isinstance(item, Layer) and item is not self and item not in self._sublayers:
                    self._sublayers.append(item)
        super().__setattr__(key, value)

    # ----------------------------------------------------------------------------- deferred build
    # A Sequential without an input shape and a subclassed model are built on first use: the
    # first call, fit, predict, evaluate, train_on_batch or build(input_shape). A subclass is
    # traced by calling its ``call`` on Input tensors shaped like the first data (free batch axis),
    # which gives the same functional graph, IR, passes and ONNX as a functional model.
    def _awaiting_build(self) -> bool:
        return self.__dict__.get("_awaiting_trace", False)

    def _require_built(self):
        if self._awaiting_build():
            raise ValueError(_NOT_BUILT)

    def _build_for_data(self, x):
        """Build a deferred model for the data (arrays or tensors) it is first given."""
        if self._awaiting_build():
            self._build_on(_symbolic_like(x))

    def _build_for_batches(self, x):
        """`_build_for_data` for what fit, evaluate and predict take: arrays, or batches from a
        generator (whose first batch is read here and given back in front) or a Sequence.
        Returns the data to use in place of ``x``."""
        if not self._awaiting_build() or x is None:
            return x
        if hasattr(x, "__next__"):
            first = next(x)
            self._build_for_data(_batch_inputs(first))
            return itertools.chain([first], x)
        if hasattr(x, "__getitem__") and hasattr(x, "__len__") and not isinstance(x, (list, tuple, dict)) \
                and not hasattr(x, "shape"):
            self._build_for_data(_batch_inputs(x[0]))
            return x
        self._build_for_data(x)
        return x

    def _build_on(self, inputs):
        """Trace ``call`` on the Input tensors ``inputs`` (a tensor, list or dict of them)."""
        if not _defines_call(type(self)):
            raise NotImplementedError(f"Model '{self.name}' has no call(): subclass Model and define "
                                      "call(), or create it as Model(inputs, outputs)")
        tracked = [lyr for lyr in self._sublayers if not isinstance(lyr, InputLayer)]
        outputs = self.call(inputs)
        self._init_graph(inputs, outputs)
        self._awaiting_trace = False
        # a subclass lists the layers assigned to it (Keras's tracking), then any other layer it
        # called; its Input layers stay in the graph's list (the saved config) but not in ``layers``
        inputs = [lyr for lyr in self._layers_list if isinstance(lyr, InputLayer)]
        called = [lyr for lyr in self._layers_list if not isinstance(lyr, InputLayer) and lyr not in tracked]
        self._layers_list = inputs + tracked + called
        self._traced_subclass = True
        self._sublayers_set()
        self._compile_pending()

    def _compile_pending(self):
        if self._pending_compile is not None:
            pending, self._pending_compile = self._pending_compile, None
            self.compile(**pending)

    # ----------------------------------------------------------------------------- graph walk
    def _init_graph(self, inputs, outputs, known_nodes=()):
        """Build the model from its input and output structures (a tensor, or lists, tuples,
        namedtuples and dicts of them, nested as deep as wanted). The flat inputs and outputs
        follow Keras's flatten order (`irgraph.tree`)."""
        _check_structure(inputs, "inputs")
        _check_structure(outputs, "outputs")
        if isinstance(inputs, dict):
            _warn_dict_keys(inputs)
        self._output_struct = outputs
        self._outputs = tree.flatten(outputs)
        sources = tree.flatten(inputs)
        if not sources or not self._outputs:
            raise ValueError(f"`{'inputs' if not sources else 'outputs'}` argument cannot be empty. Received:\n"
                             f"inputs={inputs}\noutputs={outputs}")
        input_ids = {id(t) for t in sources}
        if len(input_ids) != len(sources):
            raise ValueError("the same tensor is given twice as a model input")
        # a model input that is not an Input (an intermediate tensor: the model is a slice of a
        # bigger one) gets an Input standing in for it, as Keras makes one: the graph starts at
        # the tensor, ``inputs`` and ``layers`` show the stand-in
        self._input_sources = sources
        self._inputs = [_stand_in(t) for t in sources]
        self._input_struct = tree.pack_sequence_as(inputs, self._inputs)
        output_paths = [tree.path_text(p) for p, _ in tree.flatten_with_path(outputs)]
        self._nodes = _calls_in_order(self._outputs, input_ids, known_nodes, output_paths)
        # layers: the inputs' InputLayers, then each called layer once, in call order
        layers, listed = [], set()
        for lyr in [t._keras_history[0] for t in self._inputs] + [n.layer for n in self._nodes]:
            if id(lyr) not in listed:
                listed.add(id(lyr))
                layers.append(lyr)
        counts = collections.Counter(lyr.name for lyr in layers)
        dup = sorted(n for n, k in counts.items() if k > 1)
        if dup:
            raise ValueError(f"All layer names in a model must be unique; repeated: {', '.join(dup)}")
        # listed in Keras 3's order (``Functional._operations``), so that ``layers``, ``weights``,
        # ``get_weights``/``set_weights`` and ``summary`` follow Keras's
        order = _keras_order(self._inputs, self._outputs, sources)
        rank = {id(lyr): k for k, lyr in enumerate(order)}
        self._layers_list = sorted(layers, key=lambda lyr: rank.get(id(lyr), len(rank)))
        self.built = True
        self._sublayers_set()
        self.input_names = [t._keras_history[0].name for t in self._inputs]
        self.output_names = self._make_output_names()
        slots = [InputSlot(i, name, path, t.shape, t.dtype, getattr(t._keras_history[0], "optional", False))
                 for i, (name, (path, t)) in enumerate(zip(self.input_names,
                                                           tree.flatten_with_path(self._input_struct)))]
        self._signature = Signature(self.name, self._input_struct, slots, outputs, self.output_names)

    def _sublayers_set(self):
        object.__setattr__(self, "_sublayers", [lyr for lyr in self._layers_list])

    def _make_output_names(self):
        """The flat outputs' names (the ONNX outputs', the targets' and the losses'): under a dict,
        the output's path (its key for a dict of tensors: ``{'a': ..}`` gives ``a``, a nested dict
        ``others.2``); otherwise its layer's name. A name already taken (by an input or an earlier
        output) is numbered: ``a_1``."""
        if _has_dict(self._output_struct):
            bases = [tree.path_text(p) for p, _ in tree.flatten_with_path(self._output_struct)]
        else:
            bases = [t._keras_history[0].name for t in self._outputs]
        names, taken = [], set(self.input_names)
        for base in bases:  # an ONNX graph names each value once: inputs and outputs apart
            name, k = base, 1
            while name in taken:
                name, k = f"{base}_{k}", k + 1
            names.append(name)
            taken.add(name)
        return names

    # ----------------------------------------------------------------------------- layer API
    @property
    def layers(self) -> list:
        """Keras 3's list: a functional model's layers in Keras's order (Input layers included,
        operations such as ``a + b`` left out); a subclass's tracked layers in assignment order."""
        if self._awaiting_build():  # a subclass not yet traced: the layers assigned to it
            return [lyr for lyr in self._sublayers if not isinstance(lyr, InputLayer)]
        if self.__dict__.get("_traced_subclass"):
            return [lyr for lyr in self._layers_list if not isinstance(lyr, InputLayer) and not _is_operation(lyr)]
        return [lyr for lyr in self._layers_list if not _is_operation(lyr)]

    @layers.setter
    def layers(self, _):
        raise AttributeError("`Model.layers` attribute is reserved and should not be used. Please use another "
                             "name.")

    @property
    def inputs(self) -> list:
        return list(self._inputs)

    @property
    def outputs(self) -> list:
        return list(self._outputs)

    @property
    def input(self):
        """The inputs in the structure the model was built with (Keras 3): a tensor, a list, a
        dict, a namedtuple... (``inputs`` is the flat list)."""
        return self._built_structure("_input_struct", "input")

    @property
    def output(self):
        """The outputs in the structure the model was built with (``model.output['a']`` for a dict
        of outputs; ``outputs`` is the flat list)."""
        return self._built_structure("_output_struct", "output")

    def _built_structure(self, attr: str, what: str):
        if attr not in self.__dict__:  # not built yet (hasattr(model, 'input') is False, as in Keras)
            raise AttributeError(f"Layer {self.name} has never been called and thus has no defined {what}.")
        return self.__dict__[attr]

    @property
    def input_spec(self):
        """Keras 3's: an `InputSpec` (or a list) assigned to the model, checked on every call; else
        one per flat input (shape with a free batch axis, the name data dicts use, optional)."""
        manual = self.__dict__.get("_manual_input_spec")
        if manual is not None or not self.__dict__.get("_signature"):
            return manual
        from .layers.input_spec import InputSpec
        return [InputSpec(shape=(None,) + tuple(slot.shape[1:]), allow_last_axis_squeeze=True, name=key,
                          optional=slot.optional) for slot, key in zip(self._signature.slots, self._signature.keys)]

    @input_spec.setter
    def input_spec(self, value):
        object.__setattr__(self, "_manual_input_spec", value)

    def _check_input_spec(self, inputs) -> None:
        """Keras's checks of a call on tensors: an assigned ``input_spec``, else the structure and
        each input's shape (``expected shape=(None, 4), found shape=(None, 3)``)."""
        manual = self.__dict__.get("_manual_input_spec")
        if manual is not None:
            from .layers.input_spec import assert_input_compatibility
            assert_input_compatibility(manual, inputs, self.name)
            return
        if self.__dict__.get("_signature") is None:
            return
        for slot, value in zip(self._signature.slots, self._signature.flat_inputs(inputs, warn=False)):
            if value is not None and hasattr(value, "shape"):
                check_shape(slot, tuple(value.shape), self.name)

    @property
    def input_shape(self):
        shapes = [t.shape for t in self._inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self._outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def get_layer(self, name=None, index=None):
        """By index into ``layers`` (Keras's), or by name: a layer, or an operation such as ``a + b``."""
        if index is not None and name is not None:
            raise ValueError(f"Provide only a layer name or a layer index. Received: index={index}, name={name}.")
        if index is not None:
            layers = self.layers
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has {len(layers)} "
                                 f"layers. Model '{self.name}' has {len(layers)} layers; index {index} is out "
                                 "of range")
            return layers[index]
        if name is None:
            raise ValueError("Provide either a layer name or layer index at `get_layer`.")
        for lyr in self.layers + self._layers_list:
            if lyr.name == name:
                return lyr
        raise ValueError(f"No such layer: {name}. Existing layers are: {[lyr.name for lyr in self.layers]}. "
                         f"There is no layer named {name!r} in model '{self.name}'; layers: "
                         f"{', '.join(lyr.name for lyr in self._layers_list)}")

    def build(self, input_shape=None):
        if self._awaiting_build():
            if input_shape is None:
                raise ValueError(f"model '{self.name}': build() needs an input_shape, e.g. (None, 3)")
            self._build_on(_inputs_for_shapes(input_shape))
        self.built = True

    def __call__(self, inputs, *args, **kwargs):
        self._build_for_data(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, training=None, mask=None):
        """Trace the recorded calls on new tensors (the model used as a layer), given in the
        model's input structure (or any form `model_io` matches). ``mask``: the masks of the inputs
        (Keras fills it in); they enter the model's calls by Keras's rules. None for an optional
        input reaches the layers that read it as None. Returns the outputs in the model's output
        structure (one output alone)."""
        values = self._signature.flat_inputs(inputs, warn=False)
        env = {id(t): v for t, v in zip(self._input_sources, values)}
        masks = self._entering_masks(mask)  # functional tensor id -> its mask, when masks enter
        absent = [s.name for s, v in zip(self._signature.slots, values) if v is None]
        for node in self._nodes:
            layer = node.layer
            ins = [env[id(t)] for t in node.all_input_tensors]
            index = node.index
            scope_name = layer.name if index == 0 else f"{layer.name}[{index}]"
            try:
                if masks:
                    outs = layer._trace_node_with_masks(node, ins, scope_name, masks)
                else:
                    outs = layer._trace_node(node, ins, scope_name)
            except Exception as err:
                if absent and any(v is None for v in ins):
                    raise ValueError(f"layer '{layer.name}' of model '{self.name}' failed on None, given for the "
                                     f"optional input(s) {absent}: {type(err).__name__}: {err}. A layer "
                                     "reading an optional input must accept None in its call (as "
                                     "`def call(self, x, y=None)`); else pass the input") from err
                raise
            for t, v in zip(node.output_tensors, outs):
                env[id(t)] = v
        leaves = self._outputs
        from .ops.trace import current
        if masks:
            out_masks = [masks.get(id(t)) for t in leaves]
        else:
            out_masks = [None if t._keras_mask is None else env.get(id(t._keras_mask)) for t in leaves]
        current().model_masks = {id(self): out_masks}  # read by compute_mask, right after
        return self._signature.pack_outputs([env[id(t)] for t in leaves])

    def _entering_masks(self, mask) -> dict:
        """{id(input tensor): mask} for the inputs given a mask (empty when none is)."""
        if mask is None:
            return {}
        per_input = list(mask) if isinstance(mask, (list, tuple)) else [mask]
        if len(per_input) != len(self._inputs):
            return {}
        return {id(t): m for t, m in zip(self._input_sources, per_input) if m is not None}

    # a model used as a layer: the masks of the tensors it is called on enter its calls, and its
    # outputs get the masks its layers give them
    @property
    def supports_masking(self) -> bool:
        value = self.__dict__.get("_supports_masking")
        return True if value is None else value

    @supports_masking.setter
    def supports_masking(self, value) -> None:
        object.__setattr__(self, "_supports_masking", bool(value))

    def compute_mask(self, inputs, mask=None):
        from .ops.trace import current
        masks = getattr(current(), "model_masks", {}).get(id(self))
        if masks is None:
            return None
        return masks[0] if len(masks) == 1 else masks

    # ----------------------------------------------------------------------------- IR
    # An optional input (``Input(optional=True)``) may be left out (None): the layers reading it
    # get None and decide in Python what to compute, so each presence pattern is its own graph
    # and ONNX model, without that input (docs/decisions.md, "Structured and optional inputs").
    # ``absent`` below: the names of the optional inputs left out (a frozenset; empty: all given).
    @property
    def graph(self) -> Graph:
        """The layer-level IR: input, call, weight and output nodes."""
        return self.layer_graph()

    def layer_graph(self, absent_inputs=()) -> Graph:
        """The layer-level IR, with the optional inputs named in ``absent_inputs`` left out."""
        self._require_built()
        absent = self._absent_set(absent_inputs)
        key = "layer" if not absent else ("layer", absent)
        if key not in self._graph_cache:
            self._graph_cache[key] = self._build_layer_graph(absent)
        return self._graph_cache[key]

    def _absent_set(self, names) -> frozenset:
        """The names of optional inputs to leave out, checked."""
        absent = frozenset(names or ())
        if absent:
            slots = {s.name: s for s in self._signature.slots}
            for name in sorted(absent):
                if name not in slots:
                    raise ValueError(f"model '{self.name}' has no input named {name!r}; its inputs are "
                                     f"{self.input_names}")
                if not slots[name].optional:
                    raise ValueError(f"The input '{name}' is not optional, so it cannot be left out (model "
                                     f"'{self.name}'); declare it with Input(..., optional=True)")
        return absent

    def _present_outputs(self, absent: frozenset) -> list:
        """Whether each flat output is computed when the inputs ``absent`` are left out (an output
        that is an optional input itself is None then)."""
        if not absent:
            return [True] * len(self._outputs)
        gone = {id(s) for s, name in zip(self._input_sources, self.input_names) if name in absent}
        return [id(t) not in gone for t in self._outputs]

    def _build_layer_graph(self, absent: frozenset = frozenset()) -> Graph:
        g = Graph(self.name)
        where: dict[int, tuple | None] = {}
        for t, name in zip(self._input_sources, self.input_names):
            if name in absent:
                where[id(t)] = None  # the calls reading it get None
                continue
            nid = g.add_input(name, Spec(tuple(t.shape), t.dtype))
            where[id(t)] = (nid, 0)
        for node in self._nodes:
            layer = node.layer
            specs = [Spec(tuple(t.shape), t.dtype) for t in node.output_tensors]
            reads = node.all_input_tensors
            cid = g.add_call(layer, node.index, node, specs, len(reads))
            for slot, t in enumerate(reads):
                if where[id(t)] is not None:
                    g.connect(where[id(t)], cid, slot)
            for var in layer.weights:
                g.connect_weight(g.add_weight(var), cid)
            for i, t in enumerate(node.output_tensors):
                where[id(t)] = (cid, i)
        for t, name in zip(self._outputs, self.output_names):
            if where[id(t)] is not None:
                g.add_output(name, where[id(t)])
        # the masks of the outputs (Keras weighs losses and metrics by them): tensors of the graph,
        # read by attach_loss, not outputs of the inference model
        g.meta["output_masks"] = {name: where[id(t._keras_mask)] for t, name in zip(self._outputs, self.output_names)
                                  if getattr(t, "_keras_mask", None) is not None
                                  and where.get(id(t._keras_mask)) is not None}
        return g

    def compile_graph(self, opset: int | None = None, passes=None, absent_inputs=()):
        """Run the inference pipeline (lower, infer_shapes, cleanup) and return the PassManager.

        The result of the default pipeline is kept with the layer graph: the model's structure is
        fixed once it is built (a Sequential that changes resets the cache), and weights stay weight
        nodes, never folded into constants, so the cached graph holds no weight values."""
        from irgraph.passes.manager import inference_pipeline
        graph = self.layer_graph(absent_inputs)
        if passes is not None:
            passes.run(graph)
            return passes
        absent = self._absent_set(absent_inputs)
        key = "inference" if not absent else ("inference", absent)
        if key not in self._graph_cache:
            pm = inference_pipeline()
            try:
                pm.run(graph)
            except Exception as err:
                if absent:
                    raise ValueError(f"model '{self.name}' cannot be computed without the optional input(s) "
                                     f"{sorted(absent)}: {err}") from err
                raise
            self._graph_cache[key] = pm
        return self._graph_cache[key]

    def to_onnx(self, path=None, opset: int = 17, check: bool = True, absent_inputs=()):
        """Emit the inference ONNX model (and write it to ``path`` if given). Its inputs and outputs
        are the model's flat inputs and outputs in Keras's order, named by ``input_names`` and
        ``output_names``. ``absent_inputs``: names of optional inputs to leave out (the model
        computed as when None is passed for them; outputs that are such an input are left out too).

        The passes and the emission run once per model (and opset); every call fills in the current
        weight values, so a repeated call (and the session `predict` builds after a weight change)
        costs a copy of the emitted graph plus the weights."""
        from .onnx import check as check_model
        from .onnx.emit import emit
        self._require_built()
        absent = self._absent_set(absent_inputs)
        key = ("onnx", opset) if not absent else ("onnx", opset, absent)
        if key not in self._graph_cache:  # emitted once per opset; the weights are read each call
            present = self._present_outputs(absent)
            names = [n for n in self.input_names if n not in absent]
            outs = [n for n, kept in zip(self.output_names, present) if kept]
            self._graph_cache[key] = emit(self.compile_graph(absent_inputs=absent).graph, opset=opset,
                                          name=self.name, metadata={"irgraph.inputs": ",".join(names),
                                                                    "irgraph.outputs": ",".join(outs)})
        emitted = self._graph_cache[key]
        model = emitted.proto()
        if check and not emitted.checked:  # weight values (all that differs per call) never matter
            check_model(model)             # to the checker: one full check per emitted graph
            emitted.checked = True
        if path is not None:
            from .saving import atomic_write_bytes
            atomic_write_bytes(path, model.SerializeToString())
        return model

    # ----------------------------------------------------------------------------- running
    def _runner(self, device="auto", absent: frozenset = frozenset()):
        """The inference runner for ``device`` (and the presence pattern ``absent``)."""
        rt = self._runtime
        if not absent and rt is not None and rt.device_request == device:
            return rt
        from .runtime import InferenceRunner
        from .variables import LOCK
        with LOCK:  # concurrent first calls share one runner (and so build one session)
            if absent:
                key = ("runner", device, absent)
                if key not in self._graph_cache:
                    self._graph_cache[key] = InferenceRunner(self, device, absent)
                return self._graph_cache[key]
            if self._runtime is None or self._runtime.device_request != device:
                self._runtime = InferenceRunner(self, device)
            return self._runtime

    def predict(self, x, batch_size=32, verbose="auto", steps=None, callbacks=None, device="auto"):
        x = self._build_for_batches(x)
        return self._runner(device).predict(x, batch_size=batch_size, verbose=verbose, steps=steps)

    def predict_on_batch(self, x):
        self._build_for_data(x)
        return self._runner().predict_on_batch(x)

    def predict_generator(self, generator, steps=None, verbose=0, **kwargs):
        return self.predict(generator, steps=steps, verbose=verbose)

    def _eager_call(self, inputs, args, kwargs):
        """``model(arrays, training=...)``: ``training=True`` runs the training-phase graph (as
        Keras 3 does: Dropout active, BatchNormalization on batch statistics, moving statistics
        updated); otherwise the inference session."""
        training = kwargs.get("training", args[0] if args else None)
        if training is not None and not isinstance(training, (bool, np.bool_)):
            raise ValueError(f"model '{self.name}': training must be True, False or None, got {training!r}")
        self._build_for_data(inputs)
        manual = self.__dict__.get("_manual_input_spec")
        if manual is not None:  # an input_spec assigned to the model is checked on every call (Keras)
            from .layers.input_spec import assert_input_compatibility
            assert_input_compatibility(manual, inputs, self.name)
        if training:
            return self._training_runner().predict_on_batch(inputs)
        return self.predict_on_batch(inputs)

    def _training_runner(self, absent: frozenset = frozenset()):
        from .runtime import TrainingPhaseRunner
        from .variables import LOCK
        with LOCK:
            key = "training_phase_runner" if not absent else ("training_phase_runner", absent)
            runner = self._graph_cache.get(key)
            if runner is None:
                runner = self._graph_cache[key] = TrainingPhaseRunner(self, absent=absent)
            return runner

    # ----------------------------------------------------------------------------- training
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=None, steps_per_execution=None, jit_compile=None,
                device="auto", **kwargs):
        """Configure training. Keras arguments; ``device`` picks the onnxruntime provider."""
        from .compile_config import CompileConfig, check_compile_arguments
        kwargs.pop("sample_weight_mode", None)
        if kwargs:
            raise TypeError(f"compile() got unexpected arguments {sorted(kwargs)}")
        if self._awaiting_build():  # the outputs are known once the model is built
            from .optimizers import get as get_optimizer
            self._pending_compile = dict(optimizer=None if optimizer is None else get_optimizer(optimizer), loss=loss, metrics=metrics,
                                         loss_weights=loss_weights, weighted_metrics=weighted_metrics,
                                         device=device)
            return
        check_compile_arguments(optimizer, loss_weights)  # what Keras 3 checks in compile itself
        try:
            compiled, self._compile_error = CompileConfig(self, optimizer, loss, loss_weights, metrics,
                                                          weighted_metrics), None
        except (KeyError, ValueError) as err:
            # Keras 3 matches losses and metrics to the outputs when it builds them on the first
            # batch, and raises there: so does irgraph (fit, evaluate, train_on_batch, test_on_batch)
            compiled, self._compile_error = None, err
        if self._trainer is not None:  # the weights stay; the old sessions and buffers go
            self._trainer.close()
        self.compiled, self._trainer = compiled, None
        self._compile_device = device

    @property
    def optimizer(self):
        if self.compiled is None:
            pending = self.__dict__.get("_pending_compile")
            return None if pending is None else pending["optimizer"]
        return self.compiled.optimizer if self.compiled.optimizer_given else None

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras 3's training loss: the compiled losses over ``y_pred`` plus the weight
        regularization and ``add_loss`` terms. A subclass may override it (and call
        ``super().compute_loss(...)``); fit and evaluate trace the override with the graph's
        symbolic values into the ONNX train and eval steps. ``y`` keeps the structure the user
        gave fit; ``y_pred`` comes in the model's output structure."""
        from .compile_config import traced_compute_loss
        return traced_compute_loss(self.name, y, y_pred, sample_weight)

    def _has_own_compute_loss(self) -> bool:
        return type(self).compute_loss is not Model.compute_loss

    def _get_trainer(self):
        from .compile_config import not_compiled
        if self.compiled is None:
            if getattr(self, "_compile_error", None) is not None:
                raise self._compile_error.with_traceback(None)
            raise not_compiled(self.name)
        if not self._has_own_compute_loss():  # an override may compute a loss of its own
            self.compiled.require_loss(self.name)
        if getattr(self, "_trainer", None) is None:
            from .training.trainer import Trainer
            self._trainer = Trainer(self, self.compiled, self._compile_device)
        return self._trainer

    def _require_optimizer(self):
        if self.compiled is not None:
            self.compiled.require_optimizer(self.name)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, **kwargs):
        x = self._build_for_batches(x)
        self._require_optimizer()
        from .training import trainer
        return trainer.fit(self, x, y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                           callbacks=callbacks, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        x = self._build_for_batches(x)
        from .training import trainer
        return trainer.evaluate(self, x, y, batch_size, verbose, sample_weight, steps, callbacks, return_dict)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        self._build_for_data(x)
        self._require_optimizer()
        from .training import trainer
        return trainer.train_on_batch(self, x, y, sample_weight, class_weight, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._build_for_data(x)
        from .training import trainer
        return trainer.test_on_batch(self, x, y, sample_weight, return_dict)

    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose=1, callbacks=None,
                      validation_data=None, validation_steps=None, class_weight=None, initial_epoch=0,
                      **kwargs):
        kwargs.pop("max_queue_size", None), kwargs.pop("workers", None), kwargs.pop("use_multiprocessing", None)
        if "nb_epoch" in kwargs:
            epochs = kwargs.pop("nb_epoch")
        if kwargs:
            raise TypeError(f"fit_generator() got unexpected arguments {sorted(kwargs)}")
        return self.fit(generator, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=verbose,
                        callbacks=callbacks, validation_data=validation_data,
                        validation_steps=validation_steps, class_weight=class_weight,
                        initial_epoch=initial_epoch)

    def evaluate_generator(self, generator, steps=None, verbose=0, **kwargs):
        return self.evaluate(generator, steps=steps, verbose=verbose)

    def get_state_tree(self, value_format="backend_tensor"):
        """Keras 3's state tree: trainable, non-trainable, optimizer and metrics variables as nested
        dicts keyed by their paths (`irgraph.training.state_tree`)."""
        from .training.state_tree import get_state_tree
        return get_state_tree(self, value_format)

    def set_state_tree(self, state_tree):
        """Assign the values of a state tree (as `get_state_tree` gives) to the model's variables."""
        from .training.state_tree import set_state_tree
        set_state_tree(self, state_tree)

    def export_training(self, path=None, which="train"):
        """The train-step (or eval-step) ONNX model of the compiled model; written to ``path`` if given."""
        tr = self._get_trainer()
        if tr.graphs is None:
            raise RuntimeError("the step graphs are built from the first batch of targets: call fit, "
                               "train_on_batch or evaluate once first")
        proto = tr.graphs.train if which == "train" else tr.graphs.eval
        if path is not None:
            from .saving import atomic_write_bytes
            atomic_write_bytes(path, proto.SerializeToString())
        return proto

    # ----------------------------------------------------------------------------- summary
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None, show_macs=False):
        from .summary import print_summary
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable, layer_range=layer_range,
                      show_macs=show_macs)

    def count_params(self) -> int:
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    # ======================================================== saving (serialization.py, saving.py) ==
    # Config, whole-model files and weights files; the code lives in irgraph/serialization.py and
    # irgraph/saving.py, these are the Keras entry points.
    def get_config(self) -> dict:
        """Keras-style functional config (JSON-able): layers with their inbound nodes, inputs, outputs.
        A `Sequential` config is its list of layer configs."""
        from .serialization import model_config
        return model_config(self)

    def to_json(self, **kwargs) -> str:
        """``{'class_name', 'config', 'keras_version', 'backend'}`` as Keras writes it; read back by
        `model_from_json`. ``kwargs`` go to ``json.dumps``."""
        from .serialization import model_to_json
        return model_to_json(self, **kwargs)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild the architecture (fresh weights); classes by name from irgraph's layers plus
        ``custom_objects`` (which Lambda functions and custom layer classes need)."""
        from .serialization import model_from_config
        if _defines_call(cls) and not issubclass(cls, Sequential) and isinstance(config, dict) \
                and "layers" in config:
            # a subclassed model was saved as the functional graph of its trace: that graph comes
            # back (same layers and weight names); its Python ``call`` is not part of the file.
            # Its Keras 3 config (name, trainable, dtype, __init__ arguments) gives cls(**config).
            return model_from_config(Model, config, custom_objects)
        return model_from_config(cls, config, custom_objects)

    def save(self, filepath, overwrite=True, include_optimizer=True, save_format=None, **kwargs):
        """One ONNX file: the inference graph with the weights (deployable as is) plus the config,
        the compile arguments and the optimizer state as metadata and extra initializers. Written
        atomically; a ``.h5``/``.keras`` path gets the same ONNX bytes."""
        from .saving import save_model
        kwargs.pop("signatures", None), kwargs.pop("options", None)
        if kwargs:
            raise TypeError(f"save() got unexpected arguments {sorted(kwargs)}")
        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite=True, save_format=None, **kwargs):
        """The weights alone, as a numpy ``.npz`` archive keyed by weight path (at ``filepath``
        whatever its suffix); written atomically."""
        from .saving import save_weights
        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, by_name=False, skip_mismatch=False, **kwargs):
        """Weights from `save_weights` (or a `save` file): by weight path, or by position when this
        process named the layers differently; shapes are checked before anything is set. A Keras
        HDF5 weight file (recognised by its content) loads as in Keras 2: by position over the
        layers with weights, or by layer name (``skip_mismatch`` then skips misfits); needs h5py."""
        from .saving import load_weights
        from .saving_h5 import is_hdf5, load_hdf5_weights
        if is_hdf5(filepath):
            from .keras_files import is_keras3_weights_file, load_keras3_weights_file
            if is_keras3_weights_file(filepath):  # Keras 3's '.weights.h5' layout
                return load_keras3_weights_file(self, filepath, skip_mismatch=skip_mismatch)
            return load_hdf5_weights(self, filepath, by_name=by_name, skip_mismatch=skip_mismatch)
        if skip_mismatch:
            raise ValueError("load_weights(skip_mismatch=True) is not supported")
        load_weights(self, filepath, by_name=by_name)
    # ======================================================== end of saving ==========================


Functional = Model  # Keras 3's name for a model built from inputs and outputs (keras.Model(...) is one)


class Sequential(Model):
    """A linear stack of layers; built as soon as the input shape is known."""

    def __init__(self, layers=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self._stack: list[Layer] = []
        self._input_tensor = None
        self._pending_batch_shape = None
        self._chain: tuple = (None, [])  # the last build: (input tensor, [(layer, its output)])
        for layer in layers or []:
            self.add(layer, rebuild=False)
        if layers:
            self._rebuild()  # once, not once per layer

    def _default_name(self):
        return "sequential"

    def _awaiting_build(self) -> bool:
        return self._input_tensor is None

    def _build_on(self, inputs):
        if not self._stack:
            raise ValueError(f"Sequential model '{self.name}' has no layers: add() some before calling it")
        self._input_tensor = inputs
        self._rebuild()
        self._compile_pending()

    def add(self, layer, rebuild=True):
        if isinstance(layer, KerasTensor):
            lyr = layer._keras_history[0]
            if not isinstance(lyr, InputLayer):
                raise TypeError("Sequential.add takes a layer or an Input tensor")
            layer = lyr
        if not isinstance(layer, Layer):
            raise ValueError("Only instances of `keras.Layer` can be added to a Sequential model. "
                             f"Received: {layer!r:.80} (of type {type(layer).__name__})")
        if isinstance(layer, InputLayer):
            if self._input_tensor is not None:
                raise ValueError(f"Sequential model '{self.name}' has already been configured to use input "
                                 f"shape {tuple(self._input_tensor.shape)}. You cannot add a different "
                                 "Input layer to it.")
            if self._stack:
                raise ValueError("an Input can only be the first element of a Sequential model")
            self._input_tensor = layer.output
            if rebuild:
                self._rebuild()
            return
        if any(lyr.name == layer.name for lyr in self._stack):
            raise ValueError("All layers added to a Sequential model should have unique names. Name "
                             f"'{layer.name}' is already the name of a layer in this model. Update the "
                             "`name` argument to pass a unique name.")
        self._stack.append(layer)
        if self._input_tensor is None and len(self._stack) == 1:
            self._input_tensor = _first_layer_input(layer)
        if rebuild:
            self._rebuild()

    def pop(self):
        if not self._stack:
            raise TypeError("there are no layers in the model to pop")
        layer = self._stack.pop()
        self._rebuild()
        return layer

    def _rebuild(self):
        self._graph_cache = {}
        self._runtime = None
        if self._input_tensor is None or not self._stack:
            self._layers_list = list(self._stack)
            self._sublayers_set()
            self._nodes, self._inputs, self._outputs = [], [], []
            self.built = False
            return
        # the calls of the last build stay valid for the layers still at the bottom of the stack:
        # only the layers after them are called (``add`` calls one layer, ``pop`` none)
        x = self._input_tensor
        built_from, built = self._chain
        chain = []
        if built_from is x:
            for (lyr, out), layer in zip(built, self._stack):
                if lyr is not layer:
                    break
                chain.append((lyr, out))
                x = out
        reused = len(chain)
        for layer in self._stack[reused:]:
            _check_single_positional(layer)
            x = layer(x)
            chain.append((layer, x))
        self._chain = (self._input_tensor, chain)
        # one call per layer of the stack, in order: the reused calls are the first ``reused`` of the
        # model's calls (checked on the last of them)
        known = self._nodes[:reused]
        if known and known[-1] is not chain[reused - 1][1].node:
            known = [out.node for _, out in chain[:reused]]
        self._init_graph(self._input_tensor, x, known_nodes=known)

    def build(self, input_shape=None):
        if self._input_tensor is not None and input_shape is not None:
            self._check_build_shape(tuple(input_shape))
        if self._input_tensor is None:
            if input_shape is None:
                raise ValueError("Sequential.build needs an input shape (including the batch axis)")
            first = self._stack[0] if self._stack else None
            self._build_on(Input(batch_shape=tuple(input_shape), dtype=_first_input_dtype(first)))

    def _check_build_shape(self, input_shape):
        have = tuple(self._input_tensor.shape) if isinstance(self._input_tensor, KerasTensor) else None
        if have is not None and tuple(input_shape)[1:] != have[1:]:
            raise ValueError(f"Sequential model '{self.name}' has already been configured to use input "
                             f"shape {have}. You cannot build it with input_shape {tuple(input_shape)}")

    @property
    def layers(self):
        return list(self._stack)

    @layers.setter
    def layers(self, _):
        raise AttributeError("`Sequential.layers` attribute is reserved and should not be used. Use `add()` "
                             "and `pop()` to change the layers in this model.")

    # an unbuilt Sequential has no inputs or outputs yet: hasattr() is False, as in Keras
    def _built_attr(self, prop):
        if self._awaiting_build():
            raise AttributeError(f"Sequential model '{self.name}' has no {prop.fget.__name__} yet: it is "
                                 "built on its first call, fit, predict or build(input_shape)")
        return prop.fget(self)

    inputs = property(lambda self: self._built_attr(Model.inputs), doc="the Input tensors (built models)")
    outputs = property(lambda self: self._built_attr(Model.outputs), doc="the output tensors (built models)")
    input_shape = property(lambda self: self._built_attr(Model.input_shape))
    output_shape = property(lambda self: self._built_attr(Model.output_shape))


# ======================================================== saving (irgraph/saving.py) =================
def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002
    """A model saved by `Model.save`, or by Keras (a Keras 3 ``.keras`` archive, a Keras 2 / tf.keras
    ``.h5`` model; recognised by content): architecture, weights and (``compile=True``) the compile
    arguments and optimizer state, so ``fit`` continues where it stopped. Reads JSON and arrays
    only (no pickle, no code); Lambda functions and custom classes come from ``custom_objects``."""
    from .saving import load_model as _load
    return _load(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def model_from_json(json_string, custom_objects=None, safe_mode=True):
    """The architecture (fresh weights) from `Model.to_json`, or from the JSON Keras 2 or 3 writes
    (``{'class_name': 'Functional', 'config': ...}``). A Lambda's stored code is never run: its
    function comes from ``custom_objects``; so do custom layer classes."""
    from .serialization import model_from_json as _from_json
    return _from_json(json_string, custom_objects=custom_objects, safe_mode=safe_mode)
# ======================================================== end of saving ==============================


def _check_structure(struct, what: str) -> None:
    """Keras's check that every leaf of a model's ``inputs``/``outputs`` structure is a tensor."""
    for leaf in tree.flatten(struct):
        if not isinstance(leaf, KerasTensor):
            raise ValueError(f"All `{what}` values must be KerasTensors. Received: {what}={struct} including "
                             f"invalid value {leaf!r} of type {type(leaf)} (the {what} of a model are "
                             "tensors from Input() or from calling layers)")


def _warn_dict_keys(inputs: dict) -> None:
    """Keras's warning for a dict of inputs whose keys are not the names of their Inputs."""
    import warnings
    for key, t in inputs.items():
        layer = t._keras_history[0] if isinstance(t, KerasTensor) else None
        if isinstance(layer, InputLayer) and key != layer.name:
            warnings.warn(f"When providing `inputs` as a dict, all keys in the dict must match the names of the "
                          f"corresponding tensors. Received key '{key}' mapping to value {t} which has name "
                          f"'{layer.name}'. Change the tensor name to '{key}' (via `Input(..., name='{key}')`)",
                          UserWarning, stacklevel=user_stacklevel())


def _stand_in(t: KerasTensor) -> KerasTensor:
    """``t`` itself if it is an Input, else the Input standing in for it (made once per tensor, so
    two models sliced from the same tensor share it, as they would share an Input)."""
    if isinstance(t._keras_history[0], InputLayer):
        return t
    standin = t.__dict__.get("_stand_in")
    if standin is None:
        standin = Input(batch_shape=t.shape, dtype=t.dtype, name=t.name.replace("/", "_"))
        t._stand_in = standin
    return standin


def _has_dict(struct) -> bool:
    return isinstance(struct, dict) or (isinstance(struct, (list, tuple)) and any(_has_dict(v) for v in struct))


_NOT_BUILT = ("This model has not yet been built. Build the model first by calling `build()` or by "
              "calling the model on a batch of data.")


def _check_single_positional(layer):
    """Keras 3's rule for the first layer a Sequential calls: one positional argument (the input)."""
    params = list(inspect.signature(type(layer).call).parameters.values())[1:]
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.default is p.empty]
    if len(positional) > 1:
        raise ValueError("Layers added to a Sequential model can only have a single required positional "
                         f"argument, the input tensor. Layer {type(layer).__name__} (layer '{layer.name}') has "
                         f"multiple required positional arguments: {positional}")


def _first_layer_input(layer):
    """The Input a Sequential gets from its first layer: the layer's input shape, or the input of
    a built model used as the first layer; None when the Sequential must wait for data."""
    if layer._batch_input_shape is not None:
        return Input(batch_shape=layer._batch_input_shape, dtype=_first_input_dtype(layer))
    if isinstance(layer, Model) and not layer._awaiting_build() and len(layer.inputs) == 1:
        t = layer.inputs[0]
        return Input(batch_shape=tuple(t.shape), dtype=t.dtype)
    return None


def _batch_inputs(batch):
    """The inputs of one batch from a generator or Sequence: ``x`` of ``(x, y[, sample_weight])``."""
    return batch[0] if isinstance(batch, tuple) and len(batch) in (1, 2, 3) else batch


def _defines_call(cls) -> bool:
    return cls.call is not Model.call


def _is_shape(s) -> bool:
    return isinstance(s, (tuple, list)) and all(d is None or isinstance(d, (int, np.integer)) for d in s)


def _inputs_for_shapes(input_shape, name=None):
    """Input tensors (free batch axis) for a shape, a list of shapes or a dict of shapes."""
    if isinstance(input_shape, dict):
        return {k: _inputs_for_shapes(v, name=k) for k, v in input_shape.items()}
    if _is_shape(input_shape):
        return Input(batch_shape=(None,) + tuple(input_shape)[1:], name=name)
    return [_inputs_for_shapes(s) for s in input_shape]


def _symbolic_like(x, name=None):
    """Input tensors shaped like the data ``x`` (arrays or tensors; a list, tuple or dict of them),
    with a free batch axis; integer data gives integer inputs."""
    if isinstance(x, dict):  # the keys name the inputs, so the same dicts feed predict and fit
        return {k: _symbolic_like(v, name=k) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_symbolic_like(v) for v in x]
    if _is_tensor(x):
        dims = tuple(d if isinstance(d, (int, np.integer)) else None for d in x.shape[1:])
        return Input(batch_shape=(None,) + dims, dtype=x.dtype, name=name)
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise ValueError(_NOT_BUILT + f" (it cannot be built from data of type {type(x).__name__})")
    a = np.asarray(x)
    dtype = a.dtype.name if a.dtype.kind in "iu" else None
    return Input(batch_shape=(None,) + a.shape[1:], dtype=dtype, name=name)


def _first_input_dtype(layer):
    from .layers.embeddings import Embedding
    return "int32" if isinstance(layer, Embedding) else None
