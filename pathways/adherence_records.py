"""What the adherence indicators read (pathways.adherence): an episode's events in log order,
the facts the checks ask of them (found in one pass), and the indicators' configurable
numbers, from a model's pathway.toml or the defaults."""

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
CARE_RECORDS = {"first_visit_recorded": "the first visit",
                "pi_session_delivered": "a psychologically informed session",
                "combined_session_delivered": "a combined-programme session"}
"""The records of care that carry imaging, referral, medication or treatments (the forms
first_visit, pi_session and combined_programme_session), as a sentence names each."""
PATIENT_ACTIVITY = frozenset({"education_completed", "exercise_week_completed",
                              "registry_questionnaire_completed"})
"""Events only a patient's own task emits (activity even in a log without `task_completed`)."""
EVENTS_READ = TREATMENT_EVENTS | ENDING_EVENTS | CARE_RECORDS.keys() | PATIENT_ACTIVITY | {
    "red_flag_screened", "red_flag_raised", "risk_stratified", "baseline_recorded",
    "follow_up_completed", "exercise_completed", "task_completed"}
"""The only events the indicators look at (the service reads no others)."""
EVENTS_WITH_DATA = frozenset({"follow_up_completed", "red_flag_raised",
                              "exercise_week_completed"}) | CARE_RECORDS.keys()
"""The only events whose data the indicators read (the others' may be left out); of
`task_completed` only the task's role is read."""
SPECIALIST_REFERRALS = frozenset({"specialist_spine", "orthopaedics", "rheumatology",
                                  "pain_clinic"})
"""First-visit referral options that send the patient to a specialist (forms/first_visit)."""
STRATA: tuple[str, ...] = get_args(Stratum)
_RED_FLAG_OUTCOMES = frozenset({"emergency", "urgent"})


@dataclass(frozen=True)
class EpisodeEvent:
    name: str
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    actor: int | None = None
    """Who recorded it (the service's user id); None for the engine's timers."""


def is_red_flag(raised: Mapping[str, Any]) -> bool:
    """Whether a `red_flag_raised` event is a red flag of serious pathology. Age alone is not
    (domain.md section 4): models before age became a noted risk factor (`risk_factor_noted`)
    raised it as `routine_specialist` with only `age_flag` in its groups."""
    groups = raised.get("red_flag_groups")
    if isinstance(groups, Mapping):
        return any(value for name, value in groups.items() if name != "age_flag")
    return raised.get("red_flag_outcome") in _RED_FLAG_OUTCOMES


@dataclass(frozen=True)
class EpisodeRecord:
    """One episode: when it was referred, its risk stratum and its events in log order."""

    started_at: datetime
    stratum: str | None
    events: Sequence[EpisodeEvent]
    settings: AdherenceSettings | None = None
    """The numbers of the episode's own model version; None: those given to `compute`."""
    sessions: Sequence[datetime] = ()
    """When the patient logged exercise sessions (the service's exercise log), in order."""
    episode_id: int | None = None

    @cached_property
    def facts(self) -> EpisodeFacts:
        """What the checks ask of the log, found in one pass over it."""
        return EpisodeFacts.of(self)

    def first(self, name: str) -> EpisodeEvent | None:
        place = self.facts.first_at.get(name)
        return None if place is None else self.events[place]

    def has(self, name: str) -> bool:
        return name in self.facts.first_at

    def position(self, names: Iterable[str]) -> int | None:
        """Where in the log the first event of any of `names` is (events of one step share a
        time, so the order of the log, not the time, says what came first)."""
        first_at = self.facts.first_at
        places = [first_at[name] for name in names if name in first_at]
        return min(places) if places else None

    def follow_up(self, week: int) -> EpisodeEvent | None:
        return self.facts.follow_ups.get(week)

    @property
    def ended_at(self) -> datetime | None:
        """When the episode left the pathway (escalated, discharged or completed)."""
        return self.facts.ended_at

    @property
    def first_visit_by(self) -> int | None:
        visit = self.first("first_visit_recorded")
        return visit.actor if visit else None


@dataclass(frozen=True, slots=True)
class CareRecord:
    """One record of care (CARE_RECORDS): what it is, and whether exercise went with it."""

    event: EpisodeEvent
    place: str
    """Where it was recorded, as a sentence says it: "the first visit"."""
    exercising: bool
    """The exercise programme was running (started earlier in the log and not completed)."""


@dataclass(frozen=True, slots=True)
class EpisodeFacts:
    first_at: dict[str, int]
    """Each event name's first place in the log."""
    ended_at: datetime | None
    ending: str | None
    """The first of ENDING_EVENTS, by name."""
    red_flag: bool
    """A red flag of serious pathology was raised (`is_red_flag`): age alone is not one."""
    records: tuple[CareRecord, ...]
    follow_ups: dict[int, EpisodeEvent]
    """The first follow-up done of each week."""
    education_read: tuple[datetime, ...]
    pi_sessions: int
    first_exercise_at: datetime | None
    """The first exercise session: logged, or reported by a weekly check-in."""
    activity: tuple[datetime, ...]
    """When the patient did something: a task of theirs, or an exercise session, in order."""

    @classmethod
    def of(cls, episode: EpisodeRecord) -> EpisodeFacts:
        first_at: dict[str, int] = {}
        ended: EpisodeEvent | None = None
        red_flag, exercising = False, False
        records: list[CareRecord] = []
        follow_ups: dict[int, EpisodeEvent] = {}
        education: list[datetime] = []
        pi_sessions = 0
        reported: datetime | None = None
        activity = list(episode.sessions)
        for place, event in enumerate(episode.events):
            name = event.name
            if name not in first_at:
                first_at[name] = place
            if name == "task_completed":
                if event.data.get("role") == "patient":
                    activity.append(event.at)
                continue
            if name in CARE_RECORDS:
                records.append(CareRecord(event, CARE_RECORDS[name], exercising))
                if name == "pi_session_delivered":
                    pi_sessions += 1
            elif name in PATIENT_ACTIVITY:
                activity.append(event.at)
                if name == "education_completed":
                    education.append(event.at)
                elif reported is None and _positive(event.data.get("sessions_done")):
                    reported = event.at
            elif name == "follow_up_completed":
                week = event.data.get("follow_up_week")
                if isinstance(week, int) and week not in follow_ups:
                    follow_ups[week] = event
            elif name == "red_flag_raised":
                red_flag = red_flag or is_red_flag(event.data)
            elif name == "exercise_started":
                exercising = True
            elif name == "exercise_completed":
                exercising = False
            elif name in ENDING_EVENTS and ended is None:
                ended = event
        logged = episode.sessions[0] if episode.sessions else None
        first_exercise = min((t for t in (logged, reported) if t is not None), default=None)
        return cls(first_at, ended.at if ended else None, ended.name if ended else None,
                   red_flag, tuple(records), follow_ups, tuple(education), pi_sessions,
                   first_exercise, tuple(sorted(activity)))


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


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
    enrolment_days: int = 7
    """Engagement (NICE HTE16): active at enrolment = a task of the patient's done within
    this many days of the referral (a measuring choice, config; HTE16 fixes none)."""
    first_session_days: int = 14
    """Engagement: a first session is due this many days after the first visit (config)."""
    active_window_days: int = 14
    """Engagement: active at day D = some activity in this many days up to day D
    (config; two weekly check-ins fit in it)."""
    disengaged_days: int = 28
    """Engagement: an episode still open with no activity for this many days has stopped,
    disengaged (config)."""

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
