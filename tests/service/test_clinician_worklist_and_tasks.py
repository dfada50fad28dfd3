"""Clinician worklist and task forms as people use them: logged in with a cookie, reading the
HTML's structure (rows, badges, labels, messages next to fields), acting with one click."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup, Tag
from fastapi.testclient import TestClient

from pathways.properties import ALERTS
from service.care import views
from service.care.worklist import TASK_ALERTS
from service.core import credentials

from .clinician_pages_support import patient_in_week_one, text
from .conftest import A, World, complete, find_task, refer, week
from .conftest import page_login as log_in
from .conftest import soup as html


def csrf(client: TestClient) -> str:
    """The token every page carries in its logout form (and in the htmx headers)."""
    token = html(client.get("/")).select_one("form.logout input[name=csrf_token]")
    assert token is not None, "log in first"
    return str(token["value"])


def rows_of(page: BeautifulSoup, section: str) -> list[Tag]:
    found = page.find("h2", id=f"section-{section}")
    assert found is not None, f"no section {section}"
    return list(found.find_parent("section").select("tbody tr"))


def cells(row: Tag) -> dict[str, str]:
    return {str(td["data-label"]): text(td) for td in row.select("td")}


def unlabelled_controls(page: BeautifulSoup) -> list[str]:
    """Inputs, selects and text areas with no label (hidden inputs need none)."""
    missing = []
    for control in page.select("main input, main select, main textarea"):
        if control.get("type") == "hidden":
            continue
        wrapped = control.find_parent("label") is not None
        named = control.get("id") and page.find("label", attrs={"for": control["id"]})
        if not (wrapped or named):
            missing.append(str(control.get("name")))
    return missing


def field_of(page: BeautifulSoup, name: str) -> Tag:
    """The element that holds a form field's control, label and message."""
    control = page.find(attrs={"name": name, "type": lambda t: t != "hidden"})
    assert control is not None, f"no field {name}"
    holder = control.find_parent(class_="field")
    assert holder is not None
    return holder


# -- scenes

def red_flag_patient(world: World, name: str, username: str) -> int:
    """A self-referred patient whose safety answers need a clinician within 24 hours."""
    patient, episode_id = refer(world, name, username)
    flags = dict(A["no_red_flags"], night_pain=True, history_of_cancer=True)
    complete(patient, "red_flag_screen", {"age": 60, "red_flags": flags})
    return episode_id


# -- the worklist

def test_the_worklist_shows_red_flags_first_then_overdue_tasks_with_words_for_every_signal(
        world: World) -> None:
    patient, flared = patient_in_week_one(world, "Maja Lind", "maja", "medium_start_back")
    complete(patient, "weekly_check_in",
             week(1, 9, pain_during=8))
    world.clock.advance(timedelta(days=3))  # the alert review (due in 2 days) is now late
    flagged = red_flag_patient(world, "Rolf Berg", "rolf")

    page = html(log_in(world, "physio").get("/worklist"))

    assert [text(h).split(" (")[0] for h in page.select("main h2")] == \
        ["⚠ Urgent: red flags", "Overdue", "Due today", "Upcoming"]
    [overdue] = rows_of(page, "overdue")
    row = cells(overdue)
    assert row["Patient"] == "Maja Lind" and row["Task"] == "Review exercise alert"
    assert "Overdue" in row["Due"] and row["Stratum"] == "medium"
    assert row["Claimed by"] == "Nobody" and row["Action"] == "Claim"
    badges = [text(b) for b in overdue.select("td[data-label=Alerts] .badge")]
    assert badges == ["Worsening pain", "No exercise logged for 7 days", "Exercise alert"]
    assert overdue.select_one("td[data-label=Patient] a")["href"] == f"/patients/{flared}"
    # Not yet overdue, yet above every overdue task, with a word as well as a colour.
    [review] = rows_of(page, "urgent")
    assert cells(review)["Task"] == "Review red flag" and "urgent" in review["class"]
    assert cells(review)["Alerts"] == "Red flag" and "Overdue" not in cells(review)["Due"]
    assert "Urgent" in cells(review)["Due"]
    assert review.select_one("a")["href"] == f"/patients/{flagged}"


