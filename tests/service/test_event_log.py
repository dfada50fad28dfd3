"""The event log proves itself: a database writer who edits any column of an event, removes,
inserts or reorders events, cuts off the last ones or rewrites the chain with plain SHA-256
is caught, and verification names the first bad event and what was done to it. The log
tables refuse UPDATE and DELETE. (Each on SQLite and, with CAREPATH_TEST_DATABASE=postgres,
on PostgreSQL.)"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from service.audit.integrity import verify, verify_command
from service.core import checkpoints, migrate
from service.core.db import create_db_engine, transaction
from service.core.event_chain import GENESIS, LogSeal, event_hash, seal_of, unkeyed_hash
from service.core.settings import DEFAULT_SECRET, Settings
from service.core.tables import Event

from .conftest import World, _reset_postgres, database_url, refer, through_first_visit

EVENTS: sa.Table = Event.__table__  # type: ignore[attr-defined]


@pytest.fixture
def log(world: World) -> World:
    """A world whose log holds two patients' episodes: one through its first visit."""
    patient, _ = refer(world, "Astrid Berg", "astrid")
    through_first_visit(world, patient, "low_start_back")
    refer(world, "Bo Ek", "boek", clinician="physio2")
    assert len(rows(world)) >= 8
    return world


def rows(world: World) -> list[dict[str, Any]]:
    with transaction(world.db, write=False) as session:
        return [dict(row) for row in
                session.connection().execute(sa.select(EVENTS).order_by(EVENTS.c.id)).mappings()]


def verified(world: World) -> dict[str, Any]:
    response = world.client("auditor").get("/api/audit/verify")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def postgres(world: World) -> bool:
    return world.db.dialect.name == "postgresql"


@contextmanager
def tampering(world: World) -> Iterator[sa.Connection]:
    """A database writer going around the service, who first turns the log's triggers off
    (a table's owner can)."""
    with world.db.begin() as connection:
        if postgres(world):
            connection.exec_driver_sql("ALTER TABLE events DISABLE TRIGGER USER")
        else:
            for verb in ("update", "delete"):
                connection.exec_driver_sql(f"DROP TRIGGER events_no_{verb}")
        yield connection
        if postgres(world):
            connection.exec_driver_sql("ALTER TABLE events ENABLE TRIGGER USER")


def set_column(world: World, event_id: int, **values: Any) -> None:
    with tampering(world) as connection:
        connection.execute(sa.update(EVENTS).where(EVENTS.c.id == event_id).values(**values))


def delete(world: World, *event_ids: int) -> None:
    with tampering(world) as connection:
        connection.execute(sa.delete(EVENTS).where(EVENTS.c.id.in_(event_ids)))


def assert_breaks(world: World, first_bad_id: int, reason: str) -> dict[str, Any]:
    body = verified(world)
    assert (body["ok"], body["first_bad_id"], body["reason"]) == (False, first_bad_id, reason), \
        body
    assert body["message"].startswith(f"the log breaks at event {first_bad_id}: "), body
    return body


def test_an_intact_log_verifies_and_its_head_is_checkpointed_for_the_auditor(
        log: World) -> None:
    events = rows(log)
    first = verified(log)
    assert first["ok"] is True and first["checked"] == len(events), first
    assert first["head"] == {"last_id": events[-1]["id"], "count": len(events),
                             "hash": events[-1]["hash"]}
    assert first["message"] == (f"{len(events)} events chain correctly, last id "
                                f"{events[-1]['id']}, no checkpoint yet")
    again = verified(log)
    assert again["checkpoint"]["last_id"] == events[-1]["id"], again
    assert "matches checkpoint of" in again["message"]
    download = log.client("auditor").get("/api/audit/checkpoints")
    assert download.status_code == 200
    lines = [json.loads(line) for line in download.text.splitlines()]
    assert [(c["last_id"], c["count"], c["head"]) for c in lines] == [
        (events[-1]["id"], len(events), events[-1]["hash"])]
    assert log.client("physio").get("/api/audit/checkpoints").status_code == 403


