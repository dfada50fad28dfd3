"""Meaningful-change (MCID) checks: has a patient improved between baseline and follow-up?

Default thresholds are those of domain.md section 5; every threshold is a keyword parameter
so a clinic can configure its own. Inputs are scores (not raw answers): pain NRS 0-10,
disability index 0-100, PSFS mean 0-10, PSEQ total 0-60. Which measures decide whether a
patient improved (primary) and which only support that judgement is a model setting too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

from .model import InstrumentError

# Pain NRS: >= 2 points or >= 30% (Ostelo et al., Spine 2008; domain.md section 5).
PAIN_MCID_POINTS = 2
PAIN_MCID_FRACTION = 0.30
# Disability index (ODI structure): >= 10 points or 30% (domain.md section 5).
DISABILITY_MCID_POINTS = 10
DISABILITY_MCID_FRACTION = 0.30
# PSFS: 2 points on the mean; 3 points for a single activity (domain.md section 5).
PSFS_MCID_POINTS = 2.0
PSFS_SINGLE_ACTIVITY_MCID_POINTS = 3.0
# PSEQ: >= 7 points (domain.md section 5).
PSEQ_MCID_POINTS = 7

# Scores are fractions worked out in binary floating point (100 * 7 / 30, a mean of thirds),
# so a change exactly at a threshold can come out a hair below it: 6 sections, 7 -> 4 of 30
# is 10 points, 9.999999999999998 in floats. A change this close to a threshold counts as
# reaching it. That absorbs floating-point error only, never rounding: answers move these
# scores in far bigger steps (a disability index over 9 sections in steps of 100/45
# points), so compare unrounded scores (scoring.py keeps them so) and round only to show.
_TOLERANCE = 1e-9


def _score(measure: str, which: str, value: object, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InstrumentError(
            f"{measure} change: {which} must be a number from 0 to {high:g}, got {value!r}",
            instrument=measure,
        )
    if not math.isfinite(value) or not 0 <= value <= high:
        raise InstrumentError(
            f"{measure} change: {which} must be a number from 0 to {high:g}, got {value!r}",
            instrument=measure,
        )
    return float(value)


def _check_thresholds(points: float, fraction: float | None = None) -> None:
    if not points > 0:
        raise ValueError(f"points threshold must be above 0, got {points!r}")
    if fraction is not None and not 0 < fraction <= 1:
        raise ValueError(f"fraction threshold must be above 0 and at most 1, got {fraction!r}")


def _reaches(change: float, threshold: float) -> bool:
    return change >= threshold - _TOLERANCE


def _decrease_improved(
    measure: str, high: float, baseline: object, follow_up: object, points: float, fraction: float
) -> bool:
    _check_thresholds(points, fraction)
    before = _score(measure, "baseline", baseline, high)
    after = _score(measure, "follow-up", follow_up, high)
    drop = before - after
    if _reaches(drop, points):
        return True
    # Relative rule; with a baseline of 0 only the points rule can apply.
    return before > 0 and drop > 0 and _reaches(drop / before, fraction)


def pain_improved(
    baseline: float,
    follow_up: float,
    points: float = PAIN_MCID_POINTS,
    fraction: float = PAIN_MCID_FRACTION,
) -> bool:
    """Pain NRS (0-10, lower is better) improved meaningfully.

    True when pain dropped by at least ``points`` or by at least ``fraction`` of baseline.
    Defaults 2 points / 30% (Ostelo, Spine 2008, via domain.md section 5).
    """
    return _decrease_improved("pain NRS", 10, baseline, follow_up, points, fraction)


def disability_improved(
    baseline: float,
    follow_up: float,
    points: float = DISABILITY_MCID_POINTS,
    fraction: float = DISABILITY_MCID_FRACTION,
) -> bool:
    """Disability index (0-100, lower is better) improved meaningfully.

    True when the score dropped by at least ``points`` or by at least ``fraction`` of
    baseline. Defaults 10 points / 30% (domain.md section 5).
    """
    return _decrease_improved("disability index", 100, baseline, follow_up, points, fraction)


def psfs_improved(baseline: float, follow_up: float, points: float = PSFS_MCID_POINTS) -> bool:
    """PSFS mean (0-10, higher is better) rose by at least ``points`` (default 2).

    For a single activity domain.md section 5 gives 3 points: pass
    ``points=PSFS_SINGLE_ACTIVITY_MCID_POINTS``.
    """
    _check_thresholds(points)
    gain = _score("PSFS", "follow-up", follow_up, 10) - _score("PSFS", "baseline", baseline, 10)
    return _reaches(gain, points)


def pseq_improved(baseline: float, follow_up: float, points: float = PSEQ_MCID_POINTS) -> bool:
    """PSEQ total (0-60, higher is better) rose by at least ``points`` (default 7)."""
    _check_thresholds(points)
    gain = _score("PSEQ", "follow-up", follow_up, 60) - _score("PSEQ", "baseline", baseline, 60)
    return _reaches(gain, points)


_CHECKS: dict[str, Callable[[float, float], bool]] = {
    "pain": pain_improved,
    "disability": disability_improved,
    "psfs": psfs_improved,
    "pseq": pseq_improved,
}
IMPROVEMENT_MEASURES = tuple(_CHECKS)
"""The measures improvement_summary compares (the keys of `prom_scores`)."""

# What counts as improvement: function (the disability index) and the patient's own goals
# (PSFS) first, with pain as support (domain.md section 2.9; NICE NG59, BetterBack). Models
# pass their own choice from pathway.toml (improvement_primary_measures,
# improvement_supporting_measures); these defaults say the same.
DEFAULT_PRIMARY_MEASURES = ("disability", "psfs")
DEFAULT_SUPPORTING_MEASURES = ("pain",)

ImprovementSummary = dict[str, bool | int | None | list[str]]


class MeasureChoiceError(ValueError):
    """A choice of improvement measures that cannot be used; `which` list is wrong: primary,
    supporting, or both (a measure in both)."""

    def __init__(self, which: str, message: str) -> None:
        super().__init__(message)
        self.which = which


def improvement_measures(
    primary: Iterable[str] | None = None, supporting: Iterable[str] | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The primary and supporting measures, checked (defaults for None).

    Raises MeasureChoiceError (a ValueError) with a sentence when a name is not a measure, a
    list is given as text, a measure is named twice or in both lists, or no primary measure
    is named.
    """
    primary_measures = _measure_names(
        "primary", DEFAULT_PRIMARY_MEASURES if primary is None else primary)
    supporting_measures = _measure_names(
        "supporting", DEFAULT_SUPPORTING_MEASURES if supporting is None else supporting)
    if not primary_measures:
        raise MeasureChoiceError("primary", "improvement needs at least one primary measure, "
                                 f"e.g. {list(DEFAULT_PRIMARY_MEASURES)}")
    both = sorted(set(primary_measures) & set(supporting_measures))
    if both:
        raise MeasureChoiceError("both", f"{', '.join(both)} cannot be both a primary and a "
                                 "supporting measure of improvement")
    return primary_measures, supporting_measures


