"""VGG16, VGG19, ResNet50/101/152: Keras's parameter counts and output shapes, predictions against
PyTorch CPU implementations written here (weights mapped from Keras's layouts), and weight files in
Keras's published HDF5 layout (written here with h5py) loaded through ``weights=``."""
import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import irgraph
from irgraph import backend as K
from irgraph.applications import VGG16, VGG19, ResNet50, ResNet101, ResNet152, resnet, resnet50, vgg16, vgg19
from irgraph.saving import ModelFileError
from irgraph.saving_h5 import keras_layer_order

# Keras's documented totals (keras.io/api/applications; Keras's own tests of the applications)
KERAS_PARAMS = {  # with the top, without it
    "VGG16": (138_357_544, 14_714_688),
    "VGG19": (143_667_240, 20_024_384),
    "ResNet50": (25_636_712, 23_587_712),
    "ResNet101": (44_707_176, 42_658_176),
    "ResNet152": (60_419_944, 58_370_944),
}
BUILDERS = {"VGG16": VGG16, "VGG19": VGG19, "ResNet50": ResNet50, "ResNet101": ResNet101, "ResNet152": ResNet152}
FEATURES = {"VGG16": 512, "VGG19": 512, "ResNet50": 2048, "ResNet101": 2048, "ResNet152": 2048}


# --------------------------------------------------------------------------- counts and shapes
@pytest.mark.parametrize("name", list(BUILDERS))
def test_parameter_count_with_top(name):
    # VGG's Flatten+Dense top needs the full 224x224 input for Keras's count; ResNet's top
    # (global pooling + Dense) does not depend on the input size, so a small input is enough
    shape = (224, 224, 3) if name.startswith("VGG") else (32, 32, 3)
    model = BUILDERS[name](weights=None, input_shape=shape)
    assert model.count_params() == KERAS_PARAMS[name][0]
    assert model.output.shape == (None, 1000)
    assert model.get_layer("predictions").get_weights()[0].shape == (FEATURES[name] if name.startswith("Res")
                                                                      else 4096, 1000)


@pytest.mark.parametrize("name", list(BUILDERS))
@pytest.mark.parametrize("pooling", [None, "avg", "max"])
def test_parameter_count_and_shape_without_top(name, pooling):
    model = BUILDERS[name](include_top=False, weights=None, input_shape=(64, 64, 3), pooling=pooling)
    assert model.count_params() == KERAS_PARAMS[name][1]
    c = FEATURES[name]
    assert model.output.shape == ((None, 2, 2, c) if pooling is None else (None, c))


