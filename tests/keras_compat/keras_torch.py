"""Keras 3 on its torch backend: the independent reference of the keras_compat tests (a test
dependency, installed by the ``test`` extra). Imported here once, so a missing Keras or another
backend fails loudly instead of skipping."""
import os

os.environ["KERAS_BACKEND"] = "torch"  # must precede the first import of keras
import keras  # noqa: E402

assert keras.backend.backend() == "torch", (
    f"Keras runs its {keras.backend.backend()!r} backend in this process; these tests need 'torch'")
