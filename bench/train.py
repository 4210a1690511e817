"""Training throughput, side by side: irgraph ``train_on_batch`` and ``fit`` vs PyTorch eager (same
initial weights, same loss, same optimizer family) vs Keras 3 ``train_on_batch`` (when installed),
with the peak memory of each contender measured in a fresh process.

    python bench/train.py [--quick] [--threads N] [--models mlp,vision,regression] [--batches 32,256]
                          [--json PATH] [--no-memory] [--profile]
    python bench/train.py --models tweet_lstm,lstm_autoencoder,memory_network   # the recurrent seeds

Targets (CPU): irgraph / torch >= 1.5 in samples/s for the MLP and the regression net, >= 1.0 for
the conv net, >= 1.2 for the recurrent seed models of issue 8 (the shared-LSTM tweet-pair classifier,
the LSTM sentence autoencoder, the bAbI memory network; their PyTorch contenders use ``nn.LSTM`` and
the losses a PyTorch user picks: ``BCEWithLogitsLoss``, ``MSELoss``, ``CrossEntropyLoss``). See the
"Training" section of bench/RESULTS.md.

Internal: ``python bench/train.py --worker CONTENDER MODEL BATCH [--threads N] [--quick]`` runs one
contender alone in this process and prints one JSON line with its peak memory (what the main run
spawns for the memory columns).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import predict  # noqa: E402  (the same MLP and shared-vision builders as the prediction benchmark)

LOSS_RTOL = 1e-4          # first-step loss, irgraph vs the others: |a - b| <= LOSS_RTOL * max(1, |b|)
SECOND_STEP_RTOL = 1e-2   # loss after one update: only reported (torch.optim differs in where eps goes)
PACKAGES = ("irgraph", "onnxruntime", "onnx", "numpy", "torch", "keras", "rich")
CONTENDERS = ("tob", "fit", "torch", "keras3")
LABELS = {"tob": "irgraph tob", "fit": "irgraph fit", "torch": "torch", "keras3": "keras3"}
WORKER_SECONDS, QUICK_WORKER_SECONDS = 1.0, 0.02


@dataclass(frozen=True)
class Spec:
    """One benchmark model: how it is built, compiled and fed."""
    name: str
    loss: str
    optimizer: str
    metrics: tuple
    batches: tuple       # default batch sizes
    fit_samples: int     # one fit call = one epoch over this many samples
    target: float        # irgraph / torch, samples/s
    what: str


SPECS = {
    "mlp": Spec("mlp", "categorical_crossentropy", "rmsprop", ("accuracy",), (32, 256), 8192, 1.5,
                "seed k2_mlp: 784 -> 64 relu -> 64 relu -> 10 softmax; categorical cross-entropy, "
                "RMSprop, accuracy (as the Keras 2 guide compiles it)"),
    "vision": Spec("vision", "binary_crossentropy", "rmsprop", (), (32, 128), 1024, 1.0,
                   "seed k2_shared_vision: two 27x27x1 digits through a shared Conv2D(64,3)-Conv2D(64,3)-"
                   "MaxPool(2)-Flatten, concatenate, Dense(1, sigmoid); binary cross-entropy, RMSprop"),
    "regression": Spec("regression", "mse", "adam", (), (10,), 1000, 1.5,
                       "seed s004_regression: 12 -> Dense(8, relu) -> Dense(1); mse, Adam"),
    "tweet_lstm": Spec("tweet_lstm", "binary_crossentropy", "rmsprop", ("accuracy",), (32,), 1024, 1.2,
                       "seeds 000/001/003 shared-LSTM tweet pairs: two (40, 64) sequences through one LSTM(64), "
                       "concatenate, Dense(1, sigmoid); binary cross-entropy, RMSprop, accuracy"),
    "lstm_autoencoder": Spec("lstm_autoencoder", "mse", "sgd", (), (64,), 512, 1.2,
                             "seed 004 sentence autoencoder: (50, 50) -> Bidirectional(LSTM(64), sum) -> "
                             "RepeatVector(50) -> Bidirectional(LSTM(50, return_sequences), sum); mse, SGD"),
    "memory_network": Spec("memory_network", "categorical_crossentropy", "rmsprop", ("accuracy",), (32,), 1024,
                           1.2, "seed 004 bAbI memory network: story (14) and question (4) ids, Embeddings, dot, add, "
                                "Permute, concatenate, LSTM(32), 4 x Dropout(0.3), Dense(22) softmax; categorical "
                                "cross-entropy, RMSprop, accuracy"),
}
RECURRENT = predict.RECURRENT
STOCHASTIC = ("memory_network",)  # dropout in training: the first-step check compares evaluation losses


# ----------------------------------------------------------------------------- models and weights
def build_regression(lib):
    """Seed 004's benzene regression (12 readings -> dense 8 relu -> dense 1), with layer names."""
    L = lib.layers
    readings = L.Input(shape=(12,), name="readings")
    x = L.Dense(8, activation="relu", name="dense_1")(readings)
    benzene = L.Dense(1, name="benzene")(x)
    return lib.Model(readings, benzene, name="regression")


