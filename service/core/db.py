"""Database engine and sessions: SQLite (WAL) embedded by default, PostgreSQL for several
processes. One transaction per request, owned by its unit of work (deps.Call)."""

from __future__ import annotations

import fcntl
import json
import logging
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from service.core.event_chain import LogSeal, seal_engine
from service.core.settings import Settings

log = logging.getLogger("carepath.db")

WRITE = "carepath_write"
"""Connection info flag: this transaction will write (SQLite: take the write lock at BEGIN)."""


def create_db_engine(settings: Settings) -> Engine:
    """The database's engine, carrying its event log's seal (key, checkpoint file)."""
    engine = _create_engine(settings)
    seal_engine(engine, LogSeal.from_settings(settings))
    return engine


def _create_engine(settings: Settings) -> Engine:
    url, timeout = settings.database_url, settings.database_timeout_seconds
    if settings.is_sqlite:
        path = url.split("///", 1)[-1]
        file = Path(path) if path and path != ":memory:" else None
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
        # A slow unit of work (deps.SLOW_THREADS: 8) may hold three connections at once (its
        # transaction, its snapshot, a login attempt's own admission: auth.authenticate).
        engine = sa.create_engine(url, connect_args={"check_same_thread": False,
                                                     "timeout": timeout},
                                  pool_size=8, max_overflow=24, pool_timeout=timeout)
        _configure_sqlite(engine, WriterLock(file), busy_ms=round(timeout * 1000))
        return engine
    # pool_pre_ping: a connection the server dropped (a restart, an outage) is replaced when
    # it is next taken from the pool, so service resumes by itself once the server is back.
    return sa.create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True,
                            pool_timeout=timeout,
                            connect_args={"connect_timeout": max(1, round(timeout))})


class WriterLock:
    """SQLite admits one writer at a time. Writers queue here: threads of this process on a
    thread lock, processes on an flock of a file beside the database. Both wake the next
    writer the moment the last one commits, where SQLite's busy handler would sleep in steps
    of up to 100 ms. The lock is held from a writing transaction's first statement to its
    commit or rollback, so work done before the first write (reading, the engine step) runs
    in parallel."""

    def __init__(self, database: Path | None) -> None:
        self._threads = threading.Lock()
        self._path = database.with_name(database.name + "-writer.lock") if database else None
        self._file: IO[bytes] | None = None

    def acquire(self) -> None:
        self._threads.acquire()
        try:
            if self._path is not None:
                if self._file is None:
                    self._file = open(self._path, "ab")  # noqa: SIM115 (kept for the process)
                fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        try:
            if self._file is not None:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        finally:
            self._threads.release()


_LOCKED = "carepath_writer_locked"
_CHECKPOINTED_ELSEWHERE: weakref.WeakSet[Engine] = weakref.WeakSet()
"""SQLite engines whose WAL is checkpointed by a background thread (see checkpoint_wal)."""


def _configure_sqlite(engine: Engine, lock: WriterLock, busy_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" below decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms:d}")
        if engine in _CHECKPOINTED_ELSEWHERE:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: sa.Connection) -> None:
        # A writing transaction takes the write lock at BEGIN, so two writers queue instead
        # of failing when the second upgrades a stale read snapshot. A read snapshot never
        # blocks and is never blocked (WAL).
        # (Straight to the driver: BEGIN has no parameters or results for SQLAlchemy to
        # handle, and every request begins one or two transactions.)
        driver = connection.connection.driver_connection
        assert driver is not None  # a pooled connection always has its driver's
        if not connection.info.get(WRITE, False):
            _begin(driver, "BEGIN")
            return
        if _LOCKED in connection.info:  # a second transaction on the same connection
            _begin(driver, "BEGIN IMMEDIATE")
            return
        lock.acquire()
        try:
            _begin(driver, "BEGIN IMMEDIATE")
        except BaseException:
            lock.release()
            raise
        connection.info[_LOCKED] = lock


def _begin(driver: Any, statement: str) -> None:
    """BEGIN, straight to the driver; its errors (another program holding the write lock
    beyond the busy timeout: "database is locked") raised as SQLAlchemy raises the
    driver's errors elsewhere, so the app answers them as it does those (503)."""
    try:
        driver.execute(statement)
    except sqlite3.Error as err:
        raise sa.exc.OperationalError(statement, None, err) from err


@contextmanager
def transaction(engine: Engine, write: bool) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error.

    `write` says the transaction will write: on SQLite it then takes the write lock with its
    first statement (not before), and keeps it until the commit or rollback is done."""
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
            lock = connection.info.pop(_LOCKED, None)
            if lock is not None:
                lock.release()


def checkpoint_wal(engine: Engine, stop: threading.Event,
                   interval_seconds: float = 1.0) -> threading.Thread | None:
    """Copy SQLite's write-ahead log back into the database on a background thread, instead
    of in whichever commit finds the log full: that commit holds the write lock meanwhile,
    and a checkpoint (with its fsync) takes many times a commit. PASSIVE checkpoints wait for
    no reader or writer. Returns the thread (None for PostgreSQL)."""
    if engine.dialect.name != "sqlite":
        return None
    _CHECKPOINTED_ELSEWHERE.add(engine)
    engine.dispose()  # connections opened from now on leave checkpoints to this thread

    def run() -> None:
        while not stop.wait(interval_seconds):
            try:
                connection = engine.raw_connection()
                try:
                    driver = connection.driver_connection
                    assert driver is not None
                    driver.execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    connection.close()
            except sa.exc.SQLAlchemyError as err:  # keep going: the next pass may succeed
                log.warning("WAL checkpoint failed: %s", err)

    thread = threading.Thread(target=run, name="carepath-wal-checkpoint", daemon=True)
    thread.start()
    return thread


def is_postgres(session: Session) -> bool:
    bind = session.get_bind()
    return bind.dialect.name == "postgresql"


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A part of the current transaction that is undone on its own if it raises, while the
    rest goes on (one episode of a migration that fails keeps its old version)."""
    with session.begin_nested():
        yield


def raw_time(value: str | datetime) -> datetime:
    """A stored time read raw (a column selected without its SQLModel type, for speed):
    SQLite gives its text, PostgreSQL a naive datetime; both are UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC)


def raw_json(value: str | dict[str, Any]) -> dict[str, Any]:
    """Stored JSON read raw: SQLite gives its text, PostgreSQL's driver the object."""
    loaded: dict[str, Any] = json.loads(value) if isinstance(value, str) else value
    return loaded
