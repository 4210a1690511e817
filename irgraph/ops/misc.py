"""Primitives used by metrics and utilities (TopK, ...): no gradient needed."""
