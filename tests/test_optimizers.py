"""Optimizers and learning-rate schedules.

Each update is traced into a small ONNX graph (inputs: weights, gradients, slots, lr, step;
outputs: new weights and slots), checked with the full ONNX checker and run for several steps in
onnxruntime, feeding the outputs back. The results are compared with numpy re-implementations of
Keras 3's update formulas written here (float64), and with torch.optim where the math agrees.
"""
import math

import numpy as np
import onnxruntime as ort
import pytest

import irgraph.optimizers as O
import irgraph.schedules as S
from irgraph.ir import Graph
from irgraph.onnx.emit import check, emit_model
from irgraph.ops.base import Spec
from irgraph.ops.trace import Value, tracing

SHAPES = [(3, 4), (5,), ()]   # a matrix, a vector and a 0-d weight
STEPS = 5


# ============================================================================ ONNX harness
def build_session(opt, shapes, dtype="float32"):
    """Trace clip_gradients + update for weights of ``shapes`` into a checked ONNX model."""
    g = Graph("opt_step")
    n_slots = len(opt.slot_names())

    def inp(name, shape, dt=dtype):
        spec = Spec(tuple(shape), dt)
        return Value(g, g.add_input(name, spec), 0, spec)

    with tracing(g):
        variables = [inp(f"var{i}", s) for i, s in enumerate(shapes)]
        grads = [inp(f"grad{i}", s) for i, s in enumerate(shapes)]
        slots = [[inp(f"slot{i}_{k}", s) for k in range(n_slots)] for i, s in enumerate(shapes)]
        lr, step = inp("lr", (), "float32"), inp("step", (), "float32")
        clipped = opt.clip_gradients(grads)
        outs = []
        for i, (v, gr, sl) in enumerate(zip(variables, clipped, slots)):
            nv, ns = opt.update(v, gr, sl, lr, step)
            assert len(ns) == n_slots
            assert nv.shape == v.shape and all(s.shape == v.shape for s in ns)
            outs.append((f"new_var{i}", nv))
            outs += [(f"new_slot{i}_{k}", s) for k, s in enumerate(ns)]
        for name, val in outs:
            g.add_output(name, val.tensor)
    model = emit_model(g, opset=17)
    check(model)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def run_onnx(opt, variables, grad_seq, start_step=0, dtype="float32", on_step=None):
    """Run len(grad_seq) steps; returns [(vars, slots)] after each step (numpy copies)."""
    shapes = [v.shape for v in variables]
    sess = build_session(opt, shapes, dtype)
    n_slots = len(opt.slot_names())
    cur_vars = [np.array(v, dtype=dtype) for v in variables]
    cur_slots = [[np.array(s) for s in opt.initial_slots(sh, dtype)] for sh in shapes]
    history = []
    for k, grads in enumerate(grad_seq):
        step = start_step + k
        if on_step is not None:
            on_step(opt, step)
        feeds = {"lr": np.array(opt.lr_at(step), np.float32), "step": np.array(step, np.float32)}
        for i in range(len(shapes)):
            feeds[f"var{i}"] = cur_vars[i].copy()
            feeds[f"grad{i}"] = np.array(grads[i], dtype=dtype)
            for j in range(n_slots):
                feeds[f"slot{i}_{j}"] = cur_slots[i][j].copy()
        out = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
        cur_vars = [np.array(out[f"new_var{i}"]) for i in range(len(shapes))]
        cur_slots = [[np.array(out[f"new_slot{i}_{j}"]) for j in range(n_slots)]
                     for i in range(len(shapes))]
        history.append(([v.copy() for v in cur_vars], [[s.copy() for s in ss] for ss in cur_slots]))
    return history


def make_problem(seed=0, shapes=SHAPES, steps=STEPS, scales=(1.0, 3.0, 0.1, 2.0, 0.05)):
    """Random weights and one random gradient per weight per step, of varying magnitude (so that
    amsgrad's running max and Adamax's norm see both growing and shrinking gradients)."""
    rng = np.random.default_rng(seed)
    variables = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[(scales[k % len(scales)] * rng.standard_normal(s)).astype(np.float32) for s in shapes]
             for k in range(steps)]
    return variables, grads


