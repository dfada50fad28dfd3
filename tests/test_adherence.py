"""Guideline-adherence indicators from hand-made event logs: who is counted, and who meets it.

Times are days after the referral (Monday 2026-01-05 09:00 UTC); the first visit is on day 3.
A verdict is True (met), False (breached) or None (not counted: it does not apply, or is not
due yet)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pathways import adherence as a
from pathways.adherence_records import AdherenceSettings, EpisodeEvent, EpisodeRecord

REFERRED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
VISIT_DAY = 3
GOOD_VISIT = {"working_diagnosis": "non_specific_lbp", "imaging": "none",
              "referral_made": "none", "medication": [], "treatments": ["exercise", "education"],
              "education_given": ["good_prognosis", "stay_active"]}
PHYSIO = 7


def day(days: float) -> datetime:
    return REFERRED + timedelta(days=days)


def event(name: str, days: float, **data: Any) -> EpisodeEvent:
    return EpisodeEvent(name, day(days), data, PHYSIO)


def cared_for(stratum: str = "medium", *later: EpisodeEvent, red_flag: bool = False,
              **visit: Any) -> EpisodeRecord:
    """Screened and stratified on day 2, first visit on day 3 (`visit` changes its record),
    care planned as the pathway does, then the `later` events."""
    events = [event("red_flag_screened", 1)]
    if red_flag:
        events.append(event("red_flag_raised", 1, red_flag_outcome="urgent"))
    events += [event("baseline_recorded", 2), event("risk_stratified", 2, stratum=stratum),
               event("first_visit_recorded", VISIT_DAY, **{**GOOD_VISIT, **visit}),
               event("education_assigned", VISIT_DAY)]
    if stratum != "low":
        events.append(event("exercise_started", VISIT_DAY))
    sessions = [day(VISIT_DAY + 1)] if stratum != "low" else []
    return EpisodeRecord(REFERRED, stratum, [*events, *later], sessions=sessions)


def referred_only(*events: EpisodeEvent, stratum: str | None = None) -> EpisodeRecord:
    return EpisodeRecord(REFERRED, stratum, list(events))


def verdict(check: a.Check, episode: EpisodeRecord, now_day: float = 200) -> a.Verdict:
    return check(episode, AdherenceSettings(), day(now_day)).verdict


def follow_up(week: int, days_late: float = 0, improved: bool = True) -> EpisodeEvent:
    return event("follow_up_completed", VISIT_DAY + 7 * week + days_late, follow_up_week=week,
                 improvement={"any_improved": improved})


ESCALATED_AT_6_WEEKS = event("episode_escalated", VISIT_DAY + 44,
                             escalation_decision="specialist_referral")


@pytest.mark.parametrize(("check", "episode", "now_day", "expected"), [
    # 1. red-flag screen before any treatment
    (a.screened_before_treatment, cared_for(), 200, True),
    (a.screened_before_treatment, referred_only(event("red_flag_screened", 1)), 200, None),
    (a.screened_before_treatment, referred_only(event("first_visit_recorded", 1),
                                                event("red_flag_screened", 1)), 200, False),
    (a.screened_before_treatment, referred_only(event("exercise_started", 1)), 200, False),
    # 2. stratified at first contact
    (a.stratified_at_first_contact, cared_for(), 200, True),
    (a.stratified_at_first_contact, referred_only(event("risk_stratified", 1)), 200, None),
    (a.stratified_at_first_contact, referred_only(event("first_visit_recorded", 3),
                                                  event("risk_stratified", 3)), 200, False),
    # 3. education by the first visit or within 7 days
    (a.education_in_time, cared_for(), VISIT_DAY, True),
    (a.education_in_time, cared_for("low", event("education_completed", VISIT_DAY + 5),
                                    education_given=[]), 200, True),
    (a.education_in_time, cared_for("low", education_given=[]), VISIT_DAY + 6, None),
    (a.education_in_time, cared_for("low", education_given=[]), VISIT_DAY + 8, False),
    (a.education_in_time, cared_for("low", event("education_completed", VISIT_DAY + 9),
                                    education_given=[]), 200, False),
    (a.education_in_time, cared_for("low", event("episode_escalated", VISIT_DAY + 2),
                                    education_given=[]), 200, None),
    # 4. medium/high risk: exercise within 14 days of referral
    (a.exercise_in_time, cared_for("low"), 200, None),
    (a.exercise_in_time, cared_for("medium"), 200, True),
    (a.exercise_in_time, referred_only(stratum="high"), 13, None),
    (a.exercise_in_time, referred_only(stratum="high"), 15, False),
    (a.exercise_in_time, referred_only(event("exercise_started", 16), stratum="medium"), 200,
     False),
    (a.exercise_in_time, referred_only(event("episode_escalated", 5), stratum="medium"), 200,
     None),
    # 5. high risk: psychologically informed sessions (4, due 28 days after the first visit)
    (a.pi_sessions_delivered, cared_for("medium"), 200, None),
    (a.pi_sessions_delivered, cared_for("high", *[event("pi_session_delivered", VISIT_DAY + 7 * n)
                                                  for n in range(1, 5)]), 200, True),
    (a.pi_sessions_delivered, cared_for("high", event("pi_session_delivered", 10)),
     VISIT_DAY + 27, None),
    (a.pi_sessions_delivered, cared_for("high", event("pi_session_delivered", 10)),
     VISIT_DAY + 29, False),
    (a.pi_sessions_delivered, cared_for("high", event("episode_escalated", 20)), 200, None),
    # 6. no imaging without a red flag
    (a.no_imaging_without_red_flag, cared_for(), 200, True),
    (a.no_imaging_without_red_flag, cared_for(imaging="mri"), 200, False),
    (a.no_imaging_without_red_flag, cared_for(imaging="mri", red_flag=True), 200, None),
    (a.no_imaging_without_red_flag, referred_only(event("red_flag_screened", 1)), 200, None),
    (a.no_imaging_without_red_flag, referred_only(event("first_visit_recorded", 3)), 200,
     None),
    # 7. nothing NICE NG59 says not to offer
    (a.nothing_not_to_offer, cared_for(), 200, True),
    (a.nothing_not_to_offer, cared_for(treatments=["exercise", "tens"]), 200, False),
    (a.nothing_not_to_offer, cared_for(medication=["opioid_chronic"]), 200, False),
    (a.nothing_not_to_offer, cared_for(treatments=["manual_therapy"]), 200, False),
    (a.nothing_not_to_offer, cared_for(treatments=["manual_therapy", "exercise"]), 200, True),
    # 8. no specialist referral for benign LBP without failed treatment
    (a.no_early_specialist_referral, cared_for(), 200, True),
    (a.no_early_specialist_referral, cared_for(referral_made="orthopaedics"), 200, False),
    (a.no_early_specialist_referral, cared_for(referral_made="orthopaedics", red_flag=True),
     200, None),
    (a.no_early_specialist_referral, cared_for("low", ESCALATED_AT_6_WEEKS), 200, True),
    # 9. each follow-up within +/- 3 days of 2, 6 and 12 weeks after the first visit
    (a.follow_ups_on_time, cared_for(), VISIT_DAY + 16, None),
    (a.follow_ups_on_time, cared_for("low", follow_up(2, 1)), VISIT_DAY + 16, True),
    (a.follow_ups_on_time, cared_for("low", follow_up(2, 5)), VISIT_DAY + 20, False),
    (a.follow_ups_on_time, cared_for(), VISIT_DAY + 18, False),
    (a.follow_ups_on_time, cared_for("low", follow_up(2), follow_up(6, 3)), VISIT_DAY + 84,
     True),
    (a.follow_ups_on_time, cared_for("low", follow_up(2), follow_up(6), ESCALATED_AT_6_WEEKS),
     200, True),
    (a.follow_ups_on_time, cared_for("low", follow_up(2), follow_up(6)), VISIT_DAY + 88, False),
    # 10. PROMs at baseline, 6 and 12 weeks
    (a.proms_complete, cared_for("low", follow_up(6)), VISIT_DAY + 86, None),
    (a.proms_complete, cared_for("low", follow_up(6), follow_up(12, 2)), VISIT_DAY + 86, True),
    (a.proms_complete, cared_for("low", follow_up(12)), 200, False),
    (a.proms_complete, cared_for("low", follow_up(6)), VISIT_DAY + 88, False),
    (a.proms_complete, cared_for("low", follow_up(6), ESCALATED_AT_6_WEEKS), 200, None),
    # 11. MCID reached at 12 weeks
    (a.improved_at_outcome_week, cared_for("low", follow_up(12)), 200, True),
    (a.improved_at_outcome_week, cared_for("low", follow_up(12, improved=False)), 200, False),
    (a.improved_at_outcome_week, cared_for("low", follow_up(6)), 200, None),
    # ... judged on the primary measures once the follow-up records them: pain alone is not
    (a.improved_at_outcome_week, cared_for("low", event(
        "follow_up_completed", VISIT_DAY + 84, follow_up_week=12, improvement={
            "pain": True, "disability": False, "psfs": False, "any_improved": True,
            "primary_improved": False})), 200, False),
    (a.improved_at_outcome_week, cared_for("low", event(
        "follow_up_completed", VISIT_DAY + 84, follow_up_week=12, improvement={
            "psfs": True, "any_improved": True, "primary_improved": True})), 200, True),
    # 12. BetterBack quality index on the first-visit record
    (a.quality_index_met, cared_for(), 200, True),
    (a.quality_index_met, cared_for(imaging="xray"), 200, False),
    (a.quality_index_met, cared_for(imaging="ct"), 200, False),
    (a.quality_index_met, cared_for(referral_made="rheumatology"), 200, False),
    (a.quality_index_met, cared_for(education_given=[]), 200, False),
    (a.quality_index_met, cared_for("low", treatments=["education"]), 200, True),
    (a.quality_index_met, cared_for("medium", treatments=["education"]), 200, True),
    (a.quality_index_met, cared_for(medication=["gabapentinoid"]), 200, False),
    (a.quality_index_met, cared_for(imaging="xray", red_flag=True), 200, None),
])
def test_each_indicator_counts_an_episode_only_once_it_applies_and_is_due(
        check: a.Check, episode: EpisodeRecord, now_day: float, expected: a.Verdict) -> None:
    assert verdict(check, episode, now_day) is expected


def test_the_configured_days_move_the_deadlines() -> None:
    late_education = cared_for("low", event("education_completed", VISIT_DAY + 9),
                               education_given=[])
    settings = AdherenceSettings(education_days=10, window_days=5)
    assert a.education_in_time(late_education, settings, day(200)).verdict is True
    five_days_late = cared_for("low", follow_up(2, 5))
    assert a.follow_ups_on_time(five_days_late, settings, day(VISIT_DAY + 20)).verdict is True


def test_compute_tallies_every_indicator_and_splits_the_mcid_share_by_stratum() -> None:
    episodes = [cared_for("low", follow_up(12)), cared_for("high", follow_up(12, improved=False)),
                cared_for("high", follow_up(12)), referred_only(event("red_flag_screened", 1))]
    results = {r.indicator.id: r for r in a.compute(episodes, day(200)).indicators}
    assert sorted(results) == list(range(1, 13))
    assert all(r.indicator.available for r in results.values())
    mcid = results[11]
    assert (mcid.tally.numerator, mcid.tally.denominator) == (2, 3)
    assert {s: (t.numerator, t.denominator) for s, t in mcid.by_stratum.items()} == {
        "low": (1, 1), "medium": (0, 0), "high": (1, 2)}
    assert mcid.by_stratum["medium"].rate is None
    screened = results[1].tally
    assert (screened.numerator, screened.denominator, screened.rate) == (3, 3, 1.0)
    assert results[2].by_stratum == {}


def test_nothing_is_counted_over_no_episodes() -> None:
    report = a.compute([], day(0))
    assert all(r.tally == a.Tally() and r.tally.rate is None for r in report.indicators)
    assert all(m.tally == a.Tally() for m in report.engagement.measures)


def test_the_first_visit_names_the_clinician_an_episode_counts_for() -> None:
    assert cared_for().first_visit_by == PHYSIO
    assert referred_only(event("red_flag_screened", 1)).first_visit_by is None


def test_a_models_own_settings_set_the_numbers_and_bad_ones_keep_the_defaults() -> None:
    from pathlib import Path

    from pathways.models import load_bundle_dir

    reference = load_bundle_dir(Path(__file__).parents[1] / "bpmn" / "betterback").settings
    assert AdherenceSettings.of_model(reference) == AdherenceSettings()
    changed = AdherenceSettings.of_model({**reference, "pi_sessions": 6,
                                          "follow_up_weeks": [4, 12], "follow_up_due_days": 2})
    assert (changed.pi_sessions, changed.pi_days) == (6, 42)
    assert (changed.follow_up_weeks, changed.window_days) == ((4, 12), 2)
    spoilt = AdherenceSettings.of_model({"pi_sessions": "four", "follow_up_weeks": [2, -6],
                                         "education_due_days": True})
    assert spoilt == AdherenceSettings()


def test_each_episode_is_judged_by_the_numbers_of_its_own_model() -> None:
    late_education = cared_for("low", event("education_completed", VISIT_DAY + 9),
                               education_given=[])
    relaxed = EpisodeRecord(late_education.started_at, late_education.stratum,
                            late_education.events, AdherenceSettings(education_days=10))
    results = {r.indicator.id: r
               for r in a.compute([late_education, relaxed], day(200)).indicators}
    assert (results[3].tally.numerator, results[3].tally.denominator) == (1, 2)
    assert results[3].name == "Education given by the first visit or within 7 days"


AGE_ONLY = event("red_flag_raised", 1, red_flag_outcome="routine_specialist", red_flag_groups={
    "cauda_equina": 0, "neurological_signs": False, "cancer": 0, "infection": 0, "fracture": 0,
    "age_flag": True})
"""How a model before age became a noted risk factor raised age alone (> 50 or < 20)."""
AGE_NOTED = event("risk_factor_noted", 1, age=67, age_risk=True)
CANCER = event("red_flag_raised", 1, red_flag_outcome="urgent", red_flag_groups={
    "cauda_equina": 0, "neurological_signs": False, "cancer": 1, "infection": 0, "fracture": 0,
    "age_flag": True})


def with_events(episode: EpisodeRecord, *extra: EpisodeEvent,
                sessions: tuple[float, ...] | None = None) -> EpisodeRecord:
    """The episode with `extra` events after the first visit's step, in log order."""
    events = list(episode.events)
    place = next(i for i, e in enumerate(events) if e.name == "first_visit_recorded") + 1
    logged = episode.sessions if sessions is None else [day(d) for d in sessions]
    return EpisodeRecord(episode.started_at, episode.stratum,
                         [*events[:place], *extra, *events[place:]], sessions=logged)


