"""Auditors' exports, streamed: the event log (CSV, JSON Lines, XES), the adherence
indicators (CSV, JSON Lines) and the access log (a FHIR R4 Bundle of AuditEvents);
pseudonymised unless asked for with a reason, which is logged first. Also the command
line's `carepath audit export` and `carepath audit indicators`.

A year of a region's log is never held in memory: the request's unit of work only checks
and plans (who asks, the period, the reason, the last row to include); the body then reads
the log in keyset pages of `PAGE` rows, each page in a read-only transaction of its own that
ends before the page is sent, so a slow download holds no transaction open. Rows appended
meanwhile are left out: an export is the log up to the row that was last when it began."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, get_args

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from pathways.clock import SystemClock
from service.audit import export_dictionary as columns
from service.audit import export_formats as formats
from service.audit import indicators
from service.audit.pseudonyms import Pseudonyms, export_key
from service.audit.schemas import IndicatorPublic, IndicatorsPublic
from service.core import access
from service.core.context import Context
from service.core.db import transaction
from service.core.errors import InvalidRequestError, ServiceError
from service.core.settings import Settings
from service.core.tables import (
    AccessRecord,
    Episode,
    Event,
    ExportRecord,
    ModelVersion,
    Patient,
    User,
)
from service.models.registry import EngineRegistry

if TYPE_CHECKING:
    from sqlalchemy.engine import Row

    AnyRow: TypeAlias = Row[*tuple[Any, ...]]

PAGE = 1000
"""Rows read per page (one short read transaction each)."""
XES_EPISODES_PER_PAGE = 200
"""Episodes per page of the XES export, each read with all its completed steps."""
DEFAULT_PERIOD = timedelta(days=365)
MIN_REASON = 10
"""Characters an identifiable export's reason needs at least: a sentence, not `x`."""

ExportName = Literal["events.csv", "events.jsonl", "events.xes", "indicators.csv",
                     "indicators.jsonl", "access-log.fhir.json"]
EXPORTS: tuple[str, ...] = get_args(ExportName)
CommandFormat = Literal["csv", "jsonl", "xes", "fhir"]
COMMAND_EXPORTS: dict[str, ExportName] = {"csv": "events.csv", "jsonl": "events.jsonl",
                                          "xes": "events.xes", "fhir": "access-log.fhir.json"}
_ID_IN_PATH = re.compile(r"/(?:\d+|[0-9a-fA-F-]{32,36})(?=/|$)")


@dataclass(frozen=True)
class ExportQuery:
    """What an auditor asks for: a period (whole days, UTC; by default the last 365 days),
    one clinic or all, and real ids instead of pseudonyms, with a reason."""

    start: date | None = None
    end: date | None = None
    clinic_id: int | None = None
    identifiable: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class Plan:
    """A checked export: what the body will read, and how it names people."""

    name: ExportName
    start: date
    end: date
    clinic_id: int | None
    names: Pseudonyms
    db: Engine
    engines: EngineRegistry
    now: datetime
    through: int
    """The last row (events, or access log) the export includes."""

    @property
    def first(self) -> datetime:
        return datetime.combine(self.start, time.min, UTC)

    @property
    def last(self) -> datetime:
        return datetime.combine(self.end, time.max, UTC)


@dataclass
class Export:
    """A file to stream: its name, its media type, and its bytes (read as they are sent)."""

    filename: str
    media_type: str
    chunks: Iterator[bytes]


def export(ctx: Context, settings: Settings, name: ExportName, query: ExportQuery) -> Export:
    """An auditor's export (a route's work): checked, its reason logged if identifiable,
    ready to stream. Nothing is read from the log yet."""
    user = access.require_role(ctx.user, "auditor")
    return _prepare(ctx, settings, name, query, user.id)