# ============================================================================ numpy reference
# Written from Keras 3's optimizer sources (keras/src/optimizers/*.py), in float64.
def ref_clip(cfg, grads):
    if cfg.get("clipnorm"):
        c = cfg["clipnorm"]
        return [g * c / max(np.sqrt(np.sum(g * g)), c) for g in grads]
    if cfg.get("global_clipnorm"):
        c = cfg["global_clipnorm"]
        norm = np.sqrt(sum(np.sum(g * g) for g in grads))
        return [g * (c * min(1.0 / norm, 1.0 / c)) for g in grads]
    if cfg.get("clipvalue"):
        c = cfg["clipvalue"]
        return [np.clip(g, -c, c) for g in grads]
    return grads


def ref_slots(cls, cfg, shape):
    n = {"SGD": 1 if cfg.get("momentum") else 0,
         "RMSprop": 1 + bool(cfg.get("momentum")) + bool(cfg.get("centered")),
         "Adam": 3 if cfg.get("amsgrad") else 2, "AdamW": 3 if cfg.get("amsgrad") else 2,
         "Adagrad": 1, "Adadelta": 2, "Adamax": 2, "Nadam": 2}[cls]
    if cls == "Adagrad":
        return [np.full(shape, cfg.get("initial_accumulator_value", 0.1))]
    return [np.zeros(shape) for _ in range(n)]


def ref_update(cls, cfg, w, g, slots, lr, it):
    """One Keras 3 update of weight ``w``; ``it`` = iterations before this update."""
    t = it + 1
    eps = cfg.get("epsilon", 1e-7)
    wd = cfg.get("weight_decay", 0.004 if cls == "AdamW" else None)
    if wd:
        w = w - w * wd * lr
    if cls == "SGD":
        mom = cfg.get("momentum", 0.0)
        if not mom:
            return w - lr * g, []
        m = mom * slots[0] - lr * g
        return (w + mom * m - lr * g if cfg.get("nesterov") else w + m), [m]
    if cls == "RMSprop":
        rho, mom, centered = cfg.get("rho", 0.9), cfg.get("momentum", 0.0), cfg.get("centered", False)
        v = rho * slots[0] + (1 - rho) * g * g
        out = [v]
        if centered:
            a = rho * slots[-1] + (1 - rho) * g
            inc = lr * g / np.sqrt(v - a * a + eps)
        else:
            inc = lr * g / np.sqrt(v + eps)
        if mom:
            mb = mom * slots[1] + inc
            out.append(mb)
            w = w - mb
        else:
            w = w - inc
        if centered:
            out.append(a)
        return w, out
    if cls in ("Adam", "AdamW"):
        b1, b2 = cfg.get("beta_1", 0.9), cfg.get("beta_2", 0.999)
        m = slots[0] + (g - slots[0]) * (1 - b1)
        v = slots[1] + (g * g - slots[1]) * (1 - b2)
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        out = [m, v]
        if cfg.get("amsgrad"):
            v = np.maximum(slots[2], v)
            out.append(v)
        return w - alpha * m / (np.sqrt(v) + eps), out
    if cls == "Adagrad":
        acc = slots[0] + g * g
        return w - lr * g / np.sqrt(acc + eps), [acc]
    if cls == "Adadelta":
        rho = cfg.get("rho", 0.95)
        ag = rho * slots[0] + (1 - rho) * g * g
        delta = -np.sqrt(slots[1] + eps) * g / np.sqrt(ag + eps)
        ad = rho * slots[1] + (1 - rho) * delta * delta
        return w + lr * delta, [ag, ad]
    if cls == "Adamax":
        b1, b2 = cfg.get("beta_1", 0.9), cfg.get("beta_2", 0.999)
        m = slots[0] + (g - slots[0]) * (1 - b1)
        u = np.maximum(b2 * slots[1], np.abs(g))
        return w - lr * m / ((1 - b1 ** t) * (u + eps)), [m, u]
    if cls == "Nadam":
        b1, b2 = cfg.get("beta_1", 0.9), cfg.get("beta_2", 0.999)
        u = [b1 * (1 - 0.5 * 0.96 ** i) for i in range(1, t + 2)]  # u_1 .. u_{t+1}
        u_prod = float(np.prod(u[:t]))                            # Keras's running product
        u_t, u_t1 = u[t - 1], u[t]
        m = slots[0] + (g - slots[0]) * (1 - b1)
        v = slots[1] + (g * g - slots[1]) * (1 - b2)
        m_hat = u_t1 * m / (1 - u_prod * u_t1) + (1 - u_t) * g / (1 - u_prod)
        v_hat = v / (1 - b2 ** t)
        return w - lr * m_hat / (np.sqrt(v_hat) + eps), [m, v]
    raise AssertionError(cls)


