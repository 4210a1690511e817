"""`irgraph inspect` of a 10,000-node ONNX file finishes in under 5 s (issue 13). Measured as the
CPU time of the command (user + system, start-up included), which the other jobs sharing a CI
machine do not inflate the way they inflate wall-clock time."""
from __future__ import annotations

import os
import resource
import subprocess
import time
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save


def chain(path, layers):
    nodes, inits, prev = [], [], "x"
    for i in range(layers):
        inits.append(numpy_helper.from_array(np.ones((16, 16), np.float32), f"l{i}/w"))
        nodes.append(helper.make_node("MatMul", [prev, f"l{i}/w"], [f"l{i}/mm"], name=f"l{i}/MatMul"))
        nodes.append(helper.make_node("Relu", [f"l{i}/mm"], [f"l{i}/out"], name=f"l{i}/Relu"))
        prev = f"l{i}/out"
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, None)], inits)
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_inspect_of_a_10000_node_file_takes_under_5_seconds(tmp_path):
    path = str(tmp_path / "chain.onnx")
    chain(path, 5000)
    for extra in ([], ["--json"]):
        before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "irgraph"), "inspect", path,
                               "--batch", "8", *extra], capture_output=True, text=True, timeout=600)
        wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "10000" in proc.stdout
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        assert cpu < 5.0, f"inspect {extra} took {cpu:.2f} s of CPU time"
        assert wall < 5.0, f"inspect {extra} took {wall:.2f} s (the whole command, start-up included)"
