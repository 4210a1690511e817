"""Metrics: batch statistics traced into a graph and run in onnxruntime, summed over batches in
Python, and checked against numpy re-implementations of Keras 3's formulas and scikit-learn."""
import numpy as np
import pytest
from sklearn import metrics as skm

from irgraph import backend as K
from irgraph import losses, metrics
from irgraph.ops import get_op
from irgraph.ops.base import ShapeError
from irgraph.ops.trace import apply
from helpers import assert_close, compile_traced

EPS = 1e-7
RNG = np.random.default_rng(11)


def evaluate(metric, batches, weighted=False, batch_free=True):
    """Accumulate ``metric`` over ``batches`` ((y_true, y_pred[, w]) tuples) as training would:
    one traced graph, its statistics summed in Python, then ``result``."""
    first = batches[0]
    if weighted:
        run = compile_traced(lambda t, p, w: metric.batch_stats(t, p, w), *first, batch_free=batch_free)
    else:
        run = compile_traced(lambda t, p: metric.batch_stats(t, p), *first, batch_free=batch_free)
    totals = metric.initial_totals()
    for b in batches:
        stats = run(*b)
        assert [np.shape(s) for s in stats] == [np.shape(t) for t in totals]
        totals = metric.accumulate(totals, stats)
    return metric.result(totals)


