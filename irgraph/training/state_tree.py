"""A model's state as Keras 3's state tree: ``get_state_tree`` / ``set_state_tree``.

The tree is a dict of four nested dicts, each keyed by the parts of Keras's variable paths
(``'output_a/kernel'`` -> ``tree['trainable_variables']['output_a']['kernel']``):

* ``trainable_variables`` / ``non_trainable_variables``: the model's weights;
* ``optimizer_variables``: under the optimizer's name, ``iteration``, ``learning_rate`` (unless it is
  a schedule) and each slot made so far, named as Keras names it (``<weight path with '/' as
  '_'>_<slot>``, e.g. ``output_a_kernel_momentum``);
* ``metrics_variables``: ``loss/total``, ``loss/count`` and, once fit or evaluate has run, the
  per-output losses and the compiled metrics with Keras's variable names (``total``/``count`` of mean
  metrics, ``true_positives``... of confusion metrics), holding the sums of the last epoch run.

Every value is read from and written to the weight store (`irgraph.variables`), the one owner of
each weight and slot, so a tree set while a training session holds the weights reaches it. irgraph's
eager tensors are numpy arrays, so both value formats give numpy arrays (copies).
"""
from __future__ import annotations

import numpy as np

from .. import variables as store

_VALUE_FORMATS = ("backend_tensor", "numpy_array")
_CONFUSION_NAMES = {"tp": "true_positives", "fp": "false_positives", "tn": "true_negatives",
                    "fn": "false_negatives"}


def _nested(flat: dict) -> dict:
    out: dict = {}
    for path, value in flat.items():
        parts = path.split("/")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _flat(nested: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in nested.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _unique(paths: list[str]) -> None:
    seen: set = set()
    for p in paths:
        if p in seen:
            raise ValueError(f"The following variable path is found twice in the model: '{p}'. "
                             "`get_state_tree()` can only be called when all variable paths are unique. "
                             "Make sure to give unique names to your layers (and other objects).")
        seen.add(p)


# ------------------------------------------------------------------------- what each part holds
class _Entry:
    """One leaf of the tree: its Keras path, how to read it and how to write it."""

    def __init__(self, path, read, write):
        self.path, self.read, self.write = path, read, write


def _weight_entries(variables) -> list:
    return [_Entry(v.path, v.numpy, lambda value, v=v: store.assign_all([(v, value)])) for v in variables]


def _optimizer_entries(model) -> list:
    compiled = model.compiled
    if compiled is None or not compiled.optimizer_given:
        return []
    opt = compiled.optimizer
    out = [_Entry(f"{opt.name}/iteration", lambda: np.asarray(opt.iterations, np.int64),
                  lambda value: setattr(opt, "iterations", int(np.asarray(value))))]
    if not callable(opt.learning_rate):
        out.append(_Entry(f"{opt.name}/learning_rate", lambda: np.asarray(opt.learning_rate, np.float32),
                          lambda value: setattr(opt, "learning_rate", float(np.asarray(value)))))
    made = opt._slot_variables  # Keras's optimizer has slots once built (by the first fit)
    for var in model.trainable_weights:
        entry = made.get(var.path)
        if entry is None or entry[0] is not var:
            continue
        for slot_name, slot in zip(opt.slot_names(), entry[1]):
            path = f"{opt.name}/{var.path.replace('/', '_')}_{slot_name}"
            out.append(_Entry(path, slot.numpy, lambda value, s=slot: store.assign_all([(s, value)])))
    return out


def _metric_state_names(metric, count: int) -> list[str]:
    keys = getattr(metric, "_keys", None)
    if keys:
        return [_CONFUSION_NAMES.get(k, k) for k in keys]
    if count == 2 and type(metric).__name__ != "AUC":
        return ["total", "count"]
    if count == 4:  # AUC
        return ["true_positives", "false_positives", "true_negatives", "false_negatives"]
    return [f"state_{i}" for i in range(count)]


def _metric_entries(model) -> list:
    """The loss tracker (zeros before any fit or evaluate) and the metric sums of the last epoch."""
    trainer = model.__dict__.get("_trainer")
    state = None if trainer is None else trainer.metric_state
    if state is None or state.totals is None:
        sums = {"loss": [np.zeros((), np.float32), np.zeros((), np.float32)]}
        return [_Entry(f"loss/{name}", lambda s=s: s, lambda value: None)
                for name, s in zip(("total", "count"), sums["loss"])]
    out = []
    for key, (total, _) in state.losses_items():
        for name, index in (("total", 0), ("count", 1)):
            out.append(_Entry(f"{key}/{name}", lambda k=key, i=index: state.loss_sum(k, i),
                              lambda value, k=key, i=index: state.set_loss_sum(k, i, value)))
    for slot in state.graphs.metrics:
        names = _metric_state_names(slot.metric, len(slot.outputs))
        for i, name in enumerate(names):
            scope = getattr(slot.metric, "state_scope", slot.metric.name)
            out.append(_Entry(f"{scope}/{name}", lambda s=slot, i=i: state.metric_sum(s, i),
                              lambda value, s=slot, i=i: state.set_metric_sum(s, i, value)))
    return out


def _parts(model) -> dict:
    return {"trainable_variables": _weight_entries(model.trainable_weights),
            "non_trainable_variables": _weight_entries(model.non_trainable_weights),
            "optimizer_variables": _optimizer_entries(model),
            "metrics_variables": _metric_entries(model)}


# ------------------------------------------------------------------------------------- the API
def get_state_tree(model, value_format: str = "backend_tensor") -> dict:
    if value_format not in _VALUE_FORMATS:
        raise ValueError("Invalid `value_format` argument. Expected one of {'numpy_array', 'backend_tensor'}. "
                         f"Received: value_format={value_format}")
    tree = {}
    with store.LOCK:  # one consistent snapshot
        for part, entries in _parts(model).items():
            _unique([e.path for e in entries])
            tree[part] = _nested({e.path: np.array(e.read()) for e in entries})
    return tree


def set_state_tree(model, state_tree: dict) -> None:
    """Assign the values of ``state_tree`` (any subset of the four parts, each any subset of its
    paths) to the variables at those paths; paths the model does not have are ignored, as in Keras."""
    parts = _parts(model)
    for part in state_tree:
        if part not in parts:
            raise ValueError(f"Unknown variable name: {part} (model '{model.name}'; a state tree has "
                             f"the parts {list(parts)})")
    for part, values in state_tree.items():
        entries = {e.path: e for e in parts[part]}
        for path, value in _flat(values).items():
            entry = entries.get(path)
            if entry is not None:
                entry.write(value)
