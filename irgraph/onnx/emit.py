"""Emit an ONNX ModelProto from a lowered, shape-inferred op graph.

Graph inputs are named after the model inputs, graph outputs after the output layers, weights become
initializers named by layer (``dense_1/kernel``; a shared weight is stored once) and every tensor gets
its inferred shape as value_info, with ``batch`` and other symbolic dims as dim_params.

`emit` returns an `EmittedModel`: the graph is emitted once and the weights stay references to
their Variables, read each time `EmittedModel.proto()` makes a ModelProto. Emission is one pass over
the nodes in topological order with O(1) work per node and tensor name.
"""
from __future__ import annotations

import re

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..ops.base import Spec, contiguous as _contiguous, get_op

MIN_OPSET = 17


def max_opset() -> int:
    return onnx.defs.onnx_opset_version()


def onnx_dtype(dtype: str) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def value_info(name: str, spec: Spec):
    dims = [d if isinstance(d, (int, str)) else None for d in spec.shape]
    return helper.make_tensor_value_info(name, onnx_dtype(spec.dtype), dims)


def _clean(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_./:\-\[\]]", "_", name)


class Emitter:
    """What an op's ``emit`` sees: node/const/temp builders and the specs of named tensors."""

    def __init__(self, opset: int):
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self.specs: dict[str, Spec] = {}
        self._used: set[str] = set()
        self._next_suffix: dict[str, int] = {}
        self._consts: dict[tuple, str] = {}
        self._node_name = ""

    def fresh(self, hint: str) -> str:
        """``hint``, or ``hint_k`` with the smallest free k. The search for a base resumes where the
        last one stopped (all smaller suffixes are taken), so naming n tensors alike stays O(n)."""
        base = _clean(hint) or "t"
        name, k = base, self._next_suffix.get(base, 1)
        while name in self._used:
            name, k = f"{base}_{k}", k + 1
        self._next_suffix[base] = k
        self._used.add(name)
        return name

    def node(self, op_type: str, ins: list[str], outs: list[str], **attrs) -> None:
        attrs = {k: v for k, v in attrs.items() if v is not None}
        name = self.fresh(f"{self._node_name or op_type}")
        self.nodes.append(helper.make_node(op_type, list(ins), list(outs), name=name, **attrs))

    def tmp(self, hint: str = "tmp") -> str:
        return self.fresh(f"{self._node_name}/{hint}" if self._node_name else hint)

    def const(self, value: np.ndarray, hint: str = "const") -> str:
        arr = _contiguous(value)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key not in self._consts:
            name = self.fresh(hint)
            self.initializers.append(numpy_helper.from_array(arr, name))
            self.specs[name] = Spec(arr.shape, arr.dtype.name)
            self._consts[key] = name
        return self._consts[key]

    def initializer(self, name: str, value: np.ndarray) -> None:
        self._used.add(name)
        self.initializers.append(numpy_helper.from_array(_contiguous(value), name))

    def dtype_of(self, name: str) -> str:
        return self.specs[name].dtype

    def shape_of(self, name: str) -> tuple:
        return self.specs[name].shape

    onnx_dtype = staticmethod(onnx_dtype)


class EmittedModel:
    """An emitted graph whose weight initializers are filled in from the Variables by `proto()`:
    a new ModelProto after a weight change costs a copy of the graph plus the weights, not a new
    emission. Initializers: the weights (in graph order), then the constants."""

    def __init__(self, template, weights: list, constants: list):
        self.template = template      # ModelProto without initializers
        self.weights = weights        # [(initializer name, Variable)]
        self.constants = constants    # [TensorProto]
        self.checked = False          # set once a proto of it passed the full ONNX check

    def proto(self):
        """A new ModelProto with the current value of every weight."""
        model = onnx.ModelProto()
        model.CopyFrom(self.template)
        inits = model.graph.initializer
        for wname, var in self.weights:
            inits.append(numpy_helper.from_array(_contiguous(np.asarray(var.numpy(), dtype=var.dtype)), wname))
        inits.extend(self.constants)
        return model


def emit_model(graph, opset: int = MIN_OPSET, name: str = "model", metadata: dict | None = None,
               doc: str = "", weights_as_inputs: bool = False):
    """Build the ModelProto for an op-level graph (after `lower` and `infer_shapes`)."""
    return emit(graph, opset, name, metadata, doc, weights_as_inputs).proto()


