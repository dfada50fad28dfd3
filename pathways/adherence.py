"""Guideline-adherence indicators (shared/domain.md section 7), computed from the event log.

Each indicator is a numerator over a denominator of episodes. An episode enters the
denominator only when the indicator applies to it and is due: a follow-up whose window has
not closed yet is not counted as missed, and an episode that left the pathway before a
deadline is not counted against it. Each indicator's check below answers, for one episode, a
`Finding`: its verdict, True (met), False (breached) or None (does not apply, or not due
yet), and for a breach the reason in a plain sentence (what an auditor's drill-down shows).

A red flag is a `red_flag_raised` event of serious pathology (`is_red_flag`): age alone (> 50
or < 20) is a risk factor (`risk_factor_noted`, or an older model's `routine_specialist`
outcome with only `age_flag`), never a red flag, so it takes no one out of 6, 8 or 12.
Records of care are the first visit, psychologically informed sessions and combined-programme
sessions (`CARE_RECORDS`): indicators 6, 7, 8 and 12 read imaging, referral, medication and
treatments from each of them, not from the first visit only.

Indicator: denominator (episodes ...) -> numerator (those where ...)

1. with any treatment recorded (first visit, education, exercise, PI session) -> the red-flag
   screen comes earlier in the log than the first treatment.
2. with a first visit -> risk was stratified (STarT Back) before the first visit.
3. with a first visit, once `education_days` have passed since it (or met sooner) -> key
   education messages were recorded at the first visit, or a module was read in that time.
4. medium or high risk, once `exercise_days` have passed since referral (or met sooner) ->
   the first exercise session came within `exercise_days` of referral: the first one the
   patient logged, or the first weekly check-in reporting one (the programme being assigned
   is not a session).
5. high risk with a first visit, once `pi_days` have passed since it (or met sooner) -> at
   least `pi_sessions` psychologically informed sessions were delivered.
6. with a first visit recording imaging and no red flag -> no record of care requested
   imaging (X-ray, CT or MRI).
7. with a first visit recording treatments or medication -> no record of care gave a
   treatment or medication NICE NG59 says not to offer (pathways.guidelines), nor manual
   therapy, massage or psychological therapy without exercise (ticked on the same record, or
   the exercise programme running: started and not completed).
8. with a first visit recording a referral and no red flag -> no record of care made a
   specialist referral (the pathway's own referral after a failed 6-week review is not one).
9. with a first visit and a follow-up done or past its window -> every such follow-up was
   done within `window_days` of its due time (`follow_up_weeks` after the first visit).
10. with a first visit, once the last of `prom_weeks` is past its window (or done) -> PROMs
    were recorded at baseline and at each of `prom_weeks`.
11. with PROMs at the last of `prom_weeks` -> they reached an MCID on a primary measure
    (the pathway's own improvement test: `primary_improved`, pathway.toml's
    improvement_primary_measures; an event recorded before that test has only
    `any_improved`, an MCID on any measure, which is read instead); also by stratum.
12. with a first visit and no red flag -> all five BetterBack quality-index items met, each
    judged by what the patient's stratum calls for: no imaging at all (6); no specialist
    referral (8); key education messages at the first visit; exercise as treatment (on a
    record, an assigned programme or a session) for medium, high or unstratified patients,
    while low risk calls for advice and education only (STarT Back: Hill 2011); nothing
    NG59 advises against (7).

Digital engagement (NICE HTE16), per episode and as of `now`. carepath logs no logins, so
"activity" is what the patient did: a completed task of the patient's role (screen, intake,
check-in, follow-up, education module, registry questionnaire) or a logged exercise session.

- active at enrolment: some activity within `enrolment_days` of the referral; counted once
  those days have passed (or met sooner).
- first session: after a first visit, a first exercise session (logged, or reported by a
  check-in) or an education module read; counted once `first_session_days` have passed
  since the first visit (or met sooner), unless the episode ended before that.
- active at 30 days, 6 months (182 days), 12 months (365 days): some activity in the
  `active_window_days` up to that day after the referral; counted once the day has come.
  An episode that ended before it counts as not active (the reason says why it stopped).
- reason for stopping: the first ending event: `discharged`, `left_for_red_flag` (the
  red-flag route's escalation), `completed` (the pathway ran to its end without either);
  an open episode with no activity (nor referral) in the last `disengaged_days` is
  `disengaged`; otherwise `active` (not stopped).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from .adherence_records import (
    SPECIALIST_REFERRALS,
    STRATA,
    TREATMENT_EVENTS,
    AdherenceSettings,
    CareRecord,
    EpisodeFacts,
    EpisodeRecord,
)
from .guidelines import DO_NOT_OFFER_MEDICATION, DO_NOT_OFFER_TREATMENTS, NEEDS_EXERCISE

Verdict = bool | None


@dataclass(frozen=True, slots=True)
class Finding:
    """One indicator's verdict on one episode, and why when it is breached."""

    verdict: Verdict
    reason: str = ""
    """For a breach, a plain sentence saying why; empty otherwise."""


