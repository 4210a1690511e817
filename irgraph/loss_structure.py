"""Keras 3's rules for matching `compile(loss=..., loss_weights=...)` to a model's outputs.

A loss may cover one output or a structure of several (``loss=[whole_fn, (fn_a, fn_b)]``), an
output may have several losses (``loss=["mse", ["mse", "bce"]]``), and the loss structure follows
the output structure (lists, tuples, namedtuples, dicts, nested). The result is a flat list of
`LossEntry`: what each loss reads (a leaf: one flat output index, or a structure of them), its
weight and its name (Keras's: the output's layer name, or the path of the structure it covers
joined by '/', or for the whole output structure the flat output names joined by '_'); History
logs ``<name>_loss`` for each when there is more than one.

Kept from Keras 2 beside Keras 3's rules: a dict of losses for a model whose outputs are not a dict
may leave outputs out; one loss given bare for several outputs may take a list of weights (one per
output); a dict of weights goes with outputs by name.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import tree


@dataclass
class LossEntry:
    path: tuple        # where it sits in the output structure
    leaves: object     # a flat output index, or a structure of them (the outputs it reads)
    loss: object       # the identifier as given (resolved by the caller)
    weight: float | None
    name: str


class _Weighted:
    """A leaf of the loss structure: one loss and its weight (None stays None: no loss there)."""

    def __new__(cls, loss, weight):
        return None if loss is None else object.__new__(cls)

    def __init__(self, loss, weight):
        self.loss, self.weight = loss, weight


def _is_list_like(x) -> bool:
    return issubclass(type(x), (list, tuple))


def _same_kind(loss, y_pred) -> bool:
    return isinstance(loss, type(y_pred))


def _weights_to_structure(loss, weights, y_pred, names: list[str]):
    if isinstance(weights, dict) and not isinstance(loss, dict) and not isinstance(y_pred, dict):
        weights = [weights.get(n) for n in names]  # by output name (Keras 2)
    if tree.same_structure(loss, weights, lists_are_tuples=False):
        return weights
    flat = tree.flatten(weights)
    if len(tree.flatten(loss)) != len(flat):
        raise ValueError(f"`loss_weights` must match the number of losses, got {len(tree.flatten(loss))} losses "
                         f"and {len(weights) if tree.is_nested(weights) else 1} weights.")
    return tree.pack_sequence_as(loss, flat)


def loss_entries(loss, loss_weights, output_struct, layer_names: list, keys: list[str],
                 loss_name=str) -> list[LossEntry]:
    """The losses of ``compile`` matched to the outputs. ``output_struct``: the model's output
    structure with flat output indices as leaves (a structure of one given alone); ``layer_names``:
    the flat outputs' layer names (Keras's ``output_names``; None where an output has none, as for
    the predictions a ``compute_loss`` override restructures: the loss is then named by
    ``loss_name(identifier)``, Keras's resolved loss name); ``keys``: the names the outputs are
    known by in irgraph (dict keys of a loss for a model whose outputs are not a dict)."""
    y_pred = output_struct
    names = list(layer_names)
    if isinstance(loss, dict) and not isinstance(y_pred, dict):
        known = set(names) | set(keys)
        if not set(loss) <= known:
            raise ValueError(f"Expected keys {keys} in loss dict, but found loss.keys()={list(loss.keys())}")
        by_key = [loss.get(k, loss.get(n)) for k, n in zip(keys, names)]
        if isinstance(loss_weights, dict):
            loss_weights = [loss_weights.get(k, loss_weights.get(n)) for k, n in zip(keys, names)]
        loss = by_key if tree.is_nested(y_pred) else by_key[0]
        if not tree.is_nested(y_pred) and _is_list_like(loss_weights) and len(loss_weights) == 1:
            loss_weights = loss_weights[0]
    if not tree.is_nested(loss) and tree.is_nested(y_pred) and loss_weights is not None \
            and tree.is_nested(loss_weights):  # one loss, a weight per output (Keras 2)
        loss = tree.map_structure(lambda _: loss, y_pred)
    if loss_weights is not None:
        loss_weights = _weights_to_structure(loss, loss_weights, y_pred, keys)
        weighted = tree.pack_sequence_as(loss, [_Weighted(lo, w) for lo, w in
                                                zip(tree.flatten(loss), tree.flatten(loss_weights))])
    else:
        weighted = tree.map_structure(lambda lo: _Weighted(lo, None), loss)
    output_names = tree.pack_sequence_as(y_pred, names)
    if not tree.is_nested(weighted):
        weighted = tree.map_structure(lambda _: weighted, y_pred)
    entries: list[LossEntry] = []
    _match(y_pred, weighted, output_names, (), entries, loss_name)
    return entries


def _match(y_pred, loss, output_names, path: tuple, out: list, loss_name) -> None:
    """Keras's walk of the loss structure along the outputs (the user's nesting: a few levels)."""
    if not tree.is_nested(loss):
        if loss is None:
            return
        name_path = path
        if not tree.is_nested(output_names):
            if output_names is None:
                output_names = loss_name(loss.loss)
            if not name_path:
                name_path = (output_names,)
            elif isinstance(name_path[-1], int):
                name_path = name_path[:-1] + (output_names,)
        name = "/".join(str(p) for p in name_path)
        if name == "":
            name = "_".join(list(output_names) if isinstance(output_names, dict) else tree.flatten(output_names))
        out.append(LossEntry(path, y_pred, loss.loss, loss.weight, name))
        return
    if _is_list_like(loss) and all(not tree.is_nested(lo) for lo in loss) \
            and len(loss) == len(tree.flatten(y_pred)):
        loss = tree.pack_sequence_as(y_pred, list(loss))  # one loss per output of this structure
    elif _is_list_like(loss) and not _same_kind(loss, y_pred):
        for each in loss:  # several losses over the same outputs
            _match(y_pred, each, output_names, path, out, loss_name)
        return
    if not tree.is_nested(loss):
        _match(y_pred, loss, output_names, path, out, loss_name)
        return
    if not _same_kind(loss, y_pred):
        raise KeyError(f"The path: {path} in the `loss` argument, can't be found in the model's output "
                       f"(`y_pred`): the loss there is a {type(loss).__name__}, the outputs a "
                       f"{type(y_pred).__name__}.")
    items = loss.items() if isinstance(loss, dict) else enumerate(loss)
    for key, each in items:
        if each is None:
            continue
        fits = key in y_pred if isinstance(y_pred, dict) else (_is_list_like(y_pred) and key < len(y_pred))
        if not fits:
            raise KeyError(f"The path: {path + (key,)} in the `loss` argument, can't be found in either the "
                           "model's output (`y_pred`) or in the labels (`y_true`).")
        _match(y_pred[key], each, output_names[key], path + (key,), out, loss_name)