def probs(*shape):
    x = RNG.standard_normal(shape)
    e = np.exp(x - x.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def onehot(labels, n):
    return np.eye(n, dtype=np.float32)[labels]


def split(n, *arrays, sizes=(5, 9, 3)):
    """Cut arrays into batches of the given sizes (must sum to n)."""
    assert sum(sizes) == n
    out, start = [], 0
    for s in sizes:
        out.append(tuple(a[start:start + s] for a in arrays))
        start += s
    return out


# ------------------------------------------------------------------------------------- accuracy
def test_binary_accuracy_threshold_and_label_shapes():
    yt = (RNG.random((17, 1)) > 0.5).astype(np.float32)
    yp = RNG.random((17, 1)).astype(np.float32)
    yp[:3, 0] = 0.5  # not above the threshold: predicted 0
    ref = np.mean((yp > 0.5) == (yt > 0.5))
    assert_close(evaluate(metrics.BinaryAccuracy(), split(17, yt, yp)), ref)
    assert_close(evaluate(metrics.BinaryAccuracy(), split(17, yt[:, 0], yp)), ref)           # (batch,) labels
    assert_close(evaluate(metrics.BinaryAccuracy(), split(17, yt.astype(np.int64), yp)), ref)  # int labels
    ref7 = np.mean((yp > 0.7) == (yt > 0.5))
    assert_close(evaluate(metrics.BinaryAccuracy(threshold=0.7), split(17, yt, yp)), ref7)


def test_categorical_and_sparse_accuracy():
    labels = RNG.integers(0, 4, 17)
    p = probs(17, 4)
    p[0] = [0.4, 0.4, 0.1, 0.1]  # a tie: argmax takes the first index
    labels[0] = 1
    ref = np.mean(p.argmax(-1) == labels)
    assert_close(evaluate(metrics.CategoricalAccuracy(), split(17, onehot(labels, 4), p)), ref)
    for lab in (labels, labels[:, None], labels.astype(np.float32), labels[:, None].astype(np.int32)):
        assert_close(evaluate(metrics.SparseCategoricalAccuracy(), split(17, lab, p)), ref)


def test_sequence_accuracy_averages_over_timesteps():
    labels = RNG.integers(0, 3, (8, 5))
    p = probs(8, 5, 3)
    w = RNG.random(8).astype(np.float32)
    hits = (p.argmax(-1) == labels).astype(np.float64)
    got = evaluate(metrics.SparseCategoricalAccuracy(), split(8, labels, p, w, sizes=(3, 5)), weighted=True)
    assert_close(got, np.sum(hits.mean(1) * w) / w.sum())
    got = evaluate(metrics.CategoricalAccuracy(), split(8, onehot(labels, 3), p, sizes=(3, 5)))
    assert_close(got, hits.mean())


def top_k_ref(labels, p, k):
    """Keras's in_top_k: the target's score is >= the k-th largest (ties count as in)."""
    target = p[np.arange(len(labels)), labels]
    return np.mean(np.sum(p > target[:, None], -1) < k)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_top_k_accuracies(k):
    labels = RNG.integers(0, 6, 17)
    p = probs(17, 6)
    p[1] = [0.2, 0.2, 0.2, 0.2, 0.1, 0.1]  # ties at the k-th value count as in
    labels[1] = 3
    ref = top_k_ref(labels, p, k)
    assert top_k_ref(labels[1:2], p[1:2], 1) == 1.0  # a 4-way tie for first: in the top 1
    assert_close(evaluate(metrics.TopKCategoricalAccuracy(k=k), split(17, onehot(labels, 6), p)), ref)
    assert_close(evaluate(metrics.SparseTopKCategoricalAccuracy(k=k), split(17, labels, p)), ref)
    assert_close(evaluate(metrics.SparseTopKCategoricalAccuracy(k=k), split(17, labels[:, None], p)), ref)
    p2 = p.copy()
    p2[1] = RNG.random(6)
    assert_close(evaluate(metrics.SparseTopKCategoricalAccuracy(k=k), split(17, labels, p2)),
                 skm.top_k_accuracy_score(labels, p2, k=k, labels=range(6)))


def test_top_k_larger_than_classes_and_out_of_range_labels():
    p = probs(4, 3)
    assert evaluate(metrics.SparseTopKCategoricalAccuracy(k=5), [(np.array([0, 1, 2, 2]), p)]) == 1.0
    assert evaluate(metrics.SparseTopKCategoricalAccuracy(k=5), [(np.array([0, 1, 2, 9]), p)]) == 0.75


# ------------------------------------------------------------------------------------- mean metrics
def test_mean_metric_sample_weights_follow_keras():
    yt, yp = RNG.standard_normal((17, 3)).astype(np.float32), RNG.standard_normal((17, 3)).astype(np.float32)
    w = RNG.random(17).astype(np.float32)
    per = np.mean((yt.astype(np.float64) - yp) ** 2, -1)
    m = metrics.get("mse")
    assert_close(evaluate(m, split(17, yt, yp)), per.mean())
    assert_close(evaluate(m, split(17, yt, yp, w), weighted=True), np.sum(per * w) / w.sum())
    assert_close(evaluate(m, split(17, yt, yp, w[:, None]), weighted=True), np.sum(per * w) / w.sum())
    # per-timestep values (batch, T) with per-timestep weights: Keras averages v * w and w over T
    seq_t, seq_p = yt.reshape(17, 3, 1), yp.reshape(17, 3, 1)
    w2 = RNG.random((17, 3)).astype(np.float32)
    v = (yt.astype(np.float64) - yp) ** 2
    ref = np.sum(np.mean(v * w2, 1)) / np.sum(np.mean(w2, 1))
    assert_close(evaluate(metrics.get("mse"), split(17, seq_t, seq_p, w2), weighted=True), ref)


def test_mean_stats_shapes_and_zero_count():
    m = metrics.get("mae")
    assert [t.shape for t in m.initial_totals()] == [(), ()]
    run = compile_traced(lambda t, p, w: m.batch_stats(t, p, w), np.ones((2, 2), np.float32),
                         np.zeros((2, 2), np.float32), np.zeros(2, np.float32))
    total, count = run(np.ones((2, 2), np.float32), np.zeros((2, 2), np.float32), np.zeros(2, np.float32))
    assert total.shape == () and count == 0
    assert m.result([total, count]) == 0.0

    def scalar_metric(y_true, y_pred):  # one value for the whole batch counts as one sample
        return K.mean(y_true - y_pred)

    batch = (np.ones((3, 1), np.float32), np.zeros((3, 1), np.float32))
    assert evaluate(metrics.get(scalar_metric), [batch, batch]) == 1.0


def test_regression_metrics_by_name():
    yt = RNG.uniform(0.1, 2, (17, 4)).astype(np.float32)
    yp = RNG.uniform(0.1, 2, (17, 4)).astype(np.float32)
    t, p = yt.astype(np.float64), yp.astype(np.float64)
    cos = np.sum(t * p, -1) / np.linalg.norm(t, axis=-1) / np.linalg.norm(p, axis=-1)
    refs = {"mae": np.mean(np.abs(t - p)), "mape": 100 * np.mean(np.abs((t - p) / t)),
            "msle": np.mean((np.log1p(t) - np.log1p(p)) ** 2),
            "cosine_similarity": cos.mean(), "cosine_proximity": cos.mean(),
            "rmse": np.sqrt(np.mean((t - p) ** 2)), "root_mean_squared_error": np.sqrt(np.mean((t - p) ** 2)),
            "logcosh": np.mean(np.log(np.cosh(p - t))),
            "poisson": np.mean(p - t * np.log(p + EPS))}
    for name, ref in refs.items():
        m = metrics.get(name)
        assert m.name == name
        assert_close(evaluate(m, split(17, yt, yp)), ref, rtol=1e-5)


def test_loss_functions_as_metrics():
    labels = RNG.integers(0, 3, 17)
    p = probs(17, 3)
    ce = -np.log(p[np.arange(17), labels].astype(np.float64))
    assert_close(evaluate(metrics.get("categorical_crossentropy"), split(17, onehot(labels, 3), p)), ce.mean())
    assert_close(evaluate(metrics.get("sparse_categorical_crossentropy"), split(17, labels, p)), ce.mean())
    yb = (RNG.random((17, 1)) > 0.5).astype(np.float32)
    pb = RNG.uniform(0.05, 0.95, (17, 1)).astype(np.float32)
    bce = -np.mean(yb * np.log(pb) + (1 - yb) * np.log(1 - pb))
    for name in ("binary_crossentropy", "bce"):
        assert_close(evaluate(metrics.get(name), split(17, yb, pb)), bce)
    m = metrics.get(losses.CategoricalCrossentropy(name="my_ce"))
    assert m.name == "my_ce"
    assert_close(evaluate(m, split(17, onehot(labels, 3), p)), ce.mean())
    yh = (RNG.random((17, 3)) > 0.5).astype(np.float32)
    xh = RNG.standard_normal((17, 3)).astype(np.float32)
    assert_close(evaluate(metrics.get("hinge"), split(17, yh, xh)),
                 np.mean(np.maximum(1 - (2 * yh - 1) * xh, 0)))


# ------------------------------------------------------------------------------------- confusion
def confusion_ref(y, p, thresholds, w=None):
    y, p = y.reshape(-1) != 0, p.reshape(-1)
    w = np.ones_like(p, dtype=np.float64) if w is None else np.asarray(w, np.float64).reshape(-1)
    thr = np.asarray(thresholds, np.float32)[:, None]
    above = p[None, :] > thr
    return {"tp": (above & y) @ w, "fp": (above & ~y) @ w, "tn": (~above & ~y) @ w, "fn": (~above & y) @ w}


def test_precision_recall_match_sklearn_over_batches():
    y = (RNG.random((17, 1)) > 0.4).astype(np.float32)
    p = RNG.random((17, 1)).astype(np.float32)
    w = RNG.random(17).astype(np.float32)
    pred = (p[:, 0] > 0.5).astype(int)
    assert_close(evaluate(metrics.Precision(), split(17, y, p)), skm.precision_score(y[:, 0], pred))
    assert_close(evaluate(metrics.Recall(), split(17, y, p)), skm.recall_score(y[:, 0], pred))
    assert_close(evaluate(metrics.Precision(), split(17, y, p, w), weighted=True),
                 skm.precision_score(y[:, 0], pred, sample_weight=w))
    assert_close(evaluate(metrics.Recall(), split(17, y[:, 0], p, w), weighted=True),
                 skm.recall_score(y[:, 0], pred, sample_weight=w))
    assert_close(evaluate(metrics.get("precision"), split(17, y, np.zeros_like(p))), 0.0)  # 0 / 0 -> 0


@pytest.mark.parametrize("thresholds", [[0.3, 0.7], [0.0, 0.5, 1.0], [0.0, 0.25, 0.5, 0.75, 1.0]])
def test_confusion_counts_at_several_thresholds(thresholds):
    y = (RNG.random((17, 3)) > 0.5).astype(np.float32)
    p = RNG.random((17, 3)).astype(np.float32)
    p[0] = [0.0, 1.0, 0.5]
    ref = confusion_ref(y, p, thresholds)
    assert metrics.evenly_distributed(thresholds) == (len(thresholds) > 2)
    for cls, key in [(metrics.TruePositives, "tp"), (metrics.FalsePositives, "fp"),
                     (metrics.TrueNegatives, "tn"), (metrics.FalseNegatives, "fn")]:
        assert_close(evaluate(cls(thresholds=thresholds), split(17, y, p)), ref[key])
    prec = evaluate(metrics.Precision(thresholds=thresholds), split(17, y, p))
    assert prec.shape == (len(thresholds),)
    with np.errstate(invalid="ignore"):
        assert_close(prec, np.nan_to_num(ref["tp"] / (ref["tp"] + ref["fp"])))


def test_precision_top_k_and_class_id_keras_examples():
    yt, yp = np.array([0, 0, 1, 1], np.float32), np.array([1, 1, 1, 1], np.float32)
    # ties: the top-k keeps the lowest indices first, as Keras (tf/torch top_k) does
    assert evaluate(metrics.Precision(top_k=2), [(yt, yp)], batch_free=False) == 0.0
    assert evaluate(metrics.Precision(top_k=4), [(yt, yp)], batch_free=False) == 0.5
    assert_close(evaluate(metrics.Precision(), [(np.array([0, 1, 1, 1], np.float32),
                                                 np.array([1, 0, 1, 1], np.float32))]), 2 / 3)
    y = (RNG.random((9, 4)) > 0.5).astype(np.float32)
    p = RNG.random((9, 4)).astype(np.float32)
    top2 = np.zeros_like(p, dtype=bool)
    top2[np.arange(9)[:, None], np.argsort(-p, -1, kind="stable")[:, :2]] = True
    tp, fp = np.sum(top2 & (y > 0)), np.sum(top2 & (y == 0))
    assert_close(evaluate(metrics.Precision(top_k=2), [(y, p)]), tp / (tp + fp))
    assert_close(evaluate(metrics.Recall(top_k=2), [(y, p)]), tp / y.sum())
    pred1 = (p[:, 1] > 0.5).astype(int)
    assert_close(evaluate(metrics.Recall(class_id=1), [(y, p)]), skm.recall_score(y[:, 1], pred1))


def test_threshold_validation():
    with pytest.raises(ValueError, match=r"threshold values must be in \[0, 1\], got \[1.5\]"):
        metrics.Precision(thresholds=[0.5, 1.5])


# ------------------------------------------------------------------------------------- AUC
def keras_auc_ref(y, p, w=None, num_thresholds=200, curve="ROC", method="interpolation", thresholds=None):
    """Keras 3 AUC written out with loops: counts at [-eps, inner..., 1 + eps], then the area."""
    if thresholds is None:
        inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    else:
        inner = sorted(thresholds)
    thr = [-EPS] + inner + [1 + EPS]
    c = confusion_ref(y, np.clip(p, 0, 1), thr, w)
    tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]
    n = len(thr)

    def div(a, b):
        return a / b if b != 0 else 0.0

    area = 0.0
    for i in range(n - 1):
        if curve == "PR" and method == "interpolation":
            dtp = tp[i] - tp[i + 1]
            pa, pb = tp[i] + fp[i], tp[i + 1] + fp[i + 1]
            slope = div(dtp, max(pa - pb, 0))
            intercept = tp[i + 1] - slope * pb
            ratio = div(pa, pb) if pa > 0 and pb > 0 else 1.0
            area += div(slope * (dtp + intercept * np.log(ratio)), tp[i + 1] + fn[i + 1])
            continue
        rec = [div(tp[j], tp[j] + fn[j]) for j in (i, i + 1)]
        if curve == "ROC":
            x, yv = [div(fp[j], fp[j] + tn[j]) for j in (i, i + 1)], rec
        else:
            x, yv = rec, [div(tp[j], tp[j] + fp[j]) for j in (i, i + 1)]
        h = {"interpolation": (yv[0] + yv[1]) / 2, "minoring": min(yv), "majoring": max(yv)}[method]
        area += (x[0] - x[1]) * h
    return area


