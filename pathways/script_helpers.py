"""The documented helpers a pathway model may call from scripts, conditions, timers and DMN cells.

This is the whole vocabulary a model has beyond task data and a few safe builtins (see
`pathways.sandbox`). Every helper takes and returns plain data (text, numbers, lists,
dicts), so task data stays plain JSON. Dates travel as ISO 8601 text in UTC.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from . import clock
from . import exercises as _exercises
from . import instruments as _instruments
from .education import default_catalogue


def now() -> str:
    """The current time (the injected clock) as ISO 8601 text in UTC."""
    return clock.now().astimezone(UTC).isoformat()


def today() -> str:
    """Today's date (the injected clock) as YYYY-MM-DD."""
    return clock.now().astimezone(UTC).date().isoformat()


def _parse(moment: str) -> datetime:
    if not isinstance(moment, str):
        raise ValueError(f"expected an ISO date/time text, got {type(moment).__name__}")
    parsed = datetime.fromisoformat(moment)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso_duration(weeks: int = 0, days: int = 0, hours: int = 0, minutes: int = 0) -> str:
    """An ISO 8601 duration for a timer, e.g. iso_duration(hours=24) -> 'PT24H'."""
    parts = {"weeks": weeks, "days": days, "hours": hours, "minutes": minutes}
    for name, value in parts.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"iso_duration {name} must be a whole number of zero or more")
    total_days = weeks * 7 + days
    text = "P" + (f"{total_days}D" if total_days else "")
    if hours or minutes:
        text += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text if text != "P" else "PT0M"


def add_days(moment: str, days: float) -> str:
    """`moment` plus a number of days, as ISO text."""
    return (_parse(moment) + timedelta(days=days)).isoformat()


def weeks_after(moment: str, weeks: float) -> str:
    """`moment` plus a number of weeks, as ISO text (used by follow-up timers)."""
    return (_parse(moment) + timedelta(weeks=weeks)).isoformat()


def months_after(moment: str, months: int) -> str:
    """`moment` plus whole calendar months (day clipped to the month's length)."""
    start = _parse(moment)
    month_index = start.month - 1 + int(months)
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day).isoformat()


def days_between(start: str, end: str) -> float:
    """Days from `start` to `end` (negative when `end` is earlier)."""
    return (_parse(end) - _parse(start)).total_seconds() / 86400


def date_of(moment: str) -> str:
    """The calendar date (YYYY-MM-DD) of an ISO date/time."""
    if "T" in moment:
        return _parse(moment).date().isoformat()
    return date.fromisoformat(moment).isoformat()


def count_true(answers: Mapping[str, Any], keys: Sequence[str]) -> int:
    """How many of `keys` are true in `answers` (a missing key counts as not true)."""
    return sum(1 for key in keys if answers.get(key) is True)


def _scored(scorer: Callable[[Mapping[str, object]], Any]) -> Callable[[Mapping[str, object]],
                                                                       dict[str, Any]]:
    def helper(answers: Mapping[str, object]) -> dict[str, Any]:
        result: dict[str, Any] = scorer(answers).as_dict()
        return result

    helper.__name__ = scorer.__name__
    helper.__doc__ = scorer.__doc__
    return helper


def prom_scores(proms: Mapping[str, Any]) -> dict[str, Any]:
    """Score a PROM set {pain_nrs, disability, pseq, psfs} into {pain, disability, pseq, psfs}.

    Each part is optional; a missing part scores None. These keys are what
    `improvement_summary` compares.
    """
    scores: dict[str, Any] = {"pain": None, "disability": None, "pseq": None, "psfs": None}
    if proms.get("pain_nrs") is not None:
        scores["pain"] = _instruments.score_pain_nrs({"NRS": proms["pain_nrs"]}).score
    if proms.get("disability"):
        scores["disability"] = _instruments.score_disability(proms["disability"]).score
    if proms.get("pseq"):
        scores["pseq"] = _instruments.score_pseq(proms["pseq"]).total
    if proms.get("psfs"):
        scores["psfs"] = _instruments.score_psfs(proms["psfs"]).score
    return scores


def improvement_summary(baseline: Mapping[str, Any], follow_up: Mapping[str, Any],
                        primary: Sequence[str] | None = None,
                        supporting: Sequence[str] | None = None) -> dict[str, Any]:
    """Which measures improved by at least their MCID (domain.md section 5), and whether a
    primary measure did (`primary_improved`: the judgement). Models pass
    settings['improvement_primary_measures'] and settings['improvement_supporting_measures'];
    without them, the disability index and PSFS are primary and pain supports."""
    return dict(_instruments.improvement_summary(baseline, follow_up, primary, supporting))


def education_modules_for(stratum: str,
                          start_back_result: Mapping[str, Any] | None = None) -> list[str]:
    """Ids of the education modules for a patient, in reading order: those of their STarT Back
    stratum and, given their scored STarT Back (`score_start_back`), those that address a
    positive fear or worry item (domain.md section 1 item 4, section 2.7: education follows
    need, not only stratum)."""
    result = start_back_result or {}
    concerns = [name for name in _instruments.START_BACK_CONCERNS if result.get(name) is True]
    return [module.id for module in default_catalogue().for_patient(stratum, concerns)]


def check_education_answers(module: str, answers: Sequence[int]) -> dict[str, Any]:
    """Mark a module's check questions: {correct, total, passed}."""
    result = default_catalogue().check_answers(module, answers)
    return {"correct": result.correct, "total": result.total, "passed": result.passed}


def starting_programme(stratum: str, findings: Mapping[str, object] | None = None) -> list[Any]:
    """The first exercise programme for a stratum and first-visit findings."""
    return list(_exercises.starting_programme(stratum, findings or {}))


def exercise_week(programme: list[Any], check_in: Mapping[str, Any],
                  sessions_per_week: int) -> list[Any]:
    """One row per exercise for the progression table: pain during exercise and whether it
    settled (for the exercises that brought it on), too hard, share of sessions done, and
    whether last week gave the same exercise a warning sign."""
    return list(_exercises.week_inputs(programme, check_in, sessions_per_week))


def apply_exercise_decisions(programme: list[Any], decisions: list[Any],
                             step_percent: int) -> list[Any]:
    """The programme after one decision per exercise ('progress', 'hold', 'hold_signal',
    'hold_alert', 'regress_alert', 'regress'), each a rung on its own ladder."""
    return list(_exercises.apply_week_decisions(programme, decisions, step_percent))


HELPERS: dict[str, Callable[..., Any]] = {
    "now": now,
    "today": today,
    "iso_duration": iso_duration,
    "add_days": add_days,
    "weeks_after": weeks_after,
    "months_after": months_after,
    "days_between": days_between,
    "date_of": date_of,
    "count_true": count_true,
    "score_start_back": _scored(_instruments.score_start_back),
    "score_disability": _scored(_instruments.score_disability),
    "score_pain_nrs": _scored(_instruments.score_pain_nrs),
    "score_psfs": _scored(_instruments.score_psfs),
    "score_pseq": _scored(_instruments.score_pseq),
    "score_fabq": _scored(_instruments.score_fabq),
    "prom_scores": prom_scores,
    "improvement_summary": improvement_summary,
    "education_modules_for": education_modules_for,
    "check_education_answers": check_education_answers,
    "starting_programme": starting_programme,
    "exercise_week": exercise_week,
    "apply_exercise_decisions": apply_exercise_decisions,
}
"""Name -> helper, exactly what models see. Documented in docs/model-authors.md, "Model
helpers"."""
