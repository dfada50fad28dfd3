"""The demo loader: a clinic, users of every role and 40 patients at every stage, loaded by
moving a clock to real time, so the live server sees the same due and overdue tasks."""

from __future__ import annotations

import contextlib
import io
import re
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from pathways.clock import ManualClock, SystemClock
from service.app import create_app
from service.core.db import create_db_engine, transaction
from service.core.errors import ServiceError
from service.core.settings import Settings
from service.core.tables import ROLES, Episode, Event, Patient, ReadyTask
from service.demo.data import DemoError, DemoResult, load_demo, load_demo_if_empty
from service.models.bootstrap import prepare

from ..conftest import BETTERBACK_DIR
from .conftest import _reset_postgres, database_url


@dataclass
class Demo:
    settings: Settings
    db: Engine
    result: DemoResult
    output: str

    def logins(self) -> dict[str, tuple[str, str]]:
        """username -> (role, password), as printed."""
        rows = [line.split() for line in self.output.splitlines()]
        return {row[1]: (row[0], row[2]) for row in rows if len(row) >= 3 and row[0] in ROLES}

    def client(self, username: str) -> TestClient:
        app = create_app(self.settings, ManualClock(self.result.now), self.db)
        client = TestClient(app)
        response = client.post("/api/auth/token", json={
            "username": username, "password": self.logins()[username][1]})
        assert response.status_code == 200, response.text
        client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return client


def _fresh(url: str) -> tuple[Settings, Engine]:
    if url.startswith("postgresql"):
        _reset_postgres(url)
    settings = Settings(database_url=url, mode="development", embedded_worker=False)
    db = create_db_engine(settings)
    prepare(db, settings, SystemClock())
    return settings, db


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    settings, db = _fresh(database_url())
    output = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(output):
        # PostgreSQL: keep the credentials file out of the repository's var/.
        patch.setattr("service.demo.data.ROOT", tmp_path_factory.mktemp("var"))
        result = load_demo(db, settings)
    yield Demo(settings, db, result, output.getvalue())
    db.dispose()


def _count(db: Engine, query: object) -> int:
    with transaction(db, write=False) as session:
        return int(session.exec(query).one())  # type: ignore[call-overload]


def test_the_demo_spreads_40_patients_over_every_stratum_and_stage(demo: Demo) -> None:
    assert _count(demo.db, select(func.count()).select_from(Patient)) == 40
    with transaction(demo.db, write=False) as session:
        episodes = session.exec(select(Episode)).all()
        tasks = session.exec(select(ReadyTask)).all()
        first, last = session.exec(select(func.min(Event.at), func.max(Event.at))).one()
    assert {e.stratum for e in episodes} >= {"low", "medium", "high"}
    assert {"discharged", "escalated", "active"} <= {e.status for e in episodes}
    assert {"red_flag_screen", "intake_questionnaires", "first_visit", "read_module",
            "weekly_check_in", "follow_up_2w", "follow_up_6w", "follow_up_12w",
            "emergency_review", "urgent_review", "exercise_alert_review", "not_improving_review",
            "specialist_referral", "discharge"} <= {t.name for t in tasks}
    # Made by moving the clock: the history spans 100 days and ends at real time.
    assert demo.result.now - timedelta(days=101) < first < last <= demo.result.now
    assert demo.result.seconds < 120
    overdue_follow_ups = [t for t in tasks if t.name.startswith("follow_up")
                          and t.due_at is not None and t.due_at < demo.result.now]
    assert len(overdue_follow_ups) >= 3


def test_the_printed_passwords_of_every_role_log_in(demo: Demo) -> None:
    logins = demo.logins()
    assert {role for role, _ in logins.values()} == set(ROLES)
    assert sum(role == "physiotherapist" for role, _ in logins.values()) == 2
    assert "log in at /login on the server (`carepath serve`: http://127.0.0.1:8000/login" in \
        demo.output
    assert "patients per stratum: high" in demo.output and "overdue tasks: " in demo.output
    app = create_app(demo.settings, ManualClock(demo.result.now), demo.db)
    client = TestClient(app)
    for username, (_, password) in logins.items():
        response = client.post("/api/auth/token",
                               json={"username": username, "password": password})
        assert response.status_code == 200, (username, response.text)
    assert client.post("/api/auth/token", json={"username": "physio",
                                                "password": "not-the-password"}).status_code == 401


def test_the_physiotherapist_sees_an_emergency_and_overdue_tasks(demo: Demo) -> None:
    physio = demo.client("physio")
    overdue = physio.get("/api/tasks", params={"due": "overdue"}).json()
    assert overdue["count"] >= 3, overdue
    assert all(t["overdue"] and t["role"] == "physiotherapist" for t in overdue["data"])
    emergencies = physio.get("/api/tasks", params={"name": "emergency_review"}).json()["data"]
    assert emergencies and emergencies[0]["alert"] == "emergency"
    lead = demo.client("lead")
    names = [t["name"] for t in lead.get("/api/tasks").json()["data"]]
    assert "specialist_referral" in names


