"""What the demo's patients do (service/demo/data.py runs it): the stage each one reaches, their
red flags, and varied answers for the questionnaires."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from pathways.instruments import score_start_back

DELAY_DAYS = {"red_flag_screen": 0, "emergency_review": 0, "urgent_review": 0,
              "weekly_check_in": 0, "first_visit": 2, "pi_session": 2}
"""How long after a task is ready the demo completes it (days); others take one day."""


@dataclass
class Plan:
    """Where one demo patient is today: referred `ago` days back; `hold` is the task nobody has
    done yet (overdue once its due time passed); the patient has done nothing for `idle` days;
    `review` is the not-improving decision (None: the patient improves)."""

    stage: str
    ago: float
    stratum: str = "medium"
    hold: str | None = None
    flag: str = "none"  # none, emergency, urgent_clear or urgent_refer
    review: str | None = None
    flare_week: int | None = None
    modules: int = 99
    idle: float = 0
    exercise_days: float = 0.8
    """In the exercise phase, the share of days with a session logged (0: never exercises)."""


P, SPECIALIST, REVIEW = Plan, "specialist_referral", "not_improving_review"
STAGES = [
    P("emergency red flag awaiting review", 0.02, flag="emergency", hold="emergency_review"),
    P("urgent red flag awaiting review", 0.25, flag="urgent_clear", hold="urgent_review"),
    P("just referred: safety questions due", 0.1, hold="red_flag_screen"),
    P("intake questionnaires due", 1, hold="intake_questionnaires"),
    P("waiting for the first visit", 3, "high", hold="first_visit"),
    P("first visit overdue", 11, "medium", hold="first_visit"),
    P("reading education modules", 7, "medium", modules=2),
    P("weekly exercise: 4th check-in due", 32, "medium", idle=1.5),
    P("pain flare: alert review overdue", 36, "high", hold="exercise_alert_review", flare_week=4),
    P("2-week follow-up due", 18, "low", hold="follow_up_2w"),
    P("2-week follow-up overdue", 24, "medium", hold="follow_up_2w"),
    P("6-week follow-up overdue", 52, "high", hold="follow_up_6w"),
    P("6-week follow-up overdue", 50, "low", hold="follow_up_6w"),
    P("12-week follow-up overdue", 94, "medium", hold="follow_up_12w"),
    P("6-week follow-up due", 46, "medium", hold="follow_up_6w"),
    P("not improving at 6 weeks: review due", 47, "high", hold=REVIEW, review=SPECIALIST),
    P("not improving at 6 weeks: review overdue", 53, hold=REVIEW, review=SPECIALIST),
    P("escalated to a specialist", 70, "high", review=SPECIALIST),
    P("specialist referral for the clinic lead", 49, "high", hold=SPECIALIST, review=SPECIALIST),
    P("discharged", 98, "low"),
    P("discharged", 99, "medium"),
    P("discharged", 100, "high"),
    P("discharge overdue", 93, "medium", hold="discharge"),
    P("awaiting discharge", 90, "low", hold="discharge"),
    P("not improving: combined programme", 60, "medium", review="combined_programme"),
    P("urgent red flag cleared, in exercise", 20, "medium", flag="urgent_clear"),
    P("urgent red flag referred out", 15, flag="urgent_refer"),
    P("emergency red flag: sent to the emergency department", 33, flag="emergency"),
    P("weekly exercise after a pain flare", 25, "high", flare_week=2),
    P("reading education modules", 6, "low", modules=1),
    P("weekly exercise: 6th check-in due", 39, "high", idle=1.5),
    P("weekly exercise: 8th check-in overdue, not exercising", 63, "medium", idle=5,
      exercise_days=0),
    P("weekly exercise, 10 weeks in", 77, "high"),
    P("education done, 2-week follow-up ahead", 12, "low"),
    P("weekly exercise, 1 week in, not exercising", 14, "medium", exercise_days=0),
    P("weekly exercise, last weeks", 84, "medium"),
    P("between follow-ups", 35, "low"),
    P("between follow-ups", 65, "low"),
    P("discharged", 96, "high"),
    P("intake questionnaires due", 2, hold="intake_questionnaires"),
]
STATIC: dict[str, dict[str, Any]] = {  # the answers of these tasks never vary
    "emergency_review": {"emergency_action": "sent_to_emergency_department"},
    "exercise_alert_review": {"alert_action": "adjust_programme", "note": "Lower dose; pacing."},
    "specialist_referral": {"referred_to": "Spine clinic", "confirmed": True}}
FLAGS = {"emergency": {"saddle_numbness": True, "bladder_bowel_change": True},
         "urgent_clear": {"history_of_cancer": True},
         "urgent_refer": {"fever": True, "iv_drug_use": True}}
TOPICS = ["fear", "worry", "stress", "mood", "beliefs", "coping", "activity_goals"]
ACTIVITIES = ["carrying shopping", "sitting through a film", "putting on my socks",
              "walking the dog", "gardening", "lifting my grandchild", "driving to work",
              "vacuuming", "sleeping through the night", "playing football"]
"""What demo patients name as the activities their back makes hard (PSFS), in their words."""
SELF_MANAGEMENT_PLAN = (
    "Keep moving every day: walk, and keep doing the exercises from your programme that "
    "helped you most.\n\n"
    "If your back flares up: stay gently active, and go back a level on the exercises for a "
    "few days before building up again.\n\n"
    "Contact the clinic if the pain does not settle, or stops you working or sleeping. Seek "
    "care at once if you have new problems with your bladder or bowels, numbness around your "
    "bottom or genitals, or weakness in your legs.")
"""What the demo's physiotherapists write for patients at discharge."""


def start_back_answers(stratum: str, rng: random.Random) -> dict[str, int]:
    """Varied STarT Back answers that score in the wanted stratum."""
    chance = {"low": 0.15, "medium": 0.55, "high": 0.8}[stratum]
    while True:
        answers = {f"SB{n}": int(rng.random() < chance) for n in range(1, 9)}
        answers["SB9"] = rng.randint(0, 2) if stratum == "low" else rng.randint(1, 4)
        if score_start_back(answers).stratum == stratum:
            return answers


def follow_up_answers(baseline: dict[str, Any], improving: bool,
                      rng: random.Random) -> dict[str, Any]:
    """Improved beyond every MCID, or changed by less than any MCID."""
    if improving:
        return {"pain_nrs": max(0, baseline["pain_nrs"] - rng.randint(2, 4)),
                "disability": {k: max(0, v - 1) for k, v in baseline["disability"].items()},
                "pseq": {k: min(6, v + 1) for k, v in baseline["pseq"].items()},
                "psfs": {k: min(10, v + 3) for k, v in baseline["psfs"].items()}}
    return {"pain_nrs": min(10, baseline["pain_nrs"] + rng.randint(0, 1)),
            "disability": dict(baseline["disability"]),
            "pseq": {k: v + (k == "PSEQ1") for k, v in baseline["pseq"].items()},
            "psfs": dict(baseline["psfs"])}