def build(lib, kind: str):
    """The model ``kind`` in ``lib`` (irgraph or keras), with the layer names the weights use."""
    return build_regression(lib) if kind == "regression" else predict.build(lib, kind)


# Keras layouts: Dense kernel (in, out), Conv2D kernel (kh, kw, in, out)
WEIGHT_SHAPES = {
    "mlp": {"dense_1": (784, 64), "dense_2": (64, 64), "probs": (64, 10)},
    "vision": {"conv_1": (3, 3, 1, 64), "conv_2": (3, 3, 64, 64), "same_digit": (2 * 11 * 11 * 64, 1)},
    "regression": {"dense_1": (12, 8), "benzene": (8, 1)},
}


recurrent_weights = predict.recurrent_weights  # numpy only: the worker processes import nothing else


def initial_weights(kind: str, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Glorot-uniform kernels and small random biases in Keras layout, by layer name; every contender
    starts from these (made with numpy, so that a worker process needs no other library)."""
    if kind in RECURRENT:
        return recurrent_weights(kind, seed)
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in WEIGHT_SHAPES[kind].items():
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        kernel = rng.uniform(-limit, limit, shape).astype(np.float32)
        bias = rng.uniform(-0.05, 0.05, shape[-1]).astype(np.float32)
        out[name] = [kernel, bias]
    return out


def find_layer(model, name: str):
    """A layer by name, looking inside nested models (the shared vision model)."""
    for layer in model.layers:
        if layer.name == name:
            return layer
        if hasattr(layer, "layers") and hasattr(layer, "get_layer") and layer is not model:
            try:
                return find_layer(layer, name)
            except KeyError:
                pass
    raise KeyError(f"no layer named {name!r} in model {model.name!r}")


def set_weights(model, weights: dict) -> None:
    for name, arrays in weights.items():
        find_layer(model, name).set_weights(arrays)


def make_data(kind: str, n: int, seed: int = 1) -> tuple[list[np.ndarray], np.ndarray]:
    """Synthetic inputs (list, one array per model input) and targets for ``n`` samples."""
    rng = np.random.default_rng(seed)
    if kind == "mlp":
        return [rng.random((n, 784), dtype=np.float32)], np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
    if kind == "vision":
        return ([rng.random((n, 27, 27, 1), dtype=np.float32) for _ in range(2)],
                rng.integers(0, 2, (n, 1)).astype(np.float32))
    if kind == "tweet_lstm":
        return predict.make_inputs(kind, n, seed), rng.integers(0, 2, (n, 1)).astype(np.float32)
    if kind == "lstm_autoencoder":
        xs = predict.make_inputs(kind, n, seed)
        return xs, xs[0].copy()
    if kind == "memory_network":
        return (predict.make_inputs(kind, n, seed),
                np.eye(predict.MEMNET_VOCAB, dtype=np.float32)[rng.integers(1, predict.MEMNET_VOCAB, n)])
    return [rng.standard_normal((n, 12), dtype=np.float32)], rng.standard_normal((n, 1), dtype=np.float32)


def fit_size(kind: str, batch: int, quick: bool) -> int:
    """Samples of the array one fit call goes through: a whole number of batches, at least 4."""
    n_batches = 3 if quick else max(4, SPECS[kind].fit_samples // batch)
    return n_batches * batch


def split_batches(xs: list, y: np.ndarray, batch: int, count: int = 16) -> list[tuple[list, np.ndarray]]:
    """Up to ``count`` pre-made, contiguous batches (what the per-step contenders cycle through)."""
    n = min(count, len(y) // batch)
    return [([np.ascontiguousarray(x[i * batch:(i + 1) * batch]) for x in xs],
             np.ascontiguousarray(y[i * batch:(i + 1) * batch])) for i in range(n)]


def keras_arg(xs: list):
    """What Keras APIs take for the inputs: the array for a one-input model, else the list."""
    return xs[0] if len(xs) == 1 else xs


def first_value(result) -> float:
    """The loss out of a ``train_on_batch`` result (a scalar, or [loss, metrics...])."""
    if isinstance(result, dict):
        return float(result["loss"])
    if isinstance(result, (list, tuple)):
        return float(np.asarray(result[0]))
    return float(np.asarray(result))


# ----------------------------------------------------------------------------- irgraph
def irgraph_model(kind: str, weights: dict, threads: int):
    """A fresh irgraph model with ``weights``, compiled as its Spec says, on ``threads`` intra-op threads."""
    import irgraph
    import irgraph.runtime
    irgraph.runtime.configure(intra_op_num_threads=threads, inter_op_num_threads=1)
    irgraph.clear_session()
    irgraph.set_seed(0)
    spec = SPECS[kind]
    model = build(irgraph, kind)
    set_weights(model, weights)
    model.compile(optimizer=spec.optimizer, loss=spec.loss, metrics=list(spec.metrics) or None)
    return model


def check_irgraph_threads(model, threads: int) -> None:
    sess = model._trainer.session.train
    got = sess.get_session_options().intra_op_num_threads
    if got != threads:
        raise RuntimeError(f"irgraph's training session has {got} intra-op threads, the benchmark asked "
                           f"for {threads} (irgraph.runtime.configure did not reach it)")


# ----------------------------------------------------------------------------- PyTorch
def torch_net(kind: str, weights: dict):
    """The equivalent nn.Module with ``weights`` (Keras layouts converted; NCHW for the conv net)."""
    import torch
    from torch import nn

    def linear(kernel, bias) -> nn.Linear:
        lin = nn.Linear(*kernel.shape)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.T)))   # torch: (out, in)
            lin.bias.copy_(torch.from_numpy(bias))
        return lin

    def conv2d(kernel, bias) -> nn.Conv2d:
        c = nn.Conv2d(kernel.shape[2], kernel.shape[3], kernel.shape[:2])
        with torch.no_grad():
            c.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))))
            c.bias.copy_(torch.from_numpy(bias))
        return c

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.fc3 = (linear(*weights[n]) for n in ("dense_1", "dense_2", "probs"))

        def forward(self, x):
            return torch.softmax(self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x))))), dim=-1)

    class Vision(nn.Module):
        """Keras flattens (h, w, c), torch (c, h, w): the classifier's rows are permuted to match."""

        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = conv2d(*weights["conv_1"]), conv2d(*weights["conv_2"])
            self.pool = nn.MaxPool2d(2)
            kernel, bias = weights["same_digit"]
            with torch.no_grad():
                c, h, w = self.features(torch.zeros(1, 1, 27, 27), flat=False).shape[1:]
            halves = np.split(kernel, 2, axis=0)      # digit_a's features, then digit_b's
            rows = [k.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(c * h * w, -1) for k in halves]
            self.fc = linear(np.concatenate(rows), bias)

        def features(self, x, flat=True):
            y = self.pool(self.conv2(self.conv1(x)))
            return y.flatten(1) if flat else y

        def forward(self, a, b):
            return torch.sigmoid(self.fc(torch.cat([self.features(a), self.features(b)], dim=1)))

    class Regression(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = linear(*weights["dense_1"]), linear(*weights["benzene"])

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    return {"mlp": MLP, "vision": Vision, "regression": Regression}[kind]()


def torch_recurrent_trainer(kind: str, weights: dict):
    """The recurrent seed models' PyTorch training step as a PyTorch user writes it: ``nn.LSTM``, logits
    and ``BCEWithLogitsLoss`` / ``CrossEntropyLoss`` (class indices) / ``MSELoss``, ``optimizer.step()``.
    ``step.eval_loss(txs, ty)`` is the loss in eval mode (no dropout), for the first-step check."""
    import torch
    from torch import nn

    spec = SPECS[kind]
    net = predict.torch_recurrent_net(kind, weights).train()
    if spec.optimizer == "rmsprop":   # Keras defaults: lr 1e-3, rho 0.9, eps 1e-7
        opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    else:                             # Keras's "sgd": lr 0.01, no momentum
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
    loss_fn = {"binary_crossentropy": nn.BCEWithLogitsLoss(), "categorical_crossentropy": nn.CrossEntropyLoss(),
               "mse": nn.MSELoss()}[spec.loss]

    def accuracy(out, ty):
        if kind == "tweet_lstm":
            return ((out > 0).float() == ty).float().mean()
        return (out.argmax(-1) == ty).float().mean()

    def step(txs, ty):
        out = net(*txs)
        loss = loss_fn(out, ty)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if spec.metrics:  # what irgraph's compiled metric computes in its step too
            with torch.no_grad():
                return [loss.item(), accuracy(out, ty).item()]
        return loss.item()

    def eval_loss(txs, ty):
        net.eval()
        try:
            with torch.no_grad():
                return loss_fn(net(*txs), ty).item()
        finally:
            net.train()

    step.eval_loss = eval_loss
    return step


def torch_trainer(kind: str, weights: dict):
    """``step(txs, ty) -> loss`` doing forward, Keras's loss, backward, optimizer step, zero_grad."""
    import torch
    import torch.nn.functional as F

    if kind in RECURRENT:
        return torch_recurrent_trainer(kind, weights)
    spec = SPECS[kind]
    net = torch_net(kind, weights).train()
    eps = 1e-7  # Keras's backend epsilon, as irgraph's losses and optimizers use it
    if spec.optimizer == "rmsprop":   # Keras defaults: lr 1e-3, rho 0.9, eps 1e-7
        opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=eps)
    else:                             # Adam, Keras defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-7
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=eps)

    if spec.loss == "categorical_crossentropy":     # Keras: normalize, clip, -sum(y log p), batch mean
        def loss_fn(p, y):
            p = (p / p.sum(-1, keepdim=True)).clamp(eps, 1 - eps)
            return -(y * torch.log(p)).sum(-1).mean()
    elif spec.loss == "binary_crossentropy":        # Keras: clip, elementwise BCE, mean
        def loss_fn(p, y):
            return F.binary_cross_entropy(p.clamp(eps, 1 - eps), y)
    else:
        loss_fn = F.mse_loss
    with_accuracy = "accuracy" in spec.metrics

    def step(txs, ty):
        out = net(*txs)
        loss = loss_fn(out, ty)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if with_accuracy:  # what irgraph's compiled metric computes in its step too
            with torch.no_grad():
                acc = (out.argmax(-1) == ty.argmax(-1)).float().mean()
            return [loss.item(), acc.item()]
        return loss.item()

    return step


