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


def _connected(layer, model) -> str:
    parts = []
    for node in layer._inbound_nodes:
        if node not in getattr(model, "_nodes", []):
            continue
        for t in node.input_tensors:
            lyr, idx, ti = t._keras_history
            own = [n for n in lyr._inbound_nodes if n in model._nodes]  # model-relative node index
            src = lyr._inbound_nodes[idx]
            parts.append(f"{lyr.name}[{own.index(src) if src in own else idx}][{ti}]")
    return ", ".join(parts)


def summary_table(model) -> Table:
    table = Table(title=f'Model: "{model.name}"', box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("Layer (type)")
    table.add_column("Output Shape")
    table.add_column("Param #", justify="right")
    functional = type(model).__name__ != "Sequential"
    if functional:
        table.add_column("Connected to")
    for layer in model.layers:
        params = layer.count_params() if layer.built else 0
        row = [f"{layer.name} ({type(layer).__name__})", _shape_str(layer), f"{params:,}"]
        if functional:
            row.append(_connected(layer, model))
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
