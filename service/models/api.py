"""Model versions: the managers' routes."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import col, select

from service.core import access
from service.core.context import Context
from service.core.deps import CallDep, SlowCallDep
from service.core.errors import NotFoundError
from service.core.schemas import IdPath
from service.core.tables import ModelVersion
from service.models import registry as models_registry
from service.models.schemas import ModelUpload, ModelVersionPublic

router = APIRouter(prefix="/api", tags=["models"])


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