def _prepare(ctx: Context, settings: Settings, name: ExportName, query: ExportQuery,
             user_id: int | None) -> Export:
    plan = _plan(ctx, settings, name, query)
    if plan.names.identifiable:
        # Logged with the unit of work, before the first byte is sent (deps.Call).
        ctx.logged.append(ExportRecord(at=ctx.now, user_id=user_id, export=name,
                                       period_start=plan.start, period_end=plan.end,
                                       clinic_id=plan.clinic_id,
                                       reason=(query.reason or "").strip()))
    kind = "identifiable" if plan.names.identifiable else "pseudonymised"
    stem, _, extension = name.partition(".")
    filename = f"carepath-{stem}-{plan.start}-{plan.end}-{kind}.{extension}"
    media_type = columns.MEDIA_TYPES[extension]
    if name.startswith("indicators."):
        rows = _indicator_rows(plan, indicators.adherence_indicators(
            ctx, plan.start, plan.end, plan.clinic_id))
        writer = formats.csv_chunks if extension == "csv" else formats.jsonl_chunks
        return Export(filename, media_type, writer(list(columns.indicator_columns()), [rows]))
    if name == "events.xes":
        return Export(filename, media_type, _xes_chunks(plan))
    if name == "access-log.fhir.json":
        return Export(filename, media_type, _fhir_chunks(plan))
    event_columns = [c for c in columns.EVENT_COLUMNS if plan.names.identifiable
                     or c not in columns.IDENTIFIABLE_ONLY_EVENT_COLUMNS]
    writer = formats.csv_chunks if extension == "csv" else formats.jsonl_chunks
    return Export(filename, media_type, writer(event_columns, _event_pages(plan)))


def _plan(ctx: Context, settings: Settings, name: ExportName, query: ExportQuery) -> Plan:
    end = query.end or ctx.now.date()
    start = query.start or (end - DEFAULT_PERIOD if end - date.min > DEFAULT_PERIOD
                            else date.min)
    if start > end:
        raise InvalidRequestError("the period starts after it ends",
                                  [{"field": "start", "message": "must be on or before end"}])
    reason = (query.reason or "").strip()
    if query.identifiable and len(reason) < MIN_REASON:
        raise InvalidRequestError(
            f"an identifiable export needs a reason of at least {MIN_REASON} characters "
            "(it is logged); leave out identifiable for a pseudonymised one",
            [{"field": "reason", "message": f"at least {MIN_REASON} characters"}])
    if reason and not query.identifiable:
        raise InvalidRequestError("a reason is only for an identifiable export: add "
                                  "identifiable=true, or leave the reason out",
                                  [{"field": "reason", "message": "only with identifiable"}])
    if len(reason) > 500:
        raise InvalidRequestError("the reason is too long (500 characters at most)",
                                  [{"field": "reason", "message": "500 characters at most"}])
    names = Pseudonyms(None if query.identifiable else export_key(settings))
    table = AccessRecord if name == "access-log.fhir.json" else Event
    through = ctx.session.execute(sa.select(sa.func.max(col(table.id)))).scalar() or 0
    if ctx.db is None:
        raise ServiceError("an export needs the database engine to stream from")
    return Plan(name, start, end, query.clinic_id, names, ctx.db, ctx.engines, ctx.now,
                through)


def _pages(plan: Plan, read: Callable[[Session, int], tuple[list[Any], int | None]],
           ) -> Iterator[list[Any]]:
    """Keyset pages: `read(session, after)` gives a page's records and the key to read on
    from (None: that was the last page), each in a read-only transaction of its own."""
    after: int | None = 0
    while after is not None:
        with transaction(plan.db, write=False) as session:
            records, after = read(session, after)
        yield records


# -- the event log: CSV and JSON Lines


_STEPS = dict[int, Mapping[str, str]]


