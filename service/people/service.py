"""Service functions for people and their records: users, referrals, exercise logs,
education reading."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, delete, func, select, update

from pathways.exercises import default_library
from service.care import service as episodes
from service.care.schemas import (
    EducationConfirm,
    EducationPublic,
    ExerciseLogCreate,
    ExerciseLogPublic,
)
from service.care.views import episode_row
from service.core import access, credentials
from service.core.context import Context
from service.core.errors import (
    ConflictError,
    InvalidRequestError,
    NotAuthenticatedError,
    NotFoundError,
    SelfReferralRateLimitedError,
    WrongPasswordError,
)
from service.core.settings import Settings
from service.core.tables import (
    Clinic,
    Episode,
    Event,
    ExerciseLog,
    Patient,
    ReadyTask,
    SelfReferral,
    User,
)
from service.people import auth
from service.people.schemas import ReferralCreate, SelfReferralCreate, UserCreate, UserUpdate


def create_user(ctx: Context, body: UserCreate) -> User:
    access.require_role(ctx.user, "admin")
    return add_user(ctx, body)


def staff_accounts(ctx: Context) -> list[User]:
    """Every staff account, by username (admins). Patients' logins are not listed: their
    names are the patients' names, which an admin may not read."""
    access.require_role(ctx.user, "admin")
    return list(ctx.session.exec(select(User).where(User.role != "patient")
                                 .order_by(col(User.username))).all())


def clinics(ctx: Context) -> list[Clinic]:
    """Every clinic, by name (admins, to choose a new clinician's clinic)."""
    access.require_role(ctx.user, "admin")
    return list(ctx.session.exec(select(Clinic).order_by(col(Clinic.name))).all())


def update_staff_account(ctx: Context, user_id: int, body: UserUpdate) -> User:
    """An admin deactivates or reactivates a staff account, or gives it a new password.
    Either of the first and the last ends every login the account has, at once: someone who
    has left, or whose password has leaked, is out now, not when their login expires. An
    admin cannot deactivate their own account, so an admin always remains to undo a
    mistake. Patients' logins are not an admin's (see staff_accounts): they look unknown."""
    admin = access.require_role(ctx.user, "admin")
    if body.active is False and user_id == admin.id:
        raise InvalidRequestError("you cannot deactivate your own account; another admin can",
                                  [{"field": "active", "message": "not your own account"}])
    with ctx.read() as reader:  # read and hash before anything is written (see add_user)
        account = reader.get(User, user_id)
        if account is None or account.role == "patient":
            raise NotFoundError(f"there is no staff account {user_id}")
    password_hash = auth.hash_password(body.password) if body.password is not None else None
    return change_account(ctx, user_id, body.active, password_hash)


def change_account(ctx: Context, user_id: int, active: bool | None,
                   password_hash: str | None) -> User:
    """Set an account's `active` flag and/or its password hash (no access check: for admins,
    the CLI and a user changing their own password); deactivating it or changing its
    password ends all its logins (credentials.end_logins)."""
    values: dict[str, object] = {}
    if active is not None:
        values["active"] = active
    if password_hash is not None:
        values["password_hash"] = password_hash
    ctx.session.exec(update(User).where(col(User.id) == user_id)
                     .values(**values))
    if active is False or password_hash is not None:
        credentials.end_logins(ctx.session, user_id)
    user = ctx.session.get(User, user_id, populate_existing=True)
    if user is None:
        raise NotFoundError(f"there is no user {user_id}")
    return user


def change_own_password(ctx: Context, settings: Settings, client: str, current: str,
                        new: str) -> None:
    """The caller changes their password: `current` is checked as a login is (a wrong one
    raises WrongPasswordError, and counts as a failed login: auth.authenticate has already
    committed the attempt), then every login of theirs ends. The new password is hashed
    before anything is written (see add_user)."""
    user = access.require_user(ctx.user)
    new_hash = auth.hash_password(new)
    try:
        auth.authenticate(ctx.session, settings, user.username, current, client, ctx.now)
    except NotAuthenticatedError:
        raise WrongPasswordError from None
    change_account(ctx, user.id or 0, None, new_hash)


def patient_login(session: Session, patient_id: int) -> User | None:
    """The patient's login, if they have one."""
    return session.exec(select(User).where(User.patient_id == patient_id,
                                           User.role == "patient")).first()


