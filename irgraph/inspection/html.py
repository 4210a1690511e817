"""The interactive HTML view: one self-contained file (no network, no graphviz) showing graphs as
layered DAGs, layers as collapsible groups of their ops, shapes on edges, shared weights linked to
each reader, details (attributes, parameters, MACs, weight statistics) on click, search, pan and
zoom; one tab per graph (each pass of a model and its training step, or the two sides of a diff)
with the nodes that changed highlighted.

Python lays out every level here (`layout.layered_layout`: the collapsed level, and the ops of
each layer on their own) and embeds everything as JSON; the page's script (static/view.js) only
draws, moves what is beside and below a layer it expands, and answers clicks.
"""
from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path

import numpy as np

from ..ir import gc_paused
from . import costs
from .diff import _plain, diff_nodes, node_key
from .layout import layered_layout
from .report import analyze
from .view import View

STATIC = Path(__file__).with_name("static")
ATTR_TEXT_LIMIT = 300  # characters of one attribute value shown (a long list is cut)


# ------------------------------------------------------------------------------------ pages
def model_page(model, batch: int | None = None, dims: dict | None = None, train: bool = True,
               start: str | None = None) -> str:
    """The page of an irgraph model: a tab per pass of its inference pipeline and, with ``train``,
    one for its training-step graph, each with the changes from the tab before highlighted. It
    opens on the tab named ``start``, by default the last inference pass (the graph that runs)."""
    with gc_paused():  # hundreds of thousands of small records: the collector would walk them all
        return _model_page(model, batch, dims, train, start)


def _model_page(model, batch, dims, train, start) -> str:
    from . import layer_types, train_passes
    from .view import from_ir
    types = layer_types(model)
    pm = model.compile_graph()
    graphs = [(name, from_ir(g, batch=batch, dims=dims, layer_types=types)) for name, g in pm.history]
    notes = []
    if train:
        try:
            tp, note = train_passes(model)
        except (ValueError, TypeError, RuntimeError) as err:
            notes.append(f"no training-step tab: {err}")
        else:
            graphs.append(("training step", from_ir(tp.graph, batch=batch, dims=dims, weights_constant=False,
                                                    layer_types=types)))
            if note:
                notes.append(note)
    final_rows = _rows(analyze(graphs[len(pm.history) - 1][1]))  # the last inference pass
    weights: dict = {}
    tabs = []
    previous = None
    for name, view in graphs:
        rows = _rows(analyze(view))
        if name == "input":  # the layer-level graph: each call's costs are those of its lowered ops
            rows = {**rows, **final_rows}
        status, removed = ({}, []) if previous is None else pass_changes(previous, view)
        title = f"after {name}" if name not in ("input", "training step") else name
        tabs.append(tab_data(name, view, rows, weights, "model", status, removed,
                             title=title, compared_with=None if previous is None else previous_name))
        previous, previous_name = view, name
    return page({"title": f"irgraph: {model.name}", "kind": "model", "tabs": tabs, "weights": weights,
                 "notes": notes, "start": _start_tab(tabs, train, start)})


def _start_tab(tabs: list, train: bool, name: str | None) -> int:
    if name is not None:
        return next(i for i, t in enumerate(tabs) if t["name"] == name)
    return len(tabs) - 2 if train and len(tabs) > 1 and tabs[-1]["name"] == "training step" else len(tabs) - 1


def view_page(view: View, label: str) -> str:
    """The page of one graph (a foreign ONNX file)."""
    with gc_paused():
        return _view_page(view, label)


def _view_page(view: View, label: str) -> str:
    weights: dict = {}
    tab = tab_data(label, view, _rows(analyze(view)), weights, "file", {}, [], title=label)
    return page({"title": f"irgraph: {label}", "kind": "file", "tabs": [tab], "weights": weights,
                 "notes": [], "start": 0})


def diff_page(a: View, b: View, result: dict, text: str) -> str:
    """Two graphs side by side as tabs: A with its removed and changed nodes highlighted, B with
    its added and changed ones; initializers whose values differ mark their readers as changed."""
    with gc_paused():
        return _diff_page(a, b, result, text)


