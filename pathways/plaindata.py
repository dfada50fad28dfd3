"""Plain task data: the JSON-shaped values (dicts, lists, text, numbers, booleans, None)
that task data is made of, and a fast deep copy of them."""

from __future__ import annotations

import copy
from typing import Any

JSON_SCALARS = (str, int, float, bool, type(None))


def plain_copy(value: Any) -> Any:
    """A deep copy of plain data (dicts, lists, tuples and scalars, as task data always is):
    the same result as copy.deepcopy, several times faster."""
    if isinstance(value, dict):
        return {key: plain_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_copy(item) for item in value]
    if isinstance(value, tuple):
        return tuple(plain_copy(item) for item in value)
    if isinstance(value, JSON_SCALARS):
        return value
    return copy.deepcopy(value)
