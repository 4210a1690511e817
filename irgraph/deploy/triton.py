"""Triton model repositories for the onnxruntime backend.

``write_repository(source, repo, TritonOptions(...))`` writes ``repo/NAME/config.pbtxt``,
``repo/NAME/VERSION/model.onnx`` (and ``repo/NAME/labels.txt``). The configuration is built as
Triton's own ``ModelConfig`` message (the schema every ``tritonclient`` wheel carries), written in
protobuf text format, parsed back with that schema and checked against the ONNX file (names,
types, dims, batching) before anything is written. `check_config` is the same check for a
configuration written by hand; `check_repository` runs it over a whole repository.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import onnx
from onnx import TensorProto

from .source import DeployError, load_source

ONNX_TO_TRITON = {
    TensorProto.FLOAT: "TYPE_FP32", TensorProto.DOUBLE: "TYPE_FP64", TensorProto.FLOAT16: "TYPE_FP16",
    TensorProto.BFLOAT16: "TYPE_BF16", TensorProto.INT8: "TYPE_INT8", TensorProto.INT16: "TYPE_INT16",
    TensorProto.INT32: "TYPE_INT32", TensorProto.INT64: "TYPE_INT64", TensorProto.UINT8: "TYPE_UINT8",
    TensorProto.UINT16: "TYPE_UINT16", TensorProto.UINT32: "TYPE_UINT32",
    TensorProto.UINT64: "TYPE_UINT64", TensorProto.BOOL: "TYPE_BOOL", TensorProto.STRING: "TYPE_STRING",
}
DEFAULT_MAX_BATCH_SIZE = 32
MODEL_FILE = "model.onnx"
LABEL_FILE = "labels.txt"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass
class TritonOptions:
    name: str | None = None            # the model's directory name; default: the model's own name
    version: int = 1
    max_batch_size: int | None = None  # None: DEFAULT_MAX_BATCH_SIZE if every tensor's first axis is dynamic, else 0
    dynamic_batching: bool = False
    preferred_batch_sizes: tuple = ()
    max_queue_delay_us: int = 0
    instances: int = 1
    gpu: bool = False                  # KIND_GPU instances (onnxruntime's CUDA execution provider)
    tensorrt: bool = False             # TensorRT as the GPU execution accelerator
    labels: str | None = None          # a text file, one class name a line
    labels_output: str | None = None   # the output the labels name; default: the one whose last axis fits


@dataclass
class Tensor:
    name: str
    data_type: str                     # Triton's TYPE_*
    shape: list                        # ints; None where the ONNX axis is dynamic


def schema():
    """Triton's model-configuration protobuf module (``tritonclient`` carries it)."""
    try:
        from tritonclient.grpc import model_config_pb2
    except ImportError as err:
        raise DeployError("Triton model configurations are checked with Triton's own schema, which "
                          f"comes with tritonclient ({err}); install it: pip install 'irgraph[serve]'") from None
    return model_config_pb2


# ----------------------------------------------------------------------------------------- ONNX side
def onnx_tensors(proto: onnx.ModelProto) -> tuple[list[Tensor], list[Tensor]]:
    """The model's inputs (initializers excluded) and outputs as Triton sees them; refuses what the
    onnxruntime backend cannot describe (non-tensor values, unsupported types, unknown rank)."""
    if not any(o.type.tensor_type.HasField("shape") for o in proto.graph.output):
        proto = onnx.shape_inference.infer_shapes(proto)
    initializers = {t.name for t in proto.graph.initializer}
    inputs = [_tensor(v, "input") for v in proto.graph.input if v.name not in initializers]
    outputs = [_tensor(v, "output") for v in proto.graph.output]
    return inputs, outputs


