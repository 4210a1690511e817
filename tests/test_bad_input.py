"""Bad input, in user terms (issue 7, item 3): every wrong label, id, argument or shape raises a
ValueError or TypeError naming the layer, input or output, the expected and the actual value, and
what to do, instead of a silently wrong number or an onnxruntime/numpy/graph error."""
import re

import numpy as np
import pytest

import irgraph
from irgraph import backend as K
from irgraph import optimizers
from irgraph.layers import (LSTM, Activation, AveragePooling1D, BatchNormalization, Concatenate, Conv1D,
                            Conv2D, Dense, DepthwiseConv2D, Dot, Dropout, Embedding, Flatten, Input, Lambda,
                            LayerNormalization, MaxPooling2D, Permute, RepeatVector, Reshape, TimeDistributed,
                            UpSampling2D)
from irgraph.models import Model

X = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)


def classifier(n=3, loss="sparse_categorical_crossentropy", **compile_kw):
    i = Input((4,), name="x")
    model = Model(i, Dense(n, activation="softmax", name="out")(i))
    model.compile("sgd", loss, metrics=["accuracy"], **compile_kw)
    return model


def regressor(loss="mse"):
    i = Input((4,), name="x")
    model = Model(i, Dense(1, name="out")(i))
    model.compile("sgd", loss)
    return model


def embedding_model(input_dtype="int32", input_dim=10):
    i = Input((5,), dtype=input_dtype, name="ids")
    e = Embedding(input_dim, 3, name="emb")(i)
    model = Model(i, Dense(1, name="out")(Flatten()(e)))
    model.compile("sgd", "mse")
    return model


def generator(x, y, n=3):
    for _ in range(n):
        yield x, y


# --------------------------------------------------------------------------- sparse labels out of range
@pytest.mark.parametrize("label", [3, 7, -1])
@pytest.mark.parametrize("how", ["fit", "evaluate", "train_on_batch", "test_on_batch", "fit_generator",
                                 "evaluate_generator", "validation_data"])
def test_sparse_labels_out_of_range(label, how):
    model = classifier()
    y = np.zeros(8, np.int64)
    y[5] = label
    call = {
        "fit": lambda: model.fit(X, y, verbose=0),
        "evaluate": lambda: model.evaluate(X, y, verbose=0),
        "train_on_batch": lambda: model.train_on_batch(X, y),
        "test_on_batch": lambda: model.test_on_batch(X, y),
        "fit_generator": lambda: model.fit(generator(X, y), steps_per_epoch=2, verbose=0),
        "evaluate_generator": lambda: model.evaluate(generator(X, y), steps=2, verbose=0),
        "validation_data": lambda: model.fit(X, np.zeros(8, np.int64), validation_data=(X, y), verbose=0),
    }[how]
    with pytest.raises(ValueError) as err:
        call()
    msg = str(err.value)
    assert "output 'out'" in msg and "[0, 3)" in msg and "3 classes" in msg
    assert f"{label} at sample 5" in msg and "sparse_categorical_crossentropy" in msg and "Remap" in msg


def test_sparse_labels_must_be_whole_numbers():
    model = classifier()
    with pytest.raises(ValueError, match=r"output 'out' must be integer class indices.*1\.5 at sample 0"):
        model.fit(X, np.full(8, 1.5), verbose=0)


def test_sparse_labels_in_range_and_ignore_class_pass():
    model = classifier(loss=irgraph.losses.SparseCategoricalCrossentropy(ignore_class=-1))
    y = np.array([0, 1, 2, -1, 0, 1, 2, -1])
    assert np.isfinite(model.evaluate(X, y, verbose=0)[0])
    assert np.isfinite(classifier().evaluate(X, y % 3, verbose=0)[0])


