"""Shared test utilities: export a model, check it, run it in a bare onnxruntime session."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort

import irgraph
from irgraph.models import Model


def bare_session(proto) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])


def export_and_run(model, arrays, opset: int = 17, rtol: float = 1e-6, atol: float = 1e-6):
    """Export ``model`` (full ONNX check), run the file in a plain onnxruntime session, check that
    ``model.predict`` gives the same, and return the outputs as a list."""
    arrays = list(arrays)
    proto = model.to_onnx(opset=opset, check=True)
    sess = bare_session(proto)
    feeds = {name: np.asarray(a) for name, a in zip(model.input_names, arrays)}
    bare = sess.run(None, feeds)
    pred = model.predict(arrays if len(arrays) > 1 else arrays[0], verbose=0)
    pred = pred if isinstance(pred, list) else list(pred.values()) if isinstance(pred, dict) else [pred]
    assert len(pred) == len(bare)
    for p, b in zip(pred, bare):
        np.testing.assert_allclose(p, b, rtol=rtol, atol=atol)
    return bare


def layer_output(layer, *arrays, dtypes=None, opset: int = 17):
    """Call ``layer`` on Inputs shaped like ``arrays`` (batch axis free), export, run, return output(s)."""
    dtypes = dtypes or [None] * len(arrays)
    ins = [irgraph.Input(shape=a.shape[1:], dtype=d or (a.dtype.name if a.dtype.kind in "iu" else None))
           for a, d in zip(arrays, dtypes)]
    out = layer(ins if len(ins) > 1 else ins[0])
    model = Model(ins, out)
    outs = export_and_run(model, arrays, opset=opset)
    return outs[0] if len(outs) == 1 else outs


def assert_close(actual, expected, rtol: float = 1e-5, atol: float = 1e-5):
    """Relative parity with an absolute floor for values near zero (float32 arithmetic)."""
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=rtol, atol=atol)


def rand(*shape, seed: int = 0, dtype="float32"):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def compile_traced(fn, *examples, batch_free=True):
    """Trace ``fn`` on symbolic inputs shaped like ``examples`` (batch axis free unless told), run
    shape inference and cleanup, emit ONNX (full check) and return ``run(*arrays) -> outputs``."""
    from irgraph.ir import Graph
    from irgraph.onnx import check, emit_model
    from irgraph.ops.base import Spec
    from irgraph.ops.trace import Value, tracing
    from irgraph.passes.cleanup import cleanup
    from irgraph.passes.shapes import infer_shapes
    g = Graph("t")
    examples = [np.asarray(a) for a in examples]
    with tracing(g, training=True):
        vals = []
        for i, a in enumerate(examples):
            shape = ("batch",) + a.shape[1:] if batch_free and a.ndim else a.shape
            spec = Spec(tuple(shape), a.dtype.name)
            vals.append(Value(g, g.add_input(f"in{i}", spec), 0, spec))
        outs = fn(*vals)
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    for i, o in enumerate(outs):
        g.add_output(f"out{i}", o.tensor)
    g.refresh_edges()
    proto = emit_model(cleanup(infer_shapes(g)), opset=17)
    check(proto)
    sess = bare_session(proto)
    return lambda *arrays: sess.run(None, {f"in{i}": np.asarray(a) for i, a in enumerate(arrays)})
