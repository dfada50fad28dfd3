"""Guideline-adherence indicators (shared/domain.md section 7), computed from the event log.

Each indicator is a numerator over a denominator of episodes. An episode enters the
denominator only when the indicator applies to it and is due: a follow-up whose window has
not closed yet is not counted as missed, and an episode that left the pathway before a
deadline is not counted against it. Each indicator's function below answers, for one
episode, True (met), False (breached) or None (does not apply, or not due yet).

Indicator: denominator (episodes ...) -> numerator (those where ...)

1. with any treatment recorded (first visit, education, exercise, PI session) -> the red-flag
   screen comes earlier in the log than the first treatment.
2. with a first visit -> risk was stratified (STarT Back) before the first visit.
3. with a first visit, once `education_days` have passed since it (or met sooner) -> key
   education messages were recorded at the first visit, or a module was read in that time.
4. medium or high risk, once `exercise_days` have passed since referral (or met sooner) ->
   the exercise programme started within `exercise_days` of referral.
5. high risk with a first visit, once `pi_days` have passed since it (or met sooner) -> at
   least `pi_sessions` psychologically informed sessions were delivered.
6. with a first visit and no red flag raised -> no imaging requested at the first visit.
7. with a first visit -> it recorded no treatment or medication NICE NG59 says not to offer
   (pathways.guidelines), nor manual or psychological therapy without exercise.
8. with a first visit and no red flag raised -> the first visit made no specialist referral
   (the pathway's own referral follows a failed 6-week review: not a breach).
9. with a first visit and a follow-up done or past its window -> every such follow-up was
   done within `window_days` of its due time (`follow_up_weeks` after the first visit).
10. with a first visit, once the last of `prom_weeks` is past its window (or done) -> PROMs
    were recorded at baseline and at each of `prom_weeks`.
11. with PROMs at the last of `prom_weeks` -> they reached an MCID on a primary measure
    (the pathway's own improvement test: `primary_improved`, pathway.toml's
    improvement_primary_measures; an event recorded before that test has only
    `any_improved`, an MCID on any measure, which is read instead); also by stratum.
12. with a first visit and no red flag raised -> all five BetterBack quality-index items were
    met on the first-visit record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from .adherence_records import (
    SPECIALIST_REFERRALS,
    STRATA,
    TREATMENT_EVENTS,
    AdherenceSettings,
    EpisodeRecord,
)
from .guidelines import DO_NOT_OFFER_MEDICATION, DO_NOT_OFFER_TREATMENTS, NEEDS_EXERCISE

Verdict = bool | None
Check = Callable[[EpisodeRecord, AdherenceSettings, datetime], Verdict]


def _unless_not_due(episode: EpisodeRecord, deadline: datetime, now: datetime) -> Verdict:
    """A breach once the deadline has passed, unless the episode left the pathway before it."""
    ended = episode.ended_at
    if deadline >= now or (ended is not None and ended < deadline):
        return None
    return False


def _visit(episode: EpisodeRecord, *keys: str, benign: bool = False) -> Mapping[str, Any] | None:
    """The first visit's data when it has `keys`; with `benign`, only without a red flag."""
    visit = episode.first("first_visit_recorded")
    if visit is None or any(key not in visit.data for key in keys):
        return None
    if benign and episode.has("red_flag_raised"):
        return None
    return visit.data


def _against_advice(visit: Mapping[str, Any]) -> bool:
    """Whether a first visit recorded something NICE NG59 says not to offer (not imaging)."""
    treatments, medication = _options(visit, "treatments"), _options(visit, "medication")
    without_exercise = set(NEEDS_EXERCISE) if "exercise" not in treatments else set()
    return bool(treatments & (set(DO_NOT_OFFER_TREATMENTS) | without_exercise)
                or medication & set(DO_NOT_OFFER_MEDICATION))


def _options(visit: Mapping[str, Any], key: str) -> set[str]:
    """The options ticked in one of the first visit's multiple-choice fields."""
    value = visit.get(key)
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()


def _referred_to_specialist(visit: Mapping[str, Any]) -> bool:
    referral = visit.get("referral_made")
    return isinstance(referral, str) and referral in SPECIALIST_REFERRALS


def _logged_before(episode: EpisodeRecord, earlier: str, later: Iterable[str]) -> Verdict:
    """Not counted until one of `later` is logged; then, whether `earlier` came before it."""
    then = episode.position(later)
    if then is None:
        return None
    before = episode.position([earlier])
    return before is not None and before < then


def screened_before_treatment(episode: EpisodeRecord, settings: AdherenceSettings,
                              now: datetime) -> Verdict:
    return _logged_before(episode, "red_flag_screened", TREATMENT_EVENTS)


