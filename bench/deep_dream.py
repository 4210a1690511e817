"""One deep-dream gradient step, side by side: irgraph ``K.function`` vs PyTorch eager autograd (NCHW
and ``channels_last``), on the same VGG16 weights, with each contender's peak memory measured alone
in a fresh process.

    python bench/deep_dream.py [--quick] [--threads N] [--size 224] [--layer block5_pool]
                               [--json PATH] [--no-memory]

The step is seed 004's deep-dream inner loop: VGG16 without its top (``vgg16.VGG16(input_tensor=dream,
include_top=False)``), ``loss = K.mean(layer_output)``, ``grads = K.gradients(loss, dream)[0]``
normalised by ``K.sqrt(K.mean(K.square(grads))) + 1e-5``, ``f = K.function([dream], [loss, grads])``;
one call ``f([image])`` is timed (numpy in, numpy out). The PyTorch contenders are what a PyTorch
user writes: the VGG16 ``features`` as an ``nn.Sequential`` (Conv2d 3x3 padding 1 + ReLU, MaxPool2d 2)
up to the same layer, the image a leaf tensor with ``requires_grad``, ``loss = net(x).mean()``,
``torch.autograd.grad(loss, x)``, the same normalisation; tensors made beforehand and results left
as tensors. ``torch cl`` is the same with the model and image in ``torch.channels_last`` (PyTorch's
advice for CPU convolutions). Weights: Glorot-uniform kernels and small random biases made with
numpy, loaded into both (Keras's (kh, kw, in, out) kernels transposed to torch's (out, in, kh, kw)).
Before timing, the losses must agree to 1e-4 (relative) and the normalised gradients to 1e-3 of
the largest gradient (float32 through up to 26 convolutions: at 224 x 224 the largest difference is
about 1e-3 against gradients of RMS about 1).

Target: torch / irgraph >= 1.0 (irgraph's step at least as fast as PyTorch eager's), on 224 x 224.
Timing as every benchmark here (bench/common.py): interleaved rounds, median per call; ``noise`` is
the largest (max - min) / median over rounds. ``--quick`` (32 x 32, 2 short rounds) only checks
that everything runs.

Internal: ``python bench/deep_dream.py --worker CONTENDER [--size N] [--layer L] [--threads N]
[--quick]`` runs one contender alone and prints one JSON line with its peak memory.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TARGET = 1.0             # torch / irgraph, per step
QUICK_SIZE, SIZE = 32, 224
# gradients: max |diff| <= GRAD_RTOL * max(1, max |irgraph grad|). Two float32 implementations of 13
# convolutions at 224x224 (sums of up to 4,608 products per output, then the backward pass) part by
# about 1e-3 of the normalised gradient's scale; irgraph agrees with PyTorch in float64 to 1e-7
# (tests/test_backend_graph.py), so a looser bound here only absorbs float32 rounding.
LOSS_RTOL, GRAD_RTOL = 1e-4, 1e-2
PACKAGES = ("irgraph", "onnxruntime", "onnx", "numpy", "torch", "rich")
CONTENDERS = ("irgraph", "torch", "torch cl")
WORKER_NAMES = {"irgraph": "irgraph", "torch": "torch", "torch cl": "torch_cl"}
WORKER_SECONDS, QUICK_WORKER_SECONDS = 3.0, 0.05

# VGG16's convolutional base, as Keras names it: (block, number of convs, filters)
VGG16_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))
LAYERS = tuple(name for b, n, _ in VGG16_BLOCKS
               for name in [f"block{b}_conv{i}" for i in range(1, n + 1)] + [f"block{b}_pool"])


# ----------------------------------------------------------------------------- weights and input
def vgg16_weights(seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Glorot-uniform kernels (Keras layout (3, 3, in, out)) and small random biases, by layer name."""
    rng = np.random.default_rng(seed)
    out, cin = {}, 3
    for b, n, filters in VGG16_BLOCKS:
        for i in range(1, n + 1):
            fan_in, fan_out = 9 * cin, 9 * filters
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            out[f"block{b}_conv{i}"] = [rng.uniform(-limit, limit, (3, 3, cin, filters)).astype(np.float32),
                                        rng.uniform(-0.05, 0.05, filters).astype(np.float32)]
            cin = filters
    return out


