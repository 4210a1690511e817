"""Running exported graphs in onnxruntime: device choice, a cached session, input validation, batching.

The session is built from the inference ONNX model and cached until the model's weights change
(`irgraph.variables`: the global epoch answers "did anything change" in O(1), the weights' versions
whether this model's did) or the graph changes. Validation is a few attribute checks per
input so that ``predict_on_batch`` stays close to a bare ``InferenceSession.run``.
"""
from __future__ import annotations

import collections.abc
import math
import re

import numpy as np
import onnxruntime as ort

from . import tree, variables
from .input_checks import cast_checked, check_ids, count_arg, id_bounds
from .model_io import check_shape

_PROVIDERS = {"cpu": ["CPUExecutionProvider"],
              "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"]}


def cuda_available() -> bool:
    return "CUDAExecutionProvider" in ort.get_available_providers()


def resolve_providers(device: str = "auto") -> list[str]:
    device = (device or "auto").lower()
    if device == "auto":
        return _PROVIDERS["cuda" if cuda_available() else "cpu"]
    if device == "cuda":
        if not cuda_available():
            raise ValueError("device='cuda' needs onnxruntime-gpu and an NVIDIA GPU; this onnxruntime "
                             f"offers {ort.get_available_providers()}. Use device='cpu' or 'auto'.")
        return _PROVIDERS["cuda"]
    if device == "cpu":
        return _PROVIDERS["cpu"]
    raise ValueError(f"device must be 'cpu', 'cuda' or 'auto', got {device!r}")


_session_config: dict = {"intra_op_num_threads": 0, "inter_op_num_threads": 0, "large_graph_nodes": 10_000}


def configure(intra_op_num_threads: int | None = None, inter_op_num_threads: int | None = None,
              large_graph_nodes: int | None = None) -> None:
    """Settings for sessions created from now on: thread counts (0: onnxruntime's default, all
    cores), and the node count from which a graph gets onnxruntime's basic graph optimizations
    only (its extended ones take time that grows faster than the graph: a 33,000-node train step
    takes 11.7 s to create with all of them, 7.7 s with the basic ones)."""
    if intra_op_num_threads is not None:
        _session_config["intra_op_num_threads"] = int(intra_op_num_threads)
    if inter_op_num_threads is not None:
        _session_config["inter_op_num_threads"] = int(inter_op_num_threads)
    if large_graph_nodes is not None:
        _session_config["large_graph_nodes"] = int(large_graph_nodes)


def make_session(proto, providers: list[str]) -> ort.InferenceSession:
    """An onnxruntime session for the ModelProto ``proto`` with irgraph's settings (`configure`)."""
    so = ort.SessionOptions()
    so.log_severity_level = 4  # fatal only: a failed run is raised as a RunError carrying onnxruntime's reason
    so.intra_op_num_threads = _session_config["intra_op_num_threads"]
    so.inter_op_num_threads = _session_config["inter_op_num_threads"]
    if len(proto.graph.node) >= _session_config["large_graph_nodes"]:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(proto.SerializeToString(), so, providers=providers)


