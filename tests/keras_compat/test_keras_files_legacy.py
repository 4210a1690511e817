"""Issue 11: Keras 2 (and Keras 1 spelling) ``.h5`` models, written here with h5py in the layout
Keras 2 used (root attributes ``model_config``/``training_config``/``keras_version``/``backend``,
weights under ``model_weights/<layer>/<layer>/<weight>:0`` listed by ``layer_names`` and
``weight_names``), read by irgraph; predictions checked against Keras 3 running the same
architecture with the same weights."""
import json

import h5py
import numpy as np
import pytest

from irgraph.models import load_model
from tests.keras_compat.keras_torch import keras


def write_keras2_h5(path, model_config, layer_weights, training_config=None, keras_version="2.2.4"):
    """A full-model file as Keras 2's ``save_model`` wrote it. ``layer_weights``: ``[(layer name,
    [(weight name, array)])]`` in model order, layers without weights included."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = keras_version.encode()
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(model_config).encode()
        if training_config is not None:
            f.attrs["training_config"] = json.dumps(training_config).encode()
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([n.encode() for n, _ in layer_weights])
        g.attrs["backend"], g.attrs["keras_version"] = b"tensorflow", keras_version.encode()
        for name, weights in layer_weights:
            lg = g.create_group(name)
            lg.attrs["weight_names"] = np.array([f"{name}/{w}:0".encode() for w, _ in weights])
            for w, value in weights:
                lg.create_dataset(f"{name}/{w}:0", data=value)


def _ref(name, inbound):
    return [[[r, 0, 0, {}] for r in inbound]] if inbound else []


def _layer(cls, name, config, inbound=()):
    return {"name": name, "class_name": cls, "config": dict(config, name=name), "inbound_nodes": _ref(name, inbound)}


GLOROT = {"class_name": "VarianceScaling", "config": {"scale": 1.0, "mode": "fan_avg",
                                                      "distribution": "uniform", "seed": None}}
ZEROS = {"class_name": "Zeros", "config": {}}


def keras2_functional_config():
    """Keras 2.2's functional config: an image branch (Conv2D, BatchNormalization, MaxPooling2D,
    Flatten) and a sequence branch (Embedding, LSTM) concatenated into two Dense layers."""
    dense = dict(trainable=True, use_bias=True, kernel_initializer=GLOROT, bias_initializer=ZEROS,
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None)
    layers = [
        _layer("InputLayer", "image", {"batch_input_shape": [None, 8, 8, 3], "dtype": "float32", "sparse": False}),
        _layer("Conv2D", "conv2d_1", dict(dense, filters=4, kernel_size=[3, 3], strides=[1, 1], padding="same",
                                          data_format="channels_last", dilation_rate=[1, 1], activation="relu"),
               ["image"]),
        _layer("BatchNormalization", "batch_normalization_1",
               {"trainable": True, "axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": True,
                "scale": True, "beta_initializer": ZEROS, "gamma_initializer": {"class_name": "Ones", "config": {}},
                "moving_mean_initializer": ZEROS, "moving_variance_initializer": {"class_name": "Ones", "config": {}},
                "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
                "gamma_constraint": None}, ["conv2d_1"]),
        _layer("MaxPooling2D", "max_pooling2d_1", {"trainable": True, "pool_size": [2, 2], "padding": "valid",
                                                   "strides": [2, 2], "data_format": "channels_last"},
               ["batch_normalization_1"]),
        _layer("Flatten", "flatten_1", {"trainable": True, "data_format": "channels_last"}, ["max_pooling2d_1"]),
        _layer("InputLayer", "words", {"batch_input_shape": [None, 6], "dtype": "int32", "sparse": False}),
        _layer("Embedding", "embedding_1", {"trainable": True, "batch_input_shape": [None, 6], "dtype": "float32",
                                            "input_dim": 50, "output_dim": 5,
                                            "embeddings_initializer": {"class_name": "RandomUniform", "config": {
                                                "minval": -0.05, "maxval": 0.05, "seed": None}},
                                            "embeddings_regularizer": None, "activity_regularizer": None,
                                            "embeddings_constraint": None, "mask_zero": False, "input_length": 6},
               ["words"]),
        _layer("LSTM", "lstm_1", dict(dense, units=7, activation="tanh", recurrent_activation="hard_sigmoid",
                                      recurrent_initializer={"class_name": "Orthogonal", "config": {"gain": 1.0,
                                                                                                    "seed": None}},
                                      unit_forget_bias=True, recurrent_regularizer=None, recurrent_constraint=None,
                                      dropout=0.0, recurrent_dropout=0.0, implementation=1,
                                      return_sequences=False, return_state=False, go_backwards=False,
                                      stateful=False, unroll=False), ["embedding_1"]),
        _layer("Concatenate", "concatenate_1", {"trainable": True, "axis": -1}, ["flatten_1", "lstm_1"]),
        _layer("Dense", "dense_1", dict(dense, units=6, activation="relu"), ["concatenate_1"]),
        _layer("Dense", "dense_2", dict(dense, units=3, activation="softmax"), ["dense_1"]),
    ]
    return {"class_name": "Model", "config": {"name": "model_1", "layers": layers,
                                              "input_layers": [["image", 0, 0], ["words", 0, 0]],
                                              "output_layers": [["dense_2", 0, 0]]}}


def keras3_twin():
    """The same architecture in Keras 3 (hard_sigmoid is Keras 3's own: x/6 + 0.5 clipped, while
    Keras 2's was 0.2x + 0.5; the twin uses a custom activation with Keras 2's formula)."""
    L = keras.layers
    image = keras.Input((8, 8, 3), name="image")
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="conv2d_1")(image)
    x = L.BatchNormalization(name="batch_normalization_1")(x)
    x = L.Flatten(name="flatten_1")(L.MaxPooling2D(2, name="max_pooling2d_1")(x))
    words = keras.Input((6,), dtype="int32", name="words")
    e = L.Embedding(50, 5, name="embedding_1")(words)
    h = L.LSTM(7, recurrent_activation=lambda t: keras.ops.clip(0.2 * t + 0.5, 0.0, 1.0), name="lstm_1")(e)
    x = L.Dense(6, activation="relu", name="dense_1")(L.Concatenate(name="concatenate_1")([x, h]))
    return keras.Model([image, words], L.Dense(3, activation="softmax", name="dense_2")(x))


def _weights(rng):
    r = lambda *s: rng.normal(0, 0.3, s).astype(np.float32)  # noqa: E731
    return [
        ("image", []),
        ("conv2d_1", [("kernel", r(3, 3, 3, 4)), ("bias", r(4))]),
        ("batch_normalization_1", [("gamma", 1 + r(4)), ("beta", r(4)), ("moving_mean", r(4)),
                                   ("moving_variance", 1 + np.abs(r(4)))]),
        ("max_pooling2d_1", []), ("flatten_1", []), ("words", []),
        ("embedding_1", [("embeddings", r(50, 5))]),
        ("lstm_1", [("kernel", r(5, 28)), ("recurrent_kernel", r(7, 28)), ("bias", r(28))]),
        ("concatenate_1", []),
        ("dense_1", [("kernel", r(4 * 4 * 4 + 7, 6)), ("bias", r(6))]),
        ("dense_2", [("kernel", r(6, 3)), ("bias", r(3))]),
    ]


def test_keras2_h5_model_loads_and_predicts(tmp_path):
    rng = np.random.default_rng(0)
    weights = _weights(rng)
    path = str(tmp_path / "keras2.h5")
    training = {"optimizer_config": {"class_name": "Adam", "config": {"lr": 0.001, "beta_1": 0.9, "beta_2": 0.999,
                                                                      "decay": 0.0, "epsilon": 1e-07,
                                                                      "amsgrad": False}},
                "loss": "categorical_crossentropy", "metrics": ["accuracy"], "sample_weight_mode": None,
                "loss_weights": None}
    write_keras2_h5(path, keras2_functional_config(), weights, training)
    model = load_model(path)
    twin = keras3_twin()
    twin.set_weights([v for _, ws in weights for _, v in ws])
    x = [rng.random((3, 8, 8, 3), dtype=np.float32), rng.integers(0, 50, (3, 6)).astype(np.int32)]
    np.testing.assert_allclose(model.predict(x, verbose=0), twin.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    assert type(model.optimizer).__name__ == "Adam"
    model.fit(x, np.eye(3, dtype=np.float32)[[0, 1, 2]], verbose=0)


def keras1_config():
    """Keras 1.2's spelling: Convolution2D with nb_filter/nb_row/nb_col, init, border_mode,
    subsample and dim_ordering; Dense with output_dim and init; a Merge layer (mode 'concat')."""
    layers = [
        _layer("InputLayer", "input_1", {"batch_input_shape": [None, 6, 6, 2], "input_dtype": "float32",
                                         "sparse": False}),
        _layer("Convolution2D", "convolution2d_1", {"nb_filter": 3, "nb_row": 3, "nb_col": 3, "init": "glorot_uniform",
                                                    "activation": "relu", "border_mode": "same", "subsample": [1, 1],
                                                    "dim_ordering": "tf", "W_regularizer": None, "b_regularizer": None,
                                                    "activity_regularizer": None, "W_constraint": None,
                                                    "b_constraint": None, "bias": True, "trainable": True},
               ["input_1"]),
        _layer("Flatten", "flatten_1", {"trainable": True}, ["convolution2d_1"]),
        _layer("InputLayer", "input_2", {"batch_input_shape": [None, 4], "input_dtype": "float32", "sparse": False}),
        _layer("Merge", "merge_1", {"mode": "concat", "concat_axis": -1, "dot_axes": -1, "mode_type": "raw",
                                    "output_shape": None, "output_shape_type": "raw", "output_mask": None,
                                    "output_mask_type": "raw", "arguments": {}}, ["flatten_1", "input_2"]),
        _layer("Dense", "dense_1", {"output_dim": 2, "init": "glorot_uniform", "activation": "linear",
                                    "W_regularizer": None, "b_regularizer": None, "activity_regularizer": None,
                                    "W_constraint": None, "b_constraint": None, "bias": True, "input_dim": 112,
                                    "trainable": True}, ["merge_1"]),
    ]
    return {"class_name": "Model", "config": {"name": "model_1", "layers": layers,
                                              "input_layers": [["input_1", 0, 0], ["input_2", 0, 0]],
                                              "output_layers": [["dense_1", 0, 0]]}}


def test_keras1_spelling_in_an_h5_model(tmp_path):
    rng = np.random.default_rng(1)
    kernel, bias = rng.normal(0, 0.3, (3, 3, 2, 3)).astype(np.float32), rng.normal(0, 0.3, 3).astype(np.float32)
    w, b = rng.normal(0, 0.3, (112, 2)).astype(np.float32), rng.normal(0, 0.3, 2).astype(np.float32)
    path = str(tmp_path / "keras1.h5")
    write_keras2_h5(path, keras1_config(), [
        ("input_1", []), ("convolution2d_1", [("convolution2d_1_W", kernel), ("convolution2d_1_b", bias)]),
        ("flatten_1", []), ("input_2", []), ("merge_1", []),
        ("dense_1", [("dense_1_W", w), ("dense_1_b", b)])], keras_version="1.2.2")
    model = load_model(path)
    x1, x2 = rng.random((2, 6, 6, 2), dtype=np.float32), rng.random((2, 4), dtype=np.float32)
    L = keras.layers
    a, c = keras.Input((6, 6, 2)), keras.Input((4,))
    y = L.Dense(2)(L.Concatenate()([L.Flatten()(L.Conv2D(3, 3, padding="same", activation="relu")(a)), c]))
    twin = keras.Model([a, c], y)
    twin.set_weights([kernel, bias, w, b])
    np.testing.assert_allclose(model.predict([x1, x2], verbose=0), twin.predict([x1, x2], verbose=0),
                               rtol=1e-5, atol=1e-5)


def test_weights_only_h5_is_not_a_model(tmp_path):
    from irgraph.saving import ModelFileError
    path = str(tmp_path / "weights.h5")
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([b"dense_1"])
        f.create_group("dense_1").attrs["weight_names"] = np.array([], dtype="S1")
    with pytest.raises(ModelFileError, match="model_config.*load_weights"):
        load_model(path)