def torch_batch(kind: str, xs: list, y: np.ndarray):
    """torch tensors made once, outside the timed calls (NHWC -> NCHW for the conv net)."""
    import torch
    if kind in RECURRENT:  # word ids int64; CrossEntropyLoss takes class indices
        ty = torch.from_numpy(y.argmax(-1)) if kind == "memory_network" else torch.from_numpy(y)
        return predict.torch_inputs(kind, xs), ty
    if kind == "vision":
        xs = [np.ascontiguousarray(x.transpose(0, 3, 1, 2)) for x in xs]
    return [torch.from_numpy(x) for x in xs], torch.from_numpy(y)


# ----------------------------------------------------------------------------- Keras 3
def keras3():
    """(keras, None) when Keras 3 runs here, else (None, why not). With no KERAS_BACKEND set, the torch
    backend is asked for (the one installed beside this benchmark)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return predict.keras3()


def keras_model(keras, kind: str, weights: dict):
    spec = SPECS[kind]
    model = build(keras, kind)
    set_weights(model, weights)
    model.compile(optimizer=spec.optimizer, loss=spec.loss, metrics=list(spec.metrics) or None)
    return model


# ----------------------------------------------------------------------------- contenders
def make_contender(name: str, kind: str, batch: int, weights: dict, xs: list, y: np.ndarray, threads: int,
                   keras=None):
    """(call, samples per call, first-step function or None) for one contender. The first-step function
    runs one step on the first pre-made batch and returns the loss (the correctness check)."""
    batches = split_batches(xs, y, batch)
    cycle = itertools.cycle(range(len(batches)))
    if name in ("tob", "fit"):
        model = irgraph_model(kind, weights, threads)
        if name == "fit":
            x_all = keras_arg(xs)

            def call():
                return model.fit(x_all, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
            return call, len(y), None, model
        data = [(keras_arg(bx), by) for bx, by in batches]

        def call():
            bx, by = data[next(cycle)]
            return model.train_on_batch(bx, by)
        if kind in STOCHASTIC:
            return call, batch, lambda: first_value(model.test_on_batch(*data[0])), model
        return call, batch, lambda: first_value(model.train_on_batch(*data[0])), model
    if name == "torch":
        step = torch_trainer(kind, weights)
        data = [torch_batch(kind, bx, by) for bx, by in batches]

        def call():
            return step(*data[next(cycle)])
        if kind in STOCHASTIC:
            return call, batch, lambda: step.eval_loss(*data[0]), None
        return call, batch, lambda: first_value(step(*data[0])), None
    if name == "keras3":
        model = keras_model(keras, kind, weights)
        data = [(keras_arg(bx), by) for bx, by in batches]

        def call():
            bx, by = data[next(cycle)]
            return model.train_on_batch(bx, by)
        if kind in STOCHASTIC:
            return call, batch, lambda: first_value(model.test_on_batch(*data[0])), model
        return call, batch, lambda: first_value(model.train_on_batch(*data[0])), model
    raise ValueError(f"unknown contender {name!r}; choose from {CONTENDERS}")


def loss_close(a: float, b: float, rtol: float) -> bool:
    return abs(a - b) <= rtol * max(1.0, abs(b))


def check_losses(case: str, steps: dict, console) -> dict:
    """Two steps of every contender on the first batch, from the same weights: the first losses must
    agree to LOSS_RTOL (same forward and loss); the second (after one update) is reported."""
    first = {name: fn() for name, fn in steps.items()}
    second = {name: fn() for name, fn in steps.items()}
    ref1, ref2 = first["irgraph"], second["irgraph"]
    result = {"first_loss": first, "second_loss": second, "ok": True, "first_max_rel_diff": 0.0,
              "second_max_rel_diff": 0.0}
    for name in steps:
        if name == "irgraph":
            continue
        d1 = abs(first[name] - ref1) / max(1.0, abs(first[name]))
        d2 = abs(second[name] - ref2) / max(1.0, abs(second[name]))
        result["first_max_rel_diff"] = max(result["first_max_rel_diff"], d1)
        result["second_max_rel_diff"] = max(result["second_max_rel_diff"], d2)
        if not loss_close(ref1, first[name], LOSS_RTOL):
            result["ok"] = False
            console.print(f"[bold red]WARNING: {case}: the first-step loss of {name} ({first[name]:.7g}) differs "
                          f"from irgraph's ({ref1:.7g}) by {d1:.3g} relative (> {LOSS_RTOL:g}): the models, "
                          f"weights or losses are not equivalent and the timings below compare different "
                          f"work[/]")
        elif not loss_close(ref2, second[name], SECOND_STEP_RTOL):
            why = ("expected: torch.optim puts eps elsewhere than Keras (RMSprop: sqrt(v) + eps against "
                   "sqrt(v + eps))" if name == "torch" else "the optimizer updates differ")
            console.print(f"[yellow]note:[/] {case}: after one update {name}'s loss ({second[name]:.7g}) "
                          f"differs from irgraph's ({ref2:.7g}) by {d2:.3g} relative; {why}")
    return result


def bench_case(kind: str, batch: int, threads: int, rounds: int, min_block_s: float, quick: bool,
               keras, console) -> dict:
    """Build every contender from the same weights, check the losses, time them in interleaved rounds."""
    weights = initial_weights(kind)
    xs, y = make_data(kind, fit_size(kind, batch, quick))
    names = ["tob", "fit", "torch"] + (["keras3"] if keras is not None else [])
    calls, samples, first_steps = {}, {}, {}
    irgraph_models = []
    for name in names:
        call, n, first, model = make_contender(name, kind, batch, weights, xs, y, threads, keras)
        calls[name], samples[name] = call, n
        if first is not None:
            first_steps["irgraph" if name == "tob" else name] = first
        if name in ("tob", "fit"):
            irgraph_models.append(model)
    case = f"{kind} batch {batch}"
    check = check_losses(case, first_steps, console)
    calls["fit"]()  # builds its step graphs and session before the threads check
    for model in irgraph_models:
        check_irgraph_threads(model, threads)

    timings = common.interleaved(calls, rounds=rounds, min_block_s=min_block_s)
    med = {name: t.median for name, t in timings.items()}
    rate = {name: samples[name] / med[name] for name in med}
    target = SPECS[kind].target
    ratios = {"tob/torch": rate["tob"] / rate["torch"], "fit/torch": rate["fit"] / rate["torch"]}
    if "keras3" in rate:
        ratios["tob/keras3"] = rate["tob"] / rate["keras3"]
    return {"model": kind, "batch": batch, "samples_per_call": samples, "median_s": med,
            "samples_per_s": rate, "ratios": ratios, "target": target, "loss_check": check,
            "timings": {name: t.to_dict() for name, t in timings.items()}}


# ----------------------------------------------------------------------------- memory (worker processes)
def _proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mib() -> float | None:
    kib = _proc_status_kib("VmRSS")
    return None if kib is None else kib / 1024


def peak_rss_mib() -> float:
    """The process's peak resident set (VmHWM; ru_maxrss where there is no /proc)."""
    kib = _proc_status_kib("VmHWM")
    if kib is not None:
        return kib / 1024
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2 ** 20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def worker(contender: str, kind: str, batch: int, threads: int, quick: bool) -> dict:
    """One contender alone: import only its libraries, build, warm up, run a timed loop, report memory."""
    keras = None
    if contender in ("torch", "keras3"):
        common.set_torch_threads(threads)
    if contender == "keras3":
        keras, why_not = keras3()
        if keras is None:
            raise RuntimeError(why_not)
    if contender in ("tob", "fit"):
        import irgraph  # noqa: F401
        import irgraph.runtime  # noqa: F401
    base = rss_mib()
    weights = initial_weights(kind)
    xs, y = make_data(kind, fit_size(kind, batch, quick))
    call, samples, _, _ = make_contender(contender, kind, batch, weights, xs, y, threads, keras)
    call()
    calls, elapsed = common.repeat_for(call, QUICK_WORKER_SECONDS if quick else WORKER_SECONDS)
    return {"contender": contender, "model": kind, "batch": batch, "threads": threads, "calls": calls,
            "samples_per_s": calls * samples / elapsed, "base_rss_mib": base,
            # Linux folds per-thread RSS counters into VmHWM lazily: it can read a little below a VmRSS
            # taken earlier, and the peak is at least what was seen
            "peak_rss_mib": max(peak_rss_mib(), base or 0.0, rss_mib() or 0.0)}