def _tensor(value_info, kind: str) -> Tensor:
    t = value_info.type
    if t.WhichOneof("value") != "tensor_type":
        raise DeployError(f"{kind} '{value_info.name}' is a {t.WhichOneof('value')}, not a tensor; Triton's "
                          "onnxruntime backend serves tensors only")
    elem = t.tensor_type.elem_type
    if elem not in ONNX_TO_TRITON:
        raise DeployError(f"{kind} '{value_info.name}' has element type "
                          f"{TensorProto.DataType.Name(elem)}, which Triton cannot carry (supported: "
                          f"{', '.join(TensorProto.DataType.Name(k) for k in ONNX_TO_TRITON)}); cast it "
                          "in the model")
    if not t.tensor_type.HasField("shape"):
        raise DeployError(f"{kind} '{value_info.name}' has no fixed rank in the ONNX file; Triton needs "
                          "the number of axes: give the model's input a shape (e.g. Input(shape=(None, 8)))")
    shape = [d.dim_value if d.HasField("dim_value") else None for d in t.tensor_type.shape.dim]
    return Tensor(value_info.name, ONNX_TO_TRITON[elem], shape)


def _batchable(tensors: list[Tensor]) -> bool:
    return all(t.shape and t.shape[0] is None for t in tensors)


# -------------------------------------------------------------------------------------- config side
def build_config(proto: onnx.ModelProto, options: TritonOptions, name: str, labels: list | None = None):
    """Triton's ``ModelConfig`` message for ``proto`` with ``options`` (not yet checked)."""
    pb = schema()
    inputs, outputs = onnx_tensors(proto)
    mbs = options.max_batch_size
    if mbs is None:
        mbs = DEFAULT_MAX_BATCH_SIZE if _batchable(inputs + outputs) else 0
    if mbs > 0:
        fixed = [t for t in inputs + outputs if not t.shape or t.shape[0] is not None]
        if fixed:
            t = fixed[0]
            raise DeployError(f"--max-batch-size {mbs} needs a dynamic first (batch) axis on every input and "
                              f"output, but '{t.name}' has shape {_fmt(t.shape)}; deploy it with "
                              "--max-batch-size 0 (requests then carry the full shape)")
    config = pb.ModelConfig(name=name, backend="onnxruntime", max_batch_size=mbs,
                            default_model_filename=MODEL_FILE)
    for tensors, field in ((inputs, config.input), (outputs, config.output)):
        for t in tensors:
            entry = field.add(name=t.name, data_type=pb.DataType.Value(t.data_type))
            dims = [-1 if d is None else d for d in (t.shape[1:] if mbs > 0 else t.shape)]
            if dims:
                entry.dims.extend(dims)
            else:  # a tensor of the batch axis only: Triton wants one dim, reshaped away
                entry.dims.append(1)
                entry.reshape.SetInParent()
    if options.dynamic_batching:
        batching = config.dynamic_batching
        batching.SetInParent()
        batching.preferred_batch_size.extend(options.preferred_batch_sizes)
        batching.max_queue_delay_microseconds = options.max_queue_delay_us
    kind = pb.ModelInstanceGroup.KIND_GPU if options.gpu else pb.ModelInstanceGroup.KIND_CPU
    config.instance_group.add(count=options.instances, kind=kind)
    if options.tensorrt:
        accel = config.optimization.execution_accelerators.gpu_execution_accelerator.add(name="tensorrt")
        accel.parameters["precision_mode"] = "FP32"
    if labels is not None:
        target = _label_output(config, labels, options.labels_output)
        target.label_filename = LABEL_FILE
    return config


def _label_output(config, labels: list, wanted: str | None):
    outputs = {o.name: o for o in config.output}
    if wanted is not None:
        if wanted not in outputs:
            raise DeployError(f"--labels-output '{wanted}' is not an output of the model; its outputs are "
                              f"{sorted(outputs)}")
        return outputs[wanted]
    fitting = [o for o in config.output if o.dims and o.dims[-1] == len(labels)]
    if len(fitting) != 1:
        shapes = {o.name: list(o.dims) for o in config.output}
        raise DeployError(f"the label file has {len(labels)} labels and "
                          f"{'no' if not fitting else 'more than one'} output has a last axis of that size "
                          f"(outputs: {shapes}); name the output with --labels-output")
    return fitting[0]


def config_text(config) -> str:
    from google.protobuf import text_format
    return text_format.MessageToString(config)


def parse_config(text: str, where: str = "config.pbtxt"):
    """A ``config.pbtxt`` parsed with Triton's schema; a syntax or field error names the line."""
    from google.protobuf import text_format
    pb = schema()
    try:
        return text_format.Parse(text, pb.ModelConfig())
    except text_format.ParseError as err:
        raise DeployError(f"{where} is not a valid Triton model configuration: {err}") from None


