"""The auditors' reads: the event log, its hash-chain check, the access log. Auditors read
everything and change nothing."""

from __future__ import annotations

from sqlmodel import col, select

from service.audit.schemas import AccessRecordPublic, OwnAccessPublic, VerifyPublic
from service.care.schemas import EventPublic
from service.care.views import event_public
from service.core import access
from service.core.context import Context
from service.core.event_chain import GENESIS, event_hash
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
    """Recompute the hash chain: any edited, removed or reordered event breaks it."""
    access.require_role(ctx.user, "auditor")
    prev, checked, last_id = GENESIS, 0, 0
    for event in ctx.session.exec(select(Event).order_by(col(Event.id))):
        expected = event_hash(prev, event.episode_id, event.name, event.at, event.element,
                              event.actor_id, event.data)
        if event.prev_hash != prev or event.hash != expected:
            return VerifyPublic(ok=False, checked=checked, first_bad_id=event.id,
                                message=f"the log breaks at event {event.id}: it was changed, "
                                        "or an event before it was removed")
        prev, checked, last_id = event.hash, checked + 1, event.id or 0
    return VerifyPublic(ok=True, checked=checked, first_bad_id=None,
                        message=f"all {checked} events chain correctly (last id {last_id})")


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
