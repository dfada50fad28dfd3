"""`carepath db backup FILE`: a consistent copy of the embedded database while it is in use;
every refusal is one line, exit code 2, and leaves the files as they were.

The backup is of the embedded SQLite file, so these tests make one of their own (migrated as
`carepath db upgrade` does) on both suite runs; on PostgreSQL the command points to pg_dump."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from pathways.clock import ManualClock
from service.cli import main
from service.core.db import create_db_engine, transaction
from service.core.settings import Settings, get_settings
from service.core.tables import Clinic, Patient
from service.models.bootstrap import prepare

Run = Callable[..., tuple[int, str, str]]


@dataclass
class Embedded:
    url: str
    db: Engine
    clinic_id: int

    def add_patient(self, name: str) -> None:
        with transaction(self.db, write=True) as session:
            session.add(Patient(clinic_id=self.clinic_id, display_name=name,
                                created_at=ManualClock().now()))


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Embedded]:
    url = f"sqlite:///{tmp_path / 'data' / 'carepath.sqlite3'}"
    settings = Settings(database_url=url, mode="development")
    db = create_db_engine(settings)
    prepare(db, settings, ManualClock())
    with transaction(db, write=True) as session:
        clinic = Clinic(name="North Physio")
        session.add(clinic)
        session.flush()
        clinic_id = clinic.id or 0
    try:
        yield Embedded(url, db, clinic_id)
    finally:
        db.dispose()


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """`carepath db backup ARGS` with CAREPATH_DATABASE_URL=url: (exit code, stdout, stderr)."""

    def cli(url: str, *argv: str) -> tuple[int, str, str]:
        monkeypatch.setenv("CAREPATH_DATABASE_URL", url)
        get_settings.cache_clear()
        try:
            code = main(["db", "backup", *argv])
        finally:
            get_settings.cache_clear()
        out = capsys.readouterr()
        return code, out.out, out.err

    return cli


def test_a_backup_taken_during_a_write_holds_what_was_committed_and_nothing_else(
        embedded: Embedded, run: Run, tmp_path: Path) -> None:
    embedded.add_patient("Committed Before")
    backups = tmp_path / "backups"
    backups.mkdir()
    target = backups / "monday.sqlite3"
    with transaction(embedded.db, write=True) as session:  # holds the write lock meanwhile
        session.add(Patient(clinic_id=embedded.clinic_id, display_name="Still Writing",
                            created_at=ManualClock().now()))
        session.flush()
        code, out, err = run(embedded.url, str(target))
    assert code == 0, err
    assert out.startswith(f"backed up {embedded.url} to {target} (") and err == "", out
    with sqlite3.connect(target) as copy:
        names = [row[0] for row in copy.execute("SELECT display_name FROM patients")]
        (revision,) = copy.execute("SELECT version_num FROM alembic_version").fetchone()
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        (versions,) = copy.execute("SELECT count(*) FROM model_versions").fetchone()
    assert names == ["Committed Before"]
    assert target.stat().st_mode & 0o777 == 0o600  # health data: its owner only
    assert versions == 1  # the deployed reference pathway came along
    assert f"schema revision {revision})" in out
    assert [p.name for p in backups.iterdir()] == ["monday.sqlite3"]  # no partial file left
    # The database itself goes on as before: the write that was in progress is kept.
    embedded.add_patient("After")
    with transaction(embedded.db, write=False) as session:
        assert session.exec(select(func.count()).select_from(Patient)).one() == 3


def test_a_backup_never_overwrites_a_file(embedded: Embedded, run: Run,
                                          tmp_path: Path) -> None:
    target = tmp_path / "backup.sqlite3"
    target.write_bytes(b"yesterday's backup")
    code, out, err = run(embedded.url, str(target))
    assert code == 2 and out == ""
    assert err.strip() == (f"carepath: {target} already exists; give a new file name (a "
                           "backup never overwrites a file)")
    assert target.read_bytes() == b"yesterday's backup"


def test_a_missing_directory_or_database_is_named(embedded: Embedded, run: Run,
                                                  tmp_path: Path) -> None:
    nowhere = tmp_path / "no" / "such"
    code, _, err = run(embedded.url, str(nowhere / "b.sqlite3"))
    assert code == 2
    assert err.strip() == f"carepath: there is no directory {nowhere} to write the backup in"
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    missing = tmp_path / "gone.sqlite3"
    code, _, err = run(f"sqlite:///{missing}", str(out_dir / "b.sqlite3"))
    assert code == 2
    assert err.strip() == (f"carepath: there is no database at {missing} "
                           "(CAREPATH_DATABASE_URL); nothing to back up")
    assert list(out_dir.iterdir()) == []


def test_a_file_that_is_not_a_database_is_refused_and_no_copy_is_left(
        run: Run, tmp_path: Path) -> None:
    impostor = tmp_path / "notes.sqlite3"
    impostor.write_text("not a database at all, but long enough to have a header " * 20)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, out, err = run(f"sqlite:///{impostor}", str(out_dir / "b.sqlite3"))
    assert code == 2 and out == ""
    assert err.startswith(f"carepath: {impostor} could not be read as an SQLite database"), err
    assert list(out_dir.iterdir()) == []


def test_postgresql_is_pointed_to_pg_dump(run: Run, tmp_path: Path) -> None:
    url = "postgresql+psycopg://carepath:secret@127.0.0.1:1/carepath"
    code, out, err = run(url, str(tmp_path / "b.sql"))
    assert code == 2 and out == ""
    assert err.strip() == ("carepath: the database is postgresql, not the embedded SQLite "
                           "file: back it up with pg_dump")
    assert list(tmp_path.iterdir()) == []