# --------------------------------------------------------------------------- embedding ids
@pytest.mark.parametrize("bad", [-1, 10, 123])
@pytest.mark.parametrize("how", ["predict", "predict_on_batch", "call", "fit", "evaluate", "train_on_batch"])
def test_embedding_ids_out_of_range(bad, how):
    model = embedding_model()
    ids = np.random.default_rng(1).integers(0, 10, (8, 5)).astype(np.int32)
    model.predict_on_batch(ids)  # in range: fine (and the fast path is warm)
    ids[3, 2] = bad
    y = np.zeros((8, 1), np.float32)
    call = {"predict": lambda: model.predict(ids, verbose=0), "predict_on_batch": lambda: model.predict_on_batch(ids),
            "call": lambda: model(ids), "fit": lambda: model.fit(ids, y, verbose=0),
            "evaluate": lambda: model.evaluate(ids, y, verbose=0),
            "train_on_batch": lambda: model.train_on_batch(ids, y)}[how]
    before = model.get_weights()
    with pytest.raises(ValueError) as err:
        call()
    msg = str(err.value)
    assert "input 'ids'" in msg and "layer 'emb'" in msg and "input_dim=10" in msg and "[0, 10)" in msg
    assert f"{bad} at sample 3, position 2" in msg and "larger input_dim" in msg
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # nothing trained


def test_embedding_ids_through_reshape_nested_model_and_float_input():
    inner_in = Input((6,), name="tokens")
    inner = Model(inner_in, Flatten()(Embedding(4, 2, name="inner_emb")(Reshape((2, 3))(inner_in))), name="inner")
    x = Input((2, 6), name="seq")
    model = Model(x, TimeDistributed(inner)(x))
    ok = np.ones((2, 2, 6), np.float32) * 3
    model.predict(ok, verbose=0)
    with pytest.raises(ValueError, match=r"input 'seq' feeds the ids of layer '.*inner_emb'.*\[0, 4\)"):
        model.predict(ok + 1, verbose=0)
    with pytest.raises(ValueError, match=r"input 'seq'.*nan"):
        model.predict(np.full((2, 2, 6), np.nan, np.float32), verbose=0)


def test_int64_ids_beyond_int32_are_refused_not_wrapped():
    model = embedding_model()
    ids = np.zeros((2, 5), np.int64)
    ids[1, 4] = 2**32 + 1  # would wrap to 1, a valid row
    for call in (lambda: model.predict(ids, verbose=0), lambda: model.predict_on_batch(ids),
                 lambda: model.fit(ids, np.zeros((2, 1)), verbose=0)):
        with pytest.raises(ValueError) as err:
            call()
        msg = str(err.value)
        assert "input 'ids'" in msg and "int32" in msg and "4294967297" in msg and "wrap around" in msg


def test_integer_casts_that_overflow_are_refused_for_inputs_and_labels():
    i = Input((2,), dtype="int8", name="small")
    model = Model(i, Dense(1, name="out")(Lambda(lambda t: K.cast(t, "float32"))(i)))
    with pytest.raises(ValueError, match=r"input 'small' expects int8 values.*300"):
        model.predict(np.array([[1, 300]]), verbose=0)
    with pytest.raises(ValueError, match=r"input 'small' expects int8 values.*1e\+10|input 'small'.*10000000000"):
        model.predict(np.array([[1.0, 1e10]]), verbose=0)
    clf = classifier()
    with pytest.raises(ValueError, match="output 'out'"):
        clf.fit(X[:2], np.array([1, 2**63], np.uint64), verbose=0)


# --------------------------------------------------------------------------- empty data, arguments
def test_fit_and_evaluate_on_zero_samples():
    model = regressor()
    for call in (lambda: model.fit(np.zeros((0, 4), np.float32), np.zeros((0, 1)), verbose=0),
                 lambda: model.evaluate(np.zeros((0, 4), np.float32), np.zeros((0, 1)), verbose=0),
                 lambda: model.train_on_batch(np.zeros((0, 4), np.float32), np.zeros((0, 1)))):
        with pytest.raises(ValueError, match=r"input 'x' has 0 samples \(shape \(0, 4\)\).*at least one sample"):
            call()


@pytest.mark.parametrize("kw,words", [
    (dict(batch_size=0), "batch_size must be an integer >= 1, got 0"),
    (dict(batch_size=-3), "batch_size must be an integer >= 1, got -3"),
    (dict(epochs=-1), "epochs must be an integer >= 0, got -1"),
    (dict(validation_split=1.5), r"validation_split must be in \[0, 1\).*got 1.5"),
    (dict(validation_split=-0.1), r"validation_split must be in \[0, 1\)"),
    (dict(validation_freq=0), "validation_freq must be an integer >= 1, got 0"),
    (dict(steps_per_epoch=0), "steps_per_epoch must be an integer >= 1, got 0"),
])
def test_fit_argument_errors(kw, words):
    model = regressor()
    with pytest.raises(ValueError, match=words):
        model.fit(X, np.zeros((8, 1)), verbose=0, **kw)