MET = Finding(True)
NOT_COUNTED = Finding(None)
Check = Callable[[EpisodeRecord, AdherenceSettings, datetime], Finding]
IMAGING = {"xray": "X-ray", "ct": "CT", "mri": "MRI"}
REFERRALS = {"specialist_spine": "a spine specialist", "orthopaedics": "orthopaedics",
             "rheumatology": "rheumatology", "pain_clinic": "a pain clinic"}


def breached(reason: str) -> Finding:
    return Finding(False, reason)


def _unless_not_due(episode: EpisodeRecord, deadline: datetime, now: datetime,
                    reason: str) -> Finding:
    """A breach once the deadline has passed, unless the episode left the pathway before it."""
    ended = episode.facts.ended_at
    if deadline >= now or (ended is not None and ended < deadline):
        return NOT_COUNTED
    return breached(reason)


def _first_visit(episode: EpisodeRecord, *keys: str, benign: bool = False
                 ) -> Mapping[str, Any] | None:
    """The first visit's data when it has `keys`; with `benign`, only without a red flag."""
    visit = episode.first("first_visit_recorded")
    if visit is None or any(key not in visit.data for key in keys):
        return None
    if benign and episode.facts.red_flag:
        return None
    return visit.data


def _answered(episode: EpisodeRecord, *keys: str, benign: bool = False) -> bool:
    """Whether the episode had a first visit recording any of `keys` (and, with `benign`, no
    red flag): the denominator of the indicators read from records of care."""
    visit = episode.first("first_visit_recorded")
    return (visit is not None and any(key in visit.data for key in keys)
            and not (benign and episode.facts.red_flag))


def _options(data: Mapping[str, Any], key: str) -> set[str]:
    """The options ticked in one of a record's multiple-choice fields."""
    value = data.get(key)
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()


def _imaging(facts: EpisodeFacts) -> str:
    """Why imaging breaches, or "" when no record of care requested any."""
    for record in facts.records:
        imaging = record.event.data.get("imaging")
        if imaging not in (None, "none"):
            what = IMAGING.get(imaging, str(imaging))
            return f"{what} requested at {record.place} without a red flag"
    return ""


def _referral(facts: EpisodeFacts) -> str:
    """Why a referral breaches, or "" when no record of care referred to a specialist."""
    for record in facts.records:
        referral = record.event.data.get("referral_made")
        if isinstance(referral, str) and referral in SPECIALIST_REFERRALS:
            return (f"Referred to {REFERRALS.get(referral, referral)} at {record.place} "
                    "without a red flag or a failed treatment")
    return ""


def _advised_against(facts: EpisodeFacts) -> str:
    """Why a treatment or medication breaches NICE NG59, or "" when none does."""
    for record in facts.records:
        reason = _record_advised_against(record)
        if reason:
            return reason
    return ""


def _record_advised_against(record: CareRecord) -> str:
    data = record.event.data
    treatments = _options(data, "treatments")
    given = sorted(treatments & DO_NOT_OFFER_TREATMENTS.keys())
    if given:
        return (f"{_capital(DO_NOT_OFFER_TREATMENTS[given[0]])} given at {record.place}: "
                "NICE NG59 advises not to offer it")
    advised = sorted(_options(data, "medication") & DO_NOT_OFFER_MEDICATION.keys())
    if advised:
        return (f"{_capital(DO_NOT_OFFER_MEDICATION[advised[0]])} advised at {record.place}: "
                "NICE NG59 advises not to offer it")
    alone = sorted(treatments & NEEDS_EXERCISE.keys())
    if alone and "exercise" not in treatments and not record.exercising:
        return (f"{_capital(NEEDS_EXERCISE[alone[0]])} given at {record.place} without "
                "exercise: NICE NG59 advises it only together with exercise")
    return ""


def _capital(words: str) -> str:
    return words[:1].upper() + words[1:]


def _logged_before(episode: EpisodeRecord, earlier: str, later: Iterable[str],
                   reason: str) -> Finding:
    """Not counted until one of `later` is logged; then, whether `earlier` came before it."""
    then = episode.position(later)
    if then is None:
        return NOT_COUNTED
    before = episode.position([earlier])
    return MET if before is not None and before < then else breached(reason)


def screened_before_treatment(episode: EpisodeRecord, settings: AdherenceSettings,
                              now: datetime) -> Finding:
    return _logged_before(episode, "red_flag_screened", TREATMENT_EVENTS,
                          "Treatment began before the red-flag screen was completed")


def stratified_at_first_contact(episode: EpisodeRecord, settings: AdherenceSettings,
                                now: datetime) -> Finding:
    return _logged_before(episode, "risk_stratified", ["first_visit_recorded"],
                          "Risk was not stratified before the first visit")


def education_in_time(episode: EpisodeRecord, settings: AdherenceSettings,
                      now: datetime) -> Finding:
    visit = episode.first("first_visit_recorded")
    if visit is None:
        return NOT_COUNTED
    if visit.data.get("education_given"):
        return MET
    deadline = visit.at + timedelta(days=settings.education_days)
    if any(read <= deadline for read in episode.facts.education_read):
        return MET
    return _unless_not_due(episode, deadline, now, (
        "No key education messages at the first visit and no module read within "
        f"{settings.education_days} days"))


def exercise_in_time(episode: EpisodeRecord, settings: AdherenceSettings,
                     now: datetime) -> Finding:
    if episode.stratum not in ("medium", "high"):
        return NOT_COUNTED
    deadline = episode.started_at + timedelta(days=settings.exercise_days)
    started = episode.facts.first_exercise_at
    if started is not None and started <= deadline:
        return MET
    if started is not None:
        late = (started - episode.started_at).days
        return _unless_not_due(episode, deadline, now, (
            f"The first exercise session was logged {late} days after referral "
            f"(due within {settings.exercise_days})"))
    return _unless_not_due(episode, deadline, now, (
        f"No exercise session logged within {settings.exercise_days} days of referral"))


def pi_sessions_delivered(episode: EpisodeRecord, settings: AdherenceSettings,
                          now: datetime) -> Finding:
    visit = episode.first("first_visit_recorded")
    if episode.stratum != "high" or visit is None:
        return NOT_COUNTED
    delivered = episode.facts.pi_sessions
    if delivered >= settings.pi_sessions:
        return MET
    return _unless_not_due(episode, visit.at + timedelta(days=settings.pi_days), now, (
        f"{delivered} of {settings.pi_sessions} psychologically informed sessions delivered "
        f"within {settings.pi_days} days of the first visit"))


def no_imaging_without_red_flag(episode: EpisodeRecord, settings: AdherenceSettings,
                                now: datetime) -> Finding:
    if not _answered(episode, "imaging", benign=True):
        return NOT_COUNTED
    reason = _imaging(episode.facts)
    return breached(reason) if reason else MET


def nothing_not_to_offer(episode: EpisodeRecord, settings: AdherenceSettings,
                         now: datetime) -> Finding:
    if not _answered(episode, "treatments", "medication"):
        return NOT_COUNTED
    reason = _advised_against(episode.facts)
    return breached(reason) if reason else MET


def no_early_specialist_referral(episode: EpisodeRecord, settings: AdherenceSettings,
                                 now: datetime) -> Finding:
    if not _answered(episode, "referral_made", benign=True):
        return NOT_COUNTED
    reason = _referral(episode.facts)
    return breached(reason) if reason else MET


def follow_ups_on_time(episode: EpisodeRecord, settings: AdherenceSettings,
                       now: datetime) -> Finding:
    visit = episode.first("first_visit_recorded")
    if visit is None:
        return NOT_COUNTED
    window = timedelta(days=settings.window_days)
    counted, missed = False, []
    for week in settings.follow_up_weeks:
        due = visit.at + timedelta(weeks=week)
        done = episode.follow_up(week)
        if done is not None:
            counted = True
            if abs(done.at - due) > window:
                missed.append(f"the {week}-week one was done {_days_off(done.at - due)}")
        elif _unless_not_due(episode, due + window, now, "").verdict is False:
            counted = True
            missed.append(f"the {week}-week one was not done")
    if missed:
        return breached(f"A follow-up was not done within {settings.window_days} days of its "
                        f"due time: {'; '.join(missed)}")
    return MET if counted else NOT_COUNTED


def _days_off(delta: timedelta) -> str:
    days = round(abs(delta.total_seconds()) / 86400, 1)
    return f"{days:g} days {'late' if delta > timedelta(0) else 'early'}"


def proms_complete(episode: EpisodeRecord, settings: AdherenceSettings,
                   now: datetime) -> Finding:
    visit = episode.first("first_visit_recorded")
    if visit is None or not settings.prom_weeks:
        return NOT_COUNTED
    last = settings.prom_weeks[-1]
    missing = [f"week {week}" for week in settings.prom_weeks
               if episode.follow_up(week) is None]
    if not episode.has("baseline_recorded"):
        missing.insert(0, "baseline")
    reason = f"PROMs missing at {', '.join(missing)}"
    if episode.follow_up(last) is None:
        due = visit.at + timedelta(weeks=last, days=settings.window_days)
        return _unless_not_due(episode, due, now, reason)
    return breached(reason) if missing else MET


def improved_at_outcome_week(episode: EpisodeRecord, settings: AdherenceSettings,
                             now: datetime) -> Finding:
    week = settings.prom_weeks[-1] if settings.prom_weeks else None
    done = episode.follow_up(week) if week is not None else None
    improvement = done.data.get("improvement") if done is not None else None
    if not isinstance(improvement, Mapping):
        return NOT_COUNTED
    for judgement in ("primary_improved", "any_improved"):  # the newer test first
        if judgement in improvement:
            if improvement[judgement] is True:
                return MET
            return breached(f"No meaningful improvement (MCID) at the {week}-week follow-up")
    return NOT_COUNTED


QUALITY_INDEX_KEYS = ("imaging", "referral_made", "education_given", "treatments", "medication")


def quality_index_met(episode: EpisodeRecord, settings: AdherenceSettings,
                      now: datetime) -> Finding:
    visit = _first_visit(episode, *QUALITY_INDEX_KEYS, benign=True)
    if visit is None:
        return NOT_COUNTED
    facts = episode.facts
    reason = (_imaging(facts) or _referral(facts)
              or ("" if visit["education_given"] else
                  "No key education messages recorded at the first visit")
              or _exercise_missing(episode) or _advised_against(facts))
    return breached(f"Quality index: {reason}") if reason else MET


def _exercise_missing(episode: EpisodeRecord) -> str:
    """Why exercise as treatment is missing, or "": low risk calls for advice and education
    only (STarT Back trial, domain.md section 3); the other strata, and an episode never
    stratified, call for exercise."""
    if episode.stratum == "low":
        return ""
    facts = episode.facts
    if (facts.first_exercise_at is not None or episode.has("exercise_started")
            or any("exercise" in _options(r.event.data, "treatments") for r in facts.records)):
        return ""
    who = f"a {episode.stratum}-risk patient" if episode.stratum else "a patient not stratified"
    return f"No exercise as treatment for {who}"


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
              exercise_in_time, "Counted from the referral (the episode's start) to the first "
              "exercise session the patient logged or a weekly check-in reported; assigning "
              "the programme is not a start."),
    Indicator(5, "High risk: {pi_sessions} psychologically informed sessions delivered",
              pi_sessions_delivered,
              "Due {pi_days} days after the first visit (or once all are delivered)."),
    Indicator(6, "No imaging without a red flag (NICE QS155 statement 2)",
              no_imaging_without_red_flag,
              "Any X-ray, CT or MRI requested at the first visit or a later session; episodes "
              "with a red flag raised are left out (age alone is not a red flag)."),
    Indicator(7, "No treatment NICE NG59 says not to offer", nothing_not_to_offer,
              "Treatments and medication recorded at the first visit and at later sessions, "
              "including manual therapy, massage or psychological therapy without exercise."),
    Indicator(8, "No specialist referral for benign low back pain without failed treatment",
              no_early_specialist_referral,
              "A specialist referral at the first visit or a later session is a breach; the "
              "pathway's own referral after a failed 6-week review is not. Red-flag episodes "
              "are left out (age alone is not a red flag)."),
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
              "Episodes without a red flag: no imaging and no specialist referral at any "
              "session, education given at the first visit (the record has no separate "
              "behavioural-medicine field), exercise as treatment where the stratum calls for "
              "it (low risk: advice and education only), nothing NG59 advises against."),
)
_PLACE = {indicator.id: place for place, indicator in enumerate(INDICATORS)}


ENGAGEMENT_DAYS: tuple[tuple[str, str, int], ...] = (
    ("active_at_30_days", "Active at 30 days", 30),
    ("active_at_6_months", "Active at 6 months", 182),
    ("active_at_12_months", "Active at 12 months", 365),
)
"""NICE HTE16's later time points: id, name, days after the referral."""
STOP_REASONS: dict[str, str] = {
    "active": "Not stopped: still active",
    "discharged": "Discharged",
    "completed": "Completed the pathway",
    "left_for_red_flag": "Left the pathway for a red flag",
    "disengaged": "Disengaged: no activity for {disengaged_days} days",
}
_STOP_BY_EVENT = {"episode_discharged": "discharged", "episode_escalated": "left_for_red_flag",
                  "episode_completed": "completed"}


@dataclass(frozen=True, slots=True)
class Engagement:
    """One episode's digital engagement (NICE HTE16), as of a moment."""

    active_at_enrolment: Verdict
    first_session: Verdict
    active_at: tuple[Verdict, ...]
    """One per ENGAGEMENT_DAYS."""
    stopped: str
    """A key of STOP_REASONS."""

    @property
    def measures(self) -> tuple[Verdict, ...]:
        return (self.active_at_enrolment, self.first_session, *self.active_at)


def engagement(episode: EpisodeRecord, settings: AdherenceSettings,
               now: datetime) -> Engagement:
    facts, start = episode.facts, episode.started_at
    activity = facts.activity
    enrolled = start + timedelta(days=settings.enrolment_days)
    if any(start <= t <= enrolled for t in activity[:bisect_right(activity, enrolled)]):
        at_enrolment: Verdict = True
    else:
        at_enrolment = None if enrolled >= now else False
    window = timedelta(days=settings.active_window_days)
    active_at: list[Verdict] = []
    for _, _, days in ENGAGEMENT_DAYS:
        day = start + timedelta(days=days)
        if day > now:
            active_at.append(None)
            continue
        last = bisect_right(activity, day)
        active_at.append(last > 0 and activity[last - 1] > day - window)
    return Engagement(at_enrolment, _first_session(episode, settings, now), tuple(active_at),
                      _stopped(episode, settings, now))


def _first_session(episode: EpisodeRecord, settings: AdherenceSettings,
                   now: datetime) -> Verdict:
    visit = episode.first("first_visit_recorded")
    if visit is None:
        return None
    facts = episode.facts
    if facts.first_exercise_at is not None or any(t >= visit.at for t in facts.education_read):
        return True
    deadline = visit.at + timedelta(days=settings.first_session_days)
    return _unless_not_due(episode, deadline, now, "").verdict


def _stopped(episode: EpisodeRecord, settings: AdherenceSettings, now: datetime) -> str:
    facts = episode.facts
    if facts.ending is not None:
        return _STOP_BY_EVENT.get(facts.ending, "completed")
    last = max(facts.activity[-1], episode.started_at) if facts.activity else episode.started_at
    return ("disengaged" if now - last > timedelta(days=settings.disengaged_days)
            else "active")


