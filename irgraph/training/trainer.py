"""compile/fit/evaluate/train_on_batch/test_on_batch: the loops around the training session."""
from __future__ import annotations

import numpy as np

from .. import callbacks as callbacks_mod
from .. import tree
from ..ir import gc_paused
from ..ops.base import Spec
from ..random_state import rng
from ..runtime import InputSpecCheck, resolve_providers
from .data import Dataset, class_weights_to_sample_weights, is_generator_like, structure
from .prefetch import Prefetcher
from .graphs import build_step_graphs
from . import validate
from ..input_checks import cast_checked, count_arg, fraction_arg
from .session import TrainSession


def _is_sparse(loss) -> bool:
    name = getattr(loss, "name", None) or getattr(loss, "__name__", "") or ""
    fn = getattr(loss, "fn", None)
    return "sparse" in str(name).lower() or "sparse" in str(getattr(fn, "__name__", "")).lower()


class Trainer:
    """Holds the step graphs, the onnxruntime session and the optimizer state of a compiled model."""

    def __init__(self, model, config, device: str = "auto"):
        self.model = model
        self.config = config
        self.providers = resolve_providers(device)
        self.checks = InputSpecCheck.for_model(model)
        self.graphs = None
        self._built: dict = {}  # (label specs, absent inputs) -> StepGraphs
        self.metric_state = None  # the _Accumulator of the latest fit epoch or evaluation
        self.session = None
        self.weights = model.weights  # the model's structure is fixed once compiled
        self.rng = np.random.default_rng(int(rng().integers(2**31)))  # irgraph.set_seed makes fit repeatable

    # ----------------------------------------------------------------------------- data
    def label_specs(self, ys: list) -> dict:
        specs = {}
        for name, y, loss, labelled, out in zip(self.config.output_names, ys, self.config.losses,
                                                self.config.labelled, self.model.outputs):
            if y is None:
                if labelled:
                    raise ValueError(f"no target given for output '{name}', which has a loss; pass y for "
                                     f"every output with a loss (outputs: {self.config.output_names})")
                specs[name] = Spec(("batch",) + tuple(d for d in out.shape[1:]), "float32")
                continue
            validate.check_label_dtype(name, y)
            if y.ndim == 0:
                raise ValueError(f"labels for output '{name}' must have a batch axis (one label per sample), "
                                 f"got a scalar")
            if loss is not None:
                validate.check_label_shape(name, y.shape, tuple(out.shape), loss)
            dtype = "int64" if (y.dtype.kind in "iu" and _is_sparse(loss)) else "float32"
            specs[name] = Spec(("batch",) + tuple(y.shape[1:]), dtype)
        return specs

    def custom_labels(self, y, sample_weight, n: int, arrays: dict):
        """A model with its own ``compute_loss``: the leaves of ``y`` (any structure, as Keras hands
        it to the override) become ``arrays['y_true:<k>']``; returns (``y``'s structure with leaf
        ``k`` for ``y_true:<k>``, their Specs, whether a sample weight is fed)."""
        specs = []
        for k, (path, leaf) in enumerate(tree.flatten_with_path(y) if y is not None else []):
            where = f"y{tree.path_text(path)}" if path else "y"
            if leaf is None:
                raise ValueError(f"model '{self.model.name}' overrides compute_loss: {where} is None; pass an "
                                 "array for every label leaf")
            a = np.asarray(leaf)
            validate.check_label_dtype(where, a)
            if a.ndim == 0 or len(a) != n:
                raise ValueError(f"inputs and labels need the same number of samples: {where} has shape "
                                 f"{a.shape}, the inputs {n} samples; pass one label per input sample")
            spec = Spec(("batch",) + tuple(a.shape[1:]), "int64" if a.dtype.kind in "iu" else "float32")
            specs.append(spec)
            arrays[f"y_true:{k}"] = np.ascontiguousarray(cast_checked(a, spec.dtype, f"labels {where}"))
        if sample_weight is not None:
            if tree.is_nested(sample_weight):
                raise ValueError(f"model '{self.model.name}' overrides compute_loss: sample_weight must be one "
                                 f"array of shape ({n},) (one weight per sample), got a "
                                 f"{type(sample_weight).__name__}")
            arrays["sample_weight"] = validate.check_sample_weight("sample_weight", sample_weight, n)
        labels = None if y is None else tree.pack_sequence_as(y, list(range(len(specs))))
        return labels, tuple(specs), sample_weight is not None

    def dataset(self, x, y, sample_weight=None, class_weight=None) -> Dataset:
        names = self.config.output_names
        if x is None:
            raise ValueError(f"no input data given: pass x (the model's inputs {self.model.input_names}) "
                             f"as an array, a list or a dict keyed by input name")
        checks = self.checks
        if checks and checks[0].bounds is False:
            InputSpecCheck.bind_ids(checks, self.model)  # Embedding ids are range-checked by convert
        xs = self.model._signature.flat_inputs(x)
        # None for an optional input: the step graphs of that presence pattern (the layers reading
        # it get None, as in predict), fed without it
        absent = frozenset(c.name for c, v in zip(checks, xs) if v is None)
        arrays = {c.name: c.convert(a) for c, a in zip(checks, xs) if a is not None}
        first = next(iter(arrays))
        n = len(arrays[first])
        for k, a in arrays.items():
            if len(a) != n:
                raise ValueError(f"all inputs need the same number of samples; input '{k}' has {len(a)}, "
                                 f"input '{first}' has {n}")
        if n == 0:
            raise ValueError(f"input '{first}' has 0 samples (shape {arrays[first].shape}); training and "
                             f"evaluation need at least one sample")
        if self.model._has_own_compute_loss():
            if class_weight is not None:
                raise ValueError(f"model '{self.model.name}' overrides compute_loss: class_weight is not "
                                 "supported with it; fold the class weights into sample_weight")
            custom = self.custom_labels(y, sample_weight, n, arrays)
            self.ensure_graphs([], absent, custom)
            return Dataset(arrays)
        ys = [None if v is None else np.asarray(v) for v in self.model._signature.flat_targets(y)]
        for name, yv in zip(names, ys):
            if yv is not None and yv.ndim and len(yv) != n:
                raise ValueError(f"inputs and labels need the same number of samples: labels for output "
                                 f"'{name}' have {len(yv)} (shape {yv.shape}), the inputs {n}; pass one label "
                                 f"per input sample")
        self.ensure_graphs(ys, absent)
        if sample_weight is None:
            sws = [None] * len(names)
        elif isinstance(sample_weight, np.ndarray) and len(names) > 1:
            sws = [sample_weight] * len(names)  # one array weighs every output, as in Keras
        else:
            sws = structure(sample_weight, names, "sample_weight")
        cws = _class_weights_per_output(class_weight, names)
        for name, yv, sw, cw, loss, out in zip(names, ys, sws, cws, self.config.losses, self.model.outputs):
            spec = self.graphs.label_specs[name]
            if yv is None:
                yv = np.zeros((n,) + tuple(d if isinstance(d, int) else 1 for d in spec.shape[1:]), spec.dtype)
            if yv.ndim != len(spec.shape):
                raise ValueError(f"target for output '{name}' has shape {yv.shape}; the step graph was built "
                                 f"for targets of rank {len(spec.shape)}")
            if loss is not None:
                validate.check_label_values(name, yv, tuple(out.shape), loss)
            arrays[f"{name}_true"] = np.ascontiguousarray(
                cast_checked(yv, spec.dtype, f"labels for output '{name}'"))
            w = np.ones(n, np.float32) if sw is None else validate.check_sample_weight(name, sw, n)
            if cw is not None:
                cw = validate.check_class_weight(name, cw, tuple(out.shape), loss)
                w = w * class_weights_to_sample_weights(yv, cw, name, validate.loss_kind(loss) == "sparse")
            arrays[f"{name}_sample_weight"] = w
        return Dataset(arrays)

    def ensure_graphs(self, ys: list, absent: frozenset = frozenset(), custom_labels=None) -> None:
        """The step graphs and session for these labels and this presence pattern of the optional
        inputs (``absent``: those given None). Graphs are kept per pattern; switching patterns
        hands the state back to the host and opens the other pattern's session. ``custom_labels``:
        see `custom_labels` (a model with its own ``compute_loss``)."""
        specs = self.label_specs(ys) if custom_labels is None else {}
        custom_key = repr(custom_labels)
        if self.graphs is not None and self.graphs.label_specs == specs and self.graphs.absent == absent \
                and repr(self.graphs.custom_labels) == custom_key:
            return
        with gc_paused():  # graph building and session set-up allocate millions of small objects
            key = (tuple(sorted(specs.items())), absent, custom_key)
            graphs = self._built.get(key)
            if graphs is None:
                graphs = self._built[key] = build_step_graphs(self.model, self.config, specs, absent=absent,
                                                              custom_labels=custom_labels)
            self.close()
            self.graphs = graphs
            self.session = TrainSession(graphs, self.providers, self._state_variables(),
                                        self.config.optimizer)

    # ----------------------------------------------------------------------------- state
    def _state_variables(self) -> dict:
        """Graph input name -> Variable: every weight (trained, frozen, layer state) and the
        optimizer slots of the trained ones."""
        state = {v.path: v for v in self.weights}
        opt = self.config.optimizer
        for var, slot_names in self.graphs.trained:
            for name, slot in zip(slot_names, opt.slot_variables(var)):
                state[f"{var.path}:{name}"] = slot
        return state

    @property
    def iterations(self) -> int:
        return self.config.optimizer.iterations

    @property
    def slots(self) -> dict:
        """The optimizer state of this model's weights, ``'<weight path>:<slot>' -> array``."""
        return self.config.optimizer.state_of(self.weights)

    def close(self) -> None:
        """Give the state back to the host and free the sessions (a new compile, a new step graph)."""
        if self.session is not None:
            self.session.close()
            self.session = None

    # ----------------------------------------------------------------------------- steps
    def train_step(self, feeds: dict) -> dict:
        opt = self.config.optimizer
        return self.session.train_step(feeds, opt.lr_at(opt.iterations))

    def eval_step(self, feeds: dict) -> dict:
        return self.session.eval_step(feeds)


