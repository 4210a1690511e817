"""`irgraph deploy triton`: the written config.pbtxt parses with Triton's own schema (tritonclient's
model_config_pb2, read here independently of irgraph) and matches the ONNX file, for the seed models
(one input; two inputs and two outputs with an integer input; a dynamic time axis); configurations
that do not fit the ONNX file and models Triton cannot take are refused before anything is written."""
from __future__ import annotations

import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from google.protobuf import text_format
from onnx import TensorProto, helper
from tritonclient.grpc import model_config_pb2 as triton_schema

from examples.seed_models import k2_mlp, k2_multi_io, random_inputs
from irgraph.deploy import DeployError, TritonOptions, check_config, check_repository, write_repository
from irgraph.layers import LSTM, Dense, Input
from irgraph.models import Model
from irgraph.tools.cli import main as irgraph_main

# Triton's type names for numpy dtypes (Triton's model_config.proto documentation)
NUMPY_TO_TRITON = {"float32": "TYPE_FP32", "float64": "TYPE_FP64", "int32": "TYPE_INT32",
                   "int64": "TYPE_INT64", "bool": "TYPE_BOOL", "uint8": "TYPE_UINT8"}


def dynamic_time_model():
    frames = Input(shape=(None, 8), name="frames")
    probs = Dense(3, activation="softmax", name="probs")(LSTM(4)(frames))
    return Model(frames, probs, name="dynamic_time")


def inputs_for(model, batch=3):
    """The seeds' random inputs; a dynamic time axis gets 5 steps."""
    if model.name == "dynamic_time":
        return [np.random.default_rng(0).standard_normal((batch, 5, 8)).astype(np.float32)]
    return random_inputs(model, batch=batch)


SEEDS = {"one_input": lambda: k2_mlp().model, "two_in_two_out_int": lambda: k2_multi_io().model,
         "dynamic_time": dynamic_time_model}


def read_config(model_dir):
    with open(os.path.join(model_dir, "config.pbtxt"), encoding="utf-8") as f:
        return text_format.Parse(f.read(), triton_schema.ModelConfig())


def onnx_signature(path):
    """{name: (numpy dtype name, dims with None for dynamic)} of inputs and outputs, from the file."""
    proto = onnx.load(path)
    inits = {t.name for t in proto.graph.initializer}

    def sig(values):
        return {v.name: (np.dtype(helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type)).name,
                         [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim])
                for v in values if v.name not in inits}
    return sig(proto.graph.input), sig(proto.graph.output)


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_config_parses_with_triton_schema_and_matches_onnx(seed, tmp_path):
    model = SEEDS[seed]()
    model_dir = write_repository(model, tmp_path, TritonOptions(name=seed, dynamic_batching=True,
                                                               preferred_batch_sizes=(4, 8),
                                                               max_queue_delay_us=100, instances=2))
    config = read_config(model_dir)
    assert config.name == seed and config.backend == "onnxruntime" and config.max_batch_size == 32
    assert list(config.dynamic_batching.preferred_batch_size) == [4, 8]
    assert config.dynamic_batching.max_queue_delay_microseconds == 100
    assert [(g.count, g.kind) for g in config.instance_group] == [(2, triton_schema.ModelInstanceGroup.KIND_CPU)]
    onnx_path = os.path.join(model_dir, "1", "model.onnx")
    inputs, outputs = onnx_signature(onnx_path)
    assert [i.name for i in config.input] == model.input_names == list(inputs)
    assert [o.name for o in config.output] == model.output_names == list(outputs)
    for entry, (dtype, shape) in [(e, inputs[e.name]) for e in config.input] + [(e, outputs[e.name]) for e in config.output]:
        assert triton_schema.DataType.Name(entry.data_type) == NUMPY_TO_TRITON[dtype]
        assert shape[0] is None  # the batch axis, implicit in the configuration
        assert list(entry.dims) == [-1 if d is None else d for d in shape[1:]]
    assert check_repository(tmp_path) == [seed]
    # the repository's model file computes what the model predicts
    xs = inputs_for(model)
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    got = session.run(None, dict(zip(model.input_names, xs)))
    want = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    for g, w in zip(got, want if isinstance(want, list) else [want]):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_integer_input_and_dynamic_time_axis_in_the_config(tmp_path):
    config = read_config(write_repository(k2_multi_io().model, tmp_path, TritonOptions(name="news")))
    assert {i.name: triton_schema.DataType.Name(i.data_type) for i in config.input} == {
        "main_input": "TYPE_INT32", "aux_input": "TYPE_FP32"}
    assert not config.HasField("dynamic_batching")
    config = read_config(write_repository(dynamic_time_model(), tmp_path, TritonOptions()))
    assert list(config.input[0].dims) == [-1, 8] and list(config.output[0].dims) == [3]


