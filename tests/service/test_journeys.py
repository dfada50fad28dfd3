"""API journeys, as each role does them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from .conftest import PASSWORD, World, answers, follow_up_answers, week

A = answers()


def _task(client: TestClient, name: str, **params: Any) -> dict[str, Any]:
    body = client.get("/api/tasks", params=params).json()
    assert "data" in body, body
    tasks = body["data"]
    found = [t for t in tasks if t["name"] == name]
    assert found, f"{name} not in {[t['name'] for t in tasks]}"
    return found[0]


def _complete(client: TestClient, name: str, data: dict[str, Any]) -> dict[str, Any]:
    task = _task(client, name)
    response = client.post(f"/api/tasks/{task['task_id']}/complete", json={"data": data})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _refer(world: World, name: str, username: str) -> tuple[TestClient, int]:
    physio = world.client("physio")
    response = physio.post("/api/referrals", json={
        "display_name": name, "birth_year": 1980,
        "login": {"username": username, "password": PASSWORD}})
    assert response.status_code == 201, response.text
    return world.client(username), response.json()["id"]


def _through_first_visit(world: World, patient: TestClient, start_back: str) -> None:
    _complete(patient, "red_flag_screen", {"age": 45, "red_flags": A["no_red_flags"]})
    _complete(patient, "intake_questionnaires",
              {"start_back": A[start_back], "proms": A["baseline_proms"]})
    _complete(world.client("physio"), "first_visit", A["first_visit"])


def _read_all_modules(patient: TestClient, episode_id: int) -> None:
    from pathways.education import default_catalogue

    while (education := patient.get(f"/api/episodes/{episode_id}/education").json())[
            "next_task_id"]:
        task = patient.get(f"/api/tasks/{education['next_task_id']}").json()
        module = default_catalogue().get(task["education_module"])
        response = patient.post(
            f"/api/episodes/{episode_id}/education/{module.id}/confirm",
            json={"answers": [q.answer for q in module.check_questions]})
        assert response.status_code == 200, response.text


def test_a_self_referred_patient_with_an_emergency_red_flag_reaches_a_clinician_within_the_hour(
        world: World) -> None:
    anonymous = world.client()
    clinics = anonymous.get("/api/clinics").json()
    response = anonymous.post("/api/self-referrals", json={
        "clinic_id": clinics[0]["id"], "display_name": "Eva", "birth_year": 1971,
        "login": {"username": "eva", "password": PASSWORD}})
    assert response.status_code == 201, response.text
    episode_id = response.json()["id"]
    patient = world.client("eva")
    first = patient.get("/api/tasks").json()["data"]
    assert [t["name"] for t in first] == ["red_flag_screen"]
    flags = dict(A["no_red_flags"], saddle_numbness=True)
    result = _complete(patient, "red_flag_screen", {"age": 54, "red_flags": flags})
    assert "red_flag_raised" in result["events"]
    assert patient.get("/api/tasks").json()["data"] == []
    # The patient is told at once, first, to get emergency care today (not only a task that
    # may sit unseen out of hours), and is told again until a clinician closes the emergency.
    actions = patient.get("/api/today").json()["actions"]
    assert actions[0]["kind"] == "emergency" and "emergency department" in actions[0]["detail"]
    assert actions[0]["href"] == "tel:112" and "1177" in actions[0]["detail"]
    world.clock.advance(timedelta(minutes=30))
    assert patient.get("/api/today").json()["actions"][0]["kind"] == "emergency"

    physio = world.client("physio")
    task = _task(physio, "emergency_review")
    assert task["alert"] == "emergency"
    # Due an hour after the screen (the clock has moved on 30 minutes since).
    due = (world.clock.now() + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")
    assert task["due_at"].startswith(due)
    world.clock.advance(timedelta(hours=2))
    assert _task(physio, "emergency_review", due="overdue")["overdue"] is True
    _complete(physio, "emergency_review", {"emergency_action": "sent_to_emergency_department"})
    episode = physio.get(f"/api/episodes/{episode_id}").json()
    assert episode["status"] == "escalated" and episode["ended_at"] is not None
    assert not [a for a in patient.get("/api/today").json()["actions"]
                if a["kind"] == "emergency"]
    names = [e["name"] for e in physio.get(f"/api/episodes/{episode_id}/timeline").json()["data"]]
    # Shown twice, half an hour apart: each showing is in the log (reloads within minutes
    # are not).
    assert names.count("emergency_instruction_shown") == 2
    assert names[:3] == ["episode_started", "task_completed", "red_flag_screened"]
    assert "episode_escalated" in names


def test_a_medium_risk_patient_exercises_for_six_weeks_and_completes_the_6_week_follow_up(
        world: World) -> None:
    patient, episode_id = _refer(world, "Maja", "maja")
    _through_first_visit(world, patient, "medium_start_back")
    assert patient.get(f"/api/episodes/{episode_id}").json()["stratum"] == "medium"
    _read_all_modules(patient, episode_id)
    education = patient.get(f"/api/episodes/{episode_id}/education").json()
    # Her fear item is positive: the fear and stress modules come on top of the six (by need).
    assert len(education["read"]) == len(education["assigned"]) == 8

    for week_number in range(1, 7):
        world.clock.advance(timedelta(days=7))
        assert world.sweep() >= 1
        patient = world.client("maja")  # tokens last 12 hours: log in again each week
        for _ in range(3):
            response = patient.post(f"/api/episodes/{episode_id}/exercise-logs", json={
                "exercise": "walking", "level": 1, "pain_nrs": 4, "difficulty": "about_right"})
            assert response.status_code == 201, response.text
        _complete(patient, "weekly_check_in",
                  week(3, 4))
        if week_number == 2:
            _complete(patient, "follow_up_2w", follow_up_answers("improved_proms"))
    _complete(patient, "follow_up_6w", follow_up_answers("improved_proms"))

    logs = patient.get(f"/api/episodes/{episode_id}/exercise-logs").json()
    assert len(logs) == 18
    scores = patient.get(f"/api/episodes/{episode_id}/questionnaires").json()
    assert [s["kind"] for s in scores] == ["baseline", "follow_up", "follow_up"]
    assert scores[0]["scores"]["pain"] == 6 and scores[2]["scores"]["pain"] == 3
    timeline = patient.get(f"/api/episodes/{episode_id}/timeline").json()["data"]
    levels = [e for e in timeline if e["name"] == "exercise_level_changed"]
    assert len(levels) == 6
    follow_ups = [e["data"] for e in timeline if e["name"] == "follow_up_completed"]
    assert follow_ups[-1]["follow_up_week"] == 6
    assert follow_ups[-1]["improvement"]["any_improved"] is True


def test_a_high_risk_patient_who_does_not_improve_is_escalated_to_a_specialist(
        world: World) -> None:
    patient, episode_id = _refer(world, "Hugo", "hugo")
    _through_first_visit(world, patient, "high_start_back")
    physio, lead = world.client("physio"), world.client("lead")
    assert physio.get(f"/api/episodes/{episode_id}").json()["stratum"] == "high"
    for _ in range(4):
        _complete(physio, "pi_session",
                  {"session_topics": ["fear", "worry"], "treatments": ["education"]})
    for day in range(1, 7):
        world.clock.advance(timedelta(days=7))
        world.sweep()
        patient, physio = world.client("hugo"), world.client("physio")
        for task in patient.get("/api/tasks").json()["data"]:
            if task["name"] == "weekly_check_in":
                _complete(patient, "weekly_check_in",
                          week(2, 6))
            elif task["name"].startswith("follow_up"):
                _complete(patient, task["name"], follow_up_answers("unchanged_proms"))
        assert day < 6 or _task(physio, "not_improving_review")["alert"] == "not_improving"
    lead = world.client("lead")
    _complete(physio, "not_improving_review", {"escalation_decision": "specialist_referral"})
    # The referral is the clinic lead's: a physiotherapist does not see it.
    assert "specialist_referral" not in [t["name"] for t in physio.get("/api/tasks").json()["data"]]
    # The lead works both roles' tasks, and narrows the list to one of them.
    names = {role: [t["name"] for t in lead.get("/api/tasks", params={"role": role}).json()["data"]]
             for role in ("clinic_lead", "physiotherapist")}
    assert names["clinic_lead"] == ["specialist_referral"]
    assert "specialist_referral" not in names["physiotherapist"]
    assert lead.get("/api/tasks").json()["count"] == len(names["clinic_lead"]) + len(
        names["physiotherapist"])
    # Both roles' tasks in one order (urgent first, then by due time), page by page too.
    listed = lead.get("/api/tasks").json()["data"]
    assert sorted(t["name"] for t in listed) == sorted(names["clinic_lead"]
                                                       + names["physiotherapist"])
    order = [(t["alert"] not in ("emergency", "red_flag"), t["due_at"] is None,
              t["due_at"] or "", t["task_id"]) for t in listed]
    assert order == sorted(order)
    paged = [lead.get("/api/tasks", params={"limit": 1, "offset": n}).json()["data"]
             for n in range(len(listed) + 1)]
    assert paged == [[task] for task in listed] + [[]]
    _complete(lead, "specialist_referral", {"referred_to": "Spine clinic", "confirmed": True})
    # A referral does not end care: the episode stays open, the patient keeps exercising,
    # and a physiotherapist records the specialist's answer before discharge.
    episode = lead.get(f"/api/episodes/{episode_id}").json()
    assert episode["status"] == "active"
    assert _task(physio, "specialist_answer")["role"] == "physiotherapist"
    world.clock.advance(timedelta(days=7))
    world.sweep()
    patient = world.client("hugo")
    assert "weekly_check_in" in [t["name"] for t in patient.get("/api/tasks").json()["data"]]


def test_a_clinicians_worklist_fills_as_timers_fall_due(world: World) -> None:
    physio = world.client("physio")
    patients = []
    for number in range(3):
        patient, episode_id = _refer(world, f"Patient {number}", f"patient{number}")
        _through_first_visit(world, patient, "medium_start_back")
        patients.append((patient, episode_id))
    assert physio.get("/api/tasks").json()["count"] == 0
    world.clock.advance(timedelta(days=7))
    assert world.sweep() == 3
    physio = world.client("physio")
    # Patients now have a weekly check-in; nobody does theirs, one reports a pain flare.
    flare_patient = world.client("patient0")
    _complete(flare_patient, "weekly_check_in",
              week(1, 9, pain_during=8))
    review = _task(physio, "exercise_alert_review")
    assert review["alert"] == "exercise" and review["stratum"] == "medium"
    world.clock.advance(timedelta(days=3))
    physio = world.client("physio")
    overdue = physio.get("/api/tasks", params={"due": "overdue"}).json()
    assert [t["name"] for t in overdue["data"]] == ["exercise_alert_review"]
    assert physio.get("/api/tasks", params={"stratum": "high"}).json()["count"] == 0
    claimed = physio.post(f"/api/tasks/{review['task_id']}/claim").json()
    assert claimed["claimed_by"] == world.users["physio"]
    assert physio.get("/api/tasks", params={"claimed": "mine"}).json()["count"] == 1
    other = world.client("physio2")
    response = other.post(f"/api/tasks/{review['task_id']}/complete",
                          json={"data": {"alert_action": "continue"}})
    assert response.status_code == 409
    assert "claimed" in response.json()["error"]["message"]
    assert physio.post(f"/api/tasks/{review['task_id']}/release").json()["claimed_by"] is None
