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

Scale: every method here is O(1) per node or edge it touches, and nothing recurses. The accessors
that every pass calls for every node read networkx's own dicts (``_node``: node -> attributes,
``_succ``/``_pred``: node -> neighbour -> edge key -> edge attributes, the structure a
MultiDiGraph is documented to be made of) rather than its view objects, which cost more than the
lookup itself.
"""
from __future__ import annotations

import contextlib
import gc
import heapq
import itertools

import networkx as nx

from .ops.base import Spec


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector while a graph is built or rewritten. Passes and
    emission allocate hundreds of thousands of small dicts, lists and tuples, and the collections
    they trigger walk the whole heap over and over: half the time of the passes of a 10,000-layer
    chain. Nothing is lost: cycles made meanwhile are collected once the collector runs again."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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
        spec = self.nx._node[node]["specs"][slot]
        self.nx.add_edge(node, dst, key=dst_slot, src_slot=slot, dst_slot=dst_slot,
                         shape=spec.shape, dtype=spec.dtype)

    def connect_weight(self, weight_node: str, dst: str) -> None:
        self.nx.add_edge(weight_node, dst, key=f"w:{weight_node}", weight=True)

    # ------------------------------------------------------------------ queries
    def node(self, nid: str) -> dict:
        return self.nx._node[nid]

    def kind(self, nid: str) -> str:
        return self.nx._node[nid]["kind"]

    def nodes_of(self, kind: str) -> list[str]:
        return [n for n, d in self.nx.nodes(data=True) if d["kind"] == kind]

    def in_tensors(self, nid: str) -> list:
        """The ``(src, src_slot)`` feeding each input slot of ``nid`` (None for absent optionals)."""
        n = self.nx._node[nid].get("n_inputs", 0)
        srcs = [None] * n
        for src, keyed in self.nx._pred[nid].items():
            for data in keyed.values():
                if not data.get("weight"):
                    srcs[data["dst_slot"]] = (src, data["src_slot"])
        return srcs

    def in_specs(self, nid: str) -> list:
        return [None if s is None else self.spec(s) for s in self.in_tensors(nid)]

    def spec(self, tensor: tuple) -> Spec:
        node, slot = tensor
        return self.nx._node[node]["specs"][slot]

    def consumers(self, nid: str) -> list[tuple]:
        """``(dst, dst_slot or None, src_slot)`` for each edge leaving ``nid``."""
        return [(dst, d.get("dst_slot"), d.get("src_slot")) for _, dst, d in self.nx.out_edges(nid, data=True)]

    def topo(self) -> list[str]:
        """Nodes in a deterministic topological order (ties broken by insertion order): Kahn's
        algorithm with a heap of ready nodes, O((nodes + edges) log nodes), no recursion. The same
        order as ``nx.lexicographical_topological_sort`` keyed by insertion order."""
        nodes = list(self.nx.nodes)
        position = {n: i for i, n in enumerate(nodes)}
        succ, pred = self.nx._succ, self.nx._pred
        waiting = {n: len(pred[n]) for n in nodes}  # distinct predecessors not yet placed
        ready = [i for i, n in enumerate(nodes) if waiting[n] == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            n = nodes[heapq.heappop(ready)]
            order.append(n)
            for m in succ[n]:
                waiting[m] -= 1
                if waiting[m] == 0:
                    heapq.heappush(ready, position[m])
        if len(order) != len(nodes):
            raise nx.NetworkXUnfeasible(f"graph '{self.name}' has a cycle")
        return order

    def ancestors_of(self, nids) -> set:
        """``nids`` and every node with a path to one of them (one backward walk, no recursion)."""
        return self._reach(nids, self.nx._pred)

    def descendants_of(self, nids) -> set:
        """``nids`` and every node reachable from one of them (one forward walk, no recursion)."""
        return self._reach(nids, self.nx._succ)

    @staticmethod
    def _reach(nids, neighbours) -> set:
        seen = set(nids)
        stack = list(seen)
        while stack:
            for m in neighbours[stack.pop()]:
                if m not in seen:
                    seen.add(m)
                    stack.append(m)
        return seen

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
        kind = self.nx._node[nid]["kind"]
        self.nx.remove_node(nid)
        if kind == "input" and nid in self.inputs:  # only these two kinds are listed: no list
            self.inputs.remove(nid)                  # scan when an op or a constant goes
        elif kind == "output" and nid in self.outputs:
            self.outputs.remove(nid)

    def remove_all(self, nids) -> None:
        """Remove several nodes at once: O(removed nodes and their edges + inputs + outputs)."""
        gone = set(nids)
        self.nx.remove_nodes_from(gone)
        if any(n in gone for n in self.inputs):
            self.inputs = [n for n in self.inputs if n not in gone]
        if any(n in gone for n in self.outputs):
            self.outputs = [n for n in self.outputs if n not in gone]

    def refresh_edges(self) -> None:
        """Copy each producer's spec onto its outgoing tensor edges (after shape inference)."""
        nodes = self.nx._node
        for src, nbrs in self.nx._succ.items():
            specs = nodes[src].get("specs")
            for keyed in nbrs.values():
                for data in keyed.values():
                    if not data.get("weight"):
                        spec = specs[data["src_slot"]]
                        data["shape"], data["dtype"] = spec.shape, spec.dtype

    def copy(self) -> "Graph":
        g = Graph(self.name)
        # what ``self.nx.copy()`` does (same node, neighbour and edge order), written straight into
        # the new graph's dicts: several times faster than going through add_nodes/add_edges
        g.nx.graph.update(self.nx.graph)
        nodes, succ, pred = g.nx._node, g.nx._succ, g.nx._pred
        for n, d in self.nx._node.items():
            d = d.copy()  # attribute dicts are shallow-copied: copy the mutable ones too
            if "specs" in d:
                d["specs"] = list(d["specs"])
            if "attrs" in d:
                d["attrs"] = dict(d["attrs"])
            nodes[n], succ[n], pred[n] = d, {}, {}
        for u, nbrs in self.nx._succ.items():
            out = succ[u]
            for v, keyed in nbrs.items():
                out[v] = pred[v][u] = {k: data.copy() for k, data in keyed.items()}
        g._ids = itertools.count(next(self._ids) + 1_000_000)
        g.inputs, g.outputs = list(self.inputs), list(self.outputs)
        g.state_updates, g.added_losses = list(self.state_updates), list(self.added_losses)
        g.meta = dict(self.meta)
        return g

    def __repr__(self) -> str:
        kinds = {k: self.count(k) for k in ("input", "call", "op", "weight", "const", "output")}
        body = ", ".join(f"{v} {k}" for k, v in kinds.items() if v)
        return f"<Graph {self.name!r}: {body}>"
