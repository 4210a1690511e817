"""optimizer: gradients of ``loss`` w.r.t. every trainable weight and the optimizer's update ops.

Adds the scalar inputs ``lr`` and ``step`` (updates applied so far), one input per optimizer slot
``<weight>:<slot>``, and the outputs ``<weight>:new`` and ``<weight>:<slot>:new``; state written by
layers (BatchNormalization moving statistics) also gets a ``<weight>:new`` output. Weights whose
gradient does not exist (not connected to the loss) are left unchanged, as Keras does.
"""
from __future__ import annotations

from irgraph.ir import Graph
from irgraph.ops.base import Spec
from irgraph.ops.trace import Value, scope, tracing

from .autodiff import gradients


def _value(g: Graph, tensor: tuple) -> Value:
    return Value(g, tensor[0], tensor[1], g.spec(tensor))


def _scalar_input(g: Graph, name: str) -> Value:
    nid = g.add_input(name, Spec((), "float32"))
    return Value(g, nid, 0, g.node(nid)["specs"][0])


def apply_optimizer(graph: Graph, optimizer) -> Graph:
    g = graph.copy()
    loss_out = next(o for o in g.outputs if g.node(o)["name"] == "loss")
    weight_nodes = [w for w in g.nodes_of("weight") if g.node(w)["var"].trainable]
    trained = []  # (Variable, [slot names]) in update order
    with tracing(g, training=True):
        lr, step = _scalar_input(g, "lr"), _scalar_input(g, "step")
        loss = _value(g, g.output_tensor(loss_out))
        values = [_value(g, (w, 0)) for w in weight_nodes]
        grads = gradients(loss, values)
        pairs = [(w, v, gr) for w, v, gr in zip(weight_nodes, values, grads) if gr is not None]
        with scope("optimizer"):
            clipped = optimizer.clip_gradients([gr for _, _, gr in pairs]) if pairs else []
        updates = []
        scalars: dict = {}  # lr and step per weight dtype
        for (w, value, _), grad in zip(pairs, clipped):
            var = g.node(w)["var"]
            names = optimizer.slot_names()
            slots = []
            for s in names:
                nid = g.add_input(f"{var.path}:{s}", Spec(tuple(var.shape), var.dtype))
                slots.append(Value(g, nid, 0, g.node(nid)["specs"][0]))
            with scope("optimizer"):
                lr_v, step_v = optimizer.step_scalars(lr, step, value.dtype, scalars)
            with scope(f"optimizer/{var.path}"):
                new_value, new_slots = optimizer.update(value, grad, slots, lr_v, step_v)
            updates.append((var, new_value, list(zip(names, new_slots))))
            trained.append((var, names))
    for var, new_value, new_slots in updates:
        g.add_output(f"{var.path}:new", new_value.tensor)
        for s, v in new_slots:
            g.add_output(f"{var.path}:{s}:new", v.tensor)
    for var, tensor in g.state_updates:
        g.add_output(f"{var.path}:new", tensor)
    g.meta["trained"] = trained
    g.refresh_edges()
    return g
