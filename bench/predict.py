"""Inference latency, side by side: irgraph ``predict_on_batch`` vs a bare onnxruntime session on the
exported file vs PyTorch eager (same weights) vs Keras 3 (when installed with a usable backend).

    python bench/predict.py [--quick] [--threads N] [--models mlp,vision] [--json PATH]

Targets: predict_on_batch / bare session <= 1.2 (the wrapper costs little); torch / predict_on_batch
> 1 at batch 1 and 32 (irgraph is faster than PyTorch eager). See bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

ATOL = 1e-4
BATCHES = {"mlp": (1, 32, 256), "vision": (1, 32, 256)}
POB_OVER_BARE_MAX = 1.2           # target: predict_on_batch / bare session
TORCH_OVER_POB_MIN = 1.0          # target: torch / predict_on_batch, at the batches below
TORCH_TARGET_BATCHES = (1, 32)
PACKAGES = ("irgraph", "onnxruntime", "onnx", "numpy", "torch", "keras", "rich")


# ----------------------------------------------------------------------------- the models
def build_mlp(lib):
    """The seed MLP, in ``lib`` (irgraph or keras): 784 -> 64 relu -> 64 relu -> 10 softmax."""
    L = lib.layers
    x = L.Input(shape=(784,), name="pixels")
    h = L.Dense(64, activation="relu", name="dense_1")(x)
    h = L.Dense(64, activation="relu", name="dense_2")(h)
    y = L.Dense(10, activation="softmax", name="probs")(h)
    return lib.Model(x, y, name="mlp")


def has_conv(lib) -> bool:
    return all(hasattr(lib.layers, n) for n in ("Conv2D", "MaxPooling2D", "Flatten"))


def build_vision(lib):
    """The shared-vision model (Keras 2 functional API guide): one conv tower applied to two digits."""
    L = lib.layers
    digit_input = L.Input(shape=(27, 27, 1), name="digit")
    x = L.Conv2D(64, (3, 3), name="conv_1")(digit_input)
    x = L.Conv2D(64, (3, 3), name="conv_2")(x)
    x = L.MaxPooling2D((2, 2), name="pool")(x)
    out = L.Flatten(name="flatten")(x)
    vision_model = lib.Model(digit_input, out, name="vision_model")
    digit_a = L.Input(shape=(27, 27, 1), name="digit_a")
    digit_b = L.Input(shape=(27, 27, 1), name="digit_b")
    concatenated = L.concatenate([vision_model(digit_a), vision_model(digit_b)], name="concat")
    out = L.Dense(1, activation="sigmoid", name="same_digit")(concatenated)
    return lib.Model([digit_a, digit_b], out, name="classification_model")


def make_inputs(kind: str, batch: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "mlp":
        return [rng.random((batch, 784), dtype=np.float32)]
    return [rng.random((batch, 27, 27, 1), dtype=np.float32) for _ in range(2)]


# ----------------------------------------------------------------------------- PyTorch twins
def _torch_modules():
    import torch
    from torch import nn

    def linear(dense) -> nn.Linear:
        kernel, bias = dense.get_weights()           # Keras: (in, out)
        lin = nn.Linear(*kernel.shape)
        lin.weight.data = torch.from_numpy(np.ascontiguousarray(kernel.T))  # torch: (out, in)
        lin.bias.data = torch.from_numpy(bias.copy())
        return lin

    def conv2d(conv) -> nn.Conv2d:
        kernel, bias = conv.get_weights()            # Keras: (kh, kw, in, out)
        c = nn.Conv2d(kernel.shape[2], kernel.shape[3], kernel.shape[:2])
        c.weight.data = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))  # (out, in, kh, kw)
        c.bias.data = torch.from_numpy(bias.copy())
        return c

    class TorchMLP(nn.Module):
        def __init__(self, model):
            super().__init__()
            self.fc1, self.fc2, self.fc3 = (linear(model.get_layer(n)) for n in ("dense_1", "dense_2", "probs"))

        def forward(self, x):
            return torch.softmax(self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x))))), dim=-1)

    class TorchVision(nn.Module):
        """NCHW. Keras flattens (h, w, c) and torch (c, h, w): the classifier's rows are permuted to match."""

        def __init__(self, model):
            super().__init__()
            vision = model.get_layer("vision_model")
            self.conv1, self.conv2 = conv2d(vision.get_layer("conv_1")), conv2d(vision.get_layer("conv_2"))
            self.pool = nn.MaxPool2d(2)
            kernel, bias = model.get_layer("same_digit").get_weights()
            with torch.no_grad():
                c, h, w = self.features(torch.zeros(1, self.conv1.in_channels, 27, 27), flat=False).shape[1:]
            halves = np.split(kernel, 2, axis=0)     # digit_a's features, then digit_b's
            rows = [k.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(c * h * w, -1) for k in halves]
            self.fc = nn.Linear(kernel.shape[0], kernel.shape[1])
            self.fc.weight.data = torch.from_numpy(np.ascontiguousarray(np.concatenate(rows).T))
            self.fc.bias.data = torch.from_numpy(bias.copy())

        def features(self, x, flat=True):
            y = self.pool(self.conv2(self.conv1(x)))
            return y.flatten(1) if flat else y

        def forward(self, a, b):
            return torch.sigmoid(self.fc(torch.cat([self.features(a), self.features(b)], dim=1)))

    return {"mlp": TorchMLP, "vision": TorchVision}


