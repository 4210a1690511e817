"""The training session: weights and optimizer state live as OrtValues; one onnxruntime run per step.

Two IOBindings are built once: A reads buffer set 0 and writes set 1, B reads set 1 and writes set 0;
they alternate every step, so no OrtValue is ever both an input and an output of a run (results
would silently depend on node scheduling). Per step only the batch, ``lr`` and ``step`` are bound:
no Python work per weight.
"""
from __future__ import annotations

import numpy as np
import onnxruntime as ort

from ..runtime import make_session


def _device(providers) -> str:
    return "cuda" if providers and providers[0] == "CUDAExecutionProvider" else "cpu"


class TrainSession:
    def __init__(self, graphs, providers):
        self.graphs = graphs
        self.device = _device(providers)
        self.train = make_session(graphs.train.SerializeToString(), providers)
        self.eval = make_session(graphs.eval.SerializeToString(), providers)
        self.run_options = ort.RunOptions()
        # onnxruntime's Python run_with_iobinding looks this key up on every run; when it is absent the
        # lookup fails through an exception that costs tens of microseconds per step
        self.run_options.add_run_config_entry("gpu_graph_id", "-1")
        if self.device == "cuda":
            self.run_options.add_run_config_entry("disable_synchronize_execution_providers", "1")
        train_in = {i.name for i in self.train.get_inputs()}
        train_out = {o.name for o in self.train.get_outputs()}
        # every state tensor the step reads: weights (trained, frozen, layer state) and slots
        self.state_names = [n for n in (i.name for i in self.train.get_inputs())
                            if n in _weight_names(graphs) or ":" in n]
        self.updated = [n for n in self.state_names if f"{n}:new" in train_out]
        self.scalar_outputs = [o.name for o in self.train.get_outputs() if not o.name.endswith(":new")]
        self.eval_outputs = [o.name for o in self.eval.get_outputs()]
        self.eval_state = [i.name for i in self.eval.get_inputs() if i.name in set(self.state_names)]
        self.data_inputs = [i.name for i in self.train.get_inputs()
                            if i.name not in set(self.state_names) and i.name not in ("lr", "step")]
        missing = set(self.data_inputs) - train_in
        assert not missing
        self.buffers: list[dict] = [{}, {}]
        self.current = 0
        self._bindings = None

    # ----------------------------------------------------------------------------- state
    def upload(self, arrays: dict) -> None:
        """Put the state (weights and slots, by name) on the device; builds the bindings once."""
        for name in self.state_names:
            arr = np.ascontiguousarray(arrays[name])
            for k in (0, 1) if name in self.updated else (0,):
                buf = self.buffers[k].get(name)
                if buf is None or tuple(buf.shape()) != arr.shape:
                    buf = ort.OrtValue.ortvalue_from_shape_and_type(arr.shape, arr.dtype, self.device, 0)
                    self.buffers[k][name] = buf
                buf.update_inplace(arr)
            if name not in self.updated:
                self.buffers[1][name] = self.buffers[0][name]
        self.current = 0
        if self._bindings is None:
            self._bindings = [self._make_binding(0), self._make_binding(1)]

    def _make_binding(self, k: int):
        b = self.train.io_binding()
        src, dst = self.buffers[k], self.buffers[1 - k]
        for name in self.state_names:
            b.bind_ortvalue_input(name, src[name])
        for name in self.updated:
            b.bind_ortvalue_output(f"{name}:new", dst[name])
        for name in self.scalar_outputs:
            b.bind_output(name, "cpu")
        return b

    def download(self) -> dict:
        """The current state as numpy arrays (copies)."""
        return {name: self.buffers[self.current][name].numpy().copy() for name in self.state_names}

    # ----------------------------------------------------------------------------- steps
    def train_step(self, feeds: dict, lr: float, step: int) -> dict:
        b = self._bindings[self.current]
        for name in self.data_inputs:
            b.bind_cpu_input(name, feeds[name])
        b.bind_cpu_input("lr", np.asarray(lr, dtype=np.float32))
        b.bind_cpu_input("step", np.asarray(step, dtype=np.float32))
        self.train.run_with_iobinding(b, self.run_options)
        outs = b.get_outputs()
        # the scalar outputs follow the state outputs in binding order
        values = outs[len(self.updated):]
        self.current = 1 - self.current
        return {name: v.numpy().copy() for name, v in zip(self.scalar_outputs, values)}

    def eval_step(self, feeds: dict) -> dict:
        state = self.buffers[self.current]
        b = self.eval.io_binding()
        for name in self.eval_state:
            b.bind_ortvalue_input(name, state[name])
        for name in self.eval.get_inputs():
            if name.name not in state:
                b.bind_cpu_input(name.name, feeds[name.name])
        for name in self.eval_outputs:
            b.bind_output(name, "cpu")
        self.eval.run_with_iobinding(b, self.run_options)
        return {name: v.numpy().copy() for name, v in zip(self.eval_outputs, b.get_outputs())}


def _weight_names(graphs) -> set:
    return {init_name for init_name in _graph_weight_inputs(graphs.train)}


def _graph_weight_inputs(proto):
    """Weight inputs of a train-step model: the inputs named like ``layer/weight``."""
    return [i.name for i in proto.graph.input if "/" in i.name and ":" not in i.name]
