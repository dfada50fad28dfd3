"""Model versions (managers) and the audit log (auditors)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from .. import access, models_registry, views
from ..deps import ContextDep
from ..errors import NotFoundError
from ..schemas import (
    AfterId,
    EventsPublic,
    IdPath,
    IdQuery,
    ModelUpload,
    ModelVersionPublic,
    VerifyPublic,
)
from ..tables import ModelVersion

router = APIRouter(prefix="/api", tags=["models", "audit"])


def _public(version: ModelVersion) -> ModelVersionPublic:
    return ModelVersionPublic.model_validate(version, from_attributes=True)


@router.get("/models", response_model=list[ModelVersionPublic])
def model_versions(ctx: ContextDep) -> list[ModelVersionPublic]:
    access.require_role(ctx.user, "manager")
    rows = ctx.session.exec(select(ModelVersion).order_by(col(ModelVersion.id).desc())).all()
    return [_public(v) for v in rows]


@router.post("/models", response_model=ModelVersionPublic, status_code=201)
def deploy(body: ModelUpload, ctx: ContextDep) -> ModelVersionPublic:
    user = access.require_role(ctx.user, "manager")
    files = {name: text.encode("utf-8") for name, text in body.files.items()}
    return _public(models_registry.deploy(ctx.session, files, user, ctx.now, body.activate))


@router.get("/models/{version_id}/files")
def model_files(version_id: IdPath, ctx: ContextDep) -> dict[str, str]:
    access.require_role(ctx.user, "manager")
    version = ctx.session.get(ModelVersion, version_id)
    if version is None:
        raise NotFoundError(f"there is no model version {version_id}")
    return dict(version.files)


@router.get("/audit/events", response_model=EventsPublic)
def audit_events(ctx: ContextDep, episode_id: IdQuery = None, after_id: AfterId = 0,
                 limit: Annotated[int, Query(ge=1, le=10000)] = 1000) -> EventsPublic:
    events = views.audit_events(ctx, episode_id, after_id, limit)
    return EventsPublic(data=events, count=len(events))


@router.get("/audit/verify", response_model=VerifyPublic)
def verify(ctx: ContextDep) -> VerifyPublic:
    return views.verify_log(ctx)
