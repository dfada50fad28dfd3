"""JSON twins of the summary pages (filled in with the pages)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["pages"])
