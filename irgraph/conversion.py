"""Model files to ONNX: `convert` (and the ``irgraph convert`` command).

Any model irgraph reads (its own saved files, a Keras 3 ``.keras`` archive, a Keras 2 ``.h5``
model) becomes an inference ONNX file with the model's input and output names, a dynamic batch axis
(and time axes where the model has them), recurrent layers as ONNX's LSTM/GRU/RNN operators; on
request also the training-step graph (weights, optimizer state, learning rate and step as inputs;
loss, metrics, new weights and new state as outputs), which trains in stock onnxruntime.
"""
from __future__ import annotations

import collections
import os
import time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class ConversionReport:
    """What `convert` did: the files written and what they hold."""
    source: str
    output: str
    model_name: str
    layers: int
    params: int
    inputs: list = field(default_factory=list)   # (name, shape, dtype)
    outputs: list = field(default_factory=list)
    operators: dict = field(default_factory=dict)  # op type -> count, in the inference graph
    opset: int = 17
    train_step: str | None = None
    seconds: float = 0.0

    def __str__(self) -> str:
        def tensors(ts):
            return ", ".join(f"{n} {_fmt_shape(s)} {d}" for n, s, d in ts)
        ops = ", ".join(f"{k} x{v}" for k, v in sorted(self.operators.items(), key=lambda kv: (-kv[1], kv[0])))
        lines = [f"converted {self.source} -> {self.output} (opset {self.opset}) in {self.seconds:.2f} s",
                 f"  model '{self.model_name}': {self.layers} layers, {self.params:,} parameters",
                 f"  inputs:  {tensors(self.inputs)}",
                 f"  outputs: {tensors(self.outputs)}",
                 f"  operators: {ops}"]
        if self.train_step:
            lines.append(f"  training step: {self.train_step}")
        return "\n".join(lines) + "\n"


def _fmt_shape(shape) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def _value_info(vi) -> tuple:
    from onnx import helper
    t = vi.type.tensor_type
    shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim)
    return vi.name, shape, helper.tensor_dtype_to_np_dtype(t.elem_type).name


def load_any(source, custom_objects=None):
    """A Model from a saved file (irgraph's or Keras's), or the Model itself."""
    from .models import Model, load_model
    if isinstance(source, Model):
        return source
    return load_model(os.fspath(source), custom_objects=custom_objects)


def convert(source, output, opset: int = 17, train_step=None, custom_objects=None) -> ConversionReport:
    """Write ``source`` (a model file or a Model) as the inference
    ONNX file ``output``, and with ``train_step`` also its training-step ONNX file (the model must
    carry a compile configuration). Returns a `ConversionReport`."""
    start = time.perf_counter()
    model = load_any(source, custom_objects)
    proto = model.to_onnx(os.fspath(output), opset=opset)
    report = ConversionReport(
        source=source if isinstance(source, str) else getattr(source, "name", str(source)),
        output=os.fspath(output), model_name=model.name, layers=len(model.layers),
        params=int(sum(int(np.prod(w.shape)) for w in model.weights)),
        inputs=[_value_info(v) for v in proto.graph.input],
        outputs=[_value_info(v) for v in proto.graph.output],
        operators=dict(collections.Counter(n.op_type for n in proto.graph.node)), opset=opset)
    if train_step is not None:
        write_train_step(model, train_step)
        report.train_step = os.fspath(train_step)
    report.seconds = time.perf_counter() - start
    return report


def write_train_step(model, path) -> None:
    """The training-step ONNX file of a compiled model, its target inputs shaped from the losses
    (class ids for sparse losses, else the output's shape) with a dynamic batch axis."""
    if model.compiled is None:
        raise ValueError(f"model '{model.name}' has no training configuration (it was saved without "
                         "compile, or loaded with compile=False), so there is no training step to "
                         "write: compile it in Python and call export_training, or convert without "
                         "--train-step")
    trainer = model._get_trainer()
    ys = [_target_example(out, loss) for out, loss in zip(model.outputs, trainer.config.losses)]
    trainer.ensure_graphs(ys)
    model.export_training(os.fspath(path), which="train")


def _target_example(output, loss):
    """One target row for ``output`` under ``loss``: its shape and dtype are all the step graph
    takes from it."""
    from .training.trainer import _is_sparse
    shape = tuple(1 if d is None else d for d in output.shape[1:])
    if loss is not None and _is_sparse(loss):
        return np.zeros((1,) + shape[:-1], dtype=np.int64)
    return np.zeros((1,) + shape, dtype=np.float32)
