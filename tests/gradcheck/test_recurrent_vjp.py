"""Gradients of the ONNX recurrent primitives (LSTM, GRU, RNN) and the ops of their backward
(ReverseTime; the Scan primitives run inside every case) against float64 central differences.

Every case runs the harness's full check: float64 forward and gradient graphs in onnx's reference
evaluator (with the test-only LSTM/GRU/RNN/Scan evaluators of `recurrent_reference`, which
implement sequence_lens and reverse scans), the float32 gradient graph in stock onnxruntime against
it, and onnx.checker on every model. The time axis is symbolic ("t") in every case.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from irgraph.ops.trace import apply, constant

from vjp_harness import BATCH, Case, Inp, check_case

B, T, IN, H = "batch", "t", 3, 2
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
LENS = np.array([3, 5], dtype=np.int32)  # batch 2, t = 5: one short sequence, one full
assert len(LENS) == BATCH

# (activations per direction, alphas, betas) in ONNX form, as irgraph's backend writes them
ACTIVATIONS = {
    "LSTM": {"default": (("Sigmoid", "Tanh", "Tanh"), (), ()),
             "hard-relu-affine": (("HardSigmoid", "Relu", "Affine"), (1 / 6, 0.7), (0.5, 0.1)),
             "softsign-softplus-elu": (("Softsign", "Softplus", "Elu"), (0.8,), ())},
    "GRU": {"default": (("Sigmoid", "Tanh"), (), ()),
            "hard-elu": (("HardSigmoid", "Elu"), (0.3, 1.3), (0.45,)),
            "softsign-relu": (("Softsign", "Relu"), (), ()),
            "sigmoid-affine-softplus": (("Sigmoid", "Affine"), (0.9,), (-0.2,))},
    "RNN": {"default": (("Tanh",), (), ()), "relu": (("Relu",), (), ()), "elu": (("Elu",), (0.6,), ()),
            "affine": (("Affine",), (1.1,), (0.3,)), "softplus": (("Softplus",), (), ()),
            "hard": (("HardSigmoid",), (0.25,), (0.4,)), "softsign": (("Softsign",), (), ()),
            "sigmoid": (("Sigmoid",), (), ())},
}


def recurrent_case(cell, direction="forward", lens=False, states=False, acts="default", lbr=None,
                   outputs=None, bias=True, time=T):
    """A case of one recurrent op; ``outputs`` picks the outputs the loss reads (None: all)."""
    dirs = 2 if direction == "bidirectional" else 1
    gh = GATES[cell] * H
    names, alphas, betas = ACTIVATIONS[cell][acts]
    attrs = {"hidden_size": H, "direction": direction, "activations": names * dirs,
             "activation_alpha": alphas * dirs or None, "activation_beta": betas * dirs or None}
    if lbr is not None:
        attrs["linear_before_reset"] = lbr
    inputs = {"x": Inp((time, B, IN)), "w": Inp((dirs, gh, IN), "uniform"), "r": Inp((dirs, gh, H), "uniform")}
    if bias:
        inputs["b"] = Inp((dirs, 2 * gh), "uniform")
    n_states = 2 if cell == "LSTM" else 1
    if states:
        inputs["h0"] = Inp((dirs, B, H), "uniform")
        if cell == "LSTM":
            inputs["c0"] = Inp((dirs, B, H), "uniform")
    order = list(inputs)

    def build(*vals):
        v = dict(zip(order, vals))
        ins = [v["x"], v["w"], v["r"], v.get("b"), constant(LENS) if lens else None]
        ins += [v.get("h0"), v.get("c0")][:n_states]
        while ins[-1] is None:
            ins.pop()
        outs = apply(cell, ins, **attrs)
        return list(outs) if outputs is None else [outs[i] for i in outputs]

    tag = "-".join([cell, direction, acts] + (["lens"] if lens else []) + (["states"] if states else [])
                   + ([f"lbr{lbr}"] if lbr is not None else []) + ([] if bias else ["nobias"])
                   + ([f"outs{''.join(map(str, outputs))}"] if outputs is not None else [])
                   + ([f"time{time}"] if time != T else []))
    # kinks (Relu, HardSigmoid, Elu) sit far from the random points; a smaller step keeps clear of them
    return Case(cell, tag, inputs, build, rtol=1e-5, atol=1e-7, eps=1e-6)


DIRECTIONS = ("forward", "reverse", "bidirectional")
CASES = []
for cell in ("LSTM", "GRU", "RNN"):
    variants = [None] if cell != "GRU" else [1, 0]
    # every direction x sequence_lens x initial states, default activations, both GRU variants
    for direction, lens, states, lbr in itertools.product(DIRECTIONS, (False, True), (False, True), variants):
        CASES.append(recurrent_case(cell, direction, lens, states, lbr=lbr))
    # every activation, both directions of a bidirectional op, with lengths and states
    for acts in ACTIVATIONS[cell]:
        if acts != "default":
            for lbr in variants:
                CASES.append(recurrent_case(cell, "bidirectional", True, True, acts, lbr=lbr))
    # unconnected outputs: only Y, only Y_h (only Y_c), and no bias input
    n_out = 3 if cell == "LSTM" else 2
    for i in range(n_out):
        CASES.append(recurrent_case(cell, "reverse", True, True, outputs=[i], lbr=variants[-1]))
    CASES.append(recurrent_case(cell, "forward", False, True, bias=False, lbr=variants[0]))
# an activation whose derivative is a constant, without lengths (nothing broadcasts it)
CASES.append(recurrent_case("RNN", "forward", acts="affine"))
# a static time axis, and a single step
for cell in ("LSTM", "GRU", "RNN"):
    CASES.append(recurrent_case(cell, "bidirectional", states=True, lbr=0 if cell == "GRU" else None, time=5))
    CASES.append(recurrent_case(cell, "bidirectional", states=True, lbr=1 if cell == "GRU" else None, time=1))

CASES.append(Case("ReverseTime", "ReverseTime-all", {"x": Inp((T, B, 3))},
                  lambda x: apply("ReverseTime", [x]) * constant(np.arange(1.0, 4.0))))
CASES.append(Case("ReverseTime", "ReverseTime-lens", {"x": Inp((T, B, 3))},
                  lambda x: apply("ReverseTime", [x, constant(LENS)]) * constant(np.arange(1.0, 4.0))))


@pytest.mark.parametrize("case", CASES, ids=lambda cs: cs.id)
def test_recurrent_vjp(case):
    kinds = check_case(case)
    if case.op in GATES:  # float64 LSTM/GRU/RNN: the reference evaluator, then float32 in onnxruntime
        assert kinds["backward"] == "reference"


def test_case_ids_unique():
    ids = [cs.id for cs in CASES]
    assert len(ids) == len(set(ids))


# ------------------------------------------------------------------ RecurrentScan (recurrent dropout)
def _dropout_mask(shape, seed):
    """A fixed dropout-like mask: 0 or 1/(1-rate) with rate 0.25."""
    rng = np.random.default_rng(seed)
    return np.where(rng.uniform(size=shape) < 0.25, 0.0, 1.0 / 0.75)


STEP_MASKS = {"steps": np.arange(5)[:, None, None] < LENS[None, :, None],  # [t, batch, 1]: at the end
              # Keras masks of any pattern: at the start, in the middle, the first step masked
              "pattern": np.array([[0, 1], [1, 0], [0, 1], [1, 1], [0, 0]], bool)[:, :, None]}


def recurrent_scan_case(cell, acts="default", lbr=None, steps=None, bias=True, outputs=None):
    gh = GATES[cell] * H
    names, alphas, betas = ACTIVATIONS[cell][acts]
    attrs = {"cell": cell, "hidden_size": H, "activations": names, "activation_alpha": alphas or None,
             "activation_beta": betas or None}
    if lbr is not None:
        attrs["linear_before_reset"] = lbr
    inputs = {"xw": Inp((T, B, gh)), "rt": Inp((GATES[cell], H, H), "uniform"),
              "rmask": Inp((BATCH, gh), "given", _dropout_mask((BATCH, gh), gh), grad=False),
              "h0": Inp((B, H), "uniform")}
    if bias:
        inputs["rb"] = Inp((gh,), "uniform")
    if cell == "LSTM":
        inputs["c0"] = Inp((B, H), "uniform")
    order = list(inputs)

    def build(*vals):
        v = dict(zip(order, vals))
        ins = [v["xw"], v["rt"], v.get("rb"), v["rmask"], v["h0"], v.get("c0"),
               constant(STEP_MASKS[steps]) if steps else None]
        outs = apply("RecurrentScan", ins, **attrs)
        return list(outs) if outputs is None else [outs[i] for i in outputs]

    tag = "-".join(["RecurrentScan", cell, acts] + ([f"lbr{lbr}"] if lbr is not None else [])
                   + ([steps] if steps else []) + ([] if bias else ["nobias"])
                   + ([f"outs{''.join(map(str, outputs))}"] if outputs is not None else []))
    return Case("RecurrentScan", tag, inputs, build, rtol=1e-5, atol=1e-7)


SCAN_CASES = []
for cell in ("LSTM", "GRU", "RNN"):
    variants = [None] if cell != "GRU" else [1, 0]
    for lbr, steps in itertools.product(variants, (None, "steps", "pattern")):
        SCAN_CASES.append(recurrent_scan_case(cell, lbr=lbr, steps=steps))
    for acts in ACTIVATIONS[cell]:
        if acts != "default":
            SCAN_CASES.append(recurrent_scan_case(cell, acts, lbr=variants[-1], steps="pattern"))
    SCAN_CASES.append(recurrent_scan_case(cell, lbr=variants[0], bias=False, outputs=[1]))
CASES += SCAN_CASES
