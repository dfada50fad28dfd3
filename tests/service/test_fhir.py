"""FHIR R4: a clinician exports an episode as a Bundle, valid against fhir.resources (its R4B
models: R4B changed none of Patient, CarePlan, Task, QuestionnaireResponse, Observation or
Bundle from R4), and refers a patient with a referral Bundle; a bad Bundle is refused
naming every problem, and nothing is made. Both from the command line too.

Clinic north: physio refers a low-risk patient who does not improve by 6 weeks; physio asks
for a specialist and the clinic lead claims the referral."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from service.cli import main
from service.core.settings import get_settings
from service.core.tables import AccessRecord, Episode, Patient, QuestionnaireResponse

from .conftest import (
    World,
    complete,
    find_task,
    follow_up_answers,
    make_world,
    refer,
    through_first_visit,
)

Bundle = dict[str, Any]


@pytest.fixture(scope="module")
def clinic() -> Iterator[tuple[World, int]]:
    with make_world() as world:
        patient, episode_id = refer(world, "Astrid Alm", "astrid")
        through_first_visit(world, patient, "low_start_back")
        for weeks, follow_up in ((2, "follow_up_2w"), (4, "follow_up_6w")):
            world.clock.advance(timedelta(weeks=weeks))
            world.sweep()
            complete(world.client("astrid"), follow_up, follow_up_answers("unchanged_proms"))
        complete(world.client("physio"), "not_improving_review",
                 {"escalation_decision": "specialist_referral"})
        lead = world.client("lead")
        task = find_task(lead, "specialist_referral", role="clinic_lead")
        assert lead.post(f"/api/tasks/{task['task_id']}/claim").status_code == 200
        yield world, episode_id


def resources(bundle: Bundle, kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_an_episode_exports_as_a_valid_fhir_r4_bundle(clinic: tuple[World, int]) -> None:
    from fhir.resources.R4B.bundle import Bundle as FhirBundle
    from fhir.resources.R4B.careplan import CarePlan
    from fhir.resources.R4B.observation import Observation
    from fhir.resources.R4B.patient import Patient as FhirPatient
    from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse as FhirResponse
    from fhir.resources.R4B.task import Task

    world, episode_id = clinic
    response = world.client("physio").get(f"/api/episodes/{episode_id}/fhir")
    assert response.status_code == 200, response.text
    bundle = response.json()
    FhirBundle.model_validate(bundle)
    models = {"Patient": FhirPatient, "CarePlan": CarePlan, "Task": Task,
              "QuestionnaireResponse": FhirResponse, "Observation": Observation}
    for entry in bundle["entry"]:
        models[entry["resource"]["resourceType"]].model_validate(entry["resource"])
    assert bundle["type"] == "collection"
    # Intake, 2 and 6 weeks, each scored on pain, disability, PSEQ and PSFS; the first visit
    # and the review done, the specialist referral open.
    assert Counter(e["resource"]["resourceType"] for e in bundle["entry"]) == {
        "Patient": 1, "CarePlan": 1, "Task": 3, "QuestionnaireResponse": 3, "Observation": 12}
    assert world.count(QuestionnaireResponse, episode_id=episode_id) == 3

    urls = {e["fullUrl"] for e in bundle["entry"]}
    assert all(url.startswith("urn:uuid:") for url in urls) and len(urls) == len(bundle["entry"])
    [patient] = resources(bundle, "Patient")
    assert patient["name"] == [{"text": "Astrid Alm"}] and patient["birthDate"] == "1980"
    patient_url = bundle["entry"][0]["fullUrl"]
    [plan] = resources(bundle, "CarePlan")
    assert plan["status"] == "active" and plan["subject"] == {"reference": patient_url}
    steps = {a["detail"]["code"]["coding"][0]["code"]: a["detail"]["status"]
             for a in plan["activity"]}
    assert steps["red_flag_screen"] == steps["first_visit"] == "completed"
    assert steps["specialist_referral"] == "in-progress"
    assert "not-started" in steps.values()

    tasks = {t["code"]["coding"][0]["code"]: t for t in resources(bundle, "Task")}
    assert {name: t["status"] for name, t in tasks.items()} == {
        "first_visit": "completed", "not_improving_review": "completed",
        "specialist_referral": "in-progress"}
    assert tasks["specialist_referral"]["owner"]["identifier"]["value"] == \
        str(world.users["lead"])
    assert tasks["first_visit"]["owner"]["identifier"]["value"] == str(world.users["physio"])
    assert all(t["for"] == {"reference": patient_url} for t in tasks.values())

    scores = [(o["code"]["coding"][0]["code"], o["valueQuantity"]["value"])
              for o in resources(bundle, "Observation")]
    assert ("pain_nrs", 6) in scores
    assert {code for code, _ in scores} == {"pain_nrs", "disability", "pseq", "psfs"}
    responses = {e["fullUrl"] for e in bundle["entry"]
                 if e["resource"]["resourceType"] == "QuestionnaireResponse"}
    assert all(o["derivedFrom"][0]["reference"] in responses
               for o in resources(bundle, "Observation"))
    intake = resources(bundle, "QuestionnaireResponse")[0]
    assert [i["linkId"] for i in intake["item"]] == ["start_back", "pain_nrs", "disability",
                                                     "pseq", "psfs_activities", "psfs"]


def test_only_clinicians_of_the_clinic_export_and_each_export_is_logged(
        clinic: tuple[World, int]) -> None:
    world, episode_id = clinic
    url = f"/api/episodes/{episode_id}/fhir"
    logged = world.count(AccessRecord, episode_id=episode_id, user_id=world.users["lead"])
    assert world.client("lead").get(url).status_code == 200
    assert world.count(AccessRecord, episode_id=episode_id,
                       user_id=world.users["lead"]) == logged + 1
    assert world.client("southphysio").get(url).status_code == 404
    assert world.client("astrid").get(url).status_code == 403
    assert world.client("auditor").get(url).status_code == 403
    assert world.client().get(url).status_code == 401


def referral_bundle(name: str = "Bo Berg", birth_date: str = "1975-04-02") -> Bundle:
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:7f1c9a52-5c2e-4a8e-9d59-2f1b0b0a0001",
         "resource": {"resourceType": "Patient", "name": [{"given": [name.split()[0]],
                                                           "family": name.split()[1]}],
                      "birthDate": birth_date}},
        {"fullUrl": "urn:uuid:7f1c9a52-5c2e-4a8e-9d59-2f1b0b0a0002",
         "resource": {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
                      "subject": {"reference": "urn:uuid:7f1c9a52-5c2e-4a8e-9d59-2f1b0b0a0001"},
                      "code": {"text": "Physiotherapy for low back pain"}}}]}


def test_a_referral_bundle_makes_a_patient_and_an_episode_whose_first_task_waits(
        clinic: tuple[World, int]) -> None:
    from fhir.resources.R4B.bundle import Bundle as FhirBundle

    world, _ = clinic
    bundle = referral_bundle()
    FhirBundle.model_validate(bundle)
    patients = world.count(Patient)
    response = world.client("physio").post("/api/fhir/referrals", json=bundle)
    assert response.status_code == 201, response.text
    episode = response.json()
    assert episode["patient_name"] == "Bo Berg" and episode["status"] == "active"
    assert episode["clinic_id"] == world.clinics["north"]
    assert world.count(Patient) == patients + 1
    summary = world.client("physio").get(f"/api/episodes/{episode['id']}/summary").json()
    assert [t["title"] for t in summary["open_tasks"]] == ["Answer the safety questions"]
    exported = world.client("physio").get(f"/api/episodes/{episode['id']}/fhir").json()
    assert resources(exported, "Patient")[0]["birthDate"] == "1975"
    assert world.client("astrid").post("/api/fhir/referrals", json=bundle).status_code == 403
    assert world.client("auditor").post("/api/fhir/referrals", json=bundle).status_code == 403


def test_a_bad_referral_bundle_is_refused_naming_every_problem_and_makes_nothing(
        clinic: tuple[World, int]) -> None:
    world, _ = clinic
    bundle = referral_bundle(birth_date="1975-02-30")
    bundle["type"] = "searchset"
    del bundle["entry"][0]["resource"]["name"]
    request = bundle["entry"][1]["resource"]
    request.update(status="draft", intent="wish", subject={"reference": "Patient/99"})
    bundle["entry"].append({"resource": {"name": "no resourceType"}})
    before = world.count(Patient), world.count(Episode)
    response = world.client("physio").post("/api/fhir/referrals", json=bundle)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["message"] == "The bundle has 7 problem(s); nothing was created"
    assert {f["field"] for f in error["fields"]} == {
        "type", "entry[2].resource", "entry[0].resource.name", "entry[0].resource.birthDate",
        "entry[1].resource.status", "entry[1].resource.intent",
        "entry[1].resource.subject.reference"}
    assert (world.count(Patient), world.count(Episode)) == before


@pytest.mark.parametrize(("body", "field", "message"), [
    (b"{not json", "body", "not a JSON document"),
    (b"[" * 40 + b"]" * 40, "body", "nests deeper than 16 levels"),
    (json.dumps({"resourceType": "Bundle", "type": "batch",
                 "entry": [{"resource": {"resourceType": "Basic"}}] * 51}).encode(),
     "entry", "at most 50 entries"),
    (json.dumps({"resourceType": "Bundle", "type": "batch", "entry": []}).encode(),
     "entry", "must list the Patient and the ServiceRequest"),
])
def test_hostile_bundles_are_refused_before_they_are_read(
        clinic: tuple[World, int], body: bytes, field: str, message: str) -> None:
    world, _ = clinic
    response = world.client("physio").post("/api/fhir/referrals", content=body,
                                           headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == 422, response.text
    [problem] = response.json()["error"]["fields"]
    assert problem["field"] == field and message in problem["message"]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        clinic: tuple[World, int]) -> Callable[..., tuple[int, str, str]]:
    world, _ = clinic

    def run(*argv: str) -> tuple[int, str, str]:
        monkeypatch.setenv("CAREPATH_DATABASE_URL", world.settings.database_url)
        monkeypatch.setenv("CAREPATH_AUDIT_CHECKPOINTS", str(world.settings.audit_checkpoints))
        get_settings.cache_clear()
        try:
            code = main(["fhir", *argv])
        finally:
            get_settings.cache_clear()
        out = capsys.readouterr()
        return code, out.out.strip(), out.err.strip()

    return run


def test_the_command_line_exports_and_imports_bundles(
        clinic: tuple[World, int], cli: Callable[..., tuple[int, str, str]],
        tmp_path: Path) -> None:
    world, episode_id = clinic
    code, out, err = cli("export", "--episode", str(episode_id))
    assert (code, err) == (0, "")
    assert Counter(e["resource"]["resourceType"] for e in json.loads(out)["entry"])["Task"] == 3

    good, bad = tmp_path / "referral.json", tmp_path / "bad.json"
    good.write_text(json.dumps(referral_bundle("Cilla Carlsson")))
    bad.write_text(json.dumps({"resourceType": "Patient"}))
    episodes, south = world.count(Episode), world.count(Episode, clinic_id=world.clinics["south"])
    code, out, err = cli("import", str(good), "--clinic", str(world.clinics["south"]))
    assert (code, err) == (0, "") and out.startswith("referred patient ")
    assert world.count(Episode, clinic_id=world.clinics["south"]) == south + 1
    assert world.count(Episode) == episodes + 1

    for argv in (("import", str(bad), "--clinic", str(world.clinics["north"])),
                 ("import", str(tmp_path / "missing.json"), "--clinic", "1"),
                 ("import", str(good), "--clinic", "999"),
                 ("export", "--episode", "999")):
        code, out, err = cli(*argv)
        assert code == 1 and out == "" and len(err.splitlines()) == 1, (argv, err)
        assert err.startswith("carepath fhir: ")
    assert world.count(Episode) == episodes + 1
