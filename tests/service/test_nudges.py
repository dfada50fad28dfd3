"""Reminders, as patients and clinicians meet them: emails through a real SMTP server on
loopback (aiosmtpd), sent by the worker's reminder sweep as the test's clock moves; the
account page's settings and the opt-out link; the private calendar feed, read back with
`icalendar`; the new-message email."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from service.core.db import transaction
from service.core.tables import Reminder
from service.nudges.service import SUBJECT, notify_new_message
from service.nudges.sweep import sweep_reminders

from .conftest import World, free_port, soup, through_first_visit, unavailable
from .conftest import page_login as login

STOCKHOLM = ZoneInfo("Europe/Stockholm")
FIRST_DAY = date(2026, 1, 5)
"""The day the test clock starts (ManualClock: Monday 5 January 2026, 10:00 in Stockholm)."""
BASE = "http://carepath.test"
EXERCISES = "You have exercises planned today."
READING = "You have something to read."
MESSAGE = "You have a new message in carepath."


@dataclass
class Mailbox:
    """What the SMTP server on loopback received, and who logged in to send it."""

    received: list[EmailMessage] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.received.append(message)
        return "250 OK"

    def take(self) -> list[EmailMessage]:
        taken, self.received[:] = list(self.received), []
        return taken


@pytest.fixture
def mailbox(world: World) -> Iterator[Mailbox]:
    """An SMTP server on loopback that wants a login, and carepath set to send through it."""
    try:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult
    except ImportError:
        unavailable("aiosmtpd is not installed (requirements-dev.lock)")
    box = Mailbox()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        ok = (auth_data.login, auth_data.password) == (b"carepath", b"mail-secret")
        if ok:
            box.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    world.settings.smtp_host, world.settings.smtp_port = "127.0.0.1", port
    world.settings.smtp_security = "none"  # loopback only: the test server has no certificate
    world.settings.smtp_username, world.settings.smtp_password = "carepath", "mail-secret"
    world.settings.smtp_sender = "carepath <reminders@carepath.test>"
    world.settings.base_url = BASE
    try:
        yield box
    finally:
        controller.stop()


def at(world: World, days: int, hour: int, minute: int = 0) -> None:
    """Move the clock forward to a clinic time, `days` after the first day; the worker's
    timer sweep runs then (as it would have all along)."""
    moment = datetime.combine(FIRST_DAY + timedelta(days=days), time(hour, minute),
                              tzinfo=STOCKHOLM)
    assert moment >= world.clock.now(), "time only moves forward"
    world.clock.set(moment)
    world.sweep()


def remind(world: World) -> int:
    """What the worker does after its timer sweep: send the reminders that are due."""
    return sweep_reminders(world.db, world.clock, world.app.state.engines, world.settings)


def in_care(world: World, username: str = "maja",
            address: str | None = "maja@example.org") -> tuple[TestClient, int]:
    """A medium-risk patient after the first visit (exercise programme and reading started),
    referred with an email address."""
    response = world.client("physio").post("/api/referrals", json={
        "display_name": username.title(), "birth_year": 1980, "email": address,
        "login": {"username": username, "password": "correct-horse-battery"}})
    assert response.status_code == 201, response.text
    api = world.client(username)
    through_first_visit(world, api, "medium_start_back")
    return api, response.json()["id"]


def lines(message: EmailMessage) -> list[str]:
    body = message.get_body(("plain",))
    assert body is not None
    return [line for line in body.get_content().splitlines() if line]


def test_at_the_chosen_time_one_email_says_what_to_open_and_each_thing_is_reminded_once(
        world: World, mailbox: Mailbox) -> None:
    in_care(world)
    assert remind(world) == 0, "10:00 is before the default reminder time (18:00)"
    at(world, 0, 18, 0)
    assert remind(world) == 1
    [sent] = mailbox.take()
    assert sent["To"] == "maja@example.org" and sent["Subject"] == SUBJECT
    assert sent["From"] == "carepath <reminders@carepath.test>"
    assert mailbox.logins == ["carepath"]
    assert lines(sent)[:3] == [EXERCISES, READING, f"Open carepath: {BASE}/today"]
    text = sent.as_string()
    for private in ("Maja", "medium", "risk", "pain", "START"):
        assert private not in text, f"the email names {private!r}"
    unsubscribe = sent["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{BASE}/reminders/unsubscribe/")
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    at(world, 0, 18, 5)
    assert remind(world) == 0 and not mailbox.take(), "the same things are not reminded twice"
    at(world, 0, 23, 0)
    assert remind(world) == 0
    at(world, 1, 18, 0)
    assert remind(world) == 1
    [next_day] = mailbox.take()
    assert lines(next_day)[:2] == [EXERCISES, f"Open carepath: {BASE}/today"], \
        "a new day's exercises; the reading was reminded of once already"


def test_after_downtime_one_late_reminder_for_what_is_still_due_never_a_burst(
        world: World, mailbox: Mailbox) -> None:
    _, episode_id = in_care(world)
    at(world, 3, 20, 0)  # the worker was down over three reminder times
    logged = world.client("maja").post(f"/api/episodes/{episode_id}/exercise-logs", json={
        "exercise": "walking", "level": 1, "pain_nrs": 2, "difficulty": "about_right"})
    assert logged.status_code == 201, logged.text
    assert remind(world) == 1
    [late] = mailbox.take()
    assert EXERCISES not in lines(late), "today's exercises are done: no reminder for them"
    assert READING in lines(late)
    for minutes in (5, 10, 60):
        world.clock.advance(timedelta(minutes=minutes))
        assert remind(world) == 0
    assert not mailbox.take()
    with transaction(world.db, write=False) as session:
        kinds = sorted(session.exec(select(Reminder.kind)).all())
    assert kinds == ["education"], "one reminder row per thing, none for the missed days"


def test_quiet_hours_hold_the_reminder_until_they_end(world: World, mailbox: Mailbox) -> None:
    api, _ = in_care(world)
    saved = api.put("/api/me/reminders", json={
        "email": "maja@example.org", "email_on": True, "remind_at": "07:00",
        "quiet_from": "22:00", "quiet_until": "08:00"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["quiet_from"] == "22:00"
    at(world, 1, 7, 0)
    assert remind(world) == 0
    at(world, 1, 7, 59)
    assert remind(world) == 0 and not mailbox.take()
    at(world, 1, 8, 0)
    assert remind(world) == 1
    assert EXERCISES in lines(mailbox.take()[0])


def test_the_emails_link_opts_out_with_a_button_not_by_being_opened(
        world: World, mailbox: Mailbox) -> None:
    api, _ = in_care(world)
    at(world, 0, 18, 0)
    remind(world)
    link = mailbox.take()[0]["List-Unsubscribe"].strip("<>")
    path = urlsplit(link).path
    anyone = TestClient(world.app, raise_server_exceptions=False)
    page = anyone.get(path)
    assert page.status_code == 200
    form = soup(page).find("form", attrs={"method": "post"})
    assert form is not None and form["action"] == path
    assert api.get("/api/me/reminders").json()["email_on"] is True, "opening changes nothing"
    assert anyone.get(path[:-4] + "0000").status_code == 404
    assert anyone.post(path[:-4] + "0000").status_code == 404
    # A mail program's one-click unsubscribe (RFC 8058) posts this body to the link.
    done = anyone.post(path, content=b"List-Unsubscribe=One-Click",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200 and "no more reminder emails" in done.text
    assert api.get("/api/me/reminders").json()["email_on"] is False
    at(world, 1, 18, 0)
    assert remind(world) == 0 and not mailbox.take()


def test_the_account_page_turns_reminders_off_and_explains_a_wrong_time(
        world: World, mailbox: Mailbox) -> None:
    in_care(world)
    browser = login(world, "maja")
    page = browser.get("/account")
    form = soup(page).find("form", attrs={"action": "/account/reminders"})
    assert form is not None
    assert form.find("input", attrs={"name": "email"})["value"] == "maja@example.org"
    assert form.find("input", attrs={"name": "email_on"}).has_attr("checked")
    for field_ in form.find_all("input", attrs={"type": ["email", "time", "checkbox"]}):
        assert soup(page).find("label", attrs={"for": field_["id"]}) or field_.find_parent(
            "label"), f"{field_['name']} has no label"
    token = form.find("input", attrs={"name": "csrf_token"})["value"]
    wrong = browser.post("/account/reminders", data={
        "csrf_token": token, "email": "maja@example.org", "email_on": "yes",
        "remind_at": "25:00"})
    assert wrong.status_code == 422
    assert "Choose a time like 18:00." in soup(wrong).get_text()
    assert soup(wrong).find("input", attrs={"name": "remind_at"})["value"] == "25:00"
    half_quiet = browser.post("/account/reminders", data={
        "csrf_token": token, "email": "maja@example.org", "remind_at": "18:00",
        "quiet_from": "21:00"})
    assert half_quiet.status_code == 422 and "quiet" in soup(half_quiet).get_text().lower()
    saved = browser.post("/account/reminders", data={
        "csrf_token": token, "email": "maja@example.org", "remind_at": "19:30"},
        follow_redirects=False)
    assert saved.status_code == 303
    after = soup(browser.get(saved.headers["location"]))
    assert "Your reminder settings are saved." in after.get_text()
    assert not after.find("input", attrs={"name": "email_on"}).has_attr("checked")
    assert after.find("input", attrs={"name": "remind_at"})["value"] == "19:30"
    at(world, 0, 19, 30)
    assert remind(world) == 0 and not mailbox.take()


def test_staff_have_no_reminder_settings_and_a_patient_changes_only_their_own(
        world: World, mailbox: Mailbox) -> None:
    maja, _ = in_care(world)
    olle, _ = in_care(world, "olle", "olle@example.org")
    assert world.client("physio").get("/api/me/reminders").status_code == 403
    assert maja.put("/api/me/reminders", json={"email_on": False,
                                                "email": "maja@example.org"}).status_code == 200
    assert olle.get("/api/me/reminders").json() == {
        "email": "olle@example.org", "email_on": True, "remind_at": "18:00",
        "quiet_from": None, "quiet_until": None}
    bad = maja.put("/api/me/reminders", json={"email": "not an address"})
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "email"
    at(world, 0, 18, 0)
    assert remind(world) == 1
    assert [m["To"] for m in mailbox.take()] == ["olle@example.org"]


def test_no_address_or_no_mail_server_sends_nothing(world: World, mailbox: Mailbox) -> None:
    in_care(world, "nils", None)
    at(world, 0, 18, 0)
    assert remind(world) == 0
    in_care(world)
    world.settings.smtp_host = None
    assert remind(world) == 0 and not mailbox.take()


def test_a_mail_server_that_cannot_be_reached_marks_the_reminder_failed_once(
        world: World) -> None:
    world.settings.smtp_host, world.settings.smtp_port = "127.0.0.1", free_port()
    world.settings.smtp_security = "none"
    in_care(world)
    at(world, 0, 18, 0)
    assert remind(world) == 0
    world.clock.advance(timedelta(minutes=5))
    assert remind(world) == 0
    assert world.count(Reminder, status="failed") == 2  # exercises and reading, tried once
    assert world.count(Reminder) == 2


def test_the_clinician_sees_which_reminders_were_sent_and_when(
        world: World, mailbox: Mailbox) -> None:
    _, episode_id = in_care(world)
    at(world, 0, 18, 0)
    remind(world)
    page = soup(login(world, "physio").get(f"/patients/{episode_id}"))
    section = page.find("section", attrs={"aria-labelledby": "reminders-title"})
    assert section is not None
    rows = [[cell.get_text(" ", strip=True) for cell in row.find_all("td")]
            for row in section.select("tbody tr")]
    assert sorted(row[1] for row in rows) == ["Exercises planned", "Something to read"]
    assert all(row[0] == "5 Jan 2026, 18:00" and row[2] == "sent" for row in rows)
    summary = world.client("physio").get(f"/api/episodes/{episode_id}/summary").json()
    assert {r["kind"] for r in summary["reminders"]} == {"exercise", "education"}


def test_a_burst_of_messages_gets_one_new_message_email(world: World, mailbox: Mailbox) -> None:
    in_care(world)
    patient_id = _patient_id(world, "maja")

    def notify() -> None:
        with transaction(world.db, write=True) as session:
            notify_new_message(session, patient_id, world.clock.now())

    notify(), notify()
    assert remind(world) == 1
    [sent] = mailbox.take()
    assert lines(sent)[0] == MESSAGE and sent["Subject"] == SUBJECT
    world.clock.advance(timedelta(minutes=10))
    notify()
    assert remind(world) == 0, "a message soon after the last email is the same burst"
    world.clock.advance(timedelta(hours=2))
    notify()
    assert remind(world) == 1
    assert lines(mailbox.take()[0])[0] == MESSAGE
    world.client("maja").put("/api/me/reminders", json={"email": "maja@example.org",
                                                         "email_on": False})
    world.clock.advance(timedelta(hours=2))
    notify()
    assert remind(world) == 0 and world.count(Reminder, status="queued") == 0


def test_a_message_from_the_clinic_is_told_by_email_and_the_patients_own_is_not(
        world: World, mailbox: Mailbox) -> None:
    """The messages' wiring: a physiotherapist's message queues the patient's "new message"
    email (no words of the message in it); the patient's own message queues nothing."""
    patient, episode_id = in_care(world)
    assert patient.post(f"/api/episodes/{episode_id}/messages",
                        json={"text": "My back hurts more after the bridges."}).status_code == 201
    assert world.count(Reminder, kind="message") == 0
    sent = world.client("physio").post(f"/api/episodes/{episode_id}/messages",
                                       json={"text": "Try them with a smaller range."})
    assert sent.status_code == 201, sent.text
    assert remind(world) == 1
    [email] = mailbox.take()
    assert lines(email)[0] == MESSAGE and "smaller range" not in email.as_string()


