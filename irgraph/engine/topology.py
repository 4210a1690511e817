"""Keras 1/2 ``keras.engine.topology``: re-exports of the layer base classes.

``from keras.engine.topology import Layer, InputSpec`` (custom layers in tutorials) becomes
``from irgraph.engine.topology import Layer, InputSpec``.
"""
from ..layers.base import InputSpec, Layer, Node  # noqa: F401
from ..layers.input_layer import InputLayer  # noqa: F401
from ..models import Model  # noqa: F401
from ..tensor import Input  # noqa: F401

__all__ = ["Layer", "InputSpec", "Node", "InputLayer", "Input", "Model"]
