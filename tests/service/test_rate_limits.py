"""Guessing and flooding are limited: wrong passwords lock a login for a while, and one
address may self-refer only so often.

A limited request gets a 429 whose sentence says what to do; errors have the one shape checked
by `error_checks.error_of`."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from httpx import Response

from service.tables import Episode, Patient, User

from .conftest import PASSWORD, World, refer
from .error_checks import error_of

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
