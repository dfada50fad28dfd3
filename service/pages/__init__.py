"""Server-rendered pages (Jinja2 + htmx) for clinicians and patients."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from . import clinician, illustrations, patient, session

    return [session.router, clinician.router, patient.router, illustrations.router]
