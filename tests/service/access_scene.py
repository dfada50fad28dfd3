"""The scene the access policy is walked in: each role's clients, and how a row is called.

`Scene` fills a row's path, makes the body it sends, snapshots what a refused call must leave
as it was, and tidies up after an allowed one. The `scene` fixture in `test_access` builds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import SQLModel, col, func, select, update

from pathways.models import read_bundle_dir
from service.core import credentials
from service.core.context import Context
from service.core.db import transaction
from service.core.settings import ROOT
from service.core.tables import (
    ApiToken,
    Episode,
    Event,
    ExerciseLog,
    ExportRecord,
    Instance,
    Message,
    ModelDraft,
    ModelVersion,
    Patient,
    QuestionnaireResponse,
    ReadyTask,
    Reminder,
    ReminderPreference,
    TaskSubmission,
    User,
)
from service.models import whatif
from service.nudges import service as nudges

from .access_table import (
    A_CALENDAR,
    A_DRAFT,
    A_EPISODE,
    A_MESSAGE,
    A_OPT_OUT,
    A_PATIENT_TASK,
    A_PHYSIO_TASK,
    A_WHATIF,
    ACTIVE_MODEL,
    AN_EXERCISE,
    AN_INDICATOR,
    LEAD_TASK,
    ROLES,
    SPARE_ACCOUNT,
    STYLESHEET,
    VENDOR_ASSET,
    Row,
)
from .conftest import PASSWORD, World, education_answers

WHATIF = {"cohort": "synthetic", "patients": 2, "weeks": 1}
"""A what-if run small enough to finish at once."""

TABLES: list[type[SQLModel]] = [Patient, User, Episode, Event, TaskSubmission,
                                QuestionnaireResponse, ExerciseLog, ModelVersion, ModelDraft,
                                ExportRecord, ReminderPreference, Reminder, Message]


@dataclass
class Scene:
    world: World
    episode_a: int = 0
    clients: dict[str, TestClient] = field(default_factory=dict)
    """Role -> API client with a bearer token."""
    pages: dict[str, TestClient] = field(default_factory=dict)
    """Role -> browser-like client with the session cookie of a page login."""
    sessions: dict[str, str] = field(default_factory=dict)

    def log_in_to_pages(self) -> None:
        for role in ROLES:
            self.log_in_to_page(role)

    def log_in_to_page(self, role: str) -> None:
        client = TestClient(self.world.app, raise_server_exceptions=False,
                            follow_redirects=False)
        username = ROLES[role]
        if username is not None:
            response = client.post("/login", data={"username": username, "password": PASSWORD,
                                                   **self.login_form(client)})
            assert response.status_code == 303, response.text
            self.sessions[role] = client.cookies[credentials.SESSION_COOKIE]
        self.pages[role] = client

    def login_form(self, client: TestClient) -> dict[str, str]:
        """The login form's CSRF field, with the cookie the login page would have set."""
        token, cookie = credentials.login_form(self.world.settings, "")
        client.cookies.set(credentials.LOGIN_COOKIE, cookie)
        return {"csrf_token": token}

    def client(self, row: Row, role: str) -> TestClient:
        client = (self.pages if row.via == "page" else self.clients)[role]
        client.cookies.clear()  # what a call set (a login, a logout) does not carry over
        if row.via == "page" and role in self.sessions:
            client.cookies.set(credentials.SESSION_COOKIE, self.sessions[role])
        return client

    def ready_task(self, target: str) -> ReadyTask:
        with transaction(self.world.db, write=False) as session:
            query = select(ReadyTask).order_by(col(ReadyTask.task_id))
            if target == LEAD_TASK:
                query = query.where(ReadyTask.role == "clinic_lead",
                                    ReadyTask.clinic_id == self.world.clinics["north"])
            else:
                role = "patient" if target == A_PATIENT_TASK else "physiotherapist"
                # Not a call back made from a message (its form is empty): a pathway task.
                query = query.where(ReadyTask.episode_id == self.episode_a,
                                    ReadyTask.role == role,
                                    ~col(ReadyTask.task_id).startswith("adhoc-"))
            task = session.exec(query).first()
        assert task is not None, f"the scene has run out of {target}s"
        return task

    def task_is_ready(self, task: ReadyTask) -> bool:
        with transaction(self.world.db, write=False) as session:
            now = session.get(ReadyTask, task.task_id)
            return now is not None and now.claimed_by == task.claimed_by

    def url(self, row: Row) -> tuple[str, ReadyTask | None]:
        task = None
        values: dict[str, Any] = {}
        if row.target in (A_PATIENT_TASK, A_PHYSIO_TASK, LEAD_TASK):
            task = self.ready_task(row.target)
            values["task_id"] = task.task_id
        if row.target == A_EPISODE:
            values["episode_id"] = self.episode_a
            values["module"] = self.ready_task(A_PATIENT_TASK).education_module
        if row.target == VENDOR_ASSET:
            values["name"] = "htmx.min.js"
        if row.target == STYLESHEET:
            values["path"] = "carepath.css"
        if row.target == AN_EXERCISE:
            values["exercise_id"] = "walking"
        if row.path.endswith("password") and row.target == A_EPISODE:
            # Anna's login was given a new password (the same one): all her logins ended.
            self.clients["patient_A"] = self.world.client(ROLES["patient_A"])
            self.log_in_to_page("patient_A")
        if row.target == SPARE_ACCOUNT:
            values["user_id"] = self.world.users["physio2"]
        if row.target == ACTIVE_MODEL:
            with transaction(self.world.db, write=False) as session:
                values["version_id"] = session.exec(
                    select(ModelVersion.id).where(ModelVersion.active == True)  # noqa: E712
                ).one()
            values["old_id"] = values["new_id"] = values["version_id"]
        if row.target == AN_INDICATOR:
            values["indicator"] = 4
        if row.target == A_DRAFT:
            values["draft_id"] = self.fresh_draft()
        if row.path.endswith("/whatif") or row.target == A_WHATIF:
            assert whatif.JOBS.wait_all(30), "a what-if run is still running"
        if row.target == A_WHATIF:
            values["job_id"] = self.fresh_whatif()
        if row.target == A_OPT_OUT:
            values["patient_id"] = self.patient_a()
            values["token"] = nudges.unsubscribe_token(self.world.settings, self.patient_a())
        if row.target == A_CALENDAR:
            values["token"] = self.fresh_calendar_token()
        if row.target == A_MESSAGE:
            sent = self.clients["patient_A"].post(
                f"/api/episodes/{self.episode_a}/messages",
                json={"text": "Could someone call me about my exercises?"})
            assert sent.status_code == 201, sent.text
            values["message_id"] = sent.json()["id"]
        return row.path.replace("{name:path}", "forms/intake.json").format(**values), task

    def patient_a(self) -> int:
        with transaction(self.world.db, write=False) as session:
            episode = session.get(Episode, self.episode_a)
            assert episode is not None
            return episode.patient_id

    def fresh_calendar_token(self) -> str:
        """A new calendar link for patient A, as her account page makes one."""
        with transaction(self.world.db, write=True) as session:
            user = session.exec(select(User).where(User.username == ROLES["patient_A"])).one()
            return nudges.renew_calendar_token(Context(session, self.world.clock,
                                                       self.world.app.state.engines, user))

    def active_version(self) -> int:
        with transaction(self.world.db, write=False) as session:
            found: int = session.exec(select(ModelVersion.id)
                                      .where(ModelVersion.active == True)).one()  # noqa: E712
        return found

    def fresh_whatif(self) -> str:
        """A small what-if run of the active version, finished."""
        started = self.clients["manager"].post(
            f"/api/models/{self.active_version()}/whatif", json=WHATIF)
        assert started.status_code == 202, started.text
        assert whatif.JOBS.wait_all(30), "the what-if run did not finish"
        job_id: str = started.json()["id"]
        return job_id

    def fresh_draft(self) -> int:
        """A new draft holding the active version's files, as "Edit a copy" makes it."""
        with transaction(self.world.db, write=True) as session:
            version = session.exec(select(ModelVersion)
                                   .where(ModelVersion.active == True)).one()  # noqa: E712
            draft = ModelDraft(name="a copy", base_version_id=version.id,
                               files=dict(version.files), updated_at=self.world.clock.now())
            session.add(draft)
            session.flush()
            return draft.id or 0

    def body(self, row: Row, role: str, task: ReadyTask | None) -> Any:
        username = ROLES[role]
        north = self.world.clinics["north"]
        if row.body == "own credentials":
            return {"username": username or "nobody", "password": PASSWORD if username
                    else "not-the-password"}
        if row.body == "own credentials, as a form":
            return {"username": username or "nobody", "password": PASSWORD if username
                    else "not-the-password", **self.login_form(self.pages[role])}
        if row.body == "the CSRF token, as a form":
            cookie = credentials.read_session_cookie(self.world.settings,
                                                     self.sessions.get(role, ""))
            return {"csrf_token": credentials.csrf_token(cookie or {})}
        if row.body.startswith("page "):
            cookie = credentials.read_session_cookie(self.world.settings,
                                                     self.sessions.get(role, ""))
            form: dict[str, Any] = {"csrf_token": credentials.csrf_token(cookie or {})}
            if row.body == "page exercise log":
                form.update(done_walking="yes", pain_walking="3", difficulty_walking="about_right")
            elif row.body == "page check answers":
                module = self.ready_task(A_PATIENT_TASK).education_module or ""
                answers = education_answers(module)["answers"]
                form.update({f"q{n}": str(a) for n, a in enumerate(answers, 1)},
                            confirmed_read="yes")
            elif row.body == "page task answers":
                form.update({"session_topics": ["fear", "worry"], "treatments": ["education"]})
            elif row.body == "page message":
                form.update(text=f"A message from {role}")
            elif row.body == "page patient password":
                form.update(new_password=PASSWORD, new_password_again=PASSWORD)
            elif row.body == "page new draft":
                form.update(from_version=str(self.active_version()))
            elif row.body == "page what-if":
                form.update({key: str(value) for key, value in WHATIF.items()})
            elif row.body == "page dry run":
                form.update(action="dry_run")
            elif row.body == "page new staff account":
                form.update(action="add", username=f"staff-by-{role}", password=PASSWORD,
                            role="auditor")
            elif row.body == "page reminder settings":
                form.update(email=f"{username}@example.org", email_on="yes", remind_at="18:00")
            elif row.body == "page own password, unchanged":
                form.update(current_password=PASSWORD, new_password=PASSWORD,
                            new_password_again=PASSWORD)
            return form
        if row.body == "what-if":
            return WHATIF
        if row.body == "message":
            return {"text": f"A message from {role}"}
        if row.body == "own password, unchanged":
            return {"current_password": PASSWORD, "new_password": PASSWORD}
        if row.body == "patient password":
            return {"password": PASSWORD}
        if row.body == "reminder settings":
            return {"email": f"{username}@example.org", "email_on": True, "remind_at": "18:00"}
        if row.body == "deactivate":
            return {"active": False}
        if row.body == "new user":
            return {"username": f"new-by-{role}", "password": PASSWORD,
                    "role": "physiotherapist", "clinic_id": north}
        if row.body == "referral":
            return {"display_name": f"Referred by {role}", "birth_year": 1970}
        if row.body == "fhir referral":
            return {"resourceType": "Bundle", "type": "collection", "entry": [
                {"fullUrl": "urn:uuid:0d6d7c3e-8f43-4c35-9a51-6a0f0b5f0001",
                 "resource": {"resourceType": "Patient",
                              "name": [{"text": f"FHIR referral by {role}"}]}},
                {"resource": {"resourceType": "ServiceRequest", "status": "active",
                              "intent": "order", "subject": {
                                  "reference": "urn:uuid:0d6d7c3e-8f43-4c35-9a51-6a0f0b5f0001"}}}]}
        if row.body == "self-referral":
            return {"clinic_id": north, "display_name": f"Self-referred while {role}",
                    "login": {"username": f"self-{role}", "password": PASSWORD}}
        if row.body == "exercise log":
            return {"exercise": "walking", "level": 1, "pain_nrs": 3,
                    "difficulty": "about_right"}
        if row.body == "check answers":
            module = self.ready_task(A_PATIENT_TASK).education_module or ""
            return {"answers": education_answers(module)["answers"]}
        if row.body == "task answers":
            assert task is not None
            if task.role == "patient":
                return {"data": education_answers(task.education_module or "")}
            if task.role == "physiotherapist":
                return {"data": {"session_topics": ["fear", "worry"], "treatments": ["education"]}}
            return {"data": {"referred_to": "Spine clinic", "confirmed": True}}
        if row.body == "new draft":
            return {}
        if row.body == "draft file":
            return {"text": '{"type": "object"}'}
        if row.body == "draft upload":
            return {"files": ("notes.json", b'{"type": "object"}', "application/json")}
        if row.body == "dry run":
            return {"to_version": self.active_version()}
        if row.body == "reference bundle":
            files = read_bundle_dir(ROOT / "bpmn" / "betterback")
            return {"files": {name: data.decode() for name, data in files.items()}}
        assert not row.body, f"no body called {row.body!r}"
        return None

    def snapshot(self) -> dict[str, Any]:
        """Everything a refused call must leave as it was."""
        with transaction(self.world.db, write=False) as session:
            state: dict[str, Any] = {
                table.__name__: session.exec(select(func.count()).select_from(table)).one()
                for table in TABLES}
            state["ready tasks and claims"] = sorted(session.exec(
                select(ReadyTask.task_id, ReadyTask.claimed_by)).all())
            state["instance versions"] = sorted(session.exec(
                select(Instance.id, Instance.version)).all())
            state["active models"] = sorted(session.exec(
                select(ModelVersion.id).where(ModelVersion.active == True)).all())  # noqa: E712
            state["accounts"] = sorted(session.exec(
                select(User.id, User.active, User.password_hash, User.session_generation)).all())
            state["API tokens"] = sorted(session.exec(select(ApiToken.token_hash)).all())
        return state

    def tidy(self, row: Row, role: str) -> None:
        """Undo what an allowed claim leaves behind, so the next caller finds tasks free; after
        logging out (which revokes the bearer token, or ends the cookie sessions), log the
        role in again."""
        with transaction(self.world.db, write=True) as session:
            session.exec(update(ReadyTask).values(claimed_by=None))  # type: ignore[call-overload]
        if row.path == "/api/auth/logout" and ROLES[role] is not None:
            self.clients[role] = self.world.client(ROLES[role])
        if row.path == "/logout":
            self.log_in_to_page(role)
        if row.path in ("/api/me/password", "/account") and row.method == "POST" \
                and ROLES[role] is not None:
            # Changing one's password ends all one's logins: log in again (same password).
            self.clients[role] = self.world.client(ROLES[role])
            self.log_in_to_page(role)
        if row.path.endswith("password") and row.target == A_EPISODE:
            # Anna's login was given a new password (the same one): all her logins ended.
            self.clients["patient_A"] = self.world.client(ROLES["patient_A"])
            self.log_in_to_page("patient_A")
        if row.target == SPARE_ACCOUNT:
            self.world.client("admin").patch(
                f"/api/users/{self.world.users['physio2']}", json={"active": True})
