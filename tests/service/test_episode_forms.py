"""A task's form as this episode's patient is given it (service/care/forms.py): the check-in
names only the exercises of the patient's own programme, and the first visit shows the risk
factors the safety screen noted, on the page and in its JSON twin alike."""

from __future__ import annotations

from .clinician_pages_support import patient_in_week_one
from .conftest import A, World, complete, find_task, refer, week
from .conftest import page_login as log_in
from .conftest import soup as html


def test_the_check_in_offers_only_the_exercises_of_the_patients_programme(world: World) -> None:
    patient, _ = patient_in_week_one(world, "Maja Lind", "maja", "medium_start_back")
    task = find_task(patient, "weekly_check_in")
    form = patient.get(f"/api/tasks/{task['task_id']}").json()["form_schema"]
    offered = form["properties"]["too_hard_exercises"]["items"]["enum"]
    assert sorted(offered) == ["back-extension", "core-control", "hip-gluteal-strength",
                               "trunk-mobility", "walking"]
    page = html(log_in(world, "maja").get(f"/questionnaire/{task['task_id']}?step=5"))
    labels = sorted(label.get_text(" ", strip=True) for label in page.select("label.option"))
    assert "Balance" not in labels and "Walking" in labels

    not_mine = patient.post(f"/api/tasks/{task['task_id']}/complete", json={
        "data": week(3, 4, too_hard=("balance",))})
    assert not_mine.status_code == 422
    assert [f["field"] for f in not_mine.json()["error"]["fields"]] == ["too_hard_exercises.0"]
    complete(patient, "weekly_check_in", week(3, 4, too_hard=("walking",)))


def test_the_first_visit_shows_the_age_noted_at_the_screen_as_a_risk_factor(
        world: World) -> None:
    patient, _ = refer(world, "Olle Berg", "olle")
    complete(patient, "red_flag_screen", {"age": 74, "red_flags": A["no_red_flags"]})
    complete(patient, "intake_questionnaires",
             {"start_back": A["low_start_back"], "proms": A["baseline_proms"]})
    physio = world.client("physio")
    task = find_task(physio, "first_visit")
    described = physio.get(f"/api/tasks/{task['task_id']}").json()["form_schema"]["description"]
    assert "age 74, a risk factor to weigh" in described
    page = html(log_in(world, "physio").get(f"/tasks/{task['task_id']}"))
    assert "age 74, a risk factor to weigh" in page.select_one("main").get_text(" ")
