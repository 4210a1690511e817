"""Symbolic gradients inside traced code (Keras ``K.gradients``)."""
from __future__ import annotations

from ..ops.trace import Value, apply, to_value

__all__ = ["gradients"]


def gradients(loss, variables):
    """The gradients of ``loss`` w.r.t. each of ``variables``, as symbolic tensors of the trace.

    Works while tracing: inside a Lambda or a custom layer's ``call``, or in a custom loss.
    ``loss`` is a tensor or a list of tensors; as in Keras (TensorFlow), a non-scalar loss, or a
    list, is summed first. ``variables`` are weights (`Variable`s) or tensors of the same trace,
    a list or a single one. Returns a list with one gradient per variable, shaped like it, or
    None where ``loss`` does not depend on it.
    """
    from passes.autodiff import gradients as _gradients

    losses = list(loss) if isinstance(loss, (list, tuple)) else [loss]
    if not losses:
        raise ValueError("gradients() needs at least one loss tensor")
    values = [to_value(v) for v in losses]
    for v in values:
        if not isinstance(v, Value) or v.graph is not values[0].graph:
            raise ValueError("gradients(): all losses must be tensors of the same traced graph")
    total = values[0]
    if len(values) > 1:
        total = apply("ReduceSum", [total], axes=None, keepdims=False) if total.ndim else total
        for v in values[1:]:
            total = total + (apply("ReduceSum", [v], axes=None, keepdims=False) if v.ndim else v)
    wrt_list = list(variables) if isinstance(variables, (list, tuple)) else [variables]
    wrt = [to_value(v) for v in wrt_list]
    return _gradients(total, wrt)