def test_the_chain_covers_every_column_and_is_keyed(log: World) -> None:
    """Every column but the hash goes into it, under the key; ids follow one another."""
    events = rows(log)
    key = log.settings.log_key
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["prev_hash"] == GENESIS
    for before, event in zip([None, *events], events, strict=False):
        assert event["prev_hash"] == (before["hash"] if before else GENESIS)
        assert event["hash"] == event_hash(key, event) != unkeyed_hash(event)
    changed = {**events[2], "clinic_id": log.clinics["south"]}
    assert event_hash(key, changed) != events[2]["hash"]


def other_value(world: World, column: str, event: dict[str, Any]) -> Any:
    """Another plausible value of an event's column, as a tamperer would write it."""
    episodes = {e["episode_id"] for e in rows(world)} - {event["episode_id"]}
    return {"episode_id": min(episodes), "clinic_id": world.clinics["south"],
            "name": "patient_discharged", "at": event["at"] + timedelta(minutes=1),
            "element": "discharge", "actor_id": world.users["lead"],
            "data": {**(event["data"] or {}), "note": "changed"},
            "prev_hash": "f" * 64, "hash": "e" * 64}[column]


@pytest.mark.parametrize("column", ["episode_id", "clinic_id", "name", "at", "element",
                                    "actor_id", "data", "prev_hash", "hash"])
def test_an_edit_to_any_column_names_the_event(log: World, column: str) -> None:
    target = rows(log)[3]
    set_column(log, target["id"], **{column: other_value(log, column, target)})
    assert_breaks(log, target["id"], "edited")


def test_an_event_moved_to_another_id_leaves_a_gap_where_it_was(log: World) -> None:
    target = rows(log)[3]
    set_column(log, target["id"], id=10_000)
    assert_breaks(log, target["id"] + 1, "missing")


@pytest.mark.parametrize("where", ["first", "middle"])
def test_a_removed_event_is_found_at_the_next(log: World, where: str) -> None:
    events = rows(log)
    removed = events[0 if where == "first" else 4]["id"]
    delete(log, removed)
    body = assert_breaks(log, removed + 1, "missing")
    if where == "first":
        assert "the log's first events were removed" in body["message"]


def test_removing_the_last_events_is_found_against_the_checkpoint(log: World) -> None:
    events = rows(log)
    assert verified(log)["ok"] is True  # checkpoints the head
    delete(log, events[-1]["id"], events[-2]["id"])
    body = assert_breaks(log, events[-2]["id"], "truncated")
    assert f"recorded {len(events)} events up to event {events[-1]['id']}" in body["message"]


def test_a_log_cut_and_written_on_does_not_match_its_checkpoint(log: World) -> None:
    """The last events removed, then the service appends new ones in their ids: each is
    sealed with the key, but the head the checkpoint recorded is gone."""
    events = rows(log)
    assert verified(log)["ok"] is True
    delete(log, events[-1]["id"], events[-2]["id"])
    for name, username in (("Cilla Dahl", "cilla"), ("Dag Falk", "dagfalk")):
        refer(log, name, username)
    assert rows(log)[-1]["id"] >= events[-1]["id"]
    assert_breaks(log, events[-1]["id"], "replaced")


def test_an_inserted_event_is_named(log: World) -> None:
    events = rows(log)
    after = events[3]
    with tampering(log) as connection:
        for event in reversed(events[4:]):  # make room: later ids move up one
            connection.execute(sa.update(EVENTS).where(EVENTS.c.id == event["id"])
                               .values(id=event["id"] + 1))
        forged = {**after, "id": after["id"] + 1, "name": "red_flags_cleared",
                  "prev_hash": after["hash"]}
        forged["hash"] = unkeyed_hash(forged)
        connection.execute(sa.insert(EVENTS).values(**forged))
    assert_breaks(log, after["id"] + 1, "inserted")


