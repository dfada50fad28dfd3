"""An auditor exports the logs for tools outside carepath: the event log as CSV, JSON Lines
and XES (read back with pm4py, as process-mining tools read it), the indicators as CSV and
JSON Lines, and the access log as FHIR R4 AuditEvents (validated with fhir.resources).

Clinic north: physio refers five patients and sees them through their first visits; physio2
one more. Clinic south: southphysio's one patient. Patients' names must never appear in an
export; ids only when asked for with a reason, which is logged."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import SQLModel, col, func, select

from service.audit import export_dictionary, exports
from service.audit.schemas import IndicatorPublic
from service.care.service import record_event
from service.core.context import Context
from service.core.db import transaction
from service.core.tables import AccessRecord, Episode, Event, ExportRecord
from service.models.registry import EngineRegistry

from .conftest import World, make_world, refer, through_first_visit

URL = "/api/audit/exports/"
NORTH_BY_PHYSIO = ["Astrid Alm", "Bo Berg", "Cilla Carlsson", "Dan Dahl", "Eva Ek"]
NAMES = [*NORTH_BY_PHYSIO, "Frida Fors", "Gustav Gran"]
EXPORTS = ["events.csv", "events.jsonl", "events.xes", "indicators.csv", "indicators.jsonl",
           "access-log.fhir.json"]
WHY = "Quality registry submission for 2026"


@pytest.fixture(scope="module")
def clinic() -> Iterator[World]:
    with make_world() as world:
        for number, name in enumerate(NORTH_BY_PHYSIO):
            patient, _ = refer(world, name, f"patient{number}")
            through_first_visit(world, patient, "medium_start_back")
        patient, _ = refer(world, "Frida Fors", "frida", clinician="physio2")
        through_first_visit(world, patient, "high_start_back", clinician="physio2")
        patient, _ = refer(world, "Gustav Gran", "gustav", clinician="southphysio")
        through_first_visit(world, patient, "low_start_back", clinician="southphysio")
        yield world


def download(world: World, name: str, auditor: TestClient | None = None,
             **params: Any) -> tuple[int, str]:
    """An export read as it streams, as a browser or curl downloads it."""
    auditor = auditor or world.client("auditor")
    with auditor.stream("GET", URL + name, params=params) as response:
        text = "".join(response.iter_text())
        if response.status_code == 200 and name != "dictionary":
            disposition = response.headers["content-disposition"]
            assert disposition.startswith('attachment; filename="carepath-'), disposition
            assert disposition.endswith(name[name.index("."):] + '"'), disposition
        return response.status_code, text


def rows_of_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def rows_of_jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def all_rows(world: World) -> dict[str, int]:
    counts = {}
    for table in SQLModel.metadata.sorted_tables:
        model = next(m for m in (m.class_ for m in SQLModel._sa_registry.mappers)
                     if getattr(m, "__table__", None) is table)
        counts[table.name] = world.count(model)
    return counts


def test_the_event_log_is_pseudonymised_by_default(clinic: World) -> None:
    status, text = download(clinic, "events.csv")
    assert status == 200, text
    rows = rows_of_csv(text)
    assert len(rows) == clinic.count(Event)
    assert list(rows[0]) == [c for c in export_dictionary.EVENT_COLUMNS
                             if c not in ("prev_hash", "hash")]
    assert not [name for name in NAMES if name in text]
    assert all(row["episode"].startswith("e-") and row["patient"].startswith("p-")
               for row in rows)
    assert {row["actor"][:2] for row in rows} == {"u-"}
    assert len({row["episode"] for row in rows}) == clinic.count(Episode)
    started = next(row for row in rows if row["name"] == "episode_started")
    assert json.loads(started["data"])["episode_id"] == started["episode"]
    first_visit = next(row for row in rows if row["name"] == "task_completed"
                       and row["element"] == "first_visit")
    assert (first_visit["step"], first_visit["actor_role"]) == ("First visit",
                                                                "physiotherapist")

    status, text = download(clinic, "events.jsonl")
    assert status == 200
    lines = rows_of_jsonl(text)
    assert [line["event_id"] for line in lines] == [int(row["event_id"]) for row in rows]
    assert [line["episode"] for line in lines] == [row["episode"] for row in rows]


def test_free_text_stays_out_of_a_pseudonymised_export() -> None:
    names = exports.Pseudonyms(b"k" * 32)
    data = {"notes": "Spoke with Astrid about her work", "imaging": "none",
            "at": "2026-01-05T09:00:00+00:00", "written_by": 7, "episode_id": 3,
            "items": [{"activity": "Lifting my grandchild"}]}
    assert names.data(data) == {"notes": "[text withheld]", "imaging": "none",
                                "at": "2026-01-05T09:00:00+00:00",
                                "written_by": names.of("user", 7),
                                "episode_id": names.of("episode", 3),
                                "items": [{"activity": "[text withheld]"}]}
    assert names.of("episode", 3) != names.of("patient", 3)
    assert exports.Pseudonyms(b"j" * 32).of("episode", 3) != names.of("episode", 3)


def test_an_identifiable_export_needs_a_reason_which_is_logged_first(clinic: World) -> None:
    logged_before = _last_export_record(clinic)
    for params in ({"identifiable": "true"}, {"identifiable": "true", "reason": "  audit  "},
                   {"reason": WHY}):
        status, text = download(clinic, "events.csv", **params)
        assert status == 422, text
        assert json.loads(text)["error"]["fields"][0]["field"] == "reason"
    assert _last_export_record(clinic) == logged_before

    status, text = download(clinic, "events.csv", identifiable="true", reason=WHY)
    assert status == 200, text
    rows = rows_of_csv(text)
    with transaction(clinic.db, write=False) as session:
        [logged] = session.exec(select(ExportRecord)
                                .where(col(ExportRecord.id) > logged_before)).all()
        episodes = set(session.exec(select(Episode.id)).all())
    assert (logged.user_id, logged.export, logged.reason) == (
        clinic.users["auditor"], "events.csv", WHY)
    assert (logged.period_start, logged.period_end) == (date(2025, 1, 5), date(2026, 1, 5))
    assert {int(row["episode"]) for row in rows} == episodes
    assert all(len(row["hash"]) == 64 for row in rows)
    assert not [name for name in NAMES if name in text]  # ids, never names


def test_process_mining_tools_read_a_trace_per_episode(clinic: World, tmp_path: Path) -> None:
    import pm4py

    status, text = download(clinic, "events.xes")
    assert status == 200, text
    assert not [name for name in NAMES if name in text]
    path = tmp_path / "events.xes"
    path.write_text(text)
    log = pm4py.read_xes(str(path), return_legacy_log_object=True)
    assert len(log) == clinic.count(Episode)
    strata = sorted(trace.attributes["stratum"] for trace in log)
    assert strata == ["high", "low", *["medium"] * 5]
    for trace in log:
        assert trace.attributes["concept:name"].startswith("e-")
        assert trace.attributes["model_version"] == 1
        assert [event["concept:name"] for event in trace] == [
            "Answer the safety questions", "Fill in the intake questionnaires", "First visit"]
        assert [event["org:role"] for event in trace] == ["patient", "patient",
                                                          "physiotherapist"]
        assert {event["lifecycle:transition"] for event in trace} == {"complete"}
        assert all(event["org:resource"].startswith("u-") for event in trace)
        assert all(event["time:timestamp"].year == 2026 for event in trace)

    frame = pm4py.read_xes(str(path))
    assert len(frame) == 3 * clinic.count(Episode)
    assert set(frame["case:concept:name"]) == {t.attributes["concept:name"] for t in log}


def test_the_access_log_is_a_valid_fhir_r4_bundle_of_audit_events(clinic: World) -> None:
    # fhir.resources 8 ships R4B (4.3) beside R5: its AuditEvent is R4's.
    from fhir.resources.R4B.auditevent import AuditEvent
    from fhir.resources.R4B.bundle import Bundle

    clinic.client("physio").get(f"/api/episodes/{_first_episode(clinic)}")
    status, text = download(clinic, "access-log.fhir.json")
    assert status == 200, text
    bundle = Bundle.model_validate_json(text)
    assert bundle.type == "collection"
    assert len(bundle.entry or []) == clinic.count(AccessRecord) > 0
    for entry in bundle.entry or []:
        event = AuditEvent.model_validate(entry.resource.model_dump())
        [agent] = event.agent
        assert agent.who.identifier.value.startswith("u-") and agent.who.display is None
        patient, episode = event.entity
        assert patient.what.identifier.value.startswith("p-")
        assert episode.what.identifier.value.startswith("e-")
        assert not any(ch.isdigit() for ch in episode.detail[0].valueString)
    read = next(entry.resource for entry in bundle.entry or []
                if entry.resource.action == "R")
    assert read.entity[1].detail[0].valueString == "GET /api/episodes/{id}"

    status, text = download(clinic, "access-log.fhir.json", identifiable="true", reason=WHY)
    named = Bundle.model_validate_json(text)
    assert {e.resource.agent[0].who.display for e in named.entry or []} <= {"physio",
                                                                          "physio2", "lead",
                                                                          "southphysio"}
    assert not [name for name in NAMES if name in text]


def test_indicator_exports_suppress_counts_under_5(clinic: World) -> None:
    api = clinic.client("auditor").get("/api/audit/indicators").json()
    north_api = {i["id"]: i for i in api["clinics"][0]["indicators"]}
    status, text = download(clinic, "indicators.csv")
    assert status == 200, text
    rows = rows_of_csv(text)
    assert list(rows[0]) == list(export_dictionary.indicator_columns())
    north = {int(row["id"]): row for row in rows
             if row["clinic"] == "North Physio" and not row["clinician"] and not row["breakdown"]}
    assert north[1]["group_episodes"] == "6"
    assert (north[1]["numerator"], north[1]["denominator"], north[1]["rate"]) == (
        "6", "6", "1.0") == tuple(str(north_api[1][k]) for k in ("numerator", "denominator",
                                                                 "rate"))
    for row in rows:
        counts = [row["numerator"], row["denominator"], row["group_episodes"]]
        small = [c for c in counts if c not in ("", "<5") and 0 < int(c) < 5]
        assert small == [], row
        if "<5" in counts:
            assert (row["rate"], row["suppressed"]) == ("", "true")
    by_clinician = {row["clinician"] for row in rows if row["clinician"]}
    assert len(by_clinician) == 3 and all(c.startswith("u-") for c in by_clinician)
    physio2 = [row for row in rows if row["clinician"] and row["group_episodes"] == "<5"]
    assert physio2 and all(row["suppressed"] == "true" for row in physio2
                           if row["denominator"] != "0")
    south = [row for row in rows if row["clinic"] == "South Physio"]
    assert all(row["group_episodes"] == "<5" for row in south)

    status, text = download(clinic, "indicators.jsonl")
    lines = rows_of_jsonl(text)
    assert len(lines) == len(rows)
    assert {line["numerator"] for line in lines} <= {"<5", 0} | set(range(5, 100))
    assert all(line["rate"] is None for line in lines if line["suppressed"])

    status, text = download(clinic, "indicators.csv", identifiable="true", reason=WHY)
    exact = rows_of_csv(text)
    assert "<5" not in text
    assert {row["clinician_name"] for row in exact if row["clinician"]} == {
        "physio", "physio2", "southphysio"}


def test_every_column_is_in_the_data_dictionary(clinic: World) -> None:
    response = clinic.client("auditor").get(URL + "dictionary")
    assert response.status_code == 200, response.text
    body = response.json()
    described = {e["export"]: [c["name"] for c in e["columns"]] for e in body["exports"]}
    assert set(described) == set(EXPORTS)
    assert all(c["description"] for e in body["exports"] for c in e["columns"])
    for name in ("events.csv", "indicators.csv"):
        header = next(csv.reader(io.StringIO(download(clinic, name)[1])))
        assert set(header) <= set(described[name])
    # Whatever the indicators answer gains, the export writes and describes.
    plain = [n for n, f in IndicatorPublic.model_fields.items() if n != "by_stratum"]
    assert set(plain) <= set(described["indicators.csv"])
    assert "<5" in body["suppression"] and "HMAC" in body["pseudonymisation"]


@pytest.mark.parametrize("name", [*EXPORTS, "dictionary"])
def test_only_an_auditor_may_export(clinic: World, name: str) -> None:
    for username in ("physio", "lead", "manager", "admin"):
        response = clinic.client(username).get(URL + name)
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "forbidden"
    assert clinic.client().get(URL + name).status_code == 401


def test_an_auditors_exports_change_nothing(clinic: World) -> None:
    auditor = clinic.client("auditor")  # logging in adds a token: before the count
    before = all_rows(clinic)
    for name in EXPORTS:
        assert download(clinic, name, auditor)[0] == 200
        assert download(clinic, name, auditor, start="2026-01-01", end="2026-01-31")[0] == 200
    assert all_rows(clinic) == before


def test_the_period_and_the_clinic_narrow_an_export(clinic: World) -> None:
    status, text = download(clinic, "events.jsonl", end="2026-01-04")
    assert (status, text) == (200, "")
    south = rows_of_jsonl(download(clinic, "events.jsonl",
                                   clinic_id=clinic.clinics["south"])[1])
    assert {line["clinic_id"] for line in south} == {clinic.clinics["south"]}
    assert len({line["episode"] for line in south}) == 1
    status, text = download(clinic, "events.csv", start="2026-02-01", end="2026-01-01")
    assert status == 422, text


def test_the_log_is_read_page_by_page_up_to_where_it_ended(
        clinic: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each page is read in a transaction of its own as the body is sent; events written
    after the export began are not in it."""
    monkeypatch.setattr(exports, "PAGE", 7)
    with transaction(clinic.db, write=False) as session:
        ctx = Context(session, clinic.clock, EngineRegistry(clinic.clock), db=clinic.db)
        planned = exports._prepare(ctx, clinic.settings, "events.jsonl", exports.ExportQuery(),
                                   None)
    events = clinic.count(Event)
    first = next(planned.chunks)
    assert len(rows_of_jsonl(first.decode())) == 7
    with transaction(clinic.db, write=True) as session:  # the log goes on meanwhile
        episode = session.get(Episode, _first_episode(clinic))
        assert episode is not None
        record_event(Context(session, clinic.clock, EngineRegistry(clinic.clock)), episode,
                     "emergency_instruction_shown", {})
    rest = list(planned.chunks)
    assert len(rest) == -(-(events - 7) // 7)
    assert sum(len(rows_of_jsonl(chunk.decode())) for chunk in [first, *rest]) == events
    assert clinic.count(Event) == events + 1


def test_pseudonymised_exports_need_a_key_in_production(clinic: World) -> None:
    settings = clinic.app.state.settings
    settings.mode = "production"
    try:
        status, text = download(clinic, "events.csv")
        assert status == 503, text
        assert "CAREPATH_EXPORT_KEY" in json.loads(text)["error"]["message"]
        settings.export_key = "k" * 40
        assert download(clinic, "events.csv")[0] == 200
    finally:
        settings.mode, settings.export_key = "development", None


def test_the_command_line_writes_the_same_exports(
        clinic: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    start, end = date(2026, 1, 1), date(2026, 1, 31)
    for format in ("csv", "jsonl", "xes", "fhir"):
        out = tmp_path / f"export.{format}"
        assert exports.export_command(clinic.db, clinic.settings, format, start, end, out,
                                      None) == 0
        assert out.stat().st_size > 0 and not [n for n in NAMES if n in out.read_text()]
    assert len(rows_of_csv((tmp_path / "export.csv").read_text())) == clinic.count(Event)
    capsys.readouterr()

    out = tmp_path / "named.csv"
    logged_before = _last_export_record(clinic)
    assert exports.export_command(clinic.db, clinic.settings, "csv", start, end, out,
                                  "Registry submission (command line)") == 0
    with transaction(clinic.db, write=False) as session:
        [logged] = session.exec(select(ExportRecord)
                                .where(col(ExportRecord.id) > logged_before)).all()
    assert (logged.user_id, logged.reason) == (None, "Registry submission (command line)")

    assert exports.export_command(clinic.db, clinic.settings, "csv", start, end, out,
                                  "short") == 1
    assert exports.export_command(clinic.db, clinic.settings, "pdf", start, end, out,
                                  None) == 2
    assert exports.export_command(clinic.db, clinic.settings, "csv", end, start,
                                  tmp_path / "none.csv", None) == 1
    assert not (tmp_path / "none.csv").exists()
    problems = capsys.readouterr().err.splitlines()
    assert len(problems) == 3 and all(p.startswith("carepath audit: ") for p in problems)

    assert exports.indicators_command(clinic.db, clinic.settings, start, end, "csv") == 0
    printed = rows_of_csv(capsys.readouterr().out)
    assert printed and printed[0]["group_episodes"] == "6"
    assert exports.indicators_command(clinic.db, clinic.settings, start, end, "json") == 0
    assert rows_of_jsonl(capsys.readouterr().out)[0]["clinic"] == "North Physio"
    assert exports.indicators_command(clinic.db, clinic.settings, start, end, "xml") == 2


def _first_episode(world: World) -> int:
    with transaction(world.db, write=False) as session:
        return session.exec(select(Episode.id).order_by(Episode.id)).first() or 0


def _last_export_record(world: World) -> int:
    """Tests of this module share a clinic, and the export log is append-only: each test
    reads the rows after the last one there was."""
    with transaction(world.db, write=False) as session:
        return session.exec(select(func.max(ExportRecord.id))).one() or 0


def test_carepath_audit_export_and_indicators_run_from_the_command_line(
        world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from service.cli import main
    from service.core.settings import get_settings

    client, _ = refer(world, "Maja Lind", "maja")
    through_first_visit(world, client, "low_start_back")
    monkeypatch.setenv("CAREPATH_DATABASE_URL", world.settings.database_url)
    get_settings.cache_clear()
    today = world.clock.now().date().isoformat()
    try:
        out = tmp_path / "events.xes"
        assert main(["audit", "export", "--format", "xes", "--from", today, "--to", today,
                     "--out", str(out)]) == 0
        assert out.read_text().count("<trace>") == 1 and "Maja" not in out.read_text()
        assert main(["audit", "indicators", "--from", today, "--to", today]) == 0
        assert "Risk stratified at first contact" in capsys.readouterr().out
        with pytest.raises(SystemExit) as refused:
            main(["audit", "export", "--format", "pdf", "--from", today, "--to", today,
                  "--out", str(out)])
        assert refused.value.code == 2
    finally:
        get_settings.cache_clear()
