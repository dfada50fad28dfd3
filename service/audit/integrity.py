"""Verifying the event log: walk its keyed hash chain, compare it with the checkpoints kept
outside the database, and name the first bad event and what was done to it. The auditors'
`GET /api/audit/verify` and `carepath audit verify` (`verify_command`) both use it."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from service.core import checkpoints
from service.core.checkpoints import Checkpoint, CheckpointFileError, Head
from service.core.db import transaction
from service.core.event_chain import GENESIS, LogSeal, event_hash, unkeyed_hash
from service.core.settings import Settings
from service.core.tables import Event

Reason = Literal["edited", "rehashed", "missing", "reordered", "inserted", "truncated",
                 "replaced", "checkpoint_file"]
"""What verification found: an event edited (`rehashed`: and hashed again without the key),
events missing before one, one out of its place, one inserted, the last ones removed
(`truncated`), a log that is not the one checkpointed (`replaced`), or a checkpoint file
whose line is not signed with the key."""


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    """Events that chained correctly before the first bad one (all of them if ok)."""
    first_bad_id: int | None
    reason: Reason | None
    why: str
    """What is wrong, in words (empty if ok)."""
    head: Head | None
    """The end of the events that chained correctly."""
    checkpoint: Checkpoint | None
    """The newest checkpoint the log was compared with."""

    @property
    def message(self) -> str:
        """One line: what `verify_command` prints, less its prefix."""
        if not self.ok:
            if self.first_bad_id is None:
                return self.why
            return f"the log breaks at event {self.first_bad_id}: {self.why}"
        last = f", last id {self.head.last_id}" if self.head is not None else ""
        matched = (f", matches checkpoint of {self.checkpoint.at.isoformat()}"
                   if self.checkpoint is not None else ", no checkpoint yet")
        return f"{self.checked} events chain correctly{last}{matched}"


_EVENTS: sa.Table = Event.__table__  # type: ignore[attr-defined]
_IN_ORDER = sa.select(_EVENTS).order_by(_EVENTS.c.id).execution_options(yield_per=2000)
_WITH_HASH = sa.select(_EVENTS.c.id).where(_EVENTS.c.hash == sa.bindparam("hash"),
                                           _EVENTS.c.id != sa.bindparam("id")).limit(1)


def verify(db: Engine | Session, seal: LogSeal) -> Verdict:
    """Walk the chain in id order, checking each event's keyed hash and link, and each
    checkpoint where the log reaches its last id; then whether the log reaches them all.

    Given an engine, the walk reads in a transaction of its own begun after the checkpoints
    are read, so it sees every event they cover (a SQLite read keeps the snapshot of its
    first statement: an older one would look cut short). A session must be as fresh."""
    try:
        marks = checkpoints.read_checkpoints(seal)
    except CheckpointFileError as err:
        return Verdict(False, 0, None, "checkpoint_file", str(err), None, None)
    if isinstance(db, Engine):
        with transaction(db, write=False) as session:
            return _walk(session, seal, marks)
    return _walk(db, seal, marks)


def _walk(session: Session, seal: LogSeal, marks: list[Checkpoint]) -> Verdict:
    pending: dict[int, list[Checkpoint]] = {}
    for mark in marks:
        pending.setdefault(mark.head.last_id, []).append(mark)
    newest = marks[-1] if marks else None
    prev_hash, prev_id, count = GENESIS, 0, 0
    head: Head | None = None
    connection = session.connection()
    result = connection.execute(_IN_ORDER).mappings()
    bad: sa.RowMapping | None = None
    after_bad: sa.RowMapping | None = None
    for row in result:
        if bad is not None:
            after_bad = row
            break
        if row["prev_hash"] != prev_hash or row["hash"] != event_hash(seal.key, row):
            bad = row
            continue
        count += 1
        prev_hash, prev_id, head = row["hash"], row["id"], Head(row["id"], count, row["hash"])
        for mark in pending.pop(row["id"], []):
            if mark.head != head:
                return Verdict(False, count - 1, row["id"], "replaced", (
                    f"the checkpoint of {mark.at.isoformat()} recorded {mark.head.count} events "
                    f"up to this one, with another hash: the log up to it was replaced"),
                    head, mark)
    result.close()
    if bad is not None:
        reason, why = _what_happened(connection, seal.key, bad, after_bad, prev_hash, prev_id)
        return Verdict(False, count, bad["id"], reason, why, head, newest)
    if pending:
        beyond = max(pending)
        mark = pending[beyond][-1]
        if beyond > prev_id:
            return Verdict(False, count, prev_id + 1, "truncated", (
                f"it is missing: the log ends at event {prev_id} ({count} events), but the "
                f"checkpoint of {mark.at.isoformat()} recorded {mark.head.count} events up to "
                f"event {beyond}: its last events were removed"), head, mark)
        return Verdict(False, count, beyond, "replaced", (
            f"it is missing, though the checkpoint of {mark.at.isoformat()} ends there: the "
            "log was replaced"), head, mark)
    return Verdict(True, count, None, None, "", head, newest)


def _what_happened(connection: sa.Connection, key: bytes, row: sa.RowMapping,
                   after: sa.RowMapping | None, prev_hash: str,
                   prev_id: int) -> tuple[Reason, str]:
    """Why `row` breaks the chain that was intact up to `prev_id` (`prev_hash`)."""
    before = f"event {prev_id}" if prev_id else "the start of the log"
    if row["hash"] == event_hash(key, row):
        # Written with the key, unchanged, but chained after something else.
        if not prev_id:
            return "missing", ("it was written with the key but is not the first event: the "
                               "log's first events were removed")
        return "missing", (f"it was written with the key but not after {before}: events "
                           "between them were removed")
    if row["prev_hash"] != prev_hash:
        chained_to = connection.execute(_WITH_HASH, {"hash": row["prev_hash"],
                                                     "id": row["id"]}).scalar()
        if chained_to is not None:
            return "reordered", (f"it was written after event {chained_to}, not after "
                                 f"{before}: events were reordered (their ids changed)")
    if after is not None and after["prev_hash"] == prev_hash:
        return "inserted", (f"it was inserted: event {after['id']} was written right after "
                            f"{before}")
    if row["hash"] == unkeyed_hash(row):
        return "rehashed", ("it was changed and hashed again without the log's key (plain "
                            "SHA-256)")
    return "edited", ("it was changed after it was written (its columns do not match its "
                      "keyed hash), or written without the log's key")


def verify_and_checkpoint(db: Engine | Session, seal: LogSeal, now: datetime) -> Verdict:
    """`verify`, then, if the log is intact, checkpoint the head it verified (if it grew)."""
    verdict = verify(db, seal)
    if verdict.ok:
        checkpoints.record(seal, verdict.head, now)
    return verdict


def verify_command(db: Engine, settings: Settings) -> int:
    """`carepath audit verify`: one line, on stdout if the log is intact (exit 0), on stderr
    naming the first bad event if not (exit 1). Checkpoints the head it verified."""
    verdict = verify_and_checkpoint(db, LogSeal.from_settings(settings), datetime.now(UTC))
    if verdict.ok:
        print(f"ok: {verdict.message}")
        return 0
    print(f"carepath: {verdict.message}", file=sys.stderr)
    return 1
