"""A backup of the embedded SQLite database, taken while the service runs.

SQLite's online backup (the stdlib's `Connection.backup`) copies one consistent snapshot:
work committed before the copy started is in it, work still in progress is not, and nobody
waits for the copy (readers never block writers in WAL mode). The copy is written beside the
target under a temporary name, checked (`PRAGMA quick_check`) and only then renamed into
place, so a target file is never half-written, and an existing file is never overwritten.
The copy is one self-contained file (rollback journal, not WAL). PostgreSQL has its own tool
for this: pg_dump.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    """A backup that cannot be made; the message says what to change."""


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    revision: str | None
    """The schema revision (Alembic) the copy has: a restore needs a carepath that knows it."""


def backup_sqlite(database_url: str, target: Path) -> Backup:
    source = _database_file(database_url)
    target = target.expanduser().resolve()
    if target.exists():
        raise BackupError(f"{target} already exists; give a new file name (a backup never "
                          "overwrites a file)")
    if not target.parent.is_dir():
        raise BackupError(f"there is no directory {target.parent} to write the backup in")
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                         suffix=".partial")
    os.close(handle)
    try:
        revision = _copy(source, Path(temporary))
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_directory(target.parent)
    return Backup(target, target.stat().st_size, revision)


def _database_file(database_url: str) -> Path:
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite"):
        raise BackupError(f"the database is {url.get_backend_name()}, not the embedded "
                          "SQLite file: back it up with pg_dump")
    if not url.database or url.database == ":memory:":
        raise BackupError("the database lives in memory only; there is no file to back up")
    path = Path(url.database).expanduser().resolve()
    if not path.is_file():
        raise BackupError(f"there is no database at {path} (CAREPATH_DATABASE_URL); nothing "
                          "to back up")
    return path


def _copy(source: Path, temporary: Path) -> str | None:
    """Copy the snapshot into `temporary`, make it one self-contained file, check it and
    flush it to disk; returns its schema revision."""
    with contextlib.closing(sqlite3.connect(source, timeout=30)) as reading, \
            contextlib.closing(sqlite3.connect(temporary)) as copy:
        try:
            reading.backup(copy)
        except sqlite3.DatabaseError as err:
            raise BackupError(f"{source} could not be read as an SQLite database: {err}") \
                from None
        copy.execute("PRAGMA journal_mode=DELETE")
        (check,) = copy.execute("PRAGMA quick_check").fetchone()
        if check != "ok":
            raise BackupError(f"the copy failed its check ({check}); the database itself "
                              "may be damaged: run PRAGMA integrity_check on it")
        revision = _revision(copy)
    with open(temporary, "rb") as written:
        os.fsync(written.fileno())
    return revision


def _revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # not migrated (yet)
        return None
    return str(row[0]) if row else None


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
