"""The auditors' landing page (`/audit`): the adherence indicators of a period, for all clinics
together, per clinic and per clinician, each with the change from the period before, and
their rates month by month. The numbers are those of `GET /api/audit/indicators`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from pathways import adherence
from service.audit.indicators import (
    Breach,
    adherence_indicators,
    clinic_names,
    indicator_breaches,
)
from service.audit.schemas import EngagementPublic, IndicatorPublic, IndicatorsPublic
from service.core import access
from service.core.context import Context
from service.core.errors import InvalidRequestError

TREND_MONTHS = 6


@dataclass(frozen=True)
class IndicatorRow:
    id: int
    name: str
    numerator: int
    denominator: int
    rate: float | None
    previous_rate: float | None
    available: bool
    note: str

    @property
    def change(self) -> float | None:
        """The change of the rate from the period before, in percentage points."""
        if self.rate is None or self.previous_rate is None:
            return None
        return round((self.rate - self.previous_rate) * 100, 1)


@dataclass(frozen=True)
class Group:
    """All clinics, one clinic or one clinician: its episodes and its indicators."""

    name: str
    episodes: int
    rows: tuple[IndicatorRow, ...]
    clinic_id: int | None = None
    engagement: EngagementPublic | None = None
    """NICE HTE16's digital engagement (per clinic)."""


@dataclass(frozen=True)
class Trend:
    months: tuple[str, ...]
    series: tuple[tuple[int, str, tuple[float | None, ...]], ...]
    """(indicator id, name, rate per month as a percentage) for the chart."""


@dataclass(frozen=True)
class AuditDashboard:
    start: date
    end: date
    previous_start: date
    previous_end: date
    clinic_id: int | None
    clinics: tuple[tuple[int, str], ...]
    overall: Group
    by_clinic: tuple[tuple[Group, tuple[Group, ...]], ...]
    """Each clinic with its clinicians (whoever recorded the first visit)."""
    trend: Trend


def dashboard(ctx: Context, start: date | None, end: date | None,
              clinic_id: int | None) -> AuditDashboard:
    access.require_role(ctx.user, "auditor")
    end = end or ctx.now.date()
    start = start or end - timedelta(days=364)
    if start > end:
        raise InvalidRequestError("the period starts after it ends",
                                  [{"field": "start", "message": "must be on or before end"}])
    previous_end = start - timedelta(days=1)
    previous_start = previous_end - (end - start)
    now = adherence_indicators(ctx, start, end, clinic_id)
    before = adherence_indicators(ctx, previous_start, previous_end, clinic_id)
    earlier = {c.clinic_id: c for c in before.clinics}
    by_clinic = []
    for clinic in now.clinics:
        old = earlier.get(clinic.clinic_id)
        old_clinicians = {c.user_id: c.indicators for c in old.clinicians} if old else {}
        by_clinic.append((
            Group(clinic.name, clinic.episodes,
                  _rows(clinic.indicators, old.indicators if old else []), clinic.clinic_id,
                  clinic.engagement),
            tuple(Group(c.name, c.episodes, _rows(c.indicators, old_clinicians.get(c.user_id,
                                                                                   [])))
                  for c in clinic.clinicians)))
    return AuditDashboard(
        start=start, end=end, previous_start=previous_start, previous_end=previous_end,
        clinic_id=clinic_id, clinics=tuple(clinic_names(ctx).items()),
        overall=Group("All clinics" if clinic_id is None else "This clinic",
                      sum(c.episodes for c in now.clinics),
                      _rows(_summed(now), _summed(before))),
        by_clinic=tuple(by_clinic), trend=_trend(ctx, end, clinic_id))


def _rows(indicators: Iterable[IndicatorPublic],
          previous: Iterable[IndicatorPublic]) -> tuple[IndicatorRow, ...]:
    earlier = {i.id: i.rate for i in previous}
    return tuple(IndicatorRow(i.id, i.name, i.numerator, i.denominator, i.rate,
                              earlier.get(i.id), i.available, i.note) for i in indicators)


def _summed(result: IndicatorsPublic) -> list[IndicatorPublic]:
    """The clinics' indicators added up (numerators and denominators)."""
    total: dict[int, IndicatorPublic] = {}
    for clinic in result.clinics:
        for indicator in clinic.indicators:
            seen = total.get(indicator.id)
            if seen is None:
                total[indicator.id] = indicator.model_copy(update={"by_stratum": []})
                continue
            numerator = seen.numerator + indicator.numerator
            denominator = seen.denominator + indicator.denominator
            total[indicator.id] = seen.model_copy(update={
                "numerator": numerator, "denominator": denominator,
                "rate": numerator / denominator if denominator else None})
    return [total[key] for key in sorted(total)]


def _trend(ctx: Context, end: date, clinic_id: int | None) -> Trend:
    """Each indicator's rate over the episodes that started in each of the last months."""
    months: list[tuple[date, date]] = []
    first = end.replace(day=1)
    for _ in range(TREND_MONTHS):
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        months.append((first, min(last, end)))
        first = (first - timedelta(days=1)).replace(day=1)
    months.reverse()
    rates: dict[int, list[float | None]] = {}
    names: dict[int, str] = {}
    for month_start, month_end in months:
        for indicator in _summed(adherence_indicators(ctx, month_start, month_end, clinic_id)):
            names[indicator.id] = indicator.name
            rate = None if indicator.rate is None else round(indicator.rate * 100, 1)
            rates.setdefault(indicator.id, []).append(rate)
    return Trend(tuple(m.strftime("%b %Y") for m, _ in months),
                 tuple((key, names[key], tuple(rates[key])) for key in sorted(rates)))


@dataclass(frozen=True)
class BreachesPage:
    """The episodes that do not meet one indicator in a period, and why: episode numbers, never
    patients' names."""

    indicator: int
    name: str
    start: date
    end: date
    clinic_id: int | None
    breaches: tuple[Breach, ...]
    clinicians: dict[int, str]


def breaches_page(ctx: Context, indicator: int, start: date | None, end: date | None,
                  clinic_id: int | None) -> BreachesPage:
    access.require_role(ctx.user, "auditor")
    end = end or ctx.now.date()
    start = start or end - timedelta(days=364)
    found = indicator_breaches(ctx, indicator, start, end, clinic_id)
    result = adherence_indicators(ctx, start, end, clinic_id)
    names = {c.user_id: c.name for clinic in result.clinics for c in clinic.clinicians}
    name = next((i.name for i in _summed(result) if i.id == indicator),
                next(i.name for i in adherence.INDICATORS if i.id == indicator))
    return BreachesPage(indicator, name, start, end, clinic_id, tuple(found), names)
