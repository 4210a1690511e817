"""Keras 3's ``model.summary()``: the same rows (layers and operations, in ``model.layers``' order),
columns, nesting marks, parameter totals with their byte sizes and the optimizer line.

The facts follow keras/src/utils/summary_utils.py: a Sequential, a subclassed model and a functional
model whose graph is a chain get the columns Layer (type) / Output Shape / Param #; any other
functional model gets "Connected to" too (``layer[node index][tensor index]``, ``-`` for none).
``show_trainable`` adds Y / N, or ``-`` for a layer without weights; ``expand_nested`` lists the
layers of nested models under them (``└`` indented per level); ``layer_range`` picks the rows from
the first layer whose name matches its first pattern to the last one matching its second. Totals
count each weight once; after the optimizer has been built (the first ``fit``, ``evaluate``,
``train_on_batch`` or ``test_on_batch`` of a compiled model) the optimizer's variables are counted
as Keras counts them.
"""
from __future__ import annotations

import io
import math
import re
import shutil

import numpy as np
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

_NESTED_MARK = "└ "


# ------------------------------------------------------------------------------------ rows
def top_rows(model) -> list:
    """Keras 3's rows: a functional model's operations (its layers and calls such as ``a + b``, in
    ``model.layers``' order); the layers of a Sequential or subclassed model."""
    return list(model._layers_list) if _is_functional(model) else list(model.layers)


def _is_sequential(model) -> bool:
    from .models import Sequential
    return isinstance(model, Sequential)


def _is_functional(model) -> bool:
    return not _is_sequential(model) and not model.__dict__.get("_traced_subclass") \
        and not model.__dict__.get("_awaiting_trace") and model.__dict__.get("_layers_list") is not None


def sequential_like(model) -> bool:
    """Keras's test for leaving out "Connected to": not a functional model, or a functional model
    whose calls form one chain (one input per call, one call per depth, no layer called twice)."""
    if not _is_functional(model):
        return True
    nodes = list(model._nodes)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return False
    consumers: dict = {}
    for node in nodes:
        reads = node.all_input_tensors
        if len(reads) != 1:
            return False
        consumers[id(reads[0])] = consumers.get(id(reads[0]), 0) + 1
    if any(k > 1 for k in consumers.values()):
        return False
    layers = [id(n.layer) for n in nodes]
    return len(set(layers)) == len(layers)


def layer_index_range(rows: list, layer_range) -> tuple[int, int]:
    """``[start, stop)`` of the rows picked by ``layer_range`` (two name patterns, matched with
    ``re.match``; both ends inclusive), Keras's rule and errors."""
    if layer_range is None:
        return 0, len(rows)
    if len(layer_range) != 2:
        raise ValueError("layer_range must be a list or tuple of length 2. Received: "
                         f"layer_range = {layer_range} of length {len(layer_range)}")
    if not all(isinstance(p, str) for p in layer_range):
        raise ValueError(f"layer_range should contain string type only. Received: {layer_range}")
    first = [i for i, lyr in enumerate(rows) if re.match(layer_range[0], lyr.name)]
    last = [i for i, lyr in enumerate(rows) if re.match(layer_range[1], lyr.name)]
    if not first or not last:
        raise ValueError("Passed layer_names do not match the layer names in the model. "
                         f"Received: {layer_range}; the layers are {[lyr.name for lyr in rows]}")
    if min(first) > max(last):
        return min(last), max(first) + 1
    return min(first), max(last) + 1


# ------------------------------------------------------------------------------------ cells
def _shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def output_shape_text(layer) -> str:
    """The output shape of the layer's last call (Keras's choice), ``?`` if it was never called."""
    nodes = layer._inbound_nodes
    if not nodes:  # built by a direct build(input_shape) call: the shape that build was given
        shapes = layer.__dict__.get("_build_shapes")
        if not layer.built or shapes is None:
            return "?"
        try:
            out = layer.compute_output_shape(shapes)
        except (NotImplementedError, ValueError, TypeError):
            return "?"
        return _shape_text(out) if not isinstance(out, list) else "[" + ", ".join(map(_shape_text, out)) + "]"
    from .layers.base import flatten
    from .tensor import KerasTensor
    outs = flatten(nodes[-1].outputs, lambda o: isinstance(o, KerasTensor))[0]
    shapes = [_shape_text(t.shape) for t in outs]
    return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"


