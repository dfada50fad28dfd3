"""The managers' pages: the model library (their landing page) and a version's bundle to
download."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from service.core.context import Context
from service.core.deps import PageCallDep
from service.core.pages import render, viewer
from service.core.schemas import IdPath
from service.models import library

router = APIRouter()


@router.get("/models", response_class=HTMLResponse)
async def model_library(request: Request, call: PageCallDep) -> Response:
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        return render(request, "models/library.html", library.model_library(ctx), who)

    return await call(work)


@router.get("/models/{version_id}/bundle.zip")
async def download_bundle(version_id: IdPath, call: PageCallDep) -> Response:
    def work(ctx: Context) -> Response:
        name, content = library.bundle_zip(ctx, version_id)
        return Response(content, media_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return await call(work)
