"""`irgraph.utils.plot_model` (Keras 3's signature, no pydot or graphviz) and the MACs column of
`model.summary(show_macs=True)` (issue 13, point 4)."""
from __future__ import annotations

import inspect
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from irgraph.layers import Dense, Input, LSTM, concatenate
from irgraph.models import Model
from irgraph.utils import plot_model

SVG = "{http://www.w3.org/2000/svg}"


def mlp(name_prefix=""):
    x = Input(shape=(16,), name=f"{name_prefix}x")
    h = Dense(8, activation="relu", name=f"{name_prefix}hidden")(x)
    return Model(x, Dense(3, activation="softmax", name=f"{name_prefix}out")(h), name=f"{name_prefix}mlp")


def parse(path):
    root = ET.parse(path).getroot()
    boxes = []
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "layer":
            rect = g.find(f"{SVG}rect")
            boxes.append({"lines": [t.text for t in g.findall(f"{SVG}text")],
                          "x": float(rect.get("x")), "y": float(rect.get("y"))})
    clusters = [g.find(f"{SVG}text").text for g in root.iter(f"{SVG}g") if g.get("class") == "cluster"]
    arrows = [[tuple(map(float, p.split(","))) for p in line.get("points").split()] for line in root.iter(f"{SVG}polyline")]
    return boxes, clusters, arrows


def test_signature_is_keras_3s():
    from tests.keras_compat.keras_torch import keras
    ours = inspect.signature(plot_model).parameters
    theirs = inspect.signature(keras.utils.plot_model).parameters
    for name, p in theirs.items():
        if name in ("splines",):
            continue  # graphviz's edge routing: accepted through **kwargs here
        assert name in ours and ours[name].default == p.default, name


def test_svg_boxes_texts_and_arrows(tmp_path):
    model = mlp()
    path = tmp_path / "m.svg"
    assert plot_model(model, to_file=str(path), show_shapes=True, show_dtype=True, show_layer_names=True,
                      show_layer_activations=True, show_trainable=True) is None
    boxes, clusters, arrows = parse(path)
    assert [b["lines"][0] for b in boxes] == ["x (InputLayer)", "hidden (Dense)", "out (Dense)"]
    hidden = boxes[1]["lines"]
    assert "Activation: relu" in hidden and "Trainable: True" in hidden and "dtype: float32" in hidden
    assert "Input shape: (None, 16)" in hidden and "Output shape: (None, 8)" in hidden
    assert "Output shape: (None, 3)" in boxes[2]["lines"]
    assert len(arrows) == 2 and not clusters
    # top to bottom: each arrow goes down, from one box's bottom to the next box's top
    ys = [b["y"] for b in boxes]
    assert ys == sorted(ys) and ys[0] < ys[1] < ys[2]
    for line in arrows:
        assert line[-1][1] > line[0][1]
    # defaults: the class name only (Keras 3's show_layer_names=False)
    plot_model(model, to_file=str(path))
    boxes, _, _ = parse(path)
    assert [b["lines"] for b in boxes] == [["InputLayer"], ["Dense"], ["Dense"]]


@pytest.mark.parametrize("rankdir, axis, increasing", [("TB", "y", True), ("BT", "y", False),
                                                       ("LR", "x", True), ("RL", "x", False)])
def test_rankdir(tmp_path, rankdir, axis, increasing):
    path = tmp_path / "m.svg"
    plot_model(mlp(), to_file=str(path), rankdir=rankdir)
    coords = [b[axis] for b in parse(path)[0]]
    assert coords == (sorted(coords) if increasing else sorted(coords, reverse=True))
    assert len(set(coords)) == 3


