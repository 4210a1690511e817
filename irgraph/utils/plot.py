"""``keras.utils.plot_model`` without pydot or the graphviz binary.

The layer-level graph is laid out by `irgraph.inspection.layout` (the HTML view's layout) and
written as SVG, as PNG (with Pillow, irgraph's ``image`` extra), or as the interactive HTML view.
Nested models are drawn as one box, or with ``expand_nested`` as their own layers inside a dashed
cluster (walked with an explicit stack, not recursion).
"""
from __future__ import annotations

import os

from ..inspection.layout import layered_layout

CHAR_W, LINE_H, PAD, GAP_X, GAP_Y = 7.0, 16, 8, 30, 34  # px at 12 px text
RANKDIRS = ("TB", "BT", "LR", "RL")


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=False,
               rankdir="TB", expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False,
               **kwargs):
    """Draw ``model``'s layers and their connections to ``to_file``: ``.svg``, ``.png`` (needs
    Pillow) or ``.html`` (the interactive view of `irgraph inspect --html`: the layer graph, the
    graph after every pass, details, search). Arguments as Keras 3's; ``splines`` and the other
    graphviz-only keywords are accepted and have no effect. Returns ``IPython.display.Image`` /
    ``SVG`` in a notebook, else None."""
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}; received rankdir={rankdir!r}")
    unknown = set(kwargs) - {"splines", "subgraph", "layer_range", "show_layer_names_nested"}
    if unknown:
        raise TypeError(f"plot_model() got unexpected keyword arguments {sorted(unknown)}")
    if kwargs.get("layer_range") is not None:
        raise ValueError("plot_model(layer_range=...) is not supported by irgraph; plot the whole model")
    ext = os.path.splitext(str(to_file))[1].lower()
    if ext not in (".svg", ".png", ".html", ".htm"):
        raise ValueError(f"plot_model writes .svg, .png or .html files; to_file={to_file!r} has "
                         f"{ext or 'no extension'} (pydot's other formats need the graphviz binary)")
    if not getattr(model, "built", True) or not getattr(model, "layers", None):
        raise ValueError("This model has not yet been built. Build the model first by calling `build()` "
                         "or by calling the model on a batch of data.")
    if ext in (".html", ".htm"):
        from ..inspection.html import model_page, write
        write(to_file, model_page(model, train=False, start="input"))
        return None
    drawing = draw(model, show_shapes, show_dtype, show_layer_names, rankdir, expand_nested,
                   show_layer_activations, show_trainable)
    if ext == ".svg":
        with open(to_file, "w", encoding="utf-8") as f:
            f.write(to_svg(drawing))
    else:
        to_png(drawing, to_file, dpi)
    return _notebook_display(to_file, ext)


def _notebook_display(path, ext):
    try:
        from IPython import get_ipython
        from IPython.display import SVG, Image
    except ImportError:
        return None
    if get_ipython() is None:
        return None
    return SVG(filename=path) if ext == ".svg" else Image(filename=path)


# ------------------------------------------------------------------------------------ the boxes
def _shape_text(specs) -> str:
    def one(shape):
        return "(" + ", ".join("None" if d is None or isinstance(d, str) else str(d) for d in shape) + \
            ("," if len(shape) == 1 else "") + ")"
    shapes = [one(s.shape) for s in specs if s is not None]
    return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"


def _lines(layer, name, type_name, in_specs, out_specs, dtype, opts) -> list:
    show_shapes, show_dtype, show_names, show_act, show_trainable = opts
    lines = [f"{name} ({type_name})" if show_names else type_name]
    if show_act and getattr(layer, "activation", None) is not None:
        act = layer.activation
        lines.append(f"Activation: {getattr(act, '__name__', str(act))}")
    if show_dtype and dtype:
        lines.append(f"dtype: {dtype}")
    if show_shapes:
        if in_specs:
            lines.append(f"Input shape: {_shape_text(in_specs)}")
        lines.append(f"Output shape: {_shape_text(out_specs)}")
    if show_trainable and layer is not None:
        lines.append(f"Trainable: {bool(getattr(layer, 'trainable', True))}")
    return lines


