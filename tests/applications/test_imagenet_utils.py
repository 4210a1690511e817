"""irgraph.applications.imagenet_utils and the Keras HDF5 weight reader (irgraph.saving_h5): local
weight and class-index files, Keras's argument rules, preprocess_input, decode_predictions, and
Keras's HDF5 layout (written here with h5py) loaded by name and by position."""
import json
import sys

import h5py
import numpy as np
import pytest

import irgraph
from irgraph import backend as K
from irgraph import layers
from irgraph.applications import imagenet_utils as iu
from irgraph.saving import ModelFileError
from irgraph.saving_h5 import load_hdf5_weights, read_hdf5_weights

VGG_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty $KERAS_HOME and an empty home directory: nothing of the machine's is found."""
    home, user = tmp_path / "keras_home", tmp_path / "user"
    (home / "models").mkdir(parents=True)
    user.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setenv("HOME", str(user))
    return home / "models"


# ------------------------------------------------------------------------------------ local files
def test_weights_path_none_and_existing_path(tmp_path):
    assert iu.weights_path(VGG_FILE, None, "VGG16") is None
    f = tmp_path / "w.h5"
    f.write_bytes(b"x")
    assert iu.weights_path(VGG_FILE, str(f), "VGG16") == str(f)


def test_weights_path_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        iu.weights_path(VGG_FILE, str(tmp_path / "absent.h5"), "VGG16")


def test_imagenet_file_found_in_keras_home_then_user_dir(keras_home, tmp_path):
    user_models = tmp_path / "user" / ".keras" / "models"
    user_models.mkdir(parents=True)
    (user_models / VGG_FILE).write_bytes(b"user")
    assert iu.weights_path(VGG_FILE, "imagenet", "VGG16") == str(user_models / VGG_FILE)
    (keras_home / VGG_FILE).write_bytes(b"home")
    assert iu.weights_path(VGG_FILE, "imagenet", "VGG16") == str(keras_home / VGG_FILE)


