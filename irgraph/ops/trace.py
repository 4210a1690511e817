"""Tracing: running layer code on symbolic `Value`s records primitive op nodes into a `Graph`.

Backend functions (`irgraph.backend`) call `apply(op_name, inputs, **attrs)`; the op's shape rule
runs immediately, so layer code can read ``x.shape`` while it builds the graph.
"""
from __future__ import annotations

import contextlib
import numbers
import threading

import numpy as np

from .base import FLOAT_DTYPES, ShapeError, Spec, get_op
from ..operators import TensorOperators
from ..variables import Variable

_state = threading.local()


class TraceState:
    def __init__(self, graph, training: bool = False):
        self.graph = graph
        self.training = training
        self.scope: list[str] = []
        self.updates: list = []  # (Variable, Value): state written by the step (BatchNorm moving stats)
        self.losses: list = []   # scalar Values added by layers (add_loss, activity regularizers)

    @property
    def scope_name(self) -> str:
        return "/".join(self.scope)


def _stack() -> list:
    if not hasattr(_state, "stack"):
        _state.stack = []
    return _state.stack


@contextlib.contextmanager
def tracing(graph, training: bool = False):
    st = TraceState(graph, training)
    _stack().append(st)
    try:
        yield st
    finally:
        _stack().pop()


def current() -> TraceState:
    s = _stack()
    if not s:
        raise RuntimeError("backend ops on symbolic tensors need an active trace "
                           "(they run inside a layer's call, a Lambda, or a custom loss)")
    return s[-1]


def active() -> bool:
    return bool(_stack())


@contextlib.contextmanager
def scope(name: str):
    st = current()
    st.scope.append(name)
    try:
        yield
    finally:
        st.scope.pop()


class Value(TensorOperators):
    """A symbolic tensor inside a trace: one output slot of a graph node."""

    __slots__ = ("graph", "node", "slot", "spec")

    def __init__(self, graph, node: str, slot: int, spec: Spec):
        self.graph, self.node, self.slot, self.spec = graph, node, slot, spec

    @property
    def shape(self) -> tuple:
        return tuple(d if isinstance(d, int) else None for d in self.spec.shape)

    @property
    def sym_shape(self) -> tuple:
        return self.spec.shape

    @property
    def dtype(self) -> str:
        return self.spec.dtype

    @property
    def ndim(self) -> int:
        return len(self.spec.shape)

    @property
    def tensor(self) -> tuple:
        return (self.node, self.slot)

    def __repr__(self) -> str:
        return f"<Value {self.node}:{self.slot} shape={self.shape} dtype={self.dtype}>"

    def __bool__(self):
        raise TypeError("a symbolic tensor has no truth value while tracing; "
                        "use backend functions (K.switch, K.greater) instead of Python `if`")


def constant(value, dtype: str | None = None) -> Value:
    """A constant node in the current trace (numpy array or Python scalar)."""
    arr = np.asarray(value, dtype=dtype)
    if dtype is None and arr.dtype == np.float64 and not isinstance(value, np.ndarray):
        arr = arr.astype(np.float32)
    st = current()
    nid = st.graph.add_const(arr)
    return Value(st.graph, nid, 0, st.graph.node(nid)["specs"][0])


def to_value(x, like: str | None = None) -> Value:
    """Turn a Value, a Variable, a numpy array or a Python number into a Value of the trace."""
    if isinstance(x, Value):
        return x
    st = current()
    if isinstance(x, Variable):
        nid = st.graph.add_weight(x)
        return Value(st.graph, nid, 0, st.graph.node(nid)["specs"][0])
    if isinstance(x, (numbers.Number, np.number, np.ndarray, list, tuple)):
        arr = np.asarray(x)
        if like is not None and (arr.dtype.kind in "fiub") and not isinstance(x, np.ndarray):
            arr = arr.astype(like)
        elif like is not None and isinstance(x, np.ndarray) and arr.ndim == 0:
            arr = arr.astype(like)
        elif arr.dtype == np.float64:
            arr = arr.astype(like if like in FLOAT_DTYPES else np.float32)
        return constant(arr)
    raise TypeError(f"cannot use {type(x).__name__} as a tensor inside a traced call; "
                    "expected a symbolic tensor, a weight, a number or a numpy array")


def _dtype_hint(inputs) -> str | None:
    for x in inputs:
        if isinstance(x, Value):
            return x.dtype
    for x in inputs:
        if isinstance(x, Variable):
            return x.dtype
    return None


def apply(op_name: str, inputs: list, **attrs):
    """Record one primitive op; returns a Value, or a tuple of Values for multi-output ops."""
    st = current()
    op = get_op(op_name)
    hint = _dtype_hint(inputs)
    vals = [None if x is None else to_value(x, hint) for x in inputs]
    specs = [None if v is None else v.spec for v in vals]
    try:
        out_specs = op.infer(attrs, specs)
    except ShapeError as err:
        where = f"in layer '{st.scope_name}'" if st.scope else "while tracing"
        shapes = ", ".join("absent" if s is None else f"{_fmt(s.shape)} {s.dtype}" for s in specs)
        raise ShapeError(f"{where}: op {op_name} got inputs [{shapes}]: {err}") from None
    nid = st.graph.add_op(op_name, [None if v is None else v.tensor for v in vals], out_specs,
                          attrs, st.scope_name)
    outs = tuple(Value(st.graph, nid, i, s) for i, s in enumerate(out_specs))
    return outs[0] if len(outs) == 1 else outs


def _fmt(shape) -> str:
    from .base import fmt_shape
    return fmt_shape(shape)
