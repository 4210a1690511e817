"""The graph IR: a thin, typed layer over `networkx.MultiDiGraph`.

Node kinds (node attribute ``kind``):
  input   a model input: ``name``, ``spec``
  call    a layer called once (layer-level graphs): ``layer``, ``node_index``, ``call`` (the Keras node)
  weight  a variable: ``var``; an edge to every node that reads it (several consumers = shared)
  const   a constant array: ``value``
  op      a primitive op (after lowering): ``op``, ``attrs``, ``scope``
  output  a model output: ``name``; one incoming tensor edge

Every node that produces tensors stores their static description in ``specs`` (a list of
`Spec`, one per output slot). Tensor edges carry ``src_slot``, ``dst_slot``, ``shape``, ``dtype``;
weight edges in layer-level graphs carry ``weight=True`` and no slot. Plain networkx algorithms
work on ``graph.nx``.
"""
from __future__ import annotations

import itertools

import networkx as nx

from .ops.base import Spec


class Graph:
    def __init__(self, name: str = "graph"):
        self.name = name
        self.nx = nx.MultiDiGraph()
        self._ids = itertools.count()
        self.inputs: list[str] = []   # input node ids, in model order
        self.outputs: list[str] = []  # output node ids, in model order
        self.state_updates: list = []  # (Variable, tensor): new values of non-trained state
        self.added_losses: list = []   # scalar tensors added by layers (add_loss, activity regularizers)
        self.meta: dict = {}           # facts passes record for later stages (e.g. trained weights)

    # ------------------------------------------------------------------ construction
    def _new_id(self, prefix: str) -> str:
        return f"{prefix}#{next(self._ids)}"

    def add_input(self, name: str, spec: Spec) -> str:
        nid = self._new_id(f"input:{name}")
        self.nx.add_node(nid, kind="input", name=name, specs=[spec])
        self.inputs.append(nid)
        return nid

    def add_weight(self, var) -> str:
        nid = f"weight:{var.path}#{id(var)}"
        if nid not in self.nx:
            self.nx.add_node(nid, kind="weight", var=var, specs=[Spec(tuple(var.shape), var.dtype)])
        return nid

    def add_const(self, value) -> str:
        nid = self._new_id("const")
        self.nx.add_node(nid, kind="const", value=value, specs=[Spec(tuple(value.shape), value.dtype.name)])
        return nid

    def add_op(self, op: str, inputs: list, specs: list[Spec], attrs: dict | None = None,
               scope: str = "") -> str:
        """Add an op node reading ``inputs`` (each ``(node, slot)`` or None for an absent optional)."""
        nid = self._new_id(f"{scope + '/' if scope else ''}{op}")
        self.nx.add_node(nid, kind="op", op=op, attrs=dict(attrs or {}), scope=scope,
                         specs=list(specs), n_inputs=len(inputs))
        for slot, src in enumerate(inputs):
            if src is not None:
                self.connect(src, nid, slot)
        return nid

    def add_call(self, layer, node_index: int, call, specs: list[Spec], n_inputs: int) -> str:
        nid = self._new_id(f"call:{layer.name}[{node_index}]")
        self.nx.add_node(nid, kind="call", layer=layer, node_index=node_index, call=call,
                         specs=list(specs), n_inputs=n_inputs, scope=layer.name)
        return nid

    def add_output(self, name: str, src: tuple) -> str:
        nid = self._new_id(f"output:{name}")
        self.nx.add_node(nid, kind="output", name=name, n_inputs=1)
        self.connect(src, nid, 0)
        self.outputs.append(nid)
        return nid

    def connect(self, src: tuple, dst: str, dst_slot: int) -> None:
        node, slot = src
        spec = self.nx.nodes[node]["specs"][slot]
        self.nx.add_edge(node, dst, key=dst_slot, src_slot=slot, dst_slot=dst_slot,
                         shape=spec.shape, dtype=spec.dtype)

    def connect_weight(self, weight_node: str, dst: str) -> None:
        self.nx.add_edge(weight_node, dst, key=f"w:{weight_node}", weight=True)

    # ------------------------------------------------------------------ queries
    def node(self, nid: str) -> dict:
        return self.nx.nodes[nid]

    def kind(self, nid: str) -> str:
        return self.nx.nodes[nid]["kind"]

    def nodes_of(self, kind: str) -> list[str]:
        return [n for n, d in self.nx.nodes(data=True) if d["kind"] == kind]

    def in_tensors(self, nid: str) -> list:
        """The ``(src, src_slot)`` feeding each input slot of ``nid`` (None for absent optionals)."""
        n = self.nx.nodes[nid].get("n_inputs", 0)
        srcs = [None] * n
        for src, _, data in self.nx.in_edges(nid, data=True):
            if not data.get("weight"):
                srcs[data["dst_slot"]] = (src, data["src_slot"])
        return srcs

    def in_specs(self, nid: str) -> list:
        return [None if s is None else self.spec(s) for s in self.in_tensors(nid)]

    def spec(self, tensor: tuple) -> Spec:
        node, slot = tensor
        return self.nx.nodes[node]["specs"][slot]

    def consumers(self, nid: str) -> list[tuple]:
        """``(dst, dst_slot or None, src_slot)`` for each edge leaving ``nid``."""
        return [(dst, d.get("dst_slot"), d.get("src_slot")) for _, dst, d in self.nx.out_edges(nid, data=True)]

    def topo(self) -> list[str]:
        """Nodes in a deterministic topological order (ties broken by insertion order)."""
        order = {n: i for i, n in enumerate(self.nx.nodes)}
        return list(nx.lexicographical_topological_sort(self.nx, key=lambda n: order[n]))

    def shared_weights(self) -> dict[str, list[str]]:
        """Weight nodes read by more than one node, with their readers."""
        out = {}
        for w in self.nodes_of("weight"):
            readers = sorted({dst for _, dst in self.nx.out_edges(w)})
            if len(readers) > 1:
                out[w] = readers
        return out

    def weights(self) -> list:
        """The variables of the graph, each once, in insertion order."""
        return [self.nx.nodes[n]["var"] for n in self.nodes_of("weight")]

    def output_tensor(self, out_nid: str) -> tuple:
        return self.in_tensors(out_nid)[0]

    def count(self, kind: str) -> int:
        return sum(1 for _, d in self.nx.nodes(data=True) if d["kind"] == kind)

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, d in self.nx.nodes(data=True):
            if d["kind"] == "op":
                counts[d["op"]] = counts.get(d["op"], 0) + 1
        return dict(sorted(counts.items()))

    # ------------------------------------------------------------------ editing
    def replace_uses(self, old: tuple, new: tuple) -> None:
        """Point every edge reading tensor ``old`` at tensor ``new`` instead."""
        node, slot = old
        for _, dst, key, data in list(self.nx.out_edges(node, keys=True, data=True)):
            if data.get("src_slot") == slot and not data.get("weight"):
                self.nx.remove_edge(node, dst, key)
                self.connect(new, dst, data["dst_slot"])

    def remove(self, nid: str) -> None:
        self.nx.remove_node(nid)
        if nid in self.inputs:
            self.inputs.remove(nid)
        if nid in self.outputs:
            self.outputs.remove(nid)

    def refresh_edges(self) -> None:
        """Copy each producer's spec onto its outgoing tensor edges (after shape inference)."""
        for src, _, data in self.nx.edges(data=True):
            if not data.get("weight"):
                spec = self.nx.nodes[src]["specs"][data["src_slot"]]
                data["shape"], data["dtype"] = spec.shape, spec.dtype

    def copy(self) -> "Graph":
        g = Graph(self.name)
        g.nx = self.nx.copy()
        for n in g.nx.nodes:  # attribute dicts are shallow-copied: copy the mutable ones
            d = g.nx.nodes[n]
            if "specs" in d:
                d["specs"] = list(d["specs"])
            if "attrs" in d:
                d["attrs"] = dict(d["attrs"])
        g._ids = itertools.count(next(self._ids) + 1_000_000)
        g.inputs, g.outputs = list(self.inputs), list(self.outputs)
        g.state_updates, g.added_losses = list(self.state_updates), list(self.added_losses)
        g.meta = dict(self.meta)
        return g

    def __repr__(self) -> str:
        kinds = {k: self.count(k) for k in ("input", "call", "op", "weight", "const", "output")}
        body = ", ".join(f"{v} {k}" for k, v in kinds.items() if v)
        return f"<Graph {self.name!r}: {body}>"