def scored(n, sep=1.0):
    y = (RNG.random(n) > 0.5).astype(np.float32)
    p = 1 / (1 + np.exp(-(RNG.standard_normal(n) + sep * (2 * y - 1))))
    return y, p.astype(np.float32)


def test_auc_keras_example():
    yt, yp = np.array([0, 0, 1, 1], np.float32), np.array([0, 0.5, 0.3, 0.9], np.float32)
    assert_close(evaluate(metrics.AUC(num_thresholds=3), [(yt, yp)]), 0.75)
    w = np.array([1, 0, 0, 1], np.float32)
    assert_close(evaluate(metrics.AUC(num_thresholds=3), [(yt, yp, w)], weighted=True), 1.0)


@pytest.mark.parametrize("curve", ["ROC", "PR"])
def test_auc_matches_keras_formula_and_approximates_sklearn(curve):
    y, p = scored(600)
    w = RNG.uniform(0.2, 2.0, 600).astype(np.float32)
    sizes = (250, 300, 50)
    m = metrics.AUC(curve=curve)
    got = evaluate(m, split(600, y[:, None], p[:, None], sizes=sizes))
    assert_close(got, keras_auc_ref(y, p, curve=curve), rtol=1e-6, atol=1e-6)
    sk = skm.roc_auc_score(y, p) if curve == "ROC" else skm.average_precision_score(y, p)
    assert abs(got - sk) < 1e-2
    gotw = evaluate(metrics.AUC(curve=curve), split(600, y, p, w, sizes=sizes), weighted=True)
    assert_close(gotw, keras_auc_ref(y, p, w, curve=curve), rtol=1e-6, atol=1e-6)
    skw = (skm.roc_auc_score(y, p, sample_weight=w) if curve == "ROC"
           else skm.average_precision_score(y, p, sample_weight=w))
    assert abs(gotw - skw) < 1e-2


