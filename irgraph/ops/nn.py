"""Convolution and pooling primitives (filled by the conv work)."""
