"""FHIR R4 to and from carepath, as pure functions over plain values: an episode's record as
a Bundle of Patient, CarePlan, Task, QuestionnaireResponse and Observation; a referral
Bundle (Patient and ServiceRequest) read into the referral it asks for, with every problem
named by its FHIR path.

Plain dicts, ready for JSON: fhir.resources is only the tests' check, never imported here.

The Bundle is of type `collection`: a set of resources about one episode, gathered for a
reader. A `document` would need a Composition as its first entry and stands for one
attested clinical document; nothing here attests or signs one.

Codes: instruments and pathway steps are carepath's own code systems (below); no LOINC code
is claimed, since our instruments keep only their structure and our own labels."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from pathways.instruments import INSTRUMENTS
from service.care.steps import PathwayStep

BASE = "https://carepath.example/fhir"
INSTRUMENT_SYSTEM = f"{BASE}/CodeSystem/instrument"
"""The questionnaires' instruments, by their ids in pathways.instruments (e.g. `pain_nrs`)."""
STEP_SYSTEM = f"{BASE}/CodeSystem/pathway-step"
"""A pathway's steps, by their BPMN element ids."""
ROLE_SYSTEM = f"{BASE}/CodeSystem/role"
PATIENT_IDS = f"{BASE}/NamingSystem/patient"
EPISODE_IDS = f"{BASE}/NamingSystem/episode"
TASK_IDS = f"{BASE}/NamingSystem/task"
USER_IDS = f"{BASE}/NamingSystem/user"
SURVEY = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                      "code": "survey", "display": "Survey"}]}
_URN_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, BASE)

SCORED = {"pain": "pain_nrs", "disability": "disability", "pseq": "pseq", "psfs": "psfs"}
"""A questionnaire's score (`prom_scores`' keys) -> the instrument it scores."""
ANSWERED = ("start_back", "pain_nrs", "disability", "pseq", "psfs_activities", "psfs", "fabq")
"""The answers a QuestionnaireResponse carries: the instruments' items (and the PSFS's own
activities), nothing else of the form (red flags and notes are in the record, not here)."""
STEP_STATUS = {"done": "completed", "current": "in-progress", "upcoming": "not-started"}


# -- export

@dataclass(frozen=True)
class PatientFacts:
    id: int
    name: str
    birth_year: int | None


@dataclass(frozen=True)
class EpisodeFacts:
    id: int
    status: str
    """active, discharged, escalated, completed (tables.Episode)."""
    pathway: str
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class Person:
    id: int
    name: str


@dataclass(frozen=True)
class TaskFacts:
    task_id: str
    element: str
    title: str
    role: str | None
    status: Literal["ready", "in-progress", "completed"]
    owner: Person | None
    """Who claimed an open task, or completed a done one."""
    ready_at: datetime | None
    due_at: datetime | None
    done_at: datetime | None


@dataclass(frozen=True)
class QuestionnaireFacts:
    task_id: str
    kind: str
    answers: Mapping[str, Any]
    scores: Mapping[str, Any]
    submitted_at: datetime


@dataclass(frozen=True)
class EpisodeRecord:
    patient: PatientFacts
    episode: EpisodeFacts
    steps: tuple[PathwayStep, ...]
    tasks: tuple[TaskFacts, ...]
    questionnaires: tuple[QuestionnaireFacts, ...]


