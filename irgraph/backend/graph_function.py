"""`K.function`: the functional graph between some inputs and some outputs, compiled to ONNX once
and run in onnxruntime (Keras 2's graph-mode ``K.function``).

How a function is built (once per learning phase it is called with):
  1. the calls between the inputs and the outputs (and the new values of ``updates``) are collected
     by one backward walk, into a layer-level `Graph` (input, call, output nodes);
  2. the inference pipeline (lower with ``training`` = the learning phase, infer_shapes, cleanup,
     fuse) makes the op graph; gradients are ordinary `GradientsLayer` calls, lowered by autodiff;
  3. the variables a call must see fresh (``K.variable``s, and every updated variable) become graph
     inputs, fed from the weight store at each call; the other weights (a model's layers) stay
     initializers, so onnxruntime folds them as for `predict`, and the session is rebuilt only when
     one of them changes (the weight store's versions say so in O(1));
  4. the model is emitted, checked in full once, and run; updates are extra outputs assigned after
     the run, all computed from the values before the call.
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph
from ..ops.base import FLOAT_DTYPES, Spec
from ..tensor import KerasTensor
from ..variables import EPOCH, LOCK, Variable, assign_all
from .graph import LearningPhase, Update, VariableLayer, VariableTensor, default_phase, variable_tensor

__all__ = ["function", "Function"]


class MissingInputError(ValueError):
    """An output needs a placeholder or Input that is not among the function's inputs."""


# ------------------------------------------------------------------------------- the graph walk
def _source_name(t: KerasTensor) -> str:
    return t._keras_history[0].name


def calls_between(inputs: list, tensors: list, what: list, free_sources: bool = False):
    """The calls (Nodes) computing ``tensors`` from ``inputs``, each once, each after the calls of its
    inputs (an explicit stack: any depth). Sources that are Inputs or placeholders must be among
    ``inputs``, unless ``free_sources`` (then they are returned as extra inputs). ``what[i]`` names
    tensor i for errors. Returns (nodes, sources found)."""
    from ..layers.input_layer import InputLayer
    input_ids = {id(t) for t in inputs}
    nodes, done, found = [], set(), []
    for t0, label in zip(tensors, what):
        stack = [(t0, False)]
        while stack:
            t, parents_done = stack.pop()
            if id(t) in input_ids:
                continue
            node = t.node
            if id(node) in done:
                continue
            if parents_done:
                done.add(id(node))
                nodes.append(node)
                continue
            if isinstance(node.layer, InputLayer) and not node.input_tensors:
                if not free_sources:
                    kind = "placeholder" if getattr(node.layer, "is_backend_placeholder", False) else "Input"
                    raise MissingInputError(
                        f"{label} depends on {kind} '{_source_name(t)}' (shape {t.shape}), which is not among "
                        f"the inputs of the function; add it to the inputs list")
                input_ids.add(id(t))
                found.append(t)
                continue
            stack.append((t, True))
            stack.extend((p, False) for p in reversed(node.all_input_tensors))
    return nodes, found


def layer_graph(inputs: list, input_names: list, outputs: list, output_names: list, nodes: list) -> Graph:
    """The layer-level graph of ``nodes`` reading ``inputs`` and producing ``outputs``."""
    g = Graph("function")
    where: dict[int, tuple] = {}
    for t, name in zip(inputs, input_names):
        where[id(t)] = (g.add_input(name, Spec(tuple(t.shape), t.dtype)), 0)
    for node in nodes:
        specs = [Spec(tuple(t.shape), t.dtype) for t in node.output_tensors]
        reads = node.all_input_tensors
        cid = g.add_call(node.layer, node.index, node, specs, len(reads))
        for slot, t in enumerate(reads):
            g.connect(where[id(t)], cid, slot)
        for i, t in enumerate(node.output_tensors):
            where[id(t)] = (cid, i)
    for t, name in zip(outputs, output_names):
        g.add_output(name, where[id(t)])
    return g


