"""The exports' file formats, as bytes written piece by piece: CSV and JSON Lines rows, an
XES (IEEE 1849-2016) log trace by trace, a FHIR R4 Bundle of AuditEvents entry by entry.
Nothing here reads the database; `exports` hands the records in."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import quoteattr

SUPPRESSED = "<5"
SMALLEST_SHOWN = 5
"""Counts under this (and above zero) are withheld from exports that leave the clinic."""


# -- CSV and JSON Lines


def csv_chunks(columns: Sequence[str], pages: Iterable[Iterable[Mapping[str, Any]]],
               ) -> Iterator[bytes]:
    """A header, then each page of rows as one chunk; a missing value is an empty cell."""
    yield _csv_text([list(columns)])
    for page in pages:
        rows = [[_cell(row.get(column)) for column in columns] for row in page]
        if rows:
            yield _csv_text(rows)


def _csv_text(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def jsonl_chunks(columns: Sequence[str], pages: Iterable[Iterable[Mapping[str, Any]]],
                 ) -> Iterator[bytes]:
    """One JSON object a line, its keys in the columns' order; each page one chunk."""
    for page in pages:
        lines = [json.dumps({column: row.get(column) for column in columns},
                            ensure_ascii=False, default=_json_value) + "\n" for row in page]
        if lines:
            yield "".join(lines).encode()


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


# -- small counts


def suppress_small_counts(row: dict[str, Any], not_counts: frozenset[str]) -> dict[str, Any]:
    """The row as it may leave the clinic: each count (an integer, not one of `not_counts`)
    from 1 to 4 reads `<5`, and then every rate (a float) of the row is withheld, as a rate
    and its other count would give the small one away."""
    small = {key for key, value in row.items()
             if key not in not_counts and isinstance(value, int) and not isinstance(value, bool)
             and 0 < value < SMALLEST_SHOWN}
    shown = {key: SUPPRESSED if key in small else value for key, value in row.items()}
    if small:
        shown.update({key: None for key, value in row.items() if isinstance(value, float)})
    shown["suppressed"] = bool(small)
    return shown


# -- XES (IEEE 1849-2016)


XES_NAMESPACE = "http://www.xes-standard.org/"
_EXTENSIONS = [("Concept", "concept"), ("Time", "time"), ("Lifecycle", "lifecycle"),
               ("Organizational", "org")]


def xes_head(name: str) -> bytes:
    extensions = "".join(
        f'  <extension name="{title}" prefix="{prefix}" uri="{XES_NAMESPACE}{prefix}.xesext"/>\n'
        for title, prefix in _EXTENSIONS)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<log xes.version="1849-2016" xes.features="" xmlns="{XES_NAMESPACE}">\n'
            f"{extensions}"
            '  <global scope="trace">\n'
            '    <string key="concept:name" value="unknown"/>\n'
            "  </global>\n"
            '  <global scope="event">\n'
            '    <string key="concept:name" value="unknown"/>\n'
            '    <date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>\n'
            '    <string key="lifecycle:transition" value="complete"/>\n'
            "  </global>\n"
            '  <classifier name="Activity" keys="concept:name"/>\n'
            f"  {xes_attribute('concept:name', name)}\n").encode()


XES_TAIL = b"</log>\n"


def xes_trace(attributes: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> bytes:
    """A trace with its attributes and events (each a mapping of attribute key to value;
    None values are left out)."""
    lines = ["  <trace>"]
    lines += [f"    {xes_attribute(k, v)}" for k, v in attributes.items() if v is not None]
    for event in events:
        lines.append("    <event>")
        lines += [f"      {xes_attribute(k, v)}" for k, v in event.items() if v is not None]
        lines.append("    </event>")
    lines.append("  </trace>\n")
    return "\n".join(lines).encode()


def xes_attribute(key: str, value: Any) -> str:
    """One XES attribute element, typed by the value."""
    if isinstance(value, bool):
        kind, text = "boolean", "true" if value else "false"
    elif isinstance(value, int):
        kind, text = "int", str(value)
    elif isinstance(value, float):
        kind, text = "float", repr(value)
    elif isinstance(value, datetime):
        kind, text = "date", value.isoformat(timespec="milliseconds")
    else:
        kind, text = "string", str(value)
    return f"<{kind} key={quoteattr(key)} value={quoteattr(text)}/>"


# -- FHIR R4: a Bundle of AuditEvents


_AUDIT_EVENT_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
                     "code": "rest", "display": "RESTful Operation"}
_INTERACTIONS = {"GET": ("read", "R"), "DELETE": ("delete", "D")}
_CHANGE = ("update", "U")
_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
_ENTRY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://carepath.invalid/access-log")


def fhir_bundle_head(bundle_id: str, timestamp: datetime) -> bytes:
    head = json.dumps({"resourceType": "Bundle", "id": bundle_id, "type": "collection",
                       "timestamp": timestamp.isoformat()})
    return (head[:-1] + ', "entry": [').encode()


FHIR_BUNDLE_TAIL = b"\n]}\n"


def fhir_entries(events: Iterable[dict[str, Any]], first: bool) -> tuple[bytes, bool]:
    """Bundle entries for AuditEvent resources, comma-separated after any before them;
    returns them and whether the next ones are still the first."""
    parts = []
    for event in events:
        full_url = f"urn:uuid:{uuid.uuid5(_ENTRY_NAMESPACE, event['id'])}"
        parts.append(("\n" if first else ",\n")
                     + json.dumps({"fullUrl": full_url, "resource": event}))
        first = False
    return "".join(parts).encode(), first


def audit_event(record_id: int, at: datetime, method: str, request: str,
                user: str | int, user_role: str, user_name: str | None,
                patient: str | int, episode: str | int) -> dict[str, Any]:
    """An access log row as a FHIR R4 AuditEvent: the user (agent) read or changed the
    patient's record (entities: the patient, the episode)."""
    subtype, action = _INTERACTIONS.get(method, _CHANGE)
    who: dict[str, Any] = {"identifier": {"system": "urn:carepath:user", "value": str(user)}}
    if user_name is not None:
        who["display"] = user_name
    return {
        "resourceType": "AuditEvent",
        "id": f"access-{record_id}",
        "type": _AUDIT_EVENT_TYPE,
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": subtype}],
        "action": action,
        "recorded": at.isoformat(),
        "outcome": "0",
        "agent": [{"role": [{"text": user_role}], "who": who, "requestor": True}],
        "source": {"site": "carepath", "observer": {"display": "carepath"},
                   "type": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                       "security-source-type",
                             "code": "4", "display": "Application Server"}]},
        "entity": [
            {"what": {"identifier": {"system": "urn:carepath:patient", "value": str(patient)}},
             "type": {"system": _ENTITY_TYPE, "code": "1", "display": "Person"},
             "role": {"system": _OBJECT_ROLE, "code": "1", "display": "Patient"}},
            {"what": {"identifier": {"system": "urn:carepath:episode", "value": str(episode)}},
             "type": {"system": _ENTITY_TYPE, "code": "2", "display": "System Object"},
             "role": {"system": _OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
             "detail": [{"type": "request", "valueString": request}]},
        ],
    }
