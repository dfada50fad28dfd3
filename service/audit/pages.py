"""The auditors' pages: the indicators of a period (their landing page) and each indicator's
breaching episodes, and the log: its check, the event and access logs, and exports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from service.audit import conformance as conformance_views
from service.audit import dashboard, log_page
from service.core.context import Context
from service.core.deps import SlowPageCallDep
from service.core.pages import render, viewer
from service.core.schemas import AfterId, DateQuery, Id

router = APIRouter(include_in_schema=False)


@router.get("/audit", response_class=HTMLResponse)
async def audit_dashboard(request: Request, call: SlowPageCallDep, start: DateQuery = None,
                          end: DateQuery = None, clinic_id: Id | None = None) -> Response:
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        return render(request, "audit/dashboard.html",
                      dashboard.dashboard(ctx, start, end, clinic_id), who)

    return await call(work)


@router.get("/audit/indicators/{indicator}", response_class=HTMLResponse)
async def indicator_breaches(request: Request, indicator: Annotated[int, Path(ge=1, le=99)],
                             call: SlowPageCallDep, start: DateQuery = None,
                             end: DateQuery = None, clinic_id: Id | None = None) -> Response:
    """The episodes that do not meet an indicator, and why (the dashboard's drill-down)."""
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        return render(request, "audit/breaches.html",
                      dashboard.breaches_page(ctx, indicator, start, end, clinic_id), who)

    return await call(work)


@router.get("/audit/conformance", response_class=HTMLResponse)
async def conformance(request: Request, call: SlowPageCallDep, start: DateQuery = None,
                      end: DateQuery = None, clinic_id: Id | None = None,
                      episode_id: Id | None = None) -> Response:
    """How episodes' paths conform to their model versions: counts per deviation and the
    episodes that deviate, or one episode's path and its deviations."""
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        found = (conformance_views.episode_conformance(ctx, episode_id) if episode_id
                 else conformance_views.conformance_summary(ctx, start, end, clinic_id))
        return render(request, "audit/conformance.html", found, who, episode_id=episode_id)

    return await call(work)


@router.get("/audit/log", response_class=HTMLResponse)
async def audit_log(request: Request, call: SlowPageCallDep, episode_id: Id | None = None,
                    patient_id: Id | None = None, user_id: Id | None = None,
                    after_id: AfterId = 0, access_after_id: AfterId = 0) -> Response:
    def work(ctx: Context) -> Response:
        who = viewer(request, ctx)
        page = log_page.log_page(ctx, episode_id, patient_id, user_id, after_id,
                                 access_after_id)
        return render(request, "audit/log.html", page, who)

    return await call(work)