def test_an_event_added_at_the_end_without_the_key_is_named(log: World) -> None:
    last = rows(log)[-1]
    forged = {**last, "id": last["id"] + 1, "name": "patient_discharged",
              "prev_hash": last["hash"]}
    forged["hash"] = unkeyed_hash(forged)
    with tampering(log) as connection:
        connection.execute(sa.insert(EVENTS).values(**forged))
    assert_breaks(log, last["id"] + 1, "rehashed")


@pytest.mark.parametrize("apart", [1, 3])
def test_reordered_events_are_named(log: World, apart: int) -> None:
    events = rows(log)
    first, second = events[2]["id"], events[2 + apart]["id"]
    with tampering(log) as connection:
        for old, new in ((first, -1), (second, first), (-1, second)):
            connection.execute(sa.update(EVENTS).where(EVENTS.c.id == old).values(id=new))
    assert_breaks(log, first, "reordered")


def test_a_rewrite_with_every_later_hash_recomputed_is_caught_without_the_key(
        log: World) -> None:
    """Plain SHA-256 over the very same columns, from the edited event to the end: the chain
    links up, but only the key makes a hash the log's."""
    events = rows(log)
    target = 3
    with tampering(log) as connection:
        prev = events[target - 1]["hash"]
        for index, event in enumerate(events[target:]):
            rewritten = {**event, "prev_hash": prev}
            if index == 0:
                rewritten["clinic_id"] = log.clinics["south"]
            prev = rewritten["hash"] = unkeyed_hash(rewritten)
            connection.execute(sa.update(EVENTS).where(EVENTS.c.id == event["id"])
                               .values(**rewritten))
    body = assert_breaks(log, events[target]["id"], "rehashed")
    assert "without the log's key" in body["message"]


def test_an_edited_checkpoint_line_is_refused(log: World) -> None:
    assert verified(log)["ok"] is True
    path = log.settings.checkpoint_file
    assert path is not None
    line = json.loads(path.read_text())
    line["last_id"] -= 1
    path.write_text(json.dumps(line) + "\n")
    body = verified(log)
    assert (body["ok"], body["reason"], body["first_bad_id"]) == (False, "checkpoint_file", None)
    assert "line 1 of the checkpoint file" in body["message"]


@pytest.mark.parametrize("table", ["events", "access_log"])
def test_the_log_tables_refuse_update_and_delete(log: World, table: str) -> None:
    patient_id = log.add_patient("Dag Falk")
    episode = log.client("physio").get("/api/episodes").json()["data"][0]["id"]
    assert log.client("physio").get(f"/api/episodes/{episode}").status_code == 200
    statements = [f"UPDATE {table} SET id = id", f"DELETE FROM {table}"]
    if postgres(log):
        statements.append(f"TRUNCATE {table} CASCADE")
    for statement in statements:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), log.db.begin() as conn:
            conn.exec_driver_sql(statement)
    with transaction(log.db, write=False) as session:
        assert session.connection().execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
    assert patient_id


def test_the_command_line_says_ok_or_where_the_log_breaks(
        log: World, capsys: pytest.CaptureFixture[str]) -> None:
    events = rows(log)
    assert verify_command(log.db, log.settings) == 0
    said = capsys.readouterr()
    assert said.out == (f"ok: {len(events)} events chain correctly, last id "
                        f"{events[-1]['id']}, no checkpoint yet\n") and said.err == ""
    assert verify_command(log.db, log.settings) == 0
    assert "matches checkpoint of" in capsys.readouterr().out
    set_column(log, events[1]["id"], clinic_id=log.clinics["south"])
    assert verify_command(log.db, log.settings) == 1
    said = capsys.readouterr()
    assert said.out == "" and said.err.startswith(
        f"carepath: the log breaks at event {events[1]['id']}: it was changed")
    assert said.err.count("\n") == 1


