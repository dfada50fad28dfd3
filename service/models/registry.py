"""Model versions: deploy a validated bundle as an immutable version, and hand out one cached
`PathwayEngine` per version."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select, update

from pathways.clock import Clock
from pathways.engine import PathwayEngine
from pathways.models import (
    ModelError,
    bundle_digest,
    load_bundle,
    name_problems,
    read_bundle_dir,
)
from service.core.errors import InvalidRequestError, NotFoundError
from service.core.tables import ModelVersion, User


class EngineRegistry:
    """One engine per model version, built from the stored files on first use."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._engines: dict[int, PathwayEngine] = {}
        self._lock = threading.Lock()

    def engine_by_id(self, session: Session, version_id: int) -> PathwayEngine:
        """The engine of a version, loading the (large) version row only the first time."""
        engine = self._engines.get(version_id)
        if engine is not None:
            return engine
        version = session.get(ModelVersion, version_id)
        if version is None:
            raise NotFoundError(f"there is no model version {version_id}")
        return self.engine_for(version)

    def active(self, session: Session) -> PathwayEngine:
        """The engine of the active model version (reading only its id)."""
        return self.engine_by_id(session, active_version_id(session))

    def engine_for(self, version: ModelVersion) -> PathwayEngine:
        assert version.id is not None
        engine = self._engines.get(version.id)
        if engine is None:
            with self._lock:
                engine = self._engines.get(version.id)
                if engine is None:
                    files = {name: text.encode() for name, text in version.files.items()}
                    # Validated (and linted) at deploy; parsing again is all that is needed.
                    model = load_bundle(files, lint=False)
                    engine = self._engines[version.id] = PathwayEngine(model, self.clock)
        return engine


def deploy(session: Session, files: Mapping[str, bytes], user: User | None, now: datetime,
           activate: bool = True) -> ModelVersion:
    """Validate a bundle (hostile until then) and store it as a new immutable version.

    Every bundle that is stored comes through here (the API, drafts, the command line, the
    reference bundle at first start), so here its file names are held to the bundle's rule
    (`NAME_RULE`), before anything else. Deploying identical files again returns the
    existing version."""
    if named_wrongly := name_problems(files):
        raise ModelError(named_wrongly)
    text_files: dict[str, str] = {}
    for name, content in files.items():
        try:
            text_files[name] = content.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequestError(f"{name} is not UTF-8 text") from None
    digest = bundle_digest(files)
    existing = session.exec(select(ModelVersion).where(ModelVersion.digest == digest)).first()
    if existing is not None:
        if activate:
            _activate(session, existing)
        return existing
    model = load_bundle(files)  # raises ModelError with every problem
    version = ModelVersion(
        name=model.name, process_id=model.process_id, digest=digest, files=text_files,
        spec_json=model.spec_json(), deployed_by=user.id if user else None, deployed_at=now,
    )
    session.add(version)
    session.flush()
    if activate:
        _activate(session, version)
    return version


def _activate(session: Session, version: ModelVersion) -> None:
    session.exec(update(ModelVersion).where(col(ModelVersion.process_id) == version.process_id)
                 .values(active=False))
    version.active = True
    session.add(version)


def deploy_directory(session: Session, directory: Path, now: datetime) -> ModelVersion:
    return deploy(session, read_bundle_dir(directory), None, now)


def active_version(session: Session) -> ModelVersion:
    version = session.exec(select(ModelVersion).where(ModelVersion.active == True)  # noqa: E712
                           .order_by(col(ModelVersion.id).desc())).first()
    if version is None:
        raise NotFoundError("no pathway model is deployed; a manager must deploy one")
    return version


def active_version_id(session: Session) -> int:
    """The active version's id, without loading its (large) files."""
    version_id = session.exec(select(ModelVersion.id).where(ModelVersion.active == True)  # noqa: E712
                              .order_by(col(ModelVersion.id).desc())).first()
    if version_id is None:
        raise NotFoundError("no pathway model is deployed; a manager must deploy one")
    return version_id
