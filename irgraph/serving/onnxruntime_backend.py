"""Triton's onnxruntime backend, stood in by a Python-based backend.

Triton runs a backend directory that holds a ``model.py`` and no native library as a Python-based
backend; `irgraph serve` installs this file as ``backends/onnxruntime/model.py`` where the native
``libtriton_onnxruntime.so`` is absent (the ``nvidia-pytriton`` wheel ships the server and its
Python backend only). Model configurations stay those of the real backend (``backend:
"onnxruntime"``, ``default_model_filename``, instance kinds, ``intra_op_thread_count``), so a
repository served here runs unchanged on a full Triton. The dynamic batcher hands ``execute`` a
list of requests: those of one shape signature run as one onnxruntime call on their concatenated
inputs, then the outputs are split back per request. When that call fails, each request runs
alone, so one request with values the model cannot take (an embedding index out of range) fails
alone: with INVALID_ARG (HTTP 400) for onnxruntime's INVALID_ARGUMENT, else INTERNAL (500).

This file runs inside Triton's Python stub process (the serving environment's numpy and
onnxruntime), never in irgraph's own process.
"""
import json
import os
import re

import numpy as np
import onnxruntime as ort
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.batched = int(config.get("max_batch_size", 0)) > 0
        self.input_names = [i["name"] for i in config["input"]]
        self.output_names = [o["name"] for o in config["output"]]
        # reshape: the model's own shape where the configuration's dims differ (batch-only tensors)
        self.reshape = {i["name"]: [int(d) for d in i["reshape"].get("shape", [])]
                        for i in config["input"] if "reshape" in i}
        filename = config.get("default_model_filename") or "model.onnx"
        path = os.path.join(args["model_repository"], args["model_version"], filename)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        options.intra_op_num_threads = int(params.get("intra_op_thread_count", "0") or 0)
        options.inter_op_num_threads = int(params.get("inter_op_thread_count", "0") or 0)
        providers = ["CPUExecutionProvider"]
        if args.get("model_instance_kind") == "GPU" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": int(args["model_instance_device_id"])}))
        self.session = ort.InferenceSession(path, options, providers=providers)

    def execute(self, requests):
        responses = [None] * len(requests)
        groups = {}
        for index, request in enumerate(requests):
            try:
                feeds = self._feeds(request)
            except ValueError as err:
                responses[index] = _error(str(err), pb_utils.TritonError.INVALID_ARG)
                continue
            signature = tuple((n, a.shape[1:], a.dtype.str) for n, a in feeds.items())
            groups.setdefault(signature if self.batched else index, []).append((index, request, feeds))
        for members in groups.values():
            self._run(members, responses)
        return responses

    def _feeds(self, request):
        feeds = {}
        for name in self.input_names:
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            if tensor is None:
                raise ValueError(f"input '{name}' is missing")
            array = tensor.as_numpy()
            if name in self.reshape:
                lead = array.shape[:1] if self.batched else ()
                try:
                    array = array.reshape(tuple(lead) + tuple(self.reshape[name]))
                except ValueError:
                    raise ValueError(f"input '{name}' has shape {list(array.shape)}, which cannot be "
                                     f"reshaped to the model's {list(lead) + self.reshape[name]}") from None
            feeds[name] = array
        return feeds

    def _run(self, members, responses):
        """One onnxruntime call for the requests of one dynamic batch; if it fails, each request
        runs alone, so only the requests that cause the failure get an error."""
        if len(members) == 1:
            feeds = members[0][2]
        else:
            feeds = {n: np.concatenate([m[2][n] for m in members]) for n in self.input_names}
        try:
            outputs = self.session.run(self.output_names, feeds)
        except Exception as err:  # noqa: BLE001 - onnxruntime's failures are reported, never raised
            if len(members) > 1:
                for member in members:
                    self._run([member], responses)
                return
            responses[members[0][0]] = _run_error(err)
            return
        start = 0
        for index, request, feeds in members:
            size = next(iter(feeds.values())).shape[0] if len(members) > 1 else None
            wanted = set(request.requested_output_names()) or set(self.output_names)
            tensors = []
            for name, value in zip(self.output_names, outputs):
                if name in wanted:
                    part = value if size is None else value[start:start + size]
                    tensors.append(pb_utils.Tensor(name, np.ascontiguousarray(part)))
            responses[index] = pb_utils.InferenceResponse(output_tensors=tensors)
            start += size or 0


def _error(message, code):
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(message, code))


def _run_error(err):
    """onnxruntime's INVALID_ARGUMENT (a value the model cannot take: an index out of range, sizes
    that disagree inside the model) is the request's fault: Triton answers 400 (gRPC
    INVALID_ARGUMENT); any other failure is the server's: 500 (INTERNAL)."""
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : [A-Z_]+ : ", "", str(err))
    if isinstance(err, InvalidArgument):
        return _error(f"the model cannot take this request's values: {text}", pb_utils.TritonError.INVALID_ARG)
    return _error(f"onnxruntime could not run the model: {text}", pb_utils.TritonError.INTERNAL)