def test_missing_imagenet_file_says_which_where_and_url(keras_home, tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        iu.weights_path(VGG_FILE, "imagenet", "VGG16")
    msg = str(err.value)
    assert VGG_FILE in msg
    assert str(keras_home) in msg and str(tmp_path / "user" / ".keras" / "models") in msg
    assert "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + VGG_FILE in msg
    assert "never downloads" in msg
    assert isinstance(err.value, ValueError)  # Keras raises ValueError for a bad weights=


# ------------------------------------------------------------------------------- argument rules
def test_validate_weights_args():
    iu.validate_weights_args(None, True, 10)
    iu.validate_weights_args("imagenet", False, 10)
    iu.validate_weights_args("imagenet", True, 1000)
    with pytest.raises(ValueError, match="`classes` should be 1000. Received: classes=10"):
        iu.validate_weights_args("imagenet", True, 10)
    with pytest.raises(ValueError, match=r"`input_shape` should be \(224, 224, 3\)"):
        iu.validate_weights_args("imagenet", True, 1000, (64, 64, 3), (224, 224, 3))
    with pytest.raises(ValueError, match="`weights` argument should be either"):
        iu.validate_weights_args(3, True, 1000)
    with pytest.raises(FileNotFoundError, match="no such file"):
        iu.validate_weights_args("/no/such/weights.h5", True, 1000)


def test_validate_activation():
    iu.validate_activation("softmax", "imagenet")
    iu.validate_activation(None, "imagenet")
    iu.validate_activation("sigmoid", None)
    with pytest.raises(ValueError, match="Only `None` and `softmax`"):
        iu.validate_activation("sigmoid", "imagenet")


@pytest.mark.parametrize("args, expected", [
    ((None, 224, 32, "channels_last", True, "imagenet"), (224, 224, 3)),
    ((None, 224, 32, "channels_first", True, None), (3, 224, 224)),
    ((None, 224, 32, "channels_last", False, "imagenet"), (None, None, 3)),
    ((None, 224, 32, "channels_first", False, None), (3, None, None)),
    (((64, 48, 3), 224, 32, "channels_last", False, "imagenet"), (64, 48, 3)),
    (((64, 48, 1), 224, 32, "channels_last", True, None), (64, 48, 1)),
    ([[224, 224, 3], 224, 32, "channels_last", True, "imagenet"], (224, 224, 3)),
])
def test_obtain_input_shape(args, expected):
    assert iu.obtain_input_shape(*args) == expected


@pytest.mark.parametrize("args, message", [
    (((64, 64, 3), 224, 32, "channels_last", True, "imagenet"), r"`input_shape` should be \(224, 224, 3\)"),
    (((64, 64, 1), 224, 32, "channels_last", False, "imagenet"), "The input must have 3 channels"),
    (((1, 64, 64), 224, 32, "channels_first", False, "imagenet"), "The input must have 3 channels"),
    (((16, 64, 3), 224, 32, "channels_last", False, None), "Input size must be at least 32x32"),
    (((3, 64, 16), 224, 32, "channels_first", False, None), "Input size must be at least 32x32"),
    (((None, 64, 3), 224, 32, "channels_last", True, None), "you should specify a static `input_shape`"),
    (((64, 3), 224, 32, "channels_last", False, None), "must be a tuple of three integers"),
])
def test_obtain_input_shape_refuses(args, message):
    with pytest.raises(ValueError, match=message):
        iu.obtain_input_shape(*args)


def test_obtain_input_shape_warns_for_odd_channels():
    with pytest.warns(UserWarning, match="1 or 3 input channels.*5 input channels"):
        assert iu.obtain_input_shape((64, 64, 5), 224, 32, "channels_last", False, None) == (64, 64, 5)


# --------------------------------------------------------------------------------- preprocessing
PIXELS = np.array([[[[10.0, 20.0, 30.0], [255.0, 0.0, 127.5]]]], dtype="float32")  # (1, 1, 2, 3) RGB


def test_preprocess_caffe_hand_values():
    out = iu.preprocess_input(PIXELS.copy())
    expected = [[[[30 - 103.939, 20 - 116.779, 10 - 123.68], [127.5 - 103.939, 0 - 116.779, 255 - 123.68]]]]
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_preprocess_tf_and_torch_hand_values():
    np.testing.assert_allclose(iu.preprocess_input(PIXELS.copy(), mode="tf"),
                               [[[[10 / 127.5 - 1, 20 / 127.5 - 1, 30 / 127.5 - 1], [1, -1, 0]]]], rtol=1e-6, atol=1e-7)
    torch_expected = [[[[(10 / 255 - 0.485) / 0.229, (20 / 255 - 0.456) / 0.224, (30 / 255 - 0.406) / 0.225],
                        [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0.5 - 0.406) / 0.225]]]]
    np.testing.assert_allclose(iu.preprocess_input(PIXELS.copy(), mode="torch"), torch_expected, rtol=1e-5)


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_preprocess_channels_first_matches_channels_last(mode):
    last = iu.preprocess_input(PIXELS.copy(), mode=mode)
    first = iu.preprocess_input(PIXELS.transpose(0, 3, 1, 2).copy(), data_format="channels_first", mode=mode)
    np.testing.assert_allclose(first.transpose(0, 2, 3, 1), last, rtol=1e-6)
    one = iu.preprocess_input(PIXELS[0].transpose(2, 0, 1).copy(), data_format="channels_first", mode=mode)
    np.testing.assert_allclose(one.transpose(1, 2, 0), last[0], rtol=1e-6)  # a single image, 3-D


def test_preprocess_integers_become_floats_and_float_arrays_change_in_place():
    ints = np.array([[[[10, 20, 30]]]], dtype="uint8")
    out = iu.preprocess_input(ints, mode="tf")
    assert out.dtype == np.float32 and ints[0, 0, 0, 0] == 10
    floats = PIXELS.copy()
    iu.preprocess_input(floats, mode="tf")  # as Keras: the float array itself is changed
    np.testing.assert_allclose(floats, PIXELS / 127.5 - 1, rtol=1e-6)


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_preprocess_functional_tensor_matches_numpy(mode, data_format):
    shape = (4, 5, 3) if data_format == "channels_last" else (3, 4, 5)
    x = irgraph.Input(shape)
    model = irgraph.Model(x, iu.preprocess_input(x, data_format=data_format, mode=mode))
    images = np.random.default_rng(0).uniform(0, 255, (2,) + shape).astype("float32")
    expected = iu.preprocess_input(images.copy(), data_format=data_format, mode=mode)
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-4)