def test_cli_writes_the_repository(tmp_path, capsys):
    repo = tmp_path / "repo"
    assert irgraph_main(["deploy", "triton", "examples.seed_models:k2_mlp", "-o", str(repo), "--name", "mlp",
                         "--version", "3", "--max-batch-size", "16", "--dynamic-batching",
                         "--preferred-batch-size", "4", "8", "--max-queue-delay-us", "500",
                         "--instances", "2"]) == 0
    assert "wrote" in capsys.readouterr().out
    config = read_config(repo / "mlp")
    assert config.max_batch_size == 16 and list(config.dynamic_batching.preferred_batch_size) == [4, 8]
    assert (repo / "mlp" / "3" / "model.onnx").is_file()


def test_gpu_tensorrt_and_labels(tmp_path):
    labels = tmp_path / "classes.txt"
    labels.write_text("\n".join(f"digit_{i}" for i in range(10)) + "\n")
    model_dir = write_repository(k2_mlp().model, tmp_path / "repo",
                                 TritonOptions(name="mlp", gpu=True, tensorrt=True, labels=str(labels)))
    config = read_config(model_dir)
    assert config.instance_group[0].kind == triton_schema.ModelInstanceGroup.KIND_GPU
    accel = config.optimization.execution_accelerators.gpu_execution_accelerator
    assert [a.name for a in accel] == ["tensorrt"]
    assert config.output[0].label_filename == "labels.txt"
    assert open(os.path.join(model_dir, "labels.txt")).read().split() == [f"digit_{i}" for i in range(10)]
    labels.write_text("a\nb\nc\n")
    with pytest.raises(DeployError, match="3 labels"):
        write_repository(k2_mlp().model, tmp_path / "other", TritonOptions(name="mlp", labels=str(labels)))
    assert not (tmp_path / "other").exists()


def test_saved_irgraph_file_is_deployed_without_its_optimizer_state(tmp_path):
    model = k2_mlp().model
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x = np.random.default_rng(0).standard_normal((8, 784)).astype(np.float32)
    model.fit(x, np.eye(10, dtype=np.float32)[np.arange(8) % 10], epochs=1, verbose=0)
    model.save(tmp_path / "mlp.onnx")
    model_dir = write_repository(str(tmp_path / "mlp.onnx"), tmp_path / "repo", TritonOptions())
    served = onnx.load(os.path.join(model_dir, "1", "model.onnx"))
    assert not [t.name for t in served.graph.initializer if t.name.startswith("optimizer_state/")]
    assert not [p.key for p in served.metadata_props if p.key == "irgraph.checksum"]
    session = ort.InferenceSession(served.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {model.input_names[0]: x})[0], model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- configurations that do not fit
def mutated(model_dir, change):
    config = read_config(model_dir)
    change(config)
    return config