def test_auc_summation_methods_and_custom_thresholds():
    y, p = scored(300, sep=0.5)
    batches = split(300, y, p, sizes=(100, 200))
    vals = {}
    for method in ("minoring", "interpolation", "majoring"):
        for curve in ("ROC", "PR"):
            vals[method, curve] = evaluate(metrics.AUC(num_thresholds=50, curve=curve, summation_method=method),
                                           batches)
            assert_close(vals[method, curve], keras_auc_ref(y, p, num_thresholds=50, curve=curve, method=method),
                         rtol=1e-6, atol=1e-6)
    assert vals["minoring", "ROC"] <= vals["interpolation", "ROC"] <= vals["majoring", "ROC"]
    thr = [0.1, 0.2, 0.45, 0.8]  # uneven: compared directly, no bucketing
    m = metrics.AUC(thresholds=thr)
    assert m.num_thresholds == 6 and not m._evenly
    assert_close(evaluate(m, batches), keras_auc_ref(y, p, thresholds=thr), rtol=1e-6, atol=1e-6)
    even = metrics.AUC(thresholds=[0.25, 0.5, 0.75])  # evenly spread with 0 and 1: bucketed path
    assert even._evenly
    assert_close(evaluate(even, batches), keras_auc_ref(y, p, thresholds=[0.25, 0.5, 0.75]), rtol=1e-6)


