"""What every domain's routes share: the id type with its bounds, paging and role parameters.
Each domain keeps its own request and response bodies (`<domain>/schemas.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import Field

from pathways.properties import TaskRole

MAX_ID = 2**31 - 1
"""Ids are PostgreSQL INTEGERs (32-bit); SQLite's go further, but both databases hold the
same ids, and a larger number would fail inside the driver (a 500, or on SQLite a connection
left unusable) instead of being refused."""
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
"""Every id that enters: path and query parameters, request bodies and page forms (FastAPI
and pydantic both read the bounds); the command line and hand-parsed forms use `id_from`.
Out of range is a 422 naming the field, never a trip to the database."""
AfterId = Annotated[int, Query(ge=0, le=MAX_ID)]
"""A keyset cursor: rows after this id (0: from the start)."""
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]
RoleQuery = Annotated[TaskRole | None, Query()]


def id_from(text: str) -> int | None:
    """The id written in `text` (a form field, a command-line option), or None when it is
    not a number within `Id`'s bounds."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None