@pytest.mark.parametrize("change, message", [
    (lambda c: c.input[0].dims.__setitem__(0, 99), "axis 1 is 99 in the configuration but 100"),
    (lambda c: setattr(c.input[1], "data_type", triton_schema.TYPE_FP64), "'aux_input' is TYPE_FP64"),
    (lambda c: c.input.pop(), "ONNX inputs ['aux_input'] are not in the configuration"),
    (lambda c: setattr(c.output[0], "name", "nope"), "output 'nope' is not in the ONNX model"),
    (lambda c: c.input[0].dims.append(4), "'main_input' has 2 dims"),
    (lambda c: setattr(c, "max_batch_size", 0), "'main_input' has 1 dims"),
    (lambda c: (setattr(c, "max_batch_size", 0), c.dynamic_batching.SetInParent()), "dynamic_batching needs"),
    (lambda c: setattr(c, "backend", "tensorflow"), "not 'onnxruntime'"),
])
def test_cross_check_refuses_a_config_that_does_not_fit(tmp_path, change, message):
    model_dir = write_repository(k2_multi_io().model, tmp_path, TritonOptions(name="news"))
    proto = onnx.load(os.path.join(model_dir, "1", "model.onnx"))
    check_config(read_config(model_dir), proto, model_dir)  # the written one fits
    with pytest.raises(DeployError, match="news") as err:
        check_config(mutated(model_dir, change), proto, model_dir)
    assert message in str(err.value)


def test_repository_check_reads_hand_edited_config(tmp_path):
    model_dir = write_repository(k2_mlp().model, tmp_path, TritonOptions(name="mlp"))
    path = os.path.join(model_dir, "config.pbtxt")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace("dims: 784", "dims: 783"))
    with pytest.raises(DeployError, match="'input_layer' axis 1 is 783 in the configuration but 784"):
        check_repository(tmp_path)
    with open(path, "w") as f:
        f.write(text.replace("max_batch_size", "max_batch_sise"))
    with pytest.raises(DeployError, match="not a valid Triton model configuration"):
        check_repository(tmp_path)


# ---------------------------------------------------------------------------- models Triton cannot take
def onnx_file(tmp_path, input_type, name="bad.onnx"):
    x = helper.make_value_info("x", input_type)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / name
    onnx.save(helper.make_model(graph), path)
    return str(path)


@pytest.mark.parametrize("input_type, message", [
    (helper.make_tensor_type_proto(TensorProto.FLOAT, None), "input 'x' has no fixed rank"),
    (helper.make_tensor_type_proto(TensorProto.COMPLEX64, ["batch", 4]), "input 'x' has element type COMPLEX64"),
    (helper.make_sequence_type_proto(helper.make_tensor_type_proto(TensorProto.FLOAT, ["batch", 4])),
     "input 'x' is a sequence_type, not a tensor"),
])
def test_model_triton_cannot_take_is_refused_before_writing(tmp_path, input_type, message):
    path = onnx_file(tmp_path, input_type)
    with pytest.raises(DeployError, match=message):
        write_repository(path, tmp_path / "repo", TritonOptions())
    assert not (tmp_path / "repo").exists()
    with pytest.raises(SystemExit, match=message):
        irgraph_main(["deploy", "triton", path, "-o", str(tmp_path / "repo")])
    assert not (tmp_path / "repo").exists()


def test_fixed_first_axis_is_not_batched(tmp_path):
    path = onnx_file(tmp_path, helper.make_tensor_type_proto(TensorProto.FLOAT, [1, 4]))
    with pytest.raises(DeployError, match=r"--max-batch-size 8 needs a dynamic first .* 'x' has shape \(1, 4\)"):
        write_repository(path, tmp_path / "repo", TritonOptions(max_batch_size=8))
    assert not (tmp_path / "repo").exists()
    # by default such a model is deployed unbatched, with the full shapes
    config = read_config(write_repository(path, tmp_path / "repo", TritonOptions()))
    assert config.max_batch_size == 0 and list(config.input[0].dims) == [1, 4]