def test_auc_from_logits_multi_label_and_label_weights():
    y = (RNG.random((300, 3)) > 0.5).astype(np.float32)
    logits = (RNG.standard_normal((300, 3)) + 1.5 * (2 * y - 1)).astype(np.float32)
    p = (1 / (1 + np.exp(-logits.astype(np.float64)))).astype(np.float32)
    batches = split(300, y, logits, sizes=(120, 180))
    flat = evaluate(metrics.AUC(from_logits=True), batches)
    assert_close(flat, keras_auc_ref(y, p), rtol=1e-5, atol=1e-6)
    m = metrics.AUC(from_logits=True, multi_label=True)
    per_label = [keras_auc_ref(y[:, j], p[:, j]) for j in range(3)]
    assert_close(evaluate(m, batches), np.mean(per_label), rtol=1e-5)
    assert m.initial_totals()[0].shape == (200, 3)
    lw = [1.0, 0.0, 3.0]
    m = metrics.AUC(from_logits=True, multi_label=True, label_weights=lw)
    assert_close(evaluate(m, batches), np.dot(per_label, lw) / 4, rtol=1e-5)
    m = metrics.AUC(from_logits=True, label_weights=lw)  # flattened: weights the label columns
    wcols = np.broadcast_to(np.array(lw, np.float32), y.shape)
    assert_close(evaluate(m, batches), keras_auc_ref(y, p, wcols), rtol=1e-5)


def test_auc_argument_errors():
    with pytest.raises(ValueError, match="num_thresholds must be an integer > 1"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="invalid AUC curve 'XY'"):
        metrics.AUC(curve="XY")
    with pytest.raises(ValueError, match="num_labels"):
        metrics.AUC(num_labels=3)


