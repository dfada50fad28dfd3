"""A day's exercise session from the patient's page: every exercise of the programme on one
form (done or not, sets done, pain, difficulty), the done ones recorded together.

The JSON API stays one log per exercise (`POST /api/episodes/{id}/exercise-logs`); this
records each done exercise through the same service function, inside the request's one
transaction, so a session is saved whole or not at all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from service.care.schemas import MAX_SETS, ExerciseLogCreate
from service.core.context import Context
from service.patients.views import ExerciseView
from service.people import service as people

Difficulty = Literal["too_easy", "about_right", "too_hard"]
DIFFICULTIES: list[tuple[Difficulty, str]] = [
    ("too_easy", "Too easy"), ("about_right", "About right"), ("too_hard", "Too hard")]
PAIN_SCALE = [str(n) for n in range(11)]


@dataclass(frozen=True)
class SessionForm:
    """What the patient sent: `done_<id>` ("yes"), `sets_<id>` (for an exercise dosed in
    sets), `pain_<id>` (0-10), `difficulty_<id>`."""

    values: dict[str, str]
    logs: list[ExerciseLogCreate] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    """By the name of the control to fix ("session" when nothing was marked done)."""


def read_session_form(form: Mapping[str, str], exercises: list[ExerciseView]) -> SessionForm:
    """The exercises marked done, each with its sets, pain and difficulty, or what to fix."""
    values: dict[str, str] = {}
    logs: list[ExerciseLogCreate] = []
    errors: dict[str, str] = {}
    for e in exercises:
        for name in (f"done_{e.id}", f"sets_{e.id}", f"pain_{e.id}", f"difficulty_{e.id}"):
            values[name] = form.get(name, "")
        if values[f"done_{e.id}"] != "yes":
            continue
        pain, difficulty = values[f"pain_{e.id}"], values[f"difficulty_{e.id}"]
        sets = _sets(values[f"sets_{e.id}"], e)
        if sets is False:
            errors[f"sets_{e.id}"] = (f"{e.title}: choose how many sets you did, from 1 to "
                                      f"{set_choices(e)[-1]}.")
        if pain not in PAIN_SCALE:
            errors[f"pain_{e.id}"] = f"{e.title}: choose how much pain you had, from 0 to 10."
        if difficulty not in dict(DIFFICULTIES):
            errors[f"difficulty_{e.id}"] = f"{e.title}: choose how hard it felt."
        if pain in PAIN_SCALE and difficulty in dict(DIFFICULTIES) and sets is not False:
            logs.append(ExerciseLogCreate(exercise=e.id, level=e.level, pain_nrs=int(pain),
                                          difficulty=difficulty, sets=sets))
    if not errors and not logs:
        errors["session"] = "Mark at least one exercise as done today."
    return SessionForm(values, logs, errors)


def set_choices(exercise: ExerciseView) -> list[int]:
    """The counts the form offers: 1 up to the dose's sets and two more (a patient may do
    extra), never past what a log takes."""
    return list(range(1, min((exercise.sets or 0) + 2, MAX_SETS) + 1))


def _sets(raw: str, exercise: ExerciseView) -> int | None | Literal[False]:
    """Sets done: None for a timed exercise or when not said, False for a count the form
    does not offer."""
    if exercise.sets is None or raw == "":
        return None
    return int(raw) if raw.isdigit() and int(raw) in set_choices(exercise) else False


def log_session(ctx: Context, episode_id: int, logs: list[ExerciseLogCreate]) -> None:
    """Record every done exercise; any refusal leaves none recorded (one transaction)."""
    for body in logs:
        people.add_exercise_log(ctx, episode_id, body)