def test_preprocess_bad_mode():
    with pytest.raises(ValueError, match="Expected mode to be one of `caffe`, `tf` or `torch`"):
        iu.preprocess_input(PIXELS.copy(), mode="keras")


def test_module_preprocess_modes():
    from irgraph.applications import resnet, resnet50, vgg16, vgg19
    expected = iu.preprocess_input(PIXELS.copy(), mode="caffe")
    for module in (vgg16, vgg19, resnet, resnet50):
        np.testing.assert_allclose(module.preprocess_input(PIXELS.copy()), expected)
        assert module.decode_predictions is iu.decode_predictions


# ---------------------------------------------------------------------------- decode_predictions
def _write_class_index(directory):
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    (directory / iu.CLASS_INDEX_FILE).write_text(json.dumps(index))


def test_decode_predictions(keras_home):
    _write_class_index(keras_home)
    preds = np.zeros((2, 1000), dtype="float32")
    preds[0, [3, 7, 500]] = [0.2, 0.5, 0.3]
    preds[1, 999] = 1.0
    out = iu.decode_predictions(preds, top=3)
    assert [r[:2] for r in out[0]] == [("n00000007", "class_7"), ("n00000500", "class_500"), ("n00000003", "class_3")]
    np.testing.assert_allclose([r[2] for r in out[0]], [0.5, 0.3, 0.2])
    assert out[1][0][:2] == ("n00000999", "class_999") and len(out[1]) == 3
    assert len(iu.decode_predictions(preds)[0]) == 5


def test_decode_predictions_refuses_other_shapes(keras_home):
    _write_class_index(keras_home)
    with pytest.raises(ValueError, match=r"shape \(samples, 1000\).*\(2, 10\)"):
        iu.decode_predictions(np.zeros((2, 10)))
    with pytest.raises(ValueError, match=r"\(1000,\)"):
        iu.decode_predictions(np.zeros(1000))


def test_decode_predictions_missing_class_index(keras_home):
    with pytest.raises(FileNotFoundError) as err:
        iu.decode_predictions(np.zeros((1, 1000)))
    assert "imagenet_class_index.json" in str(err.value) and str(keras_home) in str(err.value)
    assert iu.CLASS_INDEX_URL in str(err.value)


def test_decode_predictions_bad_class_index(keras_home):
    (keras_home / iu.CLASS_INDEX_FILE).write_text(json.dumps({"0": ["a", "b"]}))
    with pytest.raises(ValueError, match="not the ImageNet class index"):
        iu.decode_predictions(np.zeros((1, 1000)))


# ------------------------------------------------------------------------------------ input_tensor
def test_image_input_new_input_and_existing_input():
    x, inputs = iu.image_input(None, (32, 32, 3))
    assert x is inputs and x.shape == (None, 32, 32, 3)
    given = irgraph.Input((32, 32, 3))
    x, inputs = iu.image_input(given, None)
    assert x is given and inputs is given


def test_image_input_expression_of_inputs_uses_its_source_inputs():
    a, b = irgraph.Input((8, 8, 3), name="a"), irgraph.Input((8, 8, 3), name="b")
    expr = layers.Add()([layers.Conv2D(3, 1)(a), b])
    x, inputs = iu.image_input(expr, None)
    assert x is expr and inputs == [a, b]


def test_input_tensor_extends_the_given_graph():
    from irgraph.applications import VGG16
    a = irgraph.Input((32, 32, 3))
    scaled = layers.Lambda(lambda t: t * 2.0)(a)
    model = VGG16(include_top=False, weights=None, input_tensor=scaled)
    assert model.inputs == [a] and model.output.shape == (None, 1, 1, 512)