def measure_memory(contender: str, kind: str, batch: int, threads: int, quick: bool) -> dict:
    """Run ``contender`` in a fresh process (``--worker``) and return its JSON report (or the error)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", contender, kind, str(batch),
           "--threads", str(threads)] + (["--quick"] if quick else [])
    return common.run_worker(cmd)


# ----------------------------------------------------------------------------- profile
def profile_tob(kind: str, batch: int, threads: int, console, steps: int = 300) -> dict:
    """Where a train_on_batch step goes: cProfile's top entries, and (without the profiler) the step time
    against a bare ``run_with_iobinding`` loop on irgraph's own training session and bindings."""
    import cProfile
    import io
    import pstats

    weights = initial_weights(kind)
    xs, y = make_data(kind, fit_size(kind, batch, False))
    call, _, first, model = make_contender("tob", kind, batch, weights, xs, y, threads)
    first()
    for _ in range(20):
        call()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        call()
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(18)
    console.print(f"[bold]cProfile of {steps} train_on_batch calls, {kind} batch {batch}[/] (sorted by own time)")
    console.print(buf.getvalue().split("\n\n", 1)[-1].strip(), markup=False, highlight=False)

    # bare steps: the same session and ping-pong bindings, batch bound once, nothing else per step
    ts = model._trainer.session
    feeds = model._trainer.dataset(keras_arg(split_batches(xs, y, batch, 1)[0][0]),
                                   split_batches(xs, y, batch, 1)[0][1]).arrays
    bindings = ts._bindings
    for b in bindings:
        for name in ts.data_inputs:
            b.bind_cpu_input(name, feeds[name])
        b.bind_cpu_input("lr", np.asarray(1e-3, np.float32))
        b.bind_cpu_input("step", np.asarray(1.0, np.float32))
    k = [ts.current]
    import onnxruntime as ort
    plain = ort.RunOptions()
    # onnxruntime >= 1.2x's Python run_with_iobinding asks the RunOptions for "gpu_graph_id"; when the key
    # is absent that lookup raises (and catches) an exception across pybind11: tens of microseconds
    plain.add_run_config_entry("gpu_graph_id", "-1")

    def bare(options):
        def run():
            ts.train.run_with_iobinding(bindings[k[0]], options)
            k[0] = 1 - k[0]
        return run
    timings = common.interleaved({"train_on_batch": call, "bare run, irgraph's RunOptions": bare(ts.run_options),
                                  "bare run, gpu_graph_id set": bare(plain)},
                                 rounds=common.ROUNDS, min_block_s=common.MIN_BLOCK_S)
    if k[0] != ts.current:  # leave the session's state where its bookkeeping says it is
        bare(plain)()
    med = {name: t.median for name, t in timings.items()}
    tob, raw, fast = med["train_on_batch"], med["bare run, irgraph's RunOptions"], med["bare run, gpu_graph_id set"]
    console.print(f"per step: train_on_batch {common.fmt_time(tob)}; bare run_with_iobinding on its session and "
                  f"bindings {common.fmt_time(raw)} with irgraph's RunOptions, {common.fmt_time(fast)} with "
                  f"'gpu_graph_id' set in them. Python around the run: {common.fmt_time(tob - raw)} "
                  f"({(tob - raw) / tob:.0%} of the step); the RunOptions lookup: {common.fmt_time(raw - fast)}")
    return {"model": kind, "batch": batch, "tob_s": tob, "bare_run_s": raw, "bare_run_graph_id_set_s": fast}