def make_image(size: int, seed: int = 1) -> np.ndarray:
    """A (1, size, size, 3) float32 image as ``vgg16.preprocess_input`` leaves it (BGR, means removed)."""
    rng = np.random.default_rng(seed)
    pixels = rng.uniform(0, 255, (1, size, size, 3))
    return (pixels[..., ::-1] - np.array([103.939, 116.779, 123.68])).astype(np.float32)


# ----------------------------------------------------------------------------- irgraph
def irgraph_step(weights: dict, size: int, layer: str):
    """Seed 004's deep-dream function on irgraph: ``f([image]) -> [loss, normalised grads]``."""
    import irgraph
    from irgraph import backend as K
    from irgraph.applications import vgg16
    from irgraph.layers import Input

    irgraph.clear_session()
    dream = Input(batch_shape=(1, size, size, 3))
    model = vgg16.VGG16(input_tensor=dream, weights=None, include_top=False)
    for name, arrays in weights.items():
        model.get_layer(name).set_weights(arrays)
    layer_output = model.get_layer(layer).output
    loss = K.mean(layer_output)
    grads = K.gradients(loss, dream)[0]
    grads /= (K.sqrt(K.mean(K.square(grads))) + 1e-5)
    return K.function([dream], [loss, grads])


def configure_irgraph_threads(threads: int) -> None:
    import irgraph.runtime
    irgraph.runtime.configure(intra_op_num_threads=threads, inter_op_num_threads=1)


# ----------------------------------------------------------------------------- PyTorch
def torch_features(weights: dict, layer: str, channels_last: bool = False):
    """VGG16's ``features`` as a PyTorch user writes them, up to (and including) ``layer``."""
    import torch
    from torch import nn
    mods = []
    for name in LAYERS:
        if name.endswith("_pool"):
            mods.append(nn.MaxPool2d(2))
        else:
            kernel, bias = weights[name]
            conv = nn.Conv2d(kernel.shape[2], kernel.shape[3], 3, padding=1)
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))))
                conv.bias.copy_(torch.from_numpy(bias))
            mods += [conv, nn.ReLU(inplace=True)]
        if name == layer:
            break
    net = nn.Sequential(*mods).eval()
    for p in net.parameters():
        p.requires_grad_(False)  # only the image is differentiated
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return net


def torch_step(net, image_nhwc: np.ndarray, channels_last: bool = False):
    """A zero-argument step (the image tensor made here, once) returning (loss, normalised grads)."""
    import torch
    x = torch.from_numpy(np.ascontiguousarray(image_nhwc.transpose(0, 3, 1, 2)))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)

    def step():
        loss = net(x).mean()
        (grads,) = torch.autograd.grad(loss, x)
        grads = grads / (grads.square().mean().sqrt() + 1e-5)
        return loss, grads
    return step


def nhwc(grads) -> np.ndarray:
    return grads.detach().numpy().transpose(0, 2, 3, 1)


# ----------------------------------------------------------------------------- one case
def make_contenders(weights: dict, size: int, layer: str, image: np.ndarray,
                    threads: int | None = None) -> tuple[dict, dict, dict]:
    """The three contenders as zero-argument calls, their first results (loss, NHWC grads) and set-up
    times (model build to first result). With ``threads``, irgraph's session is checked to have that
    many intra-op threads."""
    calls, results, setup = {}, {}, {}
    t0 = time.perf_counter()
    f = irgraph_step(weights, size, layer)
    loss, grads = f([image])
    setup["irgraph"] = time.perf_counter() - t0
    for compiled in getattr(f, "_compiled", {}).values():  # K.function's built sessions (one per phase)
        got = compiled.session.get_session_options().intra_op_num_threads
        if threads is not None and got != threads:
            raise RuntimeError(f"irgraph's K.function session has {got} intra-op threads, the benchmark asked "
                               f"for {threads}")
    calls["irgraph"] = lambda: f([image])
    results["irgraph"] = (float(np.asarray(loss)), np.asarray(grads))
    for name, cl in (("torch", False), ("torch cl", True)):
        t0 = time.perf_counter()
        step = torch_step(torch_features(weights, layer, cl), image, cl)
        loss, grads = step()
        setup[name] = time.perf_counter() - t0
        calls[name] = step
        results[name] = (float(loss.detach()), nhwc(grads))
    return calls, results, setup


