"""Convolution, pooling, padding and resizing backend functions (filled by the conv work)."""
__all__: list = []
