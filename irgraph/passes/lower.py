"""lower: layer-level graph (call nodes) -> op-level graph (primitive op nodes with layer scopes).

Each call node is lowered by tracing its layer's ``call`` on symbolic values; nested models trace
their own calls, so their ops carry scopes such as ``vision_model[1]/conv2d``. Unknown input dims
become symbolic: ``batch`` for axis 0, ``<input>_<axis>`` elsewhere.
"""
from __future__ import annotations

from irgraph.ir import Graph
from irgraph.ops.base import Spec
from irgraph.ops.trace import Value, tracing


def symbolic_input_spec(name: str, spec: Spec) -> Spec:
    shape = tuple(("batch" if i == 0 else f"{name}_{i}") if d is None else d for i, d in enumerate(spec.shape))
    return Spec(shape, spec.dtype)


def lower(graph: Graph, training: bool = False) -> Graph:
    if graph.count("call") == 0 and graph.count("op") > 0:
        return graph  # already lowered
    og = Graph(graph.name)
    env: dict[tuple, Value] = {}
    with tracing(og, training=training) as st:
        for nid in graph.topo():
            d = graph.node(nid)
            kind = d["kind"]
            if kind == "input":
                spec = symbolic_input_spec(d["name"], d["specs"][0])
                iid = og.add_input(d["name"], spec)
                env[(nid, 0)] = Value(og, iid, 0, spec)
            elif kind == "call":
                layer, index = d["layer"], d["node_index"]
                # None: an optional model input left out (the layer's call gets None)
                values = [None if t is None else env[t] for t in graph.in_tensors(nid)]
                scope_name = layer.name if index == 0 else f"{layer.name}[{index}]"
                outs = layer._trace_node(d["call"], values, scope_name)
                for slot, v in enumerate(outs):
                    env[(nid, slot)] = v
            elif kind == "output":
                og.add_output(d["name"], env[graph.output_tensor(nid)].tensor)
    # what layers recorded for training graphs: state updates and added losses
    og.state_updates = [(var, v.tensor) for var, v in st.updates]
    og.added_losses = [v.tensor for v in st.losses]
    og.meta["output_masks"] = {name: env[t].tensor for name, t in graph.meta.get("output_masks", {}).items()}
    og.refresh_edges()
    return og
