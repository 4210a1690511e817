"""Convolution, padding, cropping and upsampling layers (filled by the conv work)."""
__all__: list = []
