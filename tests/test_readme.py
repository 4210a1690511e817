"""Every command the README shows runs: the set-up block's main job (after its install step, which
this environment already did), the test command (as .ci/run reads it), the Python usage example and
the command-line examples."""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def blocks(lang: str) -> list[str]:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)


def commands(block: str) -> list[str]:
    """The commands of an sh block: lines without their trailing comments."""
    out = []
    for line in block.splitlines():
        line = line.split("  #")[0].strip()
        if line:
            out.append(line)
    return out


def run(cmd: str, cwd: str, timeout: int = 600) -> str:
    """Run one README command with this environment's python and irgraph script."""
    argv = shlex.split(cmd)
    if argv[0] in (".venv/bin/python", "python"):
        argv[0] = sys.executable
    elif argv[0] in (".venv/bin/irgraph", "irgraph"):
        argv[0] = os.path.join(BIN, "irgraph")
    env = {**os.environ, "PYTHONPATH": ROOT}  # the README runs from the repository root
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"README command failed: {cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_setup_block_has_exactly_two_commands_install_then_run():
    setup = commands(blocks("sh")[0])
    assert len(setup) == 2
    for line in setup:
        assert line.startswith("python3 -m venv .venv && .venv/bin/pip install -q -e '.[")
    assert setup[1].endswith(".venv/bin/python -m pytest -q")


def test_main_job_runs_end_to_end(tmp_path):
    """The first set-up command, from its first step after the install, with outputs under tmp."""
    steps = [s.strip() for s in commands(blocks("sh")[0])[0].split("&&")]
    assert steps[0].startswith("python3 -m venv") and ".venv/bin/pip install" in steps[1]
    out = ""
    for step in steps[2:]:
        step = step.replace("out/", f"{tmp_path}/out/").replace("examples/", f"{ROOT}/examples/")
        out += run(step, cwd=ROOT)
    assert (tmp_path / "out/digits/digits.onnx").exists()
    assert "[FAIL]" not in out
    assert re.search(r"test accuracy[^\n]*0\.9\d", out), out[-2000:]


def test_usage_example_and_command_line_examples(tmp_path, monkeypatch):
    """The Python example runs with data of its shapes; then the command-line examples, in the
    same directory (``irgraph inspect mlp.onnx`` reads the file the example wrote)."""
    example = blocks("python")[0]  # the Use section's; the Deploy section's runs in test_deploy_section
    rng = np.random.default_rng(0)
    data = rng.standard_normal((64, 784)).astype(np.float32)
    labels = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)]
    namespace = {"x_array": data[:5], "data": data, "labels": labels,
                 "test_data": data[:16], "test_labels": labels[:16]}
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md", "exec"), namespace)
    assert (tmp_path / "mlp.onnx").exists() and (tmp_path / "train_step.onnx").exists()
    cli = commands(blocks("sh")[1])
    assert cli and all(c.startswith("irgraph ") for c in cli)
    for cmd in cli:
        out = run(cmd, cwd=str(tmp_path))
        assert out.strip()
    assert (tmp_path / "model.svg").read_text().startswith("<svg")  # plot_model
    for page in ("mlp.html", "diff.html"):  # the --html pages (tests/test_inspect_html.py opens such pages)
        assert '<script type="application/json" id="irgraph-data">' in (tmp_path / page).read_text()


def section(title: str) -> str:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    return re.search(rf"^## {title}\n(.*?)(?=^## )", text, flags=re.S | re.M).group(1)


