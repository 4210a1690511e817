"""Differences between two ONNX models: nodes added, removed and changed (operator, attributes,
input and output shapes), initializers compared (shape, dtype, largest absolute difference).

Nodes are matched by name (irgraph names them 'layer/Op'); a file whose nodes have no names is
matched by the name of each node's first output.
"""
from __future__ import annotations

import io

import numpy as np

from .view import View, from_onnx


def node_key(view: View, node) -> str:
    """Nodes of two files are matched by name; the graphs of one pass pipeline by IR node id."""
    return node.key or node.name


def _node_facts(view: View, node) -> dict:
    return {"op": node.op, "attrs": {k: _plain(v) for k, v in node.attrs.items()},
            "inputs": list(node.inputs), "outputs": list(node.outputs),
            "input_shapes": [_plain(s) for s in view.in_shapes(node)],
            "output_shapes": [_plain(s) for s in view.out_shapes(node)]}


def _plain(v):
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    return str(v)


def diff_nodes(a: View, b: View):
    """``(nodes_a, nodes_b, added, removed, changed)``: the nodes of each side by key, the keys only
    in B, the keys only in A, and for the nodes of both whose operator, attributes or shapes
    differ, ``{"node": key, field: {"a": ..., "b": ...}}``."""
    nodes_a = {node_key(a, n): n for n in a.nodes}
    nodes_b = {node_key(b, n): n for n in b.nodes}
    added = [k for k in nodes_b if k not in nodes_a]
    removed = [k for k in nodes_a if k not in nodes_b]
    changed = []
    for k, na in nodes_a.items():
        nb = nodes_b.get(k)
        if nb is None:
            continue
        fa, fb = _node_facts(a, na), _node_facts(b, nb)
        what = {field: {"a": fa[field], "b": fb[field]} for field in ("op", "input_shapes", "output_shapes")
                if fa[field] != fb[field]}
        attrs = {name: {"a": fa["attrs"].get(name), "b": fb["attrs"].get(name)}
                 for name in sorted(set(fa["attrs"]) | set(fb["attrs"]))
                 if fa["attrs"].get(name) != fb["attrs"].get(name)}
        if attrs:
            what["attrs"] = attrs
        if what:
            changed.append({"node": k, **what})
    return nodes_a, nodes_b, added, removed, changed


def diff_views(a: View, b: View, label_a: str = "A", label_b: str = "B") -> dict:
    nodes_a, nodes_b, added, removed, changed = diff_nodes(a, b)
    inits_a = {n: t for n, t in a.tensors.items() if t.value is not None and t.producer is None}
    inits_b = {n: t for n, t in b.tensors.items() if t.value is not None and t.producer is None}
    initializers = []
    for name in list(inits_a) + [n for n in inits_b if n not in inits_a]:
        ta, tb = inits_a.get(name), inits_b.get(name)
        entry = {"name": name}
        if ta is None or tb is None:
            entry["status"] = "added" if ta is None else "removed"
        elif tuple(ta.shape) != tuple(tb.shape) or ta.dtype != tb.dtype:
            entry.update(status="changed", a=f"{ta.dtype}{list(ta.shape)}", b=f"{tb.dtype}{list(tb.shape)}")
        else:
            va, vb = np.asarray(ta.value()), np.asarray(tb.value())
            if va.dtype.kind in "fiub" and va.size:
                d = float(np.max(np.abs(va.astype(np.float64) - vb.astype(np.float64))))
            else:
                d = 0.0 if np.array_equal(va, vb) else float("nan")
            entry.update(status="same" if d == 0 else "values differ", max_abs_diff=d)
        initializers.append(entry)
    return {
        "a": label_a, "b": label_b,
        "nodes": {"a": len(a.nodes), "b": len(b.nodes)},
        "added": [{"node": k, "op": nodes_b[k].op} for k in added],
        "removed": [{"node": k, "op": nodes_a[k].op} for k in removed],
        "changed": changed,
        "initializers": initializers,
        "inputs": {"a": _io(a, a.inputs), "b": _io(b, b.inputs)},
        "outputs": {"a": _io(a, a.outputs), "b": _io(b, b.outputs)},
        "same": not added and not removed and not changed and all(
            i.get("status") == "same" for i in initializers),
    }


def _io(view: View, names) -> list:
    return [{"name": n, "shape": _plain(view.tensors[n].symbolic_shape or view.tensors[n].shape)} for n in names]


def diff_models(proto_a, proto_b, label_a: str = "A", label_b: str = "B") -> dict:
    return diff_views(from_onnx(proto_a), from_onnx(proto_b), label_a, label_b)


def render_diff(result: dict, limit: int = 50) -> str:
    out = io.StringIO()
    w = out.write
    w(f"A: {result['a']} ({result['nodes']['a']} nodes)\nB: {result['b']} ({result['nodes']['b']} nodes)\n")
    if result["same"]:
        w("the models are the same: same nodes, attributes, shapes and initializer values\n")
        return out.getvalue()
    for side in ("inputs", "outputs"):
        if result[side]["a"] != result[side]["b"]:
            w(f"{side} differ: A {result[side]['a']}  B {result[side]['b']}\n")
    for title, items in (("added in B", result["added"]), ("removed from A", result["removed"])):
        w(f"{len(items)} nodes {title}\n")
        for item in items[:limit]:
            w(f"  {item['node']} ({item['op']})\n")
        if len(items) > limit:
            w(f"  ... {len(items) - limit} more\n")
    w(f"{len(result['changed'])} nodes changed\n")
    for item in result["changed"][:limit]:
        parts = []
        for field in ("op", "input_shapes", "output_shapes"):
            if field in item:
                parts.append(f"{field} {item[field]['a']} -> {item[field]['b']}")
        for name, ab in item.get("attrs", {}).items():
            parts.append(f"{name} {ab['a']} -> {ab['b']}")
        w(f"  {item['node']}: " + "; ".join(parts) + "\n")
    if len(result["changed"]) > limit:
        w(f"  ... {len(result['changed']) - limit} more\n")
    differing = [i for i in result["initializers"] if i["status"] != "same"]
    w(f"{len(result['initializers'])} initializers, {len(differing)} differ\n")
    for item in differing[:limit]:
        if "max_abs_diff" in item:
            w(f"  {item['name']}: max |A - B| = {item['max_abs_diff']:.6g}\n")
        elif item["status"] == "changed":
            w(f"  {item['name']}: {item['a']} -> {item['b']}\n")
        else:
            w(f"  {item['name']}: {item['status']} in B\n")
    return out.getvalue()
