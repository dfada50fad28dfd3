"""The exports' data dictionary: every column (CSV, JSON Lines), XES attribute and FHIR
element an export writes, and what it means. The writers take their column order from here,
so a column cannot be written without being described."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel

from service.audit.schemas import (
    DictionaryPublic,
    ExportColumnPublic,
    ExportDescriptionPublic,
    IndicatorPublic,
)

PSEUDONYMISED = ("by default a pseudonym (`p-`, `e-`, `u-` and 16 hex digits: HMAC-SHA256 of "
                 "the id with the export key); in an identifiable export, the id")
PSEUDONYMISATION = (
    "Exports are pseudonymised unless asked for with identifiable=true and a reason of at "
    "least 10 characters, which is logged (export_log) before anything is sent. "
    "Pseudonymised: patient, episode and user ids are replaced by keyed hashes "
    "(HMAC-SHA256 with CAREPATH_EXPORT_KEY), the same in every export made with that key; "
    "no names; the request paths of the access log keep no ids; in events' data, ids under "
    "`*_id` and "
    "`*_by` keys are hashed and every string that is not a code (lower-case letters, digits, "
    "`_ - . : +`) or a date is withheld as free text; the event log's hashes are left out "
    "(they are computed over the real ids, which could be found from them).")
SUPPRESSION = (
    "A pseudonymised export is one that leaves the clinic: in its indicator rows every count "
    "from 1 to 4 (numerators, denominators, episodes) reads `<5`, and every rate of such a "
    "row is withheld (empty; null in JSON Lines), `suppressed` saying so. Zero is shown. An "
    "identifiable export stays within the clinic's governance and shows exact counts.")

EVENT_COLUMNS: dict[str, str] = {
    "event_id": "the event's number in the log (its order)",
    "at": "when it happened (ISO 8601, UTC)",
    "clinic_id": "the clinic's id (clinics are not people: never pseudonymised)",
    "episode": f"the episode: {PSEUDONYMISED}",
    "patient": f"the episode's patient: {PSEUDONYMISED}",
    "name": "what happened, subject_past_verb (`task_completed`, `risk_stratified`, ...)",
    "element": "the BPMN element id that produced it, if any",
    "step": "that element's name as a person reads it, from the episode's model version",
    "actor": f"who did it (empty: the pathway or a timer): {PSEUDONYMISED}",
    "actor_role": "the actor's role (physiotherapist, patient, ...)",
    "data": "what the event recorded (JSON; in CSV as text); pseudonymised as described above",
    "prev_hash": "identifiable exports only: the hash of the event before (the hash chain)",
    "hash": "identifiable exports only: this event's hash, to check against the log",
}
IDENTIFIABLE_ONLY_EVENT_COLUMNS = ("prev_hash", "hash")

INDICATOR_GROUP_COLUMNS: dict[str, str] = {
    "period_start": "the first day of the period: episodes that started from it are counted",
    "period_end": "the last day of the period (included)",
    "as_of": "when the indicators were computed (ISO 8601, UTC)",
    "clinic_id": "the clinic's id",
    "clinic": "the clinic's name",
    "clinician": ("empty for the clinic's own rows; else the clinician who recorded the "
                  f"episodes' first visits: {PSEUDONYMISED}"),
    "clinician_name": "identifiable exports only: the clinician's name",
    "group_episodes": "episodes in the group (the clinic, or the clinician's); suppressed "
                      "when 1-4",
    "breakdown": ("empty for the indicator over the whole group; else the part of the "
                  "indicator this row counts (`by_stratum`: one row per risk stratum)"),
}
INDICATOR_FIELDS: dict[str, str] = {
    "id": "the indicator's number (domain.md section 7)",
    "name": "the indicator, in words, with the model's numbers",
    "numerator": "episodes that meet it; suppressed when 1-4",
    "denominator": "episodes it applies to and is due for; suppressed when 1-4",
    "rate": "numerator / denominator; empty when nothing is counted or a count is suppressed",
    "available": "false when the pathway's events cannot support it",
    "note": "what it reads and where the record is limited",
    "stratum": "with breakdown `by_stratum`: the risk stratum (low, medium, high)",
}
SUPPRESSED_COLUMN = {"suppressed": "true when a count of this row is under 5 and withheld"}

XES_ATTRIBUTES: dict[str, str] = {
    "log concept:name": "carepath, the period",
    "trace concept:name": f"the episode: {PSEUDONYMISED}",
    "trace patient": f"the episode's patient: {PSEUDONYMISED}",
    "trace stratum": "the episode's risk stratum (low, medium, high; absent before screening)",
    "trace model_version": "the model version the episode runs on (its id)",
    "trace model_name": "that model's name",
    "trace clinic_id": "the clinic's id",
    "trace started": "when the episode started",
    "event concept:name": "the completed step, as a person reads its name",
    "event element": "the step's BPMN element id",
    "event time:timestamp": "when it was completed (UTC)",
    "event lifecycle:transition": "always `complete`: one event per completed step",
    "event org:role": "the task's lane: the role that does it",
    "event org:resource": f"who completed it: {PSEUDONYMISED}",
}

FHIR_ELEMENTS: dict[str, str] = {
    "Bundle.type": "`collection`; one entry per access log row",
    "AuditEvent.id": "`access-` and the access log row's id",
    "AuditEvent.type": "`rest` (RESTful operation, DICOM audit-event-type)",
    "AuditEvent.subtype": "the interaction: `read`, `update` or `delete`",
    "AuditEvent.action": "R (a read), U (a change) or D (a deletion)",
    "AuditEvent.recorded": "when the record was opened (UTC)",
    "AuditEvent.outcome": "`0`: only successful requests are logged",
    "AuditEvent.agent": ("the user: `who.identifier` (system `urn:carepath:user`) "
                         f"{PSEUDONYMISED}; `role.text` their role; `who.display` their name "
                         "in identifiable exports only"),
    "AuditEvent.source": "carepath (an application server)",
    "AuditEvent.entity": ("the patient (`urn:carepath:patient`, role Patient) and the episode "
                          "(`urn:carepath:episode`, role Domain Resource), each "
                          f"{PSEUDONYMISED}; the episode's `detail` `request` is the request "
                          "(method and path; ids replaced by `{id}` when pseudonymised)"),
}

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl",
               "xes": "application/xml", "fhir.json": "application/fhir+json"}


def indicator_columns() -> dict[str, str]:
    """The indicators export's columns: the group's, then every plain field of an indicator
    as `GET /api/audit/indicators` answers it (new fields there appear here by themselves),
    then the plain fields of its breakdowns (e.g. `stratum`)."""
    own = _plain_fields(IndicatorPublic)
    parts = [name for model in _listed_models(IndicatorPublic) for name in _plain_fields(model)
             if name not in own]
    return {**INDICATOR_GROUP_COLUMNS,
            **{name: _describe(IndicatorPublic, name) for name in own},
            **{name: INDICATOR_FIELDS.get(name, f"the breakdown's `{name}`")
               for name in dict.fromkeys(parts)},
            **SUPPRESSED_COLUMN}


def _describe(model: type[BaseModel], name: str) -> str:
    field = model.model_fields[name]
    return (INDICATOR_FIELDS.get(name) or field.description
            or f"the indicator's `{name}`, as `GET /api/audit/indicators` answers it")


def _plain_fields(model: type[BaseModel]) -> list[str]:
    """Fields holding one value (not a list, a mapping or a nested model)."""
    return [name for name, field in model.model_fields.items()
            if typing.get_origin(field.annotation) not in (list, dict)
            and not _is_model(field.annotation)]


def _listed_models(model: type[BaseModel]) -> list[type[BaseModel]]:
    """The models of a model's list fields (IndicatorPublic.by_stratum: StratumTallyPublic)."""
    found = []
    for field in model.model_fields.values():
        if typing.get_origin(field.annotation) is list:
            (item,) = typing.get_args(field.annotation)
            if _is_model(item):
                found.append(item)
    return found