def test_the_worker_checkpoints_a_grown_log_once_the_interval_has_passed(log: World) -> None:
    seal = seal_of(log.db)
    now = log.clock.now()
    first = checkpoints.checkpoint(log.db, now, due_only=True)
    assert first is not None and first.head.last_id == rows(log)[-1]["id"]
    refer(log, "Cilla Dahl", "cilla")
    soon = now + timedelta(seconds=seal.checkpoint_seconds / 2)
    assert checkpoints.checkpoint(log.db, soon, due_only=True) is None
    later = now + timedelta(seconds=seal.checkpoint_seconds)
    assert checkpoints.checkpoint(log.db, later, due_only=True) is not None
    assert checkpoints.checkpoint(log.db, later + timedelta(hours=1), due_only=True) is None
    assert len(checkpoints.read_checkpoints(seal)) == 2
    assert verified(log)["ok"] is True


# -- the key and the checkpoint file, from the settings


@pytest.mark.parametrize(("audit_key", "refused"), [
    pytest.param(None, True, id="none"),
    pytest.param("short", True, id="a short key"),
    pytest.param("s" * 40, True, id="the secret key"),
    pytest.param("k" * 40, False, id="a key of its own"),
])
def test_production_refuses_to_start_without_a_log_key_of_its_own(
        monkeypatch: pytest.MonkeyPatch, audit_key: str | None, refused: bool) -> None:
    monkeypatch.delenv("CAREPATH_AUDIT_KEY", raising=False)
    given = {"secret_key": "s" * 40, "audit_key": audit_key}
    if refused:
        with pytest.raises(ValueError, match="CAREPATH_AUDIT_KEY"):
            Settings(mode="production", **given)
    else:
        assert Settings(mode="production", **given).log_key == audit_key.encode()  # type: ignore[union-attr]


def test_development_derives_a_log_key_and_keeps_checkpoints_beside_the_database(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAREPATH_AUDIT_KEY", raising=False)
    monkeypatch.delenv("CAREPATH_AUDIT_CHECKPOINTS", raising=False)
    settings = Settings(mode="development", database_url="sqlite:////srv/c/carepath.sqlite3")
    assert settings.log_key not in (b"", DEFAULT_SECRET.encode())
    assert settings.checkpoint_file == Path("/srv/c/carepath.sqlite3.checkpoints.jsonl")
    assert Settings(database_url="sqlite://").checkpoint_file is None
    assert Settings(database_url="postgresql+psycopg://h/db").checkpoint_file is not None


# -- upgrading a log chained by the old rule (migration 0009)


def plain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """The chain's rule before 0009."""
    body = json.dumps([prev_hash, row["episode_id"], row["name"], row["at"].isoformat(),
                       row["element"], row["actor_id"], row["data"]],
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


@pytest.mark.parametrize("broken", [False, True], ids=["intact", "broken"])
def test_an_upgrade_rechains_an_intact_old_log_with_the_key_and_refuses_a_broken_one(
        tmp_path: Path, broken: bool) -> None:
    url = database_url()
    if url.startswith("postgresql"):
        _reset_postgres(url)
    settings = Settings(database_url=url, audit_checkpoints=tmp_path / "checkpoints.jsonl")
    db = create_db_engine(settings)
    try:
        migrate.upgrade(db, "0008")
        at = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
        old, prev = [], GENESIS
        for number in range(1, 6):
            row = {"id": number, "episode_id": None, "clinic_id": None, "name": f"step_{number}",
                   "at": at + timedelta(minutes=number), "element": None, "actor_id": None,
                   "data": {"n": number}, "prev_hash": prev}
            row["hash"] = prev = plain_hash(prev, row)
            old.append(row)
        if broken:
            old[2]["name"] = "changed_before_the_upgrade"
        with db.begin() as connection:
            connection.execute(sa.insert(EVENTS), old)
        if broken:
            with pytest.raises(RuntimeError, match="breaks at event 3 under its old rule"):
                migrate.upgrade(db)
            return
        migrate.upgrade(db)
        with transaction(db, write=False) as session:
            verdict = verify(session, LogSeal.from_settings(settings))
        assert (verdict.ok, verdict.checked) == (True, 5), verdict
    finally:
        db.dispose()
