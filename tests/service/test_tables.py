"""Table-model objects built from Core rows (`from_row`) are what the constructor, and the
ORM, build for the same values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from service.care import repository
from service.core import credentials
from service.core.db import transaction
from service.core.tables import Episode, ReadyTask, User, from_row

from .conftest import World, refer


def test_from_row_builds_what_the_constructor_builds() -> None:
    values: dict[str, Any] = {
        "id": 7, "username": "ana", "password_hash": "h", "role": "patient",
        "full_name": "Ana", "clinic_id": None, "patient_id": 3, "active": True,
        "created_at": datetime(2026, 1, 2, tzinfo=UTC), "session_generation": 2}
    assert set(values) == {c.name for c in User.__table__.c}  # type: ignore[attr-defined]
    built, made = from_row(User, values), User(**values)
    assert built.model_dump() == made.model_dump()
    assert sa.inspect(built).transient  # no session, as a constructed one
    built.role = "physiotherapist"  # attributes set as usual
    assert built.role == "physiotherapist"


def test_the_hot_reads_give_what_the_orm_loads(world: World) -> None:
    """What a completion reads with Core (the caller, the episode and its tasks) equals,
    field by field, what the ORM loads for the same rows."""
    refer(world, "Row Reader", "rowreader")
    with transaction(world.db, write=True) as session:
        physio = session.exec(select(User).where(User.username == "physio")).one()
        token = credentials.issue_token(session, world.settings, physio, world.clock.now())
    with transaction(world.db, write=False) as session:
        caller = credentials.user_for_token(session, token, world.clock.now())
        loaded_user = session.get(User, physio.id)
        assert caller is not None and loaded_user is not None
        assert caller.model_dump() == loaded_user.model_dump()
        task = session.exec(select(ReadyTask)).first()
        assert task is not None
        found = repository.open_episode_of_task(session, task.task_id)
        assert found is not None
        loaded_episode = session.get(Episode, found.episode.id)
        assert loaded_episode is not None
        assert found.episode.model_dump() == loaded_episode.model_dump()
        assert found.ready[task.task_id].model_dump() == task.model_dump()