def stratified_at_first_contact(episode: EpisodeRecord, settings: AdherenceSettings,
                                now: datetime) -> Verdict:
    return _logged_before(episode, "risk_stratified", ["first_visit_recorded"])


def education_in_time(episode: EpisodeRecord, settings: AdherenceSettings,
                      now: datetime) -> Verdict:
    visit = episode.first("first_visit_recorded")
    if visit is None:
        return None
    if visit.data.get("education_given"):
        return True
    deadline = visit.at + timedelta(days=settings.education_days)
    if any(e.name == "education_completed" and e.at <= deadline for e in episode.events):
        return True
    return _unless_not_due(episode, deadline, now)


def exercise_in_time(episode: EpisodeRecord, settings: AdherenceSettings,
                     now: datetime) -> Verdict:
    if episode.stratum not in ("medium", "high"):
        return None
    deadline = episode.started_at + timedelta(days=settings.exercise_days)
    started = episode.first("exercise_started")
    if started is not None and started.at <= deadline:
        return True
    return _unless_not_due(episode, deadline, now)


def pi_sessions_delivered(episode: EpisodeRecord, settings: AdherenceSettings,
                          now: datetime) -> Verdict:
    visit = episode.first("first_visit_recorded")
    if episode.stratum != "high" or visit is None:
        return None
    delivered = sum(e.name == "pi_session_delivered" for e in episode.events)
    if delivered >= settings.pi_sessions:
        return True
    return _unless_not_due(episode, visit.at + timedelta(days=settings.pi_days), now)


def no_imaging_without_red_flag(episode: EpisodeRecord, settings: AdherenceSettings,
                                now: datetime) -> Verdict:
    visit = _visit(episode, "imaging", benign=True)
    return None if visit is None else visit["imaging"] in (None, "none")


def nothing_not_to_offer(episode: EpisodeRecord, settings: AdherenceSettings,
                         now: datetime) -> Verdict:
    visit = _visit(episode, "treatments", "medication")
    return None if visit is None else not _against_advice(visit)


def no_early_specialist_referral(episode: EpisodeRecord, settings: AdherenceSettings,
                                 now: datetime) -> Verdict:
    visit = _visit(episode, "referral_made", benign=True)
    return None if visit is None else not _referred_to_specialist(visit)


def follow_ups_on_time(episode: EpisodeRecord, settings: AdherenceSettings,
                       now: datetime) -> Verdict:
    visit = episode.first("first_visit_recorded")
    if visit is None:
        return None
    window = timedelta(days=settings.window_days)
    verdicts: list[Verdict] = []
    for week in settings.follow_up_weeks:
        due = visit.at + timedelta(weeks=week)
        done = episode.follow_up(week)
        verdicts.append(abs(done.at - due) <= window if done is not None
                        else _unless_not_due(episode, due + window, now))
    counted = [v for v in verdicts if v is not None]
    return all(counted) if counted else None


def proms_complete(episode: EpisodeRecord, settings: AdherenceSettings,
                   now: datetime) -> Verdict:
    visit = episode.first("first_visit_recorded")
    if visit is None or not settings.prom_weeks:
        return None
    last = settings.prom_weeks[-1]
    if episode.follow_up(last) is None:
        due = visit.at + timedelta(weeks=last, days=settings.window_days)
        return _unless_not_due(episode, due, now)
    return episode.has("baseline_recorded") and all(
        episode.follow_up(week) is not None for week in settings.prom_weeks)


def improved_at_outcome_week(episode: EpisodeRecord, settings: AdherenceSettings,
                             now: datetime) -> Verdict:
    done = episode.follow_up(settings.prom_weeks[-1]) if settings.prom_weeks else None
    improvement = done.data.get("improvement") if done is not None else None
    if not isinstance(improvement, Mapping):
        return None
    for judgement in ("primary_improved", "any_improved"):  # the newer test first
        if judgement in improvement:
            return improvement[judgement] is True
    return None


def quality_index_met(episode: EpisodeRecord, settings: AdherenceSettings,
                      now: datetime) -> Verdict:
    visit = _visit(episode, "imaging", "referral_made", "education_given", "treatments",
                   "medication", benign=True)
    if visit is None:
        return None
    return (visit["imaging"] != "xray"
            and not _referred_to_specialist(visit)
            and bool(visit["education_given"])
            and ("exercise" in _options(visit, "treatments") or episode.has("exercise_started"))
            and not _against_advice(visit))