def reset_patient_password(ctx: Context, episode_id: int, password: str) -> User:
    """A clinician of the patient's clinic gives the patient's login a new password (a patient
    who has forgotten theirs). Every login the patient has ends, and the episode's event log
    records who did it, since whoever knows the password can act as the patient. The
    password is hashed before the episode is read through its gate (views.episode_row),
    so SQLite's write lock is not held meanwhile."""
    access.require_role(ctx.user, *access.CLINICIANS)
    password_hash = auth.hash_password(password)
    episode = episode_row(ctx, episode_id)
    login = patient_login(ctx.session, episode.patient_id)
    if login is None:
        raise NotFoundError("this patient has no login; refer them with one to give them "
                            "a password")
    user = change_account(ctx, login.id or 0, None, password_hash)
    episodes.record_event(ctx, episode, "patient_password_reset", {"username": login.username})
    return user


def user_named(ctx: Context, username: str) -> User:
    """The account with this username (the CLI names accounts by username)."""
    with ctx.read() as reader:
        user = reader.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFoundError(f"there is no user {username!r}")
    return user


def add_user(ctx: Context, body: UserCreate, password_hash: str | None = None) -> User:
    """Create a user (no access check: for admins, the CLI and the demo). The password is
    hashed before anything is read or written: argon2 is slow on purpose, and a writing
    transaction on SQLite holds the write lock from its first statement."""
    password_hash = password_hash or auth.hash_password(body.password)
    if ctx.session.exec(select(User).where(User.username == body.username)).first():
        raise ConflictError(f"the username {body.username!r} is taken; choose another")
    if body.role in access.CLINICIANS and body.clinic_id is None:
        raise InvalidRequestError("a clinician needs a clinic_id",
                                  [{"field": "clinic_id", "message": "required for clinicians"}])
    if body.clinic_id is not None and ctx.session.get(Clinic, body.clinic_id) is None:
        raise InvalidRequestError(f"there is no clinic {body.clinic_id}",
                                  [{"field": "clinic_id", "message": "unknown clinic"}])
    if body.role == "patient" and (body.patient_id is None
                                   or ctx.session.get(Patient, body.patient_id) is None):
        raise InvalidRequestError("a patient login needs an existing patient_id",
                                  [{"field": "patient_id", "message": "unknown patient"}])
    user = User(username=body.username, password_hash=password_hash,
                role=body.role, full_name=body.full_name, clinic_id=body.clinic_id,
                patient_id=body.patient_id, created_at=ctx.now)
    ctx.session.add(user)
    ctx.session.flush()
    return user


def refer(ctx: Context, body: ReferralCreate) -> Episode:
    """A clinician refers a patient of their clinic: patient, optional login, episode."""
    clinician = access.require_role(ctx.user, "physiotherapist", "clinic_lead")
    assert clinician.clinic_id is not None
    login = _hashed(body.login.username, body.login.password) if body.login else None
    return _new_episode(ctx, clinician.clinic_id, body.display_name, body.birth_year, login,
                        "clinician", body.email)


def self_refer(ctx: Context, body: SelfReferralCreate,
               limit: SelfReferralLimit | None = None) -> Episode:
    """Anyone may self-refer to a clinic; the first task is the red-flag screen. `limit`: how
    many self-referrals one client address may make in a window (the public endpoint)."""
    login = _hashed(body.login.username, body.login.password)
    if limit is not None:
        limit.check_and_count(ctx)
    if ctx.session.get(Clinic, body.clinic_id) is None:
        raise InvalidRequestError(f"there is no clinic {body.clinic_id}",
                                  [{"field": "clinic_id", "message": "unknown clinic"}])
    return _new_episode(ctx, body.clinic_id, body.display_name, body.birth_year, login, "self",
                        body.email)


@dataclass(frozen=True)
class SelfReferralLimit:
    client: str
    per_window: int
    window_seconds: int

    def check_and_count(self, ctx: Context) -> None:
        """Refuse once the client has made `per_window` self-referrals in the window; else
        count this one (the rows older than the window go)."""
        start = ctx.now - timedelta(seconds=self.window_seconds)
        ctx.session.exec(delete(SelfReferral).where(col(SelfReferral.at) < start))
        recent = ctx.session.exec(select(func.count()).select_from(SelfReferral).where(
            SelfReferral.client == self.client, col(SelfReferral.at) >= start)).one()
        if recent >= self.per_window:
            raise SelfReferralRateLimitedError(self.window_seconds)
        ctx.session.add(SelfReferral(client=self.client[:100], at=ctx.now))