def torch_inputs(kind: str, xs: list[np.ndarray]):
    """torch tensors made once, outside the timed calls (NHWC -> NCHW for conv)."""
    import torch
    if kind == "mlp":
        return [torch.from_numpy(x) for x in xs]
    return [torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))) for x in xs]


# ----------------------------------------------------------------------------- Keras 3
def keras3():
    """(keras module, None) when Keras 3 imports with a working backend, else (None, why not)."""
    try:
        import keras
    except ImportError as err:
        if getattr(err, "name", None) == "keras":
            return None, "Keras 3 is not installed"
        return None, f"Keras is installed but its backend does not import ({err})"
    except Exception as err:  # a backend that fails at import time
        return None, f"import keras failed: {type(err).__name__}: {err}"
    version = getattr(keras, "__version__", "?")
    if not version.startswith("3."):
        return None, f"keras {version} is not Keras 3"
    try:
        keras.ops.convert_to_numpy(keras.ops.add(keras.ops.ones((2,)), 1.0))
    except Exception as err:
        return None, f"Keras {version}: backend '{keras.backend.backend()}' does not run ({err})"
    return keras, None


def keras_twin(keras, kind: str, model):
    """The same architecture in Keras 3, with the irgraph model's weights (same layout), by layer name."""
    twin = build_mlp(keras) if kind == "mlp" else build_vision(keras)
    for layer in model.layers:
        if layer.weights:
            twin.get_layer(layer.name).set_weights(layer.get_weights())
    return twin


# ----------------------------------------------------------------------------- irgraph threads
@contextlib.contextmanager
def irgraph_threads(n: int):
    """irgraph has no setting for onnxruntime's thread count, so its session factory is swapped for
    one that gives ``n`` intra-op threads like the other contenders (restored on exit)."""
    import onnxruntime as ort

    from irgraph import runtime
    original = runtime.make_session

    def make_session(proto, providers):
        return ort.InferenceSession(proto.SerializeToString(), common.ort_session_options(n), providers=providers)

    runtime.make_session = make_session
    try:
        yield
    finally:
        runtime.make_session = original


# ----------------------------------------------------------------------------- one case
def bench_case(kind: str, batch: int, model, path: str, threads: int, rounds: int, min_block_s: float,
               torch_cls, keras=None) -> dict:
    """Check that every contender gives irgraph's outputs, then time them. Returns the figures."""
    import onnxruntime as ort
    import torch

    import irgraph.runtime

    xs = make_inputs(kind, batch)
    x = xs[0] if len(xs) == 1 else xs
    providers = irgraph.runtime.resolve_providers("auto")
    sess = ort.InferenceSession(path, common.ort_session_options(threads), providers=providers)
    feeds = dict(zip(model.input_names, xs))

    contenders = {"irgraph": lambda: model.predict_on_batch(x),
                  "bare ORT": lambda: sess.run(None, feeds)}
    outputs = {"irgraph": model.predict_on_batch(x), "bare ORT": sess.run(None, feeds)[0]}
    got = model._runtime.session.get_session_options().intra_op_num_threads
    if got != threads:
        raise RuntimeError(f"irgraph's session has {got} intra-op threads, the benchmark asked for {threads}")

    tnet = torch_cls(model).eval()
    txs = torch_inputs(kind, xs)

    def torch_call():
        with torch.inference_mode():
            return tnet(*txs)
    contenders["torch"] = torch_call
    outputs["torch"] = torch_call().numpy()

    if keras is not None:
        kmodel = keras_twin(keras, kind, model)
        contenders["keras3"] = lambda: kmodel.predict_on_batch(x)
        outputs["keras3"] = np.asarray(kmodel.predict_on_batch(x))

    ref = outputs["irgraph"]
    diffs = {}
    for name, out in outputs.items():
        if out.shape != ref.shape:
            raise AssertionError(f"{kind} batch {batch}: {name} gives shape {out.shape}, irgraph {ref.shape}")
        diffs[name] = float(np.max(np.abs(out - ref)))
        if diffs[name] > ATOL:
            raise AssertionError(f"{kind} batch {batch}: {name} differs from irgraph by {diffs[name]:.3g} "
                                 f"(> {ATOL})")

    timings = common.interleaved(contenders, rounds=rounds, min_block_s=min_block_s)
    med = {name: t.median for name, t in timings.items()}
    ratios = {"pob/bare": med["irgraph"] / med["bare ORT"], "torch/pob": med["torch"] / med["irgraph"]}
    if "keras3" in med:
        ratios["keras3/pob"] = med["keras3"] / med["irgraph"]
    return {"model": kind, "batch": batch, "median_s": med, "ratios": ratios, "max_abs_diff": diffs,
            "timings": {name: t.to_dict() for name, t in timings.items()}}