def _patient_id(world: World, username: str) -> int:
    from service.core.tables import User

    with transaction(world.db, write=False) as session:
        patient_id = session.exec(select(User.patient_id).where(User.username == username)).one()
        assert patient_id is not None
        return patient_id


def test_the_calendar_feed_lists_the_plan_and_a_new_link_revokes_the_old(
        world: World) -> None:
    from icalendar import Calendar

    world.settings.base_url = BASE
    in_care(world)
    browser = login(world, "maja")
    page = browser.get("/account")

    def new_link(page: Any) -> str:
        token = soup(page).find("form", attrs={"action": "/account/calendar"}).find(
            "input", attrs={"name": "csrf_token"})["value"]
        made = browser.post("/account/calendar", data={"csrf_token": token})
        assert made.status_code == 200
        url = soup(made).find(id="calendar-url").get_text(strip=True)
        assert url.startswith(f"{BASE}/calendar/") and url.endswith(".ics")
        return urlsplit(url).path

    first = new_link(page)
    anyone = TestClient(world.app, raise_server_exceptions=False)
    answer = anyone.get(first)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(answer.content)
    events = [(e.decoded("dtstart"), str(e["summary"])) for e in calendar.walk("VEVENT")]
    titles = {title for _, title in events}
    assert {"Back exercises", "Something to read"} <= titles
    assert titles <= {"Back exercises", "Something to read", "Questionnaire due",
                      "carepath follow-up"}
    days = sorted(day for day, title in events if title == "Back exercises")
    assert 11 <= len(days) <= 12, "3 sessions a week over the next 4 weeks"
    assert days[0] >= FIRST_DAY and days[-1] < FIRST_DAY + timedelta(weeks=4)
    assert "Maja" not in answer.text
    second = new_link(browser.get("/account"))
    assert anyone.get(first).status_code == 404, "the old link is revoked"
    assert anyone.get(second).status_code == 200
    assert "Make a new calendar link" in browser.get("/account").text


