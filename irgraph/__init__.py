"""irgraph: Keras functional API -> networkx graph IR -> ONNX, run and trained in onnxruntime."""
from . import backend, initializers, activations  # noqa: F401
from . import layers  # noqa: F401
from . import models  # noqa: F401
from . import callbacks, losses, metrics, optimizers, regularizers  # noqa: F401,E401
from .backend.graph import clear_session  # noqa: F401  (names and the learning phase)
from .random_state import set_seed  # noqa: F401
from .models import Model, Sequential, load_model  # noqa: F401
from .tensor import Input, KerasTensor  # noqa: F401

__version__ = "0.1.0"


def convert(source, output, opset: int = 17, train_step=None, custom_objects=None):
    """A model file (Keras 3 ``.keras``, Keras 2 ``.h5``, irgraph's own) or a Model to an inference
    ONNX file, and with ``train_step`` also its training-step ONNX file; returns a report (printable)
    of the inputs, outputs and operators written. See `irgraph.conversion`."""
    from .conversion import convert as _convert
    return _convert(source, output, opset=opset, train_step=train_step, custom_objects=custom_objects)


def __getattr__(name):
    """``irgraph.applications`` (as ``keras.applications``) and the other optional subpackages,
    imported on first use so that ``import irgraph`` stays light."""
    if name in ("applications", "preprocessing", "utils", "runtime"):
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'irgraph' has no attribute {name!r}")