class InputSpecCheck:
    """Validates and converts one named input.

    ``bounds``: for an input whose values are Embedding ids, the `IdBound` they must respect (None
    for other inputs; False until `bind_ids` has looked at the model, which the runner and the
    trainer do on first use)."""

    __slots__ = ("name", "shape", "dtype", "kind", "index", "bounds", "owner", "path")

    def __init__(self, index: int, name: str, shape: tuple, dtype: str, owner: str | None = None,
                 path: str | None = None):
        self.index, self.name, self.shape, self.dtype = index, name, tuple(shape), np.dtype(dtype)
        self.kind = self.dtype.kind
        self.bounds = False
        # a model's input (``owner``: the model's name; ``path``: where it sits in the model's input
        # structure) gets Keras's rank standardization and wording; a K.function's, neither
        self.owner, self.path = owner, path

    @classmethod
    def for_model(cls, model, absent=()) -> list:
        """The checks of a model's flat inputs (those not in ``absent``), in order."""
        return [cls(s.index, s.name, s.shape, s.dtype, owner=model.name, path=s.path_text)
                for s in model._signature.slots if s.name not in absent]

    @staticmethod
    def bind_ids(checks: list, model) -> None:
        """Give the checks of inputs that feed Embedding ids their valid range (found once per model
        graph on the lowered graph, see `irgraph.input_checks.id_bounds`)."""
        bounds = id_bounds(model)
        for c in checks:
            c.bounds = bounds.get(c.name)

    def convert(self, x) -> np.ndarray:
        if type(x) is not np.ndarray:
            if x is None:
                raise TypeError(f"input '{self.name}' is missing (got None); pass an array of shape "
                                f"{_fmt(self.shape)}")
            if hasattr(x, "numpy") and not isinstance(x, (list, tuple)):
                x = x.numpy()
            try:
                x = np.asarray(x)
            except Exception as err:
                raise TypeError(f"input '{self.name}': cannot convert {type(x).__name__} to an array: {err}") from None
        if x.dtype != self.dtype:
            x = self._cast(x)
        shape = x.shape
        if len(shape) != len(self.shape) or any(w is not None and w != g for w, g in zip(self.shape, shape)):
            x = self._fit_shape(x)
        if self.bounds:
            check_ids(x, self.bounds, self.name)
        return x if x.flags.c_contiguous else np.ascontiguousarray(x)

    def _fit_shape(self, x: np.ndarray) -> np.ndarray:
        """``x`` of another shape than the input's: a model input takes Keras's rank standardization
        (a last axis of 1 dropped, or added where the input's is 1); anything else is an error."""
        shape = x.shape
        if self.owner is not None:
            check_shape(self, shape, self.owner)  # Keras's "expected shape=(None, 4), found shape=(2, 3)"
            if len(shape) == len(self.shape) + 1 and shape[-1] == 1:
                return x.reshape(shape[:-1])
            if len(shape) == len(self.shape) - 1 and self.shape and self.shape[-1] == 1:
                return x.reshape(shape + (1,))
        if len(shape) != len(self.shape):
            keras = "" if self.owner is None else \
                f"Invalid input shape for input with name '{self.name}' and path '{self.path}': "
            raise ValueError(f"{keras}input '{self.name}' expects shape {_fmt(self.shape)} (rank {len(self.shape)}), "
                             f"got an array of shape {shape} (rank {len(shape)})")
        raise ValueError(f"input '{self.name}' expects shape {_fmt(self.shape)}, got an array of shape {shape}")

    def _cast(self, x: np.ndarray) -> np.ndarray:
        k = x.dtype.kind
        if k not in "fiub":
            raise TypeError(f"input '{self.name}' expects {self.dtype.name} values, got an array of dtype "
                            f"{x.dtype} that cannot be converted")
        return cast_checked(x, self.dtype, f"input '{self.name}'")


class RunError(ValueError):
    """onnxruntime refused to run a model on the given inputs (shapes that disagree at run time)."""


def run_failure(err: Exception, what: str, feeds: dict | None = None) -> RunError:
    """A `RunError` for an onnxruntime failure while running ``what``: the layer and node it failed
    at, onnxruntime's reason, the shapes given, and the usual cause."""
    text = str(err)
    node = re.search(r"Name:'([^']*)'", text)
    reason = text.split("Status Message:")[-1].strip().splitlines()[0] if text else type(err).__name__
    where = ""
    if node:
        scope = node.group(1).rsplit("/", 1)[0] if "/" in node.group(1) else node.group(1)
        where = f" in layer '{scope}' (ONNX node '{node.group(1)}')"
    given = ""
    if feeds:
        given = "; inputs given: " + ", ".join(f"'{k}' {tuple(np.shape(v))} {getattr(v, 'dtype', '')}"
                                               for k, v in feeds.items())
    return RunError(f"{what} failed{where}: {reason}{given}. Sizes that must agree at run time do not: "
                    "check that inputs sharing an axis (a sequence and its mask, sequences merged "
                    "together, a state and its batch) have equal sizes there")


