"""Build every model listing of the seed documents, summarize, export to ONNX and run it.

    python examples/run_seeds.py [--out DIR] [--only SUBSTRING ...] [--no-summary] [--batch N]

For each listing (see examples/seed_models.py): print the model summary, export the model to
``DIR/<seed>_<listing>[__<model>].onnx`` (default DIR: ./out/seeds) with the full ONNX checker,
run the file in a plain onnxruntime session on seeded random inputs of the right shapes and dtypes
(word ids below the Embedding's vocabulary for Embedding inputs), run ``model.predict`` on the same
inputs, and print one line: parameters, output shapes, and max |predict - bare onnxruntime|.
Images use the shrunk sizes of ``seed_models.SMALL`` so that the whole run takes about a minute on
two CPU cores. Exit status 1 if any listing fails.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import irgraph  # noqa: E402
import seed_models as sm  # noqa: E402


def bare_run(path, model, arrays):
    """Run the ONNX file in a session that knows nothing of irgraph."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    feeds = {i.name: a for i, a in zip(sess.get_inputs(), arrays)}
    assert [i.name for i in sess.get_inputs()] == list(model.input_names)
    return sess.run(None, feeds)


def run_model(key, name, model, out_dir, batch, summary):
    if summary:
        print()
        model.summary()
    fname = key.replace("/", "_") + ("" if key.endswith("/" + name) else "__" + name) + ".onnx"
    path = os.path.join(out_dir, fname)
    t0 = time.perf_counter()
    model.to_onnx(path, check=True)
    onnx.checker.check_model(path, full_check=True)  # the file as written
    arrays = sm.random_inputs(model, batch=batch, seed=0)
    bare = bare_run(path, model, arrays)
    pred = model.predict(arrays if len(arrays) > 1 else arrays[0], verbose=0)
    pred = pred if isinstance(pred, list) else list(pred.values()) if isinstance(pred, dict) else [pred]
    if len(pred) != len(bare):
        raise AssertionError(f"predict gave {len(pred)} outputs, the ONNX file {len(bare)}")
    diff = max(float(np.max(np.abs(p - b))) if p.size else 0.0 for p, b in zip(pred, bare))
    shapes = ", ".join(str(tuple(b.shape)) for b in bare)
    ms = (time.perf_counter() - t0) * 1000
    print(f"[ok]   {key:<24} {name:<22} params={model.count_params():>10,}  outputs={shapes:<34} "
          f"max|predict-ort|={diff:.2e}  ({ms:.0f} ms)  -> {path}", flush=True)
    return diff


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(".", "out", "seeds"), help="directory for the ONNX files")
    ap.add_argument("--only", nargs="*", default=None, help="run only listings whose key contains one of these")
    ap.add_argument("--no-summary", action="store_true", help="do not print model summaries")
    ap.add_argument("--batch", type=int, default=2, help="samples per random input batch")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    start = time.perf_counter()
    failures, count, worst = [], 0, 0.0
    for key, build in sm.listings(small=True):
        if args.only and not any(o in key for o in args.only):
            continue
        irgraph.clear_session()
        irgraph.set_seed(1234)
        print(f"\n=== {key} " + "=" * max(0, 70 - len(key)), flush=True)
        try:
            ns = build()
        except Exception as err:  # noqa: BLE001 -- report and go on with the next listing
            failures.append((key, "build", err))
            print(f"[FAIL] {key}: build: {type(err).__name__}: {err}", flush=True)
            traceback.print_exc()
            continue
        for name, model in ns.models.items():
            try:
                worst = max(worst, run_model(key, name, model, args.out, args.batch, not args.no_summary))
                count += 1
            except Exception as err:  # noqa: BLE001
                failures.append((f"{key}:{name}", "export/run", err))
                print(f"[FAIL] {key}:{name}: {type(err).__name__}: {err}", flush=True)
                traceback.print_exc()

    elapsed = time.perf_counter() - start
    print(f"\n{count} models exported and run in {elapsed:.1f} s; max |predict - bare onnxruntime| = "
          f"{worst:.2e}; {len(failures)} failure(s)")
    for what, stage, err in failures:
        print(f"  FAILED {what} ({stage}): {type(err).__name__}: {err}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
