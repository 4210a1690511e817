"""`K.function` call latency against a bare onnxruntime session on the same ONNX file.

    python bench/kfunction.py [--quick] [--threads N] [--cases mlp,dream,style] [--json PATH]

The wrapper's cost per call: input checks, feeding the ``K.variable``s from the weight store, the
session run and the list of outputs. Target: K.function / bare session <= 1.2. Cases:

* ``mlp``: a placeholder through Dense 784-64-64-10 (batches 1 and 32), forward only;
* ``dream``: a deep-dream step on a small conv net (32x32x3 image): the loss and its normalised
  gradient w.r.t. the input image;
* ``style``: a style-transfer step: two ``K.variable`` images and a placeholder concatenated, fed
  through the conv net, a Gram-matrix loss and its gradient (the variables are fed at each call).

Timing as the other benchmarks (bench/common.py), with more and shorter rounds (31 of 20 ms):
interleaved rounds, median per call. The ratio is the median of the per-round ratios (the two
contenders' blocks of one round run back to back), its noise the interquartile range of those
ratios over their median. Both sessions have the same options (the benchmark's thread count, one
inter-op thread), are fed the same array and time blocks of the same number of calls; the bare
session is called through onnxruntime's public ``run``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from predict import irgraph_threads  # noqa: E402

TARGET = 1.2  # K.function / bare session
# calls of tens of microseconds: many short rounds, so that the median of the paired ratios holds
# still on a shared machine (7 rounds of 50 ms gave per-round ratios from 0.5 to 1.8 there)
ROUNDS, MIN_BLOCK_S = 31, 0.02
CASES = {"mlp": (1, 32), "dream": (1,), "style": (1,)}
PACKAGES = ("irgraph", "onnxruntime", "onnx", "numpy")


# ----------------------------------------------------------------------------- the functions
def _conv_features(inp):
    from irgraph import layers as L
    x = L.Conv2D(16, (3, 3), padding="same", activation="relu", name="conv1")(inp)
    x = L.Conv2D(16, (3, 3), padding="same", activation="relu", name="conv2")(x)
    x = L.MaxPooling2D((2, 2), name="pool")(x)
    return L.Conv2D(32, (3, 3), padding="same", activation="relu", name="conv3")(x)


def build_mlp(batch: int):
    from irgraph import backend as K
    from irgraph import layers as L
    x = K.placeholder(shape=(None, 784), name="pixels")
    h = L.Dense(64, activation="relu")(x)
    h = L.Dense(64, activation="relu")(h)
    y = L.Dense(10, activation="softmax")(h)
    return K.function([x], [y]), [np.random.default_rng(0).random((batch, 784), dtype=np.float32)]


def build_dream(batch: int):
    from irgraph import backend as K
    x = K.placeholder(shape=(batch, 32, 32, 3), name="dream")
    feats = _conv_features(x)
    loss = K.mean(K.square(feats[:, 2:-2, 2:-2, :]))
    grads = K.gradients(loss, x)[0]
    grads = grads / (K.sqrt(K.mean(K.square(grads))) + 1e-5)
    return K.function([x], [loss, grads]), [np.random.default_rng(1).random((batch, 32, 32, 3), dtype=np.float32)]


def build_style(batch: int):
    from irgraph import backend as K
    rng = np.random.default_rng(2)
    content = K.variable(rng.random((1, 32, 32, 3)), name="content")
    style = K.variable(rng.random((1, 32, 32, 3)), name="style")
    comb = K.placeholder(shape=(1, 32, 32, 3), name="combination")
    feats = _conv_features(K.concatenate([content, style, comb], axis=0))

    def gram(f):
        flat = K.batch_flatten(K.permute_dimensions(f, (2, 0, 1)))
        return K.dot(flat, K.transpose(flat))

    loss = K.sum(K.square(feats[2] - feats[0])) + K.sum(K.square(gram(feats[1]) - gram(feats[2]))) * 1e-4
    grads = K.gradients(loss, comb)[0]
    return K.function([comb], [loss, grads]), [rng.random((1, 32, 32, 3), dtype=np.float32)]


BUILDERS = {"mlp": build_mlp, "dream": build_dream, "style": build_style}


# ----------------------------------------------------------------------------- one case
def bench_case(case: str, batch: int, tmp: str, threads: int, rounds: int, min_block_s: float) -> dict:
    import irgraph
    import irgraph.runtime
    import onnxruntime as ort
    irgraph.clear_session()
    irgraph.set_seed(0)
    fn, xs = BUILDERS[case](batch)
    first = fn(xs)  # builds the session
    path = os.path.join(tmp, f"{case}_{batch}.onnx")
    with open(path, "wb") as f:
        f.write(fn.onnx_model().SerializeToString())
    providers = irgraph.runtime.resolve_providers("auto")  # what K.function uses by default
    sess = ort.InferenceSession(path, common.ort_session_options(threads), providers=providers)
    compiled = fn._session_for(fn._phase)
    got = compiled.session.get_session_options().intra_op_num_threads
    if got != threads:
        raise RuntimeError(f"the K.function session has {got} intra-op threads, the benchmark asked for {threads}")
    feeds = dict(zip(fn.input_names, xs))
    feeds.update({name: np.array(var.numpy()) for name, var in compiled.fed})
    names = compiled.output_names
    bare = sess.run(names, feeds)
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(first, bare))
    if diff > 1e-5:
        raise AssertionError(f"{case} batch {batch}: K.function and the bare session differ by {diff:.3g}")
    contenders = {"K.function": lambda: fn(xs), "bare ORT": lambda: sess.run(names, feeds)}
    timings = common.interleaved(contenders, rounds=rounds, min_block_s=min_block_s, equal_blocks=True)
    med = {name: t.median for name, t in timings.items()}
    ratio, noise, per_round = paired_ratio(timings["K.function"].per_call, timings["bare ORT"].per_call)
    return {"case": case, "batch": batch, "median_s": med, "ratio": ratio, "noise": noise,
            "ratio_per_round": per_round, "time_spread": max(t.spread for t in timings.values()),
            "max_abs_diff": diff, "fed_variables": len(compiled.fed),
            "timings": {n: t.to_dict() for n, t in timings.items()}}


def paired_ratio(a: list, b: list) -> tuple:
    """The ratio of two contenders timed in the same interleaved rounds: the median of the per-round
    ratios a[r] / b[r] (both blocks of a round run back to back, so a slow spell of a shared
    machine slows both and cancels out), and its noise, the interquartile range of those ratios over
    their median (half the rounds lie within it; the max-min spread of one contender's times
    measures the machine's load, not the ratio's uncertainty)."""
    ratios = [x / y for x, y in zip(a, b)]
    q1, med, q3 = statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else ratios * 3
    return med, (q3 - q1) / med, ratios


# ----------------------------------------------------------------------------- the run
def run(cases=("mlp", "dream", "style"), quick: bool = False, threads: int | None = None, console=None) -> dict:
    from rich.console import Console
    console = console or Console(width=None if sys.stdout.isatty() else 120)
    threads = threads or common.default_threads()
    rounds, min_block_s = ((common.QUICK_ROUNDS, common.QUICK_MIN_BLOCK_S) if quick
                           else (ROUNDS, MIN_BLOCK_S))
    info = common.machine_info(*PACKAGES)
    common.print_machine(console, info, threads, rounds, min_block_s)
    results = []
    with tempfile.TemporaryDirectory() as tmp, irgraph_threads(threads):
        for case in cases:
            for batch in CASES[case]:
                r = bench_case(case, batch, tmp, threads, rounds, min_block_s)
                results.append(r)
                console.print(f"  {case} batch {batch}: " + ", ".join(
                    f"{k} {common.fmt_time(v)}" for k, v in r["median_s"].items()))
    rows = [[r["case"], str(r["batch"]), common.fmt_time(r["median_s"]["K.function"]),
             common.fmt_time(r["median_s"]["bare ORT"]), common.fmt_ratio(r["ratio"], r["ratio"] <= TARGET),
             f"{r['noise']:.0%}"] for r in results]
    common.print_table(console, "median latency per call", ["case", "batch", "K.function", "bare ORT",
                                                            "K.function/bare", "noise"], rows,
                       caption=f"target: K.function/bare <= {TARGET}; K.function/bare: median over rounds of "
                               "the ratio within a round; noise: interquartile range of those ratios / median")
    return {"machine": info, "threads": threads, "rounds": rounds, "min_block_s": min_block_s, "quick": quick,
            "results": results}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few short rounds: checks that it runs")
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads (default: all cores)")
    ap.add_argument("--cases", default="mlp,dream,style", help="comma-separated: " + ", ".join(CASES))
    ap.add_argument("--json", metavar="PATH", help="write the figures to PATH")
    args = ap.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = set(cases) - set(CASES)
    if unknown:
        ap.error(f"unknown case(s) {sorted(unknown)}; choose from {sorted(CASES)}")
    payload = run(cases, quick=args.quick, threads=args.threads)
    if args.json:
        common.write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
