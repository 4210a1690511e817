"""The pass manager: runs named passes in order and keeps every intermediate graph."""
from __future__ import annotations

import time


class PassManager:
    def __init__(self, passes):
        """``passes``: a list of ``(name, fn)`` or functions (named after ``fn.__name__``)."""
        self.passes = [(p.__name__, p) if callable(p) else tuple(p) for p in passes]
        self.history: list[tuple[str, object]] = []
        self.timings: dict[str, float] = {}

    def run(self, graph):
        from irgraph.ir import gc_paused
        self.history = [("input", graph)]
        with gc_paused():
            for name, fn in self.passes:
                t0 = time.perf_counter()
                graph = fn(graph)
                self.timings[name] = time.perf_counter() - t0
                self.history.append((name, graph))
        return graph

    @property
    def graph(self):
        return self.history[-1][1]

    def after(self, name: str):
        for n, g in self.history:
            if n == name:
                return g
        raise KeyError(f"no pass named {name!r} ran; ran: {[n for n, _ in self.history]}")


def inference_pipeline(training: bool = False) -> PassManager:
    from .cleanup import cleanup
    from .fuse import fuse
    from .lower import lower
    from .shapes import infer_shapes

    def lower_(g):
        return lower(g, training=training)
    lower_.__name__ = "lower"
    return PassManager([lower_, infer_shapes, cleanup, fuse])
