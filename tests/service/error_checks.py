"""Checks shared by the security and error tests: the one shape of every error answer, and
what a refused request must leave exactly as it was.

Every error answer has one shape: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from typing import Any

from httpx import Response
from sqlmodel import func, select

from service.core.db import transaction
from service.core.tables import (
    Episode,
    Event,
    ExerciseLog,
    Instance,
    ModelVersion,
    Patient,
    ReadyTask,
    TaskSubmission,
    User,
)

from .conftest import World


def error_of(response: Response) -> dict[str, Any]:
    """The error of an answer, after checking it has the one shape every error has."""
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "fields"}, body
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and len(error["message"].split()) >= 3, error
    assert error["message"][:1].isupper(), f"a sentence starts with a capital: {error}"
    assert isinstance(error["fields"], list)
    assert all(set(f) == {"field", "message"} for f in error["fields"]), error
    return error


def saved_state(world: World) -> dict[str, Any]:
    """What a refused request must leave exactly as it was."""
    with transaction(world.db, write=False) as session:
        state: dict[str, Any] = {
            table.__name__: session.exec(select(func.count()).select_from(table)).one()
            for table in (Patient, User, Episode, Event, TaskSubmission, ExerciseLog,
                          ModelVersion)}
        state["instances"] = sorted(session.exec(select(Instance.id, Instance.version)).all())
        state["ready tasks"] = sorted(session.exec(select(ReadyTask.task_id)).all())
        state["active model"] = session.exec(select(ModelVersion.id).where(
            ModelVersion.active == True)).all()  # noqa: E712
    return state