def check_config(config, proto: onnx.ModelProto, model_dir: str | None = None) -> None:
    """Check a parsed ``ModelConfig`` against Triton's rules for the onnxruntime backend and against
    the ONNX model it serves; raise `DeployError` listing every problem."""
    problems = _config_rules(config, model_dir) + _against_onnx(config, proto)
    if problems:
        where = f"model '{config.name}'" + (f" in {model_dir}" if model_dir else "")
        raise DeployError(f"{where}: the Triton configuration does not fit:\n  - " + "\n  - ".join(problems))


def _config_rules(config, model_dir) -> list[str]:
    pb = schema()
    problems = []
    if not _NAME.match(config.name):
        problems.append(f"name {config.name!r} is not a usable directory name (letters, digits, _ . -)")
    elif model_dir is not None and os.path.basename(os.path.normpath(model_dir)) != config.name:
        problems.append(f"name '{config.name}' differs from its directory '{os.path.basename(model_dir)}'")
    if config.backend != "onnxruntime" and config.platform != "onnxruntime_onnx":
        problems.append(f"backend is {config.backend or config.platform or 'unset'!r}, not 'onnxruntime'")
    if config.max_batch_size < 0:
        problems.append(f"max_batch_size is {config.max_batch_size}; it must be 0 (no batching) or more")
    if config.HasField("dynamic_batching"):
        if config.max_batch_size == 0:
            problems.append("dynamic_batching needs max_batch_size > 0")
        for size in config.dynamic_batching.preferred_batch_size:
            if not 0 < size <= max(config.max_batch_size, 0):
                problems.append(f"preferred_batch_size {size} is outside 1..max_batch_size "
                                f"({config.max_batch_size})")
    for group in config.instance_group:
        if group.count < 1:
            problems.append(f"instance_group count {group.count}; it must be at least 1")
    for entry in list(config.input) + list(config.output):
        if entry.data_type == pb.TYPE_INVALID:
            problems.append(f"'{entry.name}' has no data_type")
        if not entry.dims:
            problems.append(f"'{entry.name}' has no dims (a batch-only tensor is dims: [1] with reshape: {{}})")
        if any(d == 0 or d < -1 for d in entry.dims):
            problems.append(f"'{entry.name}' has dims {list(entry.dims)}; each must be -1 (dynamic) or positive")
    for out in config.output:
        if out.label_filename and model_dir is not None:
            if not os.path.isfile(os.path.join(model_dir, out.label_filename)):
                problems.append(f"output '{out.name}' names label file '{out.label_filename}', which is not "
                                f"in {model_dir}")
    return problems


def _against_onnx(config, proto) -> list[str]:
    pb = schema()
    problems = []
    inputs, outputs = onnx_tensors(proto)
    batched = config.max_batch_size > 0
    for kind, entries, tensors, all_required in (("input", config.input, inputs, True),
                                                 ("output", config.output, outputs, False)):
        by_name = {t.name: t for t in tensors}
        named = {e.name for e in entries}
        for e in entries:
            t = by_name.get(e.name)
            if t is None:
                problems.append(f"{kind} '{e.name}' is not in the ONNX model, whose {kind}s are {sorted(by_name)}")
                continue
            ctype = pb.DataType.Name(e.data_type)
            if ctype != t.data_type:
                problems.append(f"{kind} '{e.name}' is {ctype} in the configuration but {t.data_type} in the "
                                "ONNX model")
            problems += _dims_problems(kind, e, t, batched)
        if all_required:
            missing = sorted(set(by_name) - named)
            if missing:
                problems.append(f"ONNX {kind}s {missing} are not in the configuration (every input is required)")
    if not config.output:
        problems.append("the configuration lists no output")
    return problems