def test_default_shapes_and_names():
    model = VGG16(include_top=False, weights=None)
    assert model.input.shape == (None, None, None, 3) and model.output.shape == (None, None, None, 512)
    assert model.name == "vgg16"
    assert [lyr.name for lyr in model.layers[1:5]] == ["block1_conv1", "block1_conv2", "block1_pool", "block2_conv1"]
    model = ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="max")
    names = [lyr.name for lyr in model.layers]
    assert model.name == "resnet50" and len(model.layers) == 176  # Keras: 175 without top, + max_pool
    assert names[1:7] == ["conv1_pad", "conv1_conv", "conv1_bn", "conv1_relu", "pool1_pad", "pool1_pool"]
    assert names[-1] == "max_pool" and "conv5_block3_out" in names and "conv2_block1_0_conv" in names
    assert [v.name for v in model.get_layer("conv1_bn").weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert model.get_layer("conv1_bn").epsilon == pytest.approx(1.001e-5)
    assert resnet50.ResNet50 is resnet.ResNet50 and vgg19.preprocess_input is vgg16.preprocess_input


def test_classes_and_classifier_activation():
    model = ResNet50(weights=None, input_shape=(32, 32, 3), classes=10, classifier_activation=None)
    assert model.output.shape == (None, 10)
    assert model.get_layer("predictions").get_config()["activation"] == "linear"  # logits, no softmax
    model = VGG16(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg", classes=10)
    assert model.output.shape == (None, 512)  # classes only matter with the top


# ------------------------------------------------------------------------------ argument errors
def test_imagenet_with_top_and_other_classes_is_refused():
    with pytest.raises(ValueError, match="`classes` should be 1000"):
        VGG16(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match="`classes` should be 1000"):
        ResNet152(weights="imagenet", classes=10)


def test_imagenet_with_top_and_other_input_shape_is_refused():
    with pytest.raises(ValueError, match=r"`input_shape` should be \(224, 224, 3\)"):
        ResNet50(weights="imagenet", input_shape=(64, 64, 3))


def test_other_errors_for_people():
    with pytest.raises(ValueError, match="Input size must be at least 32x32"):
        VGG16(include_top=False, weights=None, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="`pooling` should be None, 'avg' or 'max'"):
        ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="sum")
    with pytest.raises(TypeError, match="unexpected keyword arguments: colour"):
        VGG19(weights=None, colour=True)
    with pytest.raises(ValueError, match="Only `None` and `softmax`"):
        VGG16(weights="imagenet", classifier_activation="sigmoid")
    VGG16(include_top=False, weights=None, input_shape=(32, 32, 3), backend=None, layers=None)  # Keras 2's injected modules


def test_missing_imagenet_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    with pytest.raises(FileNotFoundError) as err:
        ResNet101(include_top=False, weights="imagenet")
    msg = str(err.value)
    assert "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5" in msg
    assert str(tmp_path / "keras" / "models") in msg and str(tmp_path / "user" / ".keras" / "models") in msg
    assert ("https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
            "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5") in msg
    with pytest.raises(FileNotFoundError, match="vgg19_weights_tf_dim_ordering_tf_kernels.h5"):
        VGG19(weights="imagenet")
    with pytest.raises(FileNotFoundError, match="no such file"):
        VGG16(weights=str(tmp_path / "mine.h5"))


# ------------------------------------------------------------------------- PyTorch references
def conv_weight(kernel):
    """Keras (kh, kw, in, out) -> PyTorch (out, in, kh, kw)."""
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def torch_vgg(model, x_nhwc, convs_per_block, include_top):
    """VGG written with torch.nn.functional from the irgraph model's weights, by layer name."""
    x = t(x_nhwc).permute(0, 3, 1, 2)
    for b, n in enumerate(convs_per_block, start=1):
        for c in range(1, n + 1):
            kernel, bias = model.get_layer(f"block{b}_conv{c}").get_weights()
            x = F.relu(F.conv2d(x, conv_weight(kernel), t(bias), padding=1))
        x = F.max_pool2d(x, 2, 2)
    if not include_top:
        return x.permute(0, 2, 3, 1).numpy()
    x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # Keras flattens channels last
    for name, act in (("fc1", F.relu), ("fc2", F.relu), ("predictions", lambda v: F.softmax(v, dim=1))):
        kernel, bias = model.get_layer(name).get_weights()
        x = act(F.linear(x, t(kernel.T), t(bias)))
    return x.numpy()


def torch_bn(model, name, x):
    gamma, beta, mean, var = (t(w) for w in model.get_layer(name).get_weights())
    return F.batch_norm(x, mean, var, gamma, beta, training=False, eps=1.001e-5)


def torch_conv(model, name, x, stride=1, padding=0):
    kernel, bias = model.get_layer(name).get_weights()
    return F.conv2d(x, conv_weight(kernel), t(bias), stride=stride, padding=padding)


def torch_resnet(model, x_nhwc, blocks, include_top):
    """ResNet v1 (stride on the first 1x1 conv, as Keras's) from the irgraph model's weights."""
    x = F.pad(t(x_nhwc).permute(0, 3, 1, 2), (3, 3, 3, 3))
    x = F.relu(torch_bn(model, "conv1_bn", torch_conv(model, "conv1_conv", x, stride=2)))
    x = F.max_pool2d(F.pad(x, (1, 1, 1, 1)), 3, 2)
    for s, (n, filters) in enumerate(zip(blocks, (64, 128, 256, 512)), start=2):
        for i in range(1, n + 1):
            p = f"conv{s}_block{i}"
            stride = 2 if (i == 1 and s > 2) else 1
            shortcut = torch_bn(model, f"{p}_0_bn", torch_conv(model, f"{p}_0_conv", x, stride)) if i == 1 else x
            y = F.relu(torch_bn(model, f"{p}_1_bn", torch_conv(model, f"{p}_1_conv", x, stride)))
            y = F.relu(torch_bn(model, f"{p}_2_bn", torch_conv(model, f"{p}_2_conv", y, padding=1)))
            y = torch_bn(model, f"{p}_3_bn", torch_conv(model, f"{p}_3_conv", y))
            x = F.relu(shortcut + y)
    if not include_top:
        return x.permute(0, 2, 3, 1).numpy()
    kernel, bias = model.get_layer("predictions").get_weights()
    return F.softmax(F.linear(x.mean(dim=(2, 3)), t(kernel.T), t(bias)), dim=1).numpy()


def randomise_batchnorm(model, seed=0):
    """Non-trivial BatchNormalization statistics (fresh ones are the identity), kept in a range
    where 50 residual blocks stay finite."""
    rng = np.random.default_rng(seed)
    for lyr in model.layers:
        if isinstance(lyr, irgraph.layers.BatchNormalization):
            c = lyr.get_weights()[0].shape[0]
            lyr.set_weights([rng.uniform(0.5, 1.0, c), rng.normal(0, 0.1, c), rng.normal(0, 0.1, c),
                             rng.uniform(0.5, 1.5, c)])


def assert_close(got, want):
    assert got.shape == want.shape
    scale = float(np.abs(want).max())
    assert scale > 0
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(scale, 1.0))