class _Accumulator:
    """Running epoch logs: losses weighted by batch size, metric statistics summed."""

    def __init__(self, trainer, prefix: str = ""):
        self.trainer, self.prefix = trainer, prefix  # graphs may be built by the first batch
        self.n = 0
        self.losses: dict[str, float] = {}
        self.counts: dict[str, float] = {}
        self.totals: dict | None = None
        trainer.metric_state = self  # Keras's metrics variables hold the sums of the latest run

    # the sums as Keras's metric variables (`irgraph.training.state_tree`)
    def losses_items(self):
        return [(k, (v, self.counts[k])) for k, v in self.losses.items()]

    def loss_sum(self, key: str, index: int) -> np.ndarray:
        return np.asarray(self.losses[key] if index == 0 else self.counts[key], np.float32)

    def set_loss_sum(self, key: str, index: int, value) -> None:
        (self.losses if index == 0 else self.counts)[key] = float(np.asarray(value))

    def metric_sum(self, slot, index: int) -> np.ndarray:
        return np.asarray(self.totals[slot.log_name][index], np.float32)

    def set_metric_sum(self, slot, index: int, value) -> None:
        old = self.totals[slot.log_name][index]
        self.totals[slot.log_name][index] = np.asarray(value, np.float64).reshape(np.shape(old))

    @property
    def graphs(self):
        return self.trainer.graphs

    def add(self, out: dict, batch: int) -> None:
        if self.totals is None:
            self.totals = {s.log_name: [np.array(t, dtype=np.float64) for t in s.metric.initial_totals()]
                           for s in self.graphs.metrics}
        self.n += batch
        for k, source in self._log_sources().items():
            self.losses[k] = self.losses.get(k, 0.0) + float(out[source]) * batch
            self.counts[k] = self.counts.get(k, 0.0) + batch
        for s in self.graphs.metrics:
            tot = self.totals[s.log_name]
            for i, name in enumerate(s.outputs):
                tot[i] = tot[i] + out[name]

    def _log_sources(self) -> dict:
        """History key -> the graph output it averages (of losses sharing a key, the last)."""
        sources = {"loss": "loss"}
        for graph_name, key in self.graphs.output_losses:
            sources[key] = graph_name
        return sources

    def logs(self) -> dict:
        logs = {self.prefix + k: v / max(self.counts[k], 1) for k, v in self.losses.items()}
        for s in (self.graphs.metrics if self.totals is not None else []):
            logs[self.prefix + s.log_name] = float(s.metric.result(self.totals[s.log_name]))
        return logs


