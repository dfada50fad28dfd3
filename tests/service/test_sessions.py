"""Logging in safely: sessions and bearer tokens, cookies and CSRF tokens, logging out,
stored passwords and the secret key."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any

import pytest
from argon2 import Type
from fastapi.testclient import TestClient
from httpx import Response
from itsdangerous import TimestampSigner
from sqlmodel import select

from service.core import credentials
from service.core.db import transaction
from service.core.settings import DEFAULT_SECRET, Settings
from service.core.tables import LoginAttempt, User

from .conftest import PASSWORD, SERVICE_HASHER, World, refer, soup
from .error_checks import error_of, saved_state


def test_logging_in_again_while_a_session_cookie_is_still_valid_works(world: World) -> None:
    client, _, _ = _cookie_login(world, "physio")
    again = client.post("/api/auth/login", json={"username": "physio2", "password": PASSWORD})
    assert again.status_code == 200, again.text


def test_logging_out_revokes_the_bearer_token_at_once(world: World) -> None:
    client = world.client("physio")
    other = world.client("physio")  # another device of the same person keeps its token
    assert client.get("/api/me").status_code == 200
    assert client.post("/api/auth/logout").status_code == 204
    refused = client.get("/api/me")
    assert refused.status_code == 401, refused.text
    assert other.get("/api/me").status_code == 200


def _page_csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert found, "the page has no logout form: log in first"
    return found.group(1)


def test_logging_out_of_the_pages_ends_the_session_on_the_server(world: World) -> None:
    """A copied session cookie is refused once its owner has logged out, and so is the one on
    their other device; logging in again works."""
    from .conftest import page_login

    browser, other_device = page_login(world, "physio"), page_login(world, "physio")
    copied = browser.cookies.get("carepath_session")
    assert browser.get("/worklist").status_code == 200
    out = browser.post("/logout", data={"csrf_token": _page_csrf(browser)},
                       follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    thief = TestClient(world.app, raise_server_exceptions=False)
    thief.cookies.set("carepath_session", copied)
    refused = thief.get("/worklist", follow_redirects=False)
    assert refused.status_code == 303, refused.text
    assert refused.headers["location"].startswith("/login")
    assert thief.get("/api/me").status_code == 401
    assert other_device.get("/worklist", follow_redirects=False).status_code == 303
    again = page_login(world, "physio")
    assert again.get("/worklist").status_code == 200


def test_logging_out_through_the_api_ends_a_cookie_session_only_with_its_csrf_token(
        world: World) -> None:
    """Without the token (a cross-site form could send the cookie) the logout is refused,
    saying so, and the cookie is kept: never a 204 that leaves the session working."""
    client = TestClient(world.app, raise_server_exceptions=False)
    login = client.post("/api/auth/login", json={"username": "physio", "password": PASSWORD})
    assert login.status_code == 200, login.text
    cookie = client.cookies.get("carepath_session")
    forged = TestClient(world.app, raise_server_exceptions=False)
    forged.cookies.set("carepath_session", cookie)
    refused = forged.post("/api/auth/logout")
    assert refused.status_code == 403, refused.text
    assert "X-CSRF-Token" in error_of(refused)["message"]
    assert "still logged in" in error_of(refused)["message"]
    assert "set-cookie" not in refused.headers, "the cookie is not deleted behind a refusal"
    assert forged.get("/api/me").status_code == 200
    out = client.post("/api/auth/logout", headers={"X-CSRF-Token": login.json()["csrf_token"]})
    assert out.status_code == 204
    assert "carepath_session" not in client.cookies
    for old in (client, forged):  # the old cookie no longer works anywhere
        old.cookies.set("carepath_session", cookie)
        assert old.get("/api/me").status_code == 401
    # Logging out with a cookie that no longer works just deletes it.
    again = forged.post("/api/auth/logout")
    assert again.status_code == 204, again.text
    assert "Max-Age=0" in again.headers["set-cookie"]


def test_logging_out_of_the_pages_without_the_forms_token_is_refused_and_ends_nothing(
        world: World) -> None:
    from .conftest import page_login

    browser = page_login(world, "physio")
    refused = browser.post("/logout", data={}, follow_redirects=False)
    assert refused.status_code == 403
    assert "did not come from carepath" in refused.text
    assert "set-cookie" not in refused.headers
    assert browser.get("/worklist", follow_redirects=False).status_code == 200
    out = browser.post("/logout", data={"csrf_token": _page_csrf(browser)},
                       follow_redirects=False)
    assert out.status_code == 303


def test_passwords_are_stored_only_as_argon2_hashes(world: World) -> None:
    admin = world.client("admin")
    created = admin.post("/api/users", json={"username": "newlead", "password": PASSWORD,
                                             "role": "clinic_lead",
                                             "clinic_id": world.clinics["north"]})
    assert created.status_code == 201, created.text
    refer(world, "Nora", "nora")
    self_referred = world.client().post("/api/self-referrals", json={
        "clinic_id": world.clinics["north"], "display_name": "Olle",
        "login": {"username": "olle", "password": PASSWORD}})
    assert self_referred.status_code == 201, self_referred.text
    with transaction(world.db, write=False) as session:
        hashes = dict(session.exec(select(User.username, User.password_hash)).all())
    for username in ("newlead", "nora", "olle", "physio"):
        assert hashes[username].startswith("$argon2id$"), username
        assert PASSWORD not in hashes[username]
    assert len(set(hashes.values())) == len(hashes), "every hash is salted"
    assert "password" not in created.text
    # The service's own parameters (tests swap in cheap ones): at least OWASP's minimum.
    assert SERVICE_HASHER.type is Type.ID
    assert SERVICE_HASHER.memory_cost >= 19 * 1024 and SERVICE_HASHER.time_cost >= 2


def _cookie_login(world: World, username: str = "physio") -> tuple[TestClient, str, Response]:
    client = world.client()
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client, response.json()["csrf_token"], response


def test_a_cookie_login_sets_an_httponly_samesite_lax_session_cookie(world: World) -> None:
    _, csrf, response = _cookie_login(world)
    header = response.headers["set-cookie"]
    cookie = SimpleCookie()
    cookie.load(header)
    morsel = cookie["carepath_session"]
    assert morsel["httponly"] is True, header
    assert morsel["samesite"].lower() == "lax", header
    assert morsel["path"] == "/"
    assert int(morsel["max-age"]) == world.settings.session_max_age_seconds
    assert csrf and csrf not in morsel.value


@pytest.mark.parametrize(("csrf_header", "status"), [
    pytest.param(None, 403, id="no CSRF token"),
    pytest.param("made-up", 403, id="a wrong CSRF token"),
    pytest.param("from login", 201, id="the CSRF token from the login"),
])
def test_a_cookie_authenticated_change_needs_the_csrf_token(
        world: World, csrf_header: str | None, status: int) -> None:
    client, csrf, _ = _cookie_login(world)
    assert client.get("/api/me").status_code == 200, "reading needs no CSRF token"
    headers = {} if csrf_header is None else {
        "X-CSRF-Token": csrf if csrf_header == "from login" else csrf_header}
    before = saved_state(world)
    response = client.post("/api/referrals", json={"display_name": "Petra"}, headers=headers)
    assert response.status_code == status, response.text
    if status == 403:
        assert "CSRF" in error_of(response)["message"]
        assert saved_state(world) == before


@pytest.mark.parametrize("tamper", [
    # Not the last character: its low bits are base64 padding and may not change the bytes.
    pytest.param(lambda v: v[:-6] + ("A" if v[-6] != "A" else "B") + v[-5:],
                 id="a changed signature"),
    pytest.param(lambda v: "eyJ1aWQiOjF9" + v[v.index("."):], id="another user id"),
    pytest.param(lambda v: "garbage", id="garbage"),
])
def test_a_tampered_session_cookie_is_ignored(world: World, tamper: Any) -> None:
    client, _, _ = _cookie_login(world)
    value = client.cookies["carepath_session"]
    client.cookies.clear()
    client.cookies.set("carepath_session", tamper(value))
    response = client.get("/api/me")
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


def test_a_bearer_token_lasts_twelve_hours(world: World) -> None:
    client = world.client("physio")
    world.clock.advance(timedelta(hours=11, minutes=59))
    assert client.get("/api/me").status_code == 200
    world.clock.advance(timedelta(minutes=2))
    response = client.get("/api/me")
    assert response.status_code == 401
    error_of(response)


@pytest.mark.parametrize(("secret", "refused"), [
    pytest.param(None, True, id="the default secret"),
    pytest.param(DEFAULT_SECRET, True, id="the default secret, given explicitly"),
    pytest.param("short-secret", True, id="a short secret"),
    pytest.param("x7F" * 16, False, id="48 characters"),
])
def test_production_refuses_to_start_without_a_real_secret_key(
        monkeypatch: pytest.MonkeyPatch, secret: str | None, refused: bool) -> None:
    monkeypatch.delenv("CAREPATH_SECRET_KEY", raising=False)
    monkeypatch.setenv("CAREPATH_AUDIT_KEY", "k" * 40)  # test_event_log checks this one
    given = {} if secret is None else {"secret_key": secret}
    if refused:
        with pytest.raises(ValueError, match="CAREPATH_SECRET_KEY"):
            Settings(mode="production", **given)
    else:
        assert Settings(mode="production", **given).secret_key == secret


def _login_form_token(browser: TestClient) -> str:
    """Open the login page, as a browser does before logging in: the token its form
    carries (the page also sets the login cookie)."""
    page = browser.get("/login")
    assert page.status_code == 200, page.text
    token: str = soup(page).find("input", attrs={"name": "csrf_token"})["value"]
    return token


def test_the_login_form_logs_in_with_the_token_of_its_cookie(world: World) -> None:
    """The login page sets a short-lived, HttpOnly, SameSite cookie for the login path; its
    form's token logs in, from a second tab too, and after a wrong password."""
    browser = TestClient(world.app, raise_server_exceptions=False)
    first_tab = _login_form_token(browser)
    second = browser.get("/login")
    morsel = SimpleCookie(second.headers["set-cookie"])["carepath_login"]
    assert morsel["httponly"] is True and morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/login"
    assert int(morsel["max-age"]) == credentials.LOGIN_FORM_MAX_AGE_SECONDS == 3600
    assert first_tab not in morsel.value
    assert soup(second).find("input", attrs={"name": "csrf_token"})["value"] == first_tab

    wrong = browser.post("/login", data={"username": "physio", "password": "not-it",
                                         "csrf_token": first_tab})
    assert wrong.status_code == 401, wrong.text
    again = soup(wrong).find("input", attrs={"name": "csrf_token"})["value"]
    logged_in = browser.post("/login", follow_redirects=False, data={
        "username": "physio", "password": PASSWORD, "csrf_token": again})
    assert logged_in.status_code == 303, logged_in.text
    assert browser.get("/api/me").json()["username"] == "physio"


