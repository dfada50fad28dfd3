"""The auditors' export routes: files streamed as they are read (events as CSV, JSON Lines
and XES; indicators as CSV and JSON Lines; the access log as FHIR R4 AuditEvents), and
their data dictionary."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from service.audit import export_dictionary, exports
from service.audit.schemas import DictionaryPublic
from service.core import access
from service.core.context import Context
from service.core.deps import SettingsDep, SlowCallDep
from service.core.schemas import DateQuery, Id

router = APIRouter(prefix="/api/audit/exports", tags=["audit"])


def export_query(start: DateQuery = None,
                 end: DateQuery = None, clinic_id: Id | None = None,
                 identifiable: bool = False,
                 reason: Annotated[str | None, Query(max_length=500)] = None,
                 ) -> exports.ExportQuery:
    """`start`, `end` (YYYY-MM-DD, both included; by default the last 365 days),
    `clinic_id`; `identifiable=true` with a `reason` of 10+ characters for real ids."""
    return exports.ExportQuery(start, end, clinic_id, identifiable, reason)


ExportQueryDep = Annotated[exports.ExportQuery, Depends(export_query)]


EXPORTS: dict[exports.ExportName, str] = {
    "events.csv": "The event log of the period, one row per event.",
    "events.jsonl": "The event log of the period, one JSON object a line.",
    "events.xes": "XES (IEEE 1849) for process mining: a trace per episode started in the "
                  "period, an event per completed step.",
    "indicators.csv": "The adherence indicators, a row per indicator per clinic and per "
                      "clinician (and per stratum where reported).",
    "indicators.jsonl": "The adherence indicators, one JSON object a line.",
    "access-log.fhir.json": "The access log of the period as a FHIR R4 Bundle of "
                            "AuditEvents.",
}
_RULES = (" Pseudonymised unless `identifiable=true` with a `reason` (logged first); counts "
          "under 5 suppressed in pseudonymised indicators. Columns: `GET "
          "/api/audit/exports/dictionary`.")


def _export_route(name: exports.ExportName) -> Callable[..., Awaitable[StreamingResponse]]:
    async def route(call: SlowCallDep, settings: SettingsDep,
                    query: ExportQueryDep) -> StreamingResponse:
        export = await call(lambda ctx: exports.export(ctx, settings, name, query))
        return StreamingResponse(export.chunks, media_type=export.media_type, headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"'})

    return route


for _name, _description in EXPORTS.items():
    _media = export_dictionary.MEDIA_TYPES[_name.partition(".")[2]]
    router.add_api_route(
        f"/{_name}", _export_route(_name), methods=["GET"], response_class=StreamingResponse,
        name=f"export {_name}", description=_description + _RULES,
        responses={200: {"content": {_media.split(";")[0]: {}}}})


@router.get("/dictionary", response_model=DictionaryPublic)
async def dictionary(call: SlowCallDep) -> DictionaryPublic:
    """Every export's columns and what they mean, and the rules that hide people."""
    def work(ctx: Context) -> DictionaryPublic:
        access.require_role(ctx.user, "auditor")
        return export_dictionary.dictionary()

    return await call(work)
