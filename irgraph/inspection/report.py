"""Cost tables: per layer (irgraph models: the scope every op keeps) or per name scope (foreign ONNX
files), in graph order, with totals, the operator histogram and peak-memory estimates.

`analyze` returns a plain dict (what ``irgraph inspect --json`` prints); `render` writes it as text.
"""
from __future__ import annotations

import collections
import io

from . import costs
from .view import View


def analyze(view: View, train_view: View | None = None, optimizer_slots: int | None = None) -> dict:
    params = view.parameters()
    owner = {}  # parameter -> the scope of its first reader
    for name, readers in params.items():
        owner[name] = view.node(readers[0]).scope
    rows: dict = {}
    node_macs = {}
    graph_outputs = set(view.outputs)
    for node in view.nodes:
        row = rows.get(node.scope)
        if row is None:
            row = rows[node.scope] = _new_row(node.scope)
        m = view.macs(node)
        node_macs[node.name] = m
        row["_nodes"].append(node)
        if node.const:
            row["folded_nodes"] += 1
            continue
        row["ops"][node.op] += 1
        if m is None:
            row["unknown"].append(node.op)
        else:
            row["_macs"] += m
            row["_best"] = max(row["_best"], (m, -len(row["_nodes"]), node.op))
        for t in node.outputs:
            if not view.tensors[t].consumers and t not in graph_outputs:
                continue  # an output nobody reads (Dropout's mask) is not kept
            b = view.tensors[t].nbytes
            row["_act"] = None if (b is None or row["_act"] is None) else row["_act"] + b
    for name, readers in params.items():
        t = view.tensors[name]
        row = rows[owner[name]]
        n = costs.numel(t.shape) or 0
        row["params"] += n
        if t.trainable is False:
            row["non_trainable_params"] += n
        row["weight_bytes"] += t.nbytes or 0
        row["weights"].append(name)
        for reader in readers[1:]:
            other = view.node(reader).scope
            if other != owner[name] and name not in rows[other]["shared_weights"]:
                rows[other]["shared_weights"].append(name)
    layers = [_finish_row(view, row) for row in rows.values() if _shown(row)]
    total = {
        "params": sum(r["params"] for r in layers),
        "non_trainable_params": sum(r["non_trainable_params"] for r in layers),
        "macs": sum(r["macs"] or 0 for r in layers) + sum(r["macs_known_part"] for r in layers),
        "macs_complete": all(not r["unknown_ops"] for r in layers),
        "activation_bytes": _sum_or_none(r["activation_bytes"] for r in layers),
        "weight_bytes": sum(r["weight_bytes"] for r in layers),
        "nodes": len(view.nodes),
    }
    report = {
        "model": view.name,
        "batch": view.dims.get("batch") if view.meta.get("batch_given") else None,
        "costs_at_batch": view.dims.get("batch", 1) if not view.meta.get("batch_given") else None,
        "dims": {k: v for k, v in view.dims.items()},
        "inputs": [{"name": n, "shape": _shape(view.tensors[n].shape), "dtype": view.tensors[n].dtype}
                   for n in view.inputs],
        "outputs": [{"name": n, "shape": _shape(view.tensors[n].shape), "dtype": view.tensors[n].dtype}
                    for n in view.outputs],
        "layers": layers,
        "total": total,
        "memory": {"inference_peak_bytes": peak_memory(view)},
        "operators": dict(sorted(collections.Counter(n.op for n in view.nodes).items(),
                                 key=lambda kv: (-kv[1], kv[0]))),
        "unknown_operators": sorted({op for r in layers for op in r["unknown_ops"]}),
        "notes": notes(view),
        "unresolved_dims": {k: [[axis, sym] for axis, sym in v] for k, v in view.unresolved.items()},
    }
    if train_view is not None:
        report["memory"]["train_step"] = train_step_memory(train_view)
    elif optimizer_slots is not None:
        report["memory"]["train_step"] = train_step_estimate(view, report, optimizer_slots)
    return report


def _new_row(scope: str) -> dict:
    return {"name": scope, "_nodes": [], "ops": collections.Counter(), "unknown": [], "_macs": 0,
            "_best": (-1, 0, ""), "_act": 0, "params": 0, "non_trainable_params": 0,
            "weight_bytes": 0, "weights": [], "shared_weights": [], "folded_nodes": 0}


def _shown(row) -> bool:
    """A scope of folded constants only (a weight's transpose) is no layer of its own."""
    return bool(row["ops"]) or bool(row["params"])


