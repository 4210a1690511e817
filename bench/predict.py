"""Inference latency, side by side: irgraph ``predict_on_batch`` vs a bare onnxruntime session on the
exported file vs PyTorch eager (same weights) vs Keras 3 (when installed with a usable backend).

    python bench/predict.py [--quick] [--threads N] [--models mlp,vision] [--json PATH] [--no-memory]
    python bench/predict.py --models tweet_lstm,lstm_autoencoder,memory_network   # the recurrent seeds

Targets: predict_on_batch / bare session <= 1.2 (the wrapper costs little); torch / predict_on_batch
> 1 at batch 1 and 32 (irgraph is faster than PyTorch eager); for the recurrent seed models of issue 8
(shared-LSTM tweet pairs, LSTM autoencoder, bAbI memory network, against ``nn.LSTM``) torch /
predict_on_batch >= 1.5 at every batch, with each contender's peak memory measured alone in a fresh
process. See bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

ATOL = 1e-4
BATCHES = {"mlp": (1, 32, 256), "vision": (1, 32, 256), "tweet_lstm": (1, 32, 256), "lstm_autoencoder": (1, 64),
           "memory_network": (1, 32, 256)}
POB_OVER_BARE_MAX = 1.2           # target: predict_on_batch / bare session
TORCH_OVER_POB_MIN = 1.0          # target: torch / predict_on_batch, at the batches below
TORCH_TARGET_BATCHES = (1, 32)
RECURRENT_TORCH_OVER_POB_MIN = 1.5  # the recurrent seed models (issue 8): torch / predict_on_batch, every batch
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


# The recurrent seed models (issue 8). Sizes: the tweet pairs as the issue sets them (40 steps of 64
# features, LSTM(64)); the autoencoder as examples/seed_training/lstm_autoencoder.py trains it (the
# seed's SEQUENCE_LEN 50 and EMBED_SIZE 50, LATENT_SIZE 64); the memory network at the sizes seed 004
# reports for bAbI task 1 (22 words with PAD, stories of 14 words, questions of 4).
TWEET_STEPS, TWEET_FEATURES, TWEET_UNITS = 40, 64, 64
AE_SEQUENCE_LEN, AE_EMBED_SIZE, AE_LATENT_SIZE = 50, 50, 64
MEMNET_VOCAB, MEMNET_STORY, MEMNET_QUESTION, MEMNET_EMBEDDING, MEMNET_LATENT = 22, 14, 4, 64, 32
RECURRENT = ("tweet_lstm", "lstm_autoencoder", "memory_network")


def build_tweet_lstm(lib):
    """Seed 000/001/003's shared-LSTM tweet-pair classifier: one LSTM over both tweets, concatenate,
    Dense(1, sigmoid)."""
    L = lib.layers
    tweet_a = L.Input(shape=(TWEET_STEPS, TWEET_FEATURES), name="tweet_a")
    tweet_b = L.Input(shape=(TWEET_STEPS, TWEET_FEATURES), name="tweet_b")
    shared_lstm = L.LSTM(TWEET_UNITS, name="shared_lstm")
    merged = L.concatenate([shared_lstm(tweet_a), shared_lstm(tweet_b)], axis=-1, name="merged")
    predictions = L.Dense(1, activation="sigmoid", name="predictions")(merged)
    return lib.Model([tweet_a, tweet_b], predictions, name="tweet_pairs")


def build_lstm_autoencoder(lib):
    """Seed 004's sentence autoencoder: Bidirectional(LSTM) encoder (sum), RepeatVector,
    Bidirectional(LSTM, return_sequences) decoder (sum)."""
    L = lib.layers
    inputs = L.Input(shape=(AE_SEQUENCE_LEN, AE_EMBED_SIZE), name="input")
    encoded = L.Bidirectional(L.LSTM(AE_LATENT_SIZE), merge_mode="sum", name="encoder_lstm")(inputs)
    decoded = L.RepeatVector(AE_SEQUENCE_LEN, name="repeater")(encoded)
    decoded = L.Bidirectional(L.LSTM(AE_EMBED_SIZE, return_sequences=True), merge_mode="sum",
                              name="decoder_lstm")(decoded)
    return lib.Model(inputs, decoded, name="autoencoder")


def build_memory_network(lib):
    """Seed 004's memory network for bAbI (Embedding, dot, add, Permute, concatenate, LSTM, Dense)."""
    L = lib.layers
    story_input = L.Input(shape=(MEMNET_STORY,), name="story")
    question_input = L.Input(shape=(MEMNET_QUESTION,), name="question")
    story_encoder = L.Embedding(MEMNET_VOCAB, MEMNET_EMBEDDING, name="story_embedding")(story_input)
    story_encoder = L.Dropout(0.3, name="story_dropout")(story_encoder)
    question_encoder = L.Embedding(MEMNET_VOCAB, MEMNET_EMBEDDING, name="question_embedding")(question_input)
    question_encoder = L.Dropout(0.3, name="question_dropout")(question_encoder)
    match = L.dot([story_encoder, question_encoder], axes=[2, 2], name="match")
    story_encoder_c = L.Embedding(MEMNET_VOCAB, MEMNET_QUESTION, name="story_embedding_c")(story_input)
    story_encoder_c = L.Dropout(0.3, name="story_c_dropout")(story_encoder_c)
    response = L.add([match, story_encoder_c], name="response")
    response = L.Permute((2, 1), name="permute")(response)
    answer = L.concatenate([response, question_encoder], axis=-1, name="answer_in")
    answer = L.LSTM(MEMNET_LATENT, name="answer_lstm")(answer)
    answer = L.Dropout(0.3, name="answer_dropout")(answer)
    answer = L.Dense(MEMNET_VOCAB, name="answer_dense")(answer)
    output = L.Activation("softmax", name="probs")(answer)
    return lib.Model([story_input, question_input], output, name="memory_network")


