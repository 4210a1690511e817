"""`irgraph serve` as a subprocess on free loopback ports: Triton's own server binary (from
nvidia-pytriton, in the serving environment created on first use) loads the repository written by
`irgraph deploy triton` and reaches READY; tritonclient over HTTP (JSON and binary tensors) and gRPC
gets `model.predict`'s results; metadata and readiness are right; after 1,000 malformed requests the
server still answers correctly and its memory has not grown by more than a few MiB."""
from __future__ import annotations

import http.client
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import types

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from google.protobuf import json_format
from tritonclient.utils import InferenceServerException

from examples.seed_models import k2_mlp, k2_multi_io
from irgraph.deploy import TritonOptions, parse_config, write_repository
from irgraph.serving import free_port
from irgraph.serving.environment import server_files
from tests.test_deploy_triton import dynamic_time_model, inputs_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = "127.0.0.1"
MEMORY_GROWTH_LIMIT_MIB = 8
IN, OUT = "input_layer", "dense_2"  # the mlp's tensor names, set by the fixture (layer names are numbered per process)


class Served:
    def __init__(self, models, process, http_port, grpc_port, log):
        self.models, self.process, self.log = models, process, log
        self.http_url, self.grpc_url = f"{HOST}:{http_port}", f"{HOST}:{grpc_port}"
        self.http_port = http_port


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    server_files()  # the serving environment: created here on first use, reused afterwards
    repo = tmp_path_factory.mktemp("repo")
    models = {"mlp": k2_mlp().model, "news": k2_multi_io().model, "frames": dynamic_time_model()}
    write_repository(models["mlp"], repo, TritonOptions(name="mlp", dynamic_batching=True, max_queue_delay_us=200))
    write_repository(models["news"], repo, TritonOptions(name="news", dynamic_batching=True, max_queue_delay_us=20000))
    write_repository(models["frames"], repo, TritonOptions(name="frames", dynamic_batching=True))
    global IN, OUT
    [IN], [OUT] = models["mlp"].input_names, models["mlp"].output_names
    http_port, grpc_port = free_port(), free_port()
    log = open(repo / "serve.log", "w+b")
    process = subprocess.Popen([sys.executable, "-m", "irgraph.tools.cli", "serve", str(repo), "--host", HOST,
                                "--http-port", str(http_port), "--grpc-port", str(grpc_port)],
                               cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        client = httpclient.InferenceServerClient(f"{HOST}:{http_port}")
        while True:
            assert process.poll() is None, f"irgraph serve exited:\n{_tail(log)}"
            assert time.monotonic() < deadline, f"not ready after 180 s:\n{_tail(log)}"
            try:
                if client.is_server_ready():
                    break
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            time.sleep(0.2)
        yield Served(models, process, http_port, grpc_port, log)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _tail(log) -> str:
    log.flush()
    log.seek(0)
    return log.read()[-3000:].decode(errors="replace")


def _expected(model, xs):
    out = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    return dict(zip(model.output_names, out if isinstance(out, list) else [out]))


def _datatype(a) -> str:
    return {"float32": "FP32", "int32": "INT32"}[a.dtype.name]


# --------------------------------------------------------------------------------- readiness, metadata
def test_triton_reaches_ready_with_every_model(served):
    for client in (httpclient.InferenceServerClient(served.http_url), grpcclient.InferenceServerClient(served.grpc_url)):
        assert client.is_server_live() and client.is_server_ready()
        for name in served.models:
            assert client.is_model_ready(name)
        assert not client.is_model_ready("no_such_model")
    meta = httpclient.InferenceServerClient(served.http_url).get_server_metadata()
    assert meta["name"] == "triton" and "binary_tensor_data" in meta["extensions"]
    assert "Open Inference Protocol" in _tail(served.log)


def test_model_metadata_over_http_and_grpc(served):
    http_meta = httpclient.InferenceServerClient(served.http_url).get_model_metadata("news")
    assert [(i["name"], i["datatype"], i["shape"]) for i in http_meta["inputs"]] == [
        ("main_input", "INT32", [-1, 100]), ("aux_input", "FP32", [-1, 5])]
    assert [(o["name"], o["datatype"], o["shape"]) for o in http_meta["outputs"]] == [
        ("main_output", "FP32", [-1, 1]), ("aux_output", "FP32", [-1, 1])]
    grpc_meta = grpcclient.InferenceServerClient(served.grpc_url).get_model_metadata("frames")
    assert [(i.name, i.datatype, list(i.shape)) for i in grpc_meta.inputs] == [("frames", "FP32", [-1, -1, 8])]
    assert [(o.name, list(o.shape)) for o in grpc_meta.outputs] == [("probs", [-1, 3])]


# --------------------------------------------------------------------------------- inference
@pytest.mark.parametrize("protocol", ["http-json", "http-binary", "grpc"])
@pytest.mark.parametrize("name", ["mlp", "news", "frames"])
def test_inference_gives_predict_results(served, protocol, name):
    model = served.models[name]
    xs = inputs_for(model, batch=3)
    module = grpcclient if protocol == "grpc" else httpclient
    client = module.InferenceServerClient(served.grpc_url if protocol == "grpc" else served.http_url)
    inputs = []
    for input_name, x in zip(model.input_names, xs):
        entry = module.InferInput(input_name, list(x.shape), _datatype(x))
        if protocol == "grpc":
            entry.set_data_from_numpy(x)
        else:
            entry.set_data_from_numpy(x, binary_data=protocol == "http-binary")
        inputs.append(entry)
    outputs = None
    if protocol != "grpc":
        outputs = [httpclient.InferRequestedOutput(n, binary_data=protocol == "http-binary") for n in model.output_names]
    result = client.infer(name, inputs, outputs=outputs)
    for output_name, want in _expected(model, xs).items():
        np.testing.assert_allclose(result.as_numpy(output_name), want, rtol=1e-5, atol=1e-6)


def test_plain_json_request_and_concurrent_batch_one_requests(served):
    """A hand-written JSON body (what curl or requests send); then 64 concurrent batch-1 requests
    through the dynamic batcher, each answered with its own row."""
    model = served.models["mlp"]
    x = inputs_for(model, batch=64)[0]
    body = {"inputs": [{"name": IN, "shape": [1, 784], "datatype": "FP32", "data": x[0].tolist()}]}
    status, payload = _post(served.http_port, "/v2/models/mlp/infer", json.dumps(body).encode())
    assert status == 200, payload
    [out] = json.loads(payload)["outputs"]
    want = model.predict(x, verbose=0)
    np.testing.assert_allclose(np.array(out["data"]).reshape(out["shape"]), want[:1], rtol=1e-5, atol=1e-6)
    got = [None] * len(x)

    def one(i):
        c = httpclient.InferenceServerClient(served.http_url)
        entry = httpclient.InferInput(IN, [1, 784], "FP32")
        entry.set_data_from_numpy(x[i:i + 1], binary_data=True)
        got[i] = c.infer("mlp", [entry]).as_numpy(OUT)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(x))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_allclose(np.concatenate(got), want, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------- malformed requests
def _post(port, path, body: bytes, headers=None, timeout=30):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _binary_body(x: np.ndarray, declared_size: int, extra: bytes = b"") -> tuple[bytes, dict]:
    header = json.dumps({"inputs": [{"name": IN, "shape": list(x.shape), "datatype": "FP32",
                                     "parameters": {"binary_data_size": declared_size}}]}).encode()
    return header + x.tobytes() + extra, {"Inference-Header-Content-Length": str(len(header))}


def _news_body(ids, batch=1, aux_batch=None) -> bytes:
    return json.dumps({"inputs": [
        {"name": "main_input", "shape": [batch, 100], "datatype": "INT32", "data": [ids] * (100 * batch)},
        {"name": "aux_input", "shape": [aux_batch or batch, 5], "datatype": "FP32",
         "data": [0.5] * (5 * (aux_batch or batch))}]}).encode()


MLP, NEWS = "/v2/models/mlp/infer", "/v2/models/news/infer"
EMBEDDING_ROWS = 10000  # the news model's Embedding(input_dim=10000)


def _malformed_http(x):
    """{kind: (path, body, headers)}: the issue's kinds of bad requests."""
    good = {"name": IN, "shape": [1, 784], "datatype": "FP32", "data": x[:1].ravel().tolist()}

    def mlp(body, headers=None):
        return MLP, body if isinstance(body, bytes) else json.dumps(body).encode(), headers or {}

    return {
        # refused by Triton's JSON parser (500 in Triton 2.51: FRONTEND_JSON_500)
        "malformed JSON": mlp(b'{"inputs": [{"name": IN, "shape": [1, 784]'),
        "not an object": mlp(b"[1, 2, 3]"),
        "input without a shape": mlp({"inputs": [{k: v for k, v in good.items() if k != "shape"}]}),
        "data of another size than the shape": mlp({"inputs": [{**good, "shape": [2, 784]}]}),
        "wrong shape with data of that shape's size": mlp({"inputs": [{**good, "shape": [1, 783]}]}),
        "float data for an integer datatype": mlp({"inputs": [{**good, "datatype": "INT64"}]}),
        "strings for numbers": mlp({"inputs": [{**good, "data": ["a"] * 784}]}),
        # refused with a 4xx
        "unknown tensor": mlp({"inputs": [{**good, "name": "nope"}]}),
        "unknown output": mlp({"inputs": [good], "outputs": [{"name": "nope"}]}),
        "no inputs": mlp({"inputs": []}),
        "the same input twice": mlp({"inputs": [good, good]}),
        "wrong datatype": mlp({"inputs": [{**good, "datatype": "INT64", "data": [0] * 784}]}),
        "unknown datatype": mlp({"inputs": [{**good, "datatype": "FLOAT"}]}),
        "binary shorter than its header says": mlp(*_binary_body(x[:1], 784 * 4 + 16)),
        "binary longer than its header says": mlp(*_binary_body(x[:1], 784 * 4 - 16)),
        "binary trailing bytes": mlp(*_binary_body(x[:1], 784 * 4, b"\0" * 64)),
        "header length past the body": mlp(b'{"inputs": []}', {"Inference-Header-Content-Length": "100000"}),
        "over the batch size limit": mlp({"inputs": [{**good, "shape": [33, 784], "data": [0.0] * (33 * 784)}]}),
        "missing input": (NEWS, json.dumps({"inputs": json.loads(_news_body(1))["inputs"][:1]}).encode(), {}),
        "inputs of different batch sizes": (NEWS, _news_body(1, batch=2, aux_batch=1), {}),
        "embedding index out of range": (NEWS, _news_body(EMBEDDING_ROWS), {}),
        "unknown model": ("/v2/models/no_such_model/infer", b'{"inputs": []}', {}),
    }


# Triton's HTTP frontend (2.51, and its main branch as of 2026-08) reports what its JSON parser
# refuses as an internal error: 500 with the parser's message (docs/decisions.md, "Serving")
FRONTEND_JSON_500 = {"malformed JSON", "not an object", "input without a shape", "data of another size than the shape",
                     "wrong shape with data of that shape's size", "float data for an integer datatype",
                     "strings for numbers"}
JSON_PARSE_ERRORS = (b"failed to parse the request JSON buffer", b"Unable to parse")


def _refused(kind: str, status: int, payload: bytes) -> bool:
    if 400 <= status < 500:
        return True
    error = json.loads(payload).get("error", "").encode()
    return kind in FRONTEND_JSON_500 and status == 500 and error.startswith(JSON_PARSE_ERRORS)


def _rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants (Triton and its Python stubs)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        stack.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total


def _answers_correctly(served) -> None:
    model = served.models["mlp"]
    x = inputs_for(model, batch=2)[0]
    entry = httpclient.InferInput(IN, list(x.shape), "FP32")
    entry.set_data_from_numpy(x, binary_data=True)
    got = httpclient.InferenceServerClient(served.http_url).infer("mlp", [entry]).as_numpy(OUT)
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_malformed_requests_get_4xx_and_the_server_keeps_serving(served):
    x = inputs_for(served.models["mlp"], batch=1)[0]
    kinds = _malformed_http(x)
    # one of each, with the status and the message checked
    for kind, (path, body, headers) in kinds.items():
        status, payload = _post(served.http_port, path, body, headers)
        assert _refused(kind, status, payload), (kind, status, payload)
        assert json.loads(payload)["error"], kind
    status, payload = _post(served.http_port, *kinds["unknown model"][:2])
    assert status == 404 and b"no_such_model" in payload
    status, payload = _post(served.http_port, *kinds["embedding index out of range"][:2])
    assert status == 400 and b"the model cannot take this request's values" in payload
    assert b"idx=10000 must be within the inclusive range" in payload
    _answers_correctly(served)
    pid = served.process.pid
    before = _rss_kib(pid)
    # 1,000 malformed requests of those kinds, round robin
    cases = list(kinds.items())
    statuses = []
    for i in range(1000):
        kind, (path, body, headers) = cases[i % len(cases)]
        statuses.append((kind, *_post(served.http_port, path, body, headers)))
    assert all(_refused(*outcome) for outcome in statuses), sorted({(k, s, p[:80]) for k, s, p in statuses})
    _answers_correctly(served)
    growth_mib = (_rss_kib(pid) - before) / 1024
    assert growth_mib <= MEMORY_GROWTH_LIMIT_MIB, f"server memory grew by {growth_mib:.1f} MiB"


def test_bad_request_in_a_dynamic_batch_fails_alone(served):
    """24 concurrent batch-1 requests through the news model's dynamic batcher, every fourth with an
    embedding index out of range: those get 400, every other one gets its own `predict` result."""
    model = served.models["news"]
    rng = np.random.default_rng(1)
    ids = rng.integers(0, EMBEDDING_ROWS, (24, 100)).astype(np.int32)
    bad = set(range(0, 24, 4))
    ids[sorted(bad), 7] = EMBEDDING_ROWS + 5
    aux = rng.standard_normal((24, 5)).astype(np.float32)
    client = httpclient.InferenceServerClient(served.http_url)
    before = client.get_inference_statistics("news")["model_stats"][0]
    outcomes = [None] * 24

    def one(i):
        entries = [httpclient.InferInput("main_input", [1, 100], "INT32"), httpclient.InferInput("aux_input", [1, 5], "FP32")]
        entries[0].set_data_from_numpy(ids[i:i + 1], binary_data=True)
        entries[1].set_data_from_numpy(aux[i:i + 1], binary_data=True)
        try:
            result = httpclient.InferenceServerClient(served.http_url).infer("news", entries)
            outcomes[i] = [result.as_numpy(n) for n in model.output_names]
        except InferenceServerException as err:
            outcomes[i] = err

    threads = [threading.Thread(target=one, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = client.get_inference_statistics("news")["model_stats"][0]
    good = [i for i in range(24) if i not in bad]
    want = model.predict([ids[good], aux[good]], verbose=0)
    for k, i in enumerate(good):
        assert not isinstance(outcomes[i], Exception), (i, outcomes[i])
        for got, w in zip(outcomes[i], want):
            np.testing.assert_allclose(got, w[k:k + 1], rtol=1e-5, atol=1e-6)
    for i in bad:
        assert isinstance(outcomes[i], InferenceServerException), i
        assert outcomes[i].status() == "400" and "idx=10005" in outcomes[i].message()
    executions = after["execution_count"] - before["execution_count"]
    assert executions < 24, "the dynamic batcher formed no batch"


def test_stand_in_backend_reruns_a_failed_batch_request_by_request(tmp_path, monkeypatch):
    """The stand-in's execute() on one batch of three requests, the middle one with an index out of
    range (Triton's Python-backend API given by a minimal double): the others get predict's
    results, the bad one INVALID_ARG with onnxruntime's reason."""
    model = k2_multi_io().model
    model_dir = write_repository(model, tmp_path, TritonOptions(name="news", dynamic_batching=True))
    with open(os.path.join(model_dir, "config.pbtxt")) as f:
        config = json_format.MessageToDict(parse_config(f.read()), preserving_proto_field_name=True)

    class TritonError:
        INTERNAL, INVALID_ARG = "INTERNAL", "INVALID_ARG"

        def __init__(self, message, code=INTERNAL):
            self.message, self.code = message, code

    utils = types.SimpleNamespace(
        TritonError=TritonError,
        Tensor=lambda name, array: (name, array),
        InferenceResponse=lambda output_tensors=(), error=None: types.SimpleNamespace(
            outputs=dict(output_tensors), error=error),
        get_input_tensor_by_name=lambda request, name: types.SimpleNamespace(as_numpy=lambda: request[name]))
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", utils)
    spec = importlib.util.spec_from_file_location("stand_in", os.path.join(ROOT, "irgraph", "serving", "onnxruntime_backend.py"))
    stand_in = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stand_in)
    backend = stand_in.TritonPythonModel()
    backend.initialize({"model_config": json.dumps(config), "model_repository": model_dir, "model_version": "1",
                        "model_instance_kind": "CPU", "model_instance_device_id": "0"})

    class Request(dict):
        def requested_output_names(self):
            return []

    rng = np.random.default_rng(2)
    ids = rng.integers(0, EMBEDDING_ROWS, (3, 100)).astype(np.int32)
    ids[1, 3] = EMBEDDING_ROWS
    aux = rng.standard_normal((3, 5)).astype(np.float32)
    requests = [Request(main_input=ids[i:i + 1], aux_input=aux[i:i + 1]) for i in range(3)]
    responses = backend.execute(requests)
    want = model.predict([ids[[0, 2]], aux[[0, 2]]], verbose=0)
    for k, i in enumerate((0, 2)):
        assert responses[i].error is None
        for name, w in zip(model.output_names, want):
            np.testing.assert_allclose(responses[i].outputs[name], w[k:k + 1], rtol=1e-5, atol=1e-6)
    assert responses[1].error.code == "INVALID_ARG" and not responses[1].outputs
    assert responses[1].error.message.startswith("the model cannot take this request's values")
    assert "idx=10000" in responses[1].error.message


def test_oversized_request_is_refused(served):
    """A body far over any request a model of this size takes (64 MiB of zeros declared as one
    [1, 784] tensor): refused with a 4xx, then the server answers."""
    body, headers = _binary_body(np.zeros((1, 784), np.float32), 784 * 4, b"\0" * (64 << 20))
    status, payload = _post(served.http_port, "/v2/models/mlp/infer", body, headers, timeout=120)
    assert 400 <= status < 500, (status, payload[:300])
    _answers_correctly(served)


def test_malformed_grpc_requests_get_an_error_status(served):
    client = grpcclient.InferenceServerClient(served.grpc_url)
    x = inputs_for(served.models["mlp"], batch=1)[0]

    def infer(model="mlp", name=IN, array=x, datatype="FP32", shape=None):
        entries = [grpcclient.InferInput(name, shape or list(array.shape), datatype)]
        entries[0]._raw_content = array.tobytes()  # the bytes as sent, whatever the declared shape and type
        if model == "news":
            entries.append(grpcclient.InferInput("aux_input", [1, 5], "FP32"))
            entries[1].set_data_from_numpy(np.zeros((1, 5), np.float32))
        return client.infer(model, entries)

    ids = np.full((1, 100), EMBEDDING_ROWS, np.int32)
    cases = {"unknown model": (dict(model="no_such_model"), "StatusCode.NOT_FOUND"),
             "unknown tensor": (dict(name="nope"), "StatusCode.INVALID_ARGUMENT"),
             "wrong shape": (dict(array=np.zeros((1, 783), np.float32)), "StatusCode.INVALID_ARGUMENT"),
             "wrong datatype": (dict(datatype="INT64"), "StatusCode.INVALID_ARGUMENT"),
             "over the batch size limit": (dict(array=np.zeros((33, 784), np.float32)), "StatusCode.INVALID_ARGUMENT"),
             "raw bytes shorter than the shape": (dict(array=x[:, :700], shape=[1, 784]), "StatusCode.INVALID_ARGUMENT"),
             "embedding index out of range": (dict(model="news", name="main_input", array=ids, datatype="INT32"),
                                              "StatusCode.INVALID_ARGUMENT")}
    for what, (kwargs, status) in cases.items():
        with pytest.raises(InferenceServerException) as err:
            infer(**kwargs)
        assert err.value.status() == status, (what, err.value.status(), err.value.message())
        assert err.value.message(), what
    for i in range(200):
        kwargs, _ = list(cases.values())[i % len(cases)]
        with pytest.raises(InferenceServerException):
            infer(**kwargs)
    _answers_correctly(served)


def test_many_concurrent_connections_are_served_or_refused_cleanly(served):
    """300 connections held open at once, each then sending one request: every one is answered
    (200) or refused with a 4xx/5xx status or a closed connection; none hangs; afterwards the server answers."""
    body = json.dumps({"inputs": [{"name": IN, "shape": [1, 784], "datatype": "FP32",
                                   "data": [0.0] * 784}]}).encode()
    request = (f"POST /v2/models/mlp/infer HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    sockets = []
    for _ in range(300):
        s = socket.create_connection((HOST, served.http_port), timeout=60)
        sockets.append(s)
    outcomes = []
    for s in sockets:
        try:
            s.sendall(request)
            status_line = s.makefile("rb").readline()
            outcomes.append(int(status_line.split()[1]) if status_line else "closed")
        except OSError:
            outcomes.append("closed")
        finally:
            s.close()
    assert all(o == 200 or o == "closed" or 400 <= o < 600 for o in outcomes)
    assert outcomes.count(200) > 0
    _answers_correctly(served)


def test_bench_serve_runs_without_errors():
    """bench/serve.py, short: both variants and the in-process rows, every reply checked (no timing asserted)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_serve", os.path.join(ROOT, "bench", "serve.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    payload = bench.run("examples.seed_models:k2_mlp", requests=64, clients=4, protocol="grpc")
    variants = [r["variant"] for r in payload["rows"]]
    assert variants[0].endswith("_unbatched") and variants[1].endswith("_batched") and len(variants) == 4
    assert all(r["requests"] == 64 and r["errors"] == 0 and r["p50_ms"] > 0 for r in payload["rows"])
    assert payload["server_startup_s"] > 0 and payload["dynamic_batching_gain"] > 0
