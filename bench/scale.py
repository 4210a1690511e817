"""Scale benchmark: how build, export, first predict and the first training step grow with depth.

Models: chains of N ``Dense(8)`` layers (N = 100, 1,000, 3,000, 10,000) and a residual net of
``--residual`` layers (Dense(8) + Add blocks: ``x = Add()([x, Dense(8)(x)])``). Stages, each timed
once, in this order, in one fresh process per model:

  build     create the layers, call them, ``Model(inputs, outputs)``
  to_onnx   ``model.to_onnx()`` (passes, emission, full ONNX check)
  predict   the first ``model.predict(x)`` (an onnxruntime session from the exported graph, one run)
  train     ``model.compile('sgd', 'mse')`` and the first ``train_on_batch`` (the train-step graph,
            its session, one step; the eval step is built by the first evaluate)

Every process runs at Python's default recursion limit (checked). Figures per stage: wall seconds,
the part of them spent creating onnxruntime sessions (``ort``), and the peak resident memory of the
process at the end of the stage (``getrusage`` ru_maxrss, MiB, which includes the interpreter and
libraries, about 150 MiB; the peak only grows, so a stage's figure is the peak so far). ``growth/10x``
is (t(N2) / t(N1)) ** (1 / log10(N2 / N1)) between consecutive sizes: 10 means linear.

    python bench/scale.py                         # everything (a few minutes)
    python bench/scale.py --sizes 100,1000 --train-max 1000 --residual 0 --json scale.json
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
STAGES = ("build", "to_onnx", "predict", "train")
WIDTH = 8


# ----------------------------------------------------------------------------- worker (one model)
def _peak_mib() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _count_sessions(log: list) -> None:
    """Wrap onnxruntime session creation wherever irgraph imported it, adding its seconds to ``log``."""
    import importlib
    for modname in ("irgraph.runtime", "irgraph.training.session"):
        module = importlib.import_module(modname)
        make = getattr(module, "make_session", None)
        if make is None or getattr(make, "timed", False):  # absent, or already wrapped
            continue

        def timed(*args, _make=make, **kwargs):
            t0 = time.perf_counter()
            try:
                return _make(*args, **kwargs)
            finally:
                log.append(time.perf_counter() - t0)
        timed.timed = True
        module.make_session = timed


def build_model(kind: str, n: int):
    from irgraph.layers import Add, Dense, Input
    from irgraph.models import Model
    inputs = x = Input(shape=(WIDTH,))
    if kind == "chain":
        for _ in range(n):
            x = Dense(WIDTH)(x)
    elif kind == "residual":  # n layers: n/2 blocks of Dense + Add
        for _ in range(n // 2):
            x = Add()([x, Dense(WIDTH)(x)])
    else:
        raise ValueError(f"unknown model kind {kind!r}")
    return Model(inputs, x)


def worker(kind: str, n: int, train: bool) -> dict:
    assert sys.getrecursionlimit() == 1000, "the benchmark runs at Python's default recursion limit"
    import numpy as np
    sys.path.insert(0, ROOT)
    import irgraph  # noqa: F401  (imports before the clock starts)
    import onnx  # noqa: F401
    ort_log: list = []
    _count_sessions(ort_log)
    x = np.random.default_rng(0).standard_normal((32, WIDTH)).astype(np.float32)
    out = {"kind": kind, "n": n, "stages": {}}

    def stage(name, fn):
        ort_log.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        out["stages"][name] = {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                               "ort_s": sum(ort_log), "ort_sessions": len(ort_log), "peak_mib": _peak_mib()}
        return result

    out["baseline_mib"] = _peak_mib()
    model = stage("build", lambda: build_model(kind, n))
    proto = stage("to_onnx", model.to_onnx)
    out["onnx_nodes"] = len(proto.graph.node)
    del proto
    stage("predict", lambda: model.predict(x, verbose=0))
    if train:
        def first_step():
            model.compile("sgd", "mse")
            return model.train_on_batch(x, x)
        stage("train", first_step)
    return out


def run_worker(kind: str, n: int, train: bool, timeout: float) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, str(n)] + (["--train"] if train else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} {n} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- report
def growth(results: list, stage: str) -> dict:
    """{n: growth per 10x from the previous size to n} for one stage of the chain results."""
    out, prev = {}, None
    for r in results:
        s = r["stages"].get(stage)
        if s is None:
            continue
        if prev is not None:
            n0, t0 = prev
            out[r["n"]] = (s["wall_s"] / t0) ** (1 / math.log10(r["n"] / n0))
        prev = (r["n"], s["wall_s"])
    return out


STAGE_NAMES = {"build": "build", "to_onnx": "to_onnx", "predict": "first predict",
               "total": "build+to_onnx+predict", "train": "compile+first train_on_batch"}
COLUMNS = ["model", "stage", "wall s", "onnxruntime s", "irgraph s", "peak RSS MiB", "growth / 10x"]


def rows(results: list) -> list[list[str]]:
    """One row per model and stage; ``irgraph s`` is the wall time less onnxruntime's sessions."""
    chain = [r for r in results if r["kind"] == "chain"]
    for r in results:
        st = r["stages"]
        parts = [st[k] for k in ("build", "to_onnx", "predict")]
        st["total"] = {"wall_s": sum(p["wall_s"] for p in parts), "ort_s": sum(p["ort_s"] for p in parts),
                       "cpu_s": sum(p["cpu_s"] for p in parts), "peak_mib": parts[-1]["peak_mib"]}
    g = {st: growth(chain, st) for st in STAGE_NAMES}
    table = []
    for r in results:
        for name, label in STAGE_NAMES.items():
            s = r["stages"].get(name)
            if s is None:
                continue
            k = g[name].get(r["n"]) if r["kind"] == "chain" else None
            table.append([f"{r['kind']} {r['n']:,}", label, f"{s['wall_s']:.2f}", f"{s['ort_s']:.2f}",
                          f"{s['wall_s'] - s['ort_s']:.2f}", f"{s['peak_mib']:.0f}",
                          "-" if k is None else f"{k:.1f}x"])
    return table


def markdown(results: list) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in rows(results)]
    return "\n".join(lines)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,1000,3000,10000", help="chain lengths")
    ap.add_argument("--train-max", type=int, default=10000, help="largest chain that also trains")
    ap.add_argument("--residual", type=int, default=500, help="layers of the residual net (0: none)")
    ap.add_argument("--timeout", type=float, default=1200, help="seconds per model process")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument("--worker", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--train", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.train)))
        return {}
    sys.path.insert(0, HERE)
    from common import machine_info
    cases = [("chain", int(n)) for n in args.sizes.split(",") if n]
    if args.residual:
        cases.append(("residual", args.residual))
    results = []
    for kind, n in cases:
        train = kind == "residual" or n <= args.train_max
        t0 = time.perf_counter()
        results.append(run_worker(kind, n, train, args.timeout))
        print(f"{kind} {n}: done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    info = machine_info("onnx", "onnxruntime", "networkx", "numpy")
    payload = {"machine": info, "results": results}
    if args.markdown:
        print(markdown(results))
    else:
        from rich.console import Console
        from common import print_table
        console = Console(width=120)
        load = info.get("load_average")
        console.print(f"machine: {info['cpu']}, {info['usable_cores']} usable cores"
                      + (f", load average {load[0]:g} {load[1]:g} {load[2]:g}" if load else ""))
        print_table(console, f"Scale: Dense({WIDTH}) chains and a residual net, one process per model",
                    COLUMNS, rows(results),
                    caption="onnxruntime s: creating its sessions; peak RSS: the process so far")
    if args.json:
        from common import write_json
        write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
