"""Database engine and sessions: SQLite (WAL) embedded by default, PostgreSQL for several
processes. One transaction per request, owned by the session dependency (see deps.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from .settings import Settings

WRITE = "carepath_write"
"""Session info flag: this transaction will write (SQLite: take the write lock up front)."""


def create_db_engine(settings: Settings) -> Engine:
    url = settings.database_url
    if settings.is_sqlite:
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                                  pool_size=8, max_overflow=8)
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" below decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: sa.Connection) -> None:
        # A writing transaction takes SQLite's write lock at BEGIN, so two writers queue
        # instead of failing when the second upgrades a stale read snapshot.
        write = connection.info.get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


_SQLITE_WRITERS = threading.Lock()
"""SQLite admits one writer; queueing writers of this process here is fair and prompt, where
SQLite's busy handler would sleep in steps of up to 100 ms (other processes still use it).
A plain Lock, not an RLock: a request's transaction may end on another thread than it began,
and write transactions never nest."""


@contextmanager
def transaction(engine: Engine, write: bool) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error.

    `write` tells SQLite to take its write lock when the transaction begins."""
    if write and engine.dialect.name == "sqlite":
        with _SQLITE_WRITERS:
            yield from _transaction(engine, write)  # type: ignore[misc]
        return
    yield from _transaction(engine, write)  # type: ignore[misc]


def _transaction(engine: Engine, write: bool) -> Iterator[Session]:
    with engine.connect() as connection:
        connection.info[WRITE] = write
        session = Session(bind=connection, expire_on_commit=False)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            connection.info.pop(WRITE, None)


def is_postgres(session: Session) -> bool:
    bind = session.get_bind()
    return bind.dialect.name == "postgresql"