@pytest.mark.parametrize(("check", "episode", "expected"), [
    # Age alone is a risk factor, not a red flag: it takes no one out of 6, 8 and 12.
    (a.no_imaging_without_red_flag, with_events(cared_for(imaging="mri"), AGE_ONLY), False),
    (a.no_imaging_without_red_flag, with_events(cared_for(imaging="mri"), AGE_NOTED), False),
    (a.no_early_specialist_referral,
     with_events(cared_for(referral_made="orthopaedics"), AGE_ONLY), False),
    (a.quality_index_met, with_events(cared_for(), AGE_ONLY), True),
    (a.quality_index_met, with_events(cared_for(imaging="xray"), AGE_ONLY), False),
    # ... while a real flag (cancer items, with or without age) still does.
    (a.no_imaging_without_red_flag, with_events(cared_for(imaging="mri"), CANCER), None),
    (a.quality_index_met, with_events(cared_for(imaging="xray"), CANCER), None),
])
def test_only_a_red_flag_of_serious_pathology_leaves_an_episode_out(
        check: a.Check, episode: EpisodeRecord, expected: a.Verdict) -> None:
    assert verdict(check, episode) is expected


PI_SESSION = "pi_session_delivered"
COMBINED = "combined_session_delivered"


@pytest.mark.parametrize(("check", "later", "expected"), [
    # Imaging, treatments and referrals recorded at any record of care count, not the first
    # visit's only.
    (a.no_imaging_without_red_flag, event(PI_SESSION, 20, imaging="mri"), False),
    (a.nothing_not_to_offer, event(COMBINED, 60, treatments=["exercise", "tens"]), False),
    (a.nothing_not_to_offer, event(PI_SESSION, 20, medication=["opioid_chronic"]), False),
    (a.no_early_specialist_referral, event(COMBINED, 60, referral_made="pain_clinic"), False),
    (a.quality_index_met, event(PI_SESSION, 20, treatments=["acupuncture"]), False),
    (a.quality_index_met, event(COMBINED, 60, imaging="ct"), False),
    (a.nothing_not_to_offer, event(PI_SESSION, 20, treatments=["education"]), True),
])
def test_every_record_of_care_is_read(check: a.Check, later: EpisodeEvent,
                                      expected: a.Verdict) -> None:
    assert verdict(check, cared_for("high", later)) is expected