def test_a_printed_patient_login_sees_their_own_task(demo: Demo) -> None:
    patients = [name for name, (role, _) in demo.logins().items() if role == "patient"]
    assert len(patients) == 5
    tasks = demo.client(patients[0]).get("/api/tasks").json()["data"]
    assert [t["name"] for t in tasks] == ["red_flag_screen"]


def test_the_credentials_file_is_private_and_lists_every_login(demo: Demo) -> None:
    path = demo.result.credentials_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert len(demo.result.credentials) == 6 + 40
    assert all(password in text for _, _, password, _ in demo.result.credentials)


def test_loading_again_does_nothing_when_there_are_patients(demo: Demo) -> None:
    assert load_demo_if_empty(demo.db, demo.settings) is False
    with pytest.raises(DemoError, match="already loaded"):
        load_demo(demo.db, demo.settings)
    assert _count(demo.db, select(func.count()).select_from(Patient)) == 40


def test_load_demo_if_empty_loads_an_empty_database_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings, db = _fresh(f"sqlite:///{tmp_path / 'carepath.sqlite3'}")
    try:
        assert load_demo_if_empty(db, settings, patients=3) is True
        assert load_demo_if_empty(db, settings, patients=3) is False
        assert _count(db, select(func.count()).select_from(Patient)) == 3
        assert _count(db, select(func.count()).select_from(ReadyTask).where(
            col(ReadyTask.name) == "emergency_review")) == 1
    finally:
        db.dispose()
    assert (tmp_path / "demo-credentials.txt").exists()
    assert "open tasks per role" in capsys.readouterr().out


def test_production_mode_refuses_the_demo(tmp_path: Path) -> None:
    settings = Settings(mode="production", secret_key="s" * 40, audit_key="k" * 40,
                        database_url=f"sqlite:///{tmp_path / 'carepath.sqlite3'}")
    db = create_db_engine(settings)
    try:
        for load in (load_demo, load_demo_if_empty):
            with pytest.raises(DemoError, match="production") as raised:
                load(db, settings)
            assert isinstance(raised.value, ServiceError)
    finally:
        db.dispose()
    assert not (tmp_path / "demo-credentials.txt").exists()


def test_patients_in_the_exercise_phase_log_sessions_on_most_days_but_two(demo: Demo) -> None:
    """The week strips and the "no exercise logged" badges tell apart those who exercise and
    the two who do not."""
    from pathways.clock import ManualClock as Clock
    from service.care.worklist import episode_alerts
    from service.core.context import Context
    from service.core.tables import ExerciseLog, User
    from service.models.registry import EngineRegistry

    now = demo.result.now
    stage = {row[1]: row[3] for row in demo.result.credentials if row[0] == "patient"}
    with transaction(demo.db, write=False) as session:
        username = dict(session.exec(select(Episode.id, User.username).join(
            User, col(User.patient_id) == col(Episode.patient_id))).all())
        started = dict(session.exec(select(Event.episode_id, Event.at).where(
            Event.name == "exercise_started")).all())
        completed = set(session.exec(select(Event.episode_id).where(
            Event.name == "exercise_completed")).all())
        active = set(session.exec(select(Episode.id).where(Episode.status == "active")).all())
        exercising = {e for e, at in started.items()
                      if e in active and e not in completed and at <= now - timedelta(days=7)}
        days: dict[int, set[object]] = {e: set() for e in exercising}
        for episode_id, at in session.exec(select(ExerciseLog.episode_id, ExerciseLog.logged_at)
                                           .where(ExerciseLog.logged_at > now - timedelta(7))):
            if episode_id in days:
                days[episode_id].add(at.date())
        clock = Clock(now)
        alerts = episode_alerts(Context(session, clock, EngineRegistry(clock)), exercising)
    assert len(exercising) >= 10
    quiet = {e for e in exercising if not days[e]}
    assert sorted(stage[username[e]] for e in quiet) == [
        "weekly exercise, 1 week in, not exercising",
        "weekly exercise: 8th check-in overdue, not exercising"]
    for episode_id in exercising - quiet:
        assert len(days[episode_id]) >= 3, (stage[username[episode_id]], days[episode_id])
    badged = {e for e, badges in alerts.items()
              if any(b.text.startswith("No exercise logged") for b in badges)}
    assert badged == quiet


# --------------------------------------------------------------------------- words, not codes

