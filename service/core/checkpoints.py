"""Checkpoints of the event log's head, kept where a database writer cannot reach them: a
file that only grows, one signed line each (last id, number of events, head hash, time).
Removing the last events, or putting another log in the database's place, leaves a log that
no longer matches its checkpoints. The timer worker adds one when the log has grown and
`audit_checkpoint_seconds` have passed; verification and `carepath db upgrade` add one too."""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from service.core.db import transaction
from service.core.event_chain import LogSeal, seal_of
from service.core.tables import Event

log = logging.getLogger("carepath.checkpoints")
_TAIL_BYTES = 4096
"""Enough of the file's end to hold its last line."""


@dataclass(frozen=True)
class Head:
    """Where the log ends: its last event's id and hash, and how many events it holds."""

    last_id: int
    count: int
    hash: str


@dataclass(frozen=True)
class Checkpoint:
    head: Head
    at: datetime


class CheckpointFileError(Exception):
    """A line of the checkpoint file that is not a checkpoint signed with the log's key."""


_EVENTS: sa.Table = Event.__table__  # type: ignore[attr-defined]
_HEAD = (sa.select(_EVENTS.c.id, _EVENTS.c.hash,
                   sa.select(sa.func.count()).select_from(_EVENTS).scalar_subquery())
         .order_by(_EVENTS.c.id.desc()).limit(1))


def head_of(session: Session) -> Head | None:
    """The log's head as this transaction sees it (None: no events yet)."""
    row = session.connection().execute(_HEAD).first()
    return Head(row[0], row[2], row[1]) if row is not None else None


def _signed_fields(head: Head, at: datetime) -> dict[str, object]:
    return {"last_id": head.last_id, "count": head.count, "head": head.hash,
            "at": at.isoformat()}


def _mac(key: bytes, fields: dict[str, object]) -> str:
    body = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    return hmac.digest(key, b"checkpoint:" + body, hashlib.sha256).hex()


def _parse(seal: LogSeal, line: str, where: str) -> Checkpoint:
    try:
        fields = json.loads(line)
        mac = fields.pop("mac")
        head = Head(int(fields["last_id"]), int(fields["count"]), str(fields["head"]))
        at = datetime.fromisoformat(fields["at"])
        signed = hmac.compare_digest(mac, _mac(seal.key, _signed_fields(head, at)))
    except (ValueError, KeyError, TypeError, AttributeError):
        signed = False
    if not signed:
        raise CheckpointFileError(f"{where} of the checkpoint file {seal.checkpoints} is "
                                  "not a checkpoint signed with the log's key: it was edited, "
                                  "or written with another key")
    return Checkpoint(head, at)


def read_checkpoints(seal: LogSeal) -> list[Checkpoint]:
    """Every checkpoint, oldest first; CheckpointFileError names a line that is not one."""
    if seal.checkpoints is None or not seal.checkpoints.exists():
        return []
    lines = seal.checkpoints.read_text().splitlines()
    return [_parse(seal, line, f"line {number}") for number, line in enumerate(lines, 1)
            if line.strip()]


def last_checkpoint(seal: LogSeal) -> Checkpoint | None:
    """The newest checkpoint, read from the file's end only (the worker asks often)."""
    if seal.checkpoints is None or not seal.checkpoints.exists():
        return None
    with open(seal.checkpoints, "rb") as file:
        size = file.seek(0, os.SEEK_END)
        file.seek(max(0, size - _TAIL_BYTES))
        lines = [line for line in file.read().decode().splitlines() if line.strip()]
    return _parse(seal, lines[-1], "the last line") if lines else None


def record(seal: LogSeal, head: Head | None, at: datetime) -> Checkpoint | None:
    """Append a checkpoint of `head` (a committed one) if it is past the newest. A head
    behind it may be a reader's older snapshot, so it is passed over; one at the same id but
    different is logged (verification says where the log breaks)."""
    if seal.checkpoints is None or head is None:
        return None
    last = last_checkpoint(seal)
    if last is not None and last.head.last_id >= head.last_id:
        if last.head.last_id == head.last_id and last.head != head:
            log.error("the event log (last id %s, %s events) is not the one checkpointed at %s "
                      "(last id %s, %s events); `carepath audit verify` says where it breaks",
                      head.last_id, head.count, last.at.isoformat(), last.head.last_id,
                      last.head.count)
        return None
    fields = _signed_fields(head, at)
    line = json.dumps({**fields, "mac": _mac(seal.key, fields)}, separators=(",", ":")) + "\n"
    seal.checkpoints.parent.mkdir(parents=True, exist_ok=True)
    # One write of a whole line to a file opened for appending: processes writing at once
    # interleave lines, never parts of them; the lock keeps even that orderly.
    with open(seal.checkpoints, "a") as file:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX)
        file.write(line)
        file.flush()
        os.fsync(file.fileno())
    return Checkpoint(head, at)


def checkpoint(db: Engine, now: datetime, due_only: bool = False) -> Checkpoint | None:
    """Checkpoint the committed head of the database's log if it has grown (and, with
    `due_only`, if `audit_checkpoint_seconds` have passed since the newest checkpoint)."""
    seal = seal_of(db)
    if seal.checkpoints is None:
        return None
    if due_only:
        last = last_checkpoint(seal)
        if last is not None and (now - last.at).total_seconds() < seal.checkpoint_seconds:
            return None
    with transaction(db, write=False) as session:
        head = head_of(session)
    return record(seal, head, now)
