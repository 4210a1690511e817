"""Issue 11: converting a 1,000-layer Keras 3 file takes under 5 s.

Keras 3 itself needs a raised recursion limit and about 40 s to build and save such a model, so
the archive is written here in Keras 3's format (the layout `test_keras_files.py` checks against
real Keras): ``config.json`` with Keras 3's functional config, ``model.weights.h5`` with
``layers/dense_N/vars/{0,1}`` groups named by layer."""
import io
import json
import time
import zipfile

import h5py
import numpy as np
import onnxruntime as ort

from irgraph.conversion import convert


def _tensor(shape, layer):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": shape, "dtype": "float32", "keras_history": [layer, 0, 0]}}


def write_dense_chain(path, depth: int, width: int, seed: int = 0):
    """A Keras 3 ``.keras`` archive of ``depth`` Dense(width, relu) layers; returns the weights."""
    rng = np.random.default_rng(seed)
    layers = [{"module": "keras.layers", "class_name": "InputLayer", "name": "x", "inbound_nodes": [],
               "config": {"batch_shape": [None, width], "dtype": "float32", "sparse": False, "ragged": False,
                          "name": "x", "optional": False}, "registered_name": None}]
    weights, prev = [], "x"
    for i in range(depth):
        name = "dense" if i == 0 else f"dense_{i}"
        layers.append({"module": "keras.layers", "class_name": "Dense", "name": name, "registered_name": None,
                       "config": {"name": name, "trainable": True, "units": width, "activation": "relu",
                                  "use_bias": True},
                       "build_config": {"input_shape": [None, width]},
                       "inbound_nodes": [{"args": [_tensor([None, width], prev)], "kwargs": {}}]})
        weights.append((name, rng.normal(0, 1 / np.sqrt(width), (width, width)).astype(np.float32),
                        rng.normal(0, 0.01, width).astype(np.float32)))
        prev = name
    config = {"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
              "config": {"name": "chain", "trainable": True, "layers": layers,
                         "input_layers": ["x", 0, 0], "output_layers": [prev, 0, 0]}}
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_group("layers/input_layer/vars").attrs["name"] = "x"
        for name, kernel, bias in weights:
            g = f.create_group(f"layers/{name}/vars")
            g.attrs["name"] = name
            g.create_dataset("0", data=kernel)
            g.create_dataset("1", data=bias)
        f.create_group("vars").attrs["name"] = "chain"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", buf.getvalue())
    return weights


def test_thousand_layer_file_converts_in_under_5_seconds(tmp_path):
    path = str(tmp_path / "chain.keras")
    weights = write_dense_chain(path, depth=1000, width=16)
    start = time.perf_counter()
    report = convert(path, tmp_path / "chain.onnx")
    seconds = time.perf_counter() - start
    assert report.layers == 1001 and report.operators.get("Gemm") == 1000
    x = np.random.default_rng(1).random((3, 16), dtype=np.float32)
    expected = x
    for _, kernel, bias in weights:
        expected = np.maximum(expected @ kernel + bias, 0)
    sess = ort.InferenceSession(str(tmp_path / "chain.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], expected, rtol=1e-4, atol=1e-5)
    assert seconds < 5.0, f"converting 1,000 layers took {seconds:.1f} s (target: under 5 s)"