def _event_pages(plan: Plan) -> Iterator[list[dict[str, Any]]]:
    steps: _STEPS = {}
    query = (sa.select(col(Event.id), col(Event.at), col(Event.clinic_id),
                       col(Event.episode_id), col(Episode.patient_id),
                       col(Episode.model_version_id), col(Event.name), col(Event.element),
                       col(Event.actor_id), col(User.role), col(Event.data),
                       col(Event.prev_hash), col(Event.hash))
             .outerjoin(Episode, col(Episode.id) == col(Event.episode_id))
             .outerjoin(User, col(User.id) == col(Event.actor_id))
             .where(col(Event.id) <= plan.through, col(Event.at) >= plan.first,
                    col(Event.at) <= plan.last)
             .order_by(col(Event.id)).limit(PAGE))
    if plan.clinic_id is not None:
        query = query.where(col(Event.clinic_id) == plan.clinic_id)

    def read(session: Session, after: int) -> tuple[list[dict[str, Any]], int | None]:
        rows = session.connection().execute(query.where(col(Event.id) > after)).all()
        records = [_event_record(plan.names, row, _step_names(plan, session, steps,
                                                                row.model_version_id))
                   for row in rows]
        return records, rows[-1].id if len(rows) == PAGE else None

    return _pages(plan, read)


def _event_record(names: Pseudonyms, row: AnyRow, steps: Mapping[str, str]) -> dict[str, Any]:
    return {"event_id": row.id, "at": row.at, "clinic_id": row.clinic_id,
            "episode": names.of("episode", row.episode_id),
            "patient": names.of("patient", row.patient_id), "name": row.name,
            "element": row.element, "step": steps.get(row.element or ""),
            "actor": names.of("user", row.actor_id), "actor_role": row.role,
            "data": names.data(row.data or {}), "prev_hash": row.prev_hash, "hash": row.hash}


def _step_names(plan: Plan, session: Session, known: _STEPS,
                version_id: int | None) -> Mapping[str, str]:
    """Element id -> the step's name in words, for a model version (read once per export)."""
    if version_id is None:
        return {}
    if version_id not in known:
        known[version_id] = plan.engines.engine_by_id(session, version_id).model.step_names()
    return known[version_id]


# -- the event log: XES for process mining


def _xes_chunks(plan: Plan) -> Iterator[bytes]:
    """A trace per episode that started in the period, an event per completed step."""
    yield formats.xes_head(f"carepath episodes started {plan.start} to {plan.end}")
    steps: _STEPS = {}
    episodes = (sa.select(col(Episode.id), col(Episode.patient_id), col(Episode.clinic_id),
                          col(Episode.stratum), col(Episode.started_at),
                          col(Episode.model_version_id), col(ModelVersion.name))
                .join(ModelVersion, col(ModelVersion.id) == col(Episode.model_version_id))
                .where(col(Episode.started_at) >= plan.first,
                       col(Episode.started_at) <= plan.last)
                .order_by(col(Episode.id)).limit(XES_EPISODES_PER_PAGE))
    if plan.clinic_id is not None:
        episodes = episodes.where(col(Episode.clinic_id) == plan.clinic_id)

    def read(session: Session, after: int) -> tuple[list[bytes], int | None]:
        page = session.connection().execute(episodes.where(col(Episode.id) > after)).all()
        completed: dict[int, list[AnyRow]] = {row.id: [] for row in page}
        for event in session.connection().execute(
                sa.select(col(Event.episode_id), col(Event.at), col(Event.element),
                          col(Event.actor_id), col(Event.data))
                .where(col(Event.episode_id).in_(list(completed)),
                       col(Event.name) == "task_completed", col(Event.id) <= plan.through)
                .order_by(col(Event.episode_id), col(Event.id))).all():
            completed[event.episode_id].append(event)
        traces = [formats.xes_trace(
            _trace_attributes(plan.names, episode),
            [_xes_event(plan.names, event, _step_names(plan, session, steps,
                                                       episode.model_version_id))
             for event in completed[episode.id]])
            for episode in page]
        return traces, page[-1].id if len(page) == XES_EPISODES_PER_PAGE else None

    for traces in _pages(plan, read):
        yield from traces
    yield formats.XES_TAIL


