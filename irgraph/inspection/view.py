"""One view of an operator graph, read from an ONNX model or from an irgraph IR graph of any pass:
what the cost tables, the memory estimate, the HTML view and the diff all read.

A `View` holds its nodes in graph (topological) order and its tensors by name. A tensor is
*constant* when it is an initializer, a weight of an inference graph, or computed only from
constants (a ``Constant`` node, ``ConstantOfShape``, a transposed kernel...); a node is constant
when all its inputs are (onnxruntime folds such nodes once at load time, so they cost nothing per
run). The *parameters* are the constant tensors that are not computed from other data (the
initializers, weights and constant-producing nodes) and reach a non-constant node through data
inputs: a shape given to Reshape is not a parameter, the kernel a ConstantOfShape fills is.

Symbolic dimensions (``batch``, ``time``, ONNX dim_params) are replaced by the values in ``dims``
when a view is built; the rest stay symbolic and make the costs that need them unknown.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import numpy as np

from . import costs

NONDETERMINISTIC = frozenset({"RandomUniform", "RandomNormal", "RandomUniformLike", "RandomNormalLike",
                              "Multinomial", "Bernoulli"})


@dataclass
class Tensor:
    name: str
    shape: tuple | None          # ints, or str for a symbolic dimension, None per unknown dimension
    dtype: str | None
    producer: str | None = None  # node name; None for graph inputs, initializers and weights
    kind: str = "value"          # input | initializer | weight | constant (not a parameter) | value
    const: bool = False
    trainable: bool | None = None
    value: object = None         # a callable returning the array (initializers, weights, constants)
    consumers: list = field(default_factory=list)  # (node name, input slot)
    symbolic_shape: tuple | None = None  # the shape before dimensions were set (for display)

    @property
    def nbytes(self) -> int | None:
        n = costs.numel(self.shape)
        if n is None or self.dtype is None:
            return None
        return n * _itemsize(self.dtype)


@dataclass
class Node:
    name: str
    op: str
    scope: str
    attrs: dict
    inputs: list                 # tensor names ('' for an absent optional input)
    outputs: list
    const: bool = False
    domain: str = ""
    kind: str = "op"             # op, or call (a layer call of the layer-level graph)
    layer_type: str | None = None
    key: str | None = None       # identity across the graphs of one pipeline (the IR node id)


@dataclass
class View:
    name: str
    nodes: list
    tensors: dict
    inputs: list
    outputs: list
    dims: dict
    unresolved: dict = field(default_factory=dict)  # input name -> [(axis, symbol)] left unknown
    meta: dict = field(default_factory=dict)
    _by_name: dict | None = None

    def node(self, name: str) -> Node:
        if self._by_name is None:
            self._by_name = {n.name: n for n in self.nodes}
        return self._by_name[name]

    def in_shapes(self, node: Node) -> list:
        return [self.tensors[t].shape if t else None for t in node.inputs]

    def out_shapes(self, node: Node) -> list:
        return [self.tensors[t].shape for t in node.outputs]

    def macs(self, node: Node) -> int | None:
        if node.const:
            return 0
        if node.kind != "op":
            return None
        return costs.macs(node.op, node.attrs, self.in_shapes(node), self.out_shapes(node))

    def parameters(self) -> dict:
        """Parameter tensor name -> the nodes that read it (through folded constant nodes),
        each parameter once, in graph order of its first reader."""
        reaches: dict = {}
        for node in self.nodes:  # graph order: a constant's readers come after it
            for slot, t in enumerate(node.inputs):
                if not t or costs.is_config_input(node.op, slot):
                    continue
                tensor = self.tensors[t]
                if not (tensor.const or tensor.kind == "weight"):
                    continue
                sources = [t] if _is_source(self, tensor) else reaches.get(t, [])
                if node.const:
                    for out in node.outputs:
                        reaches.setdefault(out, []).extend(sources)
                    continue
                for src in sources:
                    entry = reaches.setdefault(("param", src), [])
                    if node.name not in entry:
                        entry.append(node.name)
        params = {}
        for key, readers in reaches.items():
            if isinstance(key, tuple):
                src = self.tensors[key[1]]
                if _counts_as_parameter(self, src, key[1], readers):
                    params[key[1]] = readers
        order = {n.name: i for i, n in enumerate(self.nodes)}
        return dict(sorted(params.items(), key=lambda kv: order.get(kv[1][0], 0)))


def _is_source(view: View, tensor: Tensor) -> bool:
    if tensor.producer is None:
        return True
    node = view.node(tensor.producer)
    return all(not t or costs.is_config_input(node.op, slot) for slot, t in enumerate(node.inputs))


def _counts_as_parameter(view: View, src: Tensor, name: str, readers: list) -> bool:
    if src.kind == "weight":
        return True
    if src.kind == "constant":  # a literal of irgraph's lowering (zeros of a bias, an epsilon)
        return False
    if src.dtype is None or not (src.dtype.startswith("float") or src.dtype.startswith("bfloat")
                                 or src.dtype in ("int8", "uint8")):
        return False
    n = costs.numel(src.shape)
    if n is not None and n > 1:
        return True
    # a single number is a hyperparameter (an epsilon, a scale) unless a layer reads it as a weight
    for reader in readers:
        node = view.node(reader)
        if any(t == name and costs.is_weight_input(node.op, slot) for slot, t in enumerate(node.inputs)):
            return True
    return False


_ITEMSIZE = {"bool": 1, "bfloat16": 2, "float8e4m3fn": 1, "float8e5m2": 1, "string": 8}


@functools.lru_cache(maxsize=None)
def _itemsize(dtype: str) -> int:
    if dtype in _ITEMSIZE:
        return _ITEMSIZE[dtype]
    try:
        return np.dtype(dtype).itemsize
    except TypeError:
        return 4


def _finish(view: View) -> View:
    """Consumers, and which nodes are constant (in graph order: one pass)."""
    for node in view.nodes:
        for slot, t in enumerate(node.inputs):
            if t:
                view.tensors[t].consumers.append((node.name, slot))
    for node in view.nodes:
        if node.kind != "op" or node.op in NONDETERMINISTIC or node.op in ("Shape", "Size"):
            # Shape reads only the (possibly symbolic) shape: not folded here
            continue
        data = [t for t in node.inputs if t]
        if all(view.tensors[t].const for t in data):
            node.const = True
            for t in node.outputs:
                view.tensors[t].const = True
    return view


# ------------------------------------------------------------------------------------ dimensions
def resolve(shape, dims: dict):
    if shape is None:
        return None
    return tuple(dims.get(d, d) if isinstance(d, str) else d for d in shape)


# ------------------------------------------------------------------------------------ from ONNX
def scope_of(node_name: str) -> str:
    """The name scope of a node: its name up to the last '/' (irgraph names nodes 'layer/Op')."""
    return node_name.rsplit("/", 1)[0] if "/" in node_name else node_name


def from_onnx(model, batch: int | None = None, dims: dict | None = None) -> View:
    """A view of an ONNX ModelProto. ``batch`` sets the first dimension of every input whose first
    dimension is symbolic or unknown; ``dims`` sets named symbolic dimensions."""
    import onnx
    from onnx import helper, numpy_helper, shape_inference

    dims = dict(dims or {})
    batch_given = batch is not None
    batch = 1 if batch is None else batch  # costs per sample unless a batch is given
    g = model.graph
    stated = {}  # the shapes the file states, symbolic dimensions kept (shown without --batch)
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape"):
            stated[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                                    for d in vi.type.tensor_type.shape.dim)
    inits = {i.name: i for i in g.initializer}
    real_inputs = [vi for vi in g.input if vi.name not in inits]
    # the batch dimension: the first axis of each input, by symbol (or made one if unnamed)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for vi in m.graph.input:
        if vi.name in inits:
            continue
        shape = vi.type.tensor_type.shape
        if batch is not None and len(shape.dim) and not shape.dim[0].HasField("dim_value"):
            sym = shape.dim[0].dim_param or f"{vi.name}:0"
            shape.dim[0].dim_param = sym
            dims.setdefault(sym, batch)
    _substitute_dims(m, dims)
    try:
        m = shape_inference.infer_shapes(m, data_prop=True)
    except Exception:  # inference of a foreign operator failed: keep the shapes the file states
        pass
    infos = {}
    for vi in list(m.graph.input) + list(m.graph.value_info) + list(m.graph.output):
        infos[vi.name] = vi
    tensors: dict = {}

    def tensor_from_info(name, kind="value", producer=None):
        vi = infos.get(name)
        shape = dtype = None
        if vi is not None and vi.type.HasField("tensor_type"):
            tt = vi.type.tensor_type
            if tt.elem_type:
                dtype = _onnx_dtype_name(tt.elem_type)
            if tt.HasField("shape"):
                shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                              for d in tt.shape.dim)
        return Tensor(name, resolve(shape, dims), dtype, producer, kind, symbolic_shape=stated.get(name))

    # irgraph names weights 'layer/weight' and the literals of its lowering 'const', 'const_7'
    literal = re.compile(r"^const(_\d+)?$") if model.producer_name == "irgraph" else None
    for name, init in inits.items():
        kind = "constant" if literal is not None and literal.match(name) else "initializer"
        tensors[name] = Tensor(name, tuple(init.dims), _onnx_dtype_name(init.data_type), None,
                               kind, const=True,
                               value=(lambda init=init: numpy_helper.to_array(init)))
    inputs = []
    for vi in real_inputs:
        tensors[vi.name] = tensor_from_info(vi.name, "input")
        inputs.append(vi.name)
    nodes, used = [], set()
    for i, nd in enumerate(m.graph.node):
        name = nd.name or (nd.output[0] if nd.output and nd.output[0] else f"{nd.op_type}_{i}")
        while name in used:
            name = f"{name}_{i}"
        used.add(name)
        attrs = {a.name: helper.get_attribute_value(a) for a in nd.attribute
                 if a.type not in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)}
        for a in nd.attribute:
            if a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                attrs[a.name] = "<subgraph>"
        for t in nd.input:
            if t and t not in tensors:  # read from an outer scope or never produced
                tensors[t] = tensor_from_info(t, "input")
        for t in nd.output:
            if t:
                tensors[t] = tensor_from_info(t, "value", name)
        if nd.op_type == "Constant" and "value" in attrs:
            arr = numpy_helper.to_array(attrs["value"])
            out = tensors[nd.output[0]]
            out.shape, out.dtype = arr.shape, arr.dtype.name
            out.value = (lambda arr=arr: arr)
            attrs["value"] = f"tensor{list(arr.shape)} {arr.dtype.name}"
        nodes.append(Node(name, nd.op_type, scope_of(nd.name or name), attrs,
                          list(nd.input), [t for t in nd.output if t], domain=nd.domain))
    outputs = [vi.name for vi in g.output]
    for name in outputs:
        if name not in tensors:
            tensors[name] = tensor_from_info(name, "input")
    view = View(g.name or "model", nodes, tensors, inputs, outputs, dims)
    view.meta["batch_given"] = batch_given
    view.unresolved = {n: [(k, d) for k, d in enumerate(tensors[n].shape or ()) if not isinstance(d, int)]
                       for n in inputs}
    view.unresolved = {k: v for k, v in view.unresolved.items() if v}
    view.meta = {**view.meta, "producer": model.producer_name,
                 "opset": ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import),
                 "metadata": {p.key: p.value for p in model.metadata_props}}
    _fold_constant_values(view)
    return _finish(view)


def _fold_constant_values(view: View) -> None:
    """Fill the shape of tensors that ConstantOfShape makes from a constant shape (shape inference
    leaves them unknown when the shape is an initializer listed as an input, as in IR 3 files)."""
    for node in view.nodes:
        if node.op == "ConstantOfShape" and node.inputs and node.inputs[0] in view.tensors:
            src = view.tensors[node.inputs[0]]
            out = view.tensors[node.outputs[0]]
            if src.value is not None and (out.shape is None or costs.numel(out.shape) is None):
                out.shape = tuple(int(d) for d in np.asarray(src.value()).reshape(-1))
                if out.dtype is None:
                    out.dtype = "float32"


def _substitute_dims(m, dims: dict) -> None:
    if not dims:
        return
    for vi in list(m.graph.input) + list(m.graph.value_info) + list(m.graph.output):
        if not vi.type.HasField("tensor_type"):
            continue
        for d in vi.type.tensor_type.shape.dim:
            if d.dim_param and d.dim_param in dims:
                d.dim_value = int(dims[d.dim_param])


@functools.lru_cache(maxsize=None)
def _onnx_dtype_name(elem_type: int) -> str | None:
    from onnx import helper
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)).name
    except (KeyError, TypeError, ValueError):
        return None


# ------------------------------------------------------------------------------------ from the IR
_SUFFIX = re.compile(r"#\d+$")


def _readable(nid: str) -> str:
    return _SUFFIX.sub("", nid)


def from_ir(graph, batch: int | None = None, dims: dict | None = None, weights_constant: bool = True,
            layer_types: dict | None = None) -> View:
    """A view of an irgraph `Graph` (layer-level or op-level, any pass). Weights are constants of
    an inference graph; a training graph updates them (``weights_constant=False``)."""
    dims = dict(dims or {})
    batch_given = batch is not None
    dims.setdefault("batch", 1 if batch is None else batch)  # costs per sample unless given
    layer_types = layer_types or {}
    tensors: dict = {}
    names: dict = {}
    nodes, inputs, outputs = [], [], []
    used: set = set()

    def unique(base: str) -> str:
        name, k = base, 1
        while name in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name)
        return name

    def symbolic(shape):
        return tuple("batch" if (i == 0 and d is None) else d for i, d in enumerate(shape))

    for nid in graph.topo():
        d = graph.node(nid)
        kind = d["kind"]
        if kind == "input":
            spec = d["specs"][0]
            name = unique(d["name"])
            names[(nid, 0)] = name
            tensors[name] = Tensor(name, resolve(symbolic(spec.shape), dims), spec.dtype, None, "input",
                                   symbolic_shape=symbolic(spec.shape))
            inputs.append(name)
        elif kind == "weight":
            var = d["var"]
            name = unique(var.path)
            names[(nid, 0)] = name
            tensors[name] = Tensor(name, tuple(var.shape), str(np.dtype(var.dtype).name), None, "weight",
                                   const=weights_constant, trainable=bool(getattr(var, "trainable", True)),
                                   value=(lambda var=var: np.asarray(var.numpy())))
        elif kind == "const":
            value = d["value"]
            name = unique("const")
            names[(nid, 0)] = name
            tensors[name] = Tensor(name, tuple(value.shape), value.dtype.name, None, "constant",
                                   const=True, value=(lambda value=value: value))
        elif kind in ("op", "call"):
            node_name = unique(_readable(nid))
            ins = []
            for src in graph.in_tensors(nid):
                ins.append("" if src is None else names[src])
            if kind == "call":  # weight edges of a layer call: its weights are its extra inputs
                for w, _ in graph.nx._pred[nid].items():
                    if graph.kind(w) == "weight":
                        ins.append(names[(w, 0)])
            outs = []
            specs = d.get("specs") or []
            for slot, spec in enumerate(specs):
                tname = node_name if len(specs) == 1 else f"{node_name}:{slot}"
                names[(nid, slot)] = tname
                sym = symbolic(spec.shape) if kind == "call" else tuple(spec.shape)
                tensors[tname] = Tensor(tname, resolve(sym, dims), spec.dtype, node_name, symbolic_shape=sym)
                outs.append(tname)
            if kind == "op":
                op, scope, attrs = d["op"], d.get("scope") or "", dict(d.get("attrs") or {})
                if op == "MaxPoolWithIndices":
                    op = "MaxPool"
                layer_type = layer_types.get(_last_layer(scope)) if scope else None
            else:
                layer = d["layer"]
                op, scope, attrs = type(layer).__name__, layer.name, _layer_attrs(layer)
                layer_type = op
            nodes.append(Node(node_name, op, scope, attrs, ins, outs, kind=kind, layer_type=layer_type, key=nid))
        elif kind == "output":
            src = graph.output_tensor(nid)
            outputs.append(names[src])
    view = View(graph.name, nodes, tensors, inputs, outputs, dims, meta={"batch_given": batch_given})
    view.unresolved = {n: [(k, d) for k, d in enumerate(tensors[n].shape) if not isinstance(d, int)]
                       for n in inputs}
    view.unresolved = {k: v for k, v in view.unresolved.items() if v}
    return _finish(view)


def _last_layer(scope: str) -> str:
    return re.sub(r"\[\d+\]$", "", scope.rsplit("/", 1)[-1])


def _layer_attrs(layer) -> dict:
    try:
        config = layer.get_config()
    except Exception:  # a custom layer without get_config: its class is all there is to show
        return {}
    return {k: v for k, v in config.items() if k not in ("name", "trainable", "dtype") and
            isinstance(v, (int, float, str, bool, tuple, list, type(None)))}