def graph_boxes(model, opts, expand_nested):
    """The boxes (text lines, cluster) and arrows of the layer graph, nested models expanded with
    an explicit stack of graphs being walked."""
    boxes, arrows, clusters = [], [], []
    source: dict = {}  # (frame id, node id, slot) -> box index
    stack = [{"graph": model.layer_graph(), "order": None, "at": 0, "key": 0, "inputs": None,
              "cluster": None, "call": None}]
    frames = 0
    while stack:
        frame = stack[-1]
        g = frame["graph"]
        if frame["order"] is None:
            frame["order"] = g.topo()
        if frame["at"] == len(frame["order"]):
            stack.pop()
            if frame["call"] is not None:  # the nested model's outputs are its call's outputs
                outer, call = stack[-1], frame["call"]
                for slot, out in enumerate(g.outputs):
                    src = g.output_tensor(out)
                    source[(outer["key"], call, slot)] = source[(frame["key"], *src)]
            continue
        nid = frame["order"][frame["at"]]
        frame["at"] += 1
        d = g.node(nid)
        kind = d["kind"]
        if kind == "input":
            if frame["inputs"] is not None:  # an input of a nested model: what its caller passed
                k = g.inputs.index(nid)
                source[(frame["key"], nid, 0)] = frame["inputs"][k]
                continue
            spec = d["specs"][0]
            spec = spec._replace(shape=(None,) + tuple(spec.shape[1:]))
            boxes.append({"lines": _lines(None, d["name"], "InputLayer", [], [spec], spec.dtype, opts),
                          "cluster": frame["cluster"]})
            source[(frame["key"], nid, 0)] = len(boxes) - 1
        elif kind == "call":
            layer = d["layer"]
            ins = [source.get((frame["key"], *src)) for src in g.in_tensors(nid) if src is not None]
            if expand_nested and hasattr(layer, "layer_graph") and getattr(layer, "layers", None):
                frames += 1
                clusters.append({"name": layer.name, "parent": frame["cluster"]})
                stack.append({"graph": layer.layer_graph(), "order": None, "at": 0, "key": frames,
                              "inputs": ins, "cluster": len(clusters) - 1, "call": nid})
                continue
            from ..summary import _type_name
            dtype = getattr(getattr(layer, "dtype_policy", None), "name", None) or getattr(layer, "dtype", None)
            boxes.append({"lines": _lines(layer, layer.name, _type_name(layer), g.in_specs(nid),
                                          d.get("specs") or [], dtype, opts), "cluster": frame["cluster"]})
            here = len(boxes) - 1
            for src in ins:
                if src is not None:
                    arrows.append((src, here))
            for slot in range(len(d.get("specs") or [])):
                source[(frame["key"], nid, slot)] = here
    return boxes, list(dict.fromkeys(arrows)), clusters


# ------------------------------------------------------------------------------------ geometry
def draw(model, show_shapes=False, show_dtype=False, show_layer_names=False, rankdir="TB", expand_nested=False,
         show_layer_activations=False, show_trainable=False) -> dict:
    """Boxes with their text, polylines and cluster frames, in pixels."""
    opts = (show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable)
    boxes, arrows, clusters = graph_boxes(model, opts, expand_nested)
    lay = layered_layout(len(boxes), arrows)
    w = max([max(len(line) for line in b["lines"]) * CHAR_W + 2 * PAD for b in boxes] + [60])
    h = max([len(b["lines"]) * LINE_H + 2 * PAD - 4 for b in boxes] + [24])
    vertical = rankdir in ("TB", "BT")
    step_x, step_y = (w + GAP_X, h + GAP_Y) if vertical else (h + GAP_X, w + GAP_Y)
    lo = min(lay.x) if lay.x else 0
    last = max(lay.rank) if lay.rank else 0

    def point(item):  # centre of a box or a dummy point
        across, along = (lay.x[item] - lo) * step_x, lay.rank[item] * step_y
        if rankdir in ("BT", "RL"):
            along = last * step_y - along
        return (across + w / 2 + 10, along + h / 2 + 10) if vertical else (along + w / 2 + 10, across + h / 2 + 10)
    centres = [point(i) for i in range(len(lay.rank))]
    out_boxes = [{"x": centres[i][0] - w / 2, "y": centres[i][1] - h / 2, "w": w, "h": h, "lines": b["lines"]}
                 for i, b in enumerate(boxes)]
    lines = []
    for (u, v), path in zip(arrows, lay.paths):
        pts = [centres[p] for p in path]
        pts[0], pts[-1] = _border(out_boxes[u], pts[1]), _border(out_boxes[v], pts[-2])
        lines.append(pts)
    frames = []
    for k, cluster in enumerate(clusters):
        members = [i for i, b in enumerate(boxes) if _inside(b["cluster"], k, clusters)]
        if members:
            depth = _depth(k, clusters)
            margin = 8 + 6 * (_max_depth(clusters) - depth)
            frames.append({"name": cluster["name"],
                           "x": min(out_boxes[i]["x"] for i in members) - margin,
                           "y": min(out_boxes[i]["y"] for i in members) - margin - 14,
                           "x1": max(out_boxes[i]["x"] + w for i in members) + margin,
                           "y1": max(out_boxes[i]["y"] + h for i in members) + margin})
    width = max([b["x"] + w for b in out_boxes] + [f["x1"] for f in frames] + [w]) + 10
    height = max([b["y"] + h for b in out_boxes] + [f["y1"] for f in frames] + [h]) + 10
    shift = max([0.0] + [-f["x"] + 4 for f in frames] + [-f["y"] + 4 for f in frames])
    if shift:
        for b in out_boxes:
            b["x"] += shift
            b["y"] += shift
        lines = [[(x + shift, y + shift) for x, y in pts] for pts in lines]
        for f in frames:
            f.update(x=f["x"] + shift, y=f["y"] + shift, x1=f["x1"] + shift, y1=f["y1"] + shift)
        width, height = width + shift, height + shift
    return {"width": width, "height": height, "boxes": out_boxes, "lines": lines, "frames": frames}


