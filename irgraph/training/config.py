"""What `compile` was told, resolved per model output: losses, loss weights, metrics, optimizer."""
from __future__ import annotations

import math

from .. import losses as losses_mod
from .. import metrics as metrics_mod
from .. import optimizers


def _per_output(value, names: list[str], what: str, default=None):
    """Spread a compile argument over the outputs: a dict by output name, a list in output order,
    or one value for every output (Keras 2 behaviour)."""
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ValueError(f"compile(): {what} names {unknown}, which are not outputs of the model; "
                             f"its outputs are {names}")
        return [value.get(n, default) for n in names]
    if isinstance(value, (list, tuple)) and what != "metrics":
        if len(value) != len(names):
            raise ValueError(f"compile(): {what} has {len(value)} entries but the model has "
                             f"{len(names)} outputs {names}; pass one per output or a dict by name")
        return list(value)
    return [value] * len(names)


def _loss_weight(w, output: str) -> float:
    try:
        value = float(w)
    except (TypeError, ValueError):
        raise TypeError(f"compile(): loss_weights for output '{output}' must be a number, got {w!r}") from None
    if isinstance(w, bool) or not math.isfinite(value):
        raise ValueError(f"compile(): loss_weights for output '{output}' must be a finite number, got {w!r}")
    return value


class CompileConfig:
    def __init__(self, model, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                 weighted_metrics=None):
        self.output_names = list(model.output_names)
        names = self.output_names
        self.optimizer = optimizers.get(optimizer)
        self.loss_ids = _per_output(loss, names, "loss")
        self.losses = [None if ident is None else losses_mod.get(ident) for ident in self.loss_ids]
        weights = _per_output(loss_weights, names, "loss_weights", default=1.0) if loss_weights is not None \
            else [1.0] * len(names)
        self.loss_weights = [1.0 if w is None else _loss_weight(w, n) for w, n in zip(weights, names)]
        self.metric_ids = self._metric_lists(metrics, names, "metrics")
        self.weighted_metric_ids = self._metric_lists(weighted_metrics, names, "weighted_metrics")
        if all(loss is None for loss in self.losses):
            raise ValueError("compile() needs a loss for at least one output (e.g. loss='mse'); "
                             f"the model's outputs are {names}")

    @staticmethod
    def _metric_lists(metrics, names, what):
        if metrics is None:
            return [[] for _ in names]
        if isinstance(metrics, dict):
            unknown = [k for k in metrics if k not in names]
            if unknown:
                raise ValueError(f"compile(): {what} names {unknown}, which are not outputs of the model; "
                                 f"its outputs are {names}")
            out = []
            for n in names:
                m = metrics.get(n, [])
                out.append(list(m) if isinstance(m, (list, tuple)) else [m])
            return out
        if isinstance(metrics, (list, tuple)) and metrics and all(isinstance(m, (list, tuple)) for m in metrics):
            if len(metrics) != len(names):
                raise ValueError(f"compile(): {what} has {len(metrics)} lists for {len(names)} outputs")
            return [list(m) for m in metrics]
        items = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
        return [list(items) for _ in names]

    def resolve_metrics(self, label_shapes: dict, pred_shapes: dict):
        """Metric objects per output (Keras resolves 'accuracy' from the loss and the shapes)."""
        resolved, weighted = [], []
        for name, loss_id, loss, ids, wids in zip(self.output_names, self.loss_ids, self.losses,
                                                  self.metric_ids, self.weighted_metric_ids):
            kw = dict(loss=loss if loss is not None else loss_id, y_true_shape=label_shapes.get(name),
                      y_pred_shape=pred_shapes.get(name))
            resolved.append([metrics_mod.get(m, **kw) for m in ids])
            weighted.append([metrics_mod.get(m, **kw) for m in wids])
        return resolved, weighted
