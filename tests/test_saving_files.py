"""Model and weights files against crashes, odd permissions and damaged or crafted content.

A save killed at any moment leaves the previous file intact and no temporary behind the next save;
a replaced file keeps its permission bits; loading never reads another file (ONNX external data),
never allocates more for weights than the file stores, detects any change of the weights or the
metadata (checksum), and reports malformed metadata as a ModelFileError naming the field.
"""
from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import onnx
import pytest

import irgraph
from irgraph import backend as K
from irgraph import layers as L
from irgraph.models import Model, load_model
from irgraph.saving import ModelFileError, read_model_file, seal

HERE = os.path.dirname(os.path.abspath(__file__))


def small_model(compiled: bool = True):
    x = irgraph.Input((6,), name="features")
    h = L.Dense(5, activation="relu", name="hidden")(x)
    model = Model(x, L.Dense(3, activation="softmax", name="out")(h), name="small")
    if compiled:
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def saved(tmp_path, model=None, name="m.onnx"):
    path = tmp_path / name
    (model or small_model()).save(path)
    return path


def edit_metadata(path, key, change):
    """Rewrite the metadata entry ``key`` as ``change(value)`` (JSON entries as parsed JSON), with a
    valid checksum: what a person editing the file deliberately would write."""
    proto = onnx.load(str(path))
    entry = next(p for p in proto.metadata_props if p.key == key)
    if key in ("irgraph.model_config", "irgraph.compile_config", "irgraph.weights"):
        entry.value = json.dumps(change(json.loads(entry.value)))
    else:
        entry.value = change(entry.value)
    seal(proto)
    path.write_bytes(proto.SerializeToString())


def temporaries(folder):
    return sorted(n for n in os.listdir(folder) if ".irgraph-tmp-" in n)