def _diff_page(a: View, b: View, result: dict, text: str) -> str:
    _, _, added, removed, changed = diff_nodes(a, b)
    why = {c["node"]: _change_text(c) for c in changed}
    differing = {i["name"]: i for i in result["initializers"] if i["status"] != "same"}
    status_a = {k: ("removed", "not in B") for k in removed}
    status_b = {k: ("added", "not in A") for k in added}
    for k, text_ in why.items():
        status_a[k] = status_b[k] = ("changed", text_)
    for side, view, status in (("a", a, status_a), ("b", b, status_b)):
        params = view.parameters()
        for name, info in differing.items():
            for reader in params.get(name, []):
                key = node_key(view, view.node(reader))
                if key not in status:
                    status[key] = ("changed", f"weight {name}: {_initializer_text(info)}")
    weights: dict = {}
    tabs = [tab_data(f"A: {result['a']}", a, _rows(analyze(a)), weights, "a", status_a, [],
                     title=f"A: {result['a']}"),
            tab_data(f"B: {result['b']}", b, _rows(analyze(b)), weights, "b", status_b, [],
                     title=f"B: {result['b']}")]
    return page({"title": f"irgraph diff: {result['a']} vs {result['b']}", "kind": "diff", "tabs": tabs,
                 "weights": weights, "notes": [], "diff": text, "start": 1})


def pass_changes(before: View, after: View):
    """Status of each node of ``after`` against the graph before it (by IR node id): added, or
    changed (operator, attributes, shapes), and the nodes the pass removed."""
    nodes_a, _, added, removed, changed = diff_nodes(before, after)
    status = {k: ("added", "new in this pass") for k in added}
    for c in changed:
        status[c["node"]] = ("changed", _change_text(c))
    return status, [{"name": nodes_a[k].name, "op": nodes_a[k].op, "scope": nodes_a[k].scope} for k in removed]


def _change_text(change: dict) -> str:
    parts = []
    for field in ("op", "input_shapes", "output_shapes"):
        if field in change:
            parts.append(f"{field.replace('_', ' ')} {_short(change[field]['a'])} -> {_short(change[field]['b'])}")
    for name, ab in change.get("attrs", {}).items():
        parts.append(f"{name} {_short(ab['a'])} -> {_short(ab['b'])}")
    return "; ".join(parts)


def _initializer_text(info: dict) -> str:
    if "max_abs_diff" in info:
        return f"max |A - B| = {info['max_abs_diff']:.6g}"
    if info["status"] == "changed":
        return f"{info['a']} -> {info['b']}"
    return info["status"]


def _short(value, limit: int = 80) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _rows(report: dict) -> dict:
    keep = ("type", "output_shapes", "params", "non_trainable_params", "macs", "macs_known_part",
            "activation_bytes", "weight_bytes", "ops", "unknown_ops", "shared_weights")
    return {r["name"]: {k: r[k] for k in keep} for r in report["layers"]}