def _finish_row(view: View, row: dict) -> dict:
    nodes = row["_nodes"]
    inside = {n.name for n in nodes}
    out_shapes = []
    consumed_outside = set(view.outputs)
    for n in nodes:
        if n.const:
            continue
        for t in n.outputs:
            tensor = view.tensors[t]
            if t in consumed_outside or any(c not in inside for c, _ in tensor.consumers):
                shown = tensor.shape if view.meta.get("batch_given") else (tensor.symbolic_shape or tensor.shape)
                out_shapes.append(_shape(shown))
    layer_type = next((n.layer_type for n in nodes if n.layer_type), None)
    if layer_type is None:
        layer_type = row["_best"][2] or (next(iter(row["ops"]), None) or nodes[0].op)
    unknown = sorted(set(row["unknown"]))
    return {
        "name": row["name"], "type": layer_type, "output_shapes": out_shapes,
        "params": row["params"], "non_trainable_params": row["non_trainable_params"],
        "macs": None if unknown else row["_macs"], "macs_known_part": row["_macs"] if unknown else 0,
        "activation_bytes": row["_act"], "weight_bytes": row["weight_bytes"],
        "nodes": len(nodes), "folded_nodes": row["folded_nodes"], "ops": dict(row["ops"]),
        "weights": row["weights"], "shared_weights": row["shared_weights"], "unknown_ops": unknown,
    }


def _sum_or_none(values):
    total = 0
    for v in values:
        if v is None:
            return None
        total += v
    return total


def _shape(shape):
    return None if shape is None else [d if isinstance(d, (int, str)) else None for d in shape]


def notes(view: View) -> list:
    out = []
    for name, axes in view.unresolved.items():
        for axis, sym in axes:
            if axis == 0:
                out.append(f"input '{name}' axis 0 ({sym or 'unknown'}) is not set: costs are unknown; give --batch N")
            else:
                out.append(f"input '{name}' axis {axis} ({sym or 'unknown'}) is not set: costs that depend on it "
                           f"are unknown; give --dim {sym or 'NAME'}=N" if sym else
                           f"input '{name}' axis {axis} has no size: costs that depend on it are unknown")
    return out


# ------------------------------------------------------------------------------------ memory
def peak_memory(view: View, hold_inputs: bool = False) -> dict:
    """Peak memory of one run, executing the nodes in graph order: the constants kept after folding
    (those read by a computing node), plus the live tensors: each is allocated by its producer and
    freed after its last reader, graph outputs stay. With ``hold_inputs`` the graph inputs stay
    too (a training step's weights and optimizer state belong to the caller)."""
    kept_consts = set()
    for node in view.nodes:
        if node.const:
            continue
        for t in node.inputs:
            if t and view.tensors[t].const:
                kept_consts.add(t)
    const_bytes = sum(view.tensors[t].nbytes or 0 for t in kept_consts)
    remaining = {}
    for node in view.nodes:
        if node.const:
            continue
        for t in set(node.inputs):
            if t and not view.tensors[t].const:
                remaining[t] = remaining.get(t, 0) + 1
    keep = set(view.outputs) | (set(view.inputs) if hold_inputs else set())
    unknown = False
    live = 0
    for t in view.inputs:
        b = view.tensors[t].nbytes
        unknown |= b is None
        live += b or 0
    input_bytes = live
    peak, at = live, None
    for node in view.nodes:
        if node.const:
            continue
        for t in node.outputs:
            if t not in remaining and t not in keep:
                continue  # an output nobody reads (Dropout's mask) is not kept
            b = view.tensors[t].nbytes
            unknown |= b is None
            live += b or 0
        if live > peak:
            peak, at = live, node.name
        for t in set(node.inputs):
            if t and t in remaining:
                remaining[t] -= 1
                if remaining[t] == 0 and t not in keep:
                    live -= view.tensors[t].nbytes or 0
    return {"peak_bytes": None if unknown else const_bytes + peak, "constant_bytes": const_bytes,
            "input_bytes": input_bytes, "activation_peak_bytes": None if unknown else peak, "peak_at": at}


def train_step_memory(train_view: View) -> dict:
    """The training-step graph (forward, loss, backward, optimizer update) run once: its inputs
    (batch, labels, weights, optimizer slots) are held throughout, its activations live from their
    producer to their last reader in the backward pass, the new weights and slots are outputs."""
    est = peak_memory(train_view, hold_inputs=True)
    weights = [t for t in train_view.tensors.values() if t.kind == "weight"]
    slots = [t for n, t in train_view.tensors.items() if t.kind == "input" and n.count(":") >= 1
             and not n.endswith("_true")]
    est.update({"method": "liveness over the training-step graph",
                "weight_bytes": sum(t.nbytes or 0 for t in weights),
                "optimizer_slot_bytes": sum(t.nbytes or 0 for t in slots),
                "nodes": len(train_view.nodes)})
    return est