def test_the_task_list_puts_red_flag_reviews_first_on_every_page_of_it(world: World) -> None:
    patient, _ = patient_in_week_one(world, "Maja Lind", "maja", "medium_start_back")
    complete(patient, "weekly_check_in", week(1, 9, pain_during=8))
    world.clock.advance(timedelta(days=3))
    red_flag_patient(world, "Rolf Berg", "rolf")
    physio = world.client("physio")

    listed = physio.get("/api/tasks").json()
    assert [t["name"] for t in listed["data"]] == ["urgent_review", "exercise_alert_review"]
    assert listed["data"][1]["overdue"] and not listed["data"][0]["overdue"]
    pages = [physio.get("/api/tasks", params={"limit": 1, "offset": n}).json()["data"]
             for n in (0, 1, 2)]
    assert [[t["name"] for t in page] for page in pages] == \
        [["urgent_review"], ["exercise_alert_review"], []]


def test_every_alert_a_model_may_raise_has_words_on_the_worklist() -> None:
    assert set(TASK_ALERTS) == set(ALERTS)


def test_worklist_filters_ask_for_rows_with_htmx_and_every_filter_works(world: World) -> None:
    patient, _ = patient_in_week_one(world, "Maja Lind", "maja", "medium_start_back")
    complete(patient, "weekly_check_in",
             week(1, 9, pain_during=8))
    world.clock.advance(timedelta(days=3))
    red_flag_patient(world, "Rolf Berg", "rolf")
    physio = log_in(world, "physio")

    page = html(physio.get("/worklist"))
    filters = page.select_one("form#filters")
    assert filters["hx-get"] == "/worklist/rows" and filters["hx-trigger"] == "change"
    assert filters["hx-target"] == "#worklist-rows"
    assert "every 30s" in page.select_one("#worklist-rows")["hx-trigger"]
    assert {c["name"] for c in filters.select("input, select")} == \
        {"overdue", "name", "stratum", "mine"}
    assert unlabelled_controls(page) == []

    def tasks(**params: str) -> list[str]:
        fragment = html(physio.get("/worklist/rows", params=params))
        assert fragment.select_one("header") is None, "a fragment, not a page"
        return sorted(cells(r)["Task"] for r in fragment.select("tbody tr"))

    assert tasks() == ["Review exercise alert", "Review red flag"]
    assert tasks(overdue="true") == ["Review exercise alert"]
    assert tasks(name="urgent_review") == ["Review red flag"]
    assert tasks(stratum="medium") == ["Review exercise alert"]
    assert tasks(stratum="high") == []
    assert tasks(mine="true") == []