# ----------------------------------------------------------------------------- the run
def run(models=("mlp", "vision", "regression"), quick: bool = False, threads: int | None = None,
        batches=None, memory: bool = True, profile: bool = False, console=None) -> dict:
    """Run the benchmark, print the table, return the figures (what --json writes)."""
    from rich.console import Console

    console = console or Console(width=None if sys.stdout.isatty() else 160)
    threads = threads or common.default_threads()
    rounds, min_block_s = ((common.QUICK_ROUNDS, common.QUICK_MIN_BLOCK_S) if quick
                           else (common.ROUNDS, common.MIN_BLOCK_S))
    common.set_torch_threads(threads)
    import irgraph.runtime
    saved = dict(irgraph.runtime._session_config)  # put back afterwards: run() may be called in-process
    irgraph.runtime.configure(intra_op_num_threads=threads, inter_op_num_threads=1)
    try:
        return _run(models, quick, threads, batches, memory, profile, console, rounds, min_block_s)
    finally:
        irgraph.runtime.configure(**saved)


def _run(models, quick, threads, batches, memory, profile, console, rounds, min_block_s) -> dict:
    import irgraph
    info = common.machine_info(*PACKAGES)
    common.print_machine(console, info, threads, rounds, min_block_s)

    keras, why_not = keras3()
    notes = [] if keras else [f"Keras 3 column skipped: {why_not}"]
    if keras:
        console.print(f"Keras {keras.__version__}, backend '{keras.backend.backend()}'")
    if "vision" in models and not predict.has_conv(irgraph):
        models = [m for m in models if m != "vision"]
        notes.append("vision model skipped: irgraph.layers has no Conv2D/MaxPooling2D yet")
    for note in notes:
        console.print(f"[yellow]note:[/] {note}")

    results = []
    for kind in models:
        for batch in (batches or SPECS[kind].batches):
            try:
                r = bench_case(kind, batch, threads, rounds, min_block_s, quick, keras, console)
            except Exception as err:  # one model failing (a missing gradient rule) does not stop the rest
                msg = f"{kind} batch {batch} failed: {type(err).__name__}: {str(err).splitlines()[0][:300]}"
                console.print(f"[bold red]{msg}[/]")
                notes.append(msg)
                continue
            if memory:
                r["memory"] = {name: measure_memory(name, kind, batch, threads, quick) for name in r["median_s"]}
            results.append(r)
            console.print(f"  {kind} batch {batch}: " + ", ".join(
                f"{LABELS[k]} {fmt_rate(v)}" for k, v in r["samples_per_s"].items()) +
                f"; first-step loss diff {r['loss_check']['first_max_rel_diff']:.2g}")

    print_results(console, results, keras is not None, memory)
    profiles = []
    if profile and results:
        profiles.append(profile_tob(results[0]["model"], results[0]["batch"], threads, console))
    for note in notes:
        console.print(f"[yellow]note:[/] {note}")
    return {"machine": info, "threads": threads, "rounds": rounds, "min_block_s": min_block_s,
            "quick": quick, "notes": notes, "results": results, "profiles": profiles}


