"""The prediction benchmark runs and its contenders agree (no timing is asserted: that is the benchmark's job)."""
import importlib.util
import io
import json
import os

import pytest
from rich.console import Console

pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_predict():
    spec = importlib.util.spec_from_file_location("bench_predict", os.path.join(ROOT, "bench", "predict.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_predict_bench_quick_mlp(tmp_path):
    predict = _load_predict()
    out = io.StringIO()
    payload = predict.run(["mlp"], quick=True, threads=1, batches=[1, 32],
                          console=Console(file=out, width=160))
    results = payload["results"]
    assert [(r["model"], r["batch"]) for r in results] == [("mlp", 1), ("mlp", 32)]
    for r in results:
        assert {"irgraph", "bare ORT", "torch"} <= set(r["median_s"])
        assert all(t > 0 for t in r["median_s"].values())
        assert all(d <= predict.ATOL for d in r["max_abs_diff"].values())
        assert set(r["ratios"]) >= {"pob/bare", "torch/pob"}
    text = out.getvalue()
    assert "median latency per call" in text and "threads: 1" in text
    if predict.keras3()[0] is None:
        assert "Keras 3 column skipped" in text
    json.dumps(payload)  # what --json writes


def test_cli_main_writes_json(tmp_path):
    predict = _load_predict()
    path = tmp_path / "figures.json"
    assert predict.main(["--quick", "--models", "mlp", "--batches", "1", "--threads", "1",
                         "--json", str(path)]) == 0
    figures = json.loads(path.read_text())
    assert figures["threads"] == 1 and figures["results"][0]["batch"] == 1


def test_predict_bench_quick_recurrent_seed_models():
    """The recurrent seed models of issue 8: the nn.LSTM twins (Keras weights mapped, Bidirectional
    included) give irgraph's outputs, and every contender is timed."""
    predict = _load_predict()
    out = io.StringIO()
    kinds = list(predict.RECURRENT)
    payload = predict.run(kinds, quick=True, threads=1, batches=[1, 4], console=Console(file=out, width=200),
                          memory=False)
    results = payload["results"]
    assert [(r["model"], r["batch"]) for r in results] == [(k, b) for k in kinds for b in (1, 4)]
    for r in results:
        assert {"irgraph", "bare ORT", "torch"} <= set(r["median_s"])
        assert all(t > 0 for t in r["median_s"].values())
        assert all(d <= predict.ATOL for d in r["max_abs_diff"].values()), r["max_abs_diff"]
    assert ">= 1.5 at every" in out.getvalue()
    json.dumps(payload)


def test_cli_worker_recurrent_memory(tmp_path, capsys):
    """Peak memory of each prediction contender alone in its process (what the full run reports)."""
    predict = _load_predict()
    import irgraph
    path = str(tmp_path / "memnet.onnx")
    predict.build(irgraph, "memory_network").to_onnx(path)
    for contender in ("irgraph", "bare", "torch"):
        assert predict.main(["--worker", contender, "memory_network", "4", "--threads", "1", "--quick",
                             "--onnx", path]) == 0
        report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert report["contender"] == contender and report["peak_rss_mib"] > 0