def test_input_tensor_placeholder_is_the_model_input():
    from irgraph.applications import VGG16
    dream = K.placeholder((1, 32, 32, 3))
    model = VGG16(include_top=False, weights=None, input_tensor=dream)
    assert model.input is dream and model.layers[1].name == "block1_conv1"


def test_input_tensor_expression_of_variables_and_placeholder_as_keras2():
    """Style transfer's pattern: VGG19 on K.concatenate of two variables and a placeholder gets an
    Input(tensor=...) as its input (Keras 2's model: InputLayer then block1_conv1), which a
    K.function fed with the placeholder computes from the concatenation."""
    from irgraph.applications import VGG19
    rng = np.random.default_rng(0)
    content, style, generated = (rng.uniform(0, 255, (1, 32, 32, 3)).astype("float32") for _ in range(3))
    combination = K.placeholder((1, 32, 32, 3))
    joined = K.concatenate([K.variable(content), K.variable(style), combination], axis=0)
    model = VGG19(include_top=False, weights=None, input_tensor=joined)
    assert model.input.shape == (3, 32, 32, 3) and model.input is not joined
    assert [lyr.name for lyr in model.layers][1:3] == ["block1_conv1", "block1_conv2"]
    assert model.count_params() == 20_024_384  # the variables are not the model's weights
    features = K.function([combination], [model.get_layer("block4_conv2").output])([generated])[0]
    expected = irgraph.Model(model.input, model.get_layer("block4_conv2").output).predict(
        np.concatenate([content, style, generated]), verbose=0)
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


# ---------------------------------------------------------------------------------- HDF5 reader
def small_model():
    x = irgraph.Input((6,), name="in")
    h = layers.Dense(4, name="dense_a")(x)
    h = layers.BatchNormalization(name="bn")(h)
    return irgraph.Model(x, layers.Dense(2, name="dense_b")(h))


def random_weights(model, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in model.get_weights()]


def write_keras_h5(path, model, values, style="keras2", root_group=None, chunks=1, drop=(), reshape=None):
    """``values`` (in ``model.get_weights()`` order) in Keras's published HDF5 layout."""
    it = iter(values)
    with h5py.File(path, "w") as f:
        root = f.create_group(root_group) if root_group else f
        names = np.array([lyr.name.encode() for lyr in model.layers if lyr.name not in drop])
        for k, part in enumerate(np.array_split(names, chunks)):
            root.attrs["layer_names" if chunks == 1 else f"layer_names{k}"] = part
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.2.4" if style == "keras2" else b"3.3.3"
        for lyr in model.layers:
            weights = [next(it) for _ in lyr.weights]
            if lyr.name in drop:
                continue
            g = root.create_group(lyr.name)
            suffix = ":0" if style == "keras2" else ""
            wnames = [f"{lyr.name}/{v.name}{suffix}" for v in lyr.weights]
            if style == "keras2":  # fixed-length bytes, as Keras 2 wrote them
                g.attrs["weight_names"] = np.array([n.encode() for n in wnames], dtype="S")
            else:  # variable-length strings
                g.attrs.create("weight_names", wnames, dtype=h5py.string_dtype())
            for n, w in zip(wnames, weights):
                g.create_dataset(n, data=reshape(n, w) if reshape else w)


@pytest.mark.parametrize("style", ["keras2", "keras3"])
def test_model_load_weights_h5_by_position_and_by_name(tmp_path, style):
    model = small_model()
    values = random_weights(model)
    path = tmp_path / "w.h5"
    write_keras_h5(path, model, values, style=style)
    model.load_weights(str(path))
    for got, want in zip(model.get_weights(), values):
        np.testing.assert_array_equal(got, want)
    model.set_weights(random_weights(model, 1))
    model.load_weights(str(path), by_name=True)
    for got, want in zip(model.get_weights(), values):
        np.testing.assert_array_equal(got, want)


