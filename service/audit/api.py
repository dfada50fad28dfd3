"""The auditors' routes: the event log, its hash-chain check and checkpoints, the access log, the
guideline-adherence indicators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from service.audit import conformance, indicators, views
from service.audit.schemas import (
    AccessLogPublic,
    ConformancePublic,
    IndicatorsPublic,
    VerifyPublic,
)
from service.care.schemas import EventsPublic
from service.core.context import Context
from service.core.deps import SlowCallDep
from service.core.schemas import AfterId, DateQuery, Id

router = APIRouter(prefix="/api", tags=["audit"])


@router.get("/audit/events", response_model=EventsPublic)
async def audit_events(call: SlowCallDep, episode_id: Id | None = None, after_id: AfterId = 0,
                       limit: Annotated[int, Query(ge=1, le=10000)] = 1000) -> EventsPublic:
    def work(ctx: Context) -> EventsPublic:
        events = views.audit_events(ctx, episode_id, after_id, limit)
        return EventsPublic(data=events, count=len(events))

    return await call(work)


@router.get("/audit/access", response_model=AccessLogPublic)
async def audit_access(call: SlowCallDep, patient_id: Id | None = None, user_id: Id | None = None,
                       after_id: AfterId = 0,
                       limit: Annotated[int, Query(ge=1, le=10000)] = 1000) -> AccessLogPublic:
    """Who opened which patient's record, when, with which request (clinicians' successful
    requests that read one patient's record; lists are not logged)."""
    def work(ctx: Context) -> AccessLogPublic:
        records = views.access_log(ctx, patient_id, user_id, after_id, limit)
        return AccessLogPublic(data=records, count=len(records))

    return await call(work)


@router.get("/audit/verify", response_model=VerifyPublic)
async def verify(call: SlowCallDep) -> VerifyPublic:
    """Check the event log's keyed hash chain and its checkpoints: the first bad event and
    what was done to it; if intact, its head (checkpointed)."""
    return await call(lambda ctx: views.verify_log(ctx))


class JsonLinesResponse(PlainTextResponse):
    media_type = "application/jsonl"


@router.get("/audit/checkpoints", response_class=JsonLinesResponse)
async def audit_checkpoints(call: SlowCallDep) -> JsonLinesResponse:
    """The checkpoint file of the log's head (one signed JSON object a line), to keep a copy
    of outside the service."""
    text = await call(views.checkpoint_file)
    return JsonLinesResponse(text, headers={
        "Content-Disposition": 'attachment; filename="carepath-checkpoints.jsonl"'})


@router.get("/audit/indicators", response_model=IndicatorsPublic)
async def audit_indicators(call: SlowCallDep, start: DateQuery = None,
                           end: DateQuery = None,
                           clinic_id: Id | None = None) -> IndicatorsPublic:
    """Guideline-adherence indicators (numerator, denominator, rate) per clinic and per
    clinician, over the episodes that started from `start` to `end` (YYYY-MM-DD, both
    included; by default the last 365 days)."""
    return await call(lambda ctx: indicators.adherence_indicators(ctx, start, end, clinic_id))


@router.get("/audit/conformance", response_model=ConformancePublic)
async def audit_conformance(call: SlowCallDep, episode_id: Id | None = None,
                            start: DateQuery = None,
                            end: DateQuery = None,
                            clinic_id: Id | None = None) -> ConformancePublic:
    """How episodes' paths conform to their model versions: one episode (`episode_id`), or
    the episodes started from `start` to `end` (default: the last 365 days), counted per
    deviation kind and per step, with each episode that does not conform."""
    if episode_id is not None:
        return await call(lambda ctx: conformance.episode_conformance(ctx, episode_id))
    return await call(lambda ctx: conformance.conformance_summary(ctx, start, end, clinic_id))
