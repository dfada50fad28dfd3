"""What every domain's routes share: id, paging and role parameters with their bounds. Each
domain keeps its own request and response bodies (`<domain>/schemas.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from pathways.properties import TaskRole

MAX_ID = 2**31 - 1
"""Ids are 32-bit on PostgreSQL; a larger one is simply not found (422, never a 500)."""
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
AfterId = Annotated[int, Query(ge=0, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]
RoleQuery = Annotated[TaskRole | None, Query()]
