"""Guessing and flooding are limited: wrong passwords lock a login for a while (at the
guessing address, and everywhere once many addresses guess), and one address may self-refer
only so often.

A limited request gets a 429 whose sentence says what to do; errors have the one shape checked
by `error_checks.error_of`."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from service.core.tables import Episode, LoginAttempt, Patient, User
from service.people import auth

from .conftest import PASSWORD, LiveServer, World, refer, soup
from .error_checks import error_of
from .test_races import at_the_same_moment

WRONG = "not-the-password"


@pytest.mark.parametrize("endpoint", ["/api/auth/token", "/api/auth/login"])
def test_the_sixth_wrong_password_in_five_minutes_locks_the_login_until_they_pass(
        world: World, endpoint: str) -> None:
    client = world.client()

    def attempt(password: str) -> Response:
        client.cookies.clear()  # each attempt as if from a fresh browser
        return client.post(endpoint, json={"username": "physio", "password": password})

    for _ in range(5):
        assert error_of(attempt(WRONG))["code"] == "not_authenticated"
    limited = attempt(WRONG)
    assert limited.status_code == 429
    message = error_of(limited)["message"]
    assert re.fullmatch(r"[A-Z][^.]*wait \d+ minutes[^.]*\.?", message), message
    # While limited even the right password is refused: guessing cannot go on.
    assert attempt(PASSWORD).status_code == 429
    world.clock.advance(timedelta(minutes=4))
    assert attempt(PASSWORD).status_code == 429
    world.clock.advance(timedelta(minutes=2))
    assert attempt(PASSWORD).status_code == 200
    # A good login clears the count.
    assert attempt(WRONG).status_code == 401
    assert attempt(PASSWORD).status_code == 200


def test_failed_logins_for_one_user_do_not_lock_out_another(world: World) -> None:
    client = world.client()
    for _ in range(6):
        client.post("/api/auth/token", json={"username": "physio", "password": WRONG})
    assert client.post("/api/auth/token",
                       json={"username": "physio2", "password": PASSWORD}).status_code == 200


def test_one_address_can_self_refer_only_so_often_and_a_refused_one_saves_nothing(
        world: World) -> None:
    """Self-referral needs no login; one client address gets a limited number per window,
    then a clear 429 (and no patient, login or episode is made for the refused one)."""
    limit = world.settings.self_referrals_per_window
    public = world.client()

    def self_refer(n: int) -> Response:
        return public.post("/api/self-referrals", json={
            "clinic_id": world.clinics["north"], "display_name": f"Walk-in {n}",
            "login": {"username": f"walkin{n}", "password": PASSWORD}})

    for n in range(limit):
        assert self_refer(n).status_code == 201
    patients, episodes = world.count(Patient), world.count(Episode)
    refused = self_refer(limit)
    assert refused.status_code == 429, refused.text
    error = refused.json()["error"]
    assert error["code"] == "too_many_self_referrals"
    assert "ask your clinic to refer you" in error["message"]
    assert (world.count(Patient), world.count(Episode)) == (patients, episodes)
    assert world.count(User, username=f"walkin{limit}") == 0
    # A clinician's referral is not limited by it, and after the window the address may
    # refer itself again.
    refer(world, "Referred meanwhile", "referredmeanwhile")
    world.clock.advance(timedelta(seconds=world.settings.self_referral_window_seconds + 1))
    assert self_refer(limit + 1).status_code == 201


def _from(world: World, address: str) -> TestClient:
    """An API client at this client address."""
    return TestClient(world.app, client=(address, 50000), raise_server_exceptions=False)


def _token_status(client: httpx.Client, password: str) -> int:
    return client.post("/api/auth/token",
                       json={"username": "physio", "password": password}).status_code


@pytest.mark.parametrize("endpoint", ["/api/auth/token", "/api/auth/login", "/login"])
def test_wrong_passwords_sent_at_the_same_moment_get_no_more_checks_than_the_limit(
        world: World, live_server: LiveServer, endpoint: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Thirty wrong passwords for one login at the same moment, over HTTP: only as many are
    checked as the limit allows (401), the rest are refused unchecked (429), and the
    person can still log in from another address."""
    check = auth._verify

    def as_slow_as_in_production(password_hash: str, password: str) -> bool:
        time.sleep(0.05)  # the tests' argon2 is cheap; the service's takes about this long
        return check(password_hash, password)

    monkeypatch.setattr(auth, "_verify", as_slow_as_in_production)
    limit, sent = world.settings.login_attempts_per_window, 30
    credentials = {"username": "physio", "password": WRONG}
    request: dict[str, Any] = {"json": credentials}
    if endpoint == "/login":  # the form, with its token and the cookie of its page
        page = httpx.get(f"{live_server.url}/login")
        token = soup(page).find("input", attrs={"name": "csrf_token"})["value"]
        request = {"data": {**credentials, "csrf_token": token},
                   "headers": {"Cookie": f"carepath_login={page.cookies['carepath_login']}"}}

    def guess() -> int:
        return httpx.post(f"{live_server.url}{endpoint}", timeout=60, **request).status_code

    statuses = Counter(at_the_same_moment(*[guess] * sent))

    assert statuses == {401: limit, 429: sent - limit}, statuses
    live_server.settle()
    assert world.count(LoginAttempt, username="physio") == limit
    with httpx.Client(base_url=live_server.url) as same_address:
        assert _token_status(same_address, PASSWORD) == 429
    assert _token_status(_from(world, "198.51.100.7"), PASSWORD) == 200


def test_a_flood_from_one_address_does_not_lock_the_person_out_from_theirs(
        world: World) -> None:
    """Failed logins are counted per username and client address: anyone can lock a login
    at their own address, not at the person's; and the person logging in does not give the
    guesser more tries."""
    limit = world.settings.login_attempts_per_window
    guesser, person = _from(world, "203.0.113.9"), _from(world, "198.51.100.7")
    for _ in range(limit):
        assert _token_status(guesser, WRONG) == 401
    assert _token_status(guesser, PASSWORD) == 429
    assert _token_status(person, PASSWORD) == 200
    assert _token_status(guesser, WRONG) == 429


def test_guessing_spread_over_many_addresses_is_capped_for_the_login(world: World) -> None:
    """Each address may try the limit, but all addresses together only a few times that:
    then the login is locked everywhere until the window has passed."""
    limit = world.settings.login_attempts_per_window
    assert world.settings.login_attempts_per_username == 4 * limit  # the defaults' ratio
    for n in range(world.settings.login_attempts_per_username // limit):
        guesser = _from(world, f"203.0.113.{n}")
        for _ in range(limit):
            assert _token_status(guesser, WRONG) == 401
    person = _from(world, "198.51.100.7")
    assert _token_status(person, PASSWORD) == 429
    world.clock.advance(timedelta(seconds=world.settings.login_window_seconds + 1))
    assert _token_status(person, PASSWORD) == 200
