"""Serving over the Open Inference Protocol (KServe v2) with NVIDIA Triton's own server.

`TritonServer` runs Triton's server binary (from ``nvidia-pytriton``, in its own environment:
`irgraph.serving.environment`) on a model repository written by `irgraph.deploy`; the onnxruntime
backend is stood in by `irgraph/serving/onnxruntime_backend.py` where its native library is absent.
"""
import os


def onnxruntime_backend_source() -> str:
    """The text of the stand-in backend (a file Triton's Python stub imports, not irgraph code)."""
    with open(os.path.join(os.path.dirname(__file__), "onnxruntime_backend.py"), encoding="utf-8") as f:
        return f.read()


from .server import ServeError, TritonServer, free_port  # noqa: E402

__all__ = ["ServeError", "TritonServer", "free_port", "onnxruntime_backend_source"]