def test_fit_argument_type_errors():
    model = regressor()
    with pytest.raises(TypeError, match=r"batch_size must be an integer >= 1, got 2\.5"):
        model.fit(X, np.zeros((8, 1)), batch_size=2.5, verbose=0)
    with pytest.raises(ValueError, match=r"evaluate\(\): batch_size must be an integer >= 1, got 0"):
        model.evaluate(X, np.zeros((8, 1)), batch_size=0, verbose=0)
    with pytest.raises(ValueError, match=r"evaluate\(\): steps must be an integer >= 1, got 0"):
        model.evaluate(X, np.zeros((8, 1)), steps=0, verbose=0)


def test_generator_with_zero_steps_per_epoch():
    model = regressor()
    with pytest.raises(ValueError, match=r"fit\(\): steps_per_epoch must be an integer >= 1, got 0"):
        model.fit(generator(X, np.zeros((8, 1))), steps_per_epoch=0, verbose=0)


def test_class_weight_keys_must_be_classes_of_the_output():
    model = classifier()
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    with pytest.raises(ValueError) as err:
        model.fit(X, y, class_weight={0: 1.0, 7: 2.0}, verbose=0)
    msg = str(err.value)
    assert "class_weight for output 'out'" in msg and "class 7" in msg and "3 classes (0..2)" in msg
    with pytest.raises(TypeError, match="keys must be integer class indices, got 'a'"):
        model.fit(X, y, class_weight={"a": 1.0}, verbose=0)
    with pytest.raises(ValueError, match="weight of class 1 must be a finite number >= 0, got -2.0"):
        model.fit(X, y, class_weight={1: -2.0}, verbose=0)
    model.fit(X, y, class_weight={1: 2.0}, verbose=0)  # a subset of the classes is fine, as in Keras
    binary = regressor("binary_crossentropy")
    with pytest.raises(ValueError, match="class 2, but the output has 2 classes"):
        binary.fit(X, np.ones(8), class_weight={0: 1.0, 2: 3.0}, verbose=0)


def test_class_weight_is_applied_per_class():
    model = classifier()
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    per_class = model.evaluate(X, y, verbose=0)[0]
    weighted = model.train_on_batch(X, y, class_weight={0: 0.0, 1: 0.0, 2: 0.0})
    assert weighted[0] == 0.0 and per_class > 0


def test_sample_weight_errors():
    model = regressor()
    y = np.zeros((8, 1))
    with pytest.raises(ValueError, match=r"sample_weight for output 'out' must have shape \(8,\).*got shape \(3,\)"):
        model.fit(X, y, sample_weight=np.ones(3), verbose=0)
    with pytest.raises(ValueError, match="sample_weight for output 'out' must be finite, got nan at sample 2"):
        model.fit(X, y, sample_weight=np.array([1, 1, np.nan, 1, 1, 1, 1, 1.0]), verbose=0)
    with pytest.raises(ValueError, match=r"per-timestep weights are not supported"):
        model.fit(X, y, sample_weight=np.ones((8, 3)), verbose=0)


