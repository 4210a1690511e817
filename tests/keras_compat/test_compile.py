"""compile(): every loss/metric structure Keras 3 accepts, the History keys Keras 3 names, and the
errors Keras 3 raises for keys and lengths that do not fit the model's outputs.

Mirrors keras/src/trainers/compile_utils_test.py and the compile tests of keras/src/models/model_test.py
(behaviours, not code). Differences kept on purpose: irgraph raises the structure errors in `compile`
(Keras raises them when the loss/metrics are first built, at the first `fit`/`evaluate`), and the Keras 2
spellings (one loss for all outputs, a flat metrics list given to every output) still work.
"""
import numpy as np
import pytest

from irgraph.layers import Dense, Input
from irgraph.models import Model


def two_outputs():
    x = Input(shape=(4,), name="x")
    h = Dense(6, activation="relu", name="h")(x)
    return Model(x, [Dense(2, name="reg")(h), Dense(1, activation="sigmoid", name="cls")(h)])


def one_output():
    x = Input(shape=(4,), name="x")
    return Model(x, Dense(2, name="reg")(x))


def data(n=32):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    reg = rng.standard_normal((n, 2)).astype(np.float32)
    cls = (rng.random((n, 1)) > 0.5).astype(np.float32)
    return x, reg, cls


def history_keys(model, y, **kw):
    x = data()[0]
    return sorted(model.fit(x, y, epochs=1, batch_size=16, verbose=0, **kw).history)


def raises_on_first_batch(model, exc, match, *args, **kwargs):
    """Keras 3 takes these in compile and raises when it builds the losses and metrics on the first
    batch: compile returns, then fit and evaluate raise."""
    model.compile(*args, **kwargs)
    x, reg, cls = data(8)
    for run in (lambda: model.fit(x, [reg, cls], verbose=0), lambda: model.evaluate(x, [reg, cls], verbose=0)):
        with pytest.raises(exc, match=match):
            run()


def mse(t, p):
    return float(np.mean((t - p) ** 2))


def mae(t, p):
    return float(np.mean(np.abs(t - p)))


# keras/src/trainers/compile_utils_test.py::TestCompileMetrics::test_single_output_case
def test_same_metric_in_metrics_and_weighted_metrics_single_output():
    x, reg, _ = data()
    w = np.where(np.arange(len(x)) % 2 == 0, 1.0, 0.0).astype(np.float32)
    model = one_output()
    model.compile("sgd", "mse", metrics=["mae"], weighted_metrics=["mae"])
    logs = model.evaluate(x, reg, sample_weight=w, batch_size=32, verbose=0, return_dict=True)
    assert sorted(logs) == ["loss", "mae", "weighted_mae"]
    p = model.predict(x, verbose=0)
    assert logs["mae"] == pytest.approx(mae(reg, p), rel=1e-5)
    assert logs["weighted_mae"] == pytest.approx(mae(reg[w == 1], p[w == 1]), rel=1e-5)


# keras/src/trainers/compile_utils_test.py::TestCompileMetrics::test_name_conversions
def test_weighted_metric_alone_keeps_its_name():
    model = one_output()
    model.compile("sgd", "mse", weighted_metrics=["mae"])
    assert history_keys(model, data()[1]) == ["loss", "mae"]


# keras/src/trainers/compile_utils_test.py::TestCompileMetrics::test_list_output_case
def test_nested_per_output_metric_lists():
    x, reg, cls = data()
    model = two_outputs()
    model.compile("sgd", ["mse", "binary_crossentropy"], metrics=["mae", ["accuracy"]],
                  weighted_metrics=[["mae"], "accuracy"])
    logs = model.evaluate(x, [reg, cls], batch_size=32, verbose=0, return_dict=True)
    assert sorted(logs) == ["cls_accuracy", "cls_loss", "cls_weighted_accuracy", "loss", "reg_loss",
                            "reg_mae", "reg_weighted_mae"]
    p_reg, p_cls = model.predict(x, verbose=0)
    assert logs["reg_mae"] == pytest.approx(mae(reg, p_reg), rel=1e-5)
    assert logs["cls_accuracy"] == pytest.approx(float(np.mean((p_cls > 0.5) == cls)), rel=1e-6)


# keras/src/trainers/compile_utils_test.py::TestCompileMetrics::test_dict_output_case
def test_dict_metrics_with_lists_and_missing_outputs():
    x, reg, cls = data()
    model = two_outputs()
    model.compile("sgd", {"reg": "mse", "cls": "binary_crossentropy"}, metrics={"cls": ["accuracy"]},
                  weighted_metrics={"reg": "mse"})
    assert history_keys(model, [reg, cls]) == ["cls_accuracy", "cls_loss", "loss", "reg_loss", "reg_mse"]


# keras/src/trainers/compile_utils_test.py::TestCompileMetrics::test_name_conversions (repeats)
def test_repeated_metric_is_numbered():
    model = one_output()
    model.compile("sgd", "mse", metrics=["mae", "mae"], weighted_metrics=["mae", "mae"])
    assert history_keys(model, data()[1]) == ["loss", "mae", "mae_1", "weighted_mae", "weighted_mae_1"]


