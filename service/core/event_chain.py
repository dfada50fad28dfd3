"""The event log's keyed hash chain: each event's hash is an HMAC of every one of its columns
and of the hash before it, under a key the database does not hold, so an auditor can verify
that nothing was changed, removed, inserted or reordered, and a database writer cannot
recompute the chain. The care domain appends (its repository); the audit domain verifies;
core.checkpoints keeps the head outside the database."""

from __future__ import annotations

import hashlib
import hmac
import json
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from service.core.settings import Settings

GENESIS = "0" * 64
CHAINED = ("id", "episode_id", "clinic_id", "name", "at", "element", "actor_id", "data",
           "prev_hash")
"""Every column of an event but its own hash, in the order they are hashed."""


def _body(row: Mapping[Any, Any]) -> bytes:
    values = [row[name] for name in CHAINED]
    values[CHAINED.index("at")] = row["at"].astimezone(UTC).isoformat()
    return json.dumps(values, sort_keys=True, separators=(",", ":"), default=str).encode()


def event_hash(key: bytes, row: Mapping[Any, Any]) -> str:
    """The hash an event with these columns (`CHAINED`; an object's attributes will do
    through `columns`) has in the chain: HMAC-SHA256 under the log's key."""
    return hmac.digest(key, _body(row), hashlib.sha256).hex()


def unkeyed_hash(row: Mapping[Any, Any]) -> str:
    """Plain SHA-256 of the same columns: what someone without the key would write, so
    verification can say a row was rehashed by hand."""
    return hashlib.sha256(_body(row)).hexdigest()


def columns(event: Any) -> dict[str, Any]:
    """The chained columns of an `Event` object, for `event_hash`."""
    return {name: getattr(event, name) for name in CHAINED}


@dataclass(frozen=True)
class LogSeal:
    """What seals one database's event log, from the settings: the HMAC key and where the
    checkpoints of its head go. Neither is in the database."""

    key: bytes
    checkpoints: Path | None
    checkpoint_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> LogSeal:
        return cls(settings.log_key, settings.checkpoint_file, settings.audit_checkpoint_seconds)


_SEALS: weakref.WeakKeyDictionary[Engine, LogSeal] = weakref.WeakKeyDictionary()


def seal_engine(engine: Engine, seal: LogSeal) -> None:
    """Give an engine its log's seal (`db.create_db_engine` does, from the settings)."""
    _SEALS[engine] = seal


class UnsealedError(RuntimeError):
    """The database's engine was not made by `create_db_engine`: it has no key to chain the
    event log with."""


def seal_of(bind: Engine | Connection | Session) -> LogSeal:
    """The seal of the database a session, connection or engine works on."""
    if isinstance(bind, Session):
        bind = bind.get_bind()
    engine = bind.engine if isinstance(bind, Connection | Engine) else None
    seal = _SEALS.get(engine) if engine is not None else None
    if seal is None:
        raise UnsealedError("this database engine has no event log key: make it with "
                            "service.core.db.create_db_engine (or run `carepath db upgrade`)")
    return seal