def check(results: dict) -> dict:
    """Every contender's loss and gradients against irgraph's (raises when they disagree)."""
    ref_loss, ref_grads = results["irgraph"]
    scale = max(1.0, float(np.max(np.abs(ref_grads))))
    out = {"loss": {k: v[0] for k, v in results.items()}, "grad_max_abs_diff": {}, "loss_rel_diff": {},
           "grad_max_abs": scale}
    for name, (loss, grads) in results.items():
        if grads.shape != ref_grads.shape:
            raise AssertionError(f"{name} gives gradients of shape {grads.shape}, irgraph {ref_grads.shape}")
        rel = abs(loss - ref_loss) / max(abs(ref_loss), 1e-12)
        diff = float(np.max(np.abs(grads - ref_grads)))
        out["loss_rel_diff"][name], out["grad_max_abs_diff"][name] = rel, diff
        if rel > LOSS_RTOL or diff > GRAD_RTOL * scale:
            raise AssertionError(f"{name} differs from irgraph: loss {loss:.6g} vs {ref_loss:.6g} (rel {rel:.2g}), "
                                 f"gradients by {diff:.3g} (limits {LOSS_RTOL} relative, {GRAD_RTOL * scale:.3g})")
    return out


# ----------------------------------------------------------------------------- memory (worker processes)
def worker(contender: str, size: int, layer: str, threads: int, quick: bool) -> dict:
    """One contender alone in this process: build it, step in a loop, report the peak memory."""
    import predict  # peak_rss_mib, _proc_status_mib (imports numpy and common only)
    weights = vgg16_weights()
    image = make_image(size)
    if contender == "irgraph":
        import irgraph  # noqa: F401
        configure_irgraph_threads(threads)
    else:
        import torch  # noqa: F401
        common.set_torch_threads(threads)
    base = predict._proc_status_mib("VmRSS")
    if contender == "irgraph":
        f = irgraph_step(weights, size, layer)
        del weights

        def call():
            return f([image])
    elif contender in ("torch", "torch_cl"):
        cl = contender == "torch_cl"
        call = torch_step(torch_features(weights, layer, cl), image, cl)
        del weights
    else:
        raise ValueError(f"unknown worker contender {contender!r}")
    call()
    calls, elapsed = common.repeat_for(call, QUICK_WORKER_SECONDS if quick else WORKER_SECONDS)
    return {"contender": contender, "size": size, "layer": layer, "threads": threads, "calls": calls,
            "s_per_step": elapsed / calls, "base_rss_mib": base,
            "peak_rss_mib": max(predict.peak_rss_mib(), base or 0.0, predict._proc_status_mib("VmRSS") or 0.0)}


def measure_memory(contender: str, size: int, layer: str, threads: int, quick: bool) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", WORKER_NAMES[contender], "--size", str(size),
           "--layer", layer, "--threads", str(threads)] + (["--quick"] if quick else [])
    return common.run_worker(cmd)


