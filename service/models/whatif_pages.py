"""The managers' what-if pages: the form for a draft or a version, and a run's page (its
progress with a cancel button while it runs; the comparison as a table, a chart and a CSV
link once done). The run itself is `whatif.JOBS`'s; these pages only start, show and cancel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.core import access
from service.core.context import Context
from service.core.deps import Call, PageCallDep
from service.core.errors import InvalidRequestError, NotFoundError
from service.core.pages import render, viewer
from service.core.schemas import Id
from service.core.tables import ModelDraft, ModelVersion
from service.models import whatif
from service.models.api_whatif import JobId

router = APIRouter(include_in_schema=False)
Kind = Literal["draft", "version"]


@dataclass(frozen=True)
class WhatIfForm:
    kind: Kind
    target_id: int
    label: str
    action: str
    max_patients: int
    finished: int
    """Finished episodes whose answers can be replayed (up to whatif.POOL_LIMIT)."""


@dataclass(frozen=True)
class WhatIfJobPage:
    job: whatif.Job
    percent: int
    chart: dict[str, Any]
    """The chart's data, for the page's JSON data island (no inline script: CSP)."""


def _form(ctx: Context, kind: Kind, target_id: int, max_patients: int) -> WhatIfForm:
    access.require_role(ctx.user, "manager")
    if kind == "draft":
        draft = ctx.session.get(ModelDraft, target_id)
        if draft is None:
            raise NotFoundError(f"there is no model draft {target_id}")
        label, action = f"draft {target_id} ({draft.name})", f"/models/drafts/{target_id}/whatif"
    else:
        if ctx.session.get(ModelVersion, target_id) is None:
            raise NotFoundError(f"there is no model version {target_id}")
        label, action = f"version {target_id}", f"/models/{target_id}/whatif"
    finished = min(whatif.finished_count(ctx.session), whatif.POOL_LIMIT)
    return WhatIfForm(kind, target_id, label, action, max_patients, finished)


def _numbers(cohort: str, patients: str, weeks: str) -> tuple[whatif.Cohort, int, int]:
    if cohort not in ("finished", "synthetic"):
        raise InvalidRequestError("choose finished or synthetic patients",
                                  [{"field": "cohort", "message": "finished or synthetic"}])
    values = []
    for name, text, top in (("patients", patients, 100_000), ("weeks", weeks, 52)):
        if not text.strip().isdigit() or not 1 <= int(text) <= top:
            raise InvalidRequestError(f"{name} must be a whole number from 1 to {top}",
                                      [{"field": name, "message": f"1 to {top}"}])
        values.append(int(text))
    return cohort, values[0], values[1]  # type: ignore[return-value]


@router.get("/models/drafts/{draft_id}/whatif", response_class=HTMLResponse)
async def draft_form(request: Request, draft_id: Id, call: PageCallDep) -> Response:
    limit = request.app.state.settings.whatif_max_patients

    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        return render(request, "models/whatif.html", _form(ctx, "draft", draft_id, limit), who)

    return await call(work)


@router.get("/models/{version_id}/whatif", response_class=HTMLResponse)
async def version_form(request: Request, version_id: Id, call: PageCallDep) -> Response:
    limit = request.app.state.settings.whatif_max_patients

    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        return render(request, "models/whatif.html", _form(ctx, "version", version_id, limit),
                      who)

    return await call(work)


@router.post("/models/drafts/{draft_id}/whatif")
async def start_for_draft(request: Request, draft_id: Id, call: PageCallDep,
                          cohort: Annotated[str, Form()] = "synthetic",
                          patients: Annotated[str, Form()] = "200",
                          weeks: Annotated[str, Form()] = "16") -> Response:
    return await _start(request, call, whatif.plan_for_draft, draft_id, cohort, patients,
                        weeks)


@router.post("/models/{version_id}/whatif")
async def start_for_version(request: Request, version_id: Id, call: PageCallDep,
                            cohort: Annotated[str, Form()] = "synthetic",
                            patients: Annotated[str, Form()] = "200",
                            weeks: Annotated[str, Form()] = "16") -> Response:
    return await _start(request, call, whatif.plan_for_version, version_id, cohort, patients,
                        weeks)


async def _start(request: Request, call: Call, plan_for: Callable[..., Any], candidate: int,
                 cohort: str, patients: str, weeks: str) -> Response:
    """Start a run of the form's cohort for a draft or a version, and go to its page."""
    chosen, count, horizon = _numbers(cohort, patients, weeks)
    limit = request.app.state.settings.whatif_max_patients

    def work(ctx: Context) -> str:
        return whatif.JOBS.start(plan_for(ctx, candidate, chosen, count, horizon, limit)).id

    return RedirectResponse(f"/models/whatif/{await call(work)}", status_code=303)


@router.get("/models/whatif/{job_id}", response_class=HTMLResponse)
async def job_page(request: Request, job_id: JobId, call: PageCallDep) -> Response:
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        job = whatif.job_for(ctx, job_id)
        percent = int(100 * job.done / job.total) if job.total else 0
        chart = {"weeks": job.plan.weeks, "deployed": job.plan.deployed,
                 "candidate": job.plan.candidate,
                 "weekly": job.result.weekly if job.result else {}}
        return render(request, "models/whatif_job.html", WhatIfJobPage(job, percent, chart),
                      who)

    return await call(work)


@router.post("/models/whatif/{job_id}/cancel")
async def cancel(job_id: JobId, call: PageCallDep) -> Response:
    def work(ctx: Context) -> None:
        whatif.job_for(ctx, job_id)
        whatif.JOBS.cancel(job_id)

    await call(work)
    return RedirectResponse(f"/models/whatif/{job_id}", status_code=303)
