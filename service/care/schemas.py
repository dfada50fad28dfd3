"""Request and response bodies of care's routes: episodes, tasks, their completion, events,
exercise logs, education (also the pages' JSON twins)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

MAX_SETS = 20
"""More sets than any level of the library asks for; a higher count is a typing slip."""


class ClinicPublic(BaseModel):
    id: int
    name: str


class EpisodePublic(BaseModel):
    id: int
    patient_id: int
    patient_name: str
    clinic_id: int
    status: str
    stratum: str | None
    referral_source: str
    started_at: datetime
    ended_at: datetime | None
    model_version_id: int


class EpisodesPublic(BaseModel):
    data: list[EpisodePublic]
    count: int


class TaskPublic(BaseModel):
    task_id: str
    episode_id: int
    patient_id: int
    patient_name: str
    role: str
    name: str
    title: str
    form: str | None
    education_module: str | None
    alert: str | None
    stratum: str | None
    ready_at: datetime | None
    due_at: datetime | None
    overdue: bool
    claimed_by: int | None


class TasksPublic(BaseModel):
    data: list[TaskPublic]
    count: int
    """Open tasks that match, counted up to views.COUNT_LIMIT (1,000)."""
    count_capped: bool = False
    """True when more tasks match than `count`: counting stopped there."""


class TaskDetail(TaskPublic):
    form_schema: dict[str, Any] | None


class CompleteTask(BaseModel):
    data: dict[str, Any] = Field(default_factory=dict)


class EventPublic(BaseModel):
    id: int
    episode_id: int | None
    name: str
    at: datetime
    element: str | None
    actor_id: int | None
    data: dict[str, Any]


class EventsPublic(BaseModel):
    data: list[EventPublic]
    count: int


class CompletionPublic(BaseModel):
    episode_id: int
    events: list[str]
    ready: list[TaskPublic]


class QuestionnairePublic(BaseModel):
    id: int
    task_id: str
    kind: str
    scores: dict[str, Any]
    submitted_at: datetime


class ExerciseLogCreate(BaseModel):
    exercise: str = Field(min_length=1, max_length=100)
    level: int = Field(ge=1, le=10)
    pain_nrs: int = Field(ge=0, le=10)
    difficulty: Literal["too_easy", "about_right", "too_hard"]
    sets: int | None = Field(default=None, ge=0, le=MAX_SETS,
                             description="Sets done (leave out for a timed exercise)")


class ExerciseLogPublic(ExerciseLogCreate):
    id: int
    logged_at: datetime


class EducationPublic(BaseModel):
    assigned: list[str]
    read: list[dict[str, Any]]
    """Every reading, oldest first: a module whose check was not passed may appear twice."""
    next_task_id: str | None
    open_again: list[str] = []
    """Modules offered again after a check not passed, open to read now."""


class EducationConfirm(BaseModel):
    answers: list[int] = Field(min_length=1, max_length=5)

