"""Shared benchmark helpers: thread settings, machine info, interleaved timing, tables, JSON.

Timing method (used by every benchmark here, so that figures are comparable):

1. each contender is warmed up, then the number of calls ``n`` that makes one block last at least
   ``min_block_s`` is chosen per contender;
2. ``rounds`` rounds follow; in each, every contender times one block of ``n`` calls with
   ``time.perf_counter`` (the order rotates from round to round, garbage collection is off inside
   a block), so that slow drifts of a busy machine hit all contenders alike;
3. the figure reported is the median over rounds of the per-call time (block time / ``n``).
"""
from __future__ import annotations

import gc
import importlib.metadata
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

ROUNDS, MIN_BLOCK_S = 7, 0.05              # the full run
QUICK_ROUNDS, QUICK_MIN_BLOCK_S = 2, 0.002  # --quick: checks that everything runs, figures mean little
PAUSE_S = 0.02                              # idle time before each timed block


# ----------------------------------------------------------------------------- threads, machine
def default_threads() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_torch_threads(n: int) -> None:
    import torch
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)  # only allowed before torch starts any parallel work
    except RuntimeError:
        pass


def ort_session_options(n: int):
    """onnxruntime options with ``n`` intra-op threads (and one inter-op thread: graphs run sequentially)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = n
    so.inter_op_num_threads = 1
    return so


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions(*packages: str) -> dict:
    out = {"python": platform.python_version()}
    for p in packages:
        try:
            out[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            out[p] = None
    return out


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the OS has none): how busy the machine was."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine_info(*packages: str) -> dict:
    return {"cpu": cpu_model(), "logical_cores": os.cpu_count(), "usable_cores": default_threads(),
            "platform": platform.platform(), "load_average": load_average(), "versions": versions(*packages)}


# ----------------------------------------------------------------------------- timing
@dataclass
class Timing:
    """Per-call times (seconds) of one contender, one entry per round."""
    calls_per_block: int
    per_call: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.per_call)

    @property
    def spread(self) -> float:
        """(max - min) / median over rounds: how noisy the figure is."""
        return (max(self.per_call) - min(self.per_call)) / self.median

    def to_dict(self) -> dict:
        return {**asdict(self), "median": self.median, "spread": self.spread}


def _block(fn: Callable[[], object], n: int) -> float:
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return time.perf_counter() - t0
    finally:
        if gc_was_on:
            gc.enable()


def calls_per_block(fn: Callable[[], object], min_block_s: float) -> int:
    """The number of calls that makes one block last at least ``min_block_s``."""
    n = 1
    while True:
        t = _block(fn, n)
        if t >= min_block_s:
            return n
        # aim a bit past the target in one step, at most 10x growth per step
        n = max(n + 1, min(n * 10, int(n * 1.2 * min_block_s / max(t, 1e-9)) + 1))


def interleaved(contenders: dict[str, Callable[[], object]], rounds: int = ROUNDS,
                min_block_s: float = MIN_BLOCK_S, warmup_s: float | None = None,
                pause_s: float = PAUSE_S, equal_blocks: bool = False) -> dict[str, Timing]:
    """Time each zero-argument callable in interleaved rounds; see the module docstring.

    ``pause_s`` of sleep before each block lets the previous contender's worker threads (onnxruntime
    and OpenMP spin-wait after work) go idle, so that they do not steal cores from the next one.
    ``equal_blocks``: every contender times blocks of the same number of calls (the largest any
    needs), for contenders doing the same work: on a shared machine the first call after the pause
    runs faster than the following ones, so blocks of 1 and of 10 calls are not comparable."""
    warmup_s = min_block_s if warmup_s is None else warmup_s
    timings = {}
    for name, fn in contenders.items():
        fn()  # first call: lazy set-up (session build, allocator) is not timed
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < warmup_s:
            fn()
        timings[name] = Timing(calls_per_block(fn, min_block_s))
    if equal_blocks:
        most = max(t.calls_per_block for t in timings.values())
        for t in timings.values():
            t.calls_per_block = most
    names = list(contenders)
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            t = timings[name]
            time.sleep(pause_s)
            t.per_call.append(_block(contenders[name], t.calls_per_block) / t.calls_per_block)
    return timings


# ----------------------------------------------------------------------------- output
def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(value: float | None, ok: bool | None = None) -> str:
    """A ratio, green when it meets its target, red when it misses it (rich markup)."""
    if value is None:
        return "-"
    text = f"{value:.2f}"
    return text if ok is None else f"[{'green' if ok else 'red'}]{text}[/]"


def print_machine(console, info: dict, threads: int, rounds: int, min_block_s: float) -> None:
    v = ", ".join(f"{k} {ver}" for k, ver in info["versions"].items() if ver)
    load = info.get("load_average")
    console.print(f"machine: {info['cpu']}, {info['usable_cores']} usable of {info['logical_cores']} "
                  f"logical cores ({info['platform']})" + (f", load average {load[0]:g} {load[1]:g} {load[2]:g}"
                                                            if load else ""))
    console.print(f"versions: {v}")
    console.print(f"threads: {threads} (torch intra-op, onnxruntime intra-op); timing: {rounds} interleaved "
                  f"rounds, blocks >= {min_block_s * 1e3:g} ms, median per call")


def print_table(console, title: str, columns: list[str], rows: list[list[str]], caption: str | None = None):
    from rich.table import Table
    table = Table(title=title, caption=caption)
    for i, c in enumerate(columns):
        table.add_column(c, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def write_json(path: str, payload: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)
        f.write("\n")


# ----------------------------------------------------------------------------- memory workers
def run_worker(cmd: list[str], timeout: float = 600) -> dict:
    """Run a benchmark's ``--worker`` process and return the JSON report on its last ``{`` line, or
    ``{"error": ...}`` saying why there is none."""
    import json
    import subprocess
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"the worker ran past {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": f"worker exited with {proc.returncode}: {tail[0][:200]}"}
    return json.loads(lines[-1])


def repeat_for(call: Callable[[], object], seconds: float) -> tuple[int, float]:
    """Call ``call`` (already warmed up) at least twice and for at least ``seconds``: (calls, elapsed)."""
    calls, t0 = 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - t0 < seconds:
        call()
        calls += 1
    return calls, time.perf_counter() - t0

