"""What NICE NG59 says not to offer for low back pain (shared/domain.md section 6), as data.

Used to warn (never block) when a first visit records one of these, and by the adherence
indicators. Values are the option ids of the first-visit form (bpmn/betterback/forms)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

DO_NOT_OFFER_TREATMENTS = {
    "belt_or_corset": "belts or corsets",
    "foot_orthotics": "foot orthotics",
    "rocker_sole_shoes": "rocker-sole shoes",
    "traction": "traction",
    "acupuncture": "acupuncture",
    "ultrasound": "ultrasound",
    "tens": "TENS",
    "pens": "PENS",
    "interferential_therapy": "interferential therapy",
}
DO_NOT_OFFER_MEDICATION = {
    "paracetamol_alone": "paracetamol alone",
    "opioid_chronic": "opioids for chronic low back pain",
    "ssri": "SSRIs",
    "snri": "SNRIs",
    "tca": "tricyclic antidepressants",
    "anticonvulsant": "anticonvulsants",
    "gabapentinoid": "gabapentinoids",
}
NEEDS_EXERCISE = {"manual_therapy": "manual therapy", "massage": "massage",
                  "psychological_therapy": "psychological therapy"}
"""Not to be offered without exercise (NICE NG59 1.2.7: manual therapy, soft-tissue techniques
such as massage included, and 1.2.8: psychological therapy, each only within a package that
includes exercise)."""


def treatment_warnings(answers: Mapping[str, Any], red_flag: bool = False,
                       exercising: bool = False) -> list[str]:
    """Plain-sentence warnings for any record of treatment (the first visit, a session);
    empty when it follows NG59. ``exercising``: the patient's exercise programme is running,
    so a treatment that needs exercise beside it has it."""
    return [sentence for _, sentence in field_warnings(answers, red_flag, exercising)]


WARNED_FIELDS = ("treatments", "medication", "imaging")
"""The record's fields a warning can be about."""


def field_warnings(answers: Mapping[str, Any], red_flag: bool = False,
                   exercising: bool = False) -> list[tuple[str, str]]:
    """The warnings of `treatment_warnings`, each with the field that caused it (one of
    WARNED_FIELDS), so a form can show it there."""
    treatments = set(_strings(answers.get("treatments")))
    medication = set(_strings(answers.get("medication")))
    warnings = [("treatments", f"NICE NG59 advises not to offer {DO_NOT_OFFER_TREATMENTS[t]}.")
                for t in sorted(treatments & set(DO_NOT_OFFER_TREATMENTS))]
    warnings += [("medication", f"NICE NG59 advises not to offer {DO_NOT_OFFER_MEDICATION[m]}.")
                 for m in sorted(medication & set(DO_NOT_OFFER_MEDICATION))]
    if "exercise" not in treatments and not exercising:
        warnings += [("treatments",
                      f"NICE NG59 advises {NEEDS_EXERCISE[t]} only together with exercise.")
                     for t in sorted(treatments & set(NEEDS_EXERCISE))]
    imaging = answers.get("imaging")
    if imaging not in (None, "none") and not red_flag:
        warnings.append(("imaging", "NICE NG59 (and quality statement QS155/2) advises no "
                         "imaging without suspected serious pathology."))
    return warnings


def _strings(value: Any) -> Iterable[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