SNAKE_CASE = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b")
NOT_READ_AS_PROSE = ("script", "style", "template", "code", "pre")
"""Elements whose text is not prose: scripts, and identifiers a person types or copies (a
model's process id, a file name) shown as code on purpose."""
ENGLISH_ALREADY = {"education given", "referral made"}
"""Field names that read as plain English where our own sentences use them ("education given
at the first visit", "Specialist referral made")."""
SKIPPED_LINKS = re.compile(r"^/(static|api|docs|openapi|logout)|\.(csv|jsonl?|xes|bpmn|dmn|zip)$")


def _codes() -> tuple[frozenset[str], frozenset[str]]:
    """What a page must not show: every multi-word code of the shipped model's forms and the
    exercise library as it would read with its separators made spaces (`non specific lbp`),
    unless the model's own words say it too (a step "Combined programme session" may say
    "combined programme"); and the hyphenated exercise ids themselves."""
    from pathways.exercises import default_library
    from pathways.models import load_bundle_dir
    from pathways.vocabulary import plain

    model = load_bundle_dir(BETTERBACK_DIR, lint=False)
    vocabulary = model.vocabulary
    library = default_library()
    words = " | ".join([*vocabulary.titles.values(), *model.step_names().values(),
                        *(label for labels in vocabulary.labels.values()
                          for label in labels.values()),
                        *(library.get(i).title for i in library.ids())]).lower()
    codes = {c for c in vocabulary.codes() | set(library.ids()) if "_" in c or "-" in c}
    phrases = {plain(c).lower() for c in codes} - ENGLISH_ALREADY
    return (frozenset(p for p in phrases if not re.search(rf"\b{re.escape(p)}\b", words)),
            frozenset(c for c in codes if "-" in c))


def _prose(html: str) -> str:
    from bs4 import BeautifulSoup

    page = BeautifulSoup(html, "html.parser")
    for element in page(list(NOT_READ_AS_PROSE)):
        element.decompose()
    return " ".join(page.get_text(" ").split())


def _crawl(client: TestClient, start: list[str], limit: int = 400) -> dict[str, str]:
    """Every page reachable by links from `start` (at most 25 of each kind: paging through a
    log shows the same words), url -> its prose."""
    from bs4 import BeautifulSoup

    seen: dict[str, str] = {}
    kinds: Counter[str] = Counter()
    queue = list(start)
    while queue and len(seen) < limit:
        url = queue.pop(0)
        kind = re.sub(r"\d+", "N", url)
        if url in seen or kinds[kind] >= 25:
            continue
        kinds[kind] += 1
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        if not response.headers["content-type"].startswith("text/html"):
            continue
        seen[url] = _prose(response.text)
        for link in BeautifulSoup(response.text, "html.parser").find_all("a", href=True):
            href = str(link["href"]).split("#")[0]
            if href.startswith("/") and not SKIPPED_LINKS.search(href.split("?")[0]):
                queue.append(href)
    return seen


def _browser(demo: Demo, username: str) -> TestClient:
    from bs4 import BeautifulSoup

    client = TestClient(create_app(demo.settings, ManualClock(demo.result.now), demo.db))
    token = BeautifulSoup(client.get("/login").text, "html.parser").find(
        "input", attrs={"name": "csrf_token"})["value"]
    response = client.post("/login", data={"username": username, "csrf_token": token,
                                           "password": demo.logins()[username][1]})
    assert response.status_code == 200 and response.url.path != "/login", response.text
    return client


def test_every_page_of_the_demo_says_words_not_codes(demo: Demo) -> None:
    """Each login of the demo follows every link from its landing page (a physiotherapist
    also opens every patient of the clinic and every task): no page shows a snake_case word,
    a code of the model's forms in plain words (`non specific lbp`) or an exercise id."""
    phrases, exercise_ids = _codes()
    assert "non specific lbp" in phrases and "bladder bowel change" in phrases
    with transaction(demo.db, write=False) as session:
        episodes = [e.id for e in session.exec(select(Episode)).all()]
        tasks = [t.task_id for t in session.exec(
            select(ReadyTask).where(ReadyTask.role == "physiotherapist")).all()]
    found: dict[str, set[str]] = {}
    pages = 0
    for username in demo.logins():
        client = _browser(demo, username)
        start = [client.get("/").url.path]
        if username == "physio":
            start += [f"/patients/{e}" for e in episodes] + [f"/tasks/{t}" for t in tasks]
        crawled = _crawl(client, start)
        pages += len(crawled)
        for url, text in crawled.items():
            lowered = text.lower()
            bad = set(SNAKE_CASE.findall(text)) | {p for p in phrases if re.search(
                rf"\b{re.escape(p)}\b", lowered)} | {i for i in exercise_ids if i in lowered}
            for word in bad:
                found.setdefault(word, set()).add(f"{username} {url}")
    assert pages > 100
    assert not found, "\n".join(f"{w}: {sorted(urls)[:3]}" for w, urls in sorted(found.items()))
