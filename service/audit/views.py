"""The auditors' reads: the event log, its hash-chain check and checkpoints, the access log.
Auditors read everything and change nothing (a checkpoint goes to a file, not the database)."""

from __future__ import annotations

from sqlmodel import col, select

from service.audit import integrity
from service.audit.schemas import (
    AccessRecordPublic,
    CheckpointPublic,
    HeadPublic,
    OwnAccessPublic,
    VerifyPublic,
)
from service.care.schemas import EventPublic
from service.care.views import event_public
from service.core import access
from service.core.context import Context
from service.core.event_chain import seal_of
from service.core.tables import AccessRecord, Event, User


def audit_events(ctx: Context, episode_id: int | None, after_id: int,
                 limit: int) -> list[EventPublic]:
    access.require_role(ctx.user, "auditor")
    query = select(Event).where(col(Event.id) > after_id)
    if episode_id is not None:
        query = query.where(Event.episode_id == episode_id)
    rows = ctx.session.exec(query.order_by(col(Event.id)).limit(limit)).all()
    return [event_public(e) for e in rows]


def access_log(ctx: Context, patient_id: int | None, user_id: int | None, after_id: int,
               limit: int) -> list[AccessRecordPublic]:
    """Who opened which patient's record (auditors), oldest first, by patient and/or user."""
    access.require_role(ctx.user, "auditor")
    query = (select(AccessRecord, User.username, User.role)
             .join(User, col(User.id) == AccessRecord.user_id)
             .where(col(AccessRecord.id) > after_id))
    if patient_id is not None:
        query = query.where(AccessRecord.patient_id == patient_id)
    if user_id is not None:
        query = query.where(AccessRecord.user_id == user_id)
    rows = ctx.session.exec(query.order_by(col(AccessRecord.id)).limit(limit)).all()
    return [AccessRecordPublic(id=record.id or 0, at=record.at, user_id=record.user_id,
                               username=username, role=role, patient_id=record.patient_id,
                               episode_id=record.episode_id, request=record.request)
            for record, username, role in rows]


def verify_log(ctx: Context) -> VerifyPublic:
    """Check the keyed hash chain and the checkpoints kept outside the database (see
    integrity.verify); an intact log's head is checkpointed."""
    access.require_role(ctx.user, "auditor")
    verdict = integrity.verify_and_checkpoint(ctx.db or ctx.session, seal_of(ctx.session),
                                              ctx.now)
    head, mark = verdict.head, verdict.checkpoint
    return VerifyPublic(
        ok=verdict.ok, checked=verdict.checked, first_bad_id=verdict.first_bad_id,
        message=verdict.message, reason=verdict.reason,
        head=HeadPublic(last_id=head.last_id, count=head.count, hash=head.hash) if head else None,
        checkpoint=CheckpointPublic(last_id=mark.head.last_id, count=mark.head.count,
                                    hash=mark.head.hash, at=mark.at) if mark else None)


def checkpoint_file(ctx: Context) -> str:
    """The checkpoint file as it stands (signed JSON lines), for auditors to keep a copy."""
    access.require_role(ctx.user, "auditor")
    path = seal_of(ctx.session).checkpoints
    return path.read_text() if path is not None and path.exists() else ""


def own_access_log(ctx: Context, limit: int = 100) -> list[OwnAccessPublic]:
    """Who has opened the calling patient's record, newest first (a patient's right to know
    who has read their record)."""
    user = access.require_role(ctx.user, "patient")
    query = (select(AccessRecord.at, User.full_name, User.username, User.role)
             .join(User, col(User.id) == AccessRecord.user_id)
             .where(AccessRecord.patient_id == user.patient_id)
             .order_by(col(AccessRecord.id).desc()).limit(limit))
    return [OwnAccessPublic(at=at, by=full_name or username, role=role)
            for at, full_name, username, role in ctx.session.exec(query).all()]
