"""Model drafts: a manager's bundle in the making, edited in the browser file by file.

A draft's files are untrusted text until validated: saving one checks only its name, its size
and (for BPMN/DMN) that the XML is safe to parse; `problems` runs every check a deploy runs,
and `deploy` refuses a draft with any problem. Uploads (loose files or a zip bundle) pass the
same gate, all or nothing."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from sqlmodel import col, select

from pathways.education import default_catalogue
from pathways.models import (
    MANIFEST,
    MAX_FILES,
    NAME_RULE,
    ModelError,
    Problem,
    is_file_name,
    load_bundle,
    name_problems,
)
from pathways.properties import ALERTS, ROLES
from pathways.script_helpers import HELPERS
from pathways.xmlsafe import MAX_MODEL_BYTES, UnsafeXmlError, parse_xml
from service.core import access
from service.core.context import Context
from service.core.errors import ConflictError, InvalidRequestError, NotFoundError
from service.core.request_guard import NUL, NUL_MESSAGE
from service.core.tables import ModelDraft, ModelVersion, User
from service.models import registry

MAX_UPLOAD_BYTES = 10_000_000
"""A whole upload (a zip bundle, or loose files together), compressed or not."""


@dataclass(frozen=True)
class DraftSummary:
    id: int
    name: str
    base_version_id: int | None
    updated_by: str
    updated_at: datetime
    deployed_version_id: int | None
    files: int


@dataclass(frozen=True)
class EditorPage:
    """What the editor page needs besides the draft's files (which its script reads from
    `GET /api/models/drafts/{id}`): the vocabulary carepath reads on a task."""

    draft_id: int
    name: str
    base_version_id: int | None
    deployed_version_id: int | None
    roles: tuple[str, ...]
    alerts: tuple[str, ...]
    education_modules: tuple[tuple[str, str], ...]
    helpers: tuple[str, ...]


def check_file_name(name: str) -> str:
    """A plain name in the bundle's own folders, or InvalidRequestError (never a path that
    climbs out, starts at the root or names another folder)."""
    if not is_file_name(name):
        raise InvalidRequestError(f"{name!r} is not a model file name: {NAME_RULE}",
                                  [{"field": "name", "message": NAME_RULE}])
    return name


def check_file(name: str, content: bytes) -> str:
    """The file's text once its name, size, encoding and (BPMN/DMN) XML are safe to keep;
    else InvalidRequestError saying what to fix. Nothing here judges the model itself."""
    check_file_name(name)
    if len(content) > MAX_MODEL_BYTES:
        raise InvalidRequestError(f"{name} is larger than the limit of {MAX_MODEL_BYTES:,} "
                                  f"bytes")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError(f"{name} is not UTF-8 text") from None
    if NUL in text:
        raise InvalidRequestError(f"{name} {NUL_MESSAGE}", [{"field": name,
                                                             "message": NUL_MESSAGE}])
    if name.endswith((".bpmn", ".dmn")):
        try:
            parse_xml(content, name)
        except UnsafeXmlError as err:
            raise InvalidRequestError(f"{name} was refused: {err}".replace(f"{name}: ", "")) \
                from None
    return text


def list_drafts(ctx: Context) -> list[DraftSummary]:
    access.require_role(ctx.user, "manager")
    rows = ctx.session.exec(
        select(ModelDraft, User.username).outerjoin(User, col(User.id) == ModelDraft.updated_by)
        .order_by(col(ModelDraft.id).desc())).all()
    return [DraftSummary(id=d.id or 0, name=d.name, base_version_id=d.base_version_id,
                         updated_by=username or "", updated_at=d.updated_at,
                         deployed_version_id=d.deployed_version_id, files=len(d.files or {}))
            for d, username in rows]


def get_draft(ctx: Context, draft_id: int) -> ModelDraft:
    access.require_role(ctx.user, "manager")
    draft = ctx.session.get(ModelDraft, draft_id)
    if draft is None:
        raise NotFoundError(f"there is no model draft {draft_id}")
    return draft


def create_draft(ctx: Context, from_version: int | None, name: str | None) -> ModelDraft:
    """A new draft holding a copy of a version's files (the active version by default)."""
    user = access.require_role(ctx.user, "manager")
    if from_version is None:
        from_version = registry.active_version_id(ctx.session)
    version = ctx.session.get(ModelVersion, from_version)
    if version is None:
        raise NotFoundError(f"there is no model version {from_version}")
    draft = ModelDraft(name=name or f"{version.name} (draft from version {version.id})",
                       base_version_id=version.id, files=dict(version.files),
                       created_by=user.id, updated_by=user.id, updated_at=ctx.now)
    ctx.session.add(draft)
    ctx.session.flush()
    return draft


def editor_page(ctx: Context, draft_id: int) -> EditorPage:
    draft = get_draft(ctx, draft_id)
    modules = tuple((m.id, m.title) for m in default_catalogue())
    return EditorPage(draft_id=draft.id or 0, name=draft.name,
                      base_version_id=draft.base_version_id,
                      deployed_version_id=draft.deployed_version_id, roles=ROLES,
                      alerts=ALERTS, education_modules=modules, helpers=tuple(sorted(HELPERS)))


def save_file(ctx: Context, draft_id: int, name: str, text: str) -> ModelDraft:
    draft = _editable(ctx, draft_id)
    files = dict(draft.files)
    if name not in files and len(files) >= MAX_FILES:
        raise InvalidRequestError(f"a bundle has at most {MAX_FILES} files")
    files[name] = check_file(name, text.encode("utf-8"))
    return _store(ctx, draft, files)