def _dims_problems(kind, entry, tensor: Tensor, batched: bool) -> list[str]:
    dims = list(entry.reshape.shape) if entry.HasField("reshape") else list(entry.dims)
    shape = tensor.shape
    if batched:
        if not shape or shape[0] is not None:
            return [f"{kind} '{entry.name}' has a fixed first axis ({_fmt(shape)}) in the ONNX model, so it "
                    "cannot be batched; use max_batch_size: 0"]
        shape = shape[1:]
    if len(dims) != len(shape):
        return [f"{kind} '{entry.name}' has {len(dims)} dims {dims} in the configuration (batch axis "
                f"{'implicit' if batched else 'included'}) but the ONNX model's is {_fmt(tensor.shape)}"]
    for axis, (d, s) in enumerate(zip(dims, shape)):
        if s is not None and d != s:
            return [f"{kind} '{entry.name}' axis {axis + batched} is {d} in the configuration but {s} in the "
                    "ONNX model"]
    return []


def _fmt(shape) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


# ---------------------------------------------------------------------------------------- repository
def read_labels(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            labels = [line.strip() for line in f if line.strip()]
    except OSError as err:
        raise DeployError(f"cannot read the label file {path!r}: {err.strerror}") from None
    if not labels:
        raise DeployError(f"the label file {path!r} has no labels (one class name a line)")
    return labels


def prepare(source, options: TritonOptions):
    """``(name, proto, config, text, labels)``, checked, with nothing written yet."""
    if options.version < 1:
        raise DeployError(f"--version is {options.version}; Triton's versions are 1 or more")
    proto, default_name = load_source(source)
    name = options.name or default_name
    if not _NAME.match(name):
        raise DeployError(f"model name {name!r} cannot be a directory in the repository; give --name "
                          "(letters, digits, _ . -)")
    labels = read_labels(options.labels) if options.labels else None
    config = build_config(proto, options, name, labels)
    text = config_text(config)
    parsed = parse_config(text)
    problems = _config_rules(parsed, None) + _against_onnx(parsed, proto)
    if problems:
        raise DeployError(f"model '{name}': " + "; ".join(problems))
    return name, proto, parsed, text, labels


def write_repository(source, repo: str, options: TritonOptions | None = None) -> str:
    """Write the model directory of ``source`` into the repository ``repo``; returns its path."""
    options = options or TritonOptions()
    return write_prepared(prepare(source, options), repo, options.version)


def write_prepared(prepared, repo: str, version: int) -> str:
    """Write what `prepare` returned into the repository ``repo``; returns the model directory."""
    from irgraph.saving import atomic_write_bytes
    name, proto, _, text, labels = prepared
    model_dir = os.path.join(os.fspath(repo), name)
    os.makedirs(os.path.join(model_dir, str(version)), exist_ok=True)
    atomic_write_bytes(os.path.join(model_dir, str(version), MODEL_FILE), proto.SerializeToString())
    if labels is not None:
        atomic_write_bytes(os.path.join(model_dir, LABEL_FILE), ("\n".join(labels) + "\n").encode())
    atomic_write_bytes(os.path.join(model_dir, "config.pbtxt"), text.encode())
    return model_dir


def model_versions(model_dir: str) -> list[int]:
    return sorted(int(d) for d in os.listdir(model_dir)
                  if d.isdigit() and os.path.isdir(os.path.join(model_dir, d)))


def check_repository(repo: str) -> list[str]:
    """Check every model directory of ``repo`` (each version's ONNX file against its config.pbtxt);
    returns the model names, raises `DeployError` on the first model that does not fit."""
    repo = os.fspath(repo)
    if not os.path.isdir(repo):
        raise DeployError(f"no model repository at {repo!r}")
    names = []
    for name in sorted(os.listdir(repo)):
        model_dir = os.path.join(repo, name)
        config_path = os.path.join(model_dir, "config.pbtxt")
        if not os.path.isfile(config_path):
            continue
        with open(config_path, encoding="utf-8") as f:
            config = parse_config(f.read(), config_path)
        versions = model_versions(model_dir)
        if not versions:
            raise DeployError(f"model '{name}' in {repo} has no version directory (e.g. {name}/1/{MODEL_FILE})")
        for version in versions:
            path = os.path.join(model_dir, str(version), config.default_model_filename or MODEL_FILE)
            if not os.path.isfile(path):
                raise DeployError(f"model '{name}' version {version} has no {os.path.basename(path)}")
            check_config(config, onnx.load(path, load_external_data=False), model_dir)
        names.append(name)
    if not names:
        raise DeployError(f"{repo!r} holds no model directory with a config.pbtxt; write one with "
                          "`irgraph deploy triton MODEL -o REPO`")
    return names
