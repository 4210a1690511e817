"""Keras-style model summary: layer (type), output shape, params, connected to; shared weights
counted once in the totals."""
from __future__ import annotations

import io

import numpy as np
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _shape_str(layer) -> str:
    try:
        shape = layer.output_shape
    except AttributeError:
        return "multiple"
    return str(shape).replace("None", "None")


def _model_node_index(model) -> dict:
    """{id(call): its index among the calls of its layer that belong to the model} for every call
    of the model, found in one pass, so that a summary stays linear in the number of layers."""
    nodes = getattr(model, "_nodes", [])
    in_model = {id(n) for n in nodes}
    own = {}
    for lyr in {id(n.layer): n.layer for n in nodes}.values():
        k = 0
        for node in lyr._inbound_nodes:
            if id(node) in in_model:
                own[id(node)] = k
                k += 1
    return own


def _connected(layer, own: dict) -> str:
    parts = []
    for node in layer._inbound_nodes:
        if id(node) not in own:
            continue
        for t in node.input_tensors:
            lyr, idx, ti = t._keras_history
            src = lyr._inbound_nodes[idx]
            parts.append(f"{lyr.name}[{own.get(id(src), idx)}][{ti}]")  # model-relative node index
    return ", ".join(parts)


def _rows(model) -> list:
    """Keras 3's rows: a functional model's operations (its layers and calls such as ``a + b``, in
    ``model.layers``' order); the layers of a Sequential or subclassed model."""
    graph = model.__dict__.get("_layers_list")
    if type(model).__name__ == "Sequential" or graph is None or model.__dict__.get("_traced_subclass") \
            or model.__dict__.get("_awaiting_trace"):
        return model.layers
    return list(graph)


def summary_table(model) -> Table:
    table = Table(title=f'Model: "{model.name}"', box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("Layer (type)")
    table.add_column("Output Shape")
    table.add_column("Param #", justify="right")
    functional = type(model).__name__ != "Sequential"
    if functional:
        table.add_column("Connected to")
        own = _model_node_index(model)
    for layer in _rows(model):
        params = layer.count_params() if layer.built else 0
        row = [f"{layer.name} ({type(layer).__name__})", _shape_str(layer), f"{params:,}"]
        if functional:
            row.append(_connected(layer, own))
        table.add_row(*[escape(c) for c in row])
    return table


def totals(model) -> tuple[int, int]:
    weights = model.weights
    trainable = sum(int(np.prod(v.shape)) for v in weights if v.trainable)
    frozen = sum(int(np.prod(v.shape)) for v in weights if not v.trainable)
    return trainable, frozen


def summary_text(model, line_length: int | None = None) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=line_length or 110, force_terminal=False, color_system=None)
    console.print(summary_table(model))
    trainable, frozen = totals(model)
    console.print(f"Total params: {trainable + frozen:,}")
    console.print(f"Trainable params: {trainable:,}")
    console.print(f"Non-trainable params: {frozen:,}")
    return buf.getvalue()


def print_summary(model, print_fn=None, line_length=None) -> None:
    text = summary_text(model, line_length)
    if print_fn is None:
        print(text, end="")
    else:
        for line in text.rstrip("\n").split("\n"):
            print_fn(line)