def delete_file(ctx: Context, draft_id: int, name: str) -> ModelDraft:
    draft = _editable(ctx, draft_id)
    check_file_name(name)
    if name not in draft.files:
        raise NotFoundError(f"the draft has no file {name}")
    if name == MANIFEST:
        raise InvalidRequestError(f"{MANIFEST} names the process to start; edit it instead "
                                  f"of deleting it")
    files = dict(draft.files)
    del files[name]
    return _store(ctx, draft, files)


def upload(ctx: Context, draft_id: int, uploads: Mapping[str, bytes]) -> ModelDraft:
    """Add or replace files from an upload: loose .bpmn/.dmn/.json/.toml files, or one .zip
    bundle. All are checked before any is kept."""
    draft = _editable(ctx, draft_id)
    incoming: dict[str, str] = {}
    for upload_name, content in uploads.items():
        if upload_name.lower().endswith(".zip"):
            for name, member in read_zip(content).items():
                incoming[name] = check_file(name, member)
        else:
            name = bundle_name(upload_name)
            incoming[name] = check_file(name, content)
    if not incoming:
        raise InvalidRequestError("the upload holds no model files (.bpmn, .dmn, .json, "
                                  "pathway.toml)")
    files = {**draft.files, **incoming}
    if len(files) > MAX_FILES:
        raise InvalidRequestError(f"a bundle has at most {MAX_FILES} files")
    return _store(ctx, draft, files)


def bundle_name(upload_name: str) -> str:
    """Where an uploaded loose file goes in the bundle: forms are JSON files under forms/.
    Browsers send a file's own name; a name with any other folder in it is refused, never
    cut down to its last part."""
    if is_file_name(upload_name):
        return upload_name
    if "/" in upload_name or "\\" in upload_name:
        raise InvalidRequestError(f"{upload_name!r} is not a model file name: {NAME_RULE}",
                                  [{"field": "files", "message": NAME_RULE}])
    return check_file_name(f"forms/{upload_name}" if upload_name.endswith(".json")
                           else upload_name)


def read_zip(content: bytes) -> dict[str, bytes]:
    """The model files of a zip bundle, by their name in the bundle (a single top folder, as
    zipping a directory makes, is dropped). Refuses archives that are not zips, that unpack
    to more than the upload limit, or that hold a file with a name outside the bundle."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise InvalidRequestError("the upload is not a zip archive") from None
    members = [m for m in archive.infolist()
               if not m.is_dir() and not m.filename.startswith("__MACOSX/")
               and PurePosixPath(m.filename).name != ".DS_Store"]
    if len(members) > MAX_FILES:
        raise InvalidRequestError(f"a bundle has at most {MAX_FILES} files")
    if sum(m.file_size for m in members) > MAX_UPLOAD_BYTES:
        raise InvalidRequestError(f"the zip unpacks to more than {MAX_UPLOAD_BYTES:,} bytes")
    names = [m.filename for m in members]
    tops = {name.split("/", 1)[0] for name in names}
    strip = (len(tops) == 1 and all("/" in name for name in names)
             and not any(name.startswith("forms/") for name in names))
    files: dict[str, bytes] = {}
    for member in members:
        name = member.filename.split("/", 1)[1] if strip else member.filename
        check_file_name(name)
        with archive.open(member) as handle:  # read no more than declared plus one byte
            data = handle.read(MAX_MODEL_BYTES + 1)
        files[name] = data
    return files


def problems(ctx: Context, draft_id: int) -> list[Problem]:
    """Every problem a deploy would refuse the draft for (an empty list: deployable)."""
    draft = get_draft(ctx, draft_id)
    return bundle_problems(draft.files)


def bundle_problems(files: Mapping[str, str]) -> list[Problem]:
    encoded = {name: text.encode("utf-8") for name, text in files.items()}
    try:
        load_bundle(encoded)
    except ModelError as err:
        return name_problems(encoded) + list(err.problems)
    return name_problems(encoded)


def deploy(ctx: Context, draft_id: int) -> ModelVersion:
    """Deploy a draft with no problems as a new immutable version (new episodes start on it);
    the draft is kept, read-only, as the record of the work."""
    user = access.require_role(ctx.user, "manager")
    draft = _editable(ctx, draft_id)
    files = {name: text.encode("utf-8") for name, text in draft.files.items()}
    version = registry.deploy(ctx.session, files, user, ctx.now)
    draft.deployed_version_id = version.id
    draft.updated_by, draft.updated_at = user.id, ctx.now
    ctx.session.add(draft)
    return version


def delete_draft(ctx: Context, draft_id: int) -> None:
    draft = _editable(ctx, draft_id)
    ctx.session.delete(draft)


def _editable(ctx: Context, draft_id: int) -> ModelDraft:
    draft = get_draft(ctx, draft_id)
    if draft.deployed_version_id is not None:
        raise ConflictError(f"this draft was deployed as version {draft.deployed_version_id} "
                            f"and is kept as it was; start a new draft from that version")
    return draft


def _store(ctx: Context, draft: ModelDraft, files: dict[str, str]) -> ModelDraft:
    draft.files = files
    draft.updated_by, draft.updated_at = ctx.actor_id, ctx.now
    ctx.session.add(draft)
    ctx.session.flush()
    return draft
