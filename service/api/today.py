"""JSON twins of the today pages (filled in with the pages)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["pages"])