def train_step_estimate(view: View, report: dict, slots: int) -> dict:
    """Without a training graph (a foreign ONNX file): every forward activation kept for the
    backward pass, one gradient per parameter and ``slots`` optimizer values per parameter."""
    weights = report["total"]["weight_bytes"]
    acts = report["total"]["activation_bytes"]
    inputs = sum(view.tensors[n].nbytes or 0 for n in view.inputs)
    peak = None if acts is None else inputs + acts + weights * (2 + slots)
    return {"method": f"estimate: all forward activations kept, gradients, {slots} optimizer slots per weight",
            "peak_bytes": peak, "weight_bytes": weights, "gradient_bytes": weights,
            "optimizer_slot_bytes": weights * slots, "activation_bytes": acts}


# ------------------------------------------------------------------------------------ text
def human(n, unit="") -> str:
    if n is None:
        return "unknown"
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.2f}{suffix}{unit}"
    return f"{n}{unit}" if not unit else f"{n} {unit}".replace(" B", "B")


def human_bytes(n) -> str:
    if n is None:
        return "unknown"
    for div, suffix in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if abs(n) >= div:
            return f"{n / div:.2f} {suffix}"
    return f"{n} B"


def _shapes_text(shapes) -> str:
    parts = []
    for s in shapes[:3]:
        parts.append("?" if s is None else "(" + ", ".join("?" if d is None else str(d) for d in s) + ")")
    if len(shapes) > 3:
        parts.append(f"+{len(shapes) - 3}")
    return " ".join(parts)


def _table(headers, rows, right) -> str:
    """A plain text table (rich's tables take seconds for thousands of rows)."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells):
        return "  " + "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()
    rule = "  " + "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule] + [line(r) for r in rows]) + "\n"


def render(report: dict, width: int = 130) -> str:
    from rich.console import Console
    from rich.markup import escape

    buf = io.StringIO()
    con = Console(file=buf, width=width, color_system=None)
    batch = report["batch"]
    title = f"costs of '{report['model']}'" + (f" at batch {batch}" if batch is not None else
                                               " per sample (batch 1; --batch N for another)")
    rows = []
    for r in report["layers"]:
        macs = human(r["macs"]) if r["macs"] is not None else f"unknown ({', '.join(r['unknown_ops'])})"
        params = f"{r['params']:,}" + (" shared" if r["shared_weights"] and not r["params"] else "")
        rows.append([r["name"], str(r["type"]), _shapes_text(r["output_shapes"]), params, macs,
                     human_bytes(r["activation_bytes"]), human_bytes(r["weight_bytes"])])
    buf.write(title + "\n\n")
    buf.write(_table(["layer", "type", "output shape", "params", "MACs", "activations", "weights"], rows,
                     [False, False, False, True, True, True, True]))
    buf.write("\n")
    t = report["total"]
    macs = human(t["macs"]) + ("" if t["macs_complete"] else " + unknown")
    con.print(f"total: {t['params']:,} parameters ({t['non_trainable_params']:,} non-trainable), "
              f"{escape(macs)} MACs, activations {human_bytes(t['activation_bytes'])}, "
              f"weights {human_bytes(t['weight_bytes'])}, {t['nodes']} nodes")
    mem = report["memory"]["inference_peak_bytes"]
    con.print(f"peak memory, inference: {human_bytes(mem['peak_bytes'])} "
              f"(constants {human_bytes(mem['constant_bytes'])}, live tensors "
              f"{human_bytes(mem['activation_peak_bytes'])})")
    train = report["memory"].get("train_step")
    if train:
        con.print(f"peak memory, one training step: {human_bytes(train['peak_bytes'])} ({escape(train['method'])}; "
                  f"weights {human_bytes(train['weight_bytes'])}, optimizer slots "
                  f"{human_bytes(train['optimizer_slot_bytes'])})")
    ops = report["operators"]
    con.print("operators: " + escape(", ".join(f"{k} x{v}" for k, v in ops.items())))
    if report["unknown_operators"]:
        con.print("operators without a cost formula (costs shown as unknown): "
                  + escape(", ".join(report["unknown_operators"])))
    for note in report["notes"]:
        con.print("note: " + escape(note))
    return buf.getvalue()
