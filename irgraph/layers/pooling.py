"""Pooling layers (filled by the conv work)."""
__all__: list = []
