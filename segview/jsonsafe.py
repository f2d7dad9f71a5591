"""Plain JSON values from what segview writes: configs, cards, reports and recordings.

One rule everywhere: tuples become lists, paths strings, numpy scalars Python
numbers and numpy arrays nested lists. Duck-typed (``tolist``/``item``), so this
module needs no numpy and serves torch tensors the same way.
"""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any


def json_safe(value: Any) -> Any:
    """``value`` with every dict, list and tuple walked and each leaf made a JSON type where it is
    not one (also what ``torch.save(..., weights_only)`` can load back); other values stay as they are."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    leaf = _plain_leaf(value)
    return json_safe(leaf) if isinstance(leaf, list) else leaf


def json_default(value: Any) -> Any:
    """The ``default`` hook of :func:`json.dumps`: called for what JSON cannot hold as it is."""
    leaf = _plain_leaf(value)
    if leaf is value:
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")
    return leaf


def json_bytes(data: Any) -> bytes:
    """The file segview writes for ``data``: indented UTF-8 JSON, a final newline, and no NaN
    (``allow_nan=False``: a NaN is written as null by whoever builds ``data``, or refused here)."""
    return (json.dumps(data, indent=2, allow_nan=False, default=json_default) + "\n").encode("utf-8")


def _plain_leaf(value: Any) -> Any:
    if isinstance(value, PurePath):
        return str(value)
    if getattr(value, "ndim", 0) and hasattr(value, "tolist"):  # numpy arrays
        return value.tolist()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value
