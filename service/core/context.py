"""What a service function needs: the request's one transaction, the caller, the clock and
the pathway engines. Every domain's functions take it; only the unit of work (deps) makes
one and commits its transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from pathways.clock import Clock
from service.core.db import transaction
from service.core.tables import User

if TYPE_CHECKING:  # the registry is the models domain's; core only carries it
    from service.models.registry import EngineRegistry


@dataclass
class Context:
    """What a service function needs: the transaction, the caller, time and engines.

    `session` is the request's one transaction, committed by whoever made the context (for a
    request: its unit of work, deps.Call). `read()` gives a read-only snapshot, for work done
    before the first write: on SQLite a writing transaction holds the database's write lock
    from its first statement, so what can be read and computed first is, outside the lock."""

    session: Session
    clock: Clock
    engines: EngineRegistry
    user: User | None = None
    db: Engine | None = None
    snapshot: Session | None = None
    """A read-only transaction already open for this request (the caller was read from it)."""
    opened: dict[int, int] = field(default_factory=dict)
    """Episode id -> patient id of the records a clinician opened in this request
    (views.episode_row notes them); the unit of work logs them (tables.AccessRecord)."""
    logged: list[SQLModel] = field(default_factory=list)
    """Log rows a request must leave even when it only reads (an identifiable export and its
    reason, tables.ExportRecord): the unit of work writes them as it writes the access log,
    and if that fails the answer fails."""
    marks: list[Callable[[Session], None]] = field(default_factory=list)
    """Small writes a request leaves even when it only reads (a message thread marked read
    by whoever opened it): the unit of work runs them with the access log's rows."""

    @contextmanager
    def read(self) -> Iterator[Session]:
        if self.snapshot is not None:
            yield self.snapshot
        elif self.db is None:
            yield self.session
        else:
            with transaction(self.db, write=False) as session:
                yield session

    @property
    def now(self) -> datetime:
        return self.clock.now()

    @property
    def actor_id(self) -> int | None:
        return self.user.id if self.user else None


