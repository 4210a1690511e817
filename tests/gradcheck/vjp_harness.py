"""Gradient-check harness: one primitive (or a small composition) against central differences.

For a `Case`, the graph is built twice from the same ``build`` function:

* forward: the case's inputs (float, symbolic batch dim where the op allows) -> its outputs;
* gradient: the same plus one input ``r<i>`` per output and the scalar loss sum(out_i * r_i),
  differentiated with `irgraph.passes.autodiff.gradients` w.r.t. every input, then `cleanup`.

Both are emitted at opset 17 and pass ``onnx.checker.check_model(full_check=True)``. The float64
graphs run in onnxruntime when it has float64 kernels for every op, else in
``onnx.reference.ReferenceEvaluator``; in that case the float32 build of the gradient graph also
runs in onnxruntime and must match the float64 gradient loosely, so every backward graph is
proven to run in stock onnxruntime. The analytic gradient is compared with central differences
(eps 1e-6, float64) of the forward outputs, formed as sum((out(x+e) - out(x-e)) * r) / 2e so the
loss's own magnitude does not cancel away digits.
"""
from __future__ import annotations

import itertools
import math
import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import onnx
import onnxruntime as ort
from onnx.reference import ReferenceEvaluator
from onnx.reference.op_run import OpRun

from irgraph.ir import Graph
from irgraph.onnx import emit_model
from irgraph.ops.base import Spec
from irgraph.ops.trace import Value, apply, tracing
from irgraph.passes.autodiff import gradients
from irgraph.passes.cleanup import cleanup
from recurrent_reference import REFERENCE_OPS

EPS = 1e-6
BATCH = 2
DIMS = {"batch": BATCH, "h": 7, "w": 6, "t": 5, "l": 9}


@dataclass
class Inp:
    """A graph input: symbolic shape and how to draw its values (float64)."""

    shape: tuple
    kind: str = "normal"  # normal | positive | away (|x| >= 0.5) | uniform (-1, 1) | given
    value: np.ndarray | None = None
    grad: bool = True     # differentiate w.r.t. it

    def concrete(self) -> tuple:
        return tuple(DIMS[d] if isinstance(d, str) else d for d in self.shape)


@dataclass
class Case:
    op: str                      # the primitive under test (coverage)
    id: str
    inputs: dict                 # name -> Inp
    build: Callable              # (*Values) -> Value or sequence of Values
    rtol: float = 1e-6
    atol: float = 1e-8
    eps: float = EPS
    note: str = ""
    values: dict = field(default_factory=dict)

    def __post_init__(self):
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        for name, inp in self.inputs.items():
            shape = inp.concrete()
            if inp.kind == "given":
                v = np.asarray(inp.value, dtype=np.float64)
            elif inp.kind == "positive":
                v = rng.uniform(0.5, 2.0, shape)
            elif inp.kind == "away":
                v = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
            elif inp.kind == "uniform":
                v = rng.uniform(-1, 1, shape)
            else:
                v = rng.standard_normal(shape)
            self.values[name] = v

    def __repr__(self):
        return self.id


def _as_list(outs):
    return list(outs) if isinstance(outs, (list, tuple)) else [outs]


def build_graph(case: Case, dtype: str, with_grad: bool):
    """Returns the graph, the names of its float outputs and {input: gradient output name or None}."""
    g = Graph(case.id)
    grad_names = {}
    with tracing(g, training=True):
        vals = []
        for name, inp in case.inputs.items():
            spec = Spec(tuple(inp.shape), dtype)
            vals.append(Value(g, g.add_input(name, spec), 0, spec))
        outs = [o for o in _as_list(case.build(*vals)) if o.dtype == dtype]
        out_names = []
        for i, o in enumerate(outs):
            out_names.append(f"out{i}")
            g.add_output(f"out{i}", o.tensor)
        if with_grad:
            loss = None
            for i, o in enumerate(outs):
                spec = Spec(o.sym_shape, dtype)
                r = Value(g, g.add_input(f"r{i}", spec), 0, spec)
                term = apply("ReduceSum", [o * r], axes=None, keepdims=False)
                loss = term if loss is None else loss + term
            wrt = [(n, v) for (n, inp), v in zip(case.inputs.items(), vals) if inp.grad]
            grads = gradients(loss, [v for _, v in wrt])
            for (name, _), gv in zip(wrt, grads):
                if gv is None:
                    grad_names[name] = None
                    continue
                assert gv.dtype == dtype, f"gradient of {name} is {gv.dtype}, not {dtype}"
                grad_names[name] = f"grad_{name}"
                g.add_output(f"grad_{name}", gv.tensor)
    g.refresh_edges()
    if with_grad:
        g = cleanup(g)
    return g, out_names, grad_names


