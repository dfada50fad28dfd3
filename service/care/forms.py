"""A task's form as this episode's patient is given it: the model's form, made personal where
it says so. The page, its JSON twin and the completion all use this one form.

- A follow-up rates the PSFS activities named at intake (psfs_activities.py).
- A choice marked `"x-options-from": "exercise_programme"` offers only the exercises of the
  patient's current programme (the weekly check-in: which exercises brought the pain on, which
  felt too hard), each by its title.
- A number marked `"x-default-from": "exercise_logs"` (the weekly check-in's sessions) comes
  filled in with the sessions the patient logged since the programme week began (its
  `default`): carepath already knows them, so the patient only corrects it.
- A form marked `"x-show-risk-factors": true` (the first visit) says in its description which
  risk factors the safety screen noted for the clinician to weigh: age alone is one, not a
  red flag (IFOMPT, domain.md section 4).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from service.care import psfs as psfs_activities
from service.core.tables import Event, ExerciseLog

PROGRAMME_EVENTS = ("exercise_started", "exercise_level_changed")
WEEK_START_EVENTS = ("exercise_started", "exercise_week_completed", "exercise_alert_reviewed")
"""A programme week restarts when the weekly timer is armed again: at the start, and after
each check-in (or the alert review that follows a bad week)."""


def form_for_episode(session: Session, episode_id: int,
                     schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """The form as the episode's patient is given it (the same object when nothing changes)."""
    given = psfs_activities.form_for_episode(session, episode_id, schema)
    if given is None:
        return None
    choices = list(_programme_choices(given))
    notes = given.get("x-show-risk-factors") is True
    counted = [name for name, prop in given.get("properties", {}).items()
               if isinstance(prop, dict) and prop.get("x-default-from") == "exercise_logs"]
    if not choices and not notes and not counted:
        return given
    given = copy.deepcopy(given) if given is schema else given
    if counted:
        sessions = len(week_sessions(session, episode_id)[1])
        for name in counted:
            given["properties"][name]["default"] = sessions
    if choices:
        ids = current_programme_ids(session, episode_id)
        for items in _programme_choices(given):
            items["enum"] = [i for i in items.get("enum", []) if i in ids]
    if notes:
        given["description"] = " ".join(
            filter(None, [str(given.get("description") or ""),
                          *risk_factor_notes(session, episode_id)]))
    return given


def _programme_choices(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The item schemas of the choices that list the programme's exercises."""
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict) and prop.get("x-options-from") == "exercise_programme":
            items = prop.get("items")
            if isinstance(items, dict):
                yield items


def current_programme_ids(session: Session, episode_id: int) -> set[str]:
    """The exercises of the episode's latest programme."""
    data = session.exec(select(Event.data).where(
        Event.episode_id == episode_id, col(Event.name).in_(PROGRAMME_EVENTS))
        .order_by(col(Event.id).desc())).first()
    programme = (data or {}).get("exercise_programme") or []
    return {str(e.get("exercise")) for e in programme if isinstance(e, dict)}


def week_sessions(session: Session, episode_id: int) -> tuple[datetime | None,
                                                              list[datetime]]:
    """When the programme week began (None before the programme), and the sessions logged
    since: one session per moment of logging, so a day's exercises sent on one form are one
    session (the pages, the check-in and its count agree)."""
    started = session.exec(select(Event.at).where(
        Event.episode_id == episode_id, col(Event.name).in_(WEEK_START_EVENTS))
        .order_by(col(Event.id).desc())).first()
    if started is None:
        return None, []
    logged = session.exec(select(ExerciseLog.logged_at).where(
        ExerciseLog.episode_id == episode_id, col(ExerciseLog.logged_at) >= started)).all()
    return started, sorted(set(logged))


def risk_factor_notes(session: Session, episode_id: int) -> list[str]:
    """Sentences for the clinician about the risk factors the safety screen noted."""
    notes = []
    for data in session.exec(select(Event.data).where(
            Event.episode_id == episode_id, Event.name == "risk_factor_noted")).all():
        if (data or {}).get("age_risk") and (data or {}).get("age") is not None:
            notes.append(f"Noted at the safety screen: age {data['age']}, a risk factor to "
                         "weigh in the assessment (not a red flag by itself).")
    return notes