@dataclass(frozen=True)
class Indicator:
    id: int
    name: str
    check: Check | None
    """None: the reference pathway's events cannot support it (see `note`)."""
    note: str
    by_stratum: bool = False

    @property
    def available(self) -> bool:
        return self.check is not None


INDICATORS: tuple[Indicator, ...] = (
    Indicator(1, "Red-flag screen completed before any treatment", screened_before_treatment,
              "Treatment: the first visit, education, exercise or a psychologically informed "
              "session, whichever the log shows first."),
    Indicator(2, "Risk stratified at first contact", stratified_at_first_contact,
              "STarT Back stratification recorded before the first visit (NICE NG59 1.1.2)."),
    Indicator(3, "Education given by the first visit or within {education_days} days",
              education_in_time, "Key messages recorded at the first visit, or an education "
              "module read in the days after it."),
    Indicator(4, "Medium/high risk: exercise started within {exercise_days} days of referral",
              exercise_in_time, "Counted from the referral (the episode's start)."),
    Indicator(5, "High risk: {pi_sessions} psychologically informed sessions delivered",
              pi_sessions_delivered,
              "Due {pi_days} days after the first visit (or once all are delivered)."),
    Indicator(6, "No imaging without a red flag (NICE QS155 statement 2)",
              no_imaging_without_red_flag,
              "Imaging is recorded at the first visit only; episodes with a red flag raised "
              "are left out."),
    Indicator(7, "No treatment NICE NG59 says not to offer", nothing_not_to_offer,
              "Treatments and medication recorded at the first visit, including manual or "
              "psychological therapy without exercise; later visits record none."),
    Indicator(8, "No specialist referral for benign low back pain without failed treatment",
              no_early_specialist_referral,
              "A specialist referral at the first visit is a breach; the pathway's own "
              "referral after a failed 6-week review is not. Red-flag episodes are left out."),
    Indicator(9, "Each follow-up done within +/- {window_days} days", follow_ups_on_time,
              "Follow-ups fall due {follow_up_weeks} weeks after the first visit; one is not "
              "counted before its window closes."),
    Indicator(10, "PROMs completed at baseline and weeks {prom_weeks}", proms_complete,
              "Due once the last week's window has closed; episodes that left the pathway "
              "before it are left out."),
    Indicator(11, "Reached the MCID at the last follow-up, by stratum",
              improved_at_outcome_week,
              "Among episodes with PROMs at the last of weeks {prom_weeks}: an MCID reached "
              "on a primary measure, by default the disability index or PSFS (the pathway's "
              "own improvement test, pathway.toml improvement_primary_measures); follow-ups "
              "recorded before that test count an MCID on any measure.",
              by_stratum=True),
    Indicator(12, "BetterBack quality index: all 5 items met", quality_index_met,
              "On the first-visit record of episodes without a red flag: no X-ray, no "
              "specialist referral, education given (the record has no separate "
              "behavioural-medicine field), exercise as treatment, nothing NG59 advises "
              "against."),
)


@dataclass(frozen=True)
class Tally:
    numerator: int = 0
    denominator: int = 0

    @property
    def rate(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    def add(self, verdict: Verdict) -> Tally:
        if verdict is None:
            return self
        return Tally(self.numerator + (1 if verdict else 0), self.denominator + 1)


@dataclass(frozen=True)
class IndicatorResult:
    indicator: Indicator
    name: str
    note: str
    """The indicator's name and note with the settings' numbers filled in."""
    tally: Tally
    by_stratum: dict[str, Tally]
    """Only for indicators marked `by_stratum`; empty otherwise."""


def compute(episodes: Sequence[EpisodeRecord], now: datetime,
            settings: AdherenceSettings | None = None) -> list[IndicatorResult]:
    """Every indicator over these episodes, as of `now`."""
    settings = settings or AdherenceSettings()
    numbers = {k: _listed(v) for k, v in asdict(settings).items()}
    results = []
    for indicator in INDICATORS:
        tally = Tally()
        strata = {stratum: Tally() for stratum in STRATA} if indicator.by_stratum else {}
        check = indicator.check
        for episode in episodes:
            verdict = (check(episode, episode.settings or settings, now) if check is not None
                       else None)
            tally = tally.add(verdict)
            if episode.stratum in strata:
                strata[episode.stratum] = strata[episode.stratum].add(verdict)
        results.append(IndicatorResult(indicator, indicator.name.format(**numbers),
                                       indicator.note.format(**numbers), tally, strata))
    return results


def _listed(value: object) -> str:
    """A setting as it reads in a sentence: 6, or 2, 6 and 12."""
    if not isinstance(value, tuple):
        return str(value)
    words = [str(v) for v in value]
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"
