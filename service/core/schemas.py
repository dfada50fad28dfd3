"""What every domain's routes share: id, paging, date and role parameters with their bounds,
and the error answer's shape. Each domain keeps its own request and response bodies
(`<domain>/schemas.py`)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, BeforeValidator, Field

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


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: object) -> object:
    """Only a date written YYYY-MM-DD (pydantic alone would also take `0` or `1700000000` as
    seconds since 1970, and `20260131`)."""
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        return value
    raise ValueError("write the date as YYYY-MM-DD, e.g. 2026-01-31")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]

EMAIL_PATTERN = r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
EmailAddress = Annotated[str, Field(max_length=254, pattern=EMAIL_PATTERN,
                                    examples=["anna@example.org"])]
"""A person's email address (plain ASCII, one @, a dotted domain): where reminders go."""
"""A calendar date, and only as YYYY-MM-DD: the one date type of queries and bodies."""
DateQuery = Annotated[IsoDate | None, Query()]


class FieldError(BaseModel):
    """One thing to fix: the field (a dotted path into the request) and what is wrong."""

    field: str
    message: str


class ErrorDetail(BaseModel):
    code: str = Field(description="What kind of error, for programs: `not_found`, "
                                  "`invalid_request`, `conflict`, ...")
    message: str = Field(description="A sentence saying what to fix.")
    fields: list[FieldError]


class ErrorPublic(BaseModel):
    """Every error answer (4xx) of the API has this shape (`service/core/errors.py`)."""

    error: ErrorDetail