BUILDERS = {"mlp": build_mlp, "vision": build_vision, "tweet_lstm": build_tweet_lstm,
            "lstm_autoencoder": build_lstm_autoencoder, "memory_network": build_memory_network}


def build(lib, kind: str):
    return BUILDERS[kind](lib)


def _glorot(rng, shape) -> np.ndarray:
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, shape).astype(np.float32)


def _lstm_weights(rng, inputs: int, units: int) -> list[np.ndarray]:
    """Keras LSTM initial weights: glorot-uniform kernel (in, 4H), orthogonal recurrent kernel (H, 4H),
    bias zero but the forget gate's ones (unit_forget_bias)."""
    q, r = np.linalg.qr(rng.standard_normal((4 * units, units)))
    recurrent = (q * np.sign(np.diag(r))).T.astype(np.float32)
    bias = np.zeros(4 * units, np.float32)
    bias[units:2 * units] = 1.0
    return [_glorot(rng, (inputs, 4 * units)), np.ascontiguousarray(recurrent), bias]


def recurrent_weights(kind: str, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Initial weights of the recurrent seed models, by layer name, in Keras layouts (a Bidirectional
    layer: forward then backward LSTM)."""
    rng = np.random.default_rng(seed)
    dense = lambda i, o: [_glorot(rng, (i, o)), rng.uniform(-0.05, 0.05, o).astype(np.float32)]  # noqa: E731
    if kind == "tweet_lstm":
        return {"shared_lstm": _lstm_weights(rng, TWEET_FEATURES, TWEET_UNITS),
                "predictions": dense(2 * TWEET_UNITS, 1)}
    if kind == "lstm_autoencoder":
        return {"encoder_lstm": _lstm_weights(rng, AE_EMBED_SIZE, AE_LATENT_SIZE)
                + _lstm_weights(rng, AE_EMBED_SIZE, AE_LATENT_SIZE),
                "decoder_lstm": _lstm_weights(rng, AE_LATENT_SIZE, AE_EMBED_SIZE)
                + _lstm_weights(rng, AE_LATENT_SIZE, AE_EMBED_SIZE)}
    embedding = lambda width: [rng.uniform(-0.05, 0.05, (MEMNET_VOCAB, width)).astype(np.float32)]  # noqa: E731
    return {"story_embedding": embedding(MEMNET_EMBEDDING), "question_embedding": embedding(MEMNET_EMBEDDING),
            "story_embedding_c": embedding(MEMNET_QUESTION),
            "answer_lstm": _lstm_weights(rng, MEMNET_STORY + MEMNET_EMBEDDING, MEMNET_LATENT),
            "answer_dense": dense(MEMNET_LATENT, MEMNET_VOCAB)}


def make_inputs(kind: str, batch: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "mlp":
        return [rng.random((batch, 784), dtype=np.float32)]
    if kind == "tweet_lstm":
        return [rng.standard_normal((batch, TWEET_STEPS, TWEET_FEATURES), dtype=np.float32) for _ in range(2)]
    if kind == "lstm_autoencoder":
        return [rng.normal(0.0, 0.5, (batch, AE_SEQUENCE_LEN, AE_EMBED_SIZE)).astype(np.float32)]
    if kind == "memory_network":  # word ids; the seed's Inputs are float32, as Keras's default
        return [rng.integers(0, MEMNET_VOCAB, (batch, MEMNET_STORY)).astype(np.float32),
                rng.integers(0, MEMNET_VOCAB, (batch, MEMNET_QUESTION)).astype(np.float32)]
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

    def weights_of(model):
        return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}

    return {"mlp": TorchMLP, "vision": TorchVision,
            **{kind: (lambda model, kind=kind: torch_recurrent_net(kind, weights_of(model))) for kind in RECURRENT}}


def torch_lstm(layers, bidirectional=False):
    """An ``nn.LSTM(batch_first=True)`` holding Keras LSTM weights: ``layers`` is [kernel (in, 4H),
    recurrent (H, 4H), bias (4H)], twice for a Bidirectional (forward, backward). Keras's gate order
    (i, f, c, o) is torch's (i, f, g, o); torch's second bias is zero."""
    import torch
    from torch import nn
    kernel, recurrent, bias = layers[:3]
    lstm = nn.LSTM(kernel.shape[0], recurrent.shape[0], batch_first=True, bidirectional=bidirectional)
    with torch.no_grad():
        for suffix, (k, r, b) in zip(("", "_reverse"), (layers[:3], layers[3:6])):
            getattr(lstm, "weight_ih_l0" + suffix).copy_(torch.from_numpy(np.ascontiguousarray(k.T)))
            getattr(lstm, "weight_hh_l0" + suffix).copy_(torch.from_numpy(np.ascontiguousarray(r.T)))
            getattr(lstm, "bias_ih_l0" + suffix).copy_(torch.from_numpy(np.asarray(b)))
            getattr(lstm, "bias_hh_l0" + suffix).zero_()
            if not bidirectional:
                break
    return lstm


def torch_recurrent_net(kind: str, weights: dict):
    """The recurrent seed models as a PyTorch user writes them, with ``weights`` (Keras layouts, by
    layer name). They return logits where the Keras model ends in a sigmoid or softmax (the losses are
    ``BCEWithLogitsLoss`` / ``CrossEntropyLoss``); ``probabilities(out)`` gives the Keras output."""
    import torch
    from torch import nn

    def linear(kernel, bias):
        lin = nn.Linear(*kernel.shape)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.T)))
            lin.bias.copy_(torch.from_numpy(bias))
        return lin

    def embedding(matrix):
        emb = nn.Embedding(*matrix.shape)
        with torch.no_grad():
            emb.weight.copy_(torch.from_numpy(matrix))
        return emb

    class TweetPairs(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch_lstm(weights["shared_lstm"])
            self.fc = linear(*weights["predictions"])

        def forward(self, a, b):
            _, (ha, _) = self.lstm(a)
            _, (hb, _) = self.lstm(b)
            return self.fc(torch.cat([ha[-1], hb[-1]], dim=1))

        @staticmethod
        def probabilities(out):
            return torch.sigmoid(out)

    class Autoencoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = torch_lstm(weights["encoder_lstm"], bidirectional=True)
            self.decoder = torch_lstm(weights["decoder_lstm"], bidirectional=True)

        def forward(self, x):
            _, (h, _) = self.encoder(x)
            encoded = h[0] + h[1]                                    # merge_mode="sum"
            repeated = encoded.unsqueeze(1).expand(-1, x.shape[1], -1)
            out, _ = self.decoder(repeated)
            forward, backward = out.chunk(2, dim=-1)
            return forward + backward

        @staticmethod
        def probabilities(out):
            return out

    class MemoryNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.story_embedding = embedding(*weights["story_embedding"])
            self.question_embedding = embedding(*weights["question_embedding"])
            self.story_embedding_c = embedding(*weights["story_embedding_c"])
            self.dropout = nn.Dropout(0.3)
            self.lstm = torch_lstm(weights["answer_lstm"])
            self.fc = linear(*weights["answer_dense"])

        def forward(self, story, question):
            s = self.dropout(self.story_embedding(story))              # (B, S, E)
            q = self.dropout(self.question_embedding(question))        # (B, Q, E)
            match = torch.bmm(s, q.transpose(1, 2))                    # (B, S, Q)
            response = (match + self.dropout(self.story_embedding_c(story))).transpose(1, 2)  # (B, Q, S)
            _, (h, _) = self.lstm(torch.cat([response, q], dim=-1))
            return self.fc(self.dropout(h[-1]))

        @staticmethod
        def probabilities(out):
            return torch.softmax(out, dim=-1)

    return {"tweet_lstm": TweetPairs, "lstm_autoencoder": Autoencoder, "memory_network": MemoryNetwork}[kind]()


def torch_inputs(kind: str, xs: list[np.ndarray]):
    """torch tensors made once, outside the timed calls (NHWC -> NCHW for conv, int64 word ids)."""
    import torch
    if kind == "vision":
        return [torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))) for x in xs]
    if kind == "memory_network":
        return [torch.from_numpy(x.astype(np.int64)) for x in xs]
    return [torch.from_numpy(x) for x in xs]


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
    twin = build(keras, kind)
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

    probabilities = getattr(tnet, "probabilities", lambda out: out)

    def torch_call():
        with torch.inference_mode():
            return probabilities(tnet(*txs))
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


# ----------------------------------------------------------------------------- memory (worker processes)
MEMORY_CONTENDERS = {"irgraph": "irgraph", "bare ORT": "bare", "torch": "torch"}  # column -> worker name
WORKER_SECONDS, QUICK_WORKER_SECONDS = 1.0, 0.02


def _proc_status_mib(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mib() -> float:
    """The process's peak resident set (VmHWM; ru_maxrss where there is no /proc)."""
    peak = _proc_status_mib("VmHWM")
    if peak is not None:
        return peak
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2 ** 20 if sys.platform == "darwin" else peak / 1024


def worker(contender: str, kind: str, batch: int, threads: int, quick: bool, onnx_path: str | None) -> dict:
    """One contender alone in this process, importing only its own libraries: build it, predict in a
    loop, report the peak memory. ``bare`` runs the ONNX file the main process exported."""
    xs = make_inputs(kind, batch)
    if contender == "torch":
        import torch
        common.set_torch_threads(threads)
    if contender == "bare":
        import onnxruntime as ort
    if contender == "irgraph":
        import irgraph  # noqa: F401
    base = _proc_status_mib("VmRSS")
    if contender == "torch":
        net = torch_recurrent_net(kind, recurrent_weights(kind)).eval()
        txs = torch_inputs(kind, xs)

        def call():
            with torch.inference_mode():
                return net.probabilities(net(*txs))
    elif contender == "bare":
        import onnxruntime as ort
        sess = ort.InferenceSession(onnx_path, common.ort_session_options(threads),
                                    providers=["CPUExecutionProvider"])
        feeds = {i.name: x for i, x in zip(sess.get_inputs(), xs)}

        def call():
            return sess.run(None, feeds)
    elif contender == "irgraph":
        import irgraph
        with irgraph_threads(threads):
            model = build(irgraph, kind)
            for name, arrays in recurrent_weights(kind).items():
                model.get_layer(name).set_weights(arrays)
            x = xs[0] if len(xs) == 1 else xs
            model.predict_on_batch(x)

        def call():
            return model.predict_on_batch(x)
    else:
        raise ValueError(f"unknown worker contender {contender!r}")
    call()
    calls, elapsed = common.repeat_for(call, QUICK_WORKER_SECONDS if quick else WORKER_SECONDS)
    return {"contender": contender, "model": kind, "batch": batch, "threads": threads, "calls": calls,
            "samples_per_s": calls * batch / elapsed, "base_rss_mib": base,
            "peak_rss_mib": max(peak_rss_mib(), base or 0.0, _proc_status_mib("VmRSS") or 0.0)}


def measure_memory(contender: str, kind: str, batch: int, threads: int, quick: bool, onnx_path: str) -> dict:
    """Run ``contender`` in a fresh process (``--worker``) and return its JSON report (or the error)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", contender, kind, str(batch),
           "--threads", str(threads), "--onnx", onnx_path] + (["--quick"] if quick else [])
    return common.run_worker(cmd)


def fmt_mem(m: dict | None) -> str:
    if not m:
        return ""
    if "error" in m:
        return "\n[red]mem error[/]"
    base = m.get("base_rss_mib")
    extra = f" (+{m['peak_rss_mib'] - base:.0f})" if base is not None else ""
    return f"\n{m['peak_rss_mib']:.0f} MiB{extra}"


# ----------------------------------------------------------------------------- the run
def run(models=("mlp", "vision"), quick: bool = False, threads: int | None = None, batches=None,
        console=None, memory: bool = True) -> dict:
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
            model = build(irgraph, kind)
            path = os.path.join(tmp, f"{kind}.onnx")
            model.to_onnx(path)
            for batch in (batches or BATCHES[kind]):
                r = bench_case(kind, batch, model, path, threads, rounds, min_block_s,
                               torch_classes[kind], keras)
                if memory and kind in RECURRENT:  # peak memory of each contender alone in a fresh process
                    r["memory"] = {col: measure_memory(w, kind, batch, threads, quick, path)
                                   for col, w in MEMORY_CONTENDERS.items()}
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
        mem = r.get("memory", {})
        row = [r["model"], str(r["batch"])] + [common.fmt_time(med[k]) + fmt_mem(mem.get(k))
                                               for k in ("irgraph", "bare ORT", "torch")]
        row += [common.fmt_time(med["keras3"])] if with_keras else []
        if r["model"] in RECURRENT:  # issue 8: prediction at least 1.5x PyTorch's samples/s, every batch
            torch_ok = ratio["torch/pob"] >= RECURRENT_TORCH_OVER_POB_MIN
        else:
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
                               f"{' and '.join(map(str, TORCH_TARGET_BATCHES))} (mlp, vision), >= {RECURRENT_TORCH_OVER_POB_MIN} at every "
                               f"batch (tweet_lstm, lstm_autoencoder, memory_network). Outputs checked against "
                               f"irgraph to {ATOL} before timing. Under the recurrent models' times: the peak resident memory "
                               f"of that contender alone in a fresh process (+ its growth after its imports). noise = the largest (max - min) / median over "
                               f"rounds among the contenders.")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few short rounds: checks that it runs")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch and onnxruntime intra-op threads (default: all usable cores)")
    ap.add_argument("--models", default="mlp,vision", help="comma-separated: " + ", ".join(BATCHES))
    ap.add_argument("--batches", default=None, help="comma-separated batch sizes (default: 1,32,256)")
    ap.add_argument("--json", metavar="PATH", help="write the figures to PATH")
    ap.add_argument("--no-memory", action="store_true", help="skip the per-contender peak-memory processes")
    ap.add_argument("--worker", nargs=3, metavar=("CONTENDER", "MODEL", "BATCH"), help=argparse.SUPPRESS)
    ap.add_argument("--onnx", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        contender, kind, batch = args.worker
        print(json.dumps(worker(contender, kind, int(batch), args.threads or common.default_threads(), args.quick,
                                args.onnx)))
        return 0
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = set(models) - set(BATCHES)
    if unknown:
        ap.error(f"unknown model(s) {sorted(unknown)}; choose from {sorted(BATCHES)}")
    batches = [int(b) for b in args.batches.split(",")] if args.batches else None
    payload = run(models, quick=args.quick, threads=args.threads, batches=batches, memory=not args.no_memory)
    if args.json:
        common.write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