def _trace_attributes(names: Pseudonyms, episode: AnyRow) -> dict[str, Any]:
    return {"concept:name": str(names.of("episode", episode.id)),
            "patient": str(names.of("patient", episode.patient_id)),
            "stratum": episode.stratum, "model_version": episode.model_version_id,
            "model_name": episode.name, "clinic_id": episode.clinic_id,
            "started": episode.started_at}


def _xes_event(names: Pseudonyms, event: AnyRow, steps: Mapping[str, str]) -> dict[str, Any]:
    data = event.data or {}
    element = event.element or str(data.get("task", ""))
    return {"concept:name": steps.get(element) or str(data.get("title") or element),
            "element": element, "time:timestamp": event.at,
            "lifecycle:transition": "complete", "org:role": data.get("role") or None,
            "org:resource": str(names.of("user", event.actor_id) or "system")}


# -- the access log: FHIR R4 AuditEvents


def _fhir_chunks(plan: Plan) -> Iterator[bytes]:
    kind = "identifiable" if plan.names.identifiable else "pseudonymised"
    yield formats.fhir_bundle_head(f"carepath-access-{plan.start}-{plan.end}-{kind}",
                                   plan.now)
    query = (sa.select(col(AccessRecord.id), col(AccessRecord.at), col(AccessRecord.request),
                       col(AccessRecord.user_id), col(AccessRecord.patient_id),
                       col(AccessRecord.episode_id), col(User.role), col(User.username),
                       col(User.full_name))
             .join(User, col(User.id) == col(AccessRecord.user_id))
             .where(col(AccessRecord.id) <= plan.through, col(AccessRecord.at) >= plan.first,
                    col(AccessRecord.at) <= plan.last)
             .order_by(col(AccessRecord.id)).limit(PAGE))
    if plan.clinic_id is not None:
        query = query.join(Patient, col(Patient.id) == col(AccessRecord.patient_id)).where(
            col(Patient.clinic_id) == plan.clinic_id)

    def read(session: Session, after: int) -> tuple[list[dict[str, Any]], int | None]:
        rows = session.connection().execute(query.where(col(AccessRecord.id) > after)).all()
        return ([_audit_event(plan.names, row) for row in rows],
                rows[-1].id if len(rows) == PAGE else None)

    first = True
    for events in _pages(plan, read):
        entries, first = formats.fhir_entries(events, first)
        if entries:
            yield entries
    yield formats.FHIR_BUNDLE_TAIL


def _audit_event(names: Pseudonyms, row: AnyRow) -> dict[str, Any]:
    method, _, path = row.request.partition(" ")
    if not names.identifiable:
        path = _ID_IN_PATH.sub("/{id}", path)
    return formats.audit_event(
        row.id, row.at, method, f"{method} {path}", names.of("user", row.user_id) or "",
        row.role, (row.full_name or row.username) if names.identifiable else None,
        names.of("patient", row.patient_id) or "", names.of("episode", row.episode_id) or "")


# -- the indicators


def _indicator_rows(plan: Plan, result: IndicatorsPublic) -> list[dict[str, Any]]:
    """The indicators' result objects as rows, generically: every plain field of each
    indicator, and a row for each item of its breakdowns (`by_stratum`)."""
    rows = []
    period = {"period_start": result.start, "period_end": result.end, "as_of": result.as_of}
    for clinic in result.clinics:
        group = {**period, "clinic_id": clinic.clinic_id, "clinic": clinic.name}
        rows += _group_rows(plan, {**group, "group_episodes": clinic.episodes},
                            clinic.indicators)
        for clinician in clinic.clinicians:
            rows += _group_rows(plan, {
                **group, "clinician": plan.names.of("user", clinician.user_id),
                "clinician_name": clinician.name if plan.names.identifiable else None,
                "group_episodes": clinician.episodes}, clinician.indicators)
    return rows