def dependent_targets(losses: list, targets: list) -> list:
    """For each target (a functional tensor or a Variable): whether the summed ``losses`` have a
    gradient w.r.t. it, found by lowering the losses' graph and running autodiff on it."""
    from irgraph.passes.lower import lower
    from ..ops.trace import Value, tracing
    from .graph import traced_gradients
    nodes, sources = calls_between([], losses, [f"loss {i}" for i in range(len(losses))], free_sources=True)
    produced = {id(t) for n in nodes for t in n.output_tensors} | {id(t) for t in sources}
    tensor_targets = [t for t in targets if isinstance(t, KerasTensor) and id(t) in produced]
    names = [f"s{i}" for i in range(len(sources))]
    outs = list(losses) + tensor_targets
    g = lower(layer_graph(sources, names, outs, [f"o{i}" for i in range(len(outs))], nodes))
    values = [Value(g, *g.output_tensor(o), g.spec(g.output_tensor(o))) for o in g.outputs]
    loss_values, target_values = values[:len(losses)], iter(values[len(losses):])
    wrt, index = [], []
    weight_nodes = {id(g.node(n)["var"]): n for n in g.nodes_of("weight")}
    for i, t in enumerate(targets):
        if isinstance(t, KerasTensor) and id(t) in produced:
            v = next(target_values)
        elif isinstance(t, Variable) and id(t) in weight_nodes:
            nid = weight_nodes[id(t)]
            v = Value(g, nid, 0, g.node(nid)["specs"][0])
        else:
            continue
        if v.dtype in FLOAT_DTYPES:
            wrt.append(v)
            index.append(i)
    present = [False] * len(targets)
    if wrt:
        with tracing(g):
            grads = traced_gradients(loss_values, wrt)
        for i, gr in zip(index, grads):
            present[i] = gr is not None
    return present


# ------------------------------------------------------------------------------- updates
def fold_updates(updates) -> list:
    """``[(variable, new value)]`` from Keras 2 update forms, one entry per variable in first-update
    order. Each update is computed from the values before the call; several updates of one variable
    apply in order (an assignment replaces what came before, `update_add`/`update_sub` add to it)."""
    folded: dict[int, list] = {}
    for i, u in enumerate(updates or []):
        if isinstance(u, Update):
            var, kind, value = u.variable, u.kind, u.value
        elif isinstance(u, (list, tuple)) and len(u) == 2:
            var, kind, value = u[0], "assign", u[1]
        else:
            raise TypeError(f"updates[{i}] is {u!r}; an update is a (variable, new value) pair or the result "
                            "of K.update / K.update_add / K.update_sub / K.moving_average_update")
        if not isinstance(var, Variable):
            raise TypeError(f"updates[{i}]: {var!r} is not a variable (K.variable or a layer weight); only "
                            "variables can be updated")
        _check_update_shape(i, var, value)
        entry = folded.setdefault(id(var), [var, None])
        if kind == "assign":
            entry[1] = value
        else:
            current = variable_tensor(var) if entry[1] is None else entry[1]
            entry[1] = current + value if kind == "add" else current - value
    return [(var, value) for var, value in folded.values()]


def _check_update_shape(i, var, value) -> None:
    shape = tuple(np.shape(value)) if not hasattr(value, "shape") else tuple(value.shape)
    if len(shape) > len(var.shape) or any(
            d is not None and d != 1 and d != w for d, w in zip(shape[::-1], var.shape[::-1])):
        raise ValueError(f"updates[{i}]: variable '{var.path}' has shape {tuple(var.shape)}; its new value has "
                         f"shape {shape}")


# ------------------------------------------------------------------------------- the function
class _Compiled:
    """One learning phase's ONNX model and session, with what a call feeds and assigns."""

    def __init__(self, session, emitted, fed_vars, fed_names, output_names, n_outputs, init_vars):
        self.emitted = emitted
        self.fed = list(zip(fed_names, fed_vars))
        self.output_names = output_names
        self.n_outputs = n_outputs
        self.init_vars = init_vars
        self.set_session(session)

    def set_session(self, session) -> None:
        self.session = session
        self.run = direct_run(session)
        self.epoch = EPOCH[0]
        self.token = weights_token(self.init_vars)


