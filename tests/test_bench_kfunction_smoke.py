"""The K.function benchmark runs and its contenders agree (no timing is asserted: that is the benchmark's job)."""
import importlib.util
import io
import json
import os
import sys

from rich.console import Console

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_bench():
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    spec = importlib.util.spec_from_file_location("bench_kfunction", os.path.join(ROOT, "bench", "kfunction.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kfunction_bench_quick():
    bench = _load_bench()
    out = io.StringIO()
    payload = bench.run(["mlp", "style"], quick=True, threads=1, console=Console(file=out, width=160))
    results = payload["results"]
    assert [(r["case"], r["batch"]) for r in results] == [("mlp", 1), ("mlp", 32), ("style", 1)]
    for r in results:
        assert set(r["median_s"]) == {"K.function", "bare ORT"}
        assert all(t > 0 for t in r["median_s"].values()) and r["ratio"] > 0
        assert r["max_abs_diff"] <= 1e-5
    assert results[-1]["fed_variables"] == 2  # the two K.variable images are fed at each call
    text = out.getvalue()
    assert "median latency per call" in text and "K.function/bare" in text
    json.dumps(payload)  # what --json writes