def _class_weights_per_output(class_weight, names):
    if class_weight is None:
        return [None] * len(names)
    if isinstance(class_weight, dict) and class_weight and all(k in names for k in class_weight):
        return [class_weight.get(n) for n in names]
    if len(names) > 1:
        raise ValueError("class_weight for a model with several outputs must be a dict keyed by output name")
    return [class_weight]


def _unpack(batch):
    if isinstance(batch, tuple):
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch
        if len(batch) == 1:
            return batch[0], None, None
    raise ValueError("a generator for fit/evaluate must yield (x, y) or (x, y, sample_weight) tuples, "
                     f"got {type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, tuple) else ""))


def _generator_batches(trainer, data, steps, class_weight):
    it = iter(data)
    count = 0
    while steps is None or count < steps:
        try:
            batch = next(it)
        except StopIteration:
            if count == 0:
                raise ValueError("the generator yielded no batch") from None
            return
        x, y, w = _unpack(batch)
        ds = trainer.dataset(x, y, w, class_weight)
        yield ds.arrays, ds.n
        count += 1


def fit(model, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
        validation_split=0.0, validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
        initial_epoch=0, steps_per_epoch=None, validation_steps=None, validation_batch_size=None,
        validation_freq=1, **kwargs):
    if "nb_epoch" in kwargs:
        epochs = kwargs.pop("nb_epoch")
    if kwargs:
        raise TypeError(f"fit() got unexpected arguments {sorted(kwargs)}")
    batch_size = count_arg(batch_size, "fit(): batch_size") or 32
    epochs = count_arg(epochs, "fit(): epochs", minimum=0, allow_none=False)
    initial_epoch = count_arg(initial_epoch, "fit(): initial_epoch", minimum=0, allow_none=False)
    steps_per_epoch = count_arg(steps_per_epoch, "fit(): steps_per_epoch")
    validation_steps = count_arg(validation_steps, "fit(): validation_steps")
    validation_batch_size = count_arg(validation_batch_size, "fit(): validation_batch_size")
    validation_freq = count_arg(validation_freq, "fit(): validation_freq", allow_none=False)
    validation_split = fraction_arg(validation_split, "fit(): validation_split")
    if is_generator_like(x) and (y is not None or sample_weight is not None):
        raise ValueError("fit(): x is a generator, which yields (x, y) or (x, y, sample_weight) batches itself; "
                         "do not pass y or sample_weight with it")
    trainer = model._get_trainer()
    generator = is_generator_like(x)
    if generator:
        if validation_split:
            raise ValueError("validation_split is not available when x is a generator; pass validation_data")
        train_ds, n_batches = None, steps_per_epoch
    else:
        train_ds = trainer.dataset(x, y, sample_weight, class_weight)
        val_ds = None
        if validation_split:
            train_ds, val_ds = train_ds.split(validation_split)
        n_batches = train_ds.num_batches(batch_size, steps_per_epoch)
    val = validation_data
    if not generator and validation_split:
        val = val_ds
    verbose = 1 if verbose == "auto" else int(verbose)
    cbs = callbacks_mod.CallbackList(callbacks, model=model, add_history=True, add_progbar=verbose != 0,
                                     verbose=verbose, epochs=epochs, steps=n_batches)
    model.stop_training = False
    cbs.on_train_begin()
    epoch_logs: dict = {}
    for epoch in range(initial_epoch, epochs):
        cbs.on_epoch_begin(epoch)
        acc = _Accumulator(trainer)
        batches = _generator_batches(trainer, x, steps_per_epoch, class_weight) if generator else \
            train_ds.batches(batch_size, shuffle, trainer.rng, steps_per_epoch)
        with Prefetcher(batches) as loader:
            for step, (feeds, n) in enumerate(loader):
                cbs.on_train_batch_begin(step)
                acc.add(trainer.train_step(feeds), n)
                cbs.on_train_batch_end(step, acc.logs())
                if model.stop_training:
                    break
        epoch_logs = acc.logs()
        if val is not None and (epoch + 1) % validation_freq == 0:
            epoch_logs.update(_evaluate_logs(trainer, val, validation_batch_size or batch_size,
                                             validation_steps, prefix="val_"))
        cbs.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    cbs.on_train_end(epoch_logs)
    return model.history


def _evaluate_logs(trainer, data, batch_size, steps, prefix="", sample_weight=None, callbacks=None):
    acc = _Accumulator(trainer, prefix)
    if isinstance(data, Dataset):
        batches = data.batches(batch_size, False, trainer.rng, steps)
    elif is_generator_like(data):
        batches = _generator_batches(trainer, data, steps, None)
    else:
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError("validation_data must be (x, y) or (x, y, sample_weight), or a generator")
        x, y, w = data if len(data) == 3 else (data[0], data[1], None)
        batches = trainer.dataset(x, y, w).batches(batch_size, False, trainer.rng, steps)
    with Prefetcher(batches) as loader:
        for step, (feeds, n) in enumerate(loader):
            if callbacks is not None:
                callbacks.on_test_batch_begin(step)
            acc.add(trainer.eval_step(feeds), n)
            if callbacks is not None:
                callbacks.on_test_batch_end(step, acc.logs())
    return acc.logs()


def _as_result(logs: dict, return_dict: bool):
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def evaluate(model, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
             callbacks=None, return_dict=False):
    batch_size = count_arg(batch_size, "evaluate(): batch_size") or 32
    steps = count_arg(steps, "evaluate(): steps")
    if is_generator_like(x) and (y is not None or sample_weight is not None):
        raise ValueError("evaluate(): x is a generator, which yields (x, y) or (x, y, sample_weight) batches "
                         "itself; do not pass y or sample_weight with it")
    trainer = model._get_trainer()
    if is_generator_like(x):
        data = x
    else:
        ds = trainer.dataset(x, y, sample_weight)
        data = ds
    cbs = callbacks_mod.CallbackList(callbacks, model=model, verbose=0)
    cbs.on_test_begin()
    logs = _evaluate_logs(trainer, data, batch_size, steps, callbacks=cbs)
    cbs.on_test_end(logs)
    if verbose not in (0, "auto") or verbose == "auto":
        if verbose != 0:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
    return _as_result(logs, return_dict)


def train_on_batch(model, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
    trainer = model._get_trainer()
    ds = trainer.dataset(x, y, sample_weight, class_weight)
    acc = _Accumulator(trainer)
    acc.add(trainer.train_step(ds.arrays), ds.n)
    return _as_result(acc.logs(), return_dict)


def test_on_batch(model, x, y=None, sample_weight=None, return_dict=False):
    trainer = model._get_trainer()
    ds = trainer.dataset(x, y, sample_weight)
    acc = _Accumulator(trainer)
    acc.add(trainer.eval_step(ds.arrays), ds.n)
    return _as_result(acc.logs(), return_dict)


test_on_batch.__test__ = False  # not a pytest test
