"""Every model listing of seeds 000, 001, 003 and the non-training listings of seed 004, built from
examples/seed_models.py: output shapes and parameter counts as Keras gives them, an ONNX export
that passes the full checker, and the same predictions from a bare onnxruntime session as from
``model.predict`` (``export_and_run``); plus the node-accessor behaviour the seeds show.

Parameter counts are derived by hand in the comments:
  Dense(in -> u):             in*u + u
  Conv2D(k x k, c -> f):      k*k*c*f + f
  LSTM(H) on d-wide input:    4*(H*(d + H) + H)
  Embedding(V, E):            V*E
  shared layers and shared sub-models are counted once.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import irgraph
from irgraph import backend as K
from irgraph.models import Model
from helpers import assert_close, export_and_run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "examples"))
import seed_models as sm  # noqa: E402

K2_SEEDS = [("001", 280), ("003", 140)]  # seed 001's tweets are (280, 256), seed 003's (140, 256)


def _run(model, batch=2, seed=0, **kw):
    return export_and_run(model, sm.random_inputs(model, batch=batch, seed=seed), **kw)


def _shapes(outs):
    return [tuple(o.shape) for o in outs]


def _shared_vars(model):
    """Variables read by more than one node of the layer-level graph."""
    g = model.graph
    return {id(g.node(w)["var"]) for w in g.shared_weights()}


def _ids(variables):
    return {id(v) for v in variables}


def _np_lstm(x, kernel, recurrent_kernel, bias, return_sequences=False):
    """Keras LSTM (gates i, f, c, o; sigmoid and tanh) in numpy, float64."""
    h_dim = recurrent_kernel.shape[0]
    h = np.zeros((x.shape[0], h_dim))
    c = np.zeros((x.shape[0], h_dim))
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    seq = []
    for t in range(x.shape[1]):
        z = x[:, t].astype(np.float64) @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = np.split(z, 4, axis=1)
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        seq.append(h)
    return np.stack(seq, 1) if return_sequences else h


def _np_bidirectional_sum(x, fw_weights, bw_weights, return_sequences=False):
    """Bidirectional(LSTM, merge_mode='sum'): the backward pass reads the reversed sequence; its
    sequence output is re-aligned with the input time order."""
    fw = _np_lstm(x, *fw_weights, return_sequences=return_sequences)
    bw = _np_lstm(x[:, ::-1], *bw_weights, return_sequences=return_sequences)
    return fw + (bw[:, ::-1] if return_sequences else bw)


# ============================================================================ MLP and reuse
MLP_PARAMS = (784 * 64 + 64) + (64 * 64 + 64) + (64 * 10 + 10)  # 50,240 + 4,160 + 650
assert MLP_PARAMS == 55_050


@pytest.mark.parametrize("build", [sm.k1_mlp, sm.k2_mlp], ids=["000", "001/003"])
def test_mlp(build):
    ns = build()
    m = ns.model
    assert m.output_shape == (None, 10)
    assert m.count_params() == MLP_PARAMS
    x = sm.random_inputs(m, batch=3)
    (out,) = export_and_run(m, x)
    assert out.shape == (3, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)  # softmax
    # numpy reference from the weights: relu(relu(x W1 + b1) W2 + b2) W3 + b3 -> softmax
    w1, b1, w2, b2, w3, b3 = m.get_weights()
    h = np.maximum(x[0] @ w1 + b1, 0)
    h = np.maximum(h @ w2 + b2, 0)
    z = h @ w3 + b3
    ref = np.exp(z - z.max(1, keepdims=True))
    assert_close(out, ref / ref.sum(1, keepdims=True))


@pytest.mark.parametrize("build", [sm.k1_model_reuse, sm.k2_model_reuse], ids=["000", "001/003"])
def test_model_as_layer_and_time_distributed(build):
    ns = build()
    reuse, td = ns.models["model_as_layer"], ns.models["time_distributed_model"]
    assert ns.y.shape == (None, 10)
    assert ns.processed_sequences.shape == (None, 20, 10)
    # the weights are the MLP's, reused: counted once
    assert reuse.count_params() == td.count_params() == ns.model.count_params() == MLP_PARAMS
    assert _ids(reuse.weights) == _ids(ns.model.weights) == _ids(td.weights)
    x = sm.random_inputs(reuse, batch=3)
    (y,) = export_and_run(reuse, x)
    assert_close(y, ns.model.predict(x[0], verbose=0))
    seq = sm.random_inputs(td, batch=2, seed=1)
    (ys,) = export_and_run(td, seq)
    assert ys.shape == (2, 20, 10)
    per_step = ns.model.predict(seq[0].reshape(-1, 784), verbose=0).reshape(2, 20, 10)
    assert_close(ys, per_step)


# ============================================================================ multi-input multi-output
MULTI_IO_PARAMS = (10000 * 512            # Embedding: 5,120,000
                   + 4 * (32 * (512 + 32) + 32)  # LSTM(32) on 512: 69,760
                   + (32 + 1)             # aux_output Dense(1) on 32
                   + (37 * 64 + 64)       # Dense(64) on concat(32, 5) = 37: 2,432
                   + 2 * (64 * 64 + 64)   # two Dense(64) on 64: 8,320
                   + (64 + 1))            # main_output Dense(1) on 64
assert MULTI_IO_PARAMS == 5_200_610


@pytest.mark.parametrize("build", [sm.k1_multi_io, sm.k2_multi_io], ids=["000", "001/003"])
def test_multi_input_multi_output(build):
    ns = build()
    m = ns.model
    assert m.input_names == ["main_input", "aux_input"]
    assert m.output_names == ["main_output", "aux_output"]
    assert m.input_shape == [(None, 100), (None, 5)]
    assert m.output_shape == [(None, 1), (None, 1)]
    assert m.inputs[0].dtype == "int32"
    assert m.count_params() == MULTI_IO_PARAMS
    x = sm.random_inputs(m, batch=2)
    assert x[0].dtype == np.int32 and 100 < x[0].max() < 10000  # word ids over the whole vocabulary
    main, aux = export_and_run(m, x)
    assert main.shape == aux.shape == (2, 1)
    assert np.all((main > 0) & (main < 1)) and np.all((aux > 0) & (aux < 1))
    # inputs by name, as the seed's fit({'main_input': ..., 'aux_input': ...}) passes them
    by_name = m.predict({"main_input": x[0], "aux_input": x[1]}, verbose=0)
    assert_close(by_name[0], main)
    assert_close(by_name[1], aux)


# ============================================================================ shared LSTM
SHARED_LSTM_PARAMS = 4 * (64 * (256 + 64) + 64) + (128 + 1)  # LSTM(64) on 256 once: 82,176; Dense(1) on 128
assert SHARED_LSTM_PARAMS == 82_305


@pytest.mark.parametrize("build,tweet_len", [(sm.k1_shared_lstm, 140)] +
                         [(sm.k2_shared_lstm, n) for _, n in K2_SEEDS], ids=["000", "001", "003"])
def test_shared_lstm(build, tweet_len):
    ns = build(tweet_len)
    m = ns.model
    assert m.input_shape == [(None, tweet_len, 256), (None, tweet_len, 256)]
    assert m.output_shape == (None, 1)
    assert m.count_params() == SHARED_LSTM_PARAMS
    assert ns.shared_lstm.get_output_at(0) is ns.encoded_a
    assert ns.shared_lstm.get_output_at(1) is ns.encoded_b
    # the LSTM's weights are read by both calls: shared in the IR
    assert _shared_vars(m) == _ids(ns.shared_lstm.weights)
    assert len(ns.shared_lstm.weights) >= 1
    a, b = sm.random_inputs(m, batch=2)
    (p,) = export_and_run(m, [a, b])
    assert p.shape == (2, 1)
    # swapping the tweets swaps the halves of the concatenation: same LSTM on both
    enc = Model(m.inputs, [ns.encoded_a, ns.encoded_b])
    ea, eb = enc.predict([a, b], verbose=0)
    eb2, ea2 = enc.predict([b, a], verbose=0)
    assert_close(ea, ea2)
    assert_close(eb, eb2)
    # numpy reference for the shared LSTM and the logistic regression on top
    lw = ns.shared_lstm.get_weights()
    ra, rb = _np_lstm(a, *lw), _np_lstm(b, *lw)
    assert_close(ea, ra, rtol=1e-4, atol=1e-5)
    assert_close(eb, rb, rtol=1e-4, atol=1e-5)
    w, bias = m.layers[-1].get_weights()
    assert_close(p, 1 / (1 + np.exp(-(np.concatenate([ra, rb], 1) @ w + bias))), rtol=1e-4, atol=1e-5)


# ============================================================================ node accessors
@pytest.mark.parametrize("build,tweet_len,channels_first", [(sm.k1_node_accessors, 140, True)] +
                         [(sm.k2_node_accessors, n, False) for _, n in K2_SEEDS], ids=["000", "001", "003"])
def test_node_accessors(build, tweet_len, channels_first):
    ns = build(tweet_len)
    # one call: .output is that call's tensor
    assert ns.single.lstm.output is ns.single.encoded_a
    # two calls: .output is ambiguous; Keras 1 raised AssertionError, Keras 2 AttributeError
    lstm = ns.shared.lstm
    err = ns.shared.error
    assert err is not None
    assert isinstance(err, AttributeError) and isinstance(err, AssertionError)
    assert "multiple inbound nodes" in str(err) and "get_output_at" in str(err)
    with pytest.raises(AttributeError, match="multiple inbound nodes"):
        lstm.output
    with pytest.raises(AssertionError, match="get_output_at"):
        lstm.output
    assert lstm.get_output_at(0) is ns.shared.encoded_a
    assert lstm.get_output_at(1) is ns.shared.encoded_b
    # same input shapes on both nodes: input_shape is well defined
    assert lstm.input_shape == (None, tweet_len, 256)
    assert lstm.output_shape == (None, 32)

    conv = ns.conv
    small, large = ((None, 3, 32, 32), (None, 3, 64, 64)) if channels_first else \
        ((None, 32, 32, 3), (None, 64, 64, 3))
    assert ns.first_input_shape == small  # conv.input_shape after the first call only
    assert conv.get_input_shape_at(0) == small
    assert conv.get_input_shape_at(1) == large
    with pytest.raises(AttributeError, match="get_input_shape_at"):
        conv.input_shape
    out_small, out_large = ((None, 16, 32, 32), (None, 16, 64, 64)) if channels_first else \
        ((None, 32, 32, 16), (None, 64, 64, 16))
    assert conv.get_output_shape_at(0) == out_small
    assert conv.get_output_shape_at(1) == out_large
    assert conv.count_params() == 3 * 3 * 3 * 16 + 16  # 448

    lm = ns.models["lstm_nodes"]
    assert lm.count_params() == 4 * (32 * (256 + 32) + 32)  # 36,992, the LSTM once
    assert _shared_vars(lm) == _ids(lstm.weights)
    a, b = sm.random_inputs(lm)
    ea, eb = export_and_run(lm, [a, b])
    assert ea.shape == eb.shape == (2, 32)
    ea_only = Model(lm.inputs[0], ns.shared.encoded_a).predict(a, verbose=0)
    assert_close(ea, ea_only)

    cm = ns.models["conv_nodes"]
    assert cm.count_params() == 448
    assert _shared_vars(cm) == _ids(conv.weights)
    ca, cb = export_and_run(cm, sm.random_inputs(cm), rtol=1e-5, atol=1e-5)
    assert ca.shape == (2,) + out_small[1:] and cb.shape == (2,) + out_large[1:]


# ============================================================================ inception
INCEPTION_PARAMS = ((3 * 64 + 64) + (3 * 3 * 64 * 64 + 64)      # tower 1: 256 + 36,928
                    + (3 * 64 + 64) + (5 * 5 * 64 * 64 + 64)    # tower 2: 256 + 102,464
                    + (3 * 64 + 64))                            # tower 3: max-pool, then 256
assert INCEPTION_PARAMS == 140_160


def test_inception_keras1_channels_first():
    # full size: concat_axis=1 is the channel axis in 'th': 3 x 64 = 192 channels
    full = sm.k1_inception(256).model
    assert full.input_shape == (None, 3, 256, 256)
    assert full.output_shape == (None, 192, 256, 256)
    assert full.count_params() == INCEPTION_PARAMS
    irgraph.clear_session()
    m = sm.k1_inception(sm.SMALL["image_size"]).model
    s = sm.SMALL["image_size"]
    assert m.output_shape == (None, 192, s, s)
    assert m.count_params() == INCEPTION_PARAMS
    (out,) = _run(m, rtol=1e-5, atol=1e-5)
    assert out.shape == (2, 192, s, s)
    assert np.all(out >= 0)  # every tower ends in relu


def test_inception_keras2_axis1_is_height():  # seeds 001 and 003 (same listing)
    # axis=1 in channels_last concatenates along the height: Keras gives (None, 768, 256, 64)
    full = sm.k2_inception(256).model
    assert full.input_shape == (None, 256, 256, 3)
    assert full.output_shape == (None, 768, 256, 64)
    assert full.count_params() == INCEPTION_PARAMS
    irgraph.clear_session()
    s = sm.SMALL["image_size"]
    ns = sm.k2_inception(s)
    m = ns.model
    assert m.output_shape == (None, 3 * s, s, 64)
    (out,) = _run(m, rtol=1e-5, atol=1e-5)
    assert out.shape == (2, 3 * s, s, 64)
    # the three towers stacked along the height, in order
    concat = m.layers[-1]
    towers = Model(m.inputs, list(concat.get_input_at(0))).predict(sm.random_inputs(m), verbose=0)
    assert_close(out, np.concatenate(towers, axis=1), rtol=1e-5, atol=1e-5)


# ============================================================================ residual
RESIDUAL_PARAMS = 3 * 3 * 3 * 3 + 3  # Conv 3x3, 3 -> 3 channels: 84


@pytest.mark.parametrize("build,channels_first", [(sm.k1_residual, True), (sm.k2_residual, False)],
                         ids=["000", "001/003"])
def test_residual(build, channels_first):
    full = build(256).model
    shape = (None, 3, 256, 256) if channels_first else (None, 256, 256, 3)
    assert full.input_shape == full.output_shape == shape
    assert full.count_params() == RESIDUAL_PARAMS
    irgraph.clear_session()
    s = sm.SMALL["image_size"]
    ns = build(s)
    m = ns.model
    (z,) = _run(m, rtol=1e-5, atol=1e-5)
    assert z.shape == ((2, 3, s, s) if channels_first else (2, s, s, 3))
    # z - x is the conv's output
    x = sm.random_inputs(m)
    conv_out = Model(m.inputs, m.layers[-1].get_input_at(0)[1]).predict(x, verbose=0)
    assert_close(z - x[0], conv_out, rtol=1e-5, atol=1e-5)
    # reference: PyTorch's cross-correlation with the Keras (kh, kw, in, out) kernel, padding 1 = 'same'
    import torch
    import torch.nn.functional as F
    conv = m.layers[-1].get_input_at(0)[1]._keras_history[0]
    kernel, bias = conv.get_weights()
    assert kernel.shape == (3, 3, 3, 3)
    xt = torch.from_numpy(x[0] if channels_first else x[0].transpose(0, 3, 1, 2))
    ref = F.conv2d(xt, torch.from_numpy(kernel.transpose(3, 2, 0, 1)), torch.from_numpy(bias), padding=1).numpy()
    assert_close(conv_out, ref if channels_first else ref.transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-5)


# ============================================================================ shared vision model
# (27, 27) -> conv 3x3 valid -> 25 -> conv 3x3 valid -> 23 -> max-pool 2 -> 11: Flatten 11*11*64 = 7,744
VISION_PARAMS = (3 * 3 * 1 * 64 + 64) + (3 * 3 * 64 * 64 + 64)  # 640 + 36,928
SHARED_VISION_PARAMS = VISION_PARAMS + (2 * 7744 + 1)           # + Dense(1) on 15,488
assert SHARED_VISION_PARAMS == 53_057


@pytest.mark.parametrize("build,channels_first", [(sm.k1_shared_vision, True), (sm.k2_shared_vision, False)],
                         ids=["000", "001/003"])
def test_shared_vision_model(build, channels_first):
    ns = build()
    m, vision = ns.model, ns.vision_model
    shape = (None, 1, 27, 27) if channels_first else (None, 27, 27, 1)
    assert vision.input_shape == shape and vision.output_shape == (None, 7744)
    assert m.input_shape == [shape, shape]
    assert m.output_shape == (None, 1)
    assert vision.count_params() == VISION_PARAMS
    assert m.count_params() == SHARED_VISION_PARAMS  # the vision model counted once
    # the vision model is called twice: all its weights are shared in the IR
    assert _shared_vars(m) == _ids(vision.weights)
    lines = []
    m.summary(print_fn=lines.append)
    assert any("Total params: 53,057" in line for line in lines)
    a, b = sm.random_inputs(m)
    (p,) = export_and_run(m, [a, b], rtol=1e-5, atol=1e-5)
    assert p.shape == (2, 1)
    # reference: sigmoid(Dense(concat(vision(a), vision(b))))
    va, vb = vision.predict(a, verbose=0), vision.predict(b, verbose=0)
    w, bias = m.layers[-1].get_weights()
    ref = 1 / (1 + np.exp(-(np.concatenate([va, vb], 1) @ w + bias)))
    assert_close(p, ref, rtol=1e-4, atol=1e-5)


# ============================================================================ VQA and video QA
def _vqa_expected(s):
    """Shapes and params of the VGG-like vision model on s x s images (s = 32 here)."""
    d = s                   # conv same
    d = d - 2               # conv valid
    d = d // 2              # pool
    d = d - 2               # (conv same) conv valid
    d = d // 2
    d = d - 2 - 2           # (conv same) two conv valid
    d = d // 2
    flat = d * d * 256      # s=32: 32 -> 30 -> 15 -> 13 -> 6 -> 2 -> 1: 256
    vision = ((3 * 3 * 3 * 64 + 64) + (3 * 3 * 64 * 64 + 64)          # 1,792 + 36,928
              + (3 * 3 * 64 * 128 + 128) + (3 * 3 * 128 * 128 + 128)   # 73,856 + 147,584
              + (3 * 3 * 128 * 256 + 256) + 2 * (3 * 3 * 256 * 256 + 256))  # 295,168 + 2 * 590,080
    embedding = 10000 * 256                                   # 2,560,000
    lstm = 4 * (256 * (256 + 256) + 256)                      # LSTM(256) on 256: 525,312
    vqa = vision + embedding + lstm + ((256 + flat) * 1000 + 1000)
    # video: vision (shared, once) + video LSTM(256) on flat + question encoder (once) + Dense(1000) on 512
    video = vision + 4 * (256 * (flat + 256) + 256) + embedding + lstm + ((256 + 256) * 1000 + 1000)
    return flat, vision, vqa, video


def test_vqa_expected_sizes_at_32():
    flat, vision, vqa, video = _vqa_expected(32)
    assert (flat, vision, vqa, video) == (256, 1_735_488, 5_333_800, 5_859_112)


@pytest.mark.parametrize("build,channels_first", [(sm.k1_vqa_video, True), (sm.k2_vqa_video, False)],
                         ids=["000", "001/003"])
def test_vqa_and_video_qa(build, channels_first):
    s, frames = sm.SMALL["vqa_image_size"], sm.SMALL["video_frames"]
    ns = build(s, frames)
    flat, vision_params, vqa_params, video_params = _vqa_expected(s)
    img = (None, 3, s, s) if channels_first else (None, s, s, 3)
    assert ns.vision_model.output_shape == (None, flat)
    assert ns.vision_model.count_params() == vision_params
    vqa, video = ns.vqa_model, ns.video_qa_model
    assert vqa.input_shape == [img, (None, 100)]
    assert vqa.output_shape == (None, 1000)
    assert vqa.count_params() == vqa_params
    assert video.input_shape == [(None, frames) + img[1:], (None, 100)]
    assert video.output_shape == (None, 1000)
    assert video.count_params() == video_params
    # the question encoder is a sub-model of the VQA graph reused with its weights
    assert _ids(ns.question_encoder.weights) <= _ids(vqa.weights)
    assert _ids(ns.question_encoder.weights) <= _ids(video.weights)
    assert _ids(ns.vision_model.weights) <= _ids(video.weights)

    (p,) = _run(vqa, rtol=1e-5, atol=1e-6)
    assert p.shape == (2, 1000)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-4)
    xv = sm.random_inputs(video, seed=1)
    assert 100 < xv[1].max() < 10000  # ids over the question encoder's vocabulary
    (pv,) = export_and_run(video, xv, rtol=1e-5, atol=1e-6)
    assert pv.shape == (2, 1000)
    np.testing.assert_allclose(pv.sum(1), 1.0, rtol=1e-4)
    # the question encoder as a model agrees with its use inside video-QA's graph
    q = ns.question_encoder.predict(xv[1], verbose=0)
    assert q.shape == (2, 256)


# ============================================================================ seed 004
SEQ_MLP_PARAMS = (784 * 32 + 32) + (32 * 10 + 10)  # 25,120 + 330
assert SEQ_MLP_PARAMS == 25_450


def test_004_sequential_and_functional_mlp():
    seq = sm.s004_sequential_mlp().model
    assert seq.input_shape == (None, 784) and seq.output_shape == (None, 10)
    assert [type(l).__name__ for l in seq.layers] == ["Dense", "Activation", "Dense", "Activation"]
    assert seq.count_params() == SEQ_MLP_PARAMS
    fun = sm.s004_functional_mlp().model
    assert fun.output_shape == (None, 10)
    assert fun.count_params() == SEQ_MLP_PARAMS
    # the same function: copy the weights across and compare
    fun.set_weights(seq.get_weights())
    x = sm.random_inputs(seq, batch=4)
    (ys,) = export_and_run(seq, x)
    (yf,) = export_and_run(fun, x)
    assert_close(ys, yf)
    w1, b1, w2, b2 = seq.get_weights()
    h = 1 / (1 + np.exp(-(x[0] @ w1 + b1)))
    z = h @ w2 + b2
    e = np.exp(z - z.max(1, keepdims=True))
    assert_close(ys, e / e.sum(1, keepdims=True))


def test_004_time_distributed():
    ns = sm.s004_time_distributed()
    m = ns.models["time_distributed"]
    assert m.output_shape == (None, 20, 10)
    assert m.count_params() == SEQ_MLP_PARAMS
    x = sm.random_inputs(m)
    (y,) = export_and_run(m, x)
    assert_close(y, ns.model.predict(x[0].reshape(-1, 784), verbose=0).reshape(2, 20, 10))


def test_004_regression():
    m = sm.s004_regression().model
    assert m.input_shape == (None, 12) and m.output_shape == (None, 1)
    assert m.count_params() == (12 * 8 + 8) + (8 + 1)  # 104 + 9 = 113
    x = sm.random_inputs(m, batch=5)
    (y,) = export_and_run(m, x)
    w1, b1, w2, b2 = m.get_weights()
    assert_close(y, np.maximum(x[0] @ w1 + b1, 0) @ w2 + b2)
    # glorot_uniform: |w| <= sqrt(6 / (fan_in + fan_out))
    assert np.abs(w1).max() <= np.sqrt(6 / (12 + 8)) and np.abs(w2).max() <= np.sqrt(6 / (8 + 1))


# LSTM autoencoder: SEQUENCE_LEN = 50, EMBED_SIZE = 50, LATENT_SIZE = 512
AE_ENCODER_PARAMS = 2 * 4 * (512 * (50 + 512) + 512)  # Bidirectional = 2 LSTM(512) on 50: 2,306,048
AE_DECODER_PARAMS = 2 * 4 * (50 * (512 + 50) + 50)    # 2 LSTM(50) on 512: 225,200
assert (AE_ENCODER_PARAMS, AE_DECODER_PARAMS) == (2_306_048, 225_200)


def test_004_lstm_autoencoder_and_extracted_encoder():
    ns = sm.s004_autoencoder()
    ae, enc = ns.autoencoder, ns.encoder
    assert ae.input_shape == (None, 50, 50)
    assert ae.get_layer("encoder_lstm").output_shape == (None, 512)   # merge_mode='sum'
    assert ae.get_layer("repeater").output_shape == (None, 50, 512)
    assert ae.output_shape == (None, 50, 50)
    assert ae.count_params() == AE_ENCODER_PARAMS + AE_DECODER_PARAMS
    assert enc.output_shape == (None, 512)
    assert enc.count_params() == ae.get_layer("encoder_lstm").count_params() == AE_ENCODER_PARAMS
    assert _ids(enc.weights) == _ids(ae.get_layer("encoder_lstm").weights)
    x = sm.random_inputs(ae, batch=2)
    (y,) = export_and_run(ae, x, rtol=1e-5, atol=1e-6)
    (v,) = export_and_run(enc, x, rtol=1e-5, atol=1e-6)
    assert y.shape == (2, 50, 50) and v.shape == (2, 512)
    # the encoder equals the full graph's intermediate: a model with both outputs on the same tensors
    both = Model(ns.inputs, [ns.encoded, ns.decoded])
    v_full, y_full = export_and_run(both, x, rtol=1e-5, atol=1e-6)
    assert_close(v, v_full, rtol=1e-5, atol=1e-6)
    assert_close(y, y_full, rtol=1e-5, atol=1e-6)
    # numpy reference: Bidirectional(LSTM(512)) summed, repeated, Bidirectional(LSTM(50, seq)) summed
    e, d = ae.get_layer("encoder_lstm"), ae.get_layer("decoder_lstm")
    ew, dw = e.get_weights(), d.get_weights()
    v_ref = _np_bidirectional_sum(x[0], ew[:3], ew[3:])
    assert_close(v, v_ref, rtol=1e-4, atol=1e-5)
    rep = np.repeat(v_ref[:, None, :], 50, axis=1)
    assert_close(y, _np_bidirectional_sum(rep, dw[:3], dw[3:], return_sequences=True), rtol=1e-4, atol=1e-5)
    # the seed's evaluation: cosine similarity of encoder(x) and encoder(autoencoder(x))
    yv = enc.predict(y, verbose=0)
    cos = np.sum(v * yv, 1) / (np.linalg.norm(v, axis=1) * np.linalg.norm(yv, axis=1))
    assert np.all(np.abs(cos) <= 1 + 1e-5)


MEMNET_PARAMS = (22 * 64           # story Embedding: 1,408
                 + 22 * 64         # question Embedding: 1,408
                 + 22 * 4          # story Embedding into question space: 88
                 + 4 * (32 * (78 + 32) + 32)  # LSTM(32) on concat(14, 64) = 78 features: 14,208
                 + (32 * 22 + 22))  # dense(22): 726
assert MEMNET_PARAMS == 17_838


def test_004_memory_network():
    ns = sm.s004_memory_network()
    m = ns.model
    assert m.input_shape == [(None, 14), (None, 4)]
    assert ns.match.shape == (None, 14, 4)       # dot axes [2, 2]
    assert ns.response.shape == (None, 4, 14)    # Permute((2, 1))
    assert m.output_shape == (None, 22)
    assert m.count_params() == MEMNET_PARAMS
    Xs, Xq, Y = sm.s004_memory_network_data(n=6)
    assert Xs.shape == (6, 14) and Xq.shape == (6, 4) and Y.shape == (6, 22)
    assert Xs.dtype == np.int32 and np.all(Y.sum(1) == 1)
    # the Inputs are float (the seed gives no dtype): feed the padded ids as floats
    (p,) = export_and_run(m, [Xs.astype("float32"), Xq.astype("float32")], rtol=1e-5, atol=1e-6)
    assert p.shape == (6, 22)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)
    # model.predict accepts the int arrays pad_sequences returns as they are
    assert_close(m.predict([Xs, Xq], verbose=0), p)


def test_004_square_lambda():
    m = sm.s004_square_lambda().model
    x = sm.random_inputs(m, batch=3)
    (y,) = export_and_run(m, x)
    assert_close(y, x[0] ** 2)


def test_004_euclidean_distance_lambda():
    ns = sm.s004_euclidean_distance()
    m = ns.model
    assert m.output_shape == (None, 1)
    assert m.count_params() == 2 * (100 * 1024 + 1024)  # two dense(1024) on VECTOR_SIZE = 100: 206,848
    x = sm.random_inputs(m, batch=3)
    (d,) = export_and_run(m, x, rtol=1e-5, atol=1e-5)
    lhs, rhs = Model(m.inputs, [ns.lhs, ns.rhs]).predict(x, verbose=0)
    assert_close(d, np.sqrt(np.sum((lhs - rhs) ** 2, axis=1, keepdims=True)), rtol=1e-4, atol=1e-4)


def test_004_test_layer_harness():
    out = sm.s004_harness_checks()
    layer, x, y = out["dropout"]
    assert_close(y, x.astype("float32"))  # inference: identity
    layer, x, y = out["zero_padding"]
    assert y.shape == (12, 12, 3)
    assert_close(y[1:-1, 1:-1], x.astype("float32"))
    assert np.all(y[0] == 0) and np.all(y[-1] == 0) and np.all(y[:, 0] == 0) and np.all(y[:, -1] == 0)
    layer, x, y = out["reshape"]
    assert_close(y, x.reshape(5, 20).astype("float32"))
    # each harness model exports and runs in a bare session
    for layer, x, _ in out.values():
        model = sm.test_layer_model(layer, x)
        assert model.input_shape == (None,) + x.shape
        export_and_run(model, [np.expand_dims(x, 0).astype("float32")])


def _lrn_reference(x, n=5, alpha=0.0005, beta=0.75, k=2):
    """Keras (TensorFlow) LRN as the seed writes it: avg-pool 'same' excludes the padding."""
    import torch
    import torch.nn.functional as F
    t = torch.from_numpy(np.square(x)).permute(0, 3, 1, 2)
    pooled = F.avg_pool2d(t, n, stride=1, padding=n // 2, count_include_pad=False)
    pooled = pooled.permute(0, 2, 3, 1).numpy()
    summed = pooled.sum(axis=3, keepdims=True)
    averaged = alpha * np.repeat(summed, x.shape[3], axis=3)
    return x / (k + averaged) ** beta


def test_004_local_response_normalization():
    from irgraph.engine.topology import InputSpec, Layer
    from irgraph.layers import InputSpec as LInputSpec, Layer as LLayer
    assert Layer is LLayer and InputSpec is LInputSpec
    ns = sm.s004_lrn()
    assert ns.y.shape == ns.x.shape == (225, 225, 3)
    m = ns.model
    assert m.count_params() == 0
    x_ = np.expand_dims(ns.x, 0).astype("float32")
    (y,) = export_and_run(m, [x_], rtol=1e-5, atol=1e-6)
    assert_close(y[0], ns.y)
    assert_close(y, _lrn_reference(x_), rtol=1e-4, atol=1e-5)


def test_004_lrn_dim_ordering_is_channels_last_path():
    # the seed's `K.image_dim_ordering == "th"` is always False; the example calls the function,
    # which gives 'tf' under the default ordering: the same channels_last path
    assert K.image_dim_ordering() == "tf"
    assert (K.image_dim_ordering == "th") is False


# ============================================================================ utils the seeds import
def test_pad_sequences_keras_semantics():
    from irgraph.preprocessing import sequence
    from irgraph.preprocessing.sequence import pad_sequences
    assert sequence.pad_sequences is pad_sequences
    seqs = [[1, 2, 3], [4], [], [5, 6, 7, 8, 9]]
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=4),
                                  [[0, 1, 2, 3], [0, 0, 0, 4], [0, 0, 0, 0], [6, 7, 8, 9]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=4, padding="post", truncating="post"),
                                  [[1, 2, 3, 0], [4, 0, 0, 0], [0, 0, 0, 0], [5, 6, 7, 8]])
    out = pad_sequences(seqs)
    assert out.shape == (4, 5) and out.dtype == np.int32
    np.testing.assert_array_equal(pad_sequences([[1]], maxlen=3, value=-1), [[-1, -1, 1]])
    feats = pad_sequences([np.ones((2, 3)), np.ones((1, 3))], maxlen=3, dtype="float32")
    assert feats.shape == (2, 3, 3) and feats[1, :2].sum() == 0 and feats[1, 2].sum() == 3
    with pytest.raises(ValueError):
        pad_sequences(seqs, padding="middle")


def test_to_categorical_keras_semantics():
    from irgraph.utils import np_utils, to_categorical
    assert np_utils.to_categorical is to_categorical
    np.testing.assert_array_equal(np_utils.to_categorical([0, 2, 1], num_classes=3), np.eye(3)[[0, 2, 1]])
    assert to_categorical([[1], [0]]).shape == (2, 2)   # trailing axis of 1 dropped
    assert to_categorical([[1, 2], [0, 1]]).shape == (2, 2, 3)
    assert to_categorical([3]).dtype == np.float32
    assert to_categorical([1, 0], nb_classes=4).shape == (2, 4)  # Keras 1 spelling
    with pytest.raises(ValueError):
        to_categorical([5], num_classes=3)


def test_registry_covers_every_seed():
    keys = [k for k, _ in sm.listings()]
    assert len(keys) == len(set(keys))
    assert {k.split("/")[0] for k in keys} == {"000", "001", "003", "004"}
