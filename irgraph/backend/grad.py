"""Symbolic gradients (Keras ``K.gradients``): on functional tensors and inside traced code.

The implementation lives in `backend/graph.py` (the functional form records a `GradientsLayer`
call; in a trace the gradients are traced into the same graph)."""
from __future__ import annotations

from .graph import gradients, stop_gradient  # noqa: F401

__all__ = ["gradients", "stop_gradient"]
