"""Inspection: what a model or an ONNX file holds, and the graph before and after every pass."""
from __future__ import annotations

import collections
import io

import numpy as np
import onnx
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _dims(vi) -> str:
    t = vi.type.tensor_type
    dims = [d.dim_param if d.dim_param else (str(d.dim_value) if d.HasField("dim_value") else "?")
            for d in t.shape.dim]
    return escape(f"{onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name}[{', '.join(dims)}]")


def onnx_summary(model: onnx.ModelProto) -> str:
    """Inputs, outputs, operator counts and parameters of an ONNX model, as text."""
    buf = io.StringIO()
    con = Console(file=buf, width=110, color_system=None)
    g = model.graph
    opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import)
    con.print(f"ONNX model '{g.name}' (IR {model.ir_version}, opset {opsets}, producer {model.producer_name})")
    io_table = Table(box=box.SIMPLE_HEAD)
    for col in ("kind", "name", "type"):
        io_table.add_column(col)
    init_names = {i.name for i in g.initializer}
    for vi in g.input:
        if vi.name not in init_names:
            io_table.add_row("input", vi.name, _dims(vi))
    for vi in g.output:
        io_table.add_row("output", vi.name, _dims(vi))
    con.print(io_table)
    counts = collections.Counter(n.op_type for n in g.node)
    ops = Table(title="operators", box=box.SIMPLE_HEAD, title_justify="left")
    ops.add_column("op")
    ops.add_column("count", justify="right")
    for op, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        ops.add_row(op, str(c))
    con.print(ops)
    state = [i for i in g.initializer if i.name.startswith("optimizer_state/")]
    weights = [i for i in g.initializer if "/" in i.name and not i.name.startswith("optimizer_state/")]
    n_params = sum(int(np.prod(i.dims)) for i in weights)
    line = f"{len(g.node)} nodes, {len(weights)} weight initializers, {n_params:,} parameters"
    if state:
        line += f"; optimizer state: {len(state)} tensors, {sum(int(np.prod(i.dims)) for i in state):,} values"
    meta = {p.key: p.value for p in model.metadata_props}
    con.print(line)
    if "irgraph.model_config" in meta:
        con.print("saved by irgraph: reloads with irgraph.models.load_model(path) to continue training")
    return buf.getvalue()


def graph_stats(graph) -> dict:
    kinds = collections.Counter(d["kind"] for _, d in graph.nx.nodes(data=True))
    return {"nodes": graph.nx.number_of_nodes(), "edges": graph.nx.number_of_edges(),
            **{k: kinds.get(k, 0) for k in ("input", "call", "op", "weight", "const", "output")},
            "shared_weights": len(graph.shared_weights())}


def passes_report(model) -> str:
    """The graph after every pass of the inference pipeline, as a table."""
    pm = model.compile_graph()
    buf = io.StringIO()
    con = Console(file=buf, width=110, color_system=None)
    table = Table(title=f"passes of '{model.name}'", box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("after", "nodes", "edges", "call", "op", "weight", "const", "shared", "ms"):
        table.add_column(col, justify="right" if col != "after" else "left")
    for name, g in pm.history:
        s = graph_stats(g)
        ms = pm.timings.get(name)
        table.add_row(name, str(s["nodes"]), str(s["edges"]), str(s["call"]), str(s["op"]),
                      str(s["weight"]), str(s["const"]), str(s["shared_weights"]),
                      "" if ms is None else f"{ms * 1e3:.1f}")
    con.print(table)
    final = pm.graph
    shared = final.shared_weights()
    if shared:
        con.print("shared weights (one weight, several readers):")
        for w, readers in shared.items():
            con.print(f"  {final.node(w)['var'].path}: read by {len(readers)} ops")
    ops = final.op_counts()
    con.print("ops after cleanup: " + ", ".join(f"{k} x{v}" for k, v in ops.items()))
    return buf.getvalue()