# ----------------------------------------------------------------------------- the run
def run(quick: bool = False, threads: int | None = None, size: int | None = None, layer: str = "block5_pool",
        console=None, memory: bool = True, rounds: int | None = None) -> dict:
    """Run the benchmark, print the table, return the figures (what --json writes)."""
    import predict  # irgraph_threads: onnxruntime sessions with the benchmark's thread count
    from rich.console import Console

    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; VGG16's base has {', '.join(LAYERS)}")
    console = console or Console(width=None if sys.stdout.isatty() else 120)
    threads = threads or common.default_threads()
    size = size or (QUICK_SIZE if quick else SIZE)
    default_rounds, min_block_s = ((common.QUICK_ROUNDS, common.QUICK_MIN_BLOCK_S) if quick
                                   else (common.ROUNDS, common.MIN_BLOCK_S))
    rounds = rounds or default_rounds
    common.set_torch_threads(threads)
    configure_irgraph_threads(threads)
    info = common.machine_info(*PACKAGES)
    common.print_machine(console, info, threads, rounds, min_block_s)
    console.print(f"deep-dream step: VGG16 base to {layer}, image 1x{size}x{size}x3, gradient of the mean "
                  "activation w.r.t. the image, normalised")

    weights = vgg16_weights()
    image = make_image(size)
    with predict.irgraph_threads(threads):
        calls, results, setup = make_contenders(weights, size, layer, image, threads)
    agreement = check(results)
    timings = common.interleaved(calls, rounds=rounds, min_block_s=min_block_s)
    med = {name: t.median for name, t in timings.items()}
    ratios = {f"{name}/irgraph": med[name] / med["irgraph"] for name in ("torch", "torch cl")}
    mem = {}
    if memory:
        mem = {name: measure_memory(name, size, layer, threads, quick) for name in CONTENDERS}
    result = {"size": size, "layer": layer, "median_s": med, "ratios": ratios, "setup_s": setup,
              "target": TARGET, "check": agreement, "timings": {n: t.to_dict() for n, t in timings.items()},
              "memory": mem}
    print_result(console, result)
    return {"machine": info, "threads": threads, "rounds": rounds, "min_block_s": min_block_s, "quick": quick,
            "results": [result]}


def print_result(console, r: dict) -> None:
    from predict import fmt_mem
    from rich.markup import escape
    med, mem = r["median_s"], r.get("memory", {})
    columns = ["contender", "step (median)", "noise", "its time / irgraph's", "set-up", "peak memory"]
    rows = []
    for name in CONTENDERS:
        t = r["timings"][name]
        if name == "irgraph":
            ratio = ""
        else:
            value = r["ratios"][f"{name}/irgraph"]
            ratio = common.fmt_ratio(value, value >= TARGET)
        rows.append([name, common.fmt_time(med[name]), f"{t['spread']:.0%}", ratio,
                     common.fmt_time(r["setup_s"][name]), fmt_mem(mem.get(name)).strip() or "-"])
    common.print_table(console, f"deep-dream step, VGG16 to {r['layer']}, {r['size']}x{r['size']}", columns, rows,
                       caption=escape("irgraph = f([image]) with f = K.function([dream], [loss, grads]); ") + "torch = eager "
                               "nn.Sequential + torch.autograd.grad on a leaf image tensor; torch cl = the same in "
                               f"channels_last. Target: torch/irgraph >= {TARGET} (green). noise = (max - min) / "
                               f"median over rounds. set-up = build to first result. Peak memory: that contender "
                               f"alone in a fresh process (+ growth after its imports). Losses agree to "
                               f"{max(r['check']['loss_rel_diff'].values()):.1g} (relative), normalised gradients "
                               f"to {max(r['check']['grad_max_abs_diff'].values()):.1g} (largest "
                               f"{r['check']['grad_max_abs']:.3g}).")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="32x32, few short rounds: checks that it runs")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch and onnxruntime intra-op threads (default: all usable cores)")
    ap.add_argument("--size", type=int, default=None, help=f"image side (default {SIZE}, --quick {QUICK_SIZE})")
    ap.add_argument("--layer", default="block5_pool", help="the layer whose mean activation is climbed")
    ap.add_argument("--rounds", type=int, default=None, help="timing rounds (default 7, --quick 2)")
    ap.add_argument("--json", metavar="PATH", help="write the figures to PATH")
    ap.add_argument("--no-memory", action="store_true", help="skip the per-contender peak-memory processes")
    ap.add_argument("--worker", metavar="CONTENDER", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    threads = args.threads or common.default_threads()
    if args.worker:
        size = args.size or (QUICK_SIZE if args.quick else SIZE)
        print(json.dumps(worker(args.worker, size, args.layer, threads, args.quick)))
        return 0
    if args.layer not in LAYERS:
        ap.error(f"unknown layer {args.layer!r}; choose from {', '.join(LAYERS)}")
    payload = run(quick=args.quick, threads=args.threads, size=args.size, layer=args.layer,
                  memory=not args.no_memory, rounds=args.rounds)
    if args.json:
        common.write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