# --------------------------------------------------------------------------- layer arguments
@pytest.mark.parametrize("make,layer_words,value_words", [
    (lambda: Conv2D(4, 3, strides=0), "Conv2D layer", "strides must be an integer >= 1, got 0"),
    (lambda: Conv2D(4, 0), "Conv2D layer", "kernel_size must be an integer >= 1, got 0"),
    (lambda: Conv2D(4, 3, dilation_rate=0), "Conv2D layer", "dilation_rate must be an integer >= 1, got 0"),
    (lambda: Conv2D(0, 3), "Conv2D layer", "positive number of filters"),
    (lambda: Conv2D(4, 3, strides=(1, -1)), "Conv2D layer", "strides must be an integer >= 1, got -1"),
    (lambda: Conv1D(4, 3, strides=0), "Conv1D layer", "strides must be an integer >= 1, got 0"),
    (lambda: DepthwiseConv2D(3, depth_multiplier=0), "DepthwiseConv2D layer", "depth_multiplier must be"),
    (lambda: MaxPooling2D(0), "MaxPooling2D layer", "pool_size must be an integer >= 1, got 0"),
    (lambda: MaxPooling2D(2, strides=0), "MaxPooling2D layer", "strides must be an integer >= 1, got 0"),
    (lambda: UpSampling2D(0), "UpSampling2D layer", "size must be an integer >= 1, got 0"),
    (lambda: Dense(0), "Dense layer", "positive number of units"),
    (lambda: Dense(-1), "Dense layer", "got -1"),
    (lambda: LSTM(0), "(LSTM)", "positive number of units"),
    (lambda: Embedding(0, 3), "Embedding layer", "input_dim"),
    (lambda: Embedding(10, 0), "Embedding layer", "output_dim"),
    (lambda: RepeatVector(0), "RepeatVector layer", r"n \(the number of repetitions\) must be an integer >= 1, got 0"),
    (lambda: Reshape((0, 4)), "Reshape layer", "target_shape"),
    (lambda: Dropout(1.5), "Dropout layer", r"rate in \[0, 1\).*1.5"),
    (lambda: LSTM(3, dropout=1.0), "(LSTM)", r"dropout must be in \[0, 1\)"),
])
def test_layer_sizes_must_be_positive(make, layer_words, value_words):
    with pytest.raises(ValueError) as err:
        make()
    assert layer_words in str(err.value)
    assert re.search(value_words, str(err.value)), str(err.value)


@pytest.mark.parametrize("make", [lambda: Dense(2.5), lambda: Conv2D(2.5, 3), lambda: Conv2D(2, 2.5),
                                  lambda: AveragePooling1D(1.5), lambda: Embedding(10.5, 2),
                                  lambda: Permute((1.5, 2)), lambda: Dense("3")])
def test_layer_sizes_are_not_truncated(make):
    with pytest.raises(TypeError, match=r"layer '.*(must be an|, an) integer.*got (2\.5|1\.5|10\.5|'3')"):
        make()


@pytest.mark.parametrize("make,shape,words", [
    (lambda: BatchNormalization(axis=5), (3, 4, 5), "BatchNormalization layer 'batch_normalization': axis 5 is "
                                                     r"out of range for input shape \(None, 3, 4, 5\)"),
    (lambda: BatchNormalization(axis=-5), (3, 4, 5), "axis -5 is out of range"),
    (lambda: LayerNormalization(axis=4), (3, 4, 5), "LayerNormalization layer .*axis 4 is out of range"),
    (lambda: LayerNormalization(axis=[1, -3]), (3, 4, 5), "names the same axis twice"),
    (lambda: Permute((3, 1)), (3, 4), r"Permute layer .*dims must be a permutation of 1..2.*\(3, 1\)"),
])
def test_axes_out_of_range_are_refused_not_taken_modulo(make, shape, words):
    with pytest.raises(ValueError, match=words):
        make()(Input(shape))


def test_merge_and_backend_axes_out_of_range():
    a, b = Input((3,)), Input((3,))
    with pytest.raises(ValueError, match=r"layer 'concatenate' \(Concatenate\): axis 5 is out of range"):
        Concatenate(axis=5)([a, b])
    with pytest.raises(ValueError, match=r"layer 'dot' \(Dot\): axes \(5, 5\) out of range"):
        Dot(axes=5)([a, b])
    with pytest.raises(ValueError, match=r"in layer 'lambda'.*Softmax.*axis 5 is out of range"):
        Lambda(lambda t: K.softmax(t, axis=5))(a)
    with pytest.raises(ValueError, match=r"in layer 'lambda_1' \(Lambda\): expand_dims: axis 5 is out of range"):
        Lambda(lambda t: K.expand_dims(t, 5))(a)
    with pytest.raises(ValueError, match=r"in layer 'lambda_2' \(Lambda\): one_hot: num_classes must be"):
        Lambda(lambda t: K.one_hot(K.cast(t, "int32"), 0))(a)
    with pytest.raises(TypeError, match=r"Concatenate\): axis must be an integer, got 1.5"):
        Concatenate(axis=1.5)
    Activation("softmax")(a)


