"""Database tables (SQLModel). The schema is created and changed by Alembic migrations only."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, Literal, TypeVar, get_args

import sqlalchemy as sa
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

UserRole = Literal["patient", "physiotherapist", "clinic_lead", "manager", "auditor", "admin"]
"""Every account's role: the one place they are written (schemas, the CLI and access read it)."""
ROLES: tuple[str, ...] = get_args(UserRole)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite has no time zones: store naive UTC)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("store timezone-aware datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def _time(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


def _json() -> Any:
    return Field(default=None, sa_column=sa.Column(sa.JSON(), nullable=True))


class Clinic(SQLModel, table=True):
    __tablename__ = "clinics"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)


class Patient(SQLModel, table=True):
    __tablename__ = "patients"
    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinics.id", index=True)
    display_name: str = Field(max_length=200)
    birth_year: int | None = None
    created_at: datetime = _time()
    email: str | None = Field(default=None, max_length=254)
    """Where reminders go (optional; nudges read it only when the patient allows email)."""


class ReminderPreference(SQLModel, table=True):
    """How a patient wants to be reminded (service/nudges): a row appears when they first
    change something; without one the defaults below apply."""

    __tablename__ = "reminder_preferences"
    patient_id: int = Field(foreign_key="patients.id", primary_key=True)
    email_on: bool = True
    """Reminders by email (an opt-out: on until the patient turns it off)."""
    remind_at: int = Field(default=18 * 60, ge=0, lt=24 * 60)
    """Minutes after the clinic's midnight at which the day's reminder goes out."""
    quiet_from: int | None = Field(default=None, ge=0, lt=24 * 60)
    quiet_until: int | None = Field(default=None, ge=0, lt=24 * 60)
    """Quiet hours, minutes after midnight (clinic time; may wrap past midnight): no email
    goes out between them."""
    calendar_token_hash: str | None = Field(default=None, max_length=64, unique=True)
    """SHA-256 of the private calendar feed's token (the token itself is never stored)."""
    next_reminder_at: datetime | None = _time(nullable=True, index=True)
    """When the reminder sweep next looks at this patient (their next reminder time, the end
    of quiet hours, or now for a message email); None: at the next sweep. Like
    `instances.next_wake_at`, it keeps each sweep to the patients who are due."""


class Reminder(SQLModel, table=True):
    """One reminder per thing: (patient, kind, key) is unique, so a thing is reminded of once
    however often and by however many workers the sweep runs."""

    __tablename__ = "reminders"
    __table_args__ = (sa.UniqueConstraint("patient_id", "kind", "key",
                                          name="uq_reminders_patient_kind_key"),)
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patients.id", index=True)
    kind: str = Field(max_length=20)
    """exercise, questionnaire, education or message."""
    key: str = Field(max_length=100)
    """Which thing: the day (exercise), the task id (questionnaire, education), the moment
    the message email was asked for (message)."""
    status: str = Field(default="sent", max_length=20)
    """queued (a message email waiting for the sweep), sent, failed (the mail server refused
    or could not be reached; not tried again)."""
    created_at: datetime = _time()
    sent_at: datetime | None = _time(nullable=True)


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True)
    password_hash: str = Field(max_length=300)
    role: str = Field(max_length=30)
    full_name: str = Field(default="", max_length=200)
    clinic_id: int | None = Field(default=None, foreign_key="clinics.id", index=True)
    patient_id: int | None = Field(default=None, foreign_key="patients.id", index=True)
    active: bool = True
    created_at: datetime = _time()
    session_generation: int = 0
    """Signed into each session cookie; logging out counts it up, which ends every cookie
    session of this user at once (cookies are not stored on the server)."""


class ApiToken(SQLModel, table=True):
    """Bearer tokens for the JSON API; only a hash is stored."""

    __tablename__ = "api_tokens"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _time()
    expires_at: datetime = _time()


