"""Secure messages between a patient and their clinic, driven through the API and the pages as
the patient and the clinicians would: the thread (newest last), unread counts on the
worklist and on Today, the access log, "call back" tasks on the worklist, bad input, and
markup shown as text."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from service.core.db import transaction
from service.core.tables import AccessRecord, Event, Message, ReadyTask
from service.messages.schemas import MAX_LENGTH

from .conftest import A, World, complete, page_login, refer, soup


def _csrf(client: TestClient, path: str) -> str:
    token: str = soup(client.get(path)).find("input", attrs={"name": "csrf_token"})["value"]
    return token


def _send(client: TestClient, episode_id: int, text: str) -> dict[str, Any]:
    response = client.post(f"/api/episodes/{episode_id}/messages", json={"text": text})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _worklist_unread(page: Any) -> str:
    total = page if page.get("id") == "unread-total" else page.find(id="unread-total")
    return " ".join(total.get_text().split())


def test_a_patient_and_her_physiotherapist_write_to_each_other_with_unread_counts(
        world: World) -> None:
    anna, episode = refer(world, "Anna Andersson", "anna")
    physio = world.client("physio")
    first = _send(anna, episode, "My back hurts more after the bridges.")
    world.clock.advance(timedelta(minutes=5))
    _send(anna, episode, "Should I stop them?")

    # The clinic sees two unread, in all and on Anna's row (a call back gives her a row).
    worklist = page_login(world, "physio")
    unread = soup(worklist.get("/worklist")).find(id="unread-total")
    assert _worklist_unread(unread) == "2 unread messages from patients: Anna Andersson: 2 unread"
    assert unread.a["href"] == f"/patients/{episode}#messages"
    assert physio.post(f"/api/messages/{first['id']}/call-back").status_code == 201
    row = soup(worklist.get("/worklist")).find("a", string=lambda s: bool(
        s and "unread message" in s))
    assert row is not None and row.get_text().strip() == "2 unread messages"
    assert row["href"] == f"/patients/{episode}#messages"

    # The physiotherapist reads the thread: oldest first, two unread, and now read; the
    # reading is an access-log row like opening the record.
    logged_before = world.count(AccessRecord, episode_id=episode)
    thread = physio.get(f"/api/episodes/{episode}/messages").json()
    assert [m["text"] for m in thread["data"]] == ["My back hurts more after the bridges.",
                                                   "Should I stop them?"]
    assert thread["unread"] == 2 and thread["data"][0]["sender_name"] == "Anna Andersson"
    assert world.count(AccessRecord, episode_id=episode,
                       request=f"GET /api/episodes/{episode}/messages") == 1
    assert world.count(AccessRecord, episode_id=episode) == logged_before + 1
    assert physio.get(f"/api/episodes/{episode}/messages").json()["unread"] == 0
    assert _worklist_unread(soup(worklist.get("/worklist"))) == \
        "No unread messages from patients."

    # The answer comes last in the thread, and is new on Anna's Today until she reads it.
    world.clock.advance(timedelta(minutes=5))
    _send(physio, episode, "Keep going, but do half as many for a week.")
    logged_before = world.count(AccessRecord, episode_id=episode)
    assert anna.get("/api/today").json()["unread_messages"] == 1
    anna_pages = page_login(world, "anna")
    link = soup(anna_pages.get("/today")).find(id="messages-link")
    assert "1 new from your clinic" in link.get_text() and link.a["href"] == "/messages"
    page = soup(anna_pages.get("/messages"))
    texts = [p.get_text() for p in page.select(".thread .text")]
    assert texts[-1] == "Keep going, but do half as many for a week."
    assert anna.get("/api/today").json()["unread_messages"] == 0
    assert "Messages to and from your clinic" in soup(anna_pages.get("/today")).find(
        id="messages-link").get_text()
    # A patient reading their own record leaves no access-log row.
    assert world.count(AccessRecord, episode_id=episode) == logged_before

    # Pages send too: the patient's form, and the clinician's on the patient page.
    sent = anna_pages.post("/messages", data={"text": "Thank you!",
                                              "csrf_token": _csrf(anna_pages, "/messages")},
                           follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"].startswith("/messages?sent")
    patient_page = soup(worklist.get(f"/patients/{episode}"))
    section = patient_page.find(id="messages")
    assert [p.get_text() for p in section.select(".thread .text")][-1] == "Thank you!"
    sent = worklist.post(f"/patients/{episode}/messages",
                         data={"text": "You're welcome.",
                               "csrf_token": _csrf(worklist, f"/patients/{episode}")},
                         follow_redirects=False)
    assert sent.status_code == 303
    assert world.count(Message, episode_id=episode) == 5
    assert world.count(Event, episode_id=episode, name="message_sent") == 5


def test_nobody_outside_the_episode_reads_or_writes_its_messages(world: World) -> None:
    anna, episode = refer(world, "Anna Andersson", "anna")
    refer(world, "Bertil Berg", "bertil")
    message = _send(anna, episode, "Hello")
    for username in ("southphysio", "bertil"):
        other = world.client(username)
        assert other.get(f"/api/episodes/{episode}/messages").status_code == 404
        refused = other.post(f"/api/episodes/{episode}/messages", json={"text": "Hi"})
        assert refused.status_code == 404, refused.text
    assert world.client("southphysio").post(
        f"/api/messages/{message['id']}/call-back").status_code == 404
    assert world.client("bertil").post(
        f"/api/messages/{message['id']}/call-back").status_code == 403
    assert anna.post(f"/api/messages/{message['id']}/call-back").status_code == 403
    assert world.client("manager").get(f"/api/episodes/{episode}/messages").status_code == 403
    south = page_login(world, "southphysio")
    refused = south.post(f"/patients/{episode}/messages",
                         data={"text": "Hi", "csrf_token": _csrf(south, "/worklist")},
                         follow_redirects=False)
    assert refused.status_code == 404
    assert world.count(Message) == 1
    assert world.count(ReadyTask, name="call_back") == 0
    assert world.count(AccessRecord, episode_id=episode) == 0


def test_a_call_back_is_a_task_on_the_worklist_claimed_and_completed(world: World) -> None:
    anna, episode = refer(world, "Anna Andersson", "anna")
    message = _send(anna, episode, "Please ring me about my pain. " + "More words. " * 30)
    physio, physio2 = world.client("physio"), world.client("physio2")
    made = physio.post(f"/api/messages/{message['id']}/call-back")
    assert made.status_code == 201, made.text
    task = made.json()
    assert task["name"] == "call_back" and task["role"] == "physiotherapist"
    assert task["title"].startswith("Call back Anna Andersson: “Please ring me about my pain.")
    assert task["title"].endswith("…”")
    assert physio.post(f"/api/messages/{message['id']}/call-back").status_code == 409
    reply = _send(physio, episode, "I will call you.")
    assert physio.post(f"/api/messages/{reply['id']}/call-back").status_code == 409

    # The pathway moving on (Anna's red-flag screen) leaves the call back where it is.
    complete(anna, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
    listed = [t["task_id"] for t in physio.get("/api/tasks").json()["data"]]
    assert task["task_id"] in listed

    # On the worklist page, quoted; the task page shows it; claimed, then done.
    pages = page_login(world, "physio")
    row = soup(pages.get("/worklist")).find(id=f"task-{task['task_id']}")
    assert "Please ring me about my pain." in row.get_text()
    assert pages.get(f"/tasks/{task['task_id']}").status_code == 200
    assert physio.post(f"/api/tasks/{task['task_id']}/claim").status_code == 200
    taken = physio2.post(f"/api/tasks/{task['task_id']}/complete", json={"data": {}})
    assert taken.status_code == 409, taken.text
    not_empty = physio.post(f"/api/tasks/{task['task_id']}/complete",
                            json={"data": {"note": "x"}})
    assert not_empty.status_code == 422
    done = physio.post(f"/api/tasks/{task['task_id']}/complete", json={"data": {}})
    assert done.status_code == 200, done.text
    assert done.json()["events"] == ["clinician_task_completed"]
    assert task["task_id"] not in [t["task_id"] for t in physio.get("/api/tasks").json()["data"]]
    again = physio.post(f"/api/tasks/{task['task_id']}/complete", json={"data": {}})
    assert again.status_code == 409
    thread = physio.get(f"/api/episodes/{episode}/messages").json()["data"]
    assert thread[0]["call_back_task_id"] == task["task_id"] and thread[0]["call_back_done"]
    assert world.count(Event, episode_id=episode, name="clinician_task_created") == 1
    assert world.count(Event, episode_id=episode, name="clinician_task_completed") == 1
    assert "Called back" in soup(pages.get(f"/patients/{episode}")).find(
        id="messages").get_text()


def test_a_call_back_made_on_the_patient_page_is_completed_from_the_task_page(
        world: World) -> None:
    anna, episode = refer(world, "Anna Andersson", "anna")
    message = _send(anna, episode, "Can we talk?")
    pages = page_login(world, "lead")
    token = _csrf(pages, f"/patients/{episode}")
    made = pages.post(f"/messages/{message['id']}/call-back", data={"csrf_token": token},
                      follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"].endswith("#messages")
    link = soup(pages.get(f"/patients/{episode}")).find(id="messages").find(
        "a", string="Call back task on the worklist")
    task_id = link["href"].removeprefix("/tasks/")
    done = pages.post(link["href"], data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert world.count(ReadyTask, task_id=task_id) == 0


@pytest.mark.parametrize(("text", "says"), [
    ("", "empty"), ("   \n ", "empty"), ("x" * (MAX_LENGTH + 1), "at most 5,000 characters"),
    ("<b>bold</b>", "HTML"), ("<script>alert(1)</script>", "HTML"), ("hi <!-- x -->", "HTML"),
])
def test_bad_messages_are_refused_naming_the_field(world: World, text: str, says: str) -> None:
    anna, episode = refer(world, "Anna Andersson", "anna")
    refused = anna.post(f"/api/episodes/{episode}/messages", json={"text": text})
    assert refused.status_code == 422
    fields = refused.json()["error"]["fields"]
    assert [f["field"] for f in fields] == ["text"] and says in fields[0]["message"]
    pages = page_login(world, "anna")
    page = pages.post("/messages", data={"text": text, "csrf_token": _csrf(pages, "/messages")})
    assert page.status_code == 422
    assert says in soup(page).find(class_="field-error").get_text()
    assert world.count(Message) == 0


def test_markup_is_shown_as_text_on_both_pages(world: World) -> None:
    anna, episode = refer(world, "Anna Andersson", "anna")
    _send(anna, episode, 'Pain < 5 & stiffness > 3, "mostly" mornings')
    _send(anna, episode, "x" * MAX_LENGTH)  # the longest message there may be
    # The API refuses markup; one in the record all the same (written by another program)
    # is shown as text.
    refused = anna.post(f"/api/episodes/{episode}/messages",
                        json={"text": "<script>alert('x')</script>"})
    assert refused.status_code == 422
    with transaction(world.db, write=True) as session:
        first = session.get(Message, 1)
        assert first is not None
        session.add(Message(episode_id=episode, patient_id=first.patient_id,
                            clinic_id=first.clinic_id, sender_id=first.sender_id,
                            sender_side="patient", body="<script>alert('x')</script>",
                            sent_at=world.clock.now()))
    for client, path in ((page_login(world, "anna"), "/messages"),
                         (page_login(world, "physio"), f"/patients/{episode}")):
        response = client.get(path)
        texts = [p.get_text() for p in soup(response).select(".thread .text")]
        assert texts[0] == 'Pain < 5 & stiffness > 3, "mostly" mornings'
        assert texts[-1] == "<script>alert('x')</script>"
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in response.text
        assert "<script>alert" not in response.text


def test_messages_cannot_be_changed_or_removed(world: World) -> None:
    anna, episode = refer(world, "Anna Andersson", "anna")
    _send(anna, episode, "Kept for good")
    for statement in ("UPDATE messages SET body = 'changed'", "DELETE FROM messages"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), \
                transaction(world.db, write=True) as session:
            session.execute(sa.text(statement))
    assert world.client("physio").get(
        f"/api/episodes/{episode}/messages").json()["data"][0]["text"] == "Kept for good"