@pytest.mark.parametrize(("episode", "expected"), [
    # Manual therapy, massage or psychological therapy need exercise beside them: ticked on
    # the same record, or the exercise programme running (started and not completed).
    (cared_for("low", treatments=["massage", "education"]), False),
    (cared_for("low", event(COMBINED, 60, treatments=["psychological_therapy"])), False),
    (cared_for("medium", event("exercise_completed", 80),
               event(COMBINED, 90, treatments=["manual_therapy"])), False),
    (cared_for("high", event(PI_SESSION, 20, treatments=["psychological_therapy"])), True),
    (cared_for("low", event(COMBINED, 60, treatments=["psychological_therapy", "exercise"])),
     True),
])
def test_therapy_that_needs_exercise_is_flagged_without_it(episode: EpisodeRecord,
                                                           expected: bool) -> None:
    assert verdict(a.nothing_not_to_offer, episode) is expected
    assert verdict(a.quality_index_met, episode) is expected


def test_the_quality_index_asks_each_stratum_for_what_its_care_calls_for() -> None:
    advice_only = cared_for("low", treatments=["education", "self_management_advice"])
    assert verdict(a.quality_index_met, advice_only) is True
    no_exercise = EpisodeRecord(REFERRED, "medium", [
        e for e in cared_for("medium", treatments=["education"]).events
        if e.name != "exercise_started"])
    finding = a.quality_index_met(no_exercise, AdherenceSettings(), day(200))
    assert finding == a.breached("Quality index: No exercise as treatment for a medium-risk "
                                 "patient")
    assert verdict(a.quality_index_met, cared_for("high", treatments=["education"])) is True


