"""Issue 11, bad input: crafted Keras files give a clear `ModelFileError` (or ImportError-free
refusals), nothing they name is imported or run, and nothing is written outside the target."""
import io
import json
import os
import sys
import zipfile

import h5py
import numpy as np
import pytest

from irgraph import keras_files
from irgraph.models import load_model
from irgraph.saving import ModelFileError
from tests.keras_compat.keras_torch import keras


@pytest.fixture(scope="module")
def good_archive(tmp_path_factory):
    inp = keras.Input((4,), name="x")
    out = keras.layers.Dense(2, name="d")(keras.layers.Dense(3, name="h")(inp))
    model = keras.Model(inp, out)
    model.compile("adam", "mse")
    path = str(tmp_path_factory.mktemp("good") / "good.keras")
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    return path, members


def _write_zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return str(path)


def test_good_archive_loads(good_archive):
    model = load_model(good_archive[0])
    assert [w.shape for w in model.get_weights()] == [(4, 3), (3,), (3, 2), (2,)]


@pytest.mark.parametrize("cut", [10, 200, 0.5])
def test_truncated_archive(good_archive, tmp_path, cut):
    data = open(good_archive[0], "rb").read()
    n = int(len(data) * cut) if isinstance(cut, float) else cut
    path = tmp_path / "cut.keras"
    path.write_bytes(data[:n])
    with pytest.raises(ModelFileError, match="cut.keras"):
        load_model(str(path))


def test_archive_without_config(good_archive, tmp_path):
    members = {k: v for k, v in good_archive[1].items() if k != "config.json"}
    path = _write_zip(tmp_path / "noconfig.keras", members)
    with pytest.raises(ModelFileError):
        keras_files.load_keras_archive(path)


@pytest.mark.parametrize("evil", ["../outside.txt", "/etc/evil", "assets/../../x", "C:/windows/x"])
def test_path_traversal_members_are_refused(good_archive, tmp_path, evil):
    """keras/src/saving/saving_lib_test.py's path-traversal cases: the archive is refused and
    nothing is written anywhere (irgraph never extracts)."""
    members = dict(good_archive[1])
    members[evil] = b"pwned"
    folder = tmp_path / "work"
    folder.mkdir()
    path = _write_zip(folder / "evil.keras", members)
    before = set(os.listdir(tmp_path)) | set(os.listdir(folder))
    with pytest.raises(ModelFileError, match="path traversal"):
        load_model(path)
    assert set(os.listdir(tmp_path)) | set(os.listdir(folder)) == before
    assert not (tmp_path / "outside.txt").exists()


def test_decompression_bomb_is_refused(good_archive, tmp_path, monkeypatch):
    """A member that inflates to far more than it stores (Keras's own test lowers the floor the
    same way, to keep the file small)."""
    monkeypatch.setattr(keras_files, "BOMB_FLOOR_BYTES", 100_000)
    members = dict(good_archive[1])
    members["model.weights.h5"] = b"\x00" * 2_000_000
    path = _write_zip(tmp_path / "bomb.keras", members, zipfile.ZIP_DEFLATED)
    with pytest.raises(ModelFileError, match="decompression bomb"):
        load_model(path)


def test_member_longer_than_its_header_says(good_archive, tmp_path):
    """A header that lies about the size: the member is read up to its declared size plus one."""
    members = dict(good_archive[1])
    path = _write_zip(tmp_path / "liar.keras", members)
    data = bytearray(open(path, "rb").read())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("config.json")
    # shrink the declared size in the central directory entry of config.json
    cd = data.rfind(b"PK\x01\x02", 0, data.rfind(b"config.json"))
    size_at = cd + 24
    data[size_at:size_at + 4] = (info.file_size - 10).to_bytes(4, "little")
    bad = tmp_path / "liar2.keras"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError):
        load_model(str(bad))


