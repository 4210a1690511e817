"""The training benchmark runs on the regression net and its contenders agree on the first-step loss
(no timing is asserted: that is the benchmark's job)."""
import importlib.util
import io
import json
import os
import sys

import pytest
from rich.console import Console

pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_train():
    sys.path.insert(0, os.path.join(ROOT, "bench"))  # train.py imports common and predict
    spec = importlib.util.spec_from_file_location("bench_train", os.path.join(ROOT, "bench", "train.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_train"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_train_bench_quick_regression():
    train = _load_train()
    out = io.StringIO()
    payload = train.run(["regression"], quick=True, threads=1, console=Console(file=out, width=200))
    assert payload["results"], out.getvalue()
    (r,) = payload["results"]
    assert (r["model"], r["batch"]) == ("regression", 10)
    assert {"tob", "fit", "torch"} <= set(r["samples_per_s"])
    assert all(v > 0 for v in r["samples_per_s"].values())
    check = r["loss_check"]
    assert check["ok"], check
    assert check["first_max_rel_diff"] <= train.LOSS_RTOL
    assert {"irgraph", "torch"} <= set(check["first_loss"])
    assert set(r["ratios"]) >= {"tob/torch", "fit/torch"}
    for name in ("tob", "fit", "torch"):  # peak memory, each contender alone in a fresh process
        mem = r["memory"][name]
        assert "error" not in mem, mem
        assert mem["contender"] == name and mem["peak_rss_mib"] > 0
    text = out.getvalue()
    assert "training throughput" in text and "threads: 1" in text and "WARNING" not in text
    if train.keras3()[0] is None:
        assert "Keras 3 column skipped" in text
    json.dumps(payload)  # what --json writes


def test_same_start_same_loss_for_every_model():
    """The torch twins (layouts converted, flatten order permuted) give irgraph's loss on one batch."""
    train = _load_train()
    import irgraph
    kinds = ("mlp", "regression") + (("vision",) if train.predict.has_conv(irgraph) else ()) + train.RECURRENT
    for kind in kinds:
        weights = train.initial_weights(kind)
        xs, y = train.make_data(kind, 8)
        _, _, irgraph_step, _ = train.make_contender("tob", kind, 4, weights, xs, y, 1)
        _, _, torch_step, _ = train.make_contender("torch", kind, 4, weights, xs, y, 1)
        a, b = irgraph_step(), torch_step()
        assert train.loss_close(a, b, train.LOSS_RTOL), (kind, a, b)


def test_cli_worker_prints_json(capsys):
    train = _load_train()
    assert train.main(["--worker", "tob", "regression", "10", "--threads", "1", "--quick"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["contender"] == "tob" and report["peak_rss_mib"] >= report["base_rss_mib"] > 0


def test_train_bench_quick_recurrent_seed_models():
    """The recurrent seed models of issue 8 (tweet pairs, autoencoder, memory network) run against their
    nn.LSTM twins; the first-step losses agree (the memory network's, with dropout, in eval mode)."""
    train = _load_train()
    out = io.StringIO()
    kinds = list(train.RECURRENT)
    payload = train.run(kinds, quick=True, threads=1, batches=[8], memory=False,
                        console=Console(file=out, width=200))
    assert [(r["model"], r["batch"]) for r in payload["results"]] == [(k, 8) for k in kinds], out.getvalue()
    for r in payload["results"]:
        assert all(v > 0 for v in r["samples_per_s"].values())
        assert r["loss_check"]["ok"], r["loss_check"]
        assert r["target"] == 1.2
    assert "WARNING" not in out.getvalue()
    json.dumps(payload)


def test_cli_worker_recurrent_memory(capsys):
    """Peak memory of a recurrent contender, alone in its process (what the full run reports)."""
    train = _load_train()
    assert train.main(["--worker", "torch", "memory_network", "8", "--threads", "1", "--quick"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["model"] == "memory_network" and report["peak_rss_mib"] > 0