# ----------------------------------------------------------------------------- the run
def run(models=("mlp", "vision"), quick: bool = False, threads: int | None = None, batches=None,
        console=None) -> dict:
    """Run the benchmark, print the table, return the figures (what --json writes)."""
    import irgraph
    from rich.console import Console

    console = console or Console(width=None if sys.stdout.isatty() else 120)
    threads = threads or common.default_threads()
    rounds, min_block_s = ((common.QUICK_ROUNDS, common.QUICK_MIN_BLOCK_S) if quick
                           else (common.ROUNDS, common.MIN_BLOCK_S))
    common.set_torch_threads(threads)
    info = common.machine_info(*PACKAGES)
    common.print_machine(console, info, threads, rounds, min_block_s)

    keras, why_not = keras3()
    notes = [] if keras else [f"Keras 3 column skipped: {why_not}"]
    if keras:
        console.print(f"Keras {keras.__version__}, backend '{keras.backend.backend()}'")
    if "vision" in models and not has_conv(irgraph):
        models = [m for m in models if m != "vision"]
        notes.append("vision model skipped: irgraph.layers has no Conv2D/MaxPooling2D yet")
    for note in notes:
        console.print(f"[yellow]note:[/] {note}")

    torch_classes = _torch_modules()
    results = []
    with tempfile.TemporaryDirectory() as tmp, irgraph_threads(threads):
        for kind in models:
            irgraph.clear_session()
            irgraph.set_seed(0)
            model = build_mlp(irgraph) if kind == "mlp" else build_vision(irgraph)
            path = os.path.join(tmp, f"{kind}.onnx")
            model.to_onnx(path)
            for batch in (batches or BATCHES[kind]):
                r = bench_case(kind, batch, model, path, threads, rounds, min_block_s,
                               torch_classes[kind], keras)
                results.append(r)
                console.print(f"  {kind} batch {batch}: " + ", ".join(
                    f"{k} {common.fmt_time(v)}" for k, v in r["median_s"].items()))

    print_results(console, results, keras is not None)
    for note in notes:
        console.print(f"[yellow]note:[/] {note}")
    return {"machine": info, "threads": threads, "rounds": rounds, "min_block_s": min_block_s,
            "quick": quick, "notes": notes, "results": results}


def print_results(console, results: list[dict], with_keras: bool) -> None:
    columns = ["model", "batch", "irgraph pob", "bare ORT", "torch"] + (["keras3"] if with_keras else [])
    columns += ["pob/bare", "torch/pob"] + (["keras3/pob"] if with_keras else []) + ["noise"]
    rows = []
    for r in results:
        med, ratio = r["median_s"], r["ratios"]
        row = [r["model"], str(r["batch"])] + [common.fmt_time(med[k]) for k in ("irgraph", "bare ORT", "torch")]
        row += [common.fmt_time(med["keras3"])] if with_keras else []
        torch_ok = ratio["torch/pob"] > TORCH_OVER_POB_MIN if r["batch"] in TORCH_TARGET_BATCHES else None
        row += [common.fmt_ratio(ratio["pob/bare"], ratio["pob/bare"] <= POB_OVER_BARE_MAX),
                common.fmt_ratio(ratio["torch/pob"], torch_ok)]
        row += [common.fmt_ratio(ratio["keras3/pob"])] if with_keras else []
        row += [f"{max(t['spread'] for t in r['timings'].values()):.0%}"]
        rows.append(row)
    common.print_table(console, "median latency per call", columns, rows,
                       caption=f"pob = irgraph model.predict_on_batch(x); bare ORT = InferenceSession.run on "
                               f"the exported file; torch = eager nn.Module in inference_mode on tensors made "
                               f"beforehand; keras3 = its predict_on_batch. Targets: pob/bare <= "
                               f"{POB_OVER_BARE_MAX}, torch/pob > {TORCH_OVER_POB_MIN} at batch "
                               f"{' and '.join(map(str, TORCH_TARGET_BATCHES))}. Outputs checked against "
                               f"irgraph to {ATOL} before timing. noise = the largest (max - min) / median over "
                               f"rounds among the contenders.")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few short rounds: checks that it runs")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch and onnxruntime intra-op threads (default: all usable cores)")
    ap.add_argument("--models", default="mlp,vision", help="comma-separated: mlp, vision")
    ap.add_argument("--batches", default=None, help="comma-separated batch sizes (default: 1,32,256)")
    ap.add_argument("--json", metavar="PATH", help="write the figures to PATH")
    args = ap.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = set(models) - set(BATCHES)
    if unknown:
        ap.error(f"unknown model(s) {sorted(unknown)}; choose from {sorted(BATCHES)}")
    batches = [int(b) for b in args.batches.split(",")] if args.batches else None
    payload = run(models, quick=args.quick, threads=args.threads, batches=batches)
    if args.json:
        common.write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