def emit(graph, opset: int = MIN_OPSET, name: str = "model", metadata: dict | None = None,
         doc: str = "", weights_as_inputs: bool = False) -> EmittedModel:
    """Emit an op-level graph (after `lower` and `infer_shapes`); weights are read by ``proto()``."""
    from ..ir import gc_paused
    with gc_paused():
        return _emit(graph, opset, name, metadata, doc, weights_as_inputs)


def _emit(graph, opset, name, metadata, doc, weights_as_inputs) -> EmittedModel:
    if not MIN_OPSET <= opset <= max_opset():
        raise ValueError(f"opset must be between {MIN_OPSET} and {max_opset()} "
                         f"(the newest the installed onnx knows), got {opset}")
    e = Emitter(opset)
    names: dict[tuple, str] = {}
    value_infos, weight_infos, weights = [], [], []
    out_infos: dict = {}
    input_infos: dict = {}

    # output tensors produced by ops take the output's name directly
    claimed: dict[tuple, str] = {}
    for out in graph.outputs:
        src = graph.output_tensor(out)
        if graph.kind(src[0]) == "op" and src not in claimed:
            claimed[src] = graph.node(out)["name"]
    for oname in claimed.values():
        e._used.add(oname)
    for nid in graph.inputs:
        e._used.add(graph.node(nid)["name"])

    for nid in graph.topo():
        d = graph.node(nid)
        kind = d["kind"]
        if kind == "input":
            names[(nid, 0)] = d["name"]
            e.specs[d["name"]] = d["specs"][0]
            input_infos[nid] = value_info(d["name"], d["specs"][0])
        elif kind == "weight":
            var = d["var"]
            wname = e.fresh(var.path)
            names[(nid, 0)] = wname
            e.specs[wname] = d["specs"][0]
            if weights_as_inputs:
                weight_infos.append(value_info(wname, d["specs"][0]))
            else:
                weights.append((wname, var))
        elif kind == "const":
            names[(nid, 0)] = e.const(d["value"])
        elif kind == "op":
            ins = ["" if t is None else names[t] for t in graph.in_tensors(nid)]
            while ins and ins[-1] == "":
                ins.pop()
            outs = []
            for slot, spec in enumerate(d["specs"]):
                oname = claimed.get((nid, slot)) or e.fresh(f"{d['scope'] or d['op']}/{d['op']}")
                names[(nid, slot)] = oname
                e.specs[oname] = spec
                outs.append(oname)
                if (nid, slot) not in claimed:
                    value_infos.append(value_info(oname, spec))
            e._node_name = f"{d['scope']}/{d['op']}" if d["scope"] else d["op"]
            get_op(d["op"]).emit(e, d["attrs"], ins, outs)
            e._node_name = ""
        elif kind == "output":
            src = graph.output_tensor(nid)
            oname = d["name"]
            spec = graph.spec(src)
            if claimed.get(src) != oname:
                e._used.add(oname)
                e.node("Identity", [names[src]], [oname])
            out_infos[nid] = value_info(oname, spec)

    g_outputs = [out_infos[n] for n in graph.outputs]  # model order, not topological order
    # inputs: data, labels, lr, step... in graph order, then weights, then optimizer slots ("w:slot")
    plain = [input_infos[n] for n in graph.inputs if n in input_infos and ":" not in graph.node(n)["name"]]
    slots = [input_infos[n] for n in graph.inputs if n in input_infos and ":" in graph.node(n)["name"]]
    g_inputs = plain + weight_infos + slots
    gp = helper.make_graph(e.nodes, _clean(name), g_inputs, g_outputs, value_info=value_infos, doc_string=doc)
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(gp, opset_imports=opsets, producer_name="irgraph",
                              ir_version=helper.find_min_ir_version_for(opsets))
    if metadata:
        helper.set_model_props(model, {k: str(v) for k, v in metadata.items()})
    return EmittedModel(model, weights, e.initializers)


def check(model) -> None:
    """Raise if the model does not pass the full ONNX checker (with strict shape inference)."""
    onnx.checker.check_model(model, full_check=True)


__all__ = ["emit", "emit_model", "EmittedModel", "check", "Emitter", "MIN_OPSET", "max_opset", "TensorProto"]
