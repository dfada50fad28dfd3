"""Prepared statements (service/core/statements.py) convert values as SQLAlchemy does and run
inside the session's own transaction, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from service.core import event_chain
from service.core.db import transaction
from service.core.statements import Prepared
from service.core.tables import Episode, Event, ReadyTask, TaskSubmission

from .conftest import World, refer

_SUBMISSIONS: sa.Table = TaskSubmission.__table__  # type: ignore[attr-defined]
_INSERT = Prepared(_SUBMISSIONS.insert(), columns=[c.name for c in _SUBMISSIONS.c])
_BY_EPISODE = Prepared(sa.select(_SUBMISSIONS)
                       .where(_SUBMISSIONS.c.episode_id == sa.bindparam("episode_id"))
                       .order_by(_SUBMISSIONS.c.task_id))


def _episode_id(world: World) -> int:
    refer(world, "Statement Tester", "statements")
    with transaction(world.db, write=False) as session:
        episode = session.exec(select(Episode)).first()
        assert episode is not None and episode.id is not None
        return episode.id


def _submission(episode_id: int, task_id: str, at: datetime) -> dict[str, object]:
    return {"task_id": task_id, "episode_id": episode_id, "name": "weekly_check_in",
            "form": None, "data": {"pain": 3, "notes": ["å", None], "done": True},
            "submitted_by": None, "submitted_at": at}


def test_values_go_in_and_come_out_as_through_sqlalchemy(world: World) -> None:
    """Aware datetimes, JSON and NULLs written by a prepared INSERT read back through the
    ORM unchanged; a prepared SELECT reads the ORM's rows as the ORM does."""
    episode_id = _episode_id(world)
    at = datetime(2026, 3, 4, 5, 6, 7, 890_000, tzinfo=UTC)
    rows = [_submission(episode_id, f"t-{i}", at + timedelta(days=i)) for i in range(3)]
    with transaction(world.db, write=True) as session:
        _INSERT.execute_many(session, rows[:2])
        session.add(TaskSubmission(**rows[2]))  # type: ignore[arg-type]
    with transaction(world.db, write=False) as session:
        loaded = [session.get(TaskSubmission, row["task_id"]) for row in rows]
        assert [item.model_dump() if item else None for item in loaded] == rows
        assert _BY_EPISODE.all(session, {"episode_id": episode_id}) == rows
        assert _BY_EPISODE.first(session, {"episode_id": -1}) is None


def test_they_run_in_the_sessions_transaction(world: World) -> None:
    """A rollback takes back what they wrote; after a commit, the session's next transaction
    is the one they join."""
    episode_id = _episode_id(world)
    at = datetime(2026, 3, 4, tzinfo=UTC)
    with pytest.raises(RuntimeError), transaction(world.db, write=True) as session:
        _INSERT.execute(session, _submission(episode_id, "rolled-back", at))
        raise RuntimeError("a step failed half way")
    with Session(world.db) as session:
        _INSERT.execute(session, _submission(episode_id, "first", at))
        session.commit()
        _INSERT.execute(session, _submission(episode_id, "second", at))
        session.rollback()
        _INSERT.execute(session, _submission(episode_id, "third", at))
        session.commit()
    with transaction(world.db, write=False) as session:
        found = [row["task_id"] for row in _BY_EPISODE.all(session, {"episode_id": episode_id})]
    assert found == ["first", "third"]


def test_a_completions_writes_match_the_orms_view(world: World) -> None:
    """The projection rows and chained events a step writes with prepared statements are
    what the ORM reads back: every event's hash chains to the one before."""
    refer(world, "Chain Reader", "chainreader")
    with transaction(world.db, write=False) as session:
        events = session.exec(select(Event).order_by(Event.id)).all()  # type: ignore[arg-type]
        tasks = session.exec(select(ReadyTask)).all()
    assert events and tasks
    previous = event_chain.GENESIS
    for event in events:
        assert event.prev_hash == previous
        assert event.hash == event_chain.event_hash(world.settings.log_key,
                                                   event_chain.columns(event))
        previous = event.hash
    assert all(task.ready_at is None or task.ready_at.tzinfo is not None for task in tasks)


def test_a_select_naming_two_columns_alike_is_refused_where_it_is_written() -> None:
    """Rows are read by column name: two columns of one name would lose one silently."""
    episodes: sa.Table = Episode.__table__  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="selected twice"):
        Prepared(sa.select(_SUBMISSIONS.c.episode_id, episodes.c.id.label("episode_id")))