# ------------------------------------------------------------------------------------- get
def test_accuracy_resolution_rules():
    g = metrics.get
    assert isinstance(g("accuracy", loss="binary_crossentropy", y_pred_shape=(None, 3)), metrics.BinaryAccuracy)
    assert isinstance(g("accuracy", loss=losses.BinaryCrossentropy(from_logits=True)), metrics.BinaryAccuracy)
    assert isinstance(g("acc", y_true_shape=(None, 1), y_pred_shape=(None, 1)), metrics.BinaryAccuracy)
    assert isinstance(g("accuracy", loss="sparse_categorical_crossentropy"), metrics.SparseCategoricalAccuracy)
    assert isinstance(g("accuracy", loss=losses.SparseCategoricalCrossentropy()),
                      metrics.SparseCategoricalAccuracy)
    assert isinstance(g("accuracy", y_true_shape=(None,), y_pred_shape=(None, 10)),
                      metrics.SparseCategoricalAccuracy)
    assert isinstance(g("accuracy", y_true_shape=(None, 1), y_pred_shape=(None, 10)),
                      metrics.SparseCategoricalAccuracy)
    assert isinstance(g("accuracy", loss="categorical_crossentropy", y_true_shape=(None, 10),
                        y_pred_shape=(None, 10)), metrics.CategoricalAccuracy)
    assert isinstance(g("accuracy", loss="mse"), metrics.CategoricalAccuracy)
    assert isinstance(g("accuracy"), metrics.CategoricalAccuracy)
    assert isinstance(g("accuracy", loss=lambda a, b: a), metrics.CategoricalAccuracy)
    assert g("accuracy").name == "accuracy" and g("acc").name == "acc" and g("ACC").name == "ACC"


def test_get_names_objects_and_errors():
    for name, cls in [("auc", metrics.AUC), ("AUC", metrics.AUC), ("precision", metrics.Precision),
                      ("Recall", metrics.Recall), ("binary_accuracy", metrics.BinaryAccuracy),
                      ("top_k_categorical_accuracy", metrics.TopKCategoricalAccuracy),
                      ("mse", metrics.MeanSquaredError), ("mean_absolute_error", metrics.MeanAbsoluteError),
                      ("cosine_proximity", metrics.CosineSimilarity)]:
        m = metrics.get(name)
        assert isinstance(m, cls) and m.name == name
    assert metrics.get("kld").name == "kld" and metrics.get("kullback_leibler_divergence")
    assert metrics.get("squared_hinge")._fn is losses.squared_hinge

    def my_metric(y_true, y_pred):
        return K.mean(K.abs(y_true - y_pred), axis=-1)

    assert metrics.get(my_metric).name == "my_metric"
    assert metrics.get(metrics.binary_accuracy).name == "binary_accuracy"
    inst = metrics.AUC(name="roc")
    assert metrics.get(inst) is inst
    assert isinstance(metrics.get(metrics.Recall), metrics.Recall)
    assert metrics.get(None) is None
    cfg = metrics.serialize(metrics.BinaryAccuracy(threshold=0.3, name="ba"))
    again = metrics.get(cfg)
    assert isinstance(again, metrics.BinaryAccuracy) and again.threshold == 0.3 and again.name == "ba"
    assert metrics.get(metrics.serialize(metrics.AUC(curve="PR", thresholds=[0.2, 0.6]))).thresholds[1:-1] == [0.2, 0.6]
    with pytest.raises(ValueError, match="unknown metric 'accuracyy'; known: .*sparse_categorical_accuracy"):
        metrics.get("accuracyy")
    with pytest.raises(TypeError, match="cannot interpret 5 as a metric"):
        metrics.get(5)
    assert metrics.Precision().name == "precision" and metrics.AUC().name == "auc"


# ------------------------------------------------------------------------------------- TopK primitive
def test_topk_primitive_runs_folds_and_checks_k():
    x = np.array([[3, 1, 3, 2], [0, 5, 5, 5]], np.float32)
    run = compile_traced(lambda v: apply("TopK", [v], k=2), x)
    values, idx = run(x)
    np.testing.assert_array_equal(idx, [[0, 2], [1, 2]])  # ties: lower index first
    np.testing.assert_array_equal(values, [[3, 3], [5, 5]])
    cv, ci = get_op("TopK").compute({"k": 2}, x)
    np.testing.assert_array_equal(cv, values)
    np.testing.assert_array_equal(ci, idx)
    sv, si = get_op("TopK").compute({"k": 3, "largest": False, "axis": 0}, np.array([[4.0], [1.0], [4.0], [2.0]]))
    np.testing.assert_array_equal(si[:, 0], [1, 3, 0])
    with pytest.raises(ShapeError, match="TopK k=5 exceeds the size 4"):
        compile_traced(lambda v: apply("TopK", [v], k=5), x)
