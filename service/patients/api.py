"""JSON twins of the patient's pages: the same dataclasses the Today and Progress pages render.

Patients only: anybody else gets 403 (401 when not logged in)."""

from __future__ import annotations

from fastapi import APIRouter

from service.core.deps import CallDep
from service.patients import progress as patient_progress
from service.patients import views as patient_views
from service.patients.progress import ProgressPage
from service.patients.views import TodayPage

router = APIRouter(prefix="/api", tags=["pages"])


@router.get("/today", response_model=TodayPage)
async def today(call: CallDep) -> TodayPage:
    """The patient's next actions in order, their exercise programme and the last 7 days.
    `episode_id` is null when they have no open episode (`episode_status` says how the last
    one ended)."""
    return await call(lambda ctx: patient_views.today(ctx))


@router.get("/progress", response_model=ProgressPage)
async def progress(call: CallDep) -> ProgressPage:
    """Pain and function over time (questionnaires and weekly check-ins) and a summary in
    plain words, judged by the minimal clinically important differences."""
    return await call(lambda ctx: patient_progress.progress(ctx))
