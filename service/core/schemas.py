"""Request and response bodies of the JSON API (also the pages' JSON twins)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pathways.properties import TaskRole
from service.core.tables import UserRole

MAX_ID = 2**31 - 1
"""Ids are 32-bit on PostgreSQL; a larger one is simply not found (422, never a 500)."""
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
AfterId = Annotated[int, Query(ge=0, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]
RoleQuery = Annotated[TaskRole | None, Query()]


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str


class LoginPublic(BaseModel):
    role: str
    csrf_token: str


class UserPublic(BaseModel):
    id: int
    username: str
    role: str
    full_name: str
    clinic_id: int | None
    patient_id: int | None
    active: bool


class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=100, pattern=r"^[a-zA-Z0-9_.-]+$")
    password: str = Field(min_length=8, max_length=200)
    role: UserRole
    full_name: str = Field(default="", max_length=200)
    clinic_id: int | None = None
    patient_id: int | None = None


class UserUpdate(BaseModel):
    """An admin's change to an account: deactivate or reactivate it, or give it a new
    password. Deactivating it or changing its password ends every login it has."""

    model_config = ConfigDict(extra="forbid")
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=200)

    @model_validator(mode="after")
    def _changes_something(self) -> UserUpdate:
        if self.active is None and self.password is None:
            raise ValueError("give `active`, `password` or both")
        return self


class PatientPassword(BaseModel):
    """A new password for a patient's login, set by a clinician of their clinic."""

    password: str = Field(min_length=8, max_length=200)


class PatientLoginPublic(BaseModel):
    username: str


class PasswordChange(BaseModel):
    """Changing one's own password: the current one, and the new one."""

    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=8, max_length=200)


class PatientLogin(BaseModel):
    username: str = Field(min_length=3, max_length=100, pattern=r"^[a-zA-Z0-9_.-]+$")
    password: str = Field(min_length=8, max_length=200)


class ReferralCreate(BaseModel):
    display_name: str = Field(min_length=1, max_length=200)
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    login: PatientLogin | None = None
    """Optional: create the patient's own login at the same time."""


class SelfReferralCreate(BaseModel):
    clinic_id: int
    display_name: str = Field(min_length=1, max_length=200)
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    login: PatientLogin


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


class AccessRecordPublic(BaseModel):
    id: int
    at: datetime
    user_id: int
    username: str
    role: str
    patient_id: int
    episode_id: int
    request: str


class OwnAccessPublic(BaseModel):
    """One opening of a patient's record, as the patient sees it: when, and by whom."""

    at: datetime
    by: str
    role: str


class AccessLogPublic(BaseModel):
    data: list[AccessRecordPublic]
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


class ModelUpload(BaseModel):
    files: dict[str, str] = Field(min_length=1, max_length=200)
    """File name -> text: pathway.toml, *.bpmn, *.dmn, forms/*.json."""
    activate: bool = True


class ModelVersionPublic(BaseModel):
    id: int
    name: str
    process_id: str
    digest: str
    deployed_by: int | None
    deployed_at: datetime
    active: bool


class VerifyPublic(BaseModel):
    ok: bool
    checked: int
    first_bad_id: int | None
    message: str


class StratumTallyPublic(BaseModel):
    stratum: str
    numerator: int
    denominator: int
    rate: float | None


class IndicatorPublic(BaseModel):
    """One guideline-adherence indicator (domain.md section 7) over a group of episodes."""

    id: int
    name: str
    numerator: int
    denominator: int
    rate: float | None
    """numerator / denominator; null when no episode is counted."""
    available: bool
    """false when the pathway's events cannot support it (`note` says what is missing)."""
    note: str
    by_stratum: list[StratumTallyPublic]
    """Only for indicators reported by stratum (11); empty otherwise."""


class ClinicianIndicatorsPublic(BaseModel):
    """The episodes whose first visit this clinician recorded."""

    user_id: int
    name: str
    episodes: int
    indicators: list[IndicatorPublic]


class ClinicIndicatorsPublic(BaseModel):
    clinic_id: int
    name: str
    episodes: int
    indicators: list[IndicatorPublic]
    clinicians: list[ClinicianIndicatorsPublic]


class IndicatorsPublic(BaseModel):
    """Adherence indicators for the episodes that started in [start, end], as of `as_of`."""

    start: date
    end: date
    as_of: datetime
    clinics: list[ClinicIndicatorsPublic]