_NOT_COUNTS = frozenset({"id", "clinic_id", "clinician"})
_BREAKDOWNS = columns.listed_fields(IndicatorPublic)


def _group_rows(plan: Plan, group: dict[str, Any],
                results: list[IndicatorPublic]) -> list[dict[str, Any]]:
    rows = []
    for result in results:
        whole = result.model_dump(exclude=set(_BREAKDOWNS))
        rows.append({**group, **whole})
        for breakdown in _BREAKDOWNS:
            for part in getattr(result, breakdown):
                rows.append({**group, **whole, "breakdown": breakdown, **part.model_dump()})
    if plan.names.identifiable:
        return [{**row, "suppressed": False} for row in rows]
    return [formats.suppress_small_counts(row, _NOT_COUNTS) for row in rows]


# -- the command line


def _command_context(session: Session, db: Engine) -> Context:
    """The command line acts as an auditor: whoever runs it holds the database already."""
    clock = SystemClock()
    operator = User(username="carepath command line", password_hash="", role="auditor")
    return Context(session, clock, EngineRegistry(clock), user=operator, db=db)


def _run_to(db: Engine, settings: Settings, name: ExportName, query: ExportQuery,
            write: Callable[[Iterator[bytes]], None]) -> int:
    """Plan an export (logging an identifiable one's reason in its own committed
    transaction), then stream it to `write`; one line on stderr and 1 on a problem."""
    try:
        with transaction(db, write=query.identifiable) as session:
            ctx = _command_context(session, db)
            planned = _prepare(ctx, settings, name, query, None)
            session.add_all(ctx.logged)
        write(planned.chunks)
    except ServiceError as err:
        print(f"carepath audit: {err}", file=sys.stderr)
        return 1
    except (OSError, sa.exc.SQLAlchemyError) as err:
        print(f"carepath audit: {name} failed: {err}", file=sys.stderr)
        return 1
    return 0


def export_command(db: Engine, settings: Settings, format: str, start: date, end: date,
                   out: Path, identifiable_reason: str | None) -> int:
    """`carepath audit export --format csv|jsonl|xes|fhir --from DATE --to DATE --out FILE
    [--identifiable REASON]`: events (csv, jsonl, xes) or the access log (fhir), written to
    `out` as it is read (a partial file is removed on failure). Returns the exit status."""
    name = COMMAND_EXPORTS.get(format)
    if name is None:
        print(f"carepath audit: unknown format {format!r}; use one of "
              f"{', '.join(COMMAND_EXPORTS)}", file=sys.stderr)
        return 2
    query = ExportQuery(start, end, identifiable=identifiable_reason is not None,
                        reason=identifiable_reason)
    partial = out.with_name(out.name + ".partial")

    def write(chunks: Iterator[bytes]) -> None:
        try:
            with partial.open("wb") as file:
                for chunk in chunks:
                    file.write(chunk)
            partial.replace(out)
        finally:
            partial.unlink(missing_ok=True)

    status = _run_to(db, settings, name, query, write)
    if status == 0:
        print(f"wrote {out}")
    return status


def indicators_command(db: Engine, settings: Settings, start: date, end: date,
                       format: str) -> int:
    """`carepath audit indicators --from DATE --to DATE [--format csv|json]`: the indicators
    to standard output, pseudonymised and with small counts suppressed (json: JSON Lines)."""
    names: dict[str, ExportName] = {"csv": "indicators.csv", "json": "indicators.jsonl",
                                    "jsonl": "indicators.jsonl"}
    if format not in names:
        print(f"carepath audit: unknown format {format!r}; use csv or json", file=sys.stderr)
        return 2

    def write(chunks: Iterator[bytes]) -> None:
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        sys.stdout.flush()

    return _run_to(db, settings, names[format], ExportQuery(start, end), write)
