"""Requests no person would send, refused before they reach a route or the database: text
holding NUL, ids beyond what the database stores, bodies over the limit. Each is answered
with the one error shape (the error page for pages), on SQLite and PostgreSQL alike, and
leaves everything as it was; the next request is served as usual."""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from .conftest import PASSWORD, LiveServer, World, page_login, refer, soup
from .error_checks import error_of, saved_state

NUL = "\x00"
LIMIT = 1_000_000
"""The default limit of a request body (Settings.max_body_bytes)."""


@dataclass(frozen=True)
class Hostile:
    """A request and the fields its refusal must name."""

    who: str | None
    method: str
    path: str
    """May name {north} (a clinic's id)."""
    fields: tuple[str, ...]
    json: Any = None
    params: dict[str, Any] = field(default_factory=dict)


def login(username: str) -> dict[str, Any]:
    return {"username": username, "password": PASSWORD}


NUL_REQUESTS = [  # (the request, the fields its refusal names), what it is
    (Hostile(None, "POST", "/api/auth/token", ("username",), json=login(f"a{NUL}b")),
     "logging in, before any login"),
    (Hostile(None, "POST", "/api/auth/login", ("password",),
             json={"username": "physio", "password": f"x{NUL}"}), "a cookie login's password"),
    (Hostile(None, "POST", "/api/self-referrals", ("display_name", "login.username"),
             json={"clinic_id": "{north}", "display_name": f"Quinn{NUL}",
                   "login": login(f"quinn{NUL}")}), "a self-referral, two fields at once"),
    (Hostile("physio", "POST", "/api/referrals", ("display_name",),
             json={"display_name": f"{NUL}Quinn", "birth_year": 1980}), "a referral"),
    (Hostile("admin", "POST", "/api/users", ("full_name",),
             json={"username": "rita", "password": PASSWORD, "role": "auditor",
                   "full_name": f"Rita{NUL}"}), "a new account"),
    (Hostile("physio", "GET", "/api/tasks", ("query.name",),
             params={"name": f"first{NUL}visit"}), "a worklist filter"),
    (Hostile("physio", "GET", "/api/tasks/a%00b", ("path",)), "a task id in the path"),
    (Hostile("nina", "POST", "/api/episodes/{episode}/exercise-logs", ("exercise",),
             json={"exercise": f"walking{NUL}", "level": 1, "pain_nrs": 2,
                   "difficulty": "about_right"}), "an exercise log"),
    (Hostile("nina", "POST", "/api/tasks/x/complete", ("data.red_flags.0", "data.a\\u0000"),
             json={"data": {"red_flags": [f"x{NUL}"], f"a{NUL}": 1}}),
     "answers: a value in a list, and a key"),
    (Hostile("manager", "POST", "/api/models/drafts", ("name",), json={"name": f"draft{NUL}"}),
     "a model draft's name"),
]


def test_text_holding_nul_is_refused_naming_the_field_and_saves_nothing(world: World) -> None:
    episode = refer(world, "Nina", "nina")[1]
    clients = {who: world.client(who) for who in {h.who for h, _ in NUL_REQUESTS}}
    before = saved_state(world)
    for hostile, case in NUL_REQUESTS:
        client = clients[hostile.who]
        body = hostile.json
        if isinstance(body, dict) and body.get("clinic_id") == "{north}":
            body = {**body, "clinic_id": world.clinics["north"]}
        response = client.request(hostile.method, hostile.path.format(episode=episode),
                                  json=body, params=hostile.params)
        assert response.status_code == 422, (case, response.text)
        error = error_of(response)
        assert error["code"] == "invalid_request" and "NUL" in error["message"], (case, error)
        named = {f["field"] for f in error["fields"]}
        assert set(hostile.fields) <= named, (case, error)
        assert all("NUL" in f["message"] for f in error["fields"]), (case, error)
        assert saved_state(world) == before, case
        assert client.get("/api/me").status_code in (200, 401), case  # the next is served
    # A backslash followed by u0000 is six characters a person may type, not a NUL.
    written_out = clients[None].post("/api/auth/token", json=login("a\\u0000b"))
    assert written_out.status_code == 401, written_out.text


