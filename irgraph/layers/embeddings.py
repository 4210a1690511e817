"""Embedding: a (input_dim, output_dim) table gathered by integer indices."""
from __future__ import annotations

from .. import backend as K
from .. import initializers
from ._args import positive_int
from .base import Layer


class Embedding(Layer):
    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, input_length=None, **kwargs):
        init = kwargs.pop("init", None)
        reg = kwargs.pop("W_regularizer", None)
        kwargs.pop("dropout", None)
        if input_length is not None and "input_shape" not in kwargs and "batch_input_shape" not in kwargs:
            kwargs["input_shape"] = tuple(input_length) if isinstance(input_length, (list, tuple)) else (input_length,)
        super().__init__(**kwargs)
        where = f"Embedding layer '{self.name}'"
        self.input_dim = positive_int(input_dim, "input_dim (the number of ids: valid ids are 0..input_dim-1)",
                                      where)
        self.output_dim = positive_int(output_dim, "output_dim (the size of each embedding vector)", where)
        self.embeddings_initializer = initializers.get(init or embeddings_initializer, where=f"layer '{self.name}'")
        self.embeddings_regularizer = embeddings_regularizer or reg
        self.embeddings_constraint = embeddings_constraint
        self.mask_zero = bool(mask_zero)
        if self.mask_zero and self.input_dim < 2:
            raise ValueError(f"{where}: mask_zero=True reserves id 0 for padding, so input_dim must be at "
                             f"least 2 (the padding id plus one real id), got input_dim={self.input_dim}; "
                             "use input_dim = vocabulary size + 1")
        self.input_length = input_length

    def build(self, input_shape):
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)
        self.built = True

    def call(self, inputs):
        self._check_length(inputs)
        if inputs.dtype not in ("int32", "int64"):
            inputs = K.cast(inputs, "int64")
        return K.gather(self.embeddings, inputs)

    def compute_mask(self, inputs, mask=None):
        """Keras: with ``mask_zero``, the steps whose id is 0 (the padding) are masked."""
        if not self.mask_zero:
            return None
        return K.not_equal(inputs, 0)

    def _check_length(self, inputs):
        """Sequences longer (or shorter) than a declared ``input_length`` are refused."""
        if self.input_length is None:
            return
        declared = tuple(self.input_length) if isinstance(self.input_length, (list, tuple)) else (self.input_length,)
        actual = tuple(inputs.shape[1:])
        if len(actual) != len(declared) or any(a is not None and d is not None and a != d
                                                for a, d in zip(actual, declared)):
            raise ValueError(f"Embedding layer '{self.name}' was declared with input_length={self.input_length}, "
                             f"but it received sequences of shape {actual}: pad or truncate them to "
                             f"{self.input_length} (irgraph.preprocessing.sequence.pad_sequences(..., "
                             f"maxlen={declared[-1]})), or leave input_length out")

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "mask_zero": self.mask_zero, "input_length": self.input_length}