def test_k_dot_contraction_dims_are_checked_in_shape_inference():
    a, b = Input((4,), name="a"), Input((5,), name="b")
    with pytest.raises(ValueError) as err:
        K.dot(a, b)
    msg = str(err.value)
    assert "in layer 'dot'" in msg and "(batch, 4) @ (batch, 5)" in msg and "batch axis" in msg
    assert "fixed size 4" in msg
    with pytest.raises(ValueError, match=r"\(batch, 4\) @ \(5, .*\) \(4 != 5\)"):
        K.dot(a, K.transpose(b))
    with pytest.raises(ValueError, match="batch_dot: the contracted axes differ in size"):
        K.batch_dot(a, b, axes=1)
    assert K.int_shape(K.dot(K.transpose(a), b)) == (4, 5)  # batch against batch is fine


# --------------------------------------------------------------------------- labels against outputs
def test_categorical_crossentropy_with_integer_labels():
    model = classifier(loss="categorical_crossentropy")
    for y in (np.array([0, 1, 2, 0, 1, 2, 0, 1]), np.array([[0], [1], [2], [0], [1], [2], [0], [1]])):
        with pytest.raises(ValueError) as err:
            model.fit(X, y, verbose=0)
        msg = str(err.value)
        assert "output 'out'" in msg and f"shape {y.shape}" in msg and "(None, 3)" in msg
        assert "sparse_categorical_crossentropy" in msg and "to_categorical(y, 3)" in msg


def test_sparse_loss_with_one_hot_labels():
    model = classifier()
    with pytest.raises(ValueError) as err:
        model.fit(X, np.eye(3)[np.arange(8) % 3], verbose=0)
    msg = str(err.value)
    assert "output 'out'" in msg and "(8, 3)" in msg and "(None,) or (None, 1)" in msg
    assert "categorical_crossentropy" in msg and "argmax" in msg


def test_labels_of_the_wrong_width():
    model = classifier(loss="categorical_crossentropy")
    with pytest.raises(ValueError) as err:
        model.fit(X, np.zeros((8, 5)), verbose=0)
    msg = str(err.value)
    assert "labels for output 'out' have shape (8, 5)" in msg and "(None, 3)" in msg
    assert "categorical_crossentropy" in msg and "loss/out" not in msg
    reg = regressor()
    with pytest.raises(ValueError, match=r"output 'out' have shape \(8, 2\).*\(None, 1\).*mean_squared_error"):
        reg.evaluate(X, np.zeros((8, 2)), verbose=0)