def ref_lr(cfg, it, schedule=None):
    lr = schedule(it) if schedule is not None else cfg.get("learning_rate", 0.001)
    if cfg.get("decay"):
        lr = lr / (1 + cfg["decay"] * it)
    return lr


def run_reference(cls, cfg, variables, grad_seq, start_step=0, schedule=None):
    ws = [v.astype(np.float64) for v in variables]
    slots = [ref_slots(cls, cfg, w.shape) for w in ws]
    history = []
    for k, grads in enumerate(grad_seq):
        it = start_step + k
        lr = ref_lr(cfg, it, schedule)
        gs = ref_clip(cfg, [g.astype(np.float64) for g in grads])
        for i in range(len(ws)):
            ws[i], slots[i] = ref_update(cls, cfg, ws[i], gs[i], slots[i], lr, it)
        history.append(([w.copy() for w in ws], [[s.copy() for s in ss] for ss in slots]))
    return history


def assert_histories(got, want, rtol=1e-5, atol=1e-6):
    for k, ((gv, gs), (wv, ws)) in enumerate(zip(got, want)):
        for i, (a, b) in enumerate(zip(gv, wv)):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"weight {i}, step {k}")
        for i, (sa, sb) in enumerate(zip(gs, ws)):
            assert len(sa) == len(sb), f"weight {i}: {len(sa)} slots, expected {len(sb)}"
            for j, (a, b) in enumerate(zip(sa, sb)):
                np.testing.assert_allclose(a, b, rtol=rtol, atol=atol,
                                           err_msg=f"weight {i}, slot {j}, step {k}")


def assert_updates(got, want, variables, rtol=2e-4, atol=1e-6):
    """The per-step changes, which are small next to the weights: a sharper test of the update."""
    prev_g = [v.astype(np.float64) for v in variables]
    prev_w = prev_g
    for k, ((gv, _), (wv, _)) in enumerate(zip(got, want)):
        for i in range(len(gv)):
            np.testing.assert_allclose(gv[i] - prev_g[i], wv[i] - prev_w[i], rtol=rtol, atol=atol,
                                       err_msg=f"update of weight {i} at step {k}")
        prev_g, prev_w = [x.astype(np.float64) for x in gv], wv


CASES = [
    ("SGD", {"learning_rate": 0.1}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"learning_rate": 0.01}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5}),
    ("RMSprop", {"learning_rate": 0.01, "centered": True}),
    ("RMSprop", {"learning_rate": 0.01, "centered": True, "momentum": 0.9, "rho": 0.8}),
    ("Adam", {"learning_rate": 0.01}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True, "beta_1": 0.8, "beta_2": 0.99}),
    ("AdamW", {"learning_rate": 0.01}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.2, "amsgrad": True}),
    ("Adagrad", {"learning_rate": 0.1}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "epsilon": 1e-3}),
    ("Adadelta", {"learning_rate": 1.0}),
    ("Adadelta", {"learning_rate": 0.5, "rho": 0.8, "epsilon": 1e-4}),
    ("Adamax", {"learning_rate": 0.01}),
    ("Adamax", {"learning_rate": 0.02, "beta_1": 0.8, "beta_2": 0.9}),
    ("Nadam", {"learning_rate": 0.01}),
    ("Nadam", {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99}),
    # gradient clipping (each kind; global_clipnorm both active and inactive)
    ("Adam", {"learning_rate": 0.01, "clipnorm": 0.5}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "clipvalue": 0.3}),
    ("Adam", {"learning_rate": 0.01, "global_clipnorm": 1.0}),
    ("RMSprop", {"learning_rate": 0.01, "global_clipnorm": 1e3}),
    ("Nadam", {"learning_rate": 0.01, "clipnorm": 1.0}),
    # Keras 1/2 time decay and the lr= spelling
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "decay": 0.5}),
    ("Adam", {"learning_rate": 0.01, "decay": 0.1}),
]


def _case_id(case):
    cls, cfg = case
    return cls + "-" + ",".join(f"{k}={v}" for k, v in cfg.items() if k != "learning_rate")


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_update_matches_keras_formulas(case):
    cls, cfg = case
    opt = getattr(O, cls)(**cfg)
    variables, grads = make_problem(seed=len(cfg))
    got = run_onnx(opt, variables, grads)
    want = run_reference(cls, cfg, variables, grads)
    assert_histories(got, want)
    assert_updates(got, want, variables)
    # the weights really moved
    assert not np.allclose(got[-1][0][0], variables[0])


@pytest.mark.parametrize("cls", ["Adam", "Nadam", "Adamax"])
@pytest.mark.parametrize("start", [40, 2000])
def test_bias_corrections_late_steps(cls, start):
    """Step-dependent terms (b^t, Nadam's momentum-cache product, past its table) at late steps."""
    cfg = {"learning_rate": 0.01}
    opt = getattr(O, cls)(**cfg)
    variables, grads = make_problem(seed=7, shapes=[(4, 3)])
    got = run_onnx(opt, variables, grads, start_step=start)
    want = run_reference(cls, cfg, variables, grads, start_step=start)
    assert_histories(got, want)


SCHEDULES = [
    S.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5),
    S.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5, staircase=True),
    S.PiecewiseConstantDecay([1, 3], [0.1, 0.05, 0.01]),
    S.CosineDecay(0.01, decay_steps=4, warmup_target=0.05, warmup_steps=2),
    S.InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5),
    S.PolynomialDecay(0.1, decay_steps=3, end_learning_rate=0.01, power=2.0),
]


@pytest.mark.parametrize("schedule", SCHEDULES,
                         ids=[type(s).__name__ + str(i) for i, s in enumerate(SCHEDULES)])
@pytest.mark.parametrize("cls", ["SGD", "Adam"])
def test_update_with_schedule(schedule, cls):
    cfg = {"momentum": 0.9} if cls == "SGD" else {}
    opt = getattr(O, cls)(learning_rate=schedule, **cfg)
    variables, grads = make_problem(seed=3)
    got = run_onnx(opt, variables, grads)
    want = run_reference(cls, cfg, variables, grads, schedule=schedule)
    assert_histories(got, want)


def test_schedule_with_decay_and_lr_setter_between_steps():
    """`decay` divides the scheduled rate; setting learning_rate between steps takes effect."""
    sched = S.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.8)
    opt = O.SGD(learning_rate=sched, momentum=0.5, decay=0.25)
    variables, grads = make_problem(seed=5)

    def on_step(o, step):
        if step == 3:
            o.learning_rate = 0.02  # a float from now on
    got = run_onnx(opt, variables, grads, on_step=on_step)
    lrs = [sched(k) / (1 + 0.25 * k) for k in range(3)] + [0.02 / (1 + 0.25 * k) for k in (3, 4)]
    ws = [v.astype(np.float64) for v in variables]
    ms = [np.zeros(w.shape) for w in ws]
    for k in range(STEPS):
        for i in range(len(ws)):
            ms[i] = 0.5 * ms[i] - lrs[k] * grads[k][i]
            ws[i] = ws[i] + ms[i]
        for i in range(len(ws)):
            np.testing.assert_allclose(got[k][0][i], ws[i], rtol=1e-5, atol=1e-6)