def emit_checked(g: Graph) -> onnx.ModelProto:
    model = emit_model(g, opset=17)
    onnx.checker.check_model(model, full_check=True)
    return model


# ---------------------------------------------------------------------- reference-evaluator fixes
class Erf(OpRun):
    """onnx's reference Erf rounds to float32 (np.vectorize(erf, otypes='f')): use float64."""

    op_domain = ""

    def _run(self, x):
        return (np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype),)


class ConvTranspose(OpRun):
    """onnx's reference ConvTranspose mishandles group > 1: a direct scatter-add version (explicit
    pads only, as irgraph emits)."""

    op_domain = ""

    def _run(self, x, w, b=None, auto_pad=None, dilations=None, group=None, kernel_shape=None,
             output_padding=None, output_shape=None, pads=None, strides=None):
        assert auto_pad in (None, "NOTSET", b"NOTSET") and output_shape is None
        n = x.ndim - 2
        group = group or 1
        strides = strides or [1] * n
        dilations = dilations or [1] * n
        pads = pads or [0] * (2 * n)
        output_padding = output_padding or [0] * n
        k = w.shape[2:]
        cg, mg = x.shape[1] // group, w.shape[1]
        full = [s * (i - 1) + op + (kk - 1) * d + 1
                for s, i, op, kk, d in zip(strides, x.shape[2:], output_padding, k, dilations)]
        out = np.zeros((x.shape[0], mg * group) + tuple(full), dtype=x.dtype)
        for gi in range(group):
            xg, wg = x[:, gi * cg:(gi + 1) * cg], w[gi * cg:(gi + 1) * cg]
            for pos in itertools.product(*[range(kk) for kk in k]):
                contrib = np.einsum("nc...,cm->nm...", xg, wg[(slice(None), slice(None)) + pos])
                where = tuple(slice(p * d, p * d + s * (i - 1) + 1, s)
                              for p, d, s, i in zip(pos, dilations, strides, x.shape[2:]))
                out[(slice(None), slice(gi * mg, (gi + 1) * mg)) + where] += contrib
        out = out[(slice(None), slice(None)) + tuple(slice(pads[i], full[i] - pads[i + n]) for i in range(n))]
        if b is not None:
            out = out + b.reshape((1, -1) + (1,) * n)
        return (out,)


class MaxUnpool(OpRun):
    """onnx's reference MaxUnpool places the indices in the shape it infers from the kernel and
    strides, not in output_shape, so an input longer than the windows cover goes wrong; MaxPool's
    indices (and onnxruntime's MaxUnpool) use the flat layout of output_shape."""

    op_domain = ""

    def _run(self, x, indices, output_shape=None, kernel_shape=None, pads=None, strides=None):
        assert output_shape is not None
        out = np.zeros(int(np.prod(output_shape)), dtype=x.dtype)
        out[indices.reshape(-1)] = x.reshape(-1)
        return (out.reshape(tuple(int(d) for d in output_shape)),)


def _float64_recurrent(model: onnx.ModelProto) -> bool:
    """onnxruntime accepts a float64 LSTM/GRU/RNN at session creation and fails when it runs."""
    doubles = any(i.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE for i in model.graph.input)
    return doubles and any(n.op_type in ("LSTM", "GRU", "RNN") for n in model.graph.node)


