"""Helper of test_saving_files.py's kill test: ``python save_kill_worker.py PATH``.

Imports irgraph and builds a 4 MB model once, saves it at PATH and prints ``ready``; then, per
line on stdin:

- ``go``: forks a saver that saves the model at PATH over and over, its weights all set to a new
  constant before each save, and prints the saver's pid; the test kills it with SIGKILL, and this
  process prints ``dead`` once it has reaped it (so the file no longer changes);
- ``save``: saves once more in this process and prints ``saved``.

Forking a ready process makes each killed saver cost milliseconds instead of an interpreter start.
"""
from __future__ import annotations

import os
import sys

import numpy as np

import irgraph
from irgraph import layers as L
from irgraph.models import Model


def main(path: str) -> None:
    x = irgraph.Input((1000,), name="x")
    model = Model(x, L.Dense(1000, name="wide")(x), name="big")

    def fill(value: float) -> None:
        model.set_weights([np.full(w.shape, value, np.float32) for w in model.get_weights()])

    fill(0.0)
    model.save(path)
    print("ready", flush=True)
    trial = 0
    for line in sys.stdin:
        if line.strip() == "go":
            trial += 1
            pid = os.fork()
            if pid == 0:  # the saver: runs until killed
                i = 0
                while True:
                    i += 1
                    fill(trial * 100_000 + i)
                    model.save(path)
            print(pid, flush=True)
            os.waitpid(pid, 0)
            print("dead", flush=True)
        elif line.strip() == "save":
            fill(-1.0)
            model.save(path)
            print("saved", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
