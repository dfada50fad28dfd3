"""What the adherence indicators read (pathways.adherence): an episode's events in log order,
and the indicators' configurable numbers, from a model's pathway.toml or the defaults."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, get_args

from .instruments.scoring import Stratum

TREATMENT_EVENTS = frozenset({"first_visit_recorded", "education_assigned", "education_completed",
                              "exercise_started", "pi_session_delivered", "programme_changed"})
ENDING_EVENTS = frozenset({"episode_escalated", "episode_discharged", "episode_completed"})
EVENTS_READ = TREATMENT_EVENTS | ENDING_EVENTS | {
    "red_flag_screened", "red_flag_raised", "risk_stratified", "baseline_recorded",
    "follow_up_completed"}
"""The only events the indicators look at (the service reads no others)."""
EVENTS_WITH_DATA = frozenset({"first_visit_recorded", "follow_up_completed"})
"""The only events whose data the indicators read (the others' may be left out)."""
SPECIALIST_REFERRALS = frozenset({"specialist_spine", "orthopaedics", "rheumatology",
                                  "pain_clinic"})
"""First-visit referral options that send the patient to a specialist (forms/first_visit)."""
STRATA: tuple[str, ...] = get_args(Stratum)


@dataclass(frozen=True)
class EpisodeEvent:
    name: str
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    actor: int | None = None
    """Who recorded it (the service's user id); None for the engine's timers."""


@dataclass(frozen=True)
class EpisodeRecord:
    """One episode: when it was referred, its risk stratum and its events in log order."""

    started_at: datetime
    stratum: str | None
    events: Sequence[EpisodeEvent]
    settings: AdherenceSettings | None = None
    """The numbers of the episode's own model version; None: those given to `compute`."""

    @cached_property
    def _first_at(self) -> dict[str, int]:
        """Each event name's first place in the log (the twelve checks ask again and again)."""
        places: dict[str, int] = {}
        for place, event in enumerate(self.events):
            places.setdefault(event.name, place)
        return places

    def first(self, name: str) -> EpisodeEvent | None:
        place = self._first_at.get(name)
        return None if place is None else self.events[place]

    def has(self, name: str) -> bool:
        return name in self._first_at

    def position(self, names: Iterable[str]) -> int | None:
        """Where in the log the first event of any of `names` is (events of one step share a
        time, so the order of the log, not the time, says what came first)."""
        places = [self._first_at[name] for name in names if name in self._first_at]
        return min(places) if places else None

    def follow_up(self, week: int) -> EpisodeEvent | None:
        return next((e for e in self.events if e.name == "follow_up_completed"
                     and e.data.get("follow_up_week") == week), None)

    @cached_property
    def ended_at(self) -> datetime | None:
        """When the episode left the pathway (escalated, discharged or completed)."""
        ended = [e.at for e in self.events if e.name in ENDING_EVENTS]
        return min(ended) if ended else None

    @property
    def first_visit_by(self) -> int | None:
        visit = self.first("first_visit_recorded")
        return visit.actor if visit else None


@dataclass(frozen=True)
class AdherenceSettings:
    """The indicators' configurable numbers (domain.md section 7 marks them config)."""

    education_days: int = 7
    """Indicator 3: education within this many days of the first visit (7, config)."""
    exercise_days: int = 14
    """Indicator 4: exercise within this many days of referral (14, config)."""
    window_days: int = 3
    """Indicator 9: a follow-up is on time within +/- this many days (3, config)."""
    follow_up_weeks: tuple[int, ...] = (2, 6, 12)
    """When follow-ups fall due, in weeks after the first visit (pathway.toml)."""
    prom_weeks: tuple[int, ...] = (6, 12)
    """Indicators 10 and 11: PROMs besides baseline; the last is the outcome week."""
    pi_sessions: int = 4
    """Indicator 5: sessions to deliver (pathway.toml pi_sessions, a clinic choice)."""
    pi_days: int = 28
    """Indicator 5: due this many days after the first visit: 4 sessions, one due a week
    (pathway.toml exercise_cycle_days); a clinic choice like pi_sessions."""

    @classmethod
    def of_model(cls, settings: Mapping[str, Any]) -> AdherenceSettings:
        """The numbers a model's pathway.toml [settings] fix; the others keep their defaults."""
        default = cls()
        weeks = settings.get("follow_up_weeks", default.follow_up_weeks)
        follow_up_weeks = (tuple(weeks) if isinstance(weeks, (list, tuple))
                           and all(_whole(w) for w in weeks) else default.follow_up_weeks)

        def number(name: str, fallback: int) -> int:
            value = settings.get(name, fallback)
            return value if _whole(value) else fallback

        pi_sessions = number("pi_sessions", default.pi_sessions)
        return cls(education_days=number("education_due_days", default.education_days),
                   window_days=number("follow_up_due_days", default.window_days),
                   follow_up_weeks=follow_up_weeks, pi_sessions=pi_sessions,
                   pi_days=pi_sessions * number("exercise_cycle_days", 7),
                   exercise_days=default.exercise_days, prom_weeks=default.prom_weeks)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