def _params_text(layer) -> str:
    if not getattr(layer, "built", True):
        return "0 (unbuilt)"
    return f"{layer.count_params():,}"


def _trainable_text(layer) -> str:
    if not layer.weights:
        return "-"
    return "Y" if layer.trainable else "N"


def _model_nodes(model) -> set:
    """ids of the calls that belong to the model (Keras's ``relevant_nodes``), Input calls included."""
    own = {id(n) for n in getattr(model, "_nodes", [])}
    for t in model.inputs:
        lyr, idx, _ = t._keras_history
        own.add(id(lyr._inbound_nodes[idx]))
    return own


def _connections(layer, own: set) -> str:
    parts = []
    for node in layer._inbound_nodes:
        if id(node) not in own:
            continue
        for t in node.all_input_tensors:
            src, node_index, tensor_index = t._keras_history
            parts.append(f"{src.name}[{node_index}][{tensor_index}]")
    return ", ".join(parts) or "-"


def summary_rows(model, expand_nested=False, show_trainable=False, layer_range=None) -> list[list[str]]:
    """The rows as lists of cell texts: name (type), output shape, params, [connected to],
    [trainable]. Nested models are expanded with an explicit stack (no recursion with depth)."""
    connected = not sequential_like(model)
    own = _model_nodes(model) if connected else set()
    rows = top_rows(model)
    start, stop = layer_index_range(rows, layer_range)
    stack = [(lyr, 0) for lyr in reversed(rows[start:stop])]
    out = []
    while stack:
        layer, level = stack.pop()
        prefix = "   " * level + _NESTED_MARK if level else ""
        cells = [f"{prefix}{layer.name} ({_type_name(layer)})", output_shape_text(layer), _params_text(layer)]
        if connected:
            cells.append(_connections(layer, own))
        if show_trainable:
            cells.append(_trainable_text(layer))
        out.append(cells)
        inner = getattr(layer, "layers", None) if expand_nested and _is_model(layer) else None
        if inner:
            stack.extend((lyr, level + 1) for lyr in reversed(inner))
    return out


def _type_name(layer) -> str:
    """The class name; ``Model(inputs, outputs)`` itself is Keras 3's ``Functional``."""
    from .layers.core import OpLayer
    from .models import Model
    if isinstance(layer, OpLayer):  # a backend call: Keras 3 names the Operation's class (Mean, Add)
        name = getattr(layer.fn, "__name__", "") or type(layer).__name__
        return "".join(part[:1].upper() + part[1:] for part in name.split("_"))
    return "Functional" if type(layer) is Model and _is_functional(layer) else type(layer).__name__


def _is_model(layer) -> bool:
    from .models import Model
    return isinstance(layer, Model)


# ------------------------------------------------------------------------------------ totals
def _bytes(shape, dtype) -> int:
    return int(math.prod(shape)) * np.dtype(dtype).itemsize


def readable_size(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n_bytes < 1024:
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.2f} PB"


def _count(specs) -> tuple[int, int]:
    specs = list(specs)
    return sum(int(math.prod(s)) for s, _ in specs), sum(_bytes(s, d) for s, d in specs)


def totals(model) -> tuple[int, int]:
    """(trainable, non-trainable) parameter counts, each weight once."""
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    frozen = sum(int(np.prod(v.shape)) for v in model.non_trainable_weights)
    return trainable, frozen


def optimizer_built(model) -> bool:
    """Keras builds the optimizer at the first fit/evaluate/train_on_batch/test_on_batch after
    compile: here, when the model's trainer exists."""
    return model.__dict__.get("compiled") is not None and model.optimizer is not None \
        and model.__dict__.get("_trainer") is not None