def episode_bundle(record: EpisodeRecord, now: datetime) -> dict[str, Any]:
    """The episode as a FHIR R4 Bundle (type collection), its resources referring to each
    other by their entries' fullUrl (urn:uuid, the same for the same record in every
    export)."""
    patient_url = urn("Patient", record.patient.id)
    plan_url = urn("CarePlan", record.episode.id)
    entries = [(patient_url, patient_resource(record.patient)),
               (plan_url, care_plan(record.episode, record.steps, patient_url))]
    entries += [(urn("Task", task.task_id), task_resource(task, patient_url, plan_url))
                for task in record.tasks]
    for questionnaire in record.questionnaires:
        response_url = urn("QuestionnaireResponse", questionnaire.task_id)
        entries.append((response_url, questionnaire_response(questionnaire, patient_url,
                                                             plan_url)))
        entries += [(urn("Observation", f"{questionnaire.task_id}/{key}"), observation)
                    for key, observation in observations(questionnaire, patient_url,
                                                         response_url)]
    return {"resourceType": "Bundle", "type": "collection", "timestamp": instant(now),
            "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries]}


def urn(kind: str, key: object) -> str:
    return f"urn:uuid:{uuid.uuid5(_URN_NAMESPACE, f'{kind}/{key}')}"


def instant(moment: datetime) -> str:
    """A FHIR dateTime (with its time zone; a time saved without one is UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def patient_resource(patient: PatientFacts) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": PATIENT_IDS, "value": str(patient.id)}],
        "name": [{"text": patient.name}]}
    if patient.birth_year is not None:
        resource["birthDate"] = f"{patient.birth_year:04d}"
    return resource


def care_plan(episode: EpisodeFacts, steps: tuple[PathwayStep, ...],
              patient_url: str) -> dict[str, Any]:
    """The episode's pathway: an activity per step, done (completed), current (in-progress)
    or upcoming (not-started; cancelled once the episode has ended without it)."""
    ended = episode.status != "active"
    period = {"start": instant(episode.started_at)}
    if episode.ended_at is not None:
        period["end"] = instant(episode.ended_at)
    return {
        "resourceType": "CarePlan",
        "identifier": [{"system": EPISODE_IDS, "value": str(episode.id)}],
        "status": "completed" if ended else "active",
        "intent": "plan",
        "title": episode.pathway,
        "subject": {"reference": patient_url},
        "period": period,
        "activity": [{"detail": {
            "code": {"coding": [{"system": STEP_SYSTEM, "code": step.element,
                                 "display": step.name}], "text": step.name},
            "status": "cancelled" if ended and step.state == "upcoming"
            else STEP_STATUS[step.state]}} for step in steps]}


def task_resource(task: TaskFacts, patient_url: str, plan_url: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "identifier": [{"system": TASK_IDS, "value": task.task_id}],
        "basedOn": [{"reference": plan_url}],
        "status": task.status,
        "intent": "order",
        "code": {"coding": [{"system": STEP_SYSTEM, "code": task.element,
                             "display": task.title}], "text": task.title},
        "for": {"reference": patient_url}}
    if task.ready_at is not None:
        resource["authoredOn"] = instant(task.ready_at)
    if task.done_at is not None:
        resource["lastModified"] = instant(task.done_at)
    if task.role is not None:
        resource["performerType"] = [{"coding": [{"system": ROLE_SYSTEM, "code": task.role}],
                                      "text": task.role.replace("_", " ")}]
    if task.owner is not None:
        resource["owner"] = {"identifier": {"system": USER_IDS, "value": str(task.owner.id)},
                             "display": task.owner.name}
    if task.due_at is not None and task.status != "completed":
        resource["restriction"] = {"period": {"end": instant(task.due_at)}}
    return resource


def questionnaire_response(questionnaire: QuestionnaireFacts, patient_url: str,
                           plan_url: str) -> dict[str, Any]:
    """The instruments' answers (ANSWERED), an item per instrument (a group of its items)."""
    answers = {**dict(questionnaire.answers.get("proms") or {}),
               **{k: v for k, v in questionnaire.answers.items() if k in ANSWERED}}
    items = [item for part in ANSWERED if part in answers
             for item in _items(part, _title(part), answers[part])]
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": TASK_IDS, "value": questionnaire.task_id},
        "questionnaire": f"{BASE}/Questionnaire/{questionnaire.kind}",
        "basedOn": [{"reference": plan_url}],
        "status": "completed",
        "subject": {"reference": patient_url},
        "authored": instant(questionnaire.submitted_at)}
    if items:
        resource["item"] = items
    return resource


