"""Load test of `irgraph serve` (Triton) with tritonclient: N concurrent clients x M batch-1 requests.

    .venv/bin/python bench/serve.py                       # 16 clients, 10,000 requests per model variant
    .venv/bin/python bench/serve.py --requests 800 --clients 4   # a short run
    .venv/bin/python bench/serve.py --url 127.0.0.1:8000 --model-name mlp   # any running v2 server

The model (default: the seed MLP) is deployed twice into one repository: with dynamic batching
(``NAME_batched``) and without (``NAME_unbatched``); one Triton serves both. Each client is a thread
with its own tritonclient (HTTP with binary tensors, or gRPC) sending batch-1 requests back to back;
every reply is compared with a local onnxruntime session's answer for that request. Reported:
requests, errors, latency p50/p99 (per request, client side), throughput (requests per second
over the run), server start-up time, and the same batch-1 requests in a bare onnxruntime session
in this process (one thread sequential, and the same N threads sharing the session).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import machine_info  # noqa: E402

ATOL = 1e-5


def percentile(values, q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def summary(name: str, latencies: list, errors: int, wall: float) -> dict:
    n = len(latencies) + errors
    return {"variant": name, "requests": n, "errors": errors,
            "p50_ms": percentile(latencies, 50) * 1e3 if latencies else None,
            "p99_ms": percentile(latencies, 99) * 1e3 if latencies else None,
            "throughput_rps": len(latencies) / wall if wall > 0 else None, "wall_s": wall}


def make_requests(session, count: int, seed: int = 0) -> list:
    """``count`` batch-1 feeds for the session's inputs, with the session's answers."""
    rng = np.random.default_rng(seed)
    feeds = []
    for _ in range(count):
        feed = {}
        for i in session.get_inputs():
            shape = [1] + [d if isinstance(d, int) else 4 for d in i.shape[1:]]
            if "int" in i.type:
                feed[i.name] = rng.integers(0, 10, size=shape).astype(np.int32 if "int32" in i.type else np.int64)
            else:
                feed[i.name] = rng.standard_normal(shape).astype(np.float32)
        feeds.append(feed)
    outputs = [o.name for o in session.get_outputs()]
    expected = [dict(zip(outputs, session.run(outputs, f))) for f in feeds]
    return list(zip(feeds, expected))


def datatype(array) -> str:
    return {"float32": "FP32", "int32": "INT32", "int64": "INT64"}[array.dtype.name]


def client_loop(url, protocol, model, requests, latencies, errors, barrier):
    if protocol == "grpc":
        import tritonclient.grpc as tc
    else:
        import tritonclient.http as tc
    client = tc.InferenceServerClient(url)
    mine, failed = [], 0
    barrier.wait()
    for feed, expected in requests:
        inputs = []
        for name, array in feed.items():
            x = tc.InferInput(name, list(array.shape), datatype(array))
            if protocol == "grpc":
                x.set_data_from_numpy(array)
            else:
                x.set_data_from_numpy(array, binary_data=True)
            inputs.append(x)
        start = time.perf_counter()
        try:
            result = client.infer(model, inputs)
            ok = all(np.allclose(result.as_numpy(k), v, atol=ATOL) for k, v in expected.items())
        except Exception:  # noqa: BLE001 - counted as an error; the load test reports, never stops
            ok = False
        if ok:
            mine.append(time.perf_counter() - start)
        else:
            failed += 1
    client.close()
    latencies.extend(mine)
    errors.append(failed)


def run_together(threads, barrier) -> float:
    """Start ``threads``, release them at once through ``barrier``; seconds until all have ended."""
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def load(url, protocol, model, pairs, clients: int) -> dict:
    latencies, errors = [], []
    per_client = [pairs[i::clients] for i in range(clients)]
    barrier = threading.Barrier(clients + 1)
    threads = [threading.Thread(target=client_loop, args=(url, protocol, model, reqs, latencies, errors, barrier))
               for reqs in per_client]
    return summary(model, latencies, sum(errors), run_together(threads, barrier))


def bare_onnxruntime(session, pairs, clients: int) -> list[dict]:
    """The same batch-1 requests in this process: one thread, then ``clients`` threads sharing the session."""
    outputs = [o.name for o in session.get_outputs()]
    lat = []
    start = time.perf_counter()
    for feed, _ in pairs:
        t0 = time.perf_counter()
        session.run(outputs, feed)
        lat.append(time.perf_counter() - t0)
    rows = [summary("bare onnxruntime, 1 thread", lat, 0, time.perf_counter() - start)]
    shared, barrier = [], threading.Barrier(clients + 1)

    def worker(part):
        mine = []
        barrier.wait()
        for feed, _ in part:
            t0 = time.perf_counter()
            session.run(outputs, feed)
            mine.append(time.perf_counter() - t0)
        shared.extend(mine)

    threads = [threading.Thread(target=worker, args=(pairs[i::clients],)) for i in range(clients)]
    rows.append(summary(f"bare onnxruntime, {clients} threads", shared, 0, run_together(threads, barrier)))
    return rows


def run(factory: str, requests: int, clients: int, protocol: str = "http", url: str | None = None,
        model_name: str | None = None, queue_delay_us: int = 200, workdir: str | None = None) -> dict:
    import onnxruntime as ort

    from irgraph.deploy import TritonOptions, load_source, write_repository
    from irgraph.serving import TritonServer, free_port
    proto, name = load_source(factory)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    pairs = make_requests(session, requests)
    rows, startup = [], None
    if url:
        rows.append(load(url, protocol, model_name or name, pairs, clients))
    else:
        repo = workdir or tempfile.mkdtemp(prefix="irgraph-bench-serve-")
        write_repository(proto, repo, TritonOptions(name=f"{name}_batched", dynamic_batching=True,
                                                    max_queue_delay_us=queue_delay_us))
        write_repository(proto, repo, TritonOptions(name=f"{name}_unbatched"))
        server = TritonServer(repo, http_port=free_port(), grpc_port=free_port(),
                              log_file=os.path.join(repo, "triton.log"))
        t0 = time.perf_counter()
        with server:
            startup = time.perf_counter() - t0
            target = server.grpc_url if protocol == "grpc" else server.http_url
            load(target, protocol, f"{name}_unbatched", pairs[: max(clients, len(pairs) // 10)], clients)  # warm-up
            for variant in ("unbatched", "batched"):
                rows.append(load(target, protocol, f"{name}_{variant}", pairs, clients))
    rows += bare_onnxruntime(session, pairs, clients)
    gain = None
    if len(rows) >= 2 and rows[0]["variant"].endswith("_unbatched") and rows[1]["throughput_rps"]:
        gain = rows[1]["throughput_rps"] / rows[0]["throughput_rps"]
    return {"model": factory, "protocol": protocol, "clients": clients, "requests_per_variant": requests,
            "server_startup_s": startup, "dynamic_batching_gain": gain, "rows": rows,
            "machine": machine_info("onnxruntime", "tritonclient")}


def print_table(payload: dict) -> None:
    print(f"model {payload['model']}, {payload['protocol']}, {payload['clients']} clients, "
          f"{payload['requests_per_variant']} batch-1 requests per variant")
    if payload["server_startup_s"] is not None:
        print(f"server start-up (process start to all models ready): {payload['server_startup_s']:.1f} s")
    print(f"{'variant':34} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>9}")
    for r in payload["rows"]:
        print(f"{r['variant']:34} {r['requests']:8d} {r['errors']:6d} {r['p50_ms']:8.3f} {r['p99_ms']:8.3f} "
              f"{r['throughput_rps']:9.0f}")
    if payload["dynamic_batching_gain"]:
        print(f"dynamic batching: {payload['dynamic_batching_gain']:.2f}x the throughput without it")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="examples.seed_models:k2_mlp", help="MODULE:FACTORY or ONNX file")
    p.add_argument("--requests", type=int, default=10000, help="batch-1 requests per variant")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--protocol", choices=["http", "grpc"], default="http")
    p.add_argument("--queue-delay-us", type=int, default=200, help="dynamic batching's max queue delay")
    p.add_argument("--url", help="load an already running v2 server instead of starting Triton")
    p.add_argument("--model-name", help="with --url: the model's name there")
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args(argv)
    payload = run(args.model, args.requests, args.clients, args.protocol, args.url, args.model_name,
                  args.queue_delay_us)
    print_table(payload)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=1)
    return 0 if all(r["errors"] == 0 for r in payload["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