def images(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype("float32")


def test_vgg19_features_match_pytorch():
    model = VGG19(include_top=False, weights=None, input_shape=(32, 32, 3))
    x = images((2, 32, 32, 3))
    assert_close(model.predict(x, verbose=0), torch_vgg(model, x, (2, 2, 4, 4, 4), include_top=False))


def test_resnet50_features_match_pytorch():
    model = ResNet50(include_top=False, weights=None, input_shape=(64, 64, 3))
    randomise_batchnorm(model)
    x = images((2, 64, 64, 3), 2)
    assert_close(model.predict(x, verbose=0), torch_resnet(model, x, (3, 4, 6, 3), include_top=False))


def test_vgg16_with_top_matches_pytorch_in_both_formats():
    """The same Keras-layout weights give the same predictions in both formats (Flatten reads
    channels_first maps in channels_last order, as Keras's, so fc1's weights need no change)."""
    x = images((2, 64, 64, 3), 1) * 50
    last = VGG16(weights=None, input_shape=(64, 64, 3), classes=10)  # Flatten of 2x2x512: the order matters
    want = torch_vgg(last, x, (2, 2, 3, 3, 3), include_top=True)
    assert want.std() > 1e-3  # not a constant output
    assert_close(last.predict(x, verbose=0), want)
    K.set_image_data_format("channels_first")
    first = VGG16(weights=None, input_shape=(3, 64, 64), classes=10)
    first.set_weights(last.get_weights())
    assert first.get_layer("block5_pool").output.shape == (None, 512, 2, 2)
    assert_close(first.predict(x.transpose(0, 3, 1, 2), verbose=0), want)
    resnet_first = ResNet50(include_top=False, weights=None, input_shape=(3, 32, 32))
    assert resnet_first.get_layer("conv1_bn").axis in (1, [1], (1,))  # normalises the channels
    assert resnet_first.output.shape == (None, 2048, 1, 1)


# --------------------------------------------------------------------- published HDF5 layout
# Keras's model.layers around ResNet50's first block (keras.io's model.summary(); Keras 2's
# Network and Keras 3's Functional order layers by decreasing depth, ties by a depth-first walk
# from the outputs): the order of the published files' layer_names
KERAS_RESNET_BLOCK_ORDER = [
    "pool1_pool", "conv2_block1_1_conv", "conv2_block1_1_bn", "conv2_block1_1_relu", "conv2_block1_2_conv",
    "conv2_block1_2_bn", "conv2_block1_2_relu", "conv2_block1_0_conv", "conv2_block1_3_conv",
    "conv2_block1_0_bn", "conv2_block1_3_bn", "conv2_block1_add", "conv2_block1_out", "conv2_block2_1_conv"]


def test_keras_layer_order_of_resnet():
    order = [lyr.name for lyr in keras_layer_order(ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3)))]
    start = order.index("pool1_pool")
    assert order[start:start + len(KERAS_RESNET_BLOCK_ORDER)] == KERAS_RESNET_BLOCK_ORDER
    assert len(order) == 175 and order[-1] == "conv5_block3_out"


