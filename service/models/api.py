"""The managers' routes: model versions, drafts edited in the browser, diffs between versions
and migrating running episodes."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, File, Response, UploadFile
from fastapi.responses import PlainTextResponse
from sqlmodel import col, select

from pathways.models import Problem
from service.core import access
from service.core.context import Context
from service.core.deps import CallDep, SlowCallDep
from service.core.errors import InvalidRequestError, NotFoundError
from service.core.schemas import DateQuery, Id
from service.core.tables import ModelDraft, ModelVersion
from service.models import analytics, drafts, versions
from service.models import registry as models_registry
from service.models.schemas import (
    DraftCreate,
    DraftProblems,
    DraftPublic,
    DraftSummaryPublic,
    FileSaved,
    FileText,
    MigrationRequest,
    ModelAnalyticsPublic,
    ModelUpload,
    ModelVersionPublic,
    ProblemPublic,
)

router = APIRouter(prefix="/api", tags=["models"])
UPLOAD_PATH = "/api/models/drafts/{draft_id}/upload"
UPLOAD_BODY_BYTES = drafts.MAX_UPLOAD_BYTES + 1_000_000
"""An upload's request body at most: the files (`drafts.MAX_UPLOAD_BYTES` together) and
the multipart framing around each (core.request_guard refuses a larger body unread)."""


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
async def model_files(version_id: Id, call: CallDep) -> dict[str, str]:
    def work(ctx: Context) -> dict[str, str]:
        access.require_role(ctx.user, "manager")
        version = ctx.session.get(ModelVersion, version_id)
        if version is None:
            raise NotFoundError(f"there is no model version {version_id}")
        return dict(version.files)

    return await call(work)


class CsvResponse(PlainTextResponse):
    media_type = "text/csv"


@router.get("/models/{version_id}/analytics", response_model=ModelAnalyticsPublic)
async def model_analytics(version_id: Id, call: SlowCallDep, start: DateQuery = None,
                          end: DateQuery = None,
                          clinic_id: Id | None = None) -> ModelAnalyticsPublic:
    """A version's analytics over the episodes on it that started from `start` to `end`
    (YYYY-MM-DD, both included; by default the last 365 days), at one clinic or all: per
    step, the episodes waiting there now and the median and 90th-percentile hours from ready
    to done; per gateway, how often each path out of it was taken; outcomes by stratum."""
    return await call(lambda ctx: analytics.model_analytics(ctx, version_id, start, end,
                                                            clinic_id))


@router.get("/models/{version_id}/analytics.csv", response_class=CsvResponse,
            responses={200: {"content": {"text/csv": {}}}})
async def model_analytics_csv(version_id: Id, call: SlowCallDep, start: DateQuery = None,
                              end: DateQuery = None,
                              clinic_id: Id | None = None) -> CsvResponse:
    """The same numbers as `GET /api/models/{version_id}/analytics`, as CSV: step and branch
    rows, then the outcomes by stratum."""
    report = await call(lambda ctx: analytics.model_analytics(ctx, version_id, start, end,
                                                              clinic_id))
    return CsvResponse(analytics.analytics_csv(report), headers={
        "Content-Disposition":
            f'attachment; filename="carepath-model-{version_id}-analytics.csv"'})


# -- drafts

def _draft(draft: ModelDraft) -> DraftPublic:
    return DraftPublic.model_validate(draft, from_attributes=True)


def _problems(found: list[Problem]) -> DraftProblems:
    return DraftProblems(deployable=not found,
                         problems=[ProblemPublic(file=p.file, element=p.element,
                                                 message=p.message) for p in found])


@router.get("/models/drafts", response_model=list[DraftSummaryPublic])
async def list_drafts(call: CallDep) -> list[DraftSummaryPublic]:
    def work(ctx: Context) -> list[DraftSummaryPublic]:
        return [DraftSummaryPublic.model_validate(dataclasses.asdict(d))
                for d in drafts.list_drafts(ctx)]

    return await call(work)


@router.post("/models/drafts", response_model=DraftPublic, status_code=201)
async def create_draft(body: DraftCreate, call: CallDep) -> DraftPublic:
    def work(ctx: Context) -> DraftPublic:
        return _draft(drafts.create_draft(ctx, body.from_version, body.name))

    return await call(work)


@router.get("/models/drafts/{draft_id}", response_model=DraftPublic)
async def get_draft(draft_id: Id, call: CallDep) -> DraftPublic:
    def work(ctx: Context) -> DraftPublic:
        return _draft(drafts.get_draft(ctx, draft_id))

    return await call(work)


@router.delete("/models/drafts/{draft_id}", status_code=204)
async def delete_draft(draft_id: Id, call: CallDep) -> Response:
    def work(ctx: Context) -> None:
        drafts.delete_draft(ctx, draft_id)

    await call(work)
    return Response(status_code=204)


@router.put("/models/drafts/{draft_id}/files/{name:path}", response_model=FileSaved)
async def save_file(draft_id: Id, name: str, body: FileText, call: CallDep) -> FileSaved:
    """Save one file of a draft as the manager edits (the editor saves as they work)."""
    def work(ctx: Context) -> FileSaved:
        draft = drafts.save_file(ctx, draft_id, name, body.text)
        return FileSaved(name=name, saved_at=draft.updated_at)

    return await call(work)


@router.delete("/models/drafts/{draft_id}/files/{name:path}", status_code=204)
async def delete_file(draft_id: Id, name: str, call: CallDep) -> Response:
    def work(ctx: Context) -> None:
        drafts.delete_file(ctx, draft_id, name)

    await call(work)
    return Response(status_code=204)


@router.post(UPLOAD_PATH.removeprefix("/api"), response_model=DraftPublic)
async def upload(draft_id: Id,
                 files: Annotated[list[UploadFile], File()], call: SlowCallDep) -> DraftPublic:
    """Add files made in another tool: .bpmn, .dmn, forms (.json), pathway.toml, or a whole
    bundle as one .zip. All are checked first; a refused upload changes nothing."""
    received: dict[str, bytes] = {}
    total = 0
    for upload_file in files:
        content = await upload_file.read(drafts.MAX_UPLOAD_BYTES + 1)
        total += len(content)
        if total > drafts.MAX_UPLOAD_BYTES:
            raise InvalidRequestError(f"the upload is larger than the limit of "
                                      f"{drafts.MAX_UPLOAD_BYTES:,} bytes")
        received[upload_file.filename or "upload"] = content

    def work(ctx: Context) -> DraftPublic:
        return _draft(drafts.upload(ctx, draft_id, received))

    return await call(work)


@router.get("/models/drafts/{draft_id}/problems", response_model=DraftProblems)
async def draft_problems(draft_id: Id, call: SlowCallDep) -> DraftProblems:
    """Every problem that would stop a deploy: hostile content, unsupported elements, a task
    without a role, a missing form or module, DMN overlaps, expression errors."""
    def work(ctx: Context) -> DraftProblems:
        return _problems(drafts.problems(ctx, draft_id))

    return await call(work)


@router.post("/models/drafts/{draft_id}/deploy", response_model=ModelVersionPublic,
             status_code=201)
async def deploy_draft(draft_id: Id, call: SlowCallDep) -> ModelVersionPublic:
    """Deploy a draft without problems as a new version: new episodes start on it, running
    ones stay on theirs until migrated. A draft with problems gets 422 listing them."""
    def work(ctx: Context) -> ModelVersionPublic:
        return _public(drafts.deploy(ctx, draft_id))

    return await call(work)


# -- between versions

@router.get("/models/{old_id}/diff/{new_id}")
async def diff(old_id: Id, new_id: Id, call: SlowCallDep) -> dict[str, Any]:
    """What changed from one version to another, in words and per diagram element."""
    def work(ctx: Context) -> dict[str, Any]:
        return dataclasses.asdict(versions.version_diff(ctx, old_id, new_id))

    return await call(work)


@router.post("/models/migrations")
async def migrate(body: MigrationRequest, call: SlowCallDep) -> dict[str, Any]:
    """Move running episodes to a version: a dry run by default (nothing changes); each
    episode moves on its own, and one that cannot keeps its version, with the reason."""
    def work(ctx: Context) -> dict[str, Any]:
        report = versions.migrate(ctx, body.to_version, body.episodes, body.step,
                                  body.stratum, body.dry_run)
        return {**dataclasses.asdict(report), "moved": report.moved,
                "refused": report.refused}

    return await call(work)