def test_h5_full_model_file_and_chunked_layer_names(tmp_path):
    model = small_model()
    values = random_weights(model, 3)
    path = tmp_path / "model.h5"
    write_keras_h5(path, model, values, root_group="model_weights", chunks=3)
    with h5py.File(path, "a") as f:
        f.attrs["model_config"] = b"{}"
    assert [s.name for s in read_hdf5_weights(path)] == [lyr.name for lyr in model.layers]
    model.load_weights(str(path))
    np.testing.assert_array_equal(model.get_weights()[0], values[0])


def test_h5_by_name_skips_layers_on_one_side_only(tmp_path):
    model = small_model()
    values = random_weights(model, 4)
    path = tmp_path / "w.h5"
    write_keras_h5(path, model, values, drop=("dense_b",))
    before = model.get_layer("dense_b").get_weights()
    model.load_weights(str(path), by_name=True)  # Keras 2: a layer absent from the file is left as it is
    np.testing.assert_array_equal(model.get_weights()[0], values[0])
    np.testing.assert_array_equal(model.get_layer("dense_b").get_weights()[0], before[0])
    with pytest.raises(ModelFileError, match="containing 2 layers into a model with 3 layers"):
        model.load_weights(str(path))  # by position the counts must agree
    with pytest.raises(ModelFileError, match="layers of the model missing from the file: dense_b"):
        iu.load_weights_into(model, str(path))  # the applications' strict by-name loading


def test_h5_shape_mismatch_names_layer_and_weight(tmp_path):
    model = small_model()
    path = tmp_path / "w.h5"
    write_keras_h5(path, model, random_weights(model),
                   reshape=lambda n, w: np.zeros((6, 5), "float32") if n == "dense_a/kernel:0" else w)
    before = model.get_weights()
    for by_name in (False, True):
        with pytest.raises(ModelFileError) as err:
            model.load_weights(str(path), by_name=by_name)
        msg = str(err.value)
        assert 'named "dense_a"' in msg and "dense_a/kernel" in msg and "(6, 4)" in msg and "(6, 5)" in msg
    for got, want in zip(model.get_weights(), before):  # nothing was set
        np.testing.assert_array_equal(got, want)
    with pytest.warns(UserWarning, match="Skipping loading of weights"):
        model.load_weights(str(path), by_name=True, skip_mismatch=True)
    np.testing.assert_array_equal(model.get_layer("dense_a").get_weights()[0], before[0])
    assert not np.array_equal(model.get_layer("dense_b").get_weights()[0], before[-2])


def test_h5_weight_count_mismatch(tmp_path):
    model = small_model()
    path = tmp_path / "w.h5"
    write_keras_h5(path, model, random_weights(model))
    with h5py.File(path, "a") as f:
        g = f["dense_b"]
        g.attrs["weight_names"] = np.array([b"dense_b/kernel:0"])
    with pytest.raises(ModelFileError, match=r'named "dense_b"\) expects 2 weight\(s\).*have 1 element'):
        model.load_weights(str(path), by_name=True)


def test_h5_not_keras_weights(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(ModelFileError, match="no 'layer_names' attribute"):
        small_model().load_weights(str(path))


def test_h5_without_h5py_says_how_to_install(tmp_path, monkeypatch):
    model = small_model()
    path = tmp_path / "w.h5"
    write_keras_h5(path, model, random_weights(model))
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"pip install irgraph\[h5\]"):
        model.load_weights(str(path))


def test_npz_weights_still_load_with_h5_suffix(tmp_path):
    model = small_model()
    values = random_weights(model, 5)
    model.set_weights(values)
    path = str(tmp_path / "mine.h5")  # irgraph's save_weights writes .npz whatever the suffix
    model.save_weights(path)
    model.set_weights(random_weights(model, 6))
    iu.load_weights_into(model, path)
    np.testing.assert_array_equal(model.get_weights()[0], values[0])


def test_load_hdf5_weights_refuses_skip_mismatch_by_position(tmp_path):
    model = small_model()
    path = tmp_path / "w.h5"
    write_keras_h5(path, model, random_weights(model))
    with pytest.raises(ValueError, match="skip_mismatch can only be set to True when by_name is True"):
        load_hdf5_weights(model, path, skip_mismatch=True)

