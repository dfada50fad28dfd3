"""Accounts after they are made: an admin deactivates, reactivates or resets a staff account;
anyone changes their own password; the host's operator does the same from the command line.
Deactivating an account or changing its password ends every login it has, at once."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from service.cli import main
from service.core.db import transaction
from service.core.settings import get_settings
from service.core.tables import ApiToken, LoginAttempt, User

from .conftest import PASSWORD, World, page_login, refer, soup

NEW_PASSWORD = "a-new-and-longer-one"


def can_log_in(world: World, username: str, password: str = PASSWORD) -> bool:
    response = world.client().post("/api/auth/token",
                                   json={"username": username, "password": password})
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


def still_in(client: TestClient) -> bool:
    """Does this login (a bearer token or a page session) still work?"""
    response = client.get("/api/me")
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


def password_hash(world: World, username: str) -> str:
    with transaction(world.db, write=False) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        return user.password_hash


def account(world: World, username: str) -> dict[str, object]:
    listed = world.client("admin").get("/api/users")
    assert listed.status_code == 200, listed.text
    return next(user for user in listed.json() if user["username"] == username)


def test_a_deactivated_account_is_out_at_once_everywhere_until_reactivated(
        world: World) -> None:
    admin, api, page = world.client("admin"), world.client("physio"), page_login(world, "physio")
    physio_id = world.users["physio"]

    off = admin.patch(f"/api/users/{physio_id}", json={"active": False})

    assert off.status_code == 200, off.text
    assert off.json()["active"] is False and account(world, "physio")["active"] is False
    assert not still_in(api) and not still_in(page)
    assert page.get("/worklist", follow_redirects=False).headers["location"].startswith("/login")
    assert not can_log_in(world, "physio")
    assert world.count(ApiToken, user_id=physio_id) == 0

    on = admin.patch(f"/api/users/{physio_id}", json={"active": True})

    assert on.status_code == 200 and on.json()["active"] is True
    assert can_log_in(world, "physio")
    assert not still_in(api) and not still_in(page)  # the old logins stay ended


def test_an_admin_cannot_lock_themselves_out(world: World) -> None:
    admin = world.client("admin")
    response = admin.patch(f"/api/users/{world.users['admin']}", json={"active": False})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == ("You cannot deactivate your own account; "
                                                   "another admin can")
    assert still_in(admin) and account(world, "admin")["active"] is True


def test_an_admin_gives_a_staff_account_a_new_password_and_its_logins_end(
        world: World) -> None:
    api = world.client("lead")
    response = world.client("admin").patch(f"/api/users/{world.users['lead']}",
                                           json={"password": NEW_PASSWORD})
    assert response.status_code == 200, response.text
    assert not still_in(api)
    assert not can_log_in(world, "lead") and can_log_in(world, "lead", NEW_PASSWORD)


def test_patients_logins_are_not_an_admins_to_see_or_change(world: World) -> None:
    patient, _ = refer(world, "Patricia Persson", "patricia")
    patricia_id = patient.get("/api/me").json()["id"]
    admin = world.client("admin")

    listed = admin.get("/api/users").json()
    changed = admin.patch(f"/api/users/{patricia_id}", json={"active": False})

    assert "patricia" not in {user["username"] for user in listed}
    assert {user["role"] for user in listed} == {"physiotherapist", "clinic_lead", "manager",
                                                 "auditor", "admin"}
    assert changed.status_code == 404 and "Patricia" not in changed.text
    assert changed.json()["error"]["message"] == f"There is no staff account {patricia_id}"
    assert still_in(patient)


@pytest.mark.parametrize(("body", "field", "says"), [
    ({}, "", "give `active`, `password` or both"),
    ({"password": "short"}, "password", "at least 8 characters"),
    ({"active": False, "role": "admin"}, "role", "Extra inputs are not permitted"),
    ({"active": "perhaps"}, "active", "valid boolean"),
])
def test_a_bad_account_change_is_named_and_changes_nothing(
        world: World, body: dict[str, object], field: str, says: str) -> None:
    physio = world.client("physio")
    response = world.client("admin").patch(f"/api/users/{world.users['physio']}", json=body)
    assert response.status_code == 422, response.text
    fields = {f["field"]: f["message"] for f in response.json()["error"]["fields"]}
    assert says in fields.get(field, ""), fields
    assert not fields[field].startswith("Value error"), fields
    assert still_in(physio) and account(world, "physio")["active"] is True
    assert account(world, "physio")["role"] == "physiotherapist"


def test_changing_ones_own_password_ends_every_login_of_one(world: World) -> None:
    api, other_device = world.client("physio"), page_login(world, "physio")

    response = api.post("/api/me/password", json={"current_password": PASSWORD,
                                                  "new_password": NEW_PASSWORD})

    assert response.status_code == 204, response.text
    assert 'carepath_session=""' in response.headers["set-cookie"]
    assert not still_in(api) and not still_in(other_device)
    assert not can_log_in(world, "physio") and can_log_in(world, "physio", NEW_PASSWORD)


def test_a_wrong_current_password_changes_nothing_and_counts_as_a_failed_login(
        world: World) -> None:
    api = world.client("physio")
    wrong = {"current_password": "not-my-password", "new_password": NEW_PASSWORD}
    hash_before = password_hash(world, "physio")

    response = api.post("/api/me/password", json=wrong)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"] == ("The current password is wrong; nothing "
                                                   "was changed")
    assert response.json()["error"]["fields"] == [{"field": "current_password",
                                                   "message": "wrong password"}]
    assert still_in(api) and can_log_in(world, "physio")
    assert world.count(LoginAttempt, username="physio") == 0  # a good login clears them
    for _ in range(world.settings.login_attempts_per_window):
        assert api.post("/api/me/password", json=wrong).status_code == 422
    assert world.count(LoginAttempt, username="physio") == world.settings.login_attempts_per_window
    limited = api.post("/api/me/password", json={"current_password": PASSWORD,
                                                 "new_password": NEW_PASSWORD})
    assert limited.status_code == 429, limited.text
    assert still_in(api) and password_hash(world, "physio") == hash_before


def test_a_page_session_changes_its_password_only_with_its_csrf_token(world: World) -> None:
    browser = page_login(world, "physio")
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert browser.post("/api/me/password", json=body).status_code == 403
    assert still_in(browser) and can_log_in(world, "physio")


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        world: World) -> Callable[..., tuple[int, str, str]]:
    def run(*argv: str) -> tuple[int, str, str]:
        monkeypatch.setenv("CAREPATH_DATABASE_URL", world.settings.database_url)
        get_settings.cache_clear()
        try:
            code = main(["user", *argv])
        finally:
            get_settings.cache_clear()
        out = capsys.readouterr()
        return code, out.out.strip(), out.err.strip()

    return run


def test_the_command_line_deactivates_reactivates_and_resets_any_account(
        world: World, cli: Callable[..., tuple[int, str, str]]) -> None:
    patient, _ = refer(world, "Patricia Persson", "patricia")
    patricia_id, physio_id = patient.get("/api/me").json()["id"], world.users["physio"]

    assert cli("deactivate", "patricia") == (
        0, f"deactivated patient patricia (id {patricia_id}); all its logins have ended", "")
    assert not still_in(patient) and not can_log_in(world, "patricia")
    assert cli("activate", "patricia")[0] == 0 and can_log_in(world, "patricia")

    api = world.client("physio")
    code, out, err = cli("password", "physio", "--password", NEW_PASSWORD)
    assert (code, err) == (0, "")
    assert out == (f"set a new password for physiotherapist physio (id {physio_id}); all its "
                   "logins have ended")
    assert not still_in(api) and can_log_in(world, "physio", NEW_PASSWORD)

    assert cli("deactivate", "nobody") == (2, "", "carepath: there is no user 'nobody'")
    assert cli("password", "physio", "--password", "short") == (
        2, "", "carepath: a password needs at least 8 characters")
    assert can_log_in(world, "physio", NEW_PASSWORD)


def csrf_of(page: TestClient) -> str:
    form = soup(page.get("/account")).find("input", {"name": "csrf_token"})
    assert form is not None
    return str(form["value"])


def test_the_account_page_changes_the_password_and_sends_everyone_to_log_in_again(
        world: World) -> None:
    browser, other_device, api = (page_login(world, "physio"), page_login(world, "physio"),
                                  world.client("physio"))
    shown = browser.get("/account")
    assert shown.status_code == 200
    assert soup(shown).find("a", href="/account") is not None  # in the navigation

    changed = browser.post("/account", follow_redirects=False, data={
        "csrf_token": csrf_of(browser), "current_password": PASSWORD,
        "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD})

    assert changed.status_code == 303 and changed.headers["location"] == "/login?changed=1"
    assert 'carepath_session=""' in changed.headers["set-cookie"]
    notice = soup(browser.get("/login?changed=1")).find(role="status")
    assert notice is not None and "Log in with your new password" in notice.text
    assert other_device.get("/worklist", follow_redirects=False).headers["location"] \
        .startswith("/login?next=")
    assert not still_in(api) and can_log_in(world, "physio", NEW_PASSWORD)


@pytest.mark.parametrize(("current", "new", "again", "field", "says"), [
    ("not-my-password", NEW_PASSWORD, NEW_PASSWORD, "current_password",
     "That is not your current password."),
    ("", NEW_PASSWORD, NEW_PASSWORD, "current_password", "Enter your current password."),
    (PASSWORD, "short", "short", "new_password", "of 8 to 200 characters"),
    (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", "new_password_again", "differ"),
])
def test_the_account_page_names_what_to_fix_and_changes_nothing(
        world: World, current: str, new: str, again: str, field: str, says: str) -> None:
    browser = page_login(world, "physio")
    hash_before = password_hash(world, "physio")
    response = browser.post("/account", data={
        "csrf_token": csrf_of(browser), "current_password": current, "new_password": new,
        "new_password_again": again})
    assert response.status_code == 422
    page = soup(response)
    error = page.find(id=f"{field}-error")
    assert error is not None and says in error.text, response.text
    assert page.find(id=field)["aria-describedby"] == f"{field}-error"
    assert password_hash(world, "physio") == hash_before and still_in(browser)
    counted = world.count(LoginAttempt, username="physio")
    assert counted == (1 if current == "not-my-password" else 0)


def test_the_account_page_needs_its_csrf_token(world: World) -> None:
    browser = page_login(world, "physio")
    response = browser.post("/account", data={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "new_password_again": NEW_PASSWORD})
    assert response.status_code == 403
    assert still_in(browser) and can_log_in(world, "physio")


# -- a patient who has forgotten their password: their clinician gives them a new one


def test_a_physiotherapist_gives_a_patient_a_new_password_and_the_log_says_who(
        world: World) -> None:
    anna, episode_id = refer(world, "Anna Andersson", "anna")
    physio = world.client("physio")

    response = physio.post(f"/api/episodes/{episode_id}/patient-password",
                           json={"password": NEW_PASSWORD})

    assert response.status_code == 200, response.text
    assert response.json() == {"username": "anna"}
    assert not still_in(anna)
    assert not can_log_in(world, "anna") and can_log_in(world, "anna", NEW_PASSWORD)
    timeline = physio.get(f"/api/episodes/{episode_id}/timeline").json()["data"]
    assert timeline[-1]["name"] == "patient_password_reset"
    assert timeline[-1]["actor_id"] == world.users["physio"]
    summary = physio.get(f"/api/episodes/{episode_id}/summary").json()
    assert summary["header"]["login_username"] == "anna"
    said = [item for item in summary["timeline"] if item["name"] == "patient_password_reset"]
    assert [(s["sentence"], s["by"]) for s in said] == [
        ("The patient's login was given a new password", "physio")]
    verified = world.client("auditor").get("/api/audit/verify").json()
    assert verified["ok"] is True, verified


def test_only_the_patients_own_clinicians_may_give_them_a_password(world: World) -> None:
    anna, episode_id = refer(world, "Anna Andersson", "anna")
    url = f"/api/episodes/{episode_id}/patient-password"
    body = {"password": NEW_PASSWORD}
    elsewhere = world.client("southphysio").post(url, json=body)
    unknown = world.client("physio").post("/api/episodes/999999/patient-password", json=body)
    assert elsewhere.status_code == unknown.status_code == 404
    assert elsewhere.json() == unknown.json()
    assert anna.post(url, json=body).status_code == 403
    short = world.client("physio").post(url, json={"password": "short"})
    assert short.status_code == 422
    assert still_in(anna) and can_log_in(world, "anna")
    without_login = world.client("physio").post(
        "/api/referrals", json={"display_name": "Nils Nolog", "birth_year": 1970})
    assert without_login.status_code == 201, without_login.text
    response = world.client("physio").post(
        f"/api/episodes/{without_login.json()['id']}/patient-password", json=body)
    assert response.status_code == 404
    assert "this patient has no login" in response.json()["error"]["message"].lower()


def test_the_patient_page_gives_the_login_a_new_password(world: World) -> None:
    anna, episode_id = refer(world, "Anna Andersson", "anna")
    browser = page_login(world, "physio")
    page = soup(browser.get(f"/patients/{episode_id}"))
    login = page.find("section", id="login")
    assert login is not None and "Username: anna" in login.get_text(" ", strip=True)
    csrf = str(login.find("input", {"name": "csrf_token"})["value"])

    differ = browser.post(f"/patients/{episode_id}/password", data={
        "csrf_token": csrf, "new_password": NEW_PASSWORD, "new_password_again": "other-one!"})
    assert differ.status_code == 422
    error = soup(differ).find(id="new_password_again-error")
    assert error is not None and "differ" in error.text
    assert still_in(anna)

    done = browser.post(f"/patients/{episode_id}/password", follow_redirects=False, data={
        "csrf_token": csrf, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD})
    assert done.status_code == 303
    assert done.headers["location"] == f"/patients/{episode_id}?password=changed#login"
    notice = soup(browser.get(done.headers["location"])).find(role="status")
    assert notice is not None and "(anna) has a new password" in notice.text
    assert not still_in(anna) and can_log_in(world, "anna", NEW_PASSWORD)
