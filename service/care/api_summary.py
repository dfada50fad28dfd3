"""JSON twins of the summary pages: a patient's episode as the clinician page shows it."""

from __future__ import annotations

from fastapi import APIRouter

from service.care import page_views as clinician_views
from service.care.page_views import PatientSummary
from service.core.deps import CallDep
from service.core.schemas import Id

router = APIRouter(prefix="/api", tags=["pages"])


@router.get("/episodes/{episode_id}/summary", response_model=PatientSummary)
async def episode_summary(episode_id: Id, call: CallDep) -> PatientSummary:
    """Header, alerts, NICE NG59 notes, open tasks, timeline sentences, score series with
    their MCID, exercise adherence, education read and the pathway position (clinicians of
    the patient's clinic; `/patients/{episode_id}` shows the same)."""
    return await call(lambda ctx: clinician_views.patient_summary(ctx, episode_id))
