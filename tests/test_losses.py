"""Losses: each traced into a graph, run in onnxruntime, checked against torch.nn.functional and
numpy re-implementations of Keras 3's formulas (clipping, label smoothing, reductions)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from irgraph import backend as K
from irgraph import losses
from irgraph.layers import Input, Lambda
from irgraph.models import Model
from helpers import assert_close, compile_traced

EPS = 1e-7
RNG = np.random.default_rng(7)


def run_traced(fn, *arrays, batch_free=True):
    """Trace ``fn`` on inputs shaped like ``arrays`` (batch axis free), run it, return the outputs."""
    res = compile_traced(fn, *arrays, batch_free=batch_free)(*arrays)
    return res[0] if len(res) == 1 else res


def f32(*shape, low=None, high=None):
    if low is not None:
        return RNG.uniform(low, high, shape).astype(np.float32)
    return RNG.standard_normal(shape).astype(np.float32)


def probs(*shape):
    x = RNG.standard_normal(shape)
    e = np.exp(x - x.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def onehot(labels, n):
    return np.eye(n, dtype=np.float32)[labels]


def T(x):
    return torch.from_numpy(np.asarray(x, dtype=np.float64))


# ------------------------------------------------------------------------------------- regression
def test_regression_losses_match_torch():
    yt, yp = f32(6, 5), f32(6, 5) * 2
    assert_close(run_traced(losses.mse, yt, yp), F.mse_loss(T(yp), T(yt), reduction="none").mean(-1))
    assert_close(run_traced(losses.mae, yt, yp), F.l1_loss(T(yp), T(yt), reduction="none").mean(-1))
    for delta in (1.0, 0.3):
        got = run_traced(lambda a, b: losses.huber(a, b, delta=delta), yt, yp)
        assert_close(got, F.huber_loss(T(yp), T(yt), delta=delta, reduction="none").mean(-1))


def test_regression_losses_keras_formulas():
    yt = f32(4, 6, low=0.0, high=3.0)
    yt[0, :2] = 0.0  # MAPE divides by max(|y|, eps)
    yp = f32(4, 6, low=-1.0, high=3.0)
    t, p = yt.astype(np.float64), yp.astype(np.float64)
    mape = 100 * np.mean(np.abs((t - p) / np.maximum(np.abs(t), EPS)), -1)
    assert_close(run_traced(losses.mape, yt, yp), mape, rtol=1e-5, atol=1e-2)
    msle = np.mean((np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(t, EPS) + 1)) ** 2, -1)
    assert_close(run_traced(losses.msle, yt, yp), msle)


def test_log_cosh_is_stable_for_large_errors():
    yt = np.zeros((3, 4), np.float32)
    yp = np.array([[0.1, -0.5, 2.0, -3.0], [50.0, -80.0, 100.0, 1e-3], [0, 0, 0, 0]], np.float32)
    x = yp.astype(np.float64)
    ref = np.mean(np.abs(x) + np.log1p(np.exp(-2 * np.abs(x))) - np.log(2), -1)  # log(cosh x)
    got = run_traced(losses.log_cosh, yt, yp)
    assert np.all(np.isfinite(got))
    assert_close(got, ref)


def test_poisson_and_kld():
    yt, yp = f32(5, 4, low=0.0, high=4.0), f32(5, 4, low=0.05, high=3.0)
    ref = F.poisson_nll_loss(T(yp), T(yt), log_input=False, full=False, eps=EPS, reduction="none").mean(-1)
    assert_close(run_traced(losses.poisson, yt, yp), ref)
    pt, pp = probs(5, 4), probs(5, 4)
    pt[0] = [1, 0, 0, 0]  # zeros are clipped to eps, as Keras does
    got = run_traced(losses.kld, pt, pp)
    ct, cp = np.clip(pt, EPS, 1).astype(np.float64), np.clip(pp, EPS, 1).astype(np.float64)
    assert_close(got, np.sum(ct * np.log(ct / cp), -1))
    # torch's kl_div uses 0 * log 0 = 0: the same up to Keras's eps clipping of the zero labels
    assert_close(got, F.kl_div(T(np.log(pp)), T(pt), reduction="none").sum(-1), atol=1e-5)


def test_cosine_similarity_loss_is_negative_cosine_and_zero_vector_safe():
    yt, yp = f32(4, 3), f32(4, 3)
    yt[3] = 0.0
    got = run_traced(losses.cosine_similarity, yt, yp)
    ref = -F.cosine_similarity(T(yt), T(yp), dim=-1).numpy()
    ref[3] = 0.0
    assert_close(got, ref)
    got = run_traced(lambda a, b: losses.cosine_similarity(a, b, axis=1), f32(2, 5, 3), f32(2, 5, 3))
    assert got.shape == (2, 3)


def test_hinge_losses_convert_binary_labels():
    yp = f32(6, 4)
    y01 = (RNG.random((6, 4)) > 0.5).astype(np.float32)
    ypm = 2 * y01 - 1
    h = np.mean(np.maximum(1 - ypm * yp, 0), -1)
    assert_close(run_traced(losses.hinge, y01, yp), h)       # {0, 1} labels become -1/1
    assert_close(run_traced(losses.hinge, ypm, yp), h)       # -1/1 labels used as they are
    assert_close(run_traced(losses.squared_hinge, y01, yp), np.mean(np.maximum(1 - ypm * yp, 0) ** 2, -1))
    odd = np.array([[0.5, 1, 0, 2]], np.float32)            # not all binary: unchanged
    assert_close(run_traced(losses.hinge, odd, yp[:1]), np.mean(np.maximum(1 - odd * yp[:1], 0), -1))
    lab = onehot(RNG.integers(0, 4, 6), 4)
    pos, neg = np.sum(lab * yp, -1), np.max((1 - lab) * yp, -1)
    assert_close(run_traced(losses.categorical_hinge, lab, yp), np.maximum(neg - pos + 1, 0))


def test_integer_labels_are_cast_to_prediction_dtype():
    yt = RNG.integers(0, 3, (4, 3)).astype(np.int64)
    yp = f32(4, 3)
    assert_close(run_traced(losses.mse, yt, yp), np.mean((yt - yp) ** 2, -1))


def test_rank_alignment_of_labels():
    yp = f32(5, 1)
    yt = f32(5)  # (batch,) labels against (batch, 1) predictions: expanded, not broadcast to (5, 5)
    got = run_traced(losses.mse, yt, yp)
    assert got.shape == (5,)
    assert_close(got, (yt - yp[:, 0]) ** 2)


# ------------------------------------------------------------------------------------- binary CE
def keras_bce(t, p, smoothing=0.0):
    t = t.astype(np.float64) * (1 - smoothing) + 0.5 * smoothing
    p = np.clip(p.astype(np.float32), np.float32(EPS), np.float32(1 - EPS))  # float32, as Keras
    q = (np.float32(1) - p).astype(np.float64)
    return np.mean(-(t * np.log(p.astype(np.float64)) + (1 - t) * np.log(q)), -1)


def test_binary_crossentropy_probabilities():
    yt = (RNG.random((6, 3)) > 0.5).astype(np.float32)
    yp = f32(6, 3, low=0.01, high=0.99)
    got = run_traced(losses.binary_crossentropy, yt, yp)
    assert_close(got, F.binary_cross_entropy(T(yp), T(yt), reduction="none").mean(-1))
    sat = np.array([[0.0, 1.0, 1.0]], np.float32)  # saturated: Keras clips to [eps, 1 - eps]
    lab = np.array([[1.0, 0.0, 1.0]], np.float32)
    got = run_traced(losses.binary_crossentropy, lab, sat)
    assert np.all(np.isfinite(got))
    assert_close(got, keras_bce(lab, sat), rtol=1e-4)
    got = run_traced(lambda a, b: losses.binary_crossentropy(a, b, label_smoothing=0.2), yt, yp)
    assert_close(got, keras_bce(yt, yp, 0.2))


def test_binary_crossentropy_from_logits_is_stable():
    yt = (RNG.random((5, 4)) > 0.5).astype(np.float32)
    x = f32(5, 4) * 3
    x[0] = [100.0, -100.0, 80.0, -0.0]
    got = run_traced(lambda a, b: losses.binary_crossentropy(a, b, from_logits=True), yt, x)
    assert np.all(np.isfinite(got))
    assert_close(got, F.binary_cross_entropy_with_logits(T(x), T(yt), reduction="none").mean(-1))
    ts = yt * 0.9 + 0.05
    got = run_traced(lambda a, b: losses.binary_crossentropy(a, b, from_logits=True, label_smoothing=0.1), yt, x)
    assert_close(got, F.binary_cross_entropy_with_logits(T(x), T(ts), reduction="none").mean(-1))


def test_binary_crossentropy_axis():
    yt = (RNG.random((2, 3, 4)) > 0.5).astype(np.float32)
    yp = f32(2, 3, 4, low=0.05, high=0.95)
    got = run_traced(lambda a, b: losses.binary_crossentropy(a, b, axis=1), yt, yp)
    ref = F.binary_cross_entropy(T(yp), T(yt), reduction="none").mean(1)
    assert got.shape == (2, 4)
    assert_close(got, ref)


# ------------------------------------------------------------------------------------- categorical CE
def keras_cce(t, p, smoothing=0.0, axis=-1):
    t = t.astype(np.float64)
    if smoothing:
        t = t * (1 - smoothing) + smoothing / t.shape[-1]
    p = p.astype(np.float64)
    p = np.clip(p / p.sum(axis, keepdims=True), EPS, 1 - EPS)
    return -np.sum(t * np.log(p), axis)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_categorical_crossentropy_from_logits_matches_torch(smoothing):
    labels = RNG.integers(0, 5, 8)
    x = f32(8, 5) * 4
    x[0] = [200.0, -200.0, 0.0, 3.0, 1.0]  # large logits stay finite
    got = run_traced(lambda a, b: losses.categorical_crossentropy(a, b, from_logits=True,
                                                                  label_smoothing=smoothing),
                     onehot(labels, 5), x)
    ref = F.cross_entropy(T(x), torch.from_numpy(labels), label_smoothing=smoothing, reduction="none")
    assert_close(got, ref)


def test_categorical_crossentropy_probabilities_normalize_and_clip():
    lab = onehot(RNG.integers(0, 4, 6), 4)
    p = probs(6, 4)
    assert_close(run_traced(losses.categorical_crossentropy, lab, p),
                 F.nll_loss(T(np.log(p)), torch.from_numpy(lab.argmax(-1)), reduction="none"))
    raw = f32(6, 4, low=0.0, high=3.0)  # not normalized: divided by its sum first
    raw[0] = [0.0, 1.0, 0.0, 0.0]       # exact zeros: clipped to eps
    lab[0] = [1, 0, 0, 0]
    got = run_traced(lambda a, b: losses.categorical_crossentropy(a, b, label_smoothing=0.2), lab, raw)
    assert_close(got, keras_cce(lab, raw, 0.2), rtol=1e-5)
    assert got[0] < -np.log(EPS) + 1


def test_categorical_crossentropy_axis_and_sequences():
    lab = onehot(RNG.integers(0, 3, (2, 4)), 3)          # (2, 4, 3)
    p = probs(2, 4, 3)
    seq = run_traced(losses.categorical_crossentropy, lab, p)
    assert seq.shape == (2, 4)
    assert_close(seq, keras_cce(lab, p))
    moved = run_traced(lambda a, b: losses.categorical_crossentropy(a, b, axis=1),
                       lab.transpose(0, 2, 1).copy(), p.transpose(0, 2, 1).copy())
    assert_close(moved, seq)


def test_categorical_crossentropy_dynamic_number_of_classes_label_smoothing():
    lab, p = onehot(RNG.integers(0, 4, 3), 4), probs(3, 4)

    def fn(a, b):  # class count known only at run time
        a2 = K.reshape(a, (0, -1))
        return losses.categorical_crossentropy(a2, b, label_smoothing=0.1)

    g_lab = lab.reshape(3, 2, 2)
    got = run_traced(fn, g_lab, p)
    assert_close(got, keras_cce(lab, p, 0.1))


# ------------------------------------------------------------------------------------- sparse CE
@pytest.mark.parametrize("label_shape,dtype", [((8,), np.int64), ((8, 1), np.int32), ((8,), np.float32)])
def test_sparse_categorical_crossentropy_label_forms(label_shape, dtype):
    labels = RNG.integers(0, 5, 8)
    x = f32(8, 5) * 3
    got = run_traced(lambda a, b: losses.sparse_categorical_crossentropy(a, b, from_logits=True),
                     labels.reshape(label_shape).astype(dtype), x)
    assert got.shape == (8,)
    assert_close(got, F.cross_entropy(T(x), torch.from_numpy(labels), reduction="none"))
    p = probs(8, 5)
    got = run_traced(losses.sparse_categorical_crossentropy, labels.reshape(label_shape).astype(dtype), p)
    assert_close(got, keras_cce(onehot(labels, 5), p))


def test_sparse_categorical_crossentropy_sequences_and_out_of_range():
    labels = RNG.integers(0, 3, (2, 5))
    x = f32(2, 5, 3)
    got = run_traced(lambda a, b: losses.sparse_categorical_crossentropy(a, b, from_logits=True), labels, x)
    ref = F.cross_entropy(T(x).permute(0, 2, 1), torch.from_numpy(labels), reduction="none")
    assert got.shape == (2, 5)
    assert_close(got, ref)
    bad = np.array([0, 7], np.int64)  # outside [0, 3): zero loss (an all-zero one-hot row)
    got = run_traced(lambda a, b: losses.sparse_categorical_crossentropy(a, b, from_logits=True), bad, x[:, 0])
    assert got[1] == 0.0


def test_sparse_categorical_crossentropy_ignore_class_reduction():
    labels = np.array([0, 2, 1, 2, 1, 0], np.int64)
    x = f32(6, 3)
    fn = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=2)
    got = run_traced(lambda a, b: fn(a, b), labels, x)
    ref = F.cross_entropy(T(x), torch.from_numpy(labels), ignore_index=2)  # mean over kept entries
    assert_close(got, ref)
    per = run_traced(lambda a, b: losses.sparse_categorical_crossentropy(a, b, from_logits=True,
                                                                         ignore_class=2), labels, x)
    assert per[1] == 0 and per[3] == 0


def test_sparse_ignore_class_on_sequences_with_sample_weights():
    labels = RNG.integers(0, 4, (3, 5))
    labels[0, :2] = 3
    x = f32(3, 5, 4)
    w = np.array([1.0, 0.5, 2.0], np.float32)
    fn = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=3)
    got = run_traced(lambda a, b, s: fn(a, b, sample_weight=s), labels, x, w)
    per = F.cross_entropy(T(x).permute(0, 2, 1), torch.from_numpy(labels), reduction="none").numpy()
    keep = labels != 3
    assert_close(got, np.sum(per * keep * w[:, None]) / keep.sum())


def test_sparse_categorical_crossentropy_bad_label_rank():
    with pytest.raises(ValueError, match="integer labels of shape"):
        run_traced(losses.sparse_categorical_crossentropy, f32(4, 3), f32(4, 3))


# ------------------------------------------------------------------------------------- reductions
def test_reductions_with_sample_weights():
    yt, yp = f32(6, 3), f32(6, 3)
    w = np.array([1, 0, 2, 0.5, 1, 3], np.float32)
    per = np.mean((yt.astype(np.float64) - yp) ** 2, -1)
    expected = {"sum_over_batch_size": np.sum(per * w) / 6, "mean": np.sum(per * w) / 6,
                "sum": np.sum(per * w), "mean_with_sample_weight": np.sum(per * w) / w.sum(),
                None: per * w, "none": per * w}
    for red, ref in expected.items():
        loss = losses.MeanSquaredError(reduction=red)
        assert_close(run_traced(lambda a, b, s: loss(a, b, sample_weight=s), yt, yp, w), ref)
    assert_close(run_traced(lambda a, b: losses.MeanSquaredError()(a, b), yt, yp), per.mean())
    zero = np.zeros(6, np.float32)  # all weights zero: divide_no_nan gives 0
    got = run_traced(lambda a, b, s: losses.MeanSquaredError(reduction="mean_with_sample_weight")(
        a, b, sample_weight=s), yt, yp, zero)
    assert got == 0.0


def test_per_timestep_losses_with_per_sample_weights():
    lab = onehot(RNG.integers(0, 3, (4, 5)), 3)
    p = probs(4, 5, 3)
    w = np.array([1, 0, 2, 1], np.float32)
    got = run_traced(lambda a, b, s: losses.CategoricalCrossentropy()(a, b, sample_weight=s), lab, p, w)
    per = keras_cce(lab, p)                  # (4, 5)
    assert_close(got, np.mean(per * w[:, None]))
    w2 = np.ones((4, 5), np.float32)
    w2[:, -2:] = 0                           # temporal weights
    got = run_traced(lambda a, b, s: losses.CategoricalCrossentropy(reduction="sum")(a, b, sample_weight=s),
                     lab, p, w2)
    assert_close(got, np.sum(per * w2))
    wcol = w[:, None]                        # (batch, 1) weights
    got = run_traced(lambda a, b, s: losses.MeanAbsoluteError(reduction="sum")(a, b, sample_weight=s),
                     p[:, 0], p[:, 1], wcol)
    assert_close(got, np.sum(np.mean(np.abs(p[:, 0] - p[:, 1]), -1) * w))


def test_reduction_names():
    assert losses.MeanSquaredError(reduction="auto").reduction == "sum_over_batch_size"
    with pytest.raises(ValueError, match="invalid reduction 'avg'"):
        losses.MeanSquaredError(reduction="avg")


# ------------------------------------------------------------------------------------- classes, get
def test_class_names_and_configs():
    names = {losses.MeanSquaredError: "mean_squared_error", losses.Huber: "huber_loss",
             losses.LogCosh: "log_cosh", losses.KLDivergence: "kl_divergence",
             losses.CategoricalCrossentropy: "categorical_crossentropy",
             losses.SparseCategoricalCrossentropy: "sparse_categorical_crossentropy",
             losses.CosineSimilarity: "cosine_similarity", losses.Poisson: "poisson"}
    for cls, name in names.items():
        assert cls().name == name
    cce = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, reduction="sum", name="ce")
    cfg = cce.get_config()
    assert cfg == {"name": "ce", "reduction": "sum", "from_logits": True, "label_smoothing": 0.1, "axis": -1}
    again = losses.get({"class_name": "CategoricalCrossentropy", "config": cfg})
    assert isinstance(again, losses.CategoricalCrossentropy) and again.get_config() == cfg
    assert losses.Huber(2.0).delta == 2.0
    with pytest.raises(TypeError, match="unexpected argument"):
        losses.MeanSquaredError(from_logits=True)


def test_get_resolves_names_aliases_and_objects():
    for name, fn in [("mse", losses.mean_squared_error), ("MAE", losses.mean_absolute_error),
                     ("mape", losses.mean_absolute_percentage_error), ("msle", losses.msle),
                     ("kld", losses.kl_divergence), ("kullback_leibler_divergence", losses.kl_divergence),
                     ("logcosh", losses.log_cosh), ("huber", losses.huber),
                     ("categorical_crossentropy", losses.categorical_crossentropy),
                     ("cosine_proximity", losses.cosine_similarity), ("bce", losses.binary_crossentropy)]:
        got = losses.get(name)
        assert isinstance(got, losses.Loss) and got.fn is fn and got.reduction == "sum_over_batch_size"
    assert isinstance(losses.get("BinaryCrossentropy"), losses.BinaryCrossentropy)
    inst = losses.Poisson()
    assert losses.get(inst) is inst
    assert isinstance(losses.get(losses.Hinge), losses.Hinge)
    assert losses.get(None) is None
    assert losses.get({"class_name": "function", "config": "mse"}).fn is losses.mean_squared_error
    with pytest.raises(ValueError, match="unknown loss 'mean_sq'; known: .*categorical_crossentropy"):
        losses.get("mean_sq")
    with pytest.raises(TypeError, match="cannot interpret 3"):
        losses.get(3)


def test_custom_function_loss_is_wrapped_and_reduced():
    def my_loss(y_true, y_pred):
        return K.sum(K.abs(y_true - y_pred), axis=-1)

    loss = losses.get(my_loss)
    assert loss.name == "my_loss"
    yt, yp = f32(4, 3), f32(4, 3)
    assert_close(run_traced(lambda a, b: loss(a, b), yt, yp), np.mean(np.sum(np.abs(yt - yp), -1)))


# ------------------------------------------------------------------------------------- fusion
def test_fused_with_activation_rules():
    cce = losses.CategoricalCrossentropy(label_smoothing=0.1, reduction="sum", name="ce")
    fused = losses.fused_with_activation(cce, "Softmax")
    assert isinstance(fused, losses.CategoricalCrossentropy)
    assert fused.from_logits and fused._fn_kwargs == {"from_logits": True, "label_smoothing": 0.1, "axis": -1}
    assert fused.reduction == "sum" and fused.name == "ce"
    assert not cce.from_logits and not cce._fn_kwargs["from_logits"]  # the original is untouched
    assert losses.fused_with_activation("sparse_categorical_crossentropy", "Softmax")._fn_kwargs["from_logits"]
    assert losses.fused_with_activation("binary_crossentropy", "Sigmoid")._fn_kwargs["from_logits"]
    assert losses.fused_with_activation("binary_crossentropy", "Softmax") is None
    assert losses.fused_with_activation("categorical_crossentropy", "Sigmoid") is None
    assert losses.fused_with_activation("mse", "Softmax") is None
    assert losses.fused_with_activation(losses.CategoricalCrossentropy(from_logits=True), "Softmax") is None
    assert losses.fused_with_activation(losses.CategoricalCrossentropy(axis=1), "Softmax") is None
    assert losses.fused_with_activation(losses.CategoricalCrossentropy(axis=1), "Softmax", axis=1, rank=2) is not None
    assert losses.fused_with_activation("categorical_crossentropy", "Softmax", axis=1, rank=3) is None
    assert losses.fused_with_activation(None, "Softmax") is None


def test_fused_loss_equals_probability_loss_except_when_saturated():
    labels = RNG.integers(0, 4, 6)
    lab = onehot(labels, 4)
    z = f32(6, 4) * 2
    w = np.ones(6, np.float32)
    for loss, act, y in [(losses.CategoricalCrossentropy(label_smoothing=0.1), K.softmax, lab),
                         (losses.SparseCategoricalCrossentropy(), K.softmax, labels),
                         (losses.BinaryCrossentropy(), K.sigmoid, (lab > 0).astype(np.float32))]:
        fused = losses.fused_with_activation(loss, "Softmax" if act is K.softmax else "Sigmoid")
        a = run_traced(lambda t, x, s: loss(t, act(x), sample_weight=s), y, z, w)
        b = run_traced(lambda t, x, s: fused(t, x, sample_weight=s), y, z, w)
        assert_close(a, b, rtol=1e-5)
    # saturated: the probability form is capped by the clipping at -log(eps); the logits form is not
    zs = np.array([[40.0, -40.0, 0.0, 0.0]], np.float32)
    ls = onehot(np.array([1]), 4)
    capped = run_traced(lambda t, x: losses.categorical_crossentropy(t, K.softmax(x)), ls, zs)
    exact = run_traced(lambda t, x: losses.categorical_crossentropy(t, x, from_logits=True), ls, zs)
    assert_close(capped, -np.log(EPS), rtol=1e-3)
    assert_close(exact, F.cross_entropy(T(zs), torch.tensor([1]), reduction="none"), rtol=1e-5)


# ------------------------------------------------------------------------------------- integration
def test_loss_in_a_lambda_model_and_on_functional_tensors():
    yt_in, yp_in = Input(shape=(4,), name="y_true"), Input(shape=(4,), name="y_pred")
    out = Lambda(lambda ts: losses.categorical_crossentropy(ts[0], ts[1], from_logits=True))([yt_in, yp_in])
    model = Model([yt_in, yp_in], out)
    lab, z = onehot(RNG.integers(0, 4, 5), 4), f32(5, 4)
    got = model.predict([lab, z], verbose=0)
    assert_close(got, F.cross_entropy(T(z), torch.from_numpy(lab.argmax(-1)), reduction="none"))
    # a loss function applied to functional tensors records one op layer, as backend functions do
    direct = losses.mean_squared_error(yt_in, yp_in)
    model2 = Model([yt_in, yp_in], direct)
    assert_close(model2.predict([lab, z], verbose=0), np.mean((lab - z) ** 2, -1))