def listed_fields(model: type[BaseModel]) -> list[str]:
    """The names of a model's list-of-model fields (its breakdowns)."""
    return [name for name, field in model.model_fields.items()
            if typing.get_origin(field.annotation) is list
            and _is_model(typing.get_args(field.annotation)[0])]


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def dictionary() -> DictionaryPublic:
    """Every export, its columns and what they mean."""
    def described(export: str, path: str, media: str,
                  columns: dict[str, str]) -> ExportDescriptionPublic:
        return ExportDescriptionPublic(
            export=export, path=path, media_type=MEDIA_TYPES[media],
            columns=[ExportColumnPublic(name=name, description=text)
                     for name, text in columns.items()])

    base = "/api/audit/exports/"
    return DictionaryPublic(pseudonymisation=PSEUDONYMISATION, suppression=SUPPRESSION, exports=[
        described("events.csv", base + "events.csv", "csv", EVENT_COLUMNS),
        described("events.jsonl", base + "events.jsonl", "jsonl", EVENT_COLUMNS),
        described("indicators.csv", base + "indicators.csv", "csv", indicator_columns()),
        described("indicators.jsonl", base + "indicators.jsonl", "jsonl", indicator_columns()),
        described("events.xes", base + "events.xes", "xes", XES_ATTRIBUTES),
        described("access-log.fhir.json", base + "access-log.fhir.json", "fhir.json",
                  FHIR_ELEMENTS),
    ])