class Runner:
    """Runs a model in onnxruntime, or in the ONNX reference evaluator if onnxruntime lacks a kernel."""

    def __init__(self, model: onnx.ModelProto, allow_reference: bool = True):
        self.kind = "ort"
        try:
            if allow_reference and _float64_recurrent(model):
                raise RuntimeError("NOT_IMPLEMENTED: onnxruntime's LSTM, GRU and RNN fail on double at run time")
            so = ort.SessionOptions()
            so.log_severity_level = 3
            so.intra_op_num_threads = 1
            self.sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        except Exception as err:  # NOT_IMPLEMENTED: no float64 kernel
            if not allow_reference or "NOT_IMPLEMENTED" not in str(err):
                raise
            self.kind = "reference"
            self.sess = ReferenceEvaluator(model, new_ops=[Erf, ConvTranspose, MaxUnpool] + REFERENCE_OPS)
        self.outputs = [o.name for o in model.graph.output]

    def __call__(self, feeds: dict, names=None) -> list:
        names = names or self.outputs
        return self.sess.run(names, feeds)


def central_differences(run, feeds: dict, name: str, out_names, rs, eps: float) -> np.ndarray:
    x = feeds[name]
    grad = np.zeros_like(x)
    for i in range(x.size):
        hi, lo = x.copy(), x.copy()
        hi.flat[i] += eps
        lo.flat[i] -= eps
        up = run({**feeds, name: hi}, out_names)
        down = run({**feeds, name: lo}, out_names)
        grad.flat[i] = sum(float(np.sum((u - d) * r)) for u, d, r in zip(up, down, rs)) / (2 * eps)
    return grad


def check_case(case: Case) -> dict:
    """Run the whole check; returns details (the evaluators used) for reporting."""
    fwd_graph, out_names, _ = build_graph(case, "float64", with_grad=False)
    fwd = Runner(emit_checked(fwd_graph))
    feeds = {n: v for n, v in case.values.items()}
    outs = fwd(feeds, out_names)
    rng = np.random.default_rng(zlib.crc32(case.id.encode()) + 1)
    rs = [rng.standard_normal(o.shape) for o in outs]

    grad_graph, _, grad_names = build_graph(case, "float64", with_grad=True)
    bwd_model = emit_checked(grad_graph)
    bwd = Runner(bwd_model)
    full_feeds = {**feeds, **{f"r{i}": r for i, r in enumerate(rs)}}
    names = [n for n in grad_names.values() if n is not None]
    got = dict(zip(names, bwd(full_feeds, names))) if names else {}

    for name, inp in case.inputs.items():
        if not inp.grad:
            continue
        expected = central_differences(fwd, feeds, name, out_names, rs, case.eps)
        gname = grad_names[name]
        actual = np.zeros_like(expected) if gname is None else got[gname]
        assert actual.shape == expected.shape, f"{case.id}: gradient of {name} has shape {actual.shape}, " \
                                               f"input {expected.shape}"
        np.testing.assert_allclose(actual, expected, rtol=case.rtol, atol=case.atol,
                                   err_msg=f"{case.id}: d loss / d {name} ({bwd.kind})")

    if bwd.kind == "reference" and names:
        # the float32 build of the same gradient graph must run in stock onnxruntime, and agree
        # with the float64 reference run (forward too: the differences above used the reference)
        g32, out32, names32 = build_graph(case, "float32", with_grad=True)
        sess = Runner(emit_checked(g32), allow_reference=False)
        f32 = {k: v.astype(np.float32) for k, v in full_feeds.items()}
        got32 = dict(zip(names + out32, sess(f32, names + out32)))
        for o, n in zip(outs, out32):
            np.testing.assert_allclose(got32[n], o, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(o).max())),
                                       err_msg=f"{case.id}: float32 onnxruntime forward {n}")
        for n in names:
            ref = got[n]
            scale = max(1.0, float(np.abs(ref).max()))
            np.testing.assert_allclose(got32[n], ref, rtol=2e-4, atol=2e-4 * scale,
                                       err_msg=f"{case.id}: float32 onnxruntime gradient {n}")
    return {"forward": fwd.kind, "backward": bwd.kind}