def _fmt(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class InferenceRunner:
    """Runs a model's inference graph for one presence pattern of its optional inputs (``absent``:
    the names of those left out; the default, none). Data comes in any structure the model accepts
    (`irgraph.model_io`); data leaving out other optional inputs is run by the model's runner for
    that pattern. Results come back in the model's output structure."""

    def __init__(self, model, device: str = "auto", absent=frozenset()):
        self.model = model
        self.device_request = device
        self.providers = resolve_providers(device)
        self.absent = frozenset(absent)
        self.signature = model._signature
        self.checks = InputSpecCheck.for_model(model, self.absent)
        self.names = [c.name for c in self.checks]
        self.present_outputs = model._present_outputs(self.absent)
        self.output_names = [n for n, kept in zip(model.output_names, self.present_outputs) if kept]
        self._session = None
        self._epoch = -1
        self._token = None
        single = len(self.signature.slots) == 1 and not self.absent
        first = self.checks[0] if single else None
        # fast path of predict_on_batch: one contiguous array of the right dtype and rank
        self._fast = None if not single else (
            first.name, first.dtype, len(first.shape),
            tuple((i, d) for i, d in enumerate(first.shape) if d is not None))
        # one output, given back alone (a structure of one output is unpacked, as Keras does)
        struct = model._output_struct
        one = struct[0] if isinstance(struct, (list, tuple)) and len(struct) == 1 else struct
        self._plain_single_output = not tree.is_nested(one) and self.present_outputs == [True]

    # ----------------------------------------------------------------------------- session
    def _weights_token(self):
        """Changes whenever one of the model's weights does: versions come from one global counter,
        so a write gives its variable a version above every other (no per-weight tuple to build)."""
        weights = self.model.weights
        return len(weights), max((v.version for v in weights), default=0)

    @property
    def session(self) -> ort.InferenceSession:
        """The inference session with the current weights as initializers: rebuilt only when one of
        this model's weights changed. Built under the store lock, so concurrent callers build it
        once and it holds one consistent set of weights (all before or all after a `set_weights`)."""
        if self._session is not None and self._epoch == variables.EPOCH[0]:
            return self._session
        with variables.LOCK:
            epoch = variables.EPOCH[0]
            if self._session is not None and self._epoch == epoch:
                return self._session
            token = self._weights_token()
            if self._session is None or token != self._token:
                proto = self.model.to_onnx(check=False, absent_inputs=self.absent)
                self._session = make_session(proto, self.providers)
                self._token = token
            self._epoch = epoch
            return self._session

    # ----------------------------------------------------------------------------- inputs
    def flat(self, x) -> list:
        """The values of every model input, in the model's flat order (None: an optional input left
        out), from data in any structure the model accepts."""
        return self.signature.flat_inputs(x)

    def runner_for(self, flat: list) -> "InferenceRunner":
        """The runner for the presence pattern of ``flat``: this one, or the model's for it."""
        absent = frozenset(s.name for s, v in zip(self.signature.slots, flat) if v is None)
        if absent == self.absent:
            return self
        return self.model._runner(self.device_request, absent)

    def feeds_of(self, flat: list) -> dict:
        """The session feeds from the flat values of this runner's pattern, checked and converted."""
        checks = self.checks
        if checks and checks[0].bounds is False:
            InputSpecCheck.bind_ids(checks, self.model)
        values = [v for s, v in zip(self.signature.slots, flat) if s.name not in self.absent]
        return {c.name: c.convert(v) for c, v in zip(checks, values)}

    def feeds(self, x) -> dict:
        """The session feeds for data ``x`` (which must give the inputs this runner's pattern has)."""
        flat = self.flat(x)
        if self.runner_for(flat) is not self:
            absent = sorted(s.name for s, v in zip(self.signature.slots, flat) if v is None)
            raise ValueError(f"model '{self.model.name}': None given for the optional input(s) {absent}, which "
                             "this run cannot leave out (training runs need every input)")
        return self.feeds_of(flat)

    def _check_ids(self, x) -> None:
        """The range check of the one input of the fast path, when it feeds Embedding ids."""
        c = self.checks[0]
        if c.bounds is False:
            InputSpecCheck.bind_ids(self.checks, self.model)
        if c.bounds:
            check_ids(x, c.bounds, c.name)

    def _wrap(self, outs):
        """The outputs in the model's output structure (None for an output that is an optional
        input left out)."""
        if len(outs) != len(self.present_outputs):
            it = iter(outs)
            outs = [next(it) if kept else None for kept in self.present_outputs]
        return self.signature.pack_outputs(outs)

    # ----------------------------------------------------------------------------- running
    def predict_on_batch(self, x):
        fast = self._fast
        if fast is not None and type(x) is np.ndarray and x.dtype == fast[1] and x.ndim == fast[2] \
                and x.flags.c_contiguous and all(x.shape[i] == d for i, d in fast[3]):
            if self.checks[0].bounds is not None:  # Embedding ids (or not yet looked at)
                self._check_ids(x)
            return self._run_batch({fast[0]: x})
        flat = self.flat(x)
        runner = self.runner_for(flat)
        return runner._run_batch(runner.feeds_of(flat))

    def _run_batch(self, feeds: dict):
        sess = self._session if self._epoch == variables.EPOCH[0] else self.session
        try:
            outs = sess.run(None, feeds)
        except Exception as err:  # onnxruntime's Fail / InvalidArgument / RuntimeException
            raise run_failure(err, f"model '{self.model.name}'", feeds) from None
        return outs[0] if self._plain_single_output else self._wrap(outs)

    def predict(self, x, batch_size=32, verbose="auto", steps=None):
        steps = count_arg(steps, "predict(): steps")
        batch_size = count_arg(batch_size, "predict(): batch_size") or 32
        if _is_generator_like(x):
            return self._predict_batches(x, steps, verbose)
        flat = self.flat(x)
        runner = self.runner_for(flat)
        return runner._predict_feeds(runner.feeds_of(flat), batch_size, verbose)

    def _predict_feeds(self, feeds: dict, batch_size: int, verbose):
        from .progress import Progbar
        arrays = list(feeds.values())
        n = arrays[0].shape[0] if arrays and arrays[0].ndim else 0
        for name, a in feeds.items():
            if a.shape[0] != n:
                raise ValueError(f"all inputs need the same number of samples; input '{name}' has "
                                 f"{a.shape[0]}, input '{self.names[0]}' has {n}")
        sess = self.session
        results: list[list] = [[] for _ in self.output_names]
        nb = max(1, math.ceil(n / batch_size))
        bar = Progbar(nb, verbose=1 if verbose == "auto" else verbose)
        for b in range(nb):
            sl = slice(b * batch_size, (b + 1) * batch_size)
            batch = {k: v[sl] for k, v in feeds.items()}
            try:
                outs = sess.run(self.output_names, batch)
            except Exception as err:
                raise run_failure(err, f"model '{self.model.name}'", batch) from None
            for r, o in zip(results, outs):
                r.append(o)
            bar.update(b + 1)
        bar.close()
        return self._wrap([np.concatenate(r, axis=0) if len(r) > 1 else r[0] for r in results])

    def _predict_batches(self, data, steps, verbose):
        results: list[list] = []
        runner = None
        it = iter(data)
        count = 0
        while steps is None or count < steps:
            try:
                batch = next(it)
            except StopIteration:
                break
            if isinstance(batch, tuple):  # (x,), (x, y) or (x, y, sample_weight), as Keras unpacks
                batch = batch[0]
            flat = self.flat(batch)
            this = self.runner_for(flat)
            if runner is not None and this is not runner:
                raise ValueError(f"model '{self.model.name}': the batches of predict leave out different optional "
                                 f"inputs ({sorted(runner.absent)} in one batch, {sorted(this.absent)} in another); "
                                 "give the same inputs in every batch")
            runner = this
            feeds = runner.feeds_of(flat)
            try:
                outs = runner.session.run(runner.output_names, feeds)
            except Exception as err:
                raise run_failure(err, f"model '{self.model.name}'", feeds) from None
            results = results or [[] for _ in outs]
            for r, o in zip(results, outs):
                r.append(o)
            count += 1
        if count == 0:
            raise ValueError("the generator passed to predict yielded no batch")
        return runner._wrap([np.concatenate(r, axis=0) for r in results])


def _is_generator_like(x) -> bool:
    return isinstance(x, collections.abc.Iterator) or (
        isinstance(x, collections.abc.Iterable) and not isinstance(x, (np.ndarray, list, tuple, dict, str))
        and not hasattr(x, "shape"))


class TrainingPhaseRunner(InferenceRunner):
    """``model(x, training=True)`` on arrays: the training-phase forward graph (Dropout active,
    BatchNormalization on the batch statistics), as Keras 3 runs a model called eagerly with
    ``training=True``. Like Keras, the call updates the layers' state (BatchNormalization's moving
    mean and variance): their new values are extra outputs of the graph, written back after a run."""

    def __init__(self, model, device: str = "auto", absent=frozenset()):
        super().__init__(model, device, absent)
        self._fast = None  # outputs beyond the model's: always the general path
        self._state_vars = None

    def _emit(self):
        from irgraph.passes.cleanup import cleanup
        from irgraph.passes.fuse import fuse
        from irgraph.passes.lower import lower
        from irgraph.passes.manager import PassManager
        from irgraph.passes.shapes import infer_shapes

        from .onnx.emit import emit
        state: list = []

        def lower_(g):
            og = lower(g, training=True)
            for var, tensor in og.state_updates:
                og.add_output(f"{var.path}:new", tensor)
                state.append(var)
            og.refresh_edges()
            return og
        lower_.__name__ = "lower"
        graph = PassManager([lower_, infer_shapes, cleanup, fuse]).run(self.model.layer_graph(self.absent))
        self._state_vars = state
        return emit(graph, name=f"{self.model.name}_training_phase")

    @property
    def session(self) -> ort.InferenceSession:
        with variables.LOCK:
            token = self._weights_token()
            if self._session is None or token != self._token:
                if self._emitted is None:
                    self._emitted = self._emit()
                self._session = make_session(self._emitted.proto(), self.providers)
                self._token = token
            return self._session

    _emitted = None

    def runner_for(self, flat: list) -> "InferenceRunner":
        absent = frozenset(s.name for s, v in zip(self.signature.slots, flat) if v is None)
        return self if absent == self.absent else self.model._training_runner(absent)

    def predict_on_batch(self, x):
        flat = self.flat(x)
        runner = self.runner_for(flat)
        return runner._run_training_batch(runner.feeds_of(flat))

    def _run_training_batch(self, feeds: dict):
        sess = self.session
        try:
            outs = sess.run(None, feeds)
        except Exception as err:
            raise run_failure(err, f"model '{self.model.name}' (training=True)", feeds) from None
        n = len(self.output_names)
        outs, new_state = outs[:n], outs[n:]
        if new_state:
            with variables.LOCK:
                for var, value in zip(self._state_vars, new_state):
                    var.assign(value)  # baked into the session: the next call builds a new one
        return outs[0] if self._plain_single_output else self._wrap(outs)
