"""Server-rendered pages (Jinja2 + htmx) for clinicians and patients."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from . import session

    found = [session.router]
    try:
        from . import clinician
        found.append(clinician.router)
    except ImportError:
        pass
    try:
        from . import patient
        found.append(patient.router)
    except ImportError:
        pass
    return found
