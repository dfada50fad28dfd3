"""Model versions (managers) and the audit log (auditors)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from .. import access, indicators, models_registry, views
from ..deps import CallDep, SlowCallDep
from ..episodes import Context
from ..errors import NotFoundError
from ..schemas import (
    AccessLogPublic,
    AfterId,
    EventsPublic,
    IdPath,
    IdQuery,
    IndicatorsPublic,
    ModelUpload,
    ModelVersionPublic,
    VerifyPublic,
)
from ..tables import ModelVersion

router = APIRouter(prefix="/api", tags=["models", "audit"])


def _public(version: ModelVersion) -> ModelVersionPublic:
    return ModelVersionPublic.model_validate(version, from_attributes=True)


@router.get("/models", response_model=list[ModelVersionPublic])
async def model_versions(call: CallDep) -> list[ModelVersionPublic]:
    def work(ctx: Context) -> list[ModelVersionPublic]:
        access.require_role(ctx.user, "manager")
        rows = ctx.session.exec(select(ModelVersion).order_by(col(ModelVersion.id).desc())).all()
        return [_public(v) for v in rows]

    return await call(work)


@router.post("/models", response_model=ModelVersionPublic, status_code=201)
async def deploy(body: ModelUpload, call: SlowCallDep) -> ModelVersionPublic:
    def work(ctx: Context) -> ModelVersionPublic:
        user = access.require_role(ctx.user, "manager")
        files = {name: text.encode("utf-8") for name, text in body.files.items()}
        return _public(models_registry.deploy(ctx.session, files, user, ctx.now, body.activate))

    return await call(work)


@router.get("/models/{version_id}/files")
async def model_files(version_id: IdPath, call: CallDep) -> dict[str, str]:
    def work(ctx: Context) -> dict[str, str]:
        access.require_role(ctx.user, "manager")
        version = ctx.session.get(ModelVersion, version_id)
        if version is None:
            raise NotFoundError(f"there is no model version {version_id}")
        return dict(version.files)

    return await call(work)


@router.get("/audit/events", response_model=EventsPublic)
async def audit_events(call: SlowCallDep, episode_id: IdQuery = None, after_id: AfterId = 0,
                       limit: Annotated[int, Query(ge=1, le=10000)] = 1000) -> EventsPublic:
    def work(ctx: Context) -> EventsPublic:
        events = views.audit_events(ctx, episode_id, after_id, limit)
        return EventsPublic(data=events, count=len(events))

    return await call(work)


@router.get("/audit/access", response_model=AccessLogPublic)
async def audit_access(call: SlowCallDep, patient_id: IdQuery = None, user_id: IdQuery = None,
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
    return await call(lambda ctx: views.verify_log(ctx))


@router.get("/audit/indicators", response_model=IndicatorsPublic)
async def audit_indicators(call: SlowCallDep, start: Annotated[date | None, Query()] = None,
                           end: Annotated[date | None, Query()] = None,
                           clinic_id: IdQuery = None) -> IndicatorsPublic:
    """Guideline-adherence indicators (numerator, denominator, rate) per clinic and per
    clinician, over the episodes that started from `start` to `end` (YYYY-MM-DD, both
    included; by default the last 365 days)."""
    return await call(lambda ctx: indicators.adherence_indicators(ctx, start, end, clinic_id))