def observations(questionnaire: QuestionnaireFacts, patient_url: str,
                 response_url: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """An Observation per score of the questionnaire, coded by its instrument."""
    for key, instrument_id in SCORED.items():
        value = questionnaire.scores.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        instrument = INSTRUMENTS[instrument_id]
        yield key, {
            "resourceType": "Observation",
            "status": "final",
            "category": [SURVEY],
            "code": {"coding": [{"system": INSTRUMENT_SYSTEM, "code": instrument.id,
                                 "display": instrument.name}], "text": instrument.name},
            "subject": {"reference": patient_url},
            "effectiveDateTime": instant(questionnaire.submitted_at),
            "valueQuantity": {"value": value, "unit": "score",
                              "system": "http://unitsofmeasure.org", "code": "{score}"},
            "derivedFrom": [{"reference": response_url}]}


def _title(part: str) -> str:
    if part == "psfs_activities":
        return "Patient-specific activities"
    instrument = INSTRUMENTS.get(part)
    return instrument.name if instrument else part.replace("_", " ")


def _items(link_id: str, text: str, value: Any) -> list[dict[str, Any]]:
    """An answer as QuestionnaireResponse items: a group for a mapping, else one answer (none
    for a value FHIR has no answer type for, or no value)."""
    if isinstance(value, Mapping):
        inner = [item for key, part in value.items()
                 for item in _items(f"{link_id}.{key}", str(key), part)]
        return [{"linkId": link_id, "text": text, "item": inner}] if inner else []
    answer = _answer(value)
    return [{"linkId": link_id, "text": text, "answer": [answer]}] if answer else []


def _answer(value: Any) -> dict[str, Any] | None:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueDecimal": value}
    if isinstance(value, str) and value.strip():
        return {"valueString": value}
    return None


# -- import

MAX_ENTRIES = 50
"""Entries a referral Bundle may hold (a Patient, a ServiceRequest and what comes with them)."""
MAX_DEPTH = 16
"""How deep a referral Bundle may nest (the fields read lie at depth 6 at most)."""
MAX_TEXT = 200
"""The longest text read (tables.Patient.display_name)."""
REQUEST_INTENTS = frozenset({"proposal", "plan", "directive", "order", "original-order",
                             "reflex-order", "filler-order", "instance-order", "option"})
_PARTIAL_DATE = re.compile(r"^([0-9]{4})(-[0-9]{2}(-[0-9]{2})?)?$")


@dataclass(frozen=True)
class Referral:
    """What a referral Bundle asks for: a patient, by name and year of birth."""

    display_name: str
    birth_year: int | None


class BundleProblems(Exception):
    """A referral Bundle that cannot be read; `problems`: (FHIR path, what to fix) each."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(f"the bundle has {len(problems)} problem(s)")
        self.problems = problems


def referral_from_json(body: bytes) -> Referral:
    """Read a referral Bundle (JSON): raises BundleProblems naming every problem."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise BundleProblems([("", "not a JSON document: send a FHIR Bundle as JSON")]
                             ) from None
    return referral_from_bundle(document)


def referral_from_bundle(document: object) -> Referral:
    """Read a Bundle with one Patient and one ServiceRequest for them. Only the fields used
    are read: Patient.name (text, or given and family), Patient.birthDate (its year), and
    the ServiceRequest's status (active), intent and subject (the Patient's fullUrl, or
    `Patient/<id>`). Other entries are counted, not read. Raises BundleProblems."""
    if _depth_over(document, MAX_DEPTH):
        raise BundleProblems([("", f"the bundle nests deeper than {MAX_DEPTH} levels")])
    problems: list[tuple[str, str]] = []
    if not isinstance(document, dict):
        raise BundleProblems([("", "must be a JSON object: a FHIR Bundle")])
    if document.get("resourceType") != "Bundle":
        problems.append(("resourceType", "must be Bundle"))
    if document.get("type") not in ("collection", "transaction", "batch"):
        problems.append(("type", "must be collection, transaction or batch"))
    entries = document.get("entry")
    if not isinstance(entries, list) or not entries:
        problems.append(("entry", "must list the Patient and the ServiceRequest"))
        raise BundleProblems(problems)
    if len(entries) > MAX_ENTRIES:
        problems.append(("entry", f"at most {MAX_ENTRIES} entries"))
        raise BundleProblems(problems)
    found: dict[str, list[tuple[str, str | None, dict[str, Any]]]] = {}
    for number, entry in enumerate(entries):
        path = f"entry[{number}]"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            problems.append((f"{path}.resource", "must be a resource with a resourceType"))
            continue
        full_url = entry.get("fullUrl")
        found.setdefault(resource["resourceType"], []).append(
            (f"{path}.resource", full_url if isinstance(full_url, str) else None, resource))
    patients, requests = found.get("Patient", []), found.get("ServiceRequest", [])
    for kind, listed in (("Patient", patients), ("ServiceRequest", requests)):
        if len(listed) != 1:
            problems.append(("entry", f"must hold exactly one {kind} (it holds {len(listed)})"))
    referral = (_patient(patients[0][0], patients[0][2], problems) if len(patients) == 1
                else None)
    if len(requests) == 1:
        _service_request(requests[0][0], requests[0][2],
                         patients[0] if len(patients) == 1 else None, problems)
    if problems or referral is None:
        raise BundleProblems(problems)
    return referral