# keras/src/trainers/compile_utils_test.py::TestCompileLoss::test_list_loss_dict_data
def test_losses_as_list_and_dict_give_the_same_keys_and_values():
    x, reg, cls = data()
    as_list, as_dict = two_outputs(), two_outputs()
    as_dict.set_weights(as_list.get_weights())
    as_list.compile("sgd", ["mse", "binary_crossentropy"], loss_weights=[0.5, 2.0])
    as_dict.compile("sgd", {"cls": "binary_crossentropy", "reg": "mse"}, loss_weights={"reg": 0.5, "cls": 2.0})
    a = as_list.evaluate(x, [reg, cls], batch_size=32, verbose=0, return_dict=True)
    b = as_dict.evaluate(x, [reg, cls], batch_size=32, verbose=0, return_dict=True)
    assert sorted(a) == sorted(b) == ["cls_loss", "loss", "reg_loss"]
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-6)
    assert a["loss"] == pytest.approx(0.5 * a["reg_loss"] + 2.0 * a["cls_loss"], rel=1e-5)
    assert a["reg_loss"] == pytest.approx(mse(reg, as_list.predict(x, verbose=0)[0]), rel=1e-5)


# keras/src/trainers/compile_utils_test.py::TestCompileLoss::test_struct_loss (nested per-output list)
def test_nested_single_loss_per_output():
    model = two_outputs()
    model.compile("sgd", [["mse"], ["binary_crossentropy"]])
    assert history_keys(model, list(data()[1:])) == ["cls_loss", "loss", "reg_loss"]


# keras/src/trainers/compile_utils_test.py::TestCompileLoss::test_partial_loss
@pytest.mark.parametrize("loss", [["mse", None], {"reg": "mse", "cls": None}, ["mse"]])
def test_loss_for_only_some_outputs(loss):
    x, reg, cls = data()
    model = two_outputs()
    heads = {name: [w.copy() for w in model.get_layer(name).get_weights()] for name in ("reg", "cls")}
    model.compile("sgd", loss, metrics={"cls": "accuracy"})
    keys = history_keys(model, [reg, cls])
    assert keys == ["cls_accuracy", "loss"]  # one loss: no `<output>_loss` key (Keras 3)
    for name, before in heads.items():
        after = model.get_layer(name).get_weights()
        unchanged = all(np.array_equal(a, b) for a, b in zip(after, before))
        assert unchanged == (name == "cls"), name  # the head without a loss does not train


# keras/src/trainers/compile_utils_test.py::TestCompileLoss::test_single_output_case
def test_single_output_loss_in_a_list_or_dict():
    for loss in (["mse"], {"reg": "mse"}, [["mse"]]):
        model = one_output()
        model.compile("sgd", loss, metrics=[["mae"]])
        assert history_keys(model, data()[1]) == ["loss", "mae"]


# keras/src/trainers/compile_utils_test.py::TestCompileMetrics (dict key check in _build_metrics_set)
@pytest.mark.parametrize("arg", ["metrics", "weighted_metrics"])
def test_metrics_dict_with_unknown_output(arg):
    model = two_outputs()
    raises_on_first_batch(model, ValueError, rf"In the dict argument `{arg}`, key 'nope' does not correspond "
                          "to any model output", "sgd", "mse", **{arg: {"nope": ["mae"]}})


# keras/src/trainers/compile_utils_test.py::TestCompileMetrics (list length check)
def test_metrics_list_of_wrong_length():
    model = two_outputs()
    raises_on_first_batch(model, ValueError, r"(?s)should have as many entries as the model has outputs.*"
                          r"of length 3 whereas the model has 2 outputs", "sgd", "mse",
                          metrics=[["mae"], ["mae"], ["mae"]])


# keras/src/trainers/compile_utils.py::CompileLoss.build (loss dict keys)
def test_loss_dict_with_unknown_output():
    model = two_outputs()
    raises_on_first_batch(model, ValueError, r"Expected keys \['reg', 'cls'\] in loss dict, but found "
                          r"loss.keys\(\)=\['reg', 'nope'\]", "sgd", {"reg": "mse", "nope": "mse"})


# keras/src/trainers/compile_utils_test.py::TestCompileLoss (path not found in y_pred)
def test_loss_list_longer_than_outputs():
    model = two_outputs()
    raises_on_first_batch(model, KeyError, r"The path: \(2,\) in the `loss` argument, can't be found",
                          "sgd", ["mse", "mse", "mse"])


# keras/src/trainers/compile_utils.py::CompileLoss.build (loss_weights count)
def test_loss_weights_of_wrong_length():
    model = two_outputs()
    raises_on_first_batch(model, ValueError, r"`loss_weights` must match the number of losses",
                          "sgd", ["mse", "mse"], loss_weights=[1.0, 1.0, 1.0])
