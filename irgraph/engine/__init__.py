"""Keras 1/2 module path ``keras.engine``: the layer base classes live in `irgraph.layers`."""
from . import topology  # noqa: F401
from .topology import InputSpec, Layer  # noqa: F401
