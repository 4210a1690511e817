"""Primitive ops: each defined once with its shape rule, ONNX emission and (later) VJP rule."""
from .base import OPS, Op, ShapeError, Spec, get_op, register  # noqa: F401
from . import elementwise, reduce, shape, linalg, nn, recurrent, misc, random  # noqa: F401,E401  (registration)