def test_the_timer_worker_sends_the_reminders_and_two_workers_send_each_once(
        world: World, mailbox: Mailbox) -> None:
    import threading

    from service.care.worker import run_forever

    in_care(world)
    in_care(world, "olle", "olle@example.org")
    at(world, 0, 18, 0)
    stop = threading.Event()
    workers = [threading.Thread(target=run_forever, args=(
        world.db, world.clock, world.app.state.engines, 0.05, stop, world.settings))
        for _ in range(2)]
    for worker in workers:
        worker.start()
    deadline = datetime.now().timestamp() + 20
    while len(mailbox.received) < 2 and datetime.now().timestamp() < deadline:
        stop.wait(0.05)
    stop.wait(0.5)  # a few more rounds of both workers
    stop.set()
    for worker in workers:
        worker.join(timeout=10)
    assert sorted(m["To"] for m in mailbox.take()) == ["maja@example.org", "olle@example.org"]
    assert world.count(Reminder) == 4  # each patient's exercises and reading, once


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_the_mail_server_is_reached_over_tls_with_its_certificate_checked(
        world: World, security: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """STARTTLS and implicit TLS to a loopback server whose certificate (for `localhost`) the
    test makes, trusted through SSL_CERT_FILE, which OpenSSL reads when a context is made."""
    import shutil
    import ssl
    import subprocess

    from aiosmtpd.controller import Controller

    if shutil.which("openssl") is None:
        unavailable("the openssl command is needed to make the test's certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    box, port = Mailbox(), free_port()
    options: dict[str, Any] = ({"tls_context": server_tls, "require_starttls": True}
                               if security == "starttls" else {"ssl_context": server_tls})
    controller = Controller(box, hostname="localhost", port=port, **options)
    controller.start()
    try:
        world.settings.smtp_host, world.settings.smtp_port = "localhost", port
        world.settings.smtp_security = security  # type: ignore[assignment]
        world.settings.smtp_username = None
        in_care(world)
        at(world, 0, 18, 0)
        assert remind(world) == 1
        assert [m["To"] for m in box.take()] == ["maja@example.org"]
    finally:
        controller.stop()
