"""ONNX emission (inference graphs now; train-step and eval-step graphs in the training issue)."""
from .emit import MIN_OPSET, Emitter, check, emit_model, max_opset  # noqa: F401