def direct_run(session):
    """``run(output_names, feeds)`` of an onnxruntime session. For a CPU-only session, its compiled
    ``run`` without the Python wrapper's per-call checks (every input fed, no OrtValue of another
    session, WebGPU graph capture, provider fallback), which `Function.__call__` makes unnecessary
    (it feeds every graph input, numpy arrays only): a few microseconds a call, a tenth of a small
    model's run. Elsewhere the public ``session.run``."""
    raw = getattr(session, "_sess", None)
    if raw is None or session.get_providers() != ["CPUExecutionProvider"]:
        return session.run
    return lambda names, feeds: raw.run(names, feeds, None)


def weights_token(variables: list) -> tuple:
    return len(variables), max((v.version for v in variables), default=0)


class Function:
    """A callable ``f(list of arrays) -> list of arrays`` (Keras 2 ``K.function``)."""

    def __init__(self, inputs, outputs, updates=None, name=None, device="auto"):
        from ..runtime import InputSpecCheck, resolve_providers
        self.name = name or "function"
        self.inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        self._single_output = not isinstance(outputs, (list, tuple))
        self.outputs = [outputs] if self._single_output else list(outputs)
        self.phase_index = None
        data = []
        for i, t in enumerate(self.inputs):
            if _is_learning_phase(t):
                if self.phase_index is not None:
                    raise ValueError("K.function: the learning phase is given twice in the inputs")
                self.phase_index = i
            elif isinstance(t, KerasTensor):
                data.append(t)
            else:
                raise TypeError(f"K.function: inputs[{i}] is a {type(t).__name__}; inputs must be placeholders, "
                                "model inputs, functional tensors or K.learning_phase()")
        if len({id(t) for t in data}) != len(data):
            raise ValueError("K.function: the same tensor is given twice in the inputs")
        for i, t in enumerate(self.outputs):
            if not isinstance(t, KerasTensor):
                raise TypeError(f"K.function: outputs[{i}] is {t!r}; outputs must be functional tensors (a None "
                                "output usually is a gradient that does not exist: K.gradients returns None "
                                "where the loss does not depend on the variable)")
        self.data_inputs = data
        self.input_names = _unique_names([_input_name(t, i) for i, t in enumerate(data)])
        self.checks = [InputSpecCheck(i, n, t.shape, t.dtype) for i, (n, t) in enumerate(zip(self.input_names, data))]
        for c in self.checks:
            c.bounds = None  # no Embedding id range check here
        self.updates = fold_updates(updates)
        self._fast = None  # the compiled model of a one-input call with nothing fed or assigned
        self._fast_signature = None  # what an array must be to take that path (`_fast_signature`)
        self.providers = resolve_providers(device)
        self._phase = default_phase()
        self._compiled: dict[int, _Compiled] = {}
        # the graph walk runs now, so a missing input is reported where the function is made
        self._walk()

    # ----------------------------------------------------------------------------- building
    def _walk(self):
        tensors = list(self.outputs)
        labels = [f"output {i} ({t.name})" for i, t in enumerate(self.outputs)]
        self._update_tensors = []
        for var, value in self.updates:
            if isinstance(value, KerasTensor):
                tensors.append(value)
                labels.append(f"the update of '{var.path}'")
                self._update_tensors.append((var, value))
        self._nodes, _ = calls_between(self.data_inputs, tensors, labels)
        self._graph_tensors = tensors

    def _build(self, phase: int) -> _Compiled:
        from irgraph.passes.manager import inference_pipeline
        from ..onnx import check
        from ..onnx.emit import emit
        from ..runtime import make_session
        out_names = [f"output_{i}" for i in range(len(self.outputs))]
        out_names += [f"update_{i}" for i in range(len(self._update_tensors))]
        g = layer_graph(self.data_inputs, self.input_names, self._graph_tensors, out_names, self._nodes)
        og = inference_pipeline(training=bool(phase)).run(g)
        fed_vars, fed_names = _feed_variables(og, {id(v) for v, _ in self._update_tensors}
                                              | {id(v) for v, _ in self.updates})
        emitted = emit(og, name=self.name)
        init_vars = [v for _, v in emitted.weights]
        with LOCK:
            proto = emitted.proto()
            check(proto)
            emitted.checked = True
            session = make_session(proto, self.providers)
            return _Compiled(session, emitted, fed_vars, fed_names, out_names, len(self.outputs), init_vars)

    def _session_for(self, phase: int) -> _Compiled:
        c = self._compiled.get(phase)
        if c is None:
            c = self._compiled[phase] = self._build(phase)
            return c
        if c.epoch != EPOCH[0]:
            with LOCK:
                token = weights_token(c.init_vars)
                if token != c.token:  # a model weight changed: new initializers, new session
                    from ..runtime import make_session
                    c.set_session(make_session(c.emitted.proto(), self.providers))
                c.epoch = EPOCH[0]
        return c

    # ----------------------------------------------------------------------------- calling
    def __call__(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            if len(self.inputs) != 1:
                raise TypeError(f"K.function '{self.name}' takes a list of {len(self.inputs)} arrays "
                                f"({', '.join(self._names())}), got a {type(inputs).__name__}")
            inputs = [inputs]
        if len(inputs) != len(self.inputs):
            raise ValueError(f"K.function '{self.name}' expects {len(self.inputs)} input(s) "
                             f"({', '.join(self._names())}), got {len(inputs)}")
        fast = self._fast
        if fast is not None and fast.epoch == EPOCH[0]:  # one array in, nothing fed or assigned besides
            x = inputs[0]
            sig = self._fast_signature
            if (type(x) is np.ndarray and x.dtype == sig[1] and x.ndim == sig[2] and x.shape[sig[3]:] == sig[4]
                    and x.flags.c_contiguous):
                feeds = {sig[0]: x}
                try:
                    outs = fast.run(fast.output_names, feeds)
                except Exception as err:
                    from ..runtime import run_failure
                    raise run_failure(err, f"K.function '{self.name}'", feeds) from None
                return outs[0] if self._single_output else outs
        phase = self._phase
        feeds = {}
        checks = iter(self.checks)
        for i, x in enumerate(inputs):
            if i == self.phase_index:
                phase = _phase_value(x)
                continue
            c = next(checks)
            feeds[c.name] = x if (type(x) is np.ndarray and x.dtype == c.dtype and _fits(x, c.shape)
                                  and x.flags.c_contiguous) else c.convert(x)
        compiled = self._session_for(phase)
        if (len(self.inputs) == 1 and self.phase_index is None and not self.updates and not compiled.fed
                and phase == self._phase):
            self._fast = compiled  # later calls with a plain array skip the checks above
            self._fast_signature = _fast_signature(self.checks[0])
        for name, var in compiled.fed:
            feeds[name] = var.numpy()
        try:
            results = compiled.run(compiled.output_names, feeds)
        except Exception as err:
            from ..runtime import run_failure
            raise run_failure(err, f"K.function '{self.name}'", feeds) from None
        self._apply_updates(results[compiled.n_outputs:])
        outs = results[:compiled.n_outputs]
        return outs[0] if self._single_output else outs

    def _apply_updates(self, computed: list) -> None:
        if not self.updates:
            return
        values = iter(computed)
        pairs = []
        for var, value in self.updates:
            new = next(values) if isinstance(value, KerasTensor) else _constant_update(value)
            if new.shape != tuple(var.shape):
                try:
                    new = np.broadcast_to(new, var.shape)
                except ValueError:
                    raise ValueError(f"K.function '{self.name}': the update of variable '{var.path}' computed a "
                                     f"value of shape {new.shape}; the variable has shape {tuple(var.shape)}. "
                                     "Nothing was assigned") from None
            pairs.append((var, new))
        assign_all(pairs)

    def _names(self) -> list:
        names = iter(self.input_names)
        return ["learning_phase" if i == self.phase_index else next(names) for i in range(len(self.inputs))]

    def onnx_model(self, phase: int | None = None):
        """The ONNX ModelProto this function runs (for the learning phase given, or its default)."""
        return self._session_for(self._phase if phase is None else phase).emitted.proto()


def _constant_update(value):
    if isinstance(value, Variable):
        return value.numpy()
    return np.asarray(value)


def _is_learning_phase(t) -> bool:
    """``K.learning_phase()``: the placeholder, or the 0 or 1 it is once `K.set_learning_phase` ran."""
    return isinstance(t, LearningPhase) or (type(t) is int and t in (0, 1))


def _phase_value(x) -> int:
    v = np.asarray(x)
    if v.size != 1 or v.dtype.kind not in "biuf" or float(v.reshape(-1)[0]) not in (0.0, 1.0):
        raise ValueError(f"the learning phase is fed 0 (test) or 1 (train), got {x!r}")
    return int(v.reshape(-1)[0])


def _fast_signature(check) -> tuple:
    """(name, dtype, rank, k, shape[k:]) of an input: an array fits when it has that dtype and rank
    and its dims from k on equal shape[k:], k being one past the last unknown dim. Known dims
    before an unknown one are checked by k = 0 and a shape never equal (the general path then)."""
    shape = check.shape
    unknown = [i for i, d in enumerate(shape) if d is None]
    k = unknown[-1] + 1 if unknown else 0
    if any(d is not None for d in shape[:k]):  # e.g. (None, 3, None): left to the general path
        return check.name, check.dtype, len(shape), 0, None
    return check.name, check.dtype, len(shape), k, tuple(shape[k:])


def _fits(x: np.ndarray, shape: tuple) -> bool:
    if x.ndim != len(shape):
        return False
    for d, w in zip(x.shape, shape):
        if w is not None and d != w:
            return False
    return True


def _input_name(t: KerasTensor, i: int) -> str:
    from ..layers.input_layer import InputLayer
    layer = t._keras_history[0]
    if isinstance(layer, InputLayer) and not t.node.input_tensors:
        return layer.name
    return f"input_{i}"


_RESERVED_PREFIXES = ("output_", "update_", "variable/")  # the names of outputs and fed variables


def _unique_names(names: list) -> list:
    """Input names, each once and none like an output's or a fed variable's."""
    seen, out = set(), []
    for n in names:
        base = f"input_{n}" if n.startswith(_RESERVED_PREFIXES) else n
        name, k = base, 1
        while name in seen:
            name, k = f"{base}_{k}", k + 1
        seen.add(name)
        out.append(name)
    return out


def _feed_variables(og: Graph, updated: set) -> tuple:
    """Turn the weight nodes of ``K.variable``s and of updated variables into graph inputs, fed at
    each call (the others stay initializers). Returns (variables, input names)."""
    fed_vars, fed_names, taken = [], [], set()
    for nid in og.nodes_of("weight"):
        var = og.node(nid)["var"]
        if not (isinstance(var, VariableTensor) or id(var) in updated):
            continue
        name, k = f"variable/{var.path}", 1
        while name in taken:
            name, k = f"variable/{var.path}_{k}", k + 1
        taken.add(name)
        spec = og.node(nid)["specs"][0]
        iid = og.add_input(name, Spec(tuple(spec.shape), spec.dtype))
        og.replace_uses((nid, 0), (iid, 0))
        og.remove(nid)
        fed_vars.append(var)
        fed_names.append(name)
    og.refresh_edges()
    return fed_vars, fed_names


def function(inputs, outputs, updates=None, name=None, **kwargs):
    """A callable running the graph from ``inputs`` to ``outputs`` (Keras 2 ``K.function``).

    ``inputs``: placeholders, model inputs, any functional tensors (fed instead of computed), and
    optionally ``K.learning_phase()`` (fed 0 for inference, 1 for training: Dropout and
    BatchNormalization follow it; without it the phase is the one `K.set_learning_phase` gave, or
    0). ``outputs``: a list of functional tensors (gradients included), or one tensor (then a call
    returns one array, as tf.keras). ``updates``: ``(variable, new value)``
    pairs or ``K.update*`` results, applied after the outputs are computed, every new value from the
    values before the call. Called with a list of arrays (one per input), it returns a list of
    arrays. The graph is compiled to ONNX once (per learning phase) and run in onnxruntime;
    variables are read from the weight store at each call, so ``K.set_value`` is seen at once.
    ``device``: onnxruntime's provider ("cpu", "cuda" or "auto", the default, as for `predict`:
    CUDA when onnxruntime-gpu sees a GPU)."""
    device = kwargs.pop("device", "auto")
    kwargs.pop("session_kwargs", None)
    if kwargs:
        raise TypeError(f"K.function got unexpected arguments {sorted(kwargs)}")
    return Function(inputs, outputs, updates=updates, name=name, device=device)


__all__ += ["MissingInputError", "VariableLayer"]
