"""Exercise illustrations: the picture files the exercise pages show, served to logged-in
patients and clinicians with headers that keep a picture a picture.

The pictures are checked when the library loads (pathways/images.py); here the browser is
told not to guess another type (nosniff) and, for an SVG opened on its own, to run nothing
and fetch nothing (its Content-Security-Policy)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from service.core.context import Context
from service.core.deps import PageCallDep
from service.patients import views as patient_views

router = APIRouter(include_in_schema=False)

SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
"""An SVG may style itself; nothing else (script, fonts, other files) is allowed."""


@router.get("/exercise-illustrations/{exercise_id}")
async def exercise_illustration(exercise_id: str, call: PageCallDep) -> Response:
    def work(ctx: Context) -> Response:
        picture = patient_views.exercise_illustration(ctx, exercise_id)
        headers = {"X-Content-Type-Options": "nosniff",
                   # Behind a login: browsers may keep it, shared caches may not.
                   "Cache-Control": "private, max-age=3600",
                   "Cross-Origin-Resource-Policy": "same-origin"}
        if picture.media_type == "image/svg+xml":
            headers["Content-Security-Policy"] = SVG_POLICY
        return FileResponse(picture.path, media_type=picture.media_type, headers=headers)

    return await call(work)