def test_float64_weights():
    """Weights of another float dtype: lr and step (float32 inputs) are cast to it."""
    cfg = {"learning_rate": 0.01, "amsgrad": True}
    opt = O.Adam(**cfg)
    variables, grads = make_problem(seed=11, shapes=[(2, 3), ()])
    variables = [v.astype(np.float64) for v in variables]
    got = run_onnx(opt, variables, grads, dtype="float64")
    assert got[-1][0][0].dtype == np.float64
    lr32 = float(np.float32(0.01))  # the lr input is float32
    want = run_reference("Adam", cfg, variables, grads, schedule=lambda step: lr32)
    assert_histories(got, want, rtol=1e-10, atol=1e-12)


def test_clip_gradients_none_passes_through():
    g = Graph("clip")
    spec = Spec((3,), "float32")
    with tracing(g):
        x = Value(g, g.add_input("x", spec), 0, spec)
        for opt in (O.SGD(clipnorm=1.0), O.SGD(global_clipnorm=1.0), O.SGD(clipvalue=1.0), O.SGD()):
            out = opt.clip_gradients([None, x])
            assert out[0] is None and isinstance(out[1], Value) and out[1].shape == (3,)


# ============================================================================ torch cross-check
torch = pytest.importorskip("torch")


def run_torch(make_opt, variables, grad_seq):
    params = [torch.tensor(v.astype(np.float64), requires_grad=True) for v in variables]
    opt = make_opt(params)
    history = []
    for grads in grad_seq:
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g.astype(np.float64))
        opt.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history


TORCH_CASES = [
    ("sgd", lambda: O.SGD(learning_rate=0.1),
     lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgd-momentum", lambda: O.SGD(learning_rate=0.1, momentum=0.9),
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    ("sgd-nesterov", lambda: O.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)),
    # Keras puts epsilon outside sqrt(v) scaled by sqrt(1 - b2^t), torch inside: a tiny epsilon
    ("adam", lambda: O.Adam(learning_rate=0.01, epsilon=1e-12),
     lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-12)),
    ("adam-amsgrad", lambda: O.Adam(learning_rate=0.01, epsilon=1e-12, amsgrad=True),
     lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-12, amsgrad=True)),
    ("adamw", lambda: O.AdamW(learning_rate=0.01, weight_decay=0.1, epsilon=1e-12),
     lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=1e-12)),
    # torch: lr g / (sqrt(v) + eps), Keras: lr g / sqrt(v + eps)
    ("rmsprop", lambda: O.RMSprop(learning_rate=0.01, epsilon=1e-12),
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-12)),
    ("rmsprop-momentum", lambda: O.RMSprop(learning_rate=0.01, momentum=0.9, epsilon=1e-12),
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-12, momentum=0.9)),
    ("rmsprop-centered", lambda: O.RMSprop(learning_rate=0.01, centered=True, epsilon=1e-12),
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-12, centered=True)),
    # torch: sqrt(acc) + eps, Keras: sqrt(acc + eps); same initial accumulator
    ("adagrad", lambda: O.Adagrad(learning_rate=0.1, initial_accumulator_value=0.1, epsilon=1e-12),
     lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, eps=1e-12)),
    ("adadelta", lambda: O.Adadelta(learning_rate=1.0, rho=0.9, epsilon=1e-6),
     lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.9, eps=1e-6)),
    # torch: max(b2 u, |g| + eps), Keras: max(b2 u, |g|) + eps
    ("adamax", lambda: O.Adamax(learning_rate=0.01, epsilon=1e-12),
     lambda p: torch.optim.Adamax(p, lr=0.01, eps=1e-12)),
    # torch's mu_t = b1 (1 - 0.5 * 0.96^(t * momentum_decay)); Keras 3 uses 0.96^t
    ("nadam", lambda: O.Nadam(learning_rate=0.01, epsilon=1e-8),
     lambda p: torch.optim.NAdam(p, lr=0.01, eps=1e-8, momentum_decay=1.0)),
]