@pytest.mark.parametrize(("later", "sessions", "expected"), [
    # The programme is assigned on day 3; exercise starts with the first session done.
    ((), (20,), False),
    ((), (13,), True),
    ((event("exercise_week_completed", 10, sessions_done=3),), (), True),
    ((event("exercise_week_completed", 10, sessions_done=0),
      event("exercise_week_completed", 17, sessions_done=2)), (), False),
    ((), (), False),
])
def test_exercise_starts_with_the_first_session_not_the_assigned_programme(
        later: tuple[EpisodeEvent, ...], sessions: tuple[float, ...], expected: bool) -> None:
    episode = with_events(cared_for("medium"), *later, sessions=sessions)
    assert episode.has("exercise_started")
    assert verdict(a.exercise_in_time, episode) is expected


@pytest.mark.parametrize(("check", "episode", "reason"), [
    (a.no_imaging_without_red_flag, cared_for(imaging="mri"),
     "MRI requested at the first visit without a red flag"),
    (a.nothing_not_to_offer, cared_for("high", event(PI_SESSION, 20, treatments=["tens"])),
     "TENS given at a psychologically informed session: NICE NG59 advises not to offer it"),
    (a.no_early_specialist_referral, cared_for(referral_made="rheumatology"),
     "Referred to rheumatology at the first visit without a red flag or a failed treatment"),
    (a.exercise_in_time, with_events(cared_for("medium"), sessions=()),
     "No exercise session logged within 14 days of referral"),
    (a.pi_sessions_delivered, cared_for("high", event(PI_SESSION, 10)),
     "1 of 4 psychologically informed sessions delivered within 28 days of the first visit"),
    (a.follow_ups_on_time, cared_for("low", follow_up(2, 5)),
     "A follow-up was not done within 3 days of its due time: the 2-week one was done 5 days "
     "late; the 6-week one was not done; the 12-week one was not done"),
    (a.quality_index_met, cared_for(education_given=[]),
     "Quality index: No key education messages recorded at the first visit"),
])
def test_a_breach_says_why(check: a.Check, episode: EpisodeRecord, reason: str) -> None:
    assert check(episode, AdherenceSettings(), day(200)) == a.Finding(False, reason)


def test_a_met_or_uncounted_finding_has_no_reason() -> None:
    assert a.judge(cared_for(), day(200)).finding(6) == a.MET
    assert a.judge(referred_only(), day(200)).finding(6) == a.NOT_COUNTED


def patient_task(days: float) -> EpisodeEvent:
    return EpisodeEvent("task_completed", day(days), {"role": "patient"}, 1)


def clinician_task(days: float) -> EpisodeEvent:
    return EpisodeEvent("task_completed", day(days), {"role": "physiotherapist"}, PHYSIO)


@pytest.mark.parametrize(("episode", "now_day", "expected"), [
    # (at enrolment, first session, at 30 days, at 6 months, at 12 months, reason stopped)
    (referred_only(), 3, (None, None, None, None, None, "active")),
    (referred_only(clinician_task(1)), 8, (False, None, None, None, None, "active")),
    (referred_only(patient_task(1)), 40, (True, None, False, None, None, "disengaged")),
    (with_events(cared_for("low", patient_task(25), event("education_completed", 25)),
                 patient_task(1)), 40, (True, True, True, None, None, "active")),
    (cared_for("low"), VISIT_DAY + 10, (False, None, None, None, None, "active")),
    (cared_for("low"), VISIT_DAY + 15, (False, False, None, None, None, "active")),
    (cared_for("medium", *[patient_task(d) for d in range(0, 190, 7)],
               event("episode_discharged", 190), event("episode_completed", 400)), 400,
     (True, True, True, True, False, "discharged")),
    (referred_only(patient_task(0), event("red_flag_raised", 0, red_flag_outcome="emergency"),
                   event("episode_escalated", 0), event("episode_completed", 0)), 40,
     (True, None, False, None, None, "left_for_red_flag")),
    (referred_only(patient_task(0), event("episode_completed", 2)), 40,
     (True, None, False, None, None, "completed")),
])
def test_engagement_as_nice_hte16_asks(episode: EpisodeRecord, now_day: float,
                                       expected: tuple[object, ...]) -> None:
    found = a.engagement(episode, AdherenceSettings(), day(now_day))
    assert (*found.measures, found.stopped) == expected


def test_engagement_is_tallied_with_the_indicators() -> None:
    episodes = [referred_only(patient_task(1)), referred_only(clinician_task(1)),
                cared_for("low", event("episode_discharged", 30))]
    engaged = a.compute(episodes, day(40)).engagement
    assert engaged.episodes == 3
    measures = {m.id: (m.tally.numerator, m.tally.denominator) for m in engaged.measures}
    assert measures == {"active_at_enrolment": (1, 3), "first_session": (0, 1),
                        "active_at_30_days": (0, 3), "active_at_6_months": (0, 0),
                        "active_at_12_months": (0, 0)}
    assert engaged.stopped == {"active": 0, "discharged": 1, "completed": 0,
                               "left_for_red_flag": 0, "disengaged": 2}
    assert engaged.reasons["disengaged"] == "Disengaged: no activity for 28 days"


def test_the_events_read_include_every_record_of_care_the_reference_model_writes() -> None:
    """Every event the reference pathway records imaging, referral, medication or
    treatments with is a record of care the indicators read."""
    from pathlib import Path

    from pathways.adherence_records import CARE_RECORDS, EVENTS_READ, EVENTS_WITH_DATA
    from pathways.models import load_bundle_dir
    from pathways.properties import TaskProperties

    model = load_bundle_dir(Path(__file__).parents[1] / "bpmn" / "betterback")
    carrying = {name for spec in model.all_specs() for task in spec.task_specs.values()
                for name, keys in TaskProperties.of(task).events().items()
                if {"imaging", "referral_made", "medication", "treatments"} & set(keys)}
    assert carrying == set(CARE_RECORDS)
    assert carrying <= EVENTS_READ & EVENTS_WITH_DATA