class SelfReferral(SQLModel, table=True):
    """Recent self-referrals by client address, for rate limiting the public endpoint."""

    __tablename__ = "self_referrals"
    __table_args__ = (sa.Index("ix_self_referrals_client_at", "client", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    client: str = Field(max_length=100)
    at: datetime = _time(index=True)


class LoginAttempt(SQLModel, table=True):
    """Failed logins, for rate limiting across processes."""

    __tablename__ = "login_attempts"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, index=True)
    client: str = Field(max_length=100)
    at: datetime = _time(index=True)


class AccessRecord(SQLModel, table=True):
    """Who opened which patient's record, when, and with which request: one row per record a
    successful request of a clinician read (a patient reading their own is not logged;
    lists such as the worklist are not either). Auditors read it."""

    __tablename__ = "access_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _time(index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    patient_id: int = Field(foreign_key="patients.id", index=True)
    episode_id: int = Field(foreign_key="episodes.id")
    request: str = Field(max_length=300)
    """The request's method and path, e.g. `GET /patients/12`."""


class Message(SQLModel, table=True):
    """A secure message between a patient and the clinic staff of their episode: part of the
    record, append-only (triggers refuse UPDATE and DELETE, migration 0013). `sender_side`
    is who wrote it: the patient, or the clinic's staff (a physiotherapist or clinic lead,
    `sender_id`)."""

    __tablename__ = "messages"
    id: int | None = Field(default=None, primary_key=True)
    episode_id: int = Field(foreign_key="episodes.id")
    patient_id: int = Field(foreign_key="patients.id")
    clinic_id: int = Field(foreign_key="clinics.id")
    sender_id: int = Field(foreign_key="users.id")
    sender_side: str = Field(max_length=10)
    """patient or staff."""
    body: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    sent_at: datetime = _time()


class MessageThread(SQLModel, table=True):
    """An episode's messages in brief, for unread counts without counting messages: how many
    each side has not read, and up to which message it has read. Rewritten as messages come
    and are read (the messages themselves never change)."""

    __tablename__ = "message_threads"
    episode_id: int = Field(foreign_key="episodes.id", primary_key=True)
    clinic_id: int = Field(foreign_key="clinics.id")
    patient_unread: int = 0
    staff_unread: int = 0
    patient_read_up_to: int = 0
    staff_read_up_to: int = 0
    """The last message id the side had read (0: none)."""


class ExportRecord(SQLModel, table=True):
    """An identifiable export of the audit data (real ids instead of pseudonyms): who made
    it, of what and which period, and the reason they gave. Written before the export is
    streamed; pseudonymised exports leave no row (they change nothing)."""

    __tablename__ = "export_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _time(index=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    """None for the command line (whoever holds the database)."""
    export: str = Field(max_length=50)
    """What was exported, e.g. `events.csv`."""
    period_start: date
    period_end: date
    clinic_id: int | None = Field(default=None, foreign_key="clinics.id")
    reason: str = Field(max_length=500)


class ModelVersion(SQLModel, table=True):
    """An immutable, validated model bundle. Instances keep the version they started with."""

    __tablename__ = "model_versions"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    process_id: str = Field(max_length=200)
    digest: str = Field(max_length=64, unique=True)
    files: dict[str, str] = _json()
    """File name -> text (BPMN, DMN, forms, pathway.toml)."""
    spec_json: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    """SpiffWorkflow's serialized specs, for tools; the engine re-parses `files`."""
    deployed_by: int | None = Field(default=None, foreign_key="users.id")
    deployed_at: datetime = _time()
    active: bool = False


class ModelDraft(SQLModel, table=True):
    """A manager's work on a model bundle before it is deployed: saved as they edit, checked
    only when validated or deployed (until then its files are untrusted text). Deploying it
    makes an immutable `ModelVersion`; the draft then stays as the record of that work,
    read-only."""

    __tablename__ = "model_drafts"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    base_version_id: int | None = Field(default=None, foreign_key="model_versions.id")
    """The version the draft started from (None for an uploaded bundle)."""
    files: dict[str, str] = _json()
    created_by: int | None = Field(default=None, foreign_key="users.id")
    updated_by: int | None = Field(default=None, foreign_key="users.id")
    updated_at: datetime = _time()
    deployed_version_id: int | None = Field(default=None, foreign_key="model_versions.id")


class Episode(SQLModel, table=True):
    __tablename__ = "episodes"
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patients.id", index=True)
    clinic_id: int = Field(foreign_key="clinics.id", index=True)
    model_version_id: int = Field(foreign_key="model_versions.id")
    referral_source: str = Field(max_length=20)
    status: str = Field(default="active", max_length=20, index=True)
    """active, discharged, escalated, completed."""
    stratum: str | None = Field(default=None, max_length=10, index=True)
    started_at: datetime = _time()
    ended_at: datetime | None = _time(nullable=True)


class Instance(SQLModel, table=True):
    """The engine state of an episode (without the spec), with optimistic locking."""

    __tablename__ = "instances"
    id: int | None = Field(default=None, primary_key=True)
    episode_id: int = Field(foreign_key="episodes.id", unique=True)
    state: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    version: int = 1
    next_wake_at: datetime | None = _time(nullable=True, index=True)
    status: str = Field(default="running", max_length=20, index=True)
    """running or completed."""


class ReadyTask(SQLModel, table=True):
    """Projection of ready tasks, rewritten in the same transaction as the state. Indexed by
    episode and by the two worklist orders (migrations 0003, 0004)."""

    __tablename__ = "ready_tasks"
    task_id: str = Field(primary_key=True, max_length=36)
    episode_id: int = Field(foreign_key="episodes.id", index=True)
    patient_id: int = Field(foreign_key="patients.id")
    clinic_id: int = Field(foreign_key="clinics.id")
    role: str = Field(max_length=30)
    name: str = Field(max_length=200)
    title: str = Field(max_length=300)
    form: str | None = Field(default=None, max_length=100)
    education_module: str | None = Field(default=None, max_length=100)
    alert: str | None = Field(default=None, max_length=30)
    stratum: str | None = Field(default=None, max_length=10)
    ready_at: datetime | None = _time(nullable=True)
    due_at: datetime | None = _time(nullable=True)
    claimed_by: int | None = Field(default=None, foreign_key="users.id")


class TaskSubmission(SQLModel, table=True):
    """What a person submitted when completing a task (all answers, notes included)."""

    __tablename__ = "task_submissions"
    task_id: str = Field(primary_key=True, max_length=36)
    episode_id: int = Field(foreign_key="episodes.id", index=True)
    name: str = Field(max_length=200)
    form: str | None = Field(default=None, max_length=100)
    data: dict[str, Any] = _json()
    submitted_by: int | None = Field(default=None, foreign_key="users.id")
    submitted_at: datetime = _time()


class QuestionnaireResponse(SQLModel, table=True):
    __tablename__ = "questionnaire_responses"
    id: int | None = Field(default=None, primary_key=True)
    episode_id: int = Field(foreign_key="episodes.id", index=True)
    task_id: str = Field(max_length=36)
    kind: str = Field(max_length=30)
    """baseline, follow_up, registry."""
    answers: dict[str, Any] = _json()
    scores: dict[str, Any] = _json()
    submitted_at: datetime = _time()


class ExerciseLog(SQLModel, table=True):
    __tablename__ = "exercise_logs"
    id: int | None = Field(default=None, primary_key=True)
    episode_id: int = Field(foreign_key="episodes.id", index=True)
    exercise: str = Field(max_length=100)
    level: int
    pain_nrs: int
    difficulty: str = Field(max_length=20)
    sets: int | None = None
    """Sets done, for an exercise dosed in sets (None: not said, or a timed exercise)."""
    logged_at: datetime = _time(index=True)
    logged_by: int | None = Field(default=None, foreign_key="users.id")


class Event(SQLModel, table=True):
    """Append-only log of domain events. Each row carries a hash of the previous one, so an
    auditor can verify that nothing was removed or changed."""

    __tablename__ = "events"
    id: int | None = Field(default=None, primary_key=True)
    episode_id: int | None = Field(default=None, foreign_key="episodes.id", index=True)
    clinic_id: int | None = Field(default=None, foreign_key="clinics.id")
    name: str = Field(max_length=100)
    at: datetime = _time()
    element: str | None = Field(default=None, max_length=200)
    actor_id: int | None = Field(default=None, foreign_key="users.id")
    data: dict[str, Any] = _json()
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class TaskDraft(SQLModel, table=True):
    """A patient's unfinished answers to a task's form, kept between the steps of a
    questionnaire (so a reload or a lost connection loses nothing) and deleted when the task
    is completed. Not a submission: nothing here reaches the pathway."""

    __tablename__ = "task_drafts"
    task_id: str = Field(primary_key=True, max_length=36)
    user_id: int = Field(primary_key=True, foreign_key="users.id")
    data: dict[str, Any] = _json()
    updated_at: datetime = _time()


M = TypeVar("M", bound=SQLModel)


def from_row(model: type[M], values: Mapping[str, Any]) -> M:
    """A table-model object for a row read with Core (`values`: every column), built as
    SQLAlchemy builds the objects it loads: no validation and no attribute events (the
    values are the database's already), about a fifteenth of the constructor's cost on the
    hot read paths. It belongs to no session, like an object made with the constructor."""
    instance: M = manager_of_class(model).new_instance()
    instance.__dict__.update(values)
    return instance


# Attribute access on objects from `from_row` needs the mappers configured, which SQLAlchemy
# otherwise does at the first query: do it once, now that every table is defined.
sa.orm.configure_mappers()
