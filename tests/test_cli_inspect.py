"""`irgraph inspect` and `irgraph diff` as a user runs them: text and JSON reports of factories,
irgraph's and foreign ONNX files, saved models; clear one-line errors for bad input."""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IRGRAPH = os.path.join(os.path.dirname(sys.executable), "irgraph")
RESNET = glob.glob(os.path.join(os.path.dirname(onnx.__file__), "backend/test/data/light/light_resnet50.onnx"))[0]


def cli(*args, ok=True, cwd=None):
    env = {**os.environ, "PYTHONPATH": ROOT}
    proc = subprocess.run([IRGRAPH, *args], capture_output=True, text=True, env=env, cwd=cwd or ROOT, timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    else:
        assert proc.returncode != 0
        assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_inspect_factory_text_has_summary_passes_and_costs():
    out = cli("inspect", "examples.seed_models:k2_mlp", "--batch", "32").stdout
    assert "passes of" in out and "costs of 'functional' at batch 32" in out
    # the first Dense: 784 -> 64 at batch 32, bias included
    assert "50,240" in out and "1.61M" in out
    assert "peak memory, inference" in out


def test_inspect_json_schema_and_train_estimate():
    report = json.loads(cli("inspect", "examples.seed_models:k2_mlp", "--batch", "4", "--json", "--train").stdout)
    assert [r["name"] for r in report["layers"]] == ["dense", "dense_1", "dense_2"]
    for r in report["layers"]:
        assert {"name", "type", "output_shapes", "params", "macs", "activation_bytes", "weight_bytes"} <= set(r)
    assert report["layers"][0]["type"] == "Dense" and report["layers"][0]["output_shapes"] == [[4, 64]]
    assert report["total"]["params"] == 784 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10
    # products and bias adds of the 3 Dense layers, 2 ReLUs (one per element), softmax (three per element)
    assert report["total"]["macs"] == 4 * report["total"]["params"] + 4 * (64 + 64) + 3 * 4 * 10
    train = report["memory"]["train_step"]
    assert train["peak_bytes"] > report["memory"]["inference_peak_bytes"]["peak_bytes"]
    assert [p["pass"] for p in report["passes"]][:2] == ["input", "lower"]


def test_inspect_foreign_onnx_file_json():
    report = json.loads(cli("inspect", RESNET, "--json").stdout)
    assert 4.0e9 < report["total"]["macs"] < 4.2e9 and report["total"]["params"] == 25_610_152
    assert report["operators"]["Conv"] == 53


def test_inspect_saved_irgraph_model_uses_its_layers(tmp_path):
    from irgraph import layers as L
    from irgraph.models import Model
    x = L.Input(shape=(6,))
    model = Model(x, L.Dense(3, name="head")(L.BatchNormalization(name="norm")(x)))
    model.compile(optimizer="sgd", loss="mse")
    path = str(tmp_path / "m.onnx")
    model.save(path)
    report = json.loads(cli("inspect", path, "--json", "--train", "--batch", "2").stdout)
    rows = {r["name"]: r for r in report["layers"]}
    assert rows["norm"]["type"] == "BatchNormalization" and rows["norm"]["non_trainable_params"] == 12
    assert "train_step" in report["memory"]


def test_inspect_symbolic_time_needs_a_dim(tmp_path):
    from irgraph import layers as L
    from irgraph.models import Model
    x = L.Input(shape=(None, 3), name="seq")
    path = str(tmp_path / "rnn.onnx")
    Model(x, L.LSTM(4, name="lstm")(x)).to_onnx(path)
    report = json.loads(cli("inspect", path, "--json").stdout)
    [(axis, symbol)] = report["unresolved_dims"]["seq"]
    assert report["layers"][-1]["macs"] is None or any(r["macs"] is None for r in report["layers"])
    assert any(f"--dim {symbol}=N" in n for n in report["notes"])
    fixed = json.loads(cli("inspect", path, "--json", "--dim", f"{symbol}=5").stdout)
    assert fixed["total"]["macs_complete"]
    bad = cli("inspect", path, "--dim", "time", ok=False)
    assert "--dim takes NAME=N" in bad.stderr


def test_inspect_unknown_operator_is_shown_not_fatal(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="pre/Relu"),
             helper.make_node("Wobble", ["a"], ["y"], name="mystery/Wobble", domain="com.example")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    path = str(tmp_path / "odd.onnx")
    onnx.save(model, path)
    out = cli("inspect", path).stdout
    assert "unknown (Wobble)" in out and "costs shown as unknown): Wobble" in out


@pytest.mark.parametrize("content,expected", [
    (b"not an onnx file at all", "is not a readable ONNX model"),
    (b"", "holds no ONNX graph"),
])
def test_inspect_unreadable_files(tmp_path, content, expected):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    assert expected in cli("inspect", str(path), ok=False).stderr


def test_inspect_missing_things():
    assert "no such file" in cli("inspect", "nowhere.onnx", ok=False).stderr
    assert "cannot import" in cli("inspect", "no_such_module:f", ok=False).stderr
    assert "has no attribute" in cli("inspect", "examples.seed_models:nothing", ok=False).stderr
    assert "positive integer" in cli("inspect", RESNET, "--batch", "0", ok=False).stderr


# ------------------------------------------------------------------------------------ diff
def test_diff_of_two_exports_of_one_factory(tmp_path):
    a, b = str(tmp_path / "a.onnx"), str(tmp_path / "b.onnx")
    cli("export", "examples.seed_models:k2_mlp", "-o", a)
    cli("export", "examples.seed_models:k2_mlp", "-o", b)
    out = cli("diff", a, b).stdout
    # each export draws fresh random weights: the structure is the same, the values differ
    assert "0 nodes added" in out and "0 nodes removed" in out and "0 nodes changed" in out
    assert "6 initializers, 3 differ" in out and "dense/kernel: max |A - B|" in out  # biases start at 0
    assert "the models are the same" in cli("diff", a, a).stdout


def test_diff_reports_added_removed_changed_and_weights(tmp_path):
    from irgraph import layers as L
    from irgraph.models import Model
    x = L.Input(shape=(8,))
    a = Model(x, L.Dense(4, name="out")(L.Dense(16, activation="relu", name="hidden")(x)))
    y = L.Input(shape=(8,))
    b = Model(y, L.Dense(4, name="out")(L.Dense(32, activation="tanh", name="hidden")(y)))
    b.get_layer("out").set_weights([np.zeros((32, 4), np.float32), np.zeros(4, np.float32)])
    pa, pb = str(tmp_path / "a.onnx"), str(tmp_path / "b.onnx")
    a.to_onnx(pa)
    b.to_onnx(pb)
    result = json.loads(cli("diff", pa, pb, "--json").stdout)
    assert result["added"] == [{"node": "hidden/Tanh_1", "op": "Tanh"}]
    assert result["removed"] == [{"node": "hidden/Relu_1", "op": "Relu"}]
    changed = {c["node"]: c for c in result["changed"]}
    assert changed["out/Gemm"]["input_shapes"] == {"a": [[1, 16], [16, 4], [4]], "b": [[1, 32], [32, 4], [4]]}
    inits = {i["name"]: i for i in result["initializers"]}
    assert inits["hidden/kernel"]["status"] == "changed"
    assert inits["out/bias"]["status"] in ("same", "values differ")
    text = cli("diff", pa, pb).stdout
    assert "1 nodes added in B" in text and "hidden/Tanh_1 (Tanh)" in text