def test_a_page_form_holding_nul_gets_the_error_page_naming_the_field(world: World) -> None:
    browser = TestClient(world.app, raise_server_exceptions=False)
    token = soup(browser.get("/login")).find("input", attrs={"name": "csrf_token"})["value"]
    for send in ({"data": {"username": f"physio{NUL}", "password": PASSWORD,
                           "csrf_token": token}},
                 {"files": {"username": (None, f"physio{NUL}"),  # a multipart form
                            "password": (None, PASSWORD), "csrf_token": (None, token)}}):
        response = browser.post("/login", **send)  # type: ignore[arg-type]
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("text/html")
        message = soup(response).select_one("main").get_text(" ")
        assert "NUL" in message and "username" in message, message
    staff = page_login(world, "admin")
    page = soup(staff.get("/staff"))
    token = page.find("input", attrs={"name": "csrf_token"})["value"]
    before = saved_state(world)
    added = staff.post("/staff", data={"action": "add", "username": "rita",
                                       "password": PASSWORD, "role": "auditor",
                                       "full_name": f"Rita{NUL}", "csrf_token": token})
    assert added.status_code == 422 and "full_name" in added.text
    assert saved_state(world) == before


# -- Ids beyond what the database stores ------------------------------------------------------

TOO_BIG = [2**31, 2**63]
"""Past PostgreSQL's INTEGER, past SQLite's INTEGER."""


ID_FIELDS = [
    (None, "/api/self-referrals", {"display_name": "Quinn", "login": login("quinn")},
     "clinic_id"),  # the public self-referral's clinic
    ("admin", "/api/users", {"username": "rita", "password": PASSWORD,
                             "role": "physiotherapist"}, "clinic_id"),
    ("admin", "/api/users", {"username": "rita", "password": PASSWORD, "role": "patient"},
     "patient_id"),
    ("manager", "/api/models/drafts", {}, "from_version"),
]


def test_an_id_beyond_the_database_is_refused_naming_the_field(world: World) -> None:
    clients = {who: world.client(who) for who in {who for who, *_ in ID_FIELDS}}
    before = saved_state(world)
    for too_big in TOO_BIG:
        for who, path, body, named in ID_FIELDS:
            client = clients[who]
            response = client.post(path, json={**body, named: too_big})
            assert response.status_code == 422, (path, named, too_big, response.text)
            error = error_of(response)
            assert [f["field"] for f in error["fields"]] == [named], error
            assert "2147483647" in error["fields"][0]["message"]
            assert saved_state(world) == before
            # The connection is fine: the same client's next request is served.
            assert client.get("/api/me").status_code in (200, 401), (path, named, too_big)
    followed = clients[None].post("/api/self-referrals", json={
        "clinic_id": world.clinics["north"], "display_name": "Quinn", "login": login("quinn")})
    assert followed.status_code == 201, followed.text


@pytest.mark.parametrize("too_big", TOO_BIG)
def test_ids_beyond_the_database_in_query_and_path_and_page_forms(world: World,
                                                                  too_big: int) -> None:
    auditor = world.client("auditor")
    for path, params, named in [(f"/api/episodes/{too_big}", {}, "path.episode_id"),
                                ("/api/audit/events", {"episode_id": too_big},
                                 "query.episode_id"),
                                ("/api/audit/access", {"patient_id": too_big},
                                 "query.patient_id")]:
        response = auditor.get(path, params=params)
        assert response.status_code == 422, response.text
        assert named in {f["field"] for f in error_of(response)["fields"]}
    admin = page_login(world, "admin")
    token = soup(admin.get("/staff")).find("input", attrs={"name": "csrf_token"})["value"]
    before = saved_state(world)
    changed = admin.post("/staff", data={"action": "deactivate", "user_id": str(too_big),
                                         "csrf_token": token})
    assert changed.status_code == 422, changed.text
    assert "Choose an account from the list." in changed.text
    added = admin.post("/staff", data={"action": "add", "username": "rita",
                                       "password": PASSWORD, "role": "physiotherapist",
                                       "clinic_id": str(too_big), "csrf_token": token})
    assert added.status_code == 422 and "Choose the clinic" in added.text
    assert saved_state(world) == before
    assert admin.get("/staff").status_code == 200


@pytest.mark.parametrize("option", ["--clinic-id", "--patient-id"])
def test_the_command_line_refuses_an_id_beyond_the_database(
        option: str, capsys: pytest.CaptureFixture[str]) -> None:
    from service.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["user", "add", "rita", "--role", "physiotherapist", "--password", PASSWORD,
              option, str(2**31)])
    assert stopped.value.code == 2
    assert f"{2**31}' is not an id (a whole number from 1 to 2147483647)" in \
        capsys.readouterr().err