def _measure_names(which: str, names: Iterable[str]) -> tuple[str, ...]:
    if isinstance(names, str | bytes) or not isinstance(names, Iterable):
        raise MeasureChoiceError(which, f"{which} improvement measures must be a list of "
                                 f"measure names, got {names!r}")
    listed = tuple(names)
    unknown = [name for name in listed if name not in _CHECKS]
    if unknown:
        raise MeasureChoiceError(which, f"unknown {which} improvement measure "
                                 f"{', '.join(repr(name) for name in unknown)}; the measures "
                                 f"are {', '.join(IMPROVEMENT_MEASURES)}")
    if len(set(listed)) != len(listed):
        raise MeasureChoiceError(which, f"{which} improvement measures name a measure twice: "
                                 f"{list(listed)}")
    return listed


def improvement_summary(
    baseline: Mapping[str, object],
    follow_up: Mapping[str, object],
    primary: Iterable[str] | None = None,
    supporting: Iterable[str] | None = None,
) -> ImprovementSummary:
    """Compare baseline and follow-up scores with the default MCIDs, and judge improvement.

    Both mappings may hold the optional keys "pain", "disability", "psfs", "pseq" (scores);
    other keys are ignored. Returns one entry per measure (None when either side is missing
    or None); "primary_improved" (a primary measure reached its MCID: the judgement),
    "supporting_improved", the "primary_measures" and "supporting_measures" it used (see
    `improvement_measures`) and "primary_compared" (how many primary measures both sides
    have: 0 means the judgement had nothing to go on); and, as before, "any_improved" (any
    measure) and "measures_compared".
    """
    primary_measures, supporting_measures = improvement_measures(primary, supporting)
    summary: ImprovementSummary = {}
    for key, check in _CHECKS.items():
        before, after = baseline.get(key), follow_up.get(key)
        compared = before is not None and after is not None
        # The checks validate the scores themselves (InstrumentError with a sentence).
        summary[key] = check(before, after) if compared else None  # type: ignore[arg-type]
    improved = [key for key in IMPROVEMENT_MEASURES if summary[key] is True]
    summary["any_improved"] = bool(improved)
    summary["measures_compared"] = sum(summary[key] is not None for key in IMPROVEMENT_MEASURES)
    summary["primary_measures"] = list(primary_measures)
    summary["supporting_measures"] = list(supporting_measures)
    summary["primary_improved"] = any(key in improved for key in primary_measures)
    summary["supporting_improved"] = any(key in improved for key in supporting_measures)
    summary["primary_compared"] = sum(summary[key] is not None for key in primary_measures)
    return summary