def test_hdf5_that_is_not_a_keras_model(tmp_path):
    path = str(tmp_path / "data.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=np.zeros((3, 4)))
    with pytest.raises(ModelFileError, match="model_config"):
        load_model(path)


def _config_with(good_archive, mutate):
    config = json.loads(good_archive[1]["config.json"])
    mutate(config)
    members = dict(good_archive[1])
    members["config.json"] = json.dumps(config).encode()
    return members


def test_unknown_classes_are_listed_at_once(good_archive, tmp_path):
    def mutate(cfg):
        cfg["config"]["layers"][1]["class_name"] = "FancyAttention"
        cfg["config"]["layers"][2]["class_name"] = "Capsule"
    path = _write_zip(tmp_path / "unknown.keras", _config_with(good_archive, mutate))
    with pytest.raises(ModelFileError, match=r"2 layer class\(es\).*FancyAttention, Capsule.*custom_objects="):
        load_model(path)


def test_forbidden_module_paths_are_never_imported(good_archive, tmp_path):
    """A config naming ``os.system`` (or any module) as a class: refused by name, and an audit hook
    sees no import, no exec/compile and no process start while loading."""
    def mutate(cfg):
        layer = cfg["config"]["layers"][1]
        layer["module"], layer["class_name"] = "os", "system"
        layer["config"]["units"] = "echo pwned > /tmp/irgraph_pwned"
    path = _write_zip(tmp_path / "forbidden.keras", _config_with(good_archive, mutate))
    load_model(good_archive[0])  # every module the loader needs is imported before the audit
    events = []
    watched = ("import", "exec", "compile", "os.system", "subprocess.Popen", "os.posix_spawn", "os.exec",
               "os.fork", "ctypes.dlopen", "marshal.loads", "pickle.find_class")

    def hook(event, args):
        if event.startswith(watched):
            events.append((event, str(args)[:80]))
    auditing = [True]

    def guarded(event, args):
        if auditing[0]:
            hook(event, args)
    sys.addaudithook(guarded)
    try:
        with pytest.raises(ModelFileError, match="system"):
            load_model(path)
    finally:
        auditing[0] = False
    assert events == [], events
    assert not os.path.exists("/tmp/irgraph_pwned")


def test_weight_shapes_that_disagree_with_the_config(good_archive, tmp_path):
    members = dict(good_archive[1])
    buf = io.BytesIO()
    with h5py.File(io.BytesIO(members["model.weights.h5"]), "r") as src, h5py.File(buf, "w") as dst:
        src.copy(src["layers"], dst, "layers")
        del dst["layers/dense/vars/0"]
        dst["layers/dense/vars"].create_dataset("0", data=np.zeros((5, 3), np.float32))
    members["model.weights.h5"] = buf.getvalue()
    path = _write_zip(tmp_path / "shapes.keras", members)
    with pytest.raises(ModelFileError, match=r"layer 'h'.*\(4, 3\).*\(5, 3\)"):
        load_model(path)


def test_a_dataset_declaring_a_huge_shape_is_not_allocated(good_archive, tmp_path):
    """Keras's "shape bomb": a chunked dataset of 10^12 elements that stores nothing. Its shape is
    checked against the model before any data is read."""
    members = dict(good_archive[1])
    buf = io.BytesIO()
    with h5py.File(io.BytesIO(members["model.weights.h5"]), "r") as src, h5py.File(buf, "w") as dst:
        src.copy(src["layers"], dst, "layers")
        del dst["layers/dense/vars/0"]
        dst["layers/dense/vars"].create_dataset("0", shape=(1_000_000, 1_000_000), dtype="f4", chunks=(1, 1))
    members["model.weights.h5"] = buf.getvalue()
    path = _write_zip(tmp_path / "shapebomb.keras", members)
    with pytest.raises(ModelFileError, match="1000000"):
        load_model(path)


def test_corrupt_weights_member(good_archive, tmp_path):
    members = dict(good_archive[1])
    members["model.weights.h5"] = b"\x89HDF\r\n\x1a\n" + b"\x00" * 100
    path = _write_zip(tmp_path / "corrupt.keras", members)
    with pytest.raises(ModelFileError, match="HDF5"):
        load_model(path)


def test_lambda_with_stored_code_in_a_keras1_merge(tmp_path):
    from tests.keras_compat.test_keras_files_legacy import keras1_config, write_keras2_h5
    config = keras1_config()
    merge = config["config"]["layers"][4]["config"]
    merge["mode"], merge["mode_type"] = ["4wEAAAA", None, None], "lambda"
    path = str(tmp_path / "merge_lambda.h5")
    write_keras2_h5(path, config, [("input_1", []), ("convolution2d_1", []), ("flatten_1", []),
                                   ("input_2", []), ("merge_1", []), ("dense_1", [])], keras_version="1.2.2")
    with pytest.raises(ModelFileError, match="stored Python code"):
        load_model(path)