def test_deploy_section(tmp_path):
    """The Deploy section: deploy, serve (on free loopback ports instead of 8000/8001), the curl
    queries, and the Python queries (tritonclient HTTP binary, gRPC, requests) print the results
    of the written ONNX file run in onnxruntime."""
    import onnxruntime as ort

    from irgraph.serving import free_port
    from irgraph.serving.environment import server_files
    text = section("Deploy")
    sh, _ = re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M)  # the second: test_deploy_kserve_command
    [py] = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    deploy, serve, *queries = commands(sh)
    assert deploy.startswith("irgraph deploy triton") and serve.startswith("irgraph serve")
    assert all(q.startswith("curl ") for q in queries) and len(queries) == 3
    http_port, grpc_port = free_port(), free_port()

    def ports(line: str) -> str:
        return line.replace("localhost:8000", f"127.0.0.1:{http_port}").replace("localhost:8001", f"127.0.0.1:{grpc_port}")

    run(deploy, cwd=str(tmp_path))
    server_files()  # the serving environment (created on first use)
    argv = shlex.split(serve.replace("8000", str(http_port)).replace("8001", str(grpc_port)))
    argv[0] = os.path.join(BIN, "irgraph")
    server = subprocess.Popen(argv, cwd=str(tmp_path), env={**os.environ, "PYTHONPATH": ROOT},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        line = ""
        while not line.startswith("irgraph serve: models"):
            line = server.stdout.readline()
            assert line or server.poll() is None, "irgraph serve exited before it was ready"
        threading.Thread(target=server.stdout.read, daemon=True).start()  # keep the pipe drained
        outs = [subprocess.run(shlex.split(ports(q)), capture_output=True, text=True, timeout=60).stdout for q in queries]
        assert outs[0].strip() == "200"
        assert json.loads(outs[1])["name"] == "benzene"
        session = ort.InferenceSession(str(tmp_path / "models/benzene/1/model.onnx"), providers=["CPUExecutionProvider"])
        want = session.run(None, {"input_layer": np.linspace(0.1, 1.2, 12, dtype=np.float32).reshape(1, 12)})[0]
        np.testing.assert_allclose(json.loads(outs[2])["outputs"][0]["data"], want.ravel(), rtol=1e-6)
        printed = subprocess.run([sys.executable, "-c", ports(py)], capture_output=True, text=True, timeout=120)
        assert printed.returncode == 0, printed.stderr[-2000:]
        numbers = [float(v) for v in re.findall(r"-?\d+\.\d+(?:e[-+]\d+)?", printed.stdout)]
        np.testing.assert_allclose(numbers, [float(want.ravel()[0])] * 3, rtol=1e-5)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_deploy_kserve_command(tmp_path):
    """The Deploy section's KServe command writes a repository that passes the Triton checks and a
    manifest valid against KServe's CRD schema, with the storageUri placeholder to fill in."""
    import gzip

    import jsonschema
    import yaml

    from irgraph.deploy import check_repository
    from irgraph.deploy.kserve import SCHEMA_FILE
    _, sh = re.findall(r"^```sh\n(.*?)^```", section("Deploy"), flags=re.S | re.M)
    [cmd] = commands(sh)
    assert cmd.startswith("irgraph deploy kserve")
    assert "inferenceservice.yaml" in run(cmd, cwd=str(tmp_path))
    assert check_repository(tmp_path / "kserve" / "repository") == ["benzene"]
    with open(tmp_path / "kserve" / "inferenceservice.yaml", encoding="utf-8") as f:
        manifest = yaml.safe_load(f)
    with gzip.open(SCHEMA_FILE, "rt", encoding="utf-8") as f:
        jsonschema.validate(manifest, json.load(f)["openAPIV3Schema"], cls=jsonschema.Draft4Validator)
    model = manifest["spec"]["predictor"]["model"]
    assert model["storageUri"].startswith("FILL-IN://") and model["resources"]["requests"]["memory"] == "1Gi"


def test_keras_model_files_section(tmp_path, monkeypatch):
    """The Keras model files section: a model saved by Keras 3 as model.keras and model.h5 is
    loaded, predicts as Keras, trains, and the convert commands write ONNX files onnxruntime runs."""
    import onnxruntime as ort

    from tests.keras_compat.keras_seeds import mlp
    text = section("Keras model files")
    [py] = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    [sh] = re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M)
    kmodel, x, _ = mlp()
    kmodel.save(str(tmp_path / "model.keras"))
    kmodel.save(str(tmp_path / "model.h5"))
    y = np.eye(10, dtype=np.float32)[[1, 2, 3, 4]]
    monkeypatch.chdir(tmp_path)
    namespace = {"x": x, "y": y}
    exec(compile(py, "README.md", "exec"), namespace)
    trained = namespace["model"].get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(trained, kmodel.get_weights())), "fit trained"
    for cmd in commands(sh):
        assert "converted" in run(cmd, cwd=str(tmp_path))
    assert (tmp_path / "model_step.onnx").exists()
    for name in ("model.onnx", "model_from_h5.onnx"):
        session = ort.InferenceSession(str(tmp_path / name), providers=["CPUExecutionProvider"])
        got = session.run(None, {session.get_inputs()[0].name: x})[0]
        np.testing.assert_allclose(got, kmodel.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