def write_published_h5(path, model, keras3_names=False, rename=None):
    """The model's weights as Keras publishes them: root ``layer_names`` (every layer, weightless
    ones too, in Keras's layer order), a group per layer with ``weight_names`` and one dataset per
    name. ``rename``: {layer name in the model: its name in the file}."""
    suffix = "" if keras3_names else ":0"
    rename = rename or {}
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([rename.get(lyr.name, lyr.name).encode() for lyr in keras_layer_order(model)])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"3.3.3" if keras3_names else b"2.2.4"
        for lyr in model.layers:
            name = rename.get(lyr.name, lyr.name)
            g = f.create_group(name)
            names = [f"{name}/{v.name}{suffix}" for v in lyr.weights]
            g.attrs["weight_names"] = np.array([n.encode() for n in names], dtype="S")
            for n, value in zip(names, lyr.get_weights()):
                g.create_dataset(n, data=value)


def test_vgg16_notop_published_file_loads_as_imagenet_and_matches_pytorch(tmp_path, monkeypatch):
    source = VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    (tmp_path / "models").mkdir()
    write_published_h5(tmp_path / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", source)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    irgraph.set_seed(99)  # the new model's own random weights differ from the file's
    model = VGG16(include_top=False, weights="imagenet", input_shape=(32, 32, 3))
    for a, b in zip(model.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = images((2, 32, 32, 3), 5)
    assert_close(model.predict(x, verbose=0), torch_vgg(source, x, (2, 2, 3, 3, 3), include_top=False))


def test_resnet50_file_with_keras3_names_loads_and_matches_pytorch(tmp_path):
    source = ResNet50(weights=None, input_shape=(32, 32, 3), classes=7)
    randomise_batchnorm(source, 2)
    path = tmp_path / "resnet50_mine.h5"
    write_published_h5(path, source, keras3_names=True)
    model = ResNet50(weights=str(path), input_shape=(32, 32, 3), classes=7)
    for a, b in zip(model.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = images((2, 32, 32, 3), 6)
    assert_close(model.predict(x, verbose=0), torch_resnet(source, x, (3, 4, 6, 3), include_top=True))


def test_resnet_file_with_other_layer_names_loads_by_position_in_keras_order(tmp_path, monkeypatch):
    """keras_applications named ResNet's top 'probs' (tf.keras and Keras 3 call it 'predictions'
    and load the same file by position); Model.load_weights of a Keras file is by position too."""
    source = ResNet50(weights=None, input_shape=(32, 32, 3))
    randomise_batchnorm(source, 4)
    (tmp_path / "models").mkdir()
    path = tmp_path / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
    write_published_h5(path, source, rename={"predictions": "probs"})
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    model = ResNet50(weights="imagenet")
    for a, b in zip(model.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.set_weights([w + 1 for w in source.get_weights()])
    model.load_weights(str(path))
    np.testing.assert_array_equal(model.get_layer("conv2_block1_0_conv").get_weights()[0],
                                  source.get_layer("conv2_block1_0_conv").get_weights()[0])


def test_mismatching_file_is_refused_naming_layer_and_weight(tmp_path):
    source = VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "w.h5"
    write_published_h5(path, source)
    with h5py.File(path, "a") as f:
        del f["block3_conv2"]["block3_conv2/kernel:0"]
        f["block3_conv2"].create_dataset("block3_conv2/kernel:0", data=np.zeros((3, 3, 256, 128), "float32"))
    with pytest.raises(ModelFileError) as err:
        VGG16(include_top=False, weights=str(path), input_shape=(32, 32, 3))
    msg = str(err.value)
    assert 'named "block3_conv2"' in msg and "block3_conv2/kernel" in msg
    assert "(3, 3, 256, 256)" in msg and "(3, 3, 256, 128)" in msg


def test_file_without_the_top_is_refused_for_a_model_with_it(tmp_path):
    source = VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "notop.h5"
    write_published_h5(path, source)
    with pytest.raises(ModelFileError, match="missing from the file: fc1, fc2, predictions"):
        VGG16(weights=str(path), input_shape=(32, 32, 3), classes=10)