# ------------------------------------------------------------------------------------ one tab
def tab_data(name: str, view: View, rows: dict, weights: dict, source: str, status: dict, removed: list,
             title: str | None = None, compared_with: str | None = None) -> dict:
    """Everything the page draws for one graph: nodes, layers (groups of ops with their own
    layout), the collapsed level's items (layers, lone nodes, inputs, outputs, shared weights) and
    its layout, edges with shape labels. The statistics of the parameters it reads go to
    ``weights[source]`` (shared by the tabs of one model)."""
    weight_stats = weights.setdefault(source, {})
    shown_batch = bool(view.meta.get("batch_given"))
    params = view.parameters()
    index = {n.name: i for i, n in enumerate(view.nodes)}
    reads: dict = {}  # node index -> parameters it reads (directly or through folded constants)
    for p, readers in params.items():
        for reader in readers:
            reads.setdefault(index[reader], []).append(p)
    for i, node in enumerate(view.nodes):
        for t in node.inputs:
            if t and t in params and t not in reads.get(i, []):
                reads.setdefault(i, []).append(t)
    # groups: the ops of one scope (a layer call); a call of the layer-level graph stands alone
    scope_members: dict = {}
    for i, node in enumerate(view.nodes):
        if node.kind == "op" and node.scope:
            scope_members.setdefault(node.scope, []).append(i)
    group_of, local = {}, {}  # node index -> its group, and its place among the group's nodes
    groups = []
    for scope, members in scope_members.items():
        if len(members) > 1:
            for k, i in enumerate(members):
                group_of[i], local[i] = len(groups), k
            groups.append({"name": scope, "nodes": members})
    # the collapsed level's items, in graph order: inputs, then each layer or lone node where it
    # first appears (a shared weight just before its first reader), outputs last
    items: list = []
    item_of_node: dict = {}
    item_of_tensor: dict = {}
    for t in view.inputs:
        item_of_tensor[t] = len(items)
        items.append({"kind": "input", "name": t, "shape": _shape_text(view.tensors[t], shown_batch),
                      "dtype": view.tensors[t].dtype})
    group_item: dict = {}
    shared_pending = _shared_weights(view, params, index, group_of, groups)
    for i, node in enumerate(view.nodes):
        for p in shared_pending.pop(i, []):
            item_of_tensor[p] = len(items)
            t = view.tensors[p]
            readers = sorted({index[r] for r in params[p]} | {index[n] for n, _ in t.consumers})
            items.append({"kind": "weight", "name": p, "shape": _shape_text(t, True), "dtype": t.dtype,
                          "readers": readers})
        g = group_of.get(i)
        if g is None:
            item_of_node[i] = len(items)
            items.append({"kind": "node", "node": i})
        elif g not in group_item:
            group_item[g] = len(items)
            item_of_node[i] = len(items)
            items.append({"kind": "group", "group": g})
        else:
            item_of_node[i] = group_item[g]
    outputs_at = {}
    for t in view.outputs:
        outputs_at.setdefault(t, len(items))
        items.append({"kind": "output", "name": t, "shape": _shape_text(view.tensors[t], shown_batch),
                      "dtype": view.tensors[t].dtype})
    # edges of the collapsed level (one per pair of items) and inside each layer
    pairs: dict = {}
    inner: list = [dict() for _ in groups]

    def link(src_item, dst_item, src_node, dst_node, label, weight=False):
        key = (src_item, dst_item)
        edge = pairs.get(key)
        if edge is None:
            edge = pairs[key] = {"from": src_item, "to": dst_item, "label": label, "links": [], "weight": weight}
        if [src_node, dst_node] not in edge["links"] and len(edge["links"]) < 16:
            edge["links"].append([src_node, dst_node])

    for t_name, tensor in view.tensors.items():
        if tensor.producer is not None:
            src_node = index[tensor.producer]
            src_item = item_of_node[src_node]
        elif t_name in item_of_tensor:
            src_node, src_item = -1, item_of_tensor[t_name]
        else:
            continue  # a weight read by one layer, a constant: shown in its reader's details
        is_weight = items[src_item]["kind"] == "weight"
        label = "" if is_weight else _shape_text(tensor, shown_batch)
        readers = items[src_item]["readers"] if is_weight else [index[c] for c, _ in tensor.consumers]
        for dst_node in readers:
            dst_item = item_of_node[dst_node]
            if dst_item == src_item:
                g = group_of.get(dst_node)
                if g is not None and src_node >= 0:
                    inner[g].setdefault((local[src_node], local[dst_node]), label)
                continue
            link(src_item, dst_item, src_node, dst_node, label, is_weight)
        if t_name in outputs_at:
            link(src_item, outputs_at[t_name], src_node, -1, label)
    edges = list(pairs.values())
    top = layered_layout(len(items), [(e["from"], e["to"]) for e in edges])
    for k, e in enumerate(edges):
        e["path"] = top.paths[k]
    for g, group in enumerate(groups):
        pairs_g = list(inner[g].items())
        lay = layered_layout(len(group["nodes"]), [p for p, _ in pairs_g])
        group["layout"] = lay.as_json()
        group["edges"] = [{"path": lay.paths[k], "label": label} for k, (_, label) in enumerate(pairs_g)]
        row = rows.get(group["name"], {})
        group["row"] = row
        group["type"] = row.get("type") or _group_type(view, group["nodes"])
    nodes = []
    for i, node in enumerate(view.nodes):
        st = status.get(node_key(view, node))
        weights = reads.get(i, [])
        for p in weights:
            if p not in weight_stats:
                weight_stats[p] = weight_summary(view.tensors[p])
        nodes.append({
            "name": node.name, "op": node.op, "kind": node.kind, "scope": node.scope,
            "layer_type": node.layer_type, "group": group_of.get(i, -1), "item": item_of_node[i],
            "attrs": {k: _attr_text(v) for k, v in node.attrs.items()},
            "in": [_tensor_row(view, t, shown_batch) for t in node.inputs],
            "out": [_tensor_row(view, t, shown_batch) for t in node.outputs],
            "macs": view.macs(node), "const": node.const, "weights": weights,
            "row": rows.get(_call_scope(node)) if node.kind == "call" else
            (rows.get(node.scope) if group_of.get(i, -1) < 0 else None),
            "status": st[0] if st else None, "why": st[1] if st else None,
        })
    for group in groups:
        states = [nodes[i]["status"] for i in group["nodes"]]
        gone = [r for r in removed if r["scope"] == group["name"]]
        if states and all(s == "added" for s in states):
            group["status"] = "added"
        elif any(states) or gone:
            group["status"] = "changed"
        else:
            group["status"] = None
        group["removed"] = [r["name"] for r in gone]
    return {"name": name, "title": title or name, "source": source, "compared_with": compared_with, "nodes": nodes,
            "groups": groups, "items": items, "layout": top.as_json(), "edges": edges,
            "removed": removed, "counts": {"nodes": len(nodes), "layers": len(groups),
                                           "items": len(items)}}


