"""The managers' what-if routes: start a run of a draft or a version next to the deployed
one, follow its progress, cancel it, and fetch its comparison as JSON or CSV."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Path, Response

from service.core.context import Context
from service.core.deps import CallDep, SettingsDep
from service.core.errors import ConflictError
from service.core.schemas import Id
from service.models import whatif
from service.models.schemas import (
    WhatIfJobPublic,
    WhatIfRequest,
    WhatIfResultPublic,
    WhatIfRowPublic,
)

router = APIRouter(prefix="/api", tags=["models"])
JobId = Annotated[str, Path(pattern="^[0-9a-f]{32}$", description="a what-if run's id")]


def job_public(job: whatif.Job) -> WhatIfJobPublic:
    result = job.result
    return WhatIfJobPublic(
        id=job.id, state=job.state, done=job.done, total=job.total,
        candidate=job.plan.candidate, deployed=job.plan.deployed, error=job.error,
        result=None if result is None else WhatIfResultPublic(
            candidate=result.candidate, deployed=result.deployed, cohort=result.cohort,
            patients=result.patients, weeks=result.weeks, source=result.source,
            rows=[WhatIfRowPublic(**dataclasses.asdict(row), change=row.change)
                  for row in result.rows],
            weekly={role: {k: list(v) for k, v in pair.items()}
                    for role, pair in result.weekly.items()},
            tasks={name: {k: list(v) for k, v in pair.items()}
                   for name, pair in result.tasks.items()},
            strata=result.strata, problems=result.problems))


@router.post("/models/drafts/{draft_id}/whatif", response_model=WhatIfJobPublic,
             status_code=202)
async def draft_whatif(draft_id: Id, body: WhatIfRequest, call: CallDep,
                       settings: SettingsDep) -> WhatIfJobPublic:
    """Start a what-if run of a draft next to the deployed version; poll the answer's job."""
    def work(ctx: Context) -> whatif.Job:
        plan = whatif.plan_for_draft(ctx, draft_id, body.cohort, body.patients, body.weeks,
                                     settings.whatif_max_patients)
        return whatif.JOBS.start(plan)

    return job_public(await call(work))


@router.post("/models/{version_id}/whatif", response_model=WhatIfJobPublic, status_code=202)
async def version_whatif(version_id: Id, body: WhatIfRequest, call: CallDep,
                         settings: SettingsDep) -> WhatIfJobPublic:
    """Start a what-if run of a version next to the deployed version."""
    def work(ctx: Context) -> whatif.Job:
        plan = whatif.plan_for_version(ctx, version_id, body.cohort, body.patients,
                                       body.weeks, settings.whatif_max_patients)
        return whatif.JOBS.start(plan)

    return job_public(await call(work))


@router.get("/models/whatif/{job_id}", response_model=WhatIfJobPublic)
async def whatif_job(job_id: JobId, call: CallDep) -> WhatIfJobPublic:
    """A run's progress (patients done of total) and, once done, its comparison."""
    return job_public(await call(lambda ctx: whatif.job_for(ctx, job_id)))


@router.post("/models/whatif/{job_id}/cancel", response_model=WhatIfJobPublic)
async def cancel_whatif(job_id: JobId, call: CallDep) -> WhatIfJobPublic:
    """Stop a run (its workers end; nothing of it is kept). A finished run stays as it is."""
    def work(ctx: Context) -> whatif.Job:
        whatif.job_for(ctx, job_id)
        return whatif.JOBS.cancel(job_id)

    return job_public(await call(work))


@router.get("/models/whatif/{job_id}/comparison.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
async def whatif_csv(job_id: JobId, call: CallDep) -> Response:
    """A finished run's comparison as CSV: group, measure, deployed, candidate, change."""
    def work(ctx: Context) -> str:
        job = whatif.job_for(ctx, job_id)
        if job.result is None:
            raise ConflictError(f"the what-if run is {job.state}: the CSV is there once it "
                                "is done")
        return whatif.comparison_csv(job.result)

    text = await call(work)
    return Response(text, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="whatif-{job_id[:8]}.csv"'})
