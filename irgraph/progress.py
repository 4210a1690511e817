"""A Keras-style progress bar (``12/40 [=====>....] - ETA: 3s - loss: 0.1234``) drawn with rich."""
from __future__ import annotations

import sys
import time

from rich.console import Console


class Progbar:
    def __init__(self, target: int | None, verbose: int = 1, width: int = 30, file=None):
        self.target, self.verbose, self.width = target, int(verbose), width
        self.console = Console(file=file or sys.stdout, highlight=False, soft_wrap=True)
        self.start = time.perf_counter()
        self.values: dict[str, float] = {}
        self._last_draw = 0.0
        self._seen = 0

    def update(self, current: int, values: dict | None = None, finalize: bool = False) -> None:
        self._seen = current
        if values:
            self.values.update(values)
        if self.verbose != 1:
            return
        now = time.perf_counter()
        done = finalize or (self.target is not None and current >= self.target)
        if not done and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self.console.file.write("\r" + self._line(current, now, done) + ("\n" if done else ""))
        self.console.file.flush()

    def _line(self, current: int, now: float, done: bool) -> str:
        elapsed = now - self.start
        if self.target:
            n = len(str(self.target))
            filled = int(self.width * current / self.target)
            bar = "=" * max(filled - 1, 0) + ("=" if done else ">") * (filled > 0) + "." * (self.width - filled)
            head = f"{current:>{n}}/{self.target} [{bar}]"
        else:
            head = f"{current}"
        per = elapsed / max(current, 1)
        if done:
            timing = f" - {elapsed:.0f}s {per * 1e3:.0f}ms/step"
        else:
            eta = per * ((self.target or current) - current)
            timing = f" - ETA: {eta:.0f}s"
        metrics = "".join(f" - {k}: {v:.4f}" for k, v in self.values.items())
        return head + timing + metrics

    def close(self) -> None:
        if self.verbose == 2 and self.target:
            line = self._line(self._seen, time.perf_counter(), True)
            self.console.file.write(line.split("] ", 1)[-1].lstrip("- ") + "\n")