# -- Bodies over the limit --------------------------------------------------------------------

def test_a_body_over_the_limit_is_refused_with_413_api_and_page(world: World) -> None:
    client = world.client()
    padding = "x" * LIMIT
    response = client.post("/api/auth/token", json={"username": "physio",
                                                    "password": PASSWORD, "pad": padding})
    assert response.status_code == 413, response.text
    error = error_of(response)
    assert error["code"] == "request_too_large"
    assert "1,000,000 bytes" in error["message"]
    page = client.post("/login", data={"username": "physio", "pad": padding})
    assert page.status_code == 413
    assert page.headers["content-type"].startswith("text/html")
    assert "1,000,000 bytes" in page.text
    # Just under the limit is read as usual (a wrong password: 401, not 413).
    under = client.post("/api/auth/token", json={"username": "physio", "password": "wrong",
                                                 "pad": "x" * (LIMIT - 100)})
    assert under.status_code == 401, under.text


def test_a_model_upload_keeps_its_own_larger_limit(world: World) -> None:
    manager = world.client("manager")
    draft = manager.post("/api/models/drafts", json={}).json()
    url = f"/api/models/drafts/{draft['id']}/upload"
    over_json_limit = manager.post(url, files={"files": ("big.bpmn", b"x" * 2 * LIMIT)})
    assert over_json_limit.status_code == 422, over_json_limit.text  # the file's own limit
    over_upload_limit = manager.post(url, files={"files": ("big.zip", b"x" * 12 * LIMIT)})
    assert over_upload_limit.status_code == 413, over_upload_limit.text
    assert "11,000,000 bytes" in error_of(over_upload_limit)["message"]
    assert manager.get(f"/api/models/drafts/{draft['id']}").json()["files"] == draft["files"]


PLANNED = 200 * LIMIT
"""What the hostile client means to send: 200 MB."""


def _connect(live_server: LiveServer) -> socket.socket:
    address = urlsplit(live_server.url)
    return socket.create_connection((address.hostname or "", address.port or 0), timeout=10)


def test_a_body_over_the_limit_is_refused_unread_declared_or_chunked(
        live_server: LiveServer) -> None:
    """A declared length over the limit is refused before one byte of the body is sent. A
    body without a length (chunked) is counted as it arrives: the 413 comes once the limit is
    passed, while the client is still sending, long before its 200 MB are done. The server
    then closes the connection with the client's bytes still arriving, so the kernel may
    reset it before the client has read the 413 (a reset discards what was not yet read):
    the client then sees the reset instead, still long before its 200 MB are done."""
    with _connect(live_server) as sock:
        sock.sendall(b"POST /api/auth/token HTTP/1.1\r\nHost: carepath\r\n"
                     b"Content-Type: application/json\r\n"
                     b"Content-Length: " + str(PLANNED).encode() + b"\r\n\r\n")
        answer = b""
        while b"}}" not in answer:  # not one byte of the body was sent
            received = sock.recv(65536)
            if not received:
                break
            answer += received
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"code":"request_too_large"' in answer

    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    pending, sent, answer, reset = framed, 0, b"", False
    started = time.monotonic()
    with _connect(live_server) as sock:
        sock.sendall(b"POST /api/auth/token HTTP/1.1\r\nHost: carepath\r\n"
                     b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        sock.setblocking(False)
        # Send while the server takes it; read its answer the moment one comes (it closes the
        # connection right after, which can cut off an answer left unread).
        while sent < PLANNED and b"}}" not in answer and time.monotonic() - started < 30:
            readable, writable, _ = select.select([sock], [sock], [], 1)
            try:
                if readable:
                    received = sock.recv(65536)
                    if not received:
                        break
                    answer += received
                elif writable:
                    written = sock.send(pending)
                    sent += written
                    pending = pending[written:] or framed
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                reset = True
                break
    if not (reset and not answer):
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b'"code":"request_too_large"' in answer
    assert LIMIT < sent < 20 * LIMIT, f"{sent:,} bytes sent before the answer"
    assert httpx.get(f"{live_server.url}/healthz").status_code == 200  # it serves on
