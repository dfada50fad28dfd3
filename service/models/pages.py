"""The managers' pages: the model library (their landing page), a version's bundle to
download, the editor of a draft, the changes between two versions, and migrating running
episodes to a version."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.core.context import Context
from service.core.deps import PageCallDep, SlowPageCallDep
from service.core.errors import InvalidRequestError
from service.core.pages import render, viewer
from service.core.schemas import DateQuery, Id, id_from
from service.models import analytics, drafts, library, versions
from service.models.versions import MigrationPage, migration_page

router = APIRouter(include_in_schema=False)


@router.get("/models", response_class=HTMLResponse)
async def model_library(request: Request, call: PageCallDep) -> Response:
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        return render(request, "models/library.html", library.model_library(ctx), who)

    return await call(work)


@router.get("/models/{version_id}/bundle.zip")
async def download_bundle(version_id: Id, call: PageCallDep) -> Response:
    def work(ctx: Context) -> Response:
        name, content = library.bundle_zip(ctx, version_id)
        return Response(content, media_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return await call(work)


@router.get("/models/{version_id}/analytics", response_class=HTMLResponse)
async def model_analytics(request: Request, version_id: Id, call: SlowPageCallDep,
                          start: DateQuery = None, end: DateQuery = None,
                          clinic_id: Id | None = None) -> Response:
    """The version's diagram with where episodes wait and how long each step takes drawn
    over it, and the same numbers as tables."""
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        report = analytics.model_analytics(ctx, version_id, start, end, clinic_id)
        return render(request, "models/analytics.html", analytics.analytics_page(ctx, report),
                      who)

    return await call(work)


@router.post("/models/drafts")
async def new_draft(call: PageCallDep,
                    from_version: Annotated[Id | None, Form()] = None) -> Response:
    """Start a draft from a version (the library's "Edit a copy" button), then open it."""
    def work(ctx: Context) -> int:
        return drafts.create_draft(ctx, from_version, None).id or 0

    draft_id = await call(work)
    return RedirectResponse(f"/models/drafts/{draft_id}", status_code=303)


@router.get("/models/drafts/{draft_id}", response_class=HTMLResponse)
async def editor(request: Request, draft_id: Id, call: PageCallDep) -> Response:
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        return render(request, "models/editor.html", drafts.editor_page(ctx, draft_id), who)

    return await call(work)


@router.get("/models/{old_id}/diff/{new_id}", response_class=HTMLResponse)
async def diff(request: Request, old_id: Id, new_id: Id,
               call: SlowPageCallDep) -> Response:
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        return render(request, "models/diff.html", versions.version_diff(ctx, old_id, new_id),
                      who)

    return await call(work)


@router.get("/models/{version_id}/migrate", response_class=HTMLResponse)
async def migration_form(request: Request, version_id: Id, call: PageCallDep) -> Response:
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        return render(request, "models/migrate.html", migration_page(ctx, version_id), who)

    return await call(work)


@router.post("/models/{version_id}/migrate", response_class=HTMLResponse)
async def migrate(request: Request, version_id: Id, call: SlowPageCallDep) -> Response:
    """Dry run (the first button) or migrate (after a dry run): the same form, the plan or
    the outcome per episode below it."""
    form = getattr(request.state, "form_lists", {})
    episodes = _episode_ids(form.get("episodes", []))
    single = {k: (v[0] if v else "") for k, v in form.items()}
    step = single.get("step") or None
    stratum = single.get("stratum") or None
    dry_run = single.get("action") != "migrate"

    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        page: MigrationPage = migration_page(ctx, version_id, episodes, step, stratum, dry_run)
        return render(request, "models/migrate.html", page, who)

    return await call(work)


def _episode_ids(values: list[str]) -> list[int]:
    ids = []
    for value in values:
        for part in str(value).replace(",", " ").split():
            episode_id = id_from(part)
            if episode_id is None:
                raise InvalidRequestError(f"{part!r} is not an episode number",
                                          [{"field": "episodes", "message": "episode numbers"
                                            " separated by spaces or commas"}])
            ids.append(episode_id)
    return ids