def _border(box, toward):
    """Where the line from a box's centre toward ``toward`` leaves the box."""
    cx, cy = box["x"] + box["w"] / 2, box["y"] + box["h"] / 2
    dx, dy = toward[0] - cx, toward[1] - cy
    if dx == 0 and dy == 0:
        return cx, cy
    t = min(box["w"] / 2 / abs(dx) if dx else float("inf"), box["h"] / 2 / abs(dy) if dy else float("inf"))
    return cx + dx * t, cy + dy * t


def _inside(cluster, k, clusters) -> bool:
    while cluster is not None:
        if cluster == k:
            return True
        cluster = clusters[cluster]["parent"]
    return False


def _depth(k, clusters) -> int:
    d = 0
    while clusters[k]["parent"] is not None:
        k, d = clusters[k]["parent"], d + 1
    return d


def _max_depth(clusters) -> int:
    return max([_depth(k, clusters) for k in range(len(clusters))] + [0])


# ------------------------------------------------------------------------------------ files
def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def to_svg(d: dict) -> str:
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{d["width"]:.0f}" height="{d["height"]:.0f}" '
           f'viewBox="0 0 {d["width"]:.1f} {d["height"]:.1f}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" '
           'font-size="12">',
           '<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
           'orient="auto"><path d="M0,0L10,5L0,10z" fill="#555"/></marker></defs>',
           '<rect width="100%" height="100%" fill="#fff"/>']
    for f in d["frames"]:
        out.append(f'<g class="cluster"><rect x="{f["x"]:.1f}" y="{f["y"]:.1f}" width="{f["x1"] - f["x"]:.1f}" '
                   f'height="{f["y1"] - f["y"]:.1f}" rx="6" fill="none" stroke="#888" stroke-dasharray="5 3"/>'
                   f'<text x="{f["x"] + 6:.1f}" y="{f["y"] + 13:.1f}" fill="#555">{_esc(f["name"])}</text></g>')
    for pts in d["lines"]:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="#555" stroke-width="1.2" marker-end="url(#a)"/>')
    for b in d["boxes"]:
        out.append(f'<g class="layer"><rect x="{b["x"]:.1f}" y="{b["y"]:.1f}" width="{b["w"]:.1f}" height="{b["h"]:.1f}" '
                   'rx="4" fill="#eef4ff" stroke="#4f6fb4"/>')
        for k, line in enumerate(b["lines"]):
            weight = ' font-weight="bold"' if k == 0 else ""
            out.append(f'<text x="{b["x"] + b["w"] / 2:.1f}" y="{b["y"] + PAD + 11 + k * LINE_H:.1f}" '
                       f'text-anchor="middle"{weight}>{_esc(line)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def to_png(d: dict, path, dpi=200) -> None:
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        raise ImportError("plot_model(to_file='*.png') needs Pillow (pip install 'irgraph[image]'); "
                          "or write an .svg or .html file, which need nothing more") from None
    scale = (dpi or 96) / 96
    img = Image.new("RGB", (max(1, round(d["width"] * scale)), max(1, round(d["height"] * scale))), "white")
    pen = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=max(6, round(12 * scale)))

    def s(v):
        return v * scale
    for f in d["frames"]:
        pen.rounded_rectangle([s(f["x"]), s(f["y"]), s(f["x1"]), s(f["y1"])], radius=s(6), outline="#888888",
                              width=max(1, round(scale)))
        pen.text((s(f["x"] + 6), s(f["y"] + 2)), f["name"], fill="#555555", font=font)
    for pts in d["lines"]:
        scaled = [(s(x), s(y)) for x, y in pts]
        pen.line(scaled, fill="#555555", width=max(1, round(1.2 * scale)))
        (x0, y0), (x1, y1) = scaled[-2], scaled[-1]
        length = max(1e-6, ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5)
        ux, uy, size = (x1 - x0) / length, (y1 - y0) / length, s(8)
        pen.polygon([(x1, y1), (x1 - ux * size - uy * size / 2, y1 - uy * size + ux * size / 2),
                     (x1 - ux * size + uy * size / 2, y1 - uy * size - ux * size / 2)], fill="#555555")
    for b in d["boxes"]:
        pen.rounded_rectangle([s(b["x"]), s(b["y"]), s(b["x"] + b["w"]), s(b["y"] + b["h"])], radius=s(4),
                              fill="#eef4ff", outline="#4f6fb4", width=max(1, round(scale)))
        for k, line in enumerate(b["lines"]):
            pen.text((s(b["x"] + b["w"] / 2), s(b["y"] + PAD + 6 + k * LINE_H)), line, fill="black",
                     font=font, anchor="mm")
    img.save(path, dpi=(dpi or 96, dpi or 96))
