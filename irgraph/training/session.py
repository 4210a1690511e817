"""The training session: the owner of the training state on the device; one onnxruntime run per step.

The state (weights, optimizer slots, layer statistics) lives in OrtValues. Two IOBindings are built
once: A reads buffer set 0 and writes set 1, B reads set 1 and writes set 0; they alternate every
step, so no OrtValue is ever both an input and an output of a run (results would silently depend on
node scheduling). Per step only the batch, ``lr`` and ``step`` are bound: no Python work per weight.

The session is the `Owner` of the variables it reads (see irgraph/variables.py): reads of them
download the current buffer, writes go into it. Before a step it claims its variables again only
when `EPOCH` moved since its last step (a write from Python, or another session's step on shared
weights), so an unchanged state costs one integer comparison per step.
"""
from __future__ import annotations

import numpy as np
import onnxruntime as ort

from .. import variables as store
from ..runtime import make_session, run_failure


def _device(providers) -> str:
    return "cuda" if providers and providers[0] == "CUDAExecutionProvider" else "cpu"


class TrainSession(store.Owner):
    def __init__(self, graphs, providers, state: dict, optimizer):
        """``state``: graph input name -> Variable for every state tensor the step reads."""
        self.graphs = graphs
        self.optimizer = optimizer  # its `iterations` counts the steps taken
        self.device = _device(providers)
        self.train = make_session(graphs.train, providers)
        self.run_options = ort.RunOptions()
        # onnxruntime's Python run_with_iobinding looks this key up on every run; when it is absent the
        # lookup fails through an exception that costs tens of microseconds per step
        self.run_options.add_run_config_entry("gpu_graph_id", "-1")
        if self.device == "cuda":
            self.run_options.add_run_config_entry("disable_synchronize_execution_providers", "1")
        train_out = {o.name for o in self.train.get_outputs()}
        self.state_names = [i.name for i in self.train.get_inputs() if i.name in state]
        self.state = {name: state[name] for name in self.state_names}
        self.names = {id(v): n for n, v in self.state.items()}
        self.updated = [n for n in self.state_names if f"{n}:new" in train_out]
        self.scalar_outputs = [o.name for o in self.train.get_outputs() if not o.name.endswith(":new")]
        self.data_inputs = [i.name for i in self.train.get_inputs()
                            if i.name not in self.state and i.name not in ("lr", "step")]
        self.providers = providers
        self._eval = None  # the eval-step session, created by the first eval_step
        self.buffers: list[dict] = [{}, {}]
        self.current = 0
        self.version = 0
        self._seen = -1  # EPOCH after this session's last step or claim
        self._allocate()
        self._scalars = self._scalar_buffers()
        self._bindings = [self._make_binding(0), self._make_binding(1)]

    def _allocate(self) -> None:
        for name in self.state_names:
            var = self.state[name]
            for k in (0, 1) if name in self.updated else (0,):
                self.buffers[k][name] = ort.OrtValue.ortvalue_from_shape_and_type(
                    var.shape, np.dtype(var.dtype), self.device, 0)
            if name not in self.updated:
                self.buffers[1][name] = self.buffers[0][name]

    def _scalar_buffers(self) -> dict | None:
        """Host buffers for the loss and metric outputs when their shapes are static: the step
        writes into them and they are read directly (no per-step wrapping of every bound output)."""
        outs = {o.name: o for o in self.train.get_outputs()}
        shapes = {n: outs[n].shape for n in self.scalar_outputs}
        if not all(isinstance(d, int) for shape in shapes.values() for d in shape):
            return None
        types = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64}
        if not all(outs[n].type in types for n in shapes):
            return None
        return {n: ort.OrtValue.ortvalue_from_shape_and_type(shape, types[outs[n].type], "cpu", 0)
                for n, shape in shapes.items()}

    def _make_binding(self, k: int):
        b = self.train.io_binding()
        src, dst = self.buffers[k], self.buffers[1 - k]
        for name in self.state_names:
            b.bind_ortvalue_input(name, src[name])
        for name in self.updated:
            b.bind_ortvalue_output(f"{name}:new", dst[name])
        for name in self.scalar_outputs:
            if self._scalars is None:
                b.bind_output(name, "cpu")
            else:
                b.bind_ortvalue_output(name, self._scalars[name])
        return b

    # ----------------------------------------------------------------------------- ownership
    def claim(self) -> None:
        """Hold every state variable, taking the current value of any held elsewhere (the host, or
        another session sharing weights). O(number of variables); runs only when EPOCH moved."""
        with store.LOCK:
            if self._seen == store.EPOCH[0] or self.buffers is None:
                return
            taken = [(n, v) for n, v in self.state.items() if v._owner is not self]
            if taken:
                self.version = store.bump()
                for name, var in taken:
                    value = np.ascontiguousarray(var.numpy(), dtype=var.dtype)
                    self.buffers[self.current][name].update_inplace(value)
                    var._owner, var._value, var._cached_at = self, value, self.version
            self._seen = store.EPOCH[0]

    def read(self, var) -> np.ndarray:
        with store.LOCK:
            if var._owner is not self:  # released meanwhile
                return var.numpy()
            if var._cached_at != self.version:
                var._value = self.buffers[self.current][self.names[id(var)]].numpy().copy()
                var._cached_at = self.version
            return var._value

    def write(self, var, value: np.ndarray) -> None:
        with store.LOCK:
            self.buffers[self.current][self.names[id(var)]].update_inplace(np.ascontiguousarray(value))
            self.version = store.bump()
            var._value, var._cached_at = value, self.version

    def close(self) -> None:
        """Give every variable back to the host and free the device buffers and sessions."""
        with store.LOCK:
            if self.buffers is None:
                return
            self.release(self.state.values())
            self._bindings = self.buffers = None
            self.train = self._eval = None

    # ----------------------------------------------------------------------------- steps
    def train_step(self, feeds: dict, lr: float) -> dict:
        with store.LOCK:
            if self._seen != store.EPOCH[0]:
                self.claim()
            k = self.current
            b = self._bindings[k]
            for name in self.data_inputs:
                b.bind_cpu_input(name, feeds[name])
            step = self.optimizer.iterations
            b.bind_cpu_input("lr", np.asarray(lr, dtype=np.float32))
            b.bind_cpu_input("step", np.asarray(step, dtype=np.float32))
            try:
                self.train.run_with_iobinding(b, self.run_options)
            except Exception as err:  # onnxruntime's Fail / InvalidArgument: nothing was committed
                raise run_failure(err, "the training step", {n: feeds[n] for n in self.data_inputs}) from None
            # the step is committed by these two stores, with no call between them that could
            # deliver a KeyboardInterrupt: an interrupt before them leaves the step not taken
            self.current = 1 - k
            self.optimizer.iterations = step + 1
            self.version = store.bump()
            self._seen = self.version
            if self._scalars is not None:
                return {name: v.numpy().copy() for name, v in self._scalars.items()}
            # the scalar outputs follow the state outputs in binding order
            values = b.get_outputs()[len(self.updated):]
        return {name: v.numpy().copy() for name, v in zip(self.scalar_outputs, values)}

    def _eval_session(self):
        if self._eval is None:
            sess = make_session(self.graphs.eval, self.providers)
            self._eval = (sess, [o.name for o in sess.get_outputs()],
                          [i.name for i in sess.get_inputs() if i.name in self.state],
                          [i.name for i in sess.get_inputs() if i.name not in self.state])
        return self._eval

    def eval_step(self, feeds: dict) -> dict:
        with store.LOCK:
            if self._seen != store.EPOCH[0]:
                self.claim()
            sess, outputs, state_inputs, data_inputs = self._eval_session()
            state = self.buffers[self.current]
            b = sess.io_binding()
            for name in state_inputs:
                b.bind_ortvalue_input(name, state[name])
            for name in data_inputs:
                b.bind_cpu_input(name, feeds[name])
            for name in outputs:
                b.bind_output(name, "cpu")
            try:
                sess.run_with_iobinding(b, self.run_options)
            except Exception as err:
                raise run_failure(err, "the evaluation step", {n: feeds[n] for n in data_inputs}) from None
            outs = b.get_outputs()
        return {name: v.numpy().copy() for name, v in zip(outputs, outs)}