def total_lines(model) -> list[str]:
    trainable = [(tuple(v.shape), v.dtype) for v in _unique(model.trainable_weights)]
    frozen = [(tuple(v.shape), v.dtype) for v in _unique(model.non_trainable_weights)]
    t_count, t_bytes = _count(trainable)
    f_count, f_bytes = _count(frozen)
    o_count = o_bytes = 0
    built = optimizer_built(model)
    if built:
        o_count, o_bytes = _count(model.optimizer.keras_variable_specs(model.trainable_weights))
    lines = [f"Total params: {t_count + f_count + o_count:,} ({readable_size(t_bytes + f_bytes + o_bytes)})",
             f"Trainable params: {t_count:,} ({readable_size(t_bytes)})",
             f"Non-trainable params: {f_count:,} ({readable_size(f_bytes)})"]
    if built:
        lines.append(f"Optimizer params: {o_count:,} ({readable_size(o_bytes)})")
    return lines


def _unique(weights) -> list:
    return list({id(v): v for v in weights}.values())


# ------------------------------------------------------------------------------------ printing
def _column_widths(line_length: int, positions) -> list[int]:
    if all(p <= 1 for p in positions):
        positions = [int(p * line_length) for p in positions]
    widths, current = [], 0
    for pos in positions:
        width = int(pos) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary: give a larger line_length "
                             f"(got {line_length}) or wider positions (got {list(positions)})")
        widths.append(width)
        current += width
    return widths


def summary_text(model, line_length=None, positions=None, expand_nested=False, show_trainable=False,
                 layer_range=None, show_macs=False) -> str:
    connected = not sequential_like(model)
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if connected else [])
    justify = ["left", "left", "right"] + (["left"] if connected else [])
    default_length = 108 if connected else 88
    default_positions = [0.3, 0.56, 0.74, 1.0] if connected else [0.45, 0.80, 1.0]
    if show_trainable:
        default_length += 12
        default_positions = [p * 0.9 for p in default_positions] + [1.0]
        header.append("Trainable")
        justify.append("center")
    macs = _macs_column(model, header, justify, default_positions) if show_macs else None
    if macs is not None:
        default_length += 14
    if positions is not None and len(positions) != len(header):
        raise ValueError(f"positions gives {len(positions)} column ends, the summary has {len(header)} "
                         f"columns ({', '.join(header)})")
    line_length = line_length or min(default_length, shutil.get_terminal_size().columns - 4)
    widths = _column_widths(line_length, positions or default_positions)
    columns = [Column(h, justify=j, width=w) for h, j, w in zip(header, justify, widths)]
    table = Table(*columns, width=line_length, show_lines=True, box=box.HEAVY_HEAD)
    for cells in summary_rows(model, expand_nested, show_trainable, layer_range):
        if macs is not None:
            cells.insert(3, macs(cells[0]))
        table.add_row(*[escape(c) for c in cells])
    buf = io.StringIO()
    console = Console(file=buf, width=max(line_length, 20), force_terminal=False, color_system=None,
                      highlight=False)
    console.print(f'Model: "{escape(model.name)}"')
    console.print(table)
    for line in total_lines(model):
        console.print(" " + line)
    return buf.getvalue()


def _macs_column(model, header, justify, positions):
    """irgraph's optional column (issue 13): the MACs of each layer per sample, after 'Param #'
    (46.37M: `irgraph inspect` gives them exactly). Returns the cell text of a row, given its first cell."""
    from .inspection import layer_macs
    from .inspection.report import human
    per_layer = layer_macs(model)
    header.insert(3, "MACs")
    justify.insert(3, "right")
    positions[:] = [p * 0.88 for p in positions[:3]] + [positions[2] * 0.88 + 0.12] + \
        [p * 0.88 + 0.12 for p in positions[3:]]

    def cell(first: str) -> str:
        name = first.rsplit(" (", 1)[0].replace(_NESTED_MARK, "").strip()
        value = per_layer.get(name, 0)
        return human(value)
    return cell


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None, show_macs=False) -> None:
    """Print the summary, or give it to ``print_fn`` in one call (Keras 3's way); ``show_macs``
    adds irgraph's MACs column (per sample)."""
    text = summary_text(model, line_length, positions, expand_nested, show_trainable, layer_range, show_macs)
    if print_fn is None:
        print(text, end="")
    else:
        print_fn(text)
