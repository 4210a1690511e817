"""A Keras 2-style text progress bar.

verbose=1, while running (interactive streams only)::

    12/32 [========>.....................] - ETA: 3s - loss: 0.1234

verbose=1, finished::

    32/32 [==============================] - 1s 3ms/step - loss: 0.1234 - accuracy: 0.9000

verbose=2 (one line when finished)::

    32/32 - 1s - loss: 0.1234 - accuracy: 0.9000 - 1s/epoch - 3ms/step

Intermediate (ETA) frames are redrawn in place with ``\\r`` and are only drawn when the
stream is interactive (a tty, or a Jupyter kernel); on a pipe or a log file just the final
line is written, so logs don't fill with carriage-return frames.  Pass ``dynamic=True`` or
``dynamic=False`` to override the detection.
"""
from __future__ import annotations

import numbers
import os
import sys
import time

__all__ = ["Progbar", "format_value", "format_time"]


def format_value(v) -> str:
    """Keras formatting of a logged value: 4 decimals, scientific for |v| <= 1e-3."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        try:  # numpy 0-d arrays and the like
            v = float(v)
        except (TypeError, ValueError):
            return str(v)
    v = float(v)
    return f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}"


def format_time(seconds_per_unit: float, unit_name: str) -> str:
    """``' 3ms/step'``-style duration, with the leading space Keras uses."""
    if seconds_per_unit >= 1 or seconds_per_unit == 0:
        return f" {seconds_per_unit:.0f}s/{unit_name}"
    if seconds_per_unit >= 1e-3:
        return f" {seconds_per_unit * 1e3:.0f}ms/{unit_name}"
    return f" {seconds_per_unit * 1e6:.0f}us/{unit_name}"


def _format_eta(eta: float) -> str:
    if eta > 3600:
        return f"{int(eta // 3600)}:{int((eta % 3600) // 60):02d}:{int(eta % 60):02d}"
    if eta > 60:
        return f"{int(eta // 60)}:{int(eta % 60):02d}"
    return f"{int(eta)}s"


def _is_interactive(stream) -> bool:
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError, OSError):
        pass
    return "ipykernel" in sys.modules or "PYCHARM_HOSTED" in os.environ


class Progbar:
    """Progress bar over ``target`` steps (``None`` when unknown).

    Args:
        target: total number of steps, or None if unknown.
        verbose: 0 silent, 1 bar, 2 one line when finished.
        width: width of the bar in characters.
        file: stream to write to; None means ``sys.stdout`` at write time.
        interval: minimum seconds between two intermediate frames.
        stateful_metrics: None (default) shows every value as given (the logs handed over are
            already running averages, as Keras' ``fit`` makes them).  A collection of names
            switches to the Keras ``Progbar`` rule: names in it are shown as given, every other
            value is averaged over the steps seen.
        unit_name: unit in the per-step timing (``3ms/step``).
        dynamic: redraw intermediate frames in place; None detects an interactive stream.
    """

    def __init__(self, target: int | None, verbose: int = 1, width: int = 30, file=None,
                 interval: float = 0.05, stateful_metrics=None, unit_name: str = "step",
                 dynamic: bool | None = None):
        self.target = None if target is None else int(target)
        self.verbose = int(verbose)
        self.width = int(width)
        self.file = file
        self.interval = float(interval)
        self.stateful_metrics = None if stateful_metrics is None else set(stateful_metrics)
        self.unit_name = unit_name
        self.dynamic = _is_interactive(self._stream()) if dynamic is None else bool(dynamic)
        self.start = time.perf_counter()
        self._values: dict[str, list] = {}  # name -> [weighted sum, weight]
        self._seen = 0
        self._last_draw = 0.0
        self._prev_width = 0
        self._time_after_first_step: float | None = None
        self.finalized = False

    # -- public API ------------------------------------------------------------------------
    @property
    def values(self) -> dict:
        """The values the bar would show now."""
        return {k: self._shown(k) for k in self._values}

    def update(self, current: int, values=None, finalize: bool | None = None) -> None:
        """Move to step ``current`` (1-based count of steps done) with new ``values``.

        ``values`` is a dict or a list of ``(name, value)`` pairs.  ``finalize`` defaults to
        ``current >= target``; a finished bar prints its final line (and a newline).
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        self._record(current, values)
        now = time.perf_counter()
        if current == 1 and self._time_after_first_step is None:
            self._time_after_first_step = now
        self._seen = current
        if self.verbose == 1:
            if finalize:
                self._write(self._line(current, now, True), True)
            elif self.dynamic and now - self._last_draw >= self.interval:
                self._write(self._line(current, now, False), False)
                self._last_draw = now
        elif self.verbose == 2 and finalize:
            self._write(self._line2(current, now), True)
        if finalize:
            self.finalized = True

    def add(self, n: int, values=None) -> None:
        self.update(self._seen + n, values)

    def close(self) -> None:
        """Finish the bar if nothing finished it yet (e.g. the target was never reached)."""
        if not self.finalized:
            self.update(self._seen, None, finalize=True)

    # -- internals -------------------------------------------------------------------------
    def _stream(self):
        return self.file if self.file is not None else sys.stdout

    def _record(self, current, values) -> None:
        if not values:
            return
        items = values.items() if isinstance(values, dict) else values
        steps = max(current - self._seen, 1)
        for k, v in items:
            if self.stateful_metrics is None or k in self.stateful_metrics or not isinstance(v, numbers.Real) \
                    or isinstance(v, bool):
                self._values[k] = [v, None]
            else:
                acc = self._values.get(k)
                if acc is None or acc[1] is None:
                    self._values[k] = [v * steps, steps]
                else:
                    acc[0] += v * steps
                    acc[1] += steps

    def _shown(self, k):
        total, weight = self._values[k]
        return total if weight is None else total / max(weight, 1)

    def _metrics(self) -> str:
        return "".join(f" - {k}: {format_value(self._shown(k))}" for k in self._values)

    def _per_step(self, current: int, now: float) -> float:
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            return (now - self._time_after_first_step) / (current - 1)
        return (now - self.start) / current

    def _line(self, current: int, now: float, done: bool) -> str:
        if self.target is not None:
            n = len(str(self.target))
            filled = int(self.width * min(current / self.target, 1.0)) if self.target > 0 else self.width
            bar = ""
            if filled > 0:
                bar = "=" * (filled - 1) + ("=" if current >= self.target else ">")
            head = f"{current:>{n}}/{self.target} [{bar}{'.' * (self.width - filled)}]"
        else:
            head = f"{current:7d}/Unknown"
        per = self._per_step(current, now)
        if done or self.target is None:
            timing = f" - {now - self.start:.0f}s" + format_time(per, self.unit_name)
        else:
            timing = " - ETA: " + _format_eta(per * max(self.target - current, 0))
        return head + timing + self._metrics()

    def _line2(self, current: int, now: float) -> str:
        target = self.target if self.target is not None else current
        elapsed = now - self.start
        count = f"{current:>{len(str(target))}}/{target}"
        per = elapsed / target if target else 0.0
        return (f"{count} - {elapsed:.0f}s" + self._metrics()
                + " -" + format_time(elapsed, "epoch") + " -" + format_time(per, self.unit_name))

    def _write(self, line: str, done: bool) -> None:
        stream = self._stream()
        if self.dynamic:
            pad = " " * max(self._prev_width - len(line), 0)
            self._prev_width = len(line)
            stream.write("\r" + line + pad + ("\n" if done else ""))
        else:
            stream.write(line + "\n")
        if done:
            self._prev_width = 0
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass
