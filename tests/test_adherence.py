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
    return EpisodeRecord(REFERRED, stratum, [*events, *later])


def referred_only(*events: EpisodeEvent, stratum: str | None = None) -> EpisodeRecord:
    return EpisodeRecord(REFERRED, stratum, list(events))


def verdict(check: a.Check, episode: EpisodeRecord, now_day: float = 200) -> a.Verdict:
    return check(episode, AdherenceSettings(), day(now_day))


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
    (a.quality_index_met, cared_for(imaging="ct"), 200, True),
    (a.quality_index_met, cared_for(referral_made="rheumatology"), 200, False),
    (a.quality_index_met, cared_for(education_given=[]), 200, False),
    (a.quality_index_met, cared_for("low", treatments=["education"]), 200, False),
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
    assert a.education_in_time(late_education, settings, day(200)) is True
    five_days_late = cared_for("low", follow_up(2, 5))
    assert a.follow_ups_on_time(five_days_late, settings, day(VISIT_DAY + 20)) is True


def test_compute_tallies_every_indicator_and_splits_the_mcid_share_by_stratum() -> None:
    episodes = [cared_for("low", follow_up(12)), cared_for("high", follow_up(12, improved=False)),
                cared_for("high", follow_up(12)), referred_only(event("red_flag_screened", 1))]
    results = {r.indicator.id: r for r in a.compute(episodes, day(200))}
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
    assert all(r.tally == a.Tally() and r.tally.rate is None for r in a.compute([], day(0)))


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
    results = {r.indicator.id: r for r in a.compute([late_education, relaxed], day(200))}
    assert (results[3].tally.numerator, results[3].tally.denominator) == (1, 2)
    assert results[3].name == "Education given by the first visit or within 7 days"