def _hashed(username: str, password: str) -> tuple[UserCreate, str]:
    """A patient login and its password hash, made before the referral touches the database
    (see add_user)."""
    body = UserCreate(username=username, password=password, role="patient")
    return body, auth.hash_password(password)


def _new_episode(ctx: Context, clinic_id: int, name: str, birth_year: int | None,
                 login: tuple[UserCreate, str] | None, source: str,
                 email: str | None = None) -> Episode:
    patient = Patient(clinic_id=clinic_id, display_name=name, birth_year=birth_year,
                      created_at=ctx.now, email=email)
    ctx.session.add(patient)
    ctx.session.flush()
    if login is not None:
        body, password_hash = login
        add_user(ctx, body.model_copy(update={"full_name": name, "patient_id": patient.id}),
                 password_hash)
    return episodes.start_episode(ctx, patient, source)


def add_exercise_log(ctx: Context, episode_id: int, body: ExerciseLogCreate) -> ExerciseLog:
    episode = episode_row(ctx, episode_id)
    access.require_role(ctx.user, "patient", "physiotherapist", "clinic_lead")
    if episode.status != "active":
        raise ConflictError("this episode has ended; exercise can no longer be logged")
    exercise = default_library()
    if body.exercise not in exercise:
        raise InvalidRequestError(f"unknown exercise {body.exercise!r}",
                                  [{"field": "exercise", "message": "not in the library"}])
    if body.level > exercise.get(body.exercise).max_level:
        raise InvalidRequestError("that level does not exist for this exercise",
                                  [{"field": "level", "message": "above the highest level"}])
    log = ExerciseLog(episode_id=episode_id, exercise=body.exercise, level=body.level,
                      pain_nrs=body.pain_nrs, difficulty=body.difficulty, sets=body.sets,
                      logged_at=ctx.now,
                      logged_by=ctx.actor_id)
    ctx.session.add(log)
    ctx.session.flush()
    return log


def exercise_logs(ctx: Context, episode_id: int) -> list[ExerciseLogPublic]:
    episode_row(ctx, episode_id)
    rows = ctx.session.exec(select(ExerciseLog).where(ExerciseLog.episode_id == episode_id)
                            .order_by(col(ExerciseLog.logged_at))).all()
    return [ExerciseLogPublic(id=r.id or 0, exercise=r.exercise, level=r.level,
                              pain_nrs=r.pain_nrs, difficulty=r.difficulty,  # type: ignore[arg-type]
                              sets=r.sets, logged_at=r.logged_at) for r in rows]


def education(ctx: Context, episode_id: int) -> EducationPublic:
    episode_row(ctx, episode_id)
    events = ctx.session.exec(select(Event).where(
        Event.episode_id == episode_id,
        col(Event.name).in_(["education_assigned", "education_completed"])
    ).order_by(col(Event.id))).all()
    assigned: list[str] = []
    read: list[dict[str, object]] = []
    for event in events:
        if event.name == "education_assigned":
            assigned = list(event.data.get("education_modules") or [])
        else:
            read.append({"module": event.data.get("module_read"), "at": event.at.isoformat(),
                         **(event.data.get("education_check") or {})})
    task_id, module = ctx.session.exec(select(ReadyTask.task_id, ReadyTask.education_module)
                                       .where(ReadyTask.episode_id == episode_id,
                                              ReadyTask.role == "patient",
                                              col(ReadyTask.education_module).is_not(None))
                                       ).first() or (None, None)
    again = [module] if module is not None and module in {e["module"] for e in read} else []
    return EducationPublic(assigned=assigned, read=read, next_task_id=task_id, open_again=again)


def confirm_education(ctx: Context, episode_id: int, module: str,
                      body: EducationConfirm) -> episodes.CompletionResult:
    """Read confirmation: completes the open reading task for that module."""
    episode_row(ctx, episode_id)
    task_id = ctx.session.exec(select(ReadyTask.task_id).where(
        ReadyTask.episode_id == episode_id, ReadyTask.role == "patient",
        ReadyTask.education_module == module)).first()
    if task_id is None:
        raise NotFoundError(f"module {module!r} is not waiting to be read in this episode")
    return episodes.complete_task(ctx, task_id, {"answers": body.answers,
                                                 "confirmed_read": True})
