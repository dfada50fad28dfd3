"""Scoring of questionnaire answers into small results that are stored in workflow data.

Each scorer takes a mapping of item id -> answer, validates it (raising InstrumentError
with a plain sentence on any problem) and returns a frozen result whose ``as_dict()`` is a
plain JSON-able dict. Scoring rules are those of domain.md sections 3 and 5.

Scores are never rounded here: the MCID checks (change.py) compare them, and a rounded
score can miss a threshold it reaches (9 sections, 10/45 -> 7/45 is a 30 % drop; rounded,
22.2 -> 15.6 is 29.7 %). Round only where a person reads a score.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Literal

from .catalogue import DISABILITY, FABQ, PAIN_NRS, PSEQ, PSFS, START_BACK
from .model import InstrumentError, Number, check_answers

JsonScalar = int | float | str | bool
Stratum = Literal["low", "medium", "high"]

# STarT Back rules (domain.md section 3; Keele University; Hill, Lancet 2011).
SB9_POINT_FROM = 3  # bothersomeness "very much" (3) or "extremely" (4) scores 1 point
START_BACK_HIGH_PSYCHOSOCIAL = 4  # psychosocial subscale >= 4 -> high
START_BACK_LOW_TOTAL_MAX = 3  # otherwise total <= 3 -> low, else medium
# Single items that show a need on their own, whatever the stratum: a positive fear (SB5) or
# worry (SB6) item calls for education that addresses it (domain.md section 1 item 4:
# education addresses fear, worry, stress and low mood; section 3 names the items).
START_BACK_CONCERNS: dict[str, str] = {"fear": "SB5", "worry": "SB6"}

# FABQ subscales and default cut-offs (domain.md section 5: "cut-offs vary: PA > 14,
# work > 29"), hence keyword parameters of score_fabq.
FABQ_PHYSICAL_ACTIVITY_ITEMS = (2, 3, 4, 5)
FABQ_WORK_ITEMS = (6, 7, 9, 10, 11, 12, 15)
FABQ_PA_CUTOFF = 14
FABQ_WORK_CUTOFF = 29


@dataclass(frozen=True)
class _Result:
    def as_dict(self) -> dict[str, JsonScalar]:
        """Plain dict of the result's fields (ints, floats, strings, bools only)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


@dataclass(frozen=True)
class StartBackResult(_Result):
    total: int
    psychosocial: int
    stratum: Stratum
    fear: bool
    """SB5 agreed: not safe to be physically active (START_BACK_CONCERNS)."""
    worry: bool
    """SB6 agreed: worrying thoughts (START_BACK_CONCERNS)."""


@dataclass(frozen=True)
class DisabilityResult(_Result):
    score: float
    sections_answered: int


@dataclass(frozen=True)
class PainResult(_Result):
    score: int


@dataclass(frozen=True)
class PsfsResult(_Result):
    score: float
    activities: int


@dataclass(frozen=True)
class PseqResult(_Result):
    total: int


@dataclass(frozen=True)
class FabqResult(_Result):
    physical_activity: int
    work: int
    physical_activity_elevated: bool
    work_elevated: bool


ScoreResult = StartBackResult | DisabilityResult | PainResult | PsfsResult | PseqResult | FabqResult


def _whole(values: Mapping[str, Number], ids: list[str]) -> int:
    return int(sum(values[item_id] for item_id in ids))


def start_back_stratum(total: int, psychosocial: int) -> Stratum:
    """Risk stratum from STarT Back scores, rules applied in the order of domain.md section 3.

    The pathway's DMN table is the editable copy of this rule; this is the reference.
    """
    if psychosocial >= START_BACK_HIGH_PSYCHOSOCIAL:
        return "high"
    if total <= START_BACK_LOW_TOTAL_MAX:
        return "low"
    return "medium"


def score_start_back(answers: Mapping[str, object]) -> StartBackResult:
    """Score STarT Back: SB1-SB8 are 0/1, SB9 is 0-4 and scores 1 when >= 3; all 9 required."""
    values = check_answers(START_BACK, answers)
    sb9_point = 1 if values["SB9"] >= SB9_POINT_FROM else 0
    total = _whole(values, [f"SB{n}" for n in range(1, 9)]) + sb9_point
    psychosocial = _whole(values, [f"SB{n}" for n in range(5, 9)]) + sb9_point
    return StartBackResult(total, psychosocial, start_back_stratum(total, psychosocial),
                           fear=values[START_BACK_CONCERNS["fear"]] == 1,
                           worry=values[START_BACK_CONCERNS["worry"]] == 1)


def score_disability(answers: Mapping[str, object], min_sections: int = 1) -> DisabilityResult:
    """Score the ODI-structure disability index (0-100, lower is better).

    Sections ODI1-ODI10 are 0-5 and any may be skipped (absent or None). Score is
    sum / (5 x sections answered) x 100, unrounded. Fewer than ``min_sections``
    answered sections is an error; clinics may raise the minimum.
    """
    if isinstance(min_sections, bool) or not isinstance(min_sections, int) or min_sections < 1:
        raise ValueError(f"min_sections must be a whole number >= 1, got {min_sections!r}")
    values = check_answers(DISABILITY, answers, min_answered=min_sections)
    answered = len(values)
    total = _whole(values, list(values))
    return DisabilityResult(100 * total / (5 * answered), answered)


def score_pain_nrs(answers: Mapping[str, object]) -> PainResult:
    """Score the pain numeric rating scale: item NRS, a whole number 0-10."""
    values = check_answers(PAIN_NRS, answers)
    return PainResult(int(values["NRS"]))


def score_psfs(answers: Mapping[str, object]) -> PsfsResult:
    """Score PSFS: 3 to 5 of PSFS1-PSFS5 answered, each 0-10; score = mean, unrounded."""
    values = check_answers(PSFS, answers)
    return PsfsResult(float(sum(values.values()) / len(values)), len(values))


def score_pseq(answers: Mapping[str, object]) -> PseqResult:
    """Score PSEQ: PSEQ1-PSEQ10 each 0-6, all required; total 0-60, higher is better."""
    values = check_answers(PSEQ, answers)
    return PseqResult(_whole(values, list(values)))


def score_fabq(
    answers: Mapping[str, object],
    *,
    pa_cutoff: float = FABQ_PA_CUTOFF,
    work_cutoff: float = FABQ_WORK_CUTOFF,
) -> FabqResult:
    """Score FABQ subscales; a subscale is elevated when strictly above its cut-off.

    FABQ1-FABQ16 each 0-6, all required. Physical activity = items 2-5 (0-24); work =
    items 6, 7, 9, 10, 11, 12, 15 (0-42). Published cut-offs vary, so they are parameters.
    """
    values = check_answers(FABQ, answers)
    physical_activity = _whole(values, [f"FABQ{n}" for n in FABQ_PHYSICAL_ACTIVITY_ITEMS])
    work = _whole(values, [f"FABQ{n}" for n in FABQ_WORK_ITEMS])
    return FabqResult(physical_activity, work, physical_activity > pa_cutoff, work > work_cutoff)


SCORERS: dict[str, Callable[[Mapping[str, object]], ScoreResult]] = {
    START_BACK.id: score_start_back,
    DISABILITY.id: score_disability,
    PAIN_NRS.id: score_pain_nrs,
    PSFS.id: score_psfs,
    PSEQ.id: score_pseq,
    FABQ.id: score_fabq,
}


def score(instrument_id: str, answers: Mapping[str, object]) -> ScoreResult:
    """Score answers for the instrument with this id, using default parameters."""
    scorer = SCORERS.get(instrument_id)
    if scorer is None:
        known = ", ".join(SCORERS)
        raise InstrumentError(
            f"unknown instrument {instrument_id!r}; known instruments are: {known}",
            instrument=str(instrument_id),
        )
    return scorer(answers)
