"""The deep-dream benchmark runs in quick mode (32 x 32) and its contenders agree on the loss and the
normalised gradients (no timing is asserted: that is the benchmark's job)."""
import importlib.util
import io
import json
import os
import sys

import numpy as np
import pytest
from rich.console import Console

pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load():
    sys.path.insert(0, os.path.join(ROOT, "bench"))  # deep_dream.py imports common and predict
    spec = importlib.util.spec_from_file_location("bench_deep_dream", os.path.join(ROOT, "bench", "deep_dream.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_deep_dream"] = module
    spec.loader.exec_module(module)
    return module


def test_deep_dream_bench_quick():
    dd = _load()
    out = io.StringIO()
    payload = dd.run(quick=True, threads=1, console=Console(file=out, width=200))
    (r,) = payload["results"]
    assert (r["size"], r["layer"]) == (32, "block5_pool")
    assert set(r["median_s"]) == set(dd.CONTENDERS) and all(t > 0 for t in r["median_s"].values())
    assert set(r["ratios"]) == {"torch/irgraph", "torch cl/irgraph"}
    assert max(r["check"]["loss_rel_diff"].values()) <= dd.LOSS_RTOL
    assert max(r["check"]["grad_max_abs_diff"].values()) <= dd.GRAD_RTOL * r["check"]["grad_max_abs"]
    for name in dd.CONTENDERS:  # peak memory, each contender alone in a fresh process
        mem = r["memory"][name]
        assert "error" not in mem, mem
        assert mem["peak_rss_mib"] >= mem["base_rss_mib"] > 0
    text = out.getvalue()
    assert "deep-dream step" in text and "threads: 1" in text and "K.function([dream], [loss, grads])" in text
    json.dumps(payload)  # what --json writes


def test_contenders_agree_on_a_shallow_layer():
    """At block2_pool (fewer layers, a different cut) irgraph and both torch layouts agree too."""
    dd = _load()
    weights = dd.vgg16_weights(seed=3)
    image = dd.make_image(32, seed=4)  # VGG16's base needs 32 x 32 at least (as in Keras)
    calls, results, _ = dd.make_contenders(weights, 32, "block2_pool", image)
    agreement = dd.check(results)
    assert max(agreement["grad_max_abs_diff"].values()) <= dd.GRAD_RTOL * agreement["grad_max_abs"]
    loss, grads = results["irgraph"]
    assert grads.shape == (1, 32, 32, 3)
    rms = np.sqrt(np.mean(grads ** 2))
    assert 0.1 < rms < 1.0  # raw RMS r gives r / (r + 1e-5): below 1, and not zero
    # the timed calls return what the check looked at
    again_loss, _ = calls["irgraph"]()
    assert float(np.asarray(again_loss)) == pytest.approx(loss, rel=1e-6)


def test_torch_features_cut_and_layout():
    dd = _load()
    import torch
    weights = dd.vgg16_weights()
    net = dd.torch_features(weights, "block3_conv2")
    assert sum(isinstance(m, torch.nn.Conv2d) for m in net) == 6
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in net) == 2
    # Keras kernel (kh, kw, in, out) -> torch (out, in, kh, kw)
    np.testing.assert_array_equal(net[0].weight.detach().numpy()[5, 2, 0, 1], weights["block1_conv1"][0][0, 1, 2, 5])
    assert dd.LAYERS[-1] == "block5_pool" and len(dd.LAYERS) == 18


def test_cli_rejects_unknown_layer(capsys):
    dd = _load()
    with pytest.raises(SystemExit):
        dd.main(["--quick", "--layer", "block6_pool"])
    assert "unknown layer" in capsys.readouterr().err


def test_cli_worker_prints_json(capsys):
    dd = _load()
    assert dd.main(["--worker", "torch_cl", "--quick", "--threads", "1", "--size", "16",
                    "--layer", "block1_pool"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["contender"] == "torch_cl" and report["peak_rss_mib"] > 0 and report["size"] == 16