# ============================================================================ killed saves
@pytest.mark.skipif(not hasattr(os, "fork"), reason="the helper forks its savers (POSIX)")
def test_a_killed_save_leaves_the_previous_file_and_no_temporary_after_the_next(tmp_path):
    """20 savers of a 4 MB model killed with SIGKILL: half at random moments, half just after their
    temporary file appears (mid-write). The file always loads, with the weights of one save."""
    path = tmp_path / "model.onnx"
    server = subprocess.Popen([sys.executable, os.path.join(HERE, "save_kill_worker.py"), str(path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    rng = random.Random(20)
    pid = None
    killed_mid_write = 0
    try:
        assert server.stdout.readline().strip() == "ready"
        for trial in range(20):
            before = set(temporaries(tmp_path))
            server.stdin.write("go\n")
            server.stdin.flush()
            pid = int(server.stdout.readline())
            if trial % 2:
                deadline = time.monotonic() + 10
                while not set(temporaries(tmp_path)) - before and time.monotonic() < deadline:
                    pass
                time.sleep(rng.uniform(0, 0.003))
            else:
                time.sleep(rng.uniform(0.01, 0.4))
            os.kill(pid, signal.SIGKILL)
            assert server.stdout.readline().strip() == "dead"
            pid = None
            left = temporaries(tmp_path)
            assert len(left) <= 1, left  # each save first removes what killed saves left
            killed_mid_write += len(left)
            values = np.unique(np.concatenate([w.ravel() for w in load_model(path).get_weights()]))
            assert len(values) == 1, values  # all weights from one and the same save
        server.stdin.write("save\n")
        server.stdin.flush()
        assert server.stdout.readline().strip() == "saved"
        assert os.listdir(tmp_path) == ["model.onnx"]
        assert killed_mid_write >= 5  # the kills did land while temporaries were being written
        np.testing.assert_array_equal(load_model(path).get_weights()[1], np.full(1000, -1, np.float32))
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        server.kill()
        server.wait()


@pytest.mark.skipif(os.name != "posix", reason="flock (POSIX)")
def test_only_the_targets_unlocked_temporaries_are_removed(tmp_path):
    import fcntl
    live, dead = tmp_path / ".m.onnx.irgraph-tmp-live", tmp_path / ".m.onnx.irgraph-tmp-dead"
    other = tmp_path / ".other.onnx.irgraph-tmp-dead"
    for p in (live, dead, other):
        p.write_bytes(b"partial")
    with open(live, "rb") as held:  # a save in progress (in another process) holds its lock
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        saved(tmp_path)
    assert sorted(os.listdir(tmp_path)) == sorted(["m.onnx", live.name, other.name])


# ============================================================================ permissions
@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600, 0o664])
def test_a_replaced_file_keeps_its_permission_bits(tmp_path, mode):
    model = small_model(compiled=False)
    for name, save in (("m.onnx", model.save), ("w.npz", model.save_weights)):
        path = tmp_path / name
        path.write_bytes(b"old")
        os.chmod(path, mode)
        save(path)
        assert stat.S_IMODE(os.stat(path).st_mode) == mode, (name, oct(mode))


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_a_new_file_gets_the_umask_mode(tmp_path, umask):
    model = small_model(compiled=False)
    old = os.umask(umask)
    try:
        model.save(tmp_path / "m.onnx")
        model.save_weights(tmp_path / "w.npz")
        model.to_onnx(tmp_path / "plain.onnx")
    finally:
        os.umask(old)
    for name in ("m.onnx", "w.npz", "plain.onnx"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o666 & ~umask, name


# ============================================================================ external data
_opened: list = []
_watching = [False]


def _audit(event, args):
    if _watching[0] and event == "open":
        _opened.append(str(args[0]))


def test_external_data_is_refused_and_never_read(tmp_path, monkeypatch):
    model = small_model(compiled=False)
    folder = tmp_path / "models"
    folder.mkdir()
    path = saved(folder, model)
    proto = onnx.load(str(path))
    kernel = next(t for t in proto.graph.initializer if t.name == "hidden/kernel")
    secret = np.arange(30, dtype=np.float32).tobytes()  # exactly what the tensor needs
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    for where in (folder, cwd):
        (where / "secret.bin").write_bytes(secret)
    monkeypatch.chdir(cwd)
    onnx.external_data_helper.set_external_data(kernel, location="secret.bin")
    kernel.ClearField("raw_data")
    seal(proto)
    path.write_bytes(proto.SerializeToString())
    if not _opened and _audit not in getattr(sys, "_irgraph_test_hooks", []):
        sys.addaudithook(_audit)  # cannot be removed: records only while _watching
        sys._irgraph_test_hooks = [_audit]
    _opened.clear()
    _watching[0] = True
    try:
        for load in (lambda: load_model(path), lambda: read_model_file(path),
                     lambda: small_model(compiled=False).load_weights(path)):
            with pytest.raises(ModelFileError, match=r"tensor 'hidden/kernel' keeps its data in another "
                                                      r"file \(ONNX external data\)") as info:
                load()
            assert str(path) in str(info.value)
    finally:
        _watching[0] = False
    assert _opened and not any("secret" in p for p in _opened), _opened
    assert all(p == str(path) or not p.startswith(str(tmp_path)) for p in _opened), _opened


# ============================================================================ huge configs
@pytest.mark.parametrize("edit", ["units", "input_shape"])
def test_a_config_larger_than_the_stored_weights_is_refused_before_allocating(tmp_path, edit):
    """A 2.5 KB file whose config asks for 120 million weight values: refused in milliseconds with
    no large allocation (the weights the config would create are checked against the file)."""
    path = saved(tmp_path, small_model(compiled=False))

    def change(cfg):
        layers = {layer["config"]["name"]: layer for layer in cfg["config"]["layers"]}
        if edit == "units":
            layers["hidden"]["config"]["units"] = 20_000_000
        else:
            layers["features"]["config"]["batch_shape"] = [None, 24_000_000]
        return cfg
    edit_metadata(path, "irgraph.model_config", change)
    assert path.stat().st_size < 4000
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ModelFileError, match=r"layer 'hidden' would create the weight 'kernel' of "
                                                  r"shape \(.*\) \(120,000,000 values\), more than the file "
                                                  r"stores for all the weights \(53 values\)"):
            load_model(path)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seconds < 2.0 and peak < 20 * 2**20, (seconds, peak)


def test_an_op_layer_size_larger_than_the_file_is_refused_before_allocating(tmp_path):
    x = irgraph.Input((4,), dtype="int32", name="ids")
    path = saved(tmp_path, Model(x, L.Dense(2, name="head")(K.one_hot(x, 5)), name="ids_model"))

    def change(cfg):
        op = next(layer for layer in cfg["config"]["layers"] if layer["class_name"] == "OpLayer")
        op["config"]["template"]["__tuple__"][0][1] = 3_000_000_000  # 24 GB of class indices
        return cfg
    edit_metadata(path, "irgraph.model_config", change)
    with pytest.raises(ModelFileError, match=r"would create the 'num_classes' vector of one_hot "
                                              r"\(3,000,000,000 values\), more than the file stores"):
        load_model(path)


# ============================================================================ damage
def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_single_bit_flips_never_load_changed_weights(tmp_path):
    """60 single-bit flips (seeded): 30 anywhere, 30 in the metadata at the end of the file. Each
    either loads with the original weights or raises ModelFileError, never anything else."""
    model = small_model()
    path = saved(tmp_path, model)
    data = path.read_bytes()
    original = model.get_weights()
    meta_start = data.find(b"irgraph.")
    rng = random.Random(30)
    bits = ([rng.randrange(len(data) * 8) for _ in range(30)]
            + [rng.randrange(meta_start * 8, len(data) * 8) for _ in range(30)])
    damaged = tmp_path / "flipped.onnx"
    outcomes = {"loaded": 0, "refused": 0}
    for bit in bits:
        damaged.write_bytes(_flip(data, bit))
        try:
            loaded = load_model(damaged)
        except ModelFileError as err:
            assert str(damaged) in str(err)
            outcomes["refused"] += 1
            continue
        for a, b in zip(original, loaded.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"bit {bit} changed a weight silently")
        outcomes["loaded"] += 1
    assert outcomes["refused"] >= 30, outcomes  # at least every flip in the metadata


def test_a_changed_weight_is_reported_as_damage(tmp_path):
    path = saved(tmp_path)
    data = path.read_bytes()
    proto = onnx.load(str(path))
    raw = next(t for t in proto.graph.initializer if t.name == "out/kernel").raw_data
    at = data.find(raw)
    path.write_bytes(_flip(data, (at + 5) * 8))
    with pytest.raises(ModelFileError, match="the file is damaged: its weights or metadata changed"):
        load_model(path)
    with pytest.raises(ModelFileError, match="damaged"):
        small_model().load_weights(path)


def test_single_bit_flips_in_a_weights_archive(tmp_path):
    model = small_model(compiled=False)
    path = tmp_path / "w.npz"
    model.save_weights(path)
    data = path.read_bytes()
    rng = random.Random(31)
    damaged = tmp_path / "flipped.npz"
    refused = 0
    for bit in [rng.randrange(len(data) * 8) for _ in range(30)]:
        damaged.write_bytes(_flip(data, bit))
        other = small_model(compiled=False)
        try:
            other.load_weights(damaged)
        except ModelFileError as err:
            assert str(damaged) in str(err)
            refused += 1
            continue
        for a, b in zip(model.get_weights(), other.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"bit {bit} changed a weight silently")
    assert refused >= 15


def test_a_corrupted_archive_entry_fails_its_crc(tmp_path):
    model = small_model(compiled=False)
    path = tmp_path / "w.npz"
    model.save_weights(path)
    data = path.read_bytes()
    at = data.find(np.ascontiguousarray(model.get_weights()[2]).tobytes())
    path.write_bytes(_flip(data, at * 8 + 3))
    with pytest.raises(ModelFileError, match=r"damaged: its entry 'out/kernel.npy' fails its CRC-32"):
        small_model(compiled=False).load_weights(path)


def test_format_version_1_files_without_checksum_still_load(tmp_path):
    model = small_model()
    path = saved(tmp_path, model)
    proto = onnx.load(str(path))
    props = {p.key: p.value for p in proto.metadata_props if p.key != "irgraph.checksum"}
    props["irgraph.format_version"] = "1"
    props["irgraph.complete"] = str(len(props) - 1)
    del proto.metadata_props[:]
    for k, v in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    path.write_bytes(proto.SerializeToString())
    for a, b in zip(model.get_weights(), load_model(path).get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    edit_metadata(path, "irgraph.format_version", lambda v: "2")  # version 2 needs its checksum
    proto = onnx.load(str(path))
    assert any(p.key == "irgraph.checksum" for p in proto.metadata_props)


# ============================================================================ malformed metadata
def _layer(cfg, name):
    return next(layer for layer in cfg["config"]["layers"] if layer["config"]["name"] == name)


def _set(getter, key, value):
    def change(cfg):
        getter(cfg)[key] = value
        return cfg
    return change


def _deep(cfg):
    nested = 1
    for _ in range(500):
        nested = {"a": nested}
    cfg["config"]["layers"][1]["config"]["extra"] = nested
    return cfg


MALFORMED = {
    "units not a number": ("irgraph.model_config",
                           _set(lambda c: _layer(c, "hidden")["config"], "units", "x"),
                           r"config\.layers\[\d\]\.config\.units must be a whole number, got \"x\""),
    "units a fraction": ("irgraph.model_config",
                         _set(lambda c: _layer(c, "hidden")["config"], "units", 2.5),
                         r"config\.layers\[\d\]\.config\.units must be a whole number, got 2\.5"),
    "layers not a list": ("irgraph.model_config", _set(lambda c: c["config"], "layers", {}),
                          r"config\.layers must be a list of layers, got \{\}"),
    "layer not an object": ("irgraph.model_config", _set(lambda c: c["config"]["layers"], 1, "Dense"),
                            r"config\.layers\[1\] must be an object \{'class_name', 'config'\}"),
    "class name not a string": ("irgraph.model_config",
                                _set(lambda c: _layer(c, "hidden"), "class_name", 5),
                                r"config\.layers\[\d\]\.class_name must be a class name, got 5"),
    "bad tensor reference": ("irgraph.model_config",
                             _set(lambda c: _layer(c, "hidden")["inbound_nodes"][0], "input_tensors",
                                  [["features", "0", 0]]),
                             r"config\.layers\[\d\]\.inbound_nodes\[0\]\.input_tensors must be a list of "
                             r"\[layer name, node index, tensor index\]"),
    "bad call template": ("irgraph.model_config",
                          _set(lambda c: _layer(c, "hidden")["inbound_nodes"][0], "template",
                               {"__slot__": "x"}),
                          r"inbound_nodes\[0\]\.template: a stored __slot__ value must be a whole number"),
    "shape not a list": ("irgraph.model_config",
                         _set(lambda c: _layer(c, "features")["config"], "batch_shape", 7),
                         r"config\.layers\[\d\]\.config\.batch_shape must be a list of whole numbers"),
    "config a list": ("irgraph.model_config", _set(lambda c: c, "config", []),
                      r"metadata irgraph\.model_config: config must be an object, got \[\]"),
    "deeply nested": ("irgraph.model_config", _deep, r"irgraph\.model_config is nested more than 128 levels"),
    "weights not a list": ("irgraph.weights", lambda w: 5,
                           r"metadata irgraph\.weights must be a list of weight names, got 5"),
    "weights not names": ("irgraph.weights", lambda w: [1, 2],
                          r"metadata irgraph\.weights must be a list of weight names"),
    "loss a list": ("irgraph.compile_config", _set(lambda c: c, "loss", [1]),
                    r"metadata irgraph\.compile_config: loss must be an object \{output name: loss\}"),
    "optimizer a list": ("irgraph.compile_config", _set(lambda c: c, "optimizer", [1]),
                         r"metadata irgraph\.compile_config: optimizer must be an optimizer name"),
    "learning rate a string": ("irgraph.compile_config",
                               _set(lambda c: c["optimizer"]["config"], "learning_rate", "fast"),
                               r"irgraph\.compile_config: .*learning_rate.* must be a number, got 'fast'"),
    "metrics a number": ("irgraph.compile_config", _set(lambda c: c, "metrics", 5),
                         r"compile_config: metrics must be an object"),
    "negative iterations": ("irgraph.iterations", lambda v: "-5",
                            r"metadata irgraph\.iterations must be a whole number from 0 to \d+, got '-5'"),
    "huge iterations": ("irgraph.iterations", lambda v: "9" * 40,
                        r"metadata irgraph\.iterations must be a whole number"),
    "version not an int": ("irgraph.format_version", lambda v: "1.0",
                           r"metadata irgraph\.format_version must be a whole number.*got '1\.0'"),
    "version from the future": ("irgraph.format_version", lambda v: "99",
                                r"format version 99 is not supported by this irgraph"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_metadata_is_a_model_file_error_naming_the_field(tmp_path, case):
    key, change, message = MALFORMED[case]
    path = saved(tmp_path)
    edit_metadata(path, key, change)
    with pytest.raises(ModelFileError, match=message) as info:
        load_model(path)
    assert str(path) in str(info.value)
    assert info.value.__cause__ is None


def test_invalid_json_and_missing_checksum(tmp_path):
    path = saved(tmp_path)
    edit_metadata(path, "irgraph.model_config", lambda cfg: cfg)
    proto = onnx.load(str(path))
    next(p for p in proto.metadata_props if p.key == "irgraph.model_config").value = "{not json"
    seal(proto)
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ModelFileError, match=r"metadata irgraph\.model_config is not valid JSON"):
        load_model(path)
    keep = [(p.key, p.value) for p in proto.metadata_props if p.key != "irgraph.checksum"]
    del proto.metadata_props[:]
    for k, v in keep:
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    proto.metadata_props[-1].value = str(len(keep) - 1)
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ModelFileError, match=r"metadata irgraph\.checksum is missing \(the file is damaged\)"):
        load_model(path)


def test_loading_names_no_code(tmp_path):
    """A class name or module pointing outside irgraph is looked up nowhere but custom_objects."""
    path = saved(tmp_path)
    edit_metadata(path, "irgraph.model_config",
                  lambda c: {**c, "class_name": "Popen", "module": "subprocess"})
    with pytest.raises(ModelFileError, match=r"unknown layer class 'Popen' \(defined in module "
                                             r"'subprocess'\).*custom_objects"):
        load_model(path)