def _shared_weights(view: View, params: dict, index: dict, group_of: dict, groups: list) -> dict:
    """Parameters read by more than one layer or lone node (directly or through folded constants),
    keyed by the first node of the first item that reads them (the page draws a weight just before
    that item, so that it lies above its readers)."""
    out: dict = {}
    for p, readers in params.items():
        read_by = {index[r] for r in readers} | {index[n] for n, _ in view.tensors[p].consumers}
        owners = {group_of.get(i, ("node", i)) for i in read_by}
        if len(owners) > 1:
            first = min(groups[group_of[i]]["nodes"][0] if i in group_of else i for i in read_by)
            out.setdefault(first, []).append(p)
    return out


def _call_scope(node) -> str:
    """The scope the lowered ops of a layer call carry: 'dense', then 'dense[1]' for its second call."""
    name = node.name.split(":", 1)[-1]
    return name[:-3] if name.endswith("[0]") else name


def _group_type(view: View, members: list) -> str:
    types = [view.nodes[i].layer_type for i in members if view.nodes[i].layer_type]
    return types[0] if types else view.nodes[members[0]].op


def _tensor_row(view: View, name: str, shown_batch: bool):
    if not name:
        return ["", "(absent)", None]
    t = view.tensors[name]
    return [name, _shape_text(t, shown_batch), t.dtype]


def _shape_text(tensor, shown_batch: bool) -> str:
    shape = tensor.shape if shown_batch else (tensor.symbolic_shape or tensor.shape)
    if shape is None:
        return "?"
    if len(shape) == 0:
        return "scalar"
    return "\u00d7".join("?" if d is None else str(d) for d in shape)


def _attr_text(value) -> str:
    plain = _plain(value)
    text = plain if isinstance(plain, str) else json.dumps(plain)
    return text if len(text) <= ATTR_TEXT_LIMIT else text[:ATTR_TEXT_LIMIT - 3] + "..."


def weight_summary(tensor) -> dict:
    """Shape, dtype, size and min/max/mean/std of a parameter (None where it has no values here)."""
    out = {"shape": None if tensor.shape is None else [d if isinstance(d, int) else None for d in tensor.shape],
           "dtype": tensor.dtype, "size": costs.numel(tensor.shape), "trainable": tensor.trainable}
    if tensor.value is None:
        return out
    arr = np.asarray(tensor.value())
    if arr.size and arr.dtype.kind in "fiub":
        a = arr.astype(np.float64)
        out.update(min=_finite(a.min()), max=_finite(a.max()), mean=_finite(a.mean()), std=_finite(a.std()))
    return out


def _finite(value):
    """A number JSON can hold (NaN and infinities become None, shown as such)."""
    value = float(value)
    return value if np.isfinite(value) else None


# ------------------------------------------------------------------------------------ the file
def page(data: dict) -> str:
    """The HTML text: the template with the style, the script and the data inlined. The page's
    head (titles, counts of changes, weight statistics) is plain JSON; each tab's data is JSON
    compressed with gzip (base64), inflated with the browser's own DecompressionStream when the tab
    is first shown: the training step of a 1,000-layer model is 19 MiB of JSON, 1.5 MiB so."""
    template = (STATIC / "view.html").read_text(encoding="utf-8")
    head = {k: v for k, v in data.items() if k != "tabs"}
    head["tabs"] = [{"name": t["name"], "title": t["title"], "changes": _change_counts(t)} for t in data["tabs"]]
    elements = [_json_element("irgraph-data", head)]
    elements += [_packed_element(f"irgraph-tab-{i}", t) for i, t in enumerate(data["tabs"])]
    parts = {"/*STYLE*/": (STATIC / "view.css").read_text(encoding="utf-8"),
             "/*SCRIPT*/": (STATIC / "view.js").read_text(encoding="utf-8"),
             "__DATA__": "\n".join(elements), "__TITLE__": _escape(data["title"])}
    # one pass, so that nothing inserted is searched again (a layer may be named '__DATA__')
    return re.sub("|".join(re.escape(k) for k in parts), lambda m: parts[m.group(0)], template)


def _json_element(element_id: str, value) -> str:
    payload = json.dumps(value, separators=(",", ":"), allow_nan=False, default=_plain)
    # inside <script type="application/json">: no '<' at all, so nothing can close the element
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{element_id}">{payload}</script>'


def _packed_element(element_id: str, value) -> str:
    payload = json.dumps(value, separators=(",", ":"), allow_nan=False, default=_plain).encode("utf-8")
    packed = base64.b64encode(gzip.compress(payload, compresslevel=6, mtime=0)).decode("ascii")
    return f'<script type="application/gzip+base64" id="{element_id}">{packed}</script>'


def _change_counts(tab: dict) -> dict:
    counts = {"added": 0, "changed": 0, "removed": len(tab["removed"])}
    for node in tab["nodes"]:
        if node["status"] in counts:
            counts[node["status"]] += 1
    return counts


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def write(path, html: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(html)