def _depth_over(document: object, limit: int) -> bool:
    stack: list[tuple[object, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return False


def _text(value: object, path: str, problems: list[tuple[str, str]]) -> str | None:
    if not isinstance(value, str):
        problems.append((path, "must be text"))
        return None
    if len(value) > MAX_TEXT:
        problems.append((path, f"at most {MAX_TEXT} characters"))
        return None
    return value.strip()


def _patient(path: str, patient: dict[str, Any],
             problems: list[tuple[str, str]]) -> Referral | None:
    name = _name(patient.get("name"), f"{path}.name", problems)
    birth_year = None
    if "birthDate" in patient:
        birth_year = _birth_year(patient["birthDate"], f"{path}.birthDate", problems)
    return Referral(name, birth_year) if name else None


def _name(names: object, path: str, problems: list[tuple[str, str]]) -> str | None:
    """The first HumanName: its text, else its given names and family name."""
    if not isinstance(names, list) or not names or not isinstance(names[0], dict):
        problems.append((path, "must give the patient's name (a HumanName with text, or "
                               "given and family)"))
        return None
    first, path = names[0], f"{path}[0]"
    if "text" in first:
        text = _text(first["text"], f"{path}.text", problems)
    else:
        given = first.get("given", [])
        if not isinstance(given, list) or len(given) > 5:
            problems.append((f"{path}.given", "must list at most 5 given names"))
            return None
        parts = [_text(g, f"{path}.given[{n}]", problems) for n, g in enumerate(given)]
        if "family" in first:
            parts.append(_text(first["family"], f"{path}.family", problems))
        if any(part is None for part in parts):
            return None
        text = " ".join(part for part in parts if part)
        if len(text) > MAX_TEXT:
            problems.append((path, f"the name is over {MAX_TEXT} characters"))
            return None
    if text is not None and not text:
        problems.append((path, "must give the patient's name (text, or given and family)"))
        return None
    return text


def _birth_year(value: object, path: str, problems: list[tuple[str, str]]) -> int | None:
    matched = _PARTIAL_DATE.match(value) if isinstance(value, str) else None
    if matched is None:
        problems.append((path, "must be a date: YYYY, YYYY-MM or YYYY-MM-DD"))
        return None
    year = int(matched.group(1))
    try:
        if matched.group(3):
            date.fromisoformat(str(value))
        elif matched.group(2):
            date.fromisoformat(f"{value}-01")
    except ValueError:
        problems.append((path, "is not a date in the calendar"))
        return None
    if not 1900 <= year <= 2100:
        problems.append((path, "the year must be from 1900 to 2100"))
        return None
    return year


def _service_request(path: str, request: dict[str, Any],
                     patient: tuple[str, str | None, dict[str, Any]] | None,
                     problems: list[tuple[str, str]]) -> None:
    if request.get("status") != "active":
        problems.append((f"{path}.status", "must be active: a referral to act on"))
    if request.get("intent") not in REQUEST_INTENTS:
        problems.append((f"{path}.intent", "must be a ServiceRequest intent, such as order"))
    subject = request.get("subject")
    reference = subject.get("reference") if isinstance(subject, dict) else None
    if not isinstance(reference, str):
        problems.append((f"{path}.subject.reference", "must refer to the Patient"))
        return
    if patient is None:
        return
    _, url, resource = patient
    patient_id = resource.get("id")
    names = {url} | ({f"Patient/{patient_id}"} if isinstance(patient_id, str) else set())
    if reference not in names - {None}:
        problems.append((f"{path}.subject.reference", "must refer to the Patient of this "
                                                      "bundle (its fullUrl or Patient/<id>)"))
