"""Graph inspection: cost tables (parameters, MACs, memory) for ONNX files and irgraph models, an
interactive HTML view of every pass, and diffs between models.

    from irgraph.inspection import onnx_report, model_report
    onnx_report(onnx.load("resnet.onnx"), batch=1)      # dict: layers, total, memory, operators
    model_report(model, batch=32, train=True)
"""
from __future__ import annotations

import re

from .report import analyze, render  # noqa: F401
from .view import View, from_ir, from_onnx  # noqa: F401

DEFAULT_OPTIMIZER_SLOTS = 2  # Adam's two moments: the estimate for a model without an optimizer


def onnx_report(model, batch: int | None = None, dims: dict | None = None, train: bool = False) -> dict:
    """The cost report of an ONNX ModelProto (any producer)."""
    view = from_onnx(model, batch=batch, dims=dims)
    return analyze(view, optimizer_slots=DEFAULT_OPTIMIZER_SLOTS if train else None)


def layer_types(model) -> dict:
    """Layer name -> class name for a model and the models nested in it (walked with a stack)."""
    out, stack, seen = {}, [model], set()
    while stack:
        m = stack.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        for layer in getattr(m, "layers", []) or []:
            out.setdefault(layer.name, type(layer).__name__)
            if getattr(layer, "layers", None):
                stack.append(layer)
    return out


def model_view(model, batch: int | None = None, dims: dict | None = None, graph=None) -> View:
    """A view of the model's inference graph after every pass (or of ``graph``)."""
    g = graph if graph is not None else model.compile_graph().graph
    return from_ir(g, batch=batch, dims=dims, layer_types=layer_types(model))


def train_passes(model):
    """The PassManager of the model's training step (forward, loss, backward, optimizer update).
    A model compiled by its factory keeps its loss and optimizer; an uncompiled one is compiled
    here with ``optimizer='adam', loss='mse'`` (what the report then says)."""
    from ..training.graphs import build_step_graphs
    note = None
    if getattr(model, "compiled", None) is None:
        model.compile(optimizer="adam", loss="mse")
        note = "the model is not compiled: the training step assumes optimizer='adam', loss='mse'"
    tr = model._get_trainer()
    if tr.graphs is not None:
        return tr.graphs.train_passes, note
    import numpy as np
    ys = []
    for out, loss in zip(model.outputs, tr.config.losses):
        shape = (1,) + tuple(d if isinstance(d, int) else 1 for d in tuple(out.shape)[1:])
        sparse = "sparse" in str(loss).lower() or "sparse" in getattr(loss, "__name__", "").lower()
        ys.append(np.zeros(shape[:-1] + (1,), np.int64) if sparse else np.zeros(shape, np.float32))
    graphs = build_step_graphs(model, tr.config, tr.label_specs(ys), check=False)
    return graphs.train_passes, note


def train_step_view(model, batch: int | None = None, dims: dict | None = None):
    """The training-step graph as ONNX emits it (ONNX shape inference resolves every dimension
    once the batch is set, which the IR leaves open after some reshapes of gradients)."""
    from ..onnx.emit import emit_model
    pm, note = train_passes(model)
    proto = emit_model(pm.graph, name=f"{model.name}_train_step", weights_as_inputs=True)
    view = from_onnx(proto, batch=batch, dims=dims)
    paths = {v.path: v for v in model.weights}
    for name, t in view.tensors.items():
        if name in paths and t.kind == "input":
            t.kind, t.trainable = "weight", bool(paths[name].trainable)
    return view, note


def model_report(model, batch: int | None = None, dims: dict | None = None, train: bool = False) -> dict:
    """The cost report of an irgraph model: one row per layer call, in graph order."""
    view = model_view(model, batch, dims)
    train_view, note = None, None
    if train:
        train_view, note = train_step_view(model, batch, dims)
    report = analyze(view, train_view=train_view)
    if note:
        report["notes"].append(note)
    return report


def layer_macs(model, batch: int = 1) -> dict:
    """MACs per layer name at ``batch`` (per sample by default), for ``model.summary(show_macs=True)``:
    the calls of a shared layer ('lstm', 'lstm[1]') add up, and a nested model's row is the sum of
    its layers' ('inner/dense' counts for 'inner' and for 'inner/dense'). None where a cost is unknown."""
    out: dict = {}
    for row in model_report(model, batch=batch)["layers"]:
        parts = row["name"].split("/")
        keys = {"/".join(parts[:k]) for k in range(1, len(parts) + 1)}
        keys = {re.sub(r"\[\d+\]$", "", k) for k in keys}
        for key in keys:
            if key in out and out[key] is None:
                continue
            out[key] = None if row["macs"] is None else out.get(key, 0) + row["macs"]
    return out