def test_shared_layer_and_expand_nested(tmp_path):
    inner = mlp("inner_")
    a, b = Input(shape=(16,), name="a"), Input(shape=(16,), name="b")
    shared = LSTM(4, name="shared_lstm")
    seq_a, seq_b = Input(shape=(5, 2), name="sa"), Input(shape=(5, 2), name="sb")
    merged = concatenate([inner(a), inner(b), shared(seq_a), shared(seq_b)], name="merged")
    model = Model([a, b, seq_a, seq_b], Dense(1, name="head")(merged))
    path = tmp_path / "m.svg"
    plot_model(model, to_file=str(path), show_layer_names=True)
    boxes, clusters, arrows = parse(path)
    names = sorted(bx["lines"][0].split(" (")[0] for bx in boxes)
    # one box per layer call: the nested model twice, the shared LSTM twice
    assert names == sorted(["a", "b", "sa", "sb", "inner_mlp", "inner_mlp", "shared_lstm", "shared_lstm", "merged", "head"])
    assert len(arrows) == 4 + 4 + 1 and not clusters
    plot_model(model, to_file=str(path), show_layer_names=True, expand_nested=True)
    boxes, clusters, arrows = parse(path)
    names = sorted(bx["lines"][0].split(" (")[0] for bx in boxes)
    assert names == sorted(["a", "b", "sa", "sb", "inner_hidden", "inner_hidden", "inner_out", "inner_out",
                            "shared_lstm", "shared_lstm", "merged", "head"])
    assert clusters == ["inner_mlp", "inner_mlp"]
    # a -> inner_hidden -> inner_out -> merged (twice), sa/sb -> shared_lstm -> merged, merged -> head
    assert len(arrows) == 2 * 3 + 4 + 1


def test_png_needs_no_graphviz_and_follows_dpi(tmp_path):
    from PIL import Image
    model = mlp()
    small, big = tmp_path / "96.png", tmp_path / "192.png"
    plot_model(model, to_file=str(small), show_shapes=True, dpi=96)
    plot_model(model, to_file=str(big), show_shapes=True, dpi=192)
    a, b = Image.open(small), Image.open(big)
    assert a.format == "PNG" and b.size == pytest.approx((2 * a.size[0], 2 * a.size[1]), abs=2)
    assert round(b.info["dpi"][0]) == 192
    pixels = np.asarray(a.convert("L"))
    assert pixels.min() < 100 and pixels.std() > 10  # text and lines drawn on white


def test_html_is_the_interactive_view_opening_on_the_layer_graph(tmp_path):
    path = tmp_path / "m.html"
    plot_model(mlp(), to_file=str(path))
    text = path.read_text()
    head = json.loads(re.search(r'<script type="application/json" id="irgraph-data">(.*?)</script>', text, re.S).group(1))
    names = [t["name"] for t in head["tabs"]]
    assert names[0] == "input" and names[head["start"]] == "input" and "training step" not in names


def test_bad_arguments_are_refused_with_clear_messages(tmp_path):
    model = mlp()
    with pytest.raises(ValueError, match=r"\.svg, \.png or \.html"):
        plot_model(model, to_file=str(tmp_path / "m.pdf"))
    with pytest.raises(ValueError, match="rankdir"):
        plot_model(model, to_file=str(tmp_path / "m.svg"), rankdir="XY")
    with pytest.raises(TypeError, match="colour"):
        plot_model(model, to_file=str(tmp_path / "m.svg"), colour="red")
    plot_model(model, to_file=str(tmp_path / "m.svg"), splines="ortho")  # graphviz's: accepted


def test_a_1000_layer_chain_plots(tmp_path):
    x = Input(shape=(4,))
    h = x
    for _ in range(1000):
        h = Dense(4)(h)
    path = tmp_path / "chain.svg"
    plot_model(Model(x, h), to_file=str(path))
    boxes, _, arrows = parse(path)
    assert len(boxes) == 1001 and len(arrows) == 1000


def test_summary_macs_column(capsys):
    from irgraph.inspection import model_report
    seq_a, seq_b = Input(shape=(5, 2), name="sa"), Input(shape=(5, 2), name="sb")
    shared = LSTM(4, name="lstm")
    model = Model([seq_a, seq_b], Dense(3, name="dense")(concatenate([shared(seq_a), shared(seq_b)], name="cat")))
    lines = []
    model.summary(show_macs=True, print_fn=lines.append, line_length=120)
    text = lines[0]
    header = next(line for line in text.splitlines() if "Layer (type)" in line)
    assert [c.strip() for c in header.strip("┃ ").split("┃")][:4] == ["Layer (type)", "Output Shape", "Param #", "MACs"]
    rows = {r["name"]: r["macs"] for r in model_report(model)["layers"]}
    cells = {}
    for line in text.splitlines():
        parts = [c.strip() for c in line.strip("│ ").split("│")]
        if len(parts) >= 4 and " (" in parts[0]:
            cells[parts[0].split(" (")[0]] = parts[3]
    from irgraph.inspection.report import human
    assert cells["lstm"] == human(rows["lstm"] + rows["lstm[1]"])  # both calls of the shared layer
    assert cells["dense"] == human(rows["dense"]) and cells["sa"] == "0"
    plain = []
    model.summary(print_fn=plain.append, line_length=120)
    assert "MACs" not in plain[0]
