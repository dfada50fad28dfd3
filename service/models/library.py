"""The managers' model library: every deployed version, who deployed it and when, how many
active episodes run on it, its files as a bundle to download, and the drafts in the making."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, func, select

from service.core import access
from service.core.context import Context
from service.core.errors import NotFoundError
from service.core.tables import Episode, ModelVersion, User
from service.models.drafts import DraftSummary, list_drafts


@dataclass(frozen=True)
class VersionRow:
    id: int
    name: str
    process_id: str
    digest: str
    """The first 12 characters of the bundle's content hash: the version's identity."""
    deployed_by: str
    deployed_at: datetime
    active: bool
    """New episodes start on the active version; running ones stay on theirs."""
    active_episodes: int
    files: tuple[str, ...]


@dataclass(frozen=True)
class ModelLibraryPage:
    versions: tuple[VersionRow, ...]
    active_episodes: int
    drafts: tuple[DraftSummary, ...]


def model_library(ctx: Context) -> ModelLibraryPage:
    access.require_role(ctx.user, "manager")
    running = dict(ctx.session.exec(
        select(Episode.model_version_id, func.count())
        .where(Episode.status == "active").group_by(col(Episode.model_version_id))).all())
    rows = ctx.session.execute(
        sa.select(col(ModelVersion.id), col(ModelVersion.name), col(ModelVersion.process_id),
                  col(ModelVersion.digest), col(ModelVersion.deployed_at),
                  col(ModelVersion.active), col(ModelVersion.files), col(User.username))
        .outerjoin(User, col(User.id) == col(ModelVersion.deployed_by))
        .order_by(col(ModelVersion.id).desc())).all()
    versions = tuple(
        VersionRow(id=version_id or 0, name=name, process_id=process_id, digest=digest[:12],
                   deployed_by=username or "carepath or the host's operator (command line)",
                   deployed_at=deployed_at, active=active,
                   active_episodes=int(running.get(version_id or 0, 0)),
                   files=tuple(sorted(files)))
        for version_id, name, process_id, digest, deployed_at, active, files, username in rows)
    return ModelLibraryPage(versions, sum(v.active_episodes for v in versions),
                            tuple(list_drafts(ctx)))


def bundle_zip(ctx: Context, version_id: int) -> tuple[str, bytes]:
    """A version's files as a zip a modelling tool opens (and `POST /api/models` takes back
    file by file), with its file name."""
    access.require_role(ctx.user, "manager")
    version = ctx.session.get(ModelVersion, version_id)
    if version is None:
        raise NotFoundError(f"there is no model version {version_id}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name in sorted(version.files):
            bundle.writestr(name, version.files[name])
    return f"carepath-model-{version.id}-{version.digest[:8]}.zip", buffer.getvalue()