def test_a_long_worklist_says_more_than_it_counts_instead_of_counting_every_task(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    patient, _ = patient_in_week_one(world, "Maja Lind", "maja", "medium_start_back")
    complete(patient, "weekly_check_in", week(1, 9, pain_during=8))
    red_flag_patient(world, "Rolf Berg", "rolf")
    physio, page = world.client("physio"), log_in(world, "physio")
    assert physio.get("/api/tasks").json()["count"] == 2
    assert "2 open tasks." in text(html(page.get("/worklist")).select_one("#worklist-rows p"))
    # Counting stops at views.COUNT_LIMIT (1,000); two tasks stand in for a thousand here.
    monkeypatch.setattr(views, "COUNT_LIMIT", 1)
    listed = physio.get("/api/tasks").json()
    assert (listed["count"], listed["count_capped"], len(listed["data"])) == (1, True, 2)
    assert physio.get("/api/tasks", params={"name": "urgent_review"}).json()["count_capped"] \
        is False
    summary = text(html(page.get("/worklist")).select_one("#worklist-rows p"))
    assert summary.startswith("More than 1 open tasks")


def test_a_clinic_lead_narrows_the_worklist_to_one_of_the_two_roles_they_work(
        world: World) -> None:
    red_flag_patient(world, "Rolf Berg", "rolf")
    lead = log_in(world, "lead")
    page = html(lead.get("/worklist"))
    choices = [o.get_text(strip=True) for o in page.select("select#filter-role option")]
    assert choices == ["All my roles", "Clinic lead", "Physiotherapist"]
    assert unlabelled_controls(page) == []

    def tasks(**params: str) -> list[str]:
        fragment = html(lead.get("/worklist/rows", params=params))
        return sorted(cells(r)["Task"] for r in fragment.select("tbody tr"))

    assert tasks() == tasks(role="physiotherapist") == ["Review red flag"]
    assert tasks(role="clinic_lead") == []
    refused = lead.get("/worklist/rows", params={"role": "patient"})
    assert refused.status_code == 422 and "clinic_lead and physiotherapist" in refused.text


def test_claim_and_release_take_one_click_and_answer_with_the_updated_row(
        world: World) -> None:
    red_flag_patient(world, "Rolf Berg", "rolf")
    physio = log_in(world, "physio")
    task = find_task(world.client("physio"), "urgent_review")
    token = csrf(physio)
    row = html(physio.get("/worklist")).select_one(f"tr#task-{task['task_id']}")
    form = row.select_one("form")
    assert form["hx-post"] == f"/tasks/{task['task_id']}/claim"
    assert form["hx-target"] == "closest tr" and form["hx-swap"] == "outerHTML"

    claimed = physio.post(f"/tasks/{task['task_id']}/claim", data={"csrf_token": token},
                          headers={"HX-Request": "true"})
    assert claimed.status_code == 200
    [updated] = html(claimed).select("tr")
    assert cells(updated)["Claimed by"] == "physio" and cells(updated)["Action"] == "Release"
    assert [cells(r)["Task"] for r in html(physio.get(
        "/worklist/rows", params={"mine": "true"})).select("tbody tr")] == ["Review red flag"]

    other = log_in(world, "physio2")
    refused = other.post(f"/tasks/{task['task_id']}/claim", data={"csrf_token": csrf(other)},
                         headers={"HX-Request": "true"})
    assert refused.status_code == 409
    assert "already claimed" in text(html(refused).select_one(".message"))
    lead = log_in(world, "lead")  # a clinic lead may release anyone's claim
    lead_row = html(lead.get("/worklist")).select_one(f"tr#task-{task['task_id']}")
    assert cells(lead_row)["Action"] == "Release"

    released = physio.post(f"/tasks/{task['task_id']}/release", data={"csrf_token": token},
                           follow_redirects=False)
    assert released.status_code == 303 and released.headers["location"] == "/worklist"
    assert cells(html(physio.get("/worklist")).select_one(
        f"tr#task-{task['task_id']}"))["Claimed by"] == "Nobody"


def test_a_claim_without_the_pages_csrf_token_is_refused(world: World) -> None:
    red_flag_patient(world, "Rolf Berg", "rolf")
    physio = log_in(world, "physio")
    task = find_task(world.client("physio"), "urgent_review")
    for data in ({}, {"csrf_token": "forged"}):
        response = physio.post(f"/tasks/{task['task_id']}/claim", data=data)
        assert response.status_code == 403
    assert find_task(world.client("physio"), "urgent_review")["claimed_by"] is None


def test_the_worklist_is_refused_to_patients_managers_and_strangers(world: World) -> None:
    refer(world, "Maja Lind", "maja")
    for username in ("maja", "manager"):
        response = log_in(world, username).get("/worklist")
        assert response.status_code == 403
        assert text(html(response).select_one("#error-title")) == "You cannot do that"
    anonymous = TestClient(world.app).get("/worklist", follow_redirects=False)
    assert anonymous.headers["location"] == "/login?next=/worklist"
    assert log_in(world, "lead").get("/worklist").status_code == 200


# -- task forms

def test_a_task_form_labels_every_answer_and_puts_messages_next_to_their_fields(
        world: World) -> None:
    patient, episode_id = refer(world, "Maja Lind", "maja")
    complete(patient, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
    complete(patient, "intake_questionnaires",
             {"start_back": A["medium_start_back"], "proms": A["baseline_proms"]})
    task = find_task(world.client("physio"), "first_visit")
    physio = log_in(world, "physio")

    form_page = html(physio.get(f"/tasks/{task['task_id']}"))
    assert text(form_page.select_one("main h1")) == "First visit"
    assert unlabelled_controls(form_page) == []
    assert all(f.select_one("legend") for f in form_page.select("main fieldset"))
    assert form_page.select_one(f"main a[href='/patients/{episode_id}']") is not None
    form = form_page.select_one("main form")
    assert form["hx-post"] == f"/tasks/{task['task_id']}/warnings"

    response = physio.post(f"/tasks/{task['task_id']}", data={
        "csrf_token": csrf(physio), "working_diagnosis": "non_specific_lbp",
        "referral_made": "none", "treatments": ["exercise", "laser"],
        "assessment": "Kept on the page"})
    assert response.status_code == 422
    page = html(response)
    assert "Please check the answers marked below" in text(page.select_one("[role=alert]"))
    assert text(field_of(page, "imaging").select_one(".field-error")) == \
        "an answer is required"
    assert text(field_of(page, "treatments").select_one(".field-error")).startswith(
        "choose one of: exercise, education")
    for name in ("working_diagnosis", "referral_made", "assessment"):
        assert field_of(page, name).select_one(".field-error") is None
    assert page.select_one("input[value=non_specific_lbp]").has_attr("checked")
    assert text(page.select_one("textarea[name=assessment]")) == "Kept on the page"
    assert find_task(world.client("physio"), "first_visit")["task_id"] == task["task_id"]


def test_a_first_visit_against_nice_ng59_is_warned_about_but_saved(world: World) -> None:
    patient, episode_id = refer(world, "Maja Lind", "maja")
    complete(patient, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
    complete(patient, "intake_questionnaires",
             {"start_back": A["medium_start_back"], "proms": A["baseline_proms"]})
    task_id = find_task(world.client("physio"), "first_visit")["task_id"]
    physio = log_in(world, "physio")
    token = csrf(physio)
    answers: dict[str, Any] = {
        "csrf_token": token, "working_diagnosis": "non_specific_lbp", "imaging": "mri",
        "referral_made": "none", "treatments": ["traction", "education"],
        "education_given": ["stay_active"], "findings.leg_pain": "false",
        "findings.balance_concern": "false", "findings.fear_of_lifting": "false"}

    live = html(physio.post(f"/tasks/{task_id}/warnings", data=answers,
                            headers={"HX-Request": "true"}))
    warnings = [text(li) for li in live.select("li")]
    assert "NICE NG59 advises not to offer traction." in warnings
    assert any("imaging" in w for w in warnings)
    calm = physio.post(f"/tasks/{task_id}/warnings", data={
        "csrf_token": token, "treatments": ["exercise"], "imaging": "none"})
    assert calm.status_code == 200 and html(calm).select("li") == []

    saved = physio.post(f"/tasks/{task_id}", data=answers, follow_redirects=False)
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/patients/{episode_id}?done={task_id}"
    page = html(physio.get(saved.headers["location"]))
    assert text(page.select_one("[role=status]")) == "Saved: First visit."
    notes = page.select_one("#ng59-title").find_parent("section")
    assert "NICE NG59 advises not to offer traction." in text(notes)


def test_every_record_of_treatment_is_checked_against_nice_ng59_not_only_the_first_visit(
        world: World) -> None:
    _, episode_id = patient_in_week_one(world, "Maja Lind", "maja", "high_start_back")
    task_id = find_task(world.client("physio"), "pi_session")["task_id"]
    physio = log_in(world, "physio")
    token = csrf(physio)
    page = html(physio.get(f"/tasks/{task_id}"))
    form = page.select_one(f"form[action='/tasks/{task_id}']")
    assert form["hx-post"] == f"/tasks/{task_id}/warnings"
    answers = {"csrf_token": token, "session_topics": ["fear"],
               "treatments": ["acupuncture", "massage"]}
    live = [text(li) for li in html(physio.post(f"/tasks/{task_id}/warnings", data=answers,
                                               headers={"HX-Request": "true"})).select("li")]
    # Acupuncture is never offered; massage is fine here, the exercise programme is running.
    assert live == ["NICE NG59 advises not to offer acupuncture."]
    assert physio.post(f"/tasks/{task_id}", data=answers,
                       follow_redirects=False).status_code == 303
    summary = world.client("physio").get(f"/api/episodes/{episode_id}/summary").json()
    assert "NICE NG59 advises not to offer acupuncture." in summary["guideline_warnings"]


def test_a_second_clinician_sending_a_task_already_done_is_told_it_is_already_done(
        world: World) -> None:
    _, episode_id = patient_in_week_one(world, "Maja Lind", "maja", "high_start_back")
    task_id = find_task(world.client("physio"), "pi_session")["task_id"]
    first, second = log_in(world, "physio"), log_in(world, "physio2")
    second_token = csrf(second)
    second.get(f"/tasks/{task_id}")  # both have the form open
    done = first.post(f"/tasks/{task_id}", data={"csrf_token": csrf(first),
                                                 "session_topics": ["fear"]},
                      follow_redirects=False)
    assert done.status_code == 303

    late = second.post(f"/tasks/{task_id}", data={"csrf_token": second_token,
                                                  "session_topics": ["worry"]})
    assert late.status_code == 409
    assert text(html(late).select_one("#error-title")) == "Already done"
    assert second.get(f"/tasks/{task_id}").status_code == 409
    assert log_in(world, "southphysio").get(f"/tasks/{task_id}").status_code == 404


def test_patients_use_the_same_task_pages_for_their_own_tasks(world: World) -> None:
    _, episode_id = patient_in_week_one(world, "Maja Lind", "maja", "medium_start_back")
    task_id = find_task(world.client("maja"), "weekly_check_in")["task_id"]
    maja = log_in(world, "maja")
    page = html(maja.get(f"/tasks/{task_id}"))
    assert unlabelled_controls(page) == []
    assert page.select_one(f"a[href='/patients/{episode_id}']") is None
    assert "Patient:" not in text(page.select_one("main"))

    wrong = maja.post(f"/tasks/{task_id}", data={
        "csrf_token": csrf(maja), "sessions_done": "three", "week_pain_nrs": "4"})
    assert wrong.status_code == 422
    assert "enter a whole number" in text(field_of(html(wrong), "sessions_done"))
    assert html(wrong).select_one("input[name=week_pain_nrs]")["value"] == "4"
    assert html(wrong).select_one("input[name=sessions_done]")["value"] == "three"

    done = maja.post(f"/tasks/{task_id}", data={
        "csrf_token": csrf(maja), "sessions_done": "3", "week_pain_nrs": "4",
        "pain_during": "3", "pain_settled": "true",
        **{f"red_flags.{flag}": "false" for flag in A["no_new_flags"]}}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/today"
    assert log_in(world, "physio").get(f"/tasks/{task_id}").status_code == 409


def test_a_patient_cannot_open_a_clinicians_task(world: World) -> None:
    patient_in_week_one(world, "Maja Lind", "maja", "high_start_back")
    task_id = find_task(world.client("physio"), "pi_session")["task_id"]
    assert log_in(world, "maja").get(f"/tasks/{task_id}").status_code == 403
    assert log_in(world, "manager").get(f"/tasks/{task_id}").status_code in (403, 404)
    page = html(log_in(world, "physio").get(f"/tasks/{task_id}"))
    assert text(page.select_one("main h1")) == "Psychologically informed session"


def test_every_clinician_route_serves_physiotherapists_and_leads_and_refuses_others(
        world: World) -> None:
    patient, episode_id = refer(world, "Maja Lind", "maja")
    complete(patient, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
    complete(patient, "intake_questionnaires",
             {"start_back": A["medium_start_back"], "proms": A["baseline_proms"]})
    task_id = find_task(world.client("physio"), "first_visit")["task_id"]
    routes = [("GET", "/worklist"), ("GET", "/worklist/rows"),
              ("GET", f"/patients/{episode_id}"), ("GET", f"/patients/{episode_id}/diagram.bpmn"),
              ("GET", f"/tasks/{task_id}"), ("POST", f"/tasks/{task_id}/warnings"),
              ("POST", f"/tasks/{task_id}/claim"), ("POST", f"/tasks/{task_id}/release")]
    for username, allowed in [("physio", True), ("lead", True), ("maja", False),
                              ("manager", False)]:
        client = log_in(world, username)
        # Patients' and managers' own pages are elsewhere: take the token from the cookie,
        # so that a refusal is about the role, never about a missing token.
        cookie = credentials.read_session_cookie(world.settings,
                                                 client.cookies[credentials.SESSION_COOKIE])
        token = credentials.csrf_token(cookie or {})
        for method, url in routes:
            response = client.request(method, url, data={"csrf_token": token} if method == "POST"
                                      else None, headers={"HX-Request": "true"})
            expected = {200} if allowed else {403, 404}
            assert response.status_code in expected, (username, method, url, response.text)
    assert find_task(world.client("physio"), "first_visit")["claimed_by"] is None
