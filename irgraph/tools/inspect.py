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


# ------------------------------------------------------------------------------------ targets
class Target:
    """What `irgraph inspect` and `irgraph diff` were given: an ONNX model, or an irgraph model
    (a factory, a saved irgraph model, a Keras file)."""

    def __init__(self, label: str, proto=None, model=None, note: str | None = None):
        self.label, self.proto, self.model, self.note = label, proto, model, note


def load_target(spec: str) -> Target:
    """A file (ONNX, or a model saved by irgraph or Keras) or a ``module:factory``; clear errors,
    never a traceback."""
    import os
    looks_like_file = os.path.exists(spec) or spec.endswith((".onnx", ".keras", ".h5", ".hdf5"))
    if not looks_like_file:
        from .cli import load_factory
        return Target(spec, model=load_factory(spec))
    if not os.path.exists(spec):
        raise SystemExit(f"irgraph: no such file {spec!r}")
    if os.path.isdir(spec):
        raise SystemExit(f"irgraph: {spec!r} is a directory; give an .onnx, .keras or .h5 file")
    from ..saving_h5 import is_hdf5
    from .. import keras_files
    if keras_files.is_keras_archive(spec) or is_hdf5(spec):
        from ..models import load_model
        try:
            return Target(spec, model=load_model(spec))
        except (ValueError, TypeError, KeyError, OSError) as err:
            raise SystemExit(f"irgraph: cannot load the Keras model {spec!r}: {err}") from None
    try:
        proto = onnx.load(spec)
    except Exception as err:  # a damaged file: say so, no traceback
        raise SystemExit(f"irgraph: {spec!r} is not a readable ONNX model ({type(err).__name__}: "
                         f"{str(err)[:200]}); give an .onnx file, a saved model or MODULE:FACTORY") from None
    if not proto.graph.node and not proto.graph.input:
        raise SystemExit(f"irgraph: {spec!r} holds no ONNX graph (no nodes, no inputs): is it an ONNX model?")
    meta = {p.key: p.value for p in proto.metadata_props}
    if "irgraph.model_config" in meta:  # saved by irgraph: the layers and their types come back
        from ..models import load_model
        try:
            return Target(spec, proto=proto, model=load_model(spec))
        except (ValueError, TypeError, KeyError) as err:
            note = f"saved by irgraph, but not loadable here ({err}); shown as a plain ONNX graph"
            return Target(spec, proto=proto, note=note)
    return Target(spec, proto=proto)


def target_onnx(target: Target):
    if target.proto is None:
        target.proto = target.model.to_onnx()
    return target.proto


def target_report(target: Target, batch=None, dims=None, train=False) -> dict:
    from ..inspection import model_report, onnx_report
    if target.model is not None:
        report = model_report(target.model, batch=batch, dims=dims, train=train)
        report["passes"] = passes_table(target.model)
    else:
        report = onnx_report(target.proto, batch=batch, dims=dims, train=train)
    report["source"] = target.label
    if target.note:
        report["notes"].append(target.note)
    return report


def target_html(target: Target, batch=None, dims=None) -> str:
    """The interactive HTML view: a model's graph after every pass and its training step, or the
    graph of an ONNX file."""
    from ..inspection.html import model_page, view_page
    from ..inspection.view import from_onnx
    if target.model is not None:
        return model_page(target.model, batch=batch, dims=dims, train=True)
    return view_page(from_onnx(target.proto, batch=batch, dims=dims), target.label)


def diff_html(a: Target, b: Target) -> str:
    from ..inspection.diff import diff_views, render_diff
    from ..inspection.html import diff_page
    from ..inspection.view import from_onnx
    view_a, view_b = from_onnx(target_onnx(a)), from_onnx(target_onnx(b))
    result = diff_views(view_a, view_b, a.label, b.label)
    return diff_page(view_a, view_b, result, render_diff(result))


def passes_table(model) -> list:
    pm = model.compile_graph()
    rows = []
    for name, g in pm.history:
        ms = pm.timings.get(name)
        rows.append({"pass": name, **graph_stats(g), "ms": None if ms is None else round(ms * 1e3, 2)})
    return rows


def target_text(target: Target, report: dict) -> str:
    from ..inspection import render
    if target.model is not None:
        from ..summary import summary_text
        head = summary_text(target.model) + passes_report(target.model)
    else:
        head = onnx_summary(target.proto)
    return head + render(report)