@pytest.mark.parametrize("forgery", [
    "no token", "no login cookie", "another browser's token", "an expired form",
    "the session's token"])
def test_a_login_form_without_the_token_of_its_cookie_logs_nobody_in(
        world: World, forgery: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Login CSRF: a form on another site must not log the browser into the sender's account
    (what the victim then entered would be the sender's to read). The sender can get a
    token for their own login cookie, but not for the victim's."""
    browser = TestClient(world.app, raise_server_exceptions=False)
    with monkeypatch.context() as timing:
        if forgery == "an expired form":
            timing.setattr(TimestampSigner, "get_timestamp",
                           lambda _: int(time.time()) - credentials.LOGIN_FORM_MAX_AGE_SECONDS - 1)
        form = {"username": "physio2", "password": PASSWORD,
                "csrf_token": _login_form_token(browser)}
    if forgery == "no token":
        del form["csrf_token"]
    elif forgery == "no login cookie":
        browser.cookies.clear()
    elif forgery == "another browser's token":
        form["csrf_token"] = _login_form_token(world.client())
    elif forgery == "the session's token":
        form["csrf_token"] = _cookie_login(world, "physio2")[1]

    refused = browser.post("/login", data=form, follow_redirects=False)

    assert refused.status_code == 403, refused.text
    assert "did not come from carepath; reload the page" in refused.text
    assert "carepath_session" not in refused.headers.get("set-cookie", "")
    assert browser.get("/api/me").status_code == 401
    assert world.count(LoginAttempt) == 0, "refused before any password is checked"
