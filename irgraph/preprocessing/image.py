"""Keras ``keras.preprocessing.image`` / ``keras.utils`` image helpers: ``load_img``,
``img_to_array``, ``array_to_img``, ``save_img``.

Same semantics as Keras (``keras/src/utils/image_utils.py``, plus Keras 2's ``grayscale=`` argument
of ``load_img``). Images are Pillow images; Pillow is an optional extra
(``pip install irgraph[image]``) imported only when one of these functions is called.
"""
from __future__ import annotations

import io
import pathlib
import warnings

import numpy as np

from ..backend.config import floatx, normalize_data_format

__all__ = ["load_img", "img_to_array", "array_to_img", "save_img"]

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def _pil(fn: str):
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - exercised with Pillow hidden
        raise ImportError(f"irgraph.preprocessing.image.{fn} needs Pillow, which is not installed; "
                          "install it with `pip install irgraph[image]` (or `pip install Pillow`)") from e
    return Image


def _resample(Image, interpolation: str):
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"Invalid interpolation method {interpolation!r} specified. Supported methods are "
                         f"{', '.join(_INTERPOLATIONS)}")
    R = getattr(Image, "Resampling", Image)
    return getattr(R, interpolation.upper())


def _data_format(data_format, fn):
    try:
        return normalize_data_format(data_format)
    except ValueError:
        raise ValueError(f"{fn}: data_format must be 'channels_first' or 'channels_last' (or None for "
                         f"K.image_data_format()), got {data_format!r}") from None


def load_img(path, grayscale=False, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """Load an image file into a Pillow image.

    ``path``: a path (str, bytes or ``pathlib.Path``) or an ``io.BytesIO``. ``color_mode``: one of
    ``"grayscale"``, ``"rgb"`` (default), ``"rgba"``; ``grayscale=True`` is Keras 2's spelling of
    ``color_mode="grayscale"`` (deprecated there too: it warns). ``target_size``: ``None`` (original
    size) or ``(height, width)``. ``interpolation``: the resampling used when resizing, one of
    ``"nearest"`` (default), ``"bilinear"``, ``"bicubic"``, ``"hamming"``, ``"box"``, ``"lanczos"``.
    ``keep_aspect_ratio=True`` crops the largest centred box of the target's aspect ratio before
    resizing, so the image is not distorted.
    """
    Image = _pil("load_img")
    if grayscale is True:
        warnings.warn('grayscale is deprecated. Please use color_mode = "grayscale"', stacklevel=2)
        color_mode = "grayscale"
    if color_mode not in ("grayscale", "rgb", "rgba"):
        raise ValueError(f'load_img: color_mode must be "grayscale", "rgb", or "rgba", got {color_mode!r}')
    if target_size is not None:
        try:
            th, tw = (int(v) for v in target_size)
        except (TypeError, ValueError):
            raise ValueError("load_img: target_size must be None or a (height, width) pair of ints, got "
                             f"{target_size!r}") from None
        if th <= 0 or tw <= 0:
            raise ValueError(f"load_img: target_size must be positive, got {target_size!r}")
        resample = _resample(Image, interpolation)  # checked even when no resize is needed
    if isinstance(path, io.BytesIO):
        img = Image.open(path)
    elif isinstance(path, (pathlib.Path, bytes, str)):
        if isinstance(path, pathlib.Path):
            path = str(path.resolve())
        with open(path, "rb") as f:
            img = Image.open(io.BytesIO(f.read()))
    else:
        raise TypeError(f"load_img: path should be path-like or io.BytesIO, not {type(path)}")

    if color_mode == "grayscale":
        # 8-, 16- and 32-bit grayscale images stay as they are; everything else becomes 8-bit 'L'
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
    elif color_mode == "rgba":
        if img.mode != "RGBA":
            img = img.convert("RGBA")
    elif img.mode != "RGB":
        img = img.convert("RGB")

    if target_size is not None:
        wh = (tw, th)
        if img.size != wh:
            if keep_aspect_ratio:
                width, height = img.size
                crop_height = min(height, (width * th) // tw)
                crop_width = min(width, (height * tw) // th)
                h0 = (height - crop_height) // 2
                w0 = (width - crop_width) // 2
                img = img.resize(wh, resample, box=(w0, h0, w0 + crop_width, h0 + crop_height))
            else:
                img = img.resize(wh, resample)
    return img


def img_to_array(img, data_format=None, dtype=None):
    """A Pillow image (or anything ``np.asarray`` takes) as a 3D array: ``(height, width, channels)``
    for ``channels_last``, ``(channels, height, width)`` for ``channels_first`` (``None``: the
    backend's ``image_data_format()``). Grayscale images get a channel axis of 1. ``dtype``:
    default ``floatx()``."""
    data_format = _data_format(data_format, "img_to_array")
    if dtype is None:
        dtype = floatx()
    x = np.asarray(img, dtype=dtype)
    if x.ndim == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    elif x.ndim == 2:
        if data_format == "channels_first":
            x = x.reshape((1, x.shape[0], x.shape[1]))
        else:
            x = x.reshape((x.shape[0], x.shape[1], 1))
    else:
        raise ValueError(f"img_to_array: unsupported image shape {x.shape}: expected a 2D (grayscale) or "
                         "3D image")
    return x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A 3D array as a Pillow image: 1 channel -> ``"L"`` (``"I"`` when values exceed 255 after
    scaling), 3 -> ``"RGB"``, 4 -> ``"RGBA"``. ``scale=True`` maps the array's minimum to 0 and its
    maximum to 255 (a constant array becomes 0); with ``scale=False`` values are cast to uint8 as
    they are (so they should already lie in [0, 255])."""
    data_format = _data_format(data_format, "array_to_img")
    if dtype is None:
        dtype = floatx()
    Image = _pil("array_to_img")
    x = np.asarray(x, dtype=dtype)
    if x.ndim != 3:
        raise ValueError("array_to_img: expected image array to have rank 3 (single image). Got array with "
                         f"shape: {x.shape}" + (" (a batch? pass x[0])" if x.ndim == 4 else ""))
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        x_max = np.max(x)
        if x_max != 0:
            x /= x_max
        x *= 255
    c = x.shape[2]
    if c == 4:
        return Image.fromarray(x.astype("uint8"), "RGBA")
    if c == 3:
        return Image.fromarray(x.astype("uint8"), "RGB")
    if c == 1:
        if np.max(x) > 255:
            return Image.fromarray(x[:, :, 0].astype("int32"), "I")
        return Image.fromarray(x[:, :, 0].astype("uint8"), "L")
    hint = ""
    if data_format == "channels_last" and x.shape[0] in (1, 3, 4):
        hint = " (is the array channels_first? pass data_format='channels_first')"
    raise ValueError(f"array_to_img: unsupported channel number {c} for shape {x.shape} in {data_format}; "
                     f"expected 1, 3 or 4{hint}")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Save a 3D array as an image file (or into a file object, then give ``file_format``).

    The format comes from the file name's extension unless ``file_format`` is given (``"jpg"`` is
    read as ``"jpeg"``); an RGBA image saved as JPEG is converted to RGB with a warning. ``scale``
    as in :func:`array_to_img`. Other keyword arguments go to ``PIL.Image.save``.
    """
    data_format = _data_format(data_format, "save_img")
    if file_format is not None and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    is_jpeg = (file_format or "").lower() == "jpeg" or (
        file_format is None and isinstance(path, (str, pathlib.Path))
        and str(path).lower().endswith((".jpg", ".jpeg")))
    if img.mode == "RGBA" and is_jpeg:
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.", stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)
