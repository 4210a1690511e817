"""Nested structures as Keras 3 walks them (``keras.tree``): the order leaves are flattened in, their
paths, and packing flat values back into a structure.

Containers are lists, tuples, namedtuples and dicts; everything else (a tensor, an array, None) is a
leaf. A plain dict (and a defaultdict) is walked in sorted key order, an OrderedDict in its own
order, a namedtuple in field order. A path is the tuple of keys and positions leading to a leaf; its
text (`path_text`) joins them with dots, as Keras's messages write it (``'others.2'``; ``''`` for a
structure that is one leaf). The nesting of a structure is its user's, a few levels at most, so the
walks recurse.
"""
from __future__ import annotations

import collections


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def is_nested(x) -> bool:
    return isinstance(x, (list, tuple, dict))


def _items(x) -> list:
    """The (key, child) pairs of a container, in Keras's order."""
    if isinstance(x, dict):
        keys = list(x) if isinstance(x, collections.OrderedDict) else sorted(x)
        return [(k, x[k]) for k in keys]
    return list(enumerate(x))


def flatten_with_path(structure) -> list[tuple[tuple, object]]:
    """``[(path, leaf), ...]`` in Keras's flatten order."""
    out: list = []

    def walk(x, path):
        if not is_nested(x):
            out.append((path, x))
            return
        for k, child in _items(x):
            walk(child, path + (k,))
    walk(structure, ())
    return out


def flatten(structure) -> list:
    """The leaves in Keras's order (sorted dict keys, namedtuple fields, list positions)."""
    return [leaf for _, leaf in flatten_with_path(structure)]


def path_text(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def pack_sequence_as(structure, flat: list):
    """``structure`` with its leaves replaced, in flatten order, by the values of ``flat``. Dicts keep
    the structure's own key order; namedtuples stay namedtuples."""
    values = iter(flat)

    def build(x):
        if not is_nested(x):
            return next(values)
        children = {k: build(child) for k, child in _items(x)}
        if isinstance(x, dict):
            new = type(x)() if not isinstance(x, collections.defaultdict) else type(x)(x.default_factory)
            for k in x:  # the structure's order, filled in flatten order
                new[k] = children[k]
            return new
        items = [children[i] for i in range(len(x))]
        if _is_namedtuple(x):
            return type(x)(*items)
        return type(x)(items) if isinstance(x, tuple) else items
    result = build(structure)
    if next(values, _END) is not _END:
        raise ValueError(f"pack_sequence_as: more values ({len(flat)}) than leaves in the structure")
    return result


_END = object()


def map_structure(fn, structure):
    """``structure`` with ``fn`` applied to every leaf."""
    return pack_sequence_as(structure, [fn(leaf) for leaf in flatten(structure)])


def same_structure(a, b, lists_are_tuples: bool = True) -> bool:
    """Whether ``a`` and ``b`` nest alike (containers of the same kind, same keys and lengths).
    ``lists_are_tuples``: a list and a tuple count as the same kind (Keras compares user inputs so)."""
    if not is_nested(a) or not is_nested(b):
        return is_nested(a) == is_nested(b)
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)) or set(a) != set(b):
            return False
        return all(same_structure(a[k], b[k], lists_are_tuples) for k in a)
    if _is_namedtuple(a) or _is_namedtuple(b):
        if type(a) is not type(b):
            return False
    elif not lists_are_tuples and type(a) is not type(b):
        return False
    return len(a) == len(b) and all(same_structure(x, y, lists_are_tuples) for x, y in zip(a, b))


def unpack_singleton(x):
    """The one element of a list or tuple of one (Keras returns a model's single output so)."""
    if isinstance(x, (list, tuple)) and len(x) == 1:
        return x[0]
    return x