@dataclass(frozen=True, slots=True)
class Judged:
    """One episode with every indicator's finding and its engagement."""

    episode: EpisodeRecord
    findings: tuple[Finding, ...]
    """One per INDICATORS, in their order."""
    engagement: Engagement

    def finding(self, indicator_id: int) -> Finding:
        return self.findings[_PLACE[indicator_id]]


def judge(episode: EpisodeRecord, now: datetime,
          settings: AdherenceSettings | None = None) -> Judged:
    """Every indicator's finding on one episode, as of `now`, by the numbers of its own model
    (else `settings`, else the defaults)."""
    own = episode.settings or settings or AdherenceSettings()
    return Judged(episode, tuple(NOT_COUNTED if i.check is None else i.check(episode, own, now)
                                 for i in INDICATORS), engagement(episode, own, now))


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


@dataclass(frozen=True)
class EngagementMeasure:
    id: str
    name: str
    tally: Tally


@dataclass(frozen=True)
class EngagementResult:
    """NICE HTE16's engagement over a group of episodes (the module docstring defines each)."""

    episodes: int
    measures: tuple[EngagementMeasure, ...]
    """Active at enrolment, first session, then one per ENGAGEMENT_DAYS."""
    stopped: dict[str, int]
    """Episodes by reason for stopping, every key of STOP_REASONS (zeros included)."""
    reasons: dict[str, str]
    """Each reason's words, with the settings' numbers filled in."""


@dataclass(frozen=True)
class Report:
    indicators: list[IndicatorResult]
    engagement: EngagementResult


_MEASURES = (("active_at_enrolment", "Active at enrolment (within {enrolment_days} days)"),
             ("first_session", "First session (within {first_session_days} days of the "
                               "first visit)"),
             *((id_, name) for id_, name, _ in ENGAGEMENT_DAYS))


def summarise(judged: Sequence[Judged], settings: AdherenceSettings | None = None) -> Report:
    """The indicators and engagement over these judged episodes; `settings` word the names."""
    numbers = {k: _listed(v) for k, v in asdict(settings or AdherenceSettings()).items()}
    count = len(INDICATORS)
    met, counted = [0] * count, [0] * count
    strata = {place: {s: [0, 0] for s in STRATA}
              for place, i in enumerate(INDICATORS) if i.by_stratum}
    measures = len(_MEASURES)
    active, due = [0] * measures, [0] * measures
    stopped = dict.fromkeys(STOP_REASONS, 0)
    for one in judged:
        for place, finding in enumerate(one.findings):
            verdict = finding.verdict
            if verdict is None:
                continue
            counted[place] += 1
            met[place] += verdict
            if place in strata and one.episode.stratum in strata[place]:
                pair = strata[place][one.episode.stratum]
                pair[0] += verdict
                pair[1] += 1
        for place, verdict in enumerate(one.engagement.measures):
            if verdict is not None:
                due[place] += 1
                active[place] += verdict
        stopped[one.engagement.stopped] += 1
    indicators = [IndicatorResult(
        indicator, indicator.name.format(**numbers), indicator.note.format(**numbers),
        Tally(met[place], counted[place]),
        {s: Tally(n, d) for s, (n, d) in strata.get(place, {}).items()})
        for place, indicator in enumerate(INDICATORS)]
    return Report(indicators, EngagementResult(
        len(judged), tuple(EngagementMeasure(id_, name.format(**numbers), Tally(n, d))
                           for (id_, name), n, d in zip(_MEASURES, active, due, strict=True)),
        stopped, {k: v.format(**numbers) for k, v in STOP_REASONS.items()}))


def compute(episodes: Sequence[EpisodeRecord], now: datetime,
            settings: AdherenceSettings | None = None) -> Report:
    """Every indicator and the engagement over these episodes, as of `now`."""
    return summarise([judge(episode, now, settings) for episode in episodes], settings)


def _listed(value: object) -> str:
    """A setting as it reads in a sentence: 6, or 2, 6 and 12."""
    if not isinstance(value, tuple):
        return str(value)
    words = [str(v) for v in value]
    if len(words) < 2:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"