@pytest.mark.parametrize("loss", ["mse", "mae", "mape", "msle", "huber", "logcosh", "binary_crossentropy"])
def test_rank_1_labels_for_a_1_unit_output(loss):
    """Keras accepts (N,) labels for an (N, 1) output for these losses: same loss as (N, 1) labels."""
    y = (np.arange(8) % 2).astype(np.float32)
    irgraph.set_seed(5)
    a = regressor(loss)
    irgraph.set_seed(5)
    b = regressor(loss)
    b.set_weights(a.get_weights())
    assert np.isclose(a.evaluate(X, y, verbose=0), b.evaluate(X, y[:, None], verbose=0), rtol=1e-6)
    ha = a.fit(X, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    hb = b.fit(X, y[:, None], epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    assert np.allclose(ha, hb, rtol=1e-5)
    assert all(np.allclose(p, q, rtol=1e-5) for p, q in zip(a.get_weights(), b.get_weights()))


def test_label_count_and_dtype():
    model = regressor()
    with pytest.raises(ValueError, match=r"same number of samples.*output 'out' have 5 \(shape \(5, 1\)\), "
                                         r"the inputs 8"):
        model.fit(X, np.zeros((5, 1)), verbose=0)
    with pytest.raises(TypeError, match=r"labels for output 'out' must be numbers.*dtype <U1"):
        model.fit(X, np.array(["a"] * 8), verbose=0)


# --------------------------------------------------------------------------- inputs
def test_input_errors():
    model = regressor()
    with pytest.raises(ValueError, match=r"no target given for output 'out'"):
        model.fit(X, verbose=0)
    with pytest.raises(ValueError, match=r"no input data given: pass x"):
        model.fit(None, np.zeros((8, 1)), verbose=0)
    with pytest.raises(TypeError, match=r"input 'x' expects float32 values, got an array of dtype <U1"):
        model.predict(np.array([["a"] * 4]), verbose=0)
    # (2, 4, 1) is taken as (2, 4), as Keras 3 drops a last axis of 1; another rank is refused
    with pytest.raises(ValueError, match=r"input 'x' expects shape \(None, 4\) \(rank 2\), got .*\(2, 4, 3\)"):
        model.predict(np.zeros((2, 4, 3)), verbose=0)
    with pytest.raises(ValueError, match=r"name 'x' .*expected shape=\(None, 4\), found shape=\(2, 5\)"):
        model.fit(np.zeros((2, 5)), np.zeros((2, 1)), verbose=0)
    assert np.isnan(model.predict(np.full((2, 4), np.nan, np.float32), verbose=0)).all()  # NaN passes through


# --------------------------------------------------------------------------- audit: losses, metrics, predict, Input
def test_loss_and_metric_arguments():
    with pytest.raises(ValueError, match=r"CategoricalCrossentropy: label_smoothing must be a number in \[0, 1\], "
                                         r"got 2"):
        irgraph.losses.CategoricalCrossentropy(label_smoothing=2.0)
    with pytest.raises(ValueError, match=r"Huber: delta .* must be a number > 0, got -1"):
        irgraph.losses.Huber(delta=-1.0)
    with pytest.raises(ValueError, match="TopKCategoricalAccuracy: k must be an integer >= 1, got 0"):
        irgraph.metrics.TopKCategoricalAccuracy(k=0)
    with pytest.raises(ValueError, match="Precision metric 'precision': top_k must be an integer >= 1, got 0"):
        irgraph.metrics.Precision(top_k=0)
    model = classifier(loss="categorical_crossentropy")
    y = np.eye(3)[np.arange(8) % 3]
    model.compile("sgd", "categorical_crossentropy", metrics=[irgraph.metrics.Precision(class_id=7)])
    with pytest.raises(ValueError, match=r"output 'out'.*class_id 7 is out of range.*\(None, 3\) \(3 classes"):
        model.evaluate(X, y, verbose=0)
    model.compile("sgd", "categorical_crossentropy", metrics=["sparse_top_k_categorical_accuracy"])
    with pytest.raises(ValueError, match=r"metric of output 'out': sparse_top_k_categorical_accuracy expects integer "
                                         r"class labels.*got labels of shape \(None, 3\).*top_k_categorical_accuracy"):
        model.evaluate(X, y, verbose=0)
    with pytest.raises(TypeError, match="loss_weights for output 'out' must be a number, got 'a'"):
        model.compile("sgd", "mse", loss_weights=["a"])


def test_predict_arguments_and_missing_input():
    model = regressor()
    with pytest.raises(ValueError, match=r"predict\(\): batch_size must be an integer >= 1, got 0"):
        model.predict(X, batch_size=0, verbose=0)
    with pytest.raises(TypeError, match=r"predict\(\): batch_size must be an integer >= 1, got 2.5"):
        model.predict(X, batch_size=2.5, verbose=0)
    with pytest.raises(ValueError, match=r"predict\(\): steps must be an integer >= 1, got 0"):
        model.predict(iter([X]), steps=0, verbose=0)
    with pytest.raises(TypeError, match=r"input 'x' is missing \(got None\); pass an array of shape \(None, 4\)"):
        model.predict(None, verbose=0)


def test_input_shape_and_dtype():
    with pytest.raises(TypeError, match=r"Input shape dims must be whole numbers or None, got \(None, 2.5\)"):
        Input((2.5,))
    with pytest.raises(TypeError, match="Input dtype must be a numeric or bool dtype.*'string'"):
        Input((3,), dtype="string")
    with pytest.raises(ValueError, match=r"in layer 'lambda' \(Lambda\): repeat: n must be an integer >= 1, got 0"):
        Lambda(lambda t: K.repeat(t, 0))(Input((3,)))


def test_more_audit_cases():
    with pytest.raises(ValueError, match="ZeroPadding2D layer .*padding must be a non-negative int.*got 1.5"):
        irgraph.layers.ZeroPadding2D(1.5)
    model = regressor()
    with pytest.raises(ValueError, match=r"fit\(\): x is a generator.*do not pass y"):
        model.fit(generator(X, np.zeros((8, 1))), np.zeros((8, 1)), steps_per_epoch=1, verbose=0)
    with pytest.raises(ValueError, match=r"evaluate\(\): x is a generator.*do not pass y"):
        model.evaluate(generator(X, np.zeros((8, 1))), np.zeros((8, 1)), steps=1, verbose=0)
    floats = embedding_model(input_dtype="float32")
    with pytest.raises(ValueError, match=r"input 'ids' feeds the ids of layer 'emb'.*whole numbers; got 2.5 at "
                                         r"sample 1, position 0.*truncate"):
        floats.predict(np.array([[1, 2, 3, 4, 5], [2.5, 1, 1, 1, 1]], np.float32), verbose=0)
    assert floats.predict(np.ones((2, 5), np.float32), verbose=0).shape == (2, 1)
    seq = Input((3,), name="x")
    out = Dense(4, activation="softmax", name="out")(irgraph.layers.Reshape((3, 1))(seq))
    m = Model(seq, out)
    m.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="class_weight for output 'out' needs one label per sample"):
        m.fit(np.ones((2, 3)), np.zeros((2, 3), np.int64), class_weight={0: 1.0}, verbose=0)


@pytest.mark.parametrize("make, words", [
    (lambda: optimizers.SGD(learning_rate=-1), "`learning_rate` must be in [0, inf), got -1.0"),
    (lambda: optimizers.Adam(beta_1=1.5), "`beta_1` must be in [0, 1), got 1.5"),
    (lambda: optimizers.RMSprop(rho=1.0), "`rho` must be in [0, 1), got 1.0"),
    (lambda: optimizers.SGD(momentum=2), "`momentum` must be in [0, 1], got 2.0"),
    (lambda: optimizers.Adam(epsilon=float("nan")), "`epsilon` must be in [0, inf), got nan"),
    (lambda: optimizers.SGD(clipnorm=0), "`clipnorm` must be in (0, inf), got 0.0"),
    (lambda: optimizers.Adagrad(initial_accumulator_value=-1.0), "`initial_accumulator_value`"),
])
def test_optimizer_hyperparameters_out_of_range(make, words):
    with pytest.raises(ValueError) as err:
        make()
    assert words in str(err.value)


# ----------------------------------------------------------------------------- run-time size mismatches
def _masked_encoder():
    x = Input(shape=(None, 3), name="tokens")
    m = Input(shape=(None,), dtype="bool", name="token_mask")
    y = LSTM(4, name="encoder")(x, mask=m)
    return Model([x, m], y)


@pytest.mark.parametrize("call", ["predict_on_batch", "predict", "train_on_batch", "evaluate"])
def test_a_mask_of_another_length_than_its_sequence_names_the_layer_and_the_shapes(call, capfd):
    """Shapes that only disagree at run time reach onnxruntime: its failure comes back as a RunError
    naming the layer, the reason and the shapes given, with nothing printed by onnxruntime and the
    model still usable."""
    model = _masked_encoder()
    xs, bad_mask = np.ones((2, 5, 3), np.float32), np.ones((2, 4), bool)
    ys = np.zeros((2, 4), np.float32)
    model.compile("sgd", "mse")
    run = {"predict_on_batch": lambda m: model.predict_on_batch([xs, m]),
           "predict": lambda m: model.predict([xs, m], verbose=0),
           "train_on_batch": lambda m: model.train_on_batch([xs, m], ys),
           "evaluate": lambda m: model.evaluate([xs, m], ys, verbose=0)}[call]
    with pytest.raises(irgraph.runtime.RunError) as info:
        run(bad_mask)
    text = str(info.value)
    assert "layer 'encoder'" in text and "'tokens' (2, 5, 3)" in text and "'token_mask' (2, 4)" in text
    assert "a sequence and its mask" in text
    assert "onnxruntime" not in capfd.readouterr().err
    weights = model.get_weights()
    out = run(np.ones((2, 5), bool))  # the same model with a matching mask: works, nothing was committed
    assert np.all(np.isfinite(out))
    if call == "train_on_batch":
        assert not all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
