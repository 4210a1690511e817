"""Keras ``keras.preprocessing.sequence``: padding variable-length sequences to one length."""
from __future__ import annotations

import numpy as np


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (or truncate) each sequence to ``maxlen`` and stack them: shape ``(n, maxlen) + sample_shape``.

    Keras semantics: ``padding='pre'`` puts the padding ``value`` before the sequence, ``'post'``
    after; ``truncating='pre'`` drops values from the start of longer sequences, ``'post'`` from
    the end; ``maxlen=None`` uses the longest sequence. Empty sequences become all padding.
    """
    if padding not in ("pre", "post"):
        raise ValueError(f"pad_sequences: padding must be 'pre' or 'post', got {padding!r}")
    if truncating not in ("pre", "post"):
        raise ValueError(f"pad_sequences: truncating must be 'pre' or 'post', got {truncating!r}")
    if not hasattr(sequences, "__len__"):
        raise ValueError("pad_sequences: `sequences` must be iterable")
    seqs = []
    for i, s in enumerate(sequences):
        if not hasattr(s, "__len__"):
            raise ValueError(f"pad_sequences: `sequences` must be a list of iterables; found non-iterable "
                             f"{s!r} at index {i}")
        seqs.append(np.asarray(s))
    lengths = [len(s) for s in seqs]
    if maxlen is None:
        maxlen = max(lengths) if lengths else 0
    maxlen = int(maxlen)
    sample_shape = ()
    for s in seqs:
        if len(s):
            sample_shape = s.shape[1:]
            break
    is_str = np.issubdtype(np.dtype(dtype), np.str_) or np.dtype(dtype) == object
    if isinstance(value, str) and not is_str:
        raise ValueError(f"pad_sequences: `dtype` {np.dtype(dtype).name} is not compatible with `value`'s "
                         f"type: {type(value)}; use dtype=object (or a numpy string dtype such as '<U10') "
                         "to pad strings")
    x = np.full((len(seqs), maxlen) + tuple(sample_shape), value, dtype=dtype)
    for i, s in enumerate(seqs):
        if not len(s) or maxlen == 0:
            continue
        trunc = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        if trunc.shape[1:] != tuple(sample_shape):
            raise ValueError(f"pad_sequences: shape of sample {trunc.shape[1:]} of sequence at position {i} "
                             f"differs from the expected shape {tuple(sample_shape)}")
        if padding == "post":
            x[i, :len(trunc)] = trunc
        else:
            x[i, -len(trunc):] = trunc
    return x
