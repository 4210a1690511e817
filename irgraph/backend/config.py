"""Backend configuration: image data format, float type, epsilon, unique layer names."""
from __future__ import annotations

import collections

_config = {"image_data_format": "channels_last", "floatx": "float32", "epsilon": 1e-7}
_name_counts: collections.Counter = collections.Counter()

_DIM_ORDERING = {"th": "channels_first", "tf": "channels_last"}


def image_data_format() -> str:
    return _config["image_data_format"]


def set_image_data_format(data_format: str) -> None:
    data_format = _DIM_ORDERING.get(data_format, data_format)
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(f"image data format must be 'channels_first' or 'channels_last' "
                         f"(or Keras 1's 'th'/'tf'), got {data_format!r}")
    _config["image_data_format"] = data_format


def image_dim_ordering() -> str:
    """Keras 1 spelling: 'th' for channels_first, 'tf' for channels_last."""
    return "th" if image_data_format() == "channels_first" else "tf"


def set_image_dim_ordering(ordering: str) -> None:
    set_image_data_format(ordering)


def normalize_data_format(value: str | None) -> str:
    if value is None:
        return image_data_format()
    value = _DIM_ORDERING.get(value, value)
    if value not in ("channels_first", "channels_last"):
        raise ValueError(f"data_format must be 'channels_first' or 'channels_last', got {value!r}")
    return value


def floatx() -> str:
    return _config["floatx"]


def set_floatx(value: str) -> None:
    if value not in ("float16", "float32", "float64"):
        raise ValueError(f"floatx must be float16, float32 or float64, got {value!r}")
    _config["floatx"] = value


def epsilon() -> float:
    return _config["epsilon"]


def set_epsilon(value: float) -> None:
    _config["epsilon"] = float(value)


def unique_name(base: str) -> str:
    """``dense``, then ``dense_1``, ``dense_2``... (Keras 2.3+/3 naming)."""
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def reserve_name(name: str) -> None:
    """Record a user-given name so that automatic names do not collide with it."""
    import re
    m = re.fullmatch(r"(.*?)(?:_(\d+))?", name)
    base, idx = m.group(1), m.group(2)
    nxt = 1 if idx is None else int(idx) + 1
    if _name_counts[base] < nxt:
        _name_counts[base] = nxt


def clear_session() -> None:
    """Reset automatic layer names (as Keras's clear_session does)."""
    _name_counts.clear()