def fmt_rate(v: float | None) -> str:
    if v is None:
        return "-"
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if v >= scale:
            return f"{v / scale:.3g}{unit}/s"
    return f"{v:.3g}/s"


def fmt_mem(m: dict | None) -> str:
    if not m:
        return "-"
    if "error" in m:
        return "[red]error[/]"
    base = m.get("base_rss_mib")
    extra = f" (+{m['peak_rss_mib'] - base:.0f})" if base is not None else ""
    return f"{m['peak_rss_mib']:.0f} MiB{extra}"


def print_results(console, results: list[dict], with_keras: bool, memory: bool) -> None:
    names = ["tob", "fit", "torch"] + (["keras3"] if with_keras else [])
    columns = ["model", "batch"] + [LABELS[n] for n in names] + ["tob/torch", "fit/torch"]
    columns += ["tob/keras3"] if with_keras else []
    columns += ["loss diff", "noise"]
    rows = []
    for r in results:
        rate, ratio, target = r["samples_per_s"], r["ratios"], r["target"]
        mem = r.get("memory", {})
        row = [r["model"], str(r["batch"])]
        row += [fmt_rate(rate.get(n)) + (f"\n{fmt_mem(mem.get(n))}" if memory else "") for n in names]
        row += [common.fmt_ratio(ratio["tob/torch"], ratio["tob/torch"] >= target),
                common.fmt_ratio(ratio["fit/torch"], ratio["fit/torch"] >= target)]
        row += [common.fmt_ratio(ratio.get("tob/keras3"))] if with_keras else []
        check = r["loss_check"]
        diff = f"{check['first_max_rel_diff']:.1g}"
        row += [diff if check["ok"] else f"[bold red]{diff}![/]",
                f"{max(t['spread'] for t in r['timings'].values()):.0%}"]
        rows.append(row)
    targets = ", ".join(f"{k} >= {s.target:g}" for k, s in SPECS.items())
    mem_note = ("Under each rate: the peak resident memory (MiB) of that contender run alone in a fresh process "
                "(+ its growth after the imports; every worker holds the same synthetic data). " if memory else "")
    common.print_table(
        console, "training throughput: median samples/s over interleaved rounds", columns, rows,
        caption="irgraph tob = model.train_on_batch over pre-made batches; irgraph fit = one model.fit(epochs=1, "
                "verbose=0, shuffle=False) over an array per call, its data pipeline included; torch = eager "
                "nn.Module, forward + loss + backward + torch.optim step + zero_grad on pre-made tensors; "
                "keras3 = its train_on_batch. " + mem_note + "Targets irgraph/torch: " + targets + ". loss diff = "
                f"largest relative first-step loss difference against irgraph (must be <= {LOSS_RTOL:g}). "
                "noise = the largest (max - min) / median over rounds among the contenders.")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few short rounds, small fit arrays: checks that it runs")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch and onnxruntime intra-op threads (default: all usable cores)")
    ap.add_argument("--models", default="mlp,vision,regression", help="comma-separated: " + ", ".join(SPECS))
    ap.add_argument("--batches", default=None,
                    help="comma-separated batch sizes for every model (default: mlp 32,256; vision 32,128; "
                         "regression 10; tweet_lstm 32; lstm_autoencoder 64; memory_network 32)")
    ap.add_argument("--json", metavar="PATH", help="write the figures to PATH")
    ap.add_argument("--no-memory", action="store_true", help="skip the per-contender peak-memory processes")
    ap.add_argument("--profile", action="store_true",
                    help="afterwards, profile irgraph's train_on_batch loop on the first case")
    ap.add_argument("--worker", nargs=3, metavar=("CONTENDER", "MODEL", "BATCH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        contender, kind, batch = args.worker
        report = worker(contender, kind, int(batch), args.threads or common.default_threads(), args.quick)
        print(json.dumps(report))
        return 0
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = set(models) - set(SPECS)
    if unknown:
        ap.error(f"unknown model(s) {sorted(unknown)}; choose from {sorted(SPECS)}")
    batches = [int(b) for b in args.batches.split(",")] if args.batches else None
    payload = run(models, quick=args.quick, threads=args.threads, batches=batches, memory=not args.no_memory,
                  profile=args.profile)
    if args.json:
        common.write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