@pytest.mark.parametrize("name,ours,theirs", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_matches_torch(name, ours, theirs):
    variables, grads = make_problem(seed=21, shapes=[(4, 3), (6,)])
    got = run_onnx(ours(), variables, grads)
    want = run_torch(theirs, variables, grads)
    for k, (gv, wv) in enumerate(zip(got, want)):
        for i, (a, b) in enumerate(zip(gv[0], wv)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"{name}: weight {i}, step {k}")


# ============================================================================ API and configs
ALL = ["SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "Nadam"]
DEFAULTS = {
    "SGD": dict(learning_rate=0.01, momentum=0.0, nesterov=False),
    "RMSprop": dict(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False),
    "Adam": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False),
    "AdamW": dict(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                  amsgrad=False),
    "Adagrad": dict(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7),
    "Adadelta": dict(learning_rate=0.001, rho=0.95, epsilon=1e-7),
    "Adamax": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
    "Nadam": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
}


@pytest.mark.parametrize("cls", ALL)
def test_keras3_defaults(cls):
    config = getattr(O, cls)().get_config()
    for k, v in DEFAULTS[cls].items():
        assert config[k] == v, (cls, k)
    assert config["clipnorm"] is None and config["clipvalue"] is None
    assert config["global_clipnorm"] is None


@pytest.mark.parametrize("name,cls", [
    ("sgd", "SGD"), ("SGD", "SGD"), ("rmsprop", "RMSprop"), ("RMSprop", "RMSprop"),
    ("RMSPROP", "RMSprop"), ("adam", "Adam"), ("Adam", "Adam"), ("adamw", "AdamW"),
    ("AdamW", "AdamW"), ("adagrad", "Adagrad"), ("Adadelta", "Adadelta"), ("adamax", "Adamax"),
    ("Nadam", "Nadam"), ("nadam", "Nadam"),
])
def test_get_by_name(name, cls):
    opt = O.get(name)
    assert type(opt) is getattr(O, cls)


def test_get_instance_class_and_dict():
    opt = O.Adam(learning_rate=0.05)
    assert O.get(opt) is opt
    assert type(O.get(O.RMSprop)) is O.RMSprop
    d = O.get({"class_name": "SGD", "config": {"learning_rate": 0.3, "momentum": 0.7}})
    assert type(d) is O.SGD and d.learning_rate == 0.3 and d.momentum == 0.7


def test_unknown_name_lists_known():
    with pytest.raises(ValueError) as err:
        O.get("adamm")
    msg = str(err.value)
    assert "adamm" in msg
    for known in ("sgd", "rmsprop", "adam", "adamw", "adagrad", "adadelta", "adamax", "nadam"):
        assert known in msg
    with pytest.raises(ValueError):
        O.get({"class_name": "Lion", "config": {}})
    with pytest.raises(ValueError):
        O.get(42)


@pytest.mark.parametrize("cls", ALL)
def test_unknown_kwarg(cls):
    with pytest.raises(TypeError) as err:
        getattr(O, cls)(learnin_rate=0.1)
    assert cls in str(err.value) and "learnin_rate" in str(err.value)


def test_keras3_config_keys_accepted_while_off():
    keras3 = {"name": "adam", "learning_rate": 0.002, "weight_decay": None, "clipnorm": None,
              "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
              "ema_overwrite_frequency": None, "loss_scale_factor": None,
              "gradient_accumulation_steps": None, "beta_1": 0.9, "beta_2": 0.999,
              "epsilon": 1e-07, "amsgrad": False}
    opt = O.get({"module": "keras.optimizers", "class_name": "Adam", "config": keras3,
                 "registered_name": None})
    assert opt.learning_rate == 0.002
    with pytest.raises(ValueError, match="use_ema"):
        O.Adam(use_ema=True)


CONFIG_CASES = [
    O.SGD(learning_rate=0.3, momentum=0.8, nesterov=True, clipnorm=2.0, name="s"),
    O.RMSprop(rho=0.8, momentum=0.1, epsilon=1e-5, centered=True, global_clipnorm=1.0),
    O.Adam(learning_rate=0.02, beta_1=0.8, beta_2=0.95, epsilon=1e-6, amsgrad=True, clipvalue=0.5),
    O.AdamW(weight_decay=0.01, amsgrad=True),
    O.Adagrad(initial_accumulator_value=0.3, epsilon=1e-4, weight_decay=0.001),
    O.Adadelta(learning_rate=1.0, rho=0.9),
    O.Adamax(beta_1=0.7),
    O.Nadam(beta_2=0.9, decay=0.01),
    O.Adam(learning_rate=S.CosineDecay(0.01, 100, alpha=0.1, warmup_target=0.1, warmup_steps=10)),
    O.SGD(learning_rate=S.PiecewiseConstantDecay([10, 20], [0.1, 0.01, 0.001])),
]


@pytest.mark.parametrize("opt", CONFIG_CASES, ids=lambda o: type(o).__name__)
def test_config_round_trip(opt):
    config = opt.get_config()
    again = type(opt).from_config(config)
    assert type(again) is type(opt)
    assert again.get_config() == config
    via_get = O.get(O.serialize(opt))
    assert type(via_get) is type(opt) and via_get.get_config() == config
    assert again.slot_names() == opt.slot_names()
    for step in (0, 1, 15, 50):
        assert again.lr_at(step) == opt.lr_at(step)
    import json
    json.dumps(config)  # plain JSON


def test_lr_alias_setter_and_decay():
    opt = O.Adam(lr=0.05)  # Keras 1/2 spelling
    assert opt.learning_rate == 0.05 and opt.lr == 0.05
    opt.lr = 0.2
    assert opt.learning_rate == 0.2 and opt.lr_at(7) == 0.2
    opt.learning_rate = 0.1
    assert opt.lr == 0.1
    sched = S.ExponentialDecay(0.1, 10, 0.5)
    opt.learning_rate = sched
    assert opt.lr is sched and opt.lr_at(10) == pytest.approx(0.05)
    opt.learning_rate = 0.3  # back to a float between steps
    assert opt.lr_at(10) == 0.3
    sgd = O.SGD(lr=0.1, decay=0.5)
    assert [sgd.lr_at(k) for k in range(3)] == pytest.approx([0.1, 0.1 / 1.5, 0.1 / 2.0])
    assert O.SGD.from_config(sgd.get_config()).lr_at(2) == pytest.approx(0.05)
    with pytest.raises(ValueError):
        O.SGD(learning_rate="fast")


def test_argument_validation():
    with pytest.raises(ValueError, match="Only one of"):
        O.Adam(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="Only one of"):
        O.SGD(clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(ValueError, match="weight_decay"):
        O.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="momentum"):
        O.SGD(momentum=1.5)
    with pytest.raises(ValueError):
        O.Adagrad(initial_accumulator_value=-1.0)


def test_slots():
    assert O.SGD().slot_names() == []
    assert O.SGD(momentum=0.9).slot_names() == ["momentum"]
    assert O.RMSprop().slot_names() == ["velocity"]
    assert O.RMSprop(momentum=0.5, centered=True).slot_names() == ["velocity", "momentum", "average_gradient"]
    assert O.Adam().slot_names() == ["momentum", "velocity"]
    assert O.Adam(amsgrad=True).slot_names() == ["momentum", "velocity", "velocity_hat"]
    assert O.AdamW(amsgrad=True).slot_names() == ["momentum", "velocity", "velocity_hat"]
    assert O.Adagrad().slot_names() == ["accumulator"]
    assert O.Adadelta().slot_names() == ["accumulated_grad", "accumulated_delta_var"]
    assert O.Adamax().slot_names() == ["momentum", "norm"]
    assert O.Nadam().slot_names() == ["momentum", "velocity"]
    (acc,) = O.Adagrad(initial_accumulator_value=0.25).initial_slots((2, 3), "float32")
    assert acc.shape == (2, 3) and acc.dtype == np.float32 and np.all(acc == 0.25)
    m, v = O.Adam().initial_slots((4,), "float64")
    assert m.dtype == np.float64 and not m.any() and not v.any() and m is not v


# ============================================================================ schedules
def test_schedules_alias():
    assert O.schedules is S
    from irgraph.optimizers.schedules import CosineDecay  # importable as Keras spells it
    assert CosineDecay is S.CosineDecay


def test_exponential_decay():
    s = S.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    for step in (0, 1, 5, 10, 25):
        assert s(step) == pytest.approx(0.1 * 0.5 ** (step / 10))
    st = S.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert [st(k) for k in (0, 9, 10, 19, 20)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_piecewise_constant():
    s = S.PiecewiseConstantDecay([100, 110], [1.0, 0.5, 0.1])
    assert [s(k) for k in (0, 100, 101, 110, 111, 10 ** 6)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    with pytest.raises(ValueError):
        S.PiecewiseConstantDecay([1, 2], [1.0, 0.5])


def test_polynomial_decay():
    s = S.PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.01, power=0.5)
    for step in (0, 3, 10, 20):
        p = min(step, 10) / 10
        assert s(step) == pytest.approx((0.1 - 0.01) * (1 - p) ** 0.5 + 0.01)
    c = S.PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.01, cycle=True)
    for step in (0, 5, 10, 15, 25):
        horizon = 10 * (1 if step == 0 else math.ceil(step / 10))
        assert c(step) == pytest.approx(0.09 * (1 - step / horizon) + 0.01)


def test_inverse_time_decay():
    s = S.InverseTimeDecay(0.1, decay_steps=2, decay_rate=0.5)
    for step in (0, 1, 2, 7):
        assert s(step) == pytest.approx(0.1 / (1 + 0.5 * step / 2))
    st = S.InverseTimeDecay(0.1, decay_steps=2, decay_rate=0.5, staircase=True)
    assert [st(k) for k in (0, 1, 2, 3)] == pytest.approx([0.1, 0.1, 0.1 / 1.5, 0.1 / 1.5])


def test_cosine_decay():
    s = S.CosineDecay(0.1, decay_steps=10, alpha=0.2)
    for step in (0, 4, 10, 30):
        d = 0.5 * (1 + math.cos(math.pi * min(step, 10) / 10))
        assert s(step) == pytest.approx(0.1 * ((1 - 0.2) * d + 0.2))
    w = S.CosineDecay(0.0, decay_steps=10, warmup_target=0.1, warmup_steps=5)
    assert [w(k) for k in (0, 1, 4)] == pytest.approx([0.0, 0.02, 0.08])
    for step in (5, 8, 15, 100):
        d = 0.5 * (1 + math.cos(math.pi * (min(step, 15) - 5) / 10))
        assert w(step) == pytest.approx(0.1 * d)


def test_cosine_decay_restarts():
    s = S.CosineDecayRestarts(1.0, first_decay_steps=10, t_mul=2.0, m_mul=0.5)
    assert s(0) == pytest.approx(1.0)
    assert s(5) == pytest.approx(0.5)              # half way through the first period
    assert s(10) == pytest.approx(0.5)             # restart at half the height
    assert s(20) == pytest.approx(0.5 * 0.5)       # half way through the 20-step second period
    assert s(30) == pytest.approx(0.25)            # second restart


@pytest.mark.parametrize("schedule", SCHEDULES + [S.CosineDecayRestarts(0.1, 5)],
                         ids=lambda s: type(s).__name__)
def test_schedule_config_round_trip(schedule):
    again = S.deserialize(S.serialize(schedule))
    assert type(again) is type(schedule) and again.get_config() == schedule.get_config()
    assert [again(k) for k in range(12)] == [schedule(k) for k in range(12)]


@pytest.mark.parametrize("make", [
    lambda: S.ExponentialDecay(0.1, 0, 0.5), lambda: S.InverseTimeDecay(0.1, 0, 0.5),
    lambda: S.PolynomialDecay(0.1, 0), lambda: S.CosineDecay(0.1, 0),
    lambda: S.CosineDecayRestarts(0.1, 0),
])
def test_schedule_rejects_nonpositive_steps(make):
    with pytest.raises(ValueError, match="must be > 0"):
        make()
