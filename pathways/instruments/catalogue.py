"""Catalogue of the pathway's questionnaires: item structure, own labels and licence notes.

Labels are our own short neutral descriptions of what each item is about; the published
wording is never stored here (domain.md section 5, "Licensing"). An operator who holds a
licence may load verbatim wording as a separate content pack keyed by these item ids.
"""

from __future__ import annotations

from .model import Instrument, Item


def _items(
    prefix: str,
    labels: list[str],
    low: int,
    high: int,
    *,
    required: bool = True,
    allow_float: bool = False,
) -> tuple[Item, ...]:
    return tuple(
        Item(f"{prefix}{n}", label, low, high, required=required, allow_float=allow_float)
        for n, label in enumerate(labels, start=1)
    )


START_BACK = Instrument(
    id="start_back",
    name="STarT Back",
    items=_items(
        "SB",
        [
            "Leg pain spread (last 2 weeks)",
            "Shoulder or neck pain",
            "Walked only short distances because of back pain",
            "Dressed more slowly because of back pain",
            "Fear: not safe to be physically active",
            "Anxiety: worrying thoughts",
            "Catastrophising: terrible, will never get better",
            "Low mood: not enjoying things",
        ],
        0,
        1,
    )
    + (Item("SB9", "Overall bothersomeness", 0, 4),),
    licence=(
        "STarT Back Screening Tool, Keele University: free to use without modification. "
        "Wording not stored here; load Keele's unmodified wording as a content pack."
    ),
    scale_note=(
        "SB1-SB8: 0 = disagree, 1 = agree. SB9: 0 not at all, 1 slightly, 2 moderately, "
        "3 very much, 4 extremely; SB9 scores 1 point when 3 or 4. Total SB1-SB9 (0-9); "
        "psychosocial subscale SB5-SB9 (0-5)."
    ),
)

DISABILITY = Instrument(
    id="disability",
    name="Disability index (ODI structure)",
    items=_items(
        "ODI",
        [
            "Pain intensity",
            "Personal care",
            "Lifting",
            "Walking",
            "Sitting",
            "Standing",
            "Sleeping",
            "Sex life",
            "Social life",
            "Travelling",
        ],
        0,
        5,
        required=False,
    ),
    licence=(
        "Oswestry Disability Index is licensed: only its structure (10 sections scored 0-5) "
        "is stored. An operator holding a licence may load the wording as a content pack."
    ),
    scale_note=(
        "Each section 0 (least limitation) to 5 (most); sections may be skipped. "
        "Score = sum / (5 x sections answered) x 100, 0-100, lower is better."
    ),
    min_answered=1,
)

PAIN_NRS = Instrument(
    id="pain_nrs",
    name="Pain NRS",
    items=(Item("NRS", "Pain intensity", 0, 10),),
    licence="Numeric rating scale for pain: public domain scale, free to use.",
    scale_note="0 = no pain to 10 = worst pain imaginable; whole numbers; lower is better.",
)

PSFS = Instrument(
    id="psfs",
    name="PSFS",
    items=_items(
        "PSFS",
        [f"Patient-chosen activity {n}" for n in range(1, 6)],
        0,
        10,
        required=False,
        allow_float=True,
    ),
    licence="Patient-Specific Functional Scale: free to use.",
    scale_note=(
        "3 to 5 activities the patient chooses, each 0 = unable to perform to 10 = able to "
        "perform at the level before the problem. Score = mean; higher is better."
    ),
    min_answered=3,
)

PSEQ = Instrument(
    id="pseq",
    name="PSEQ",
    items=_items(
        "PSEQ",
        [
            "Confidence: enjoying things despite pain",
            "Confidence: household chores despite pain",
            "Confidence: socialising despite pain",
            "Confidence: coping with pain in most situations",
            "Confidence: some form of work despite pain",
            "Confidence: hobbies and leisure despite pain",
            "Confidence: coping with pain without medication",
            "Confidence: reaching life goals despite pain",
            "Confidence: normal lifestyle despite pain",
            "Confidence: becoming gradually more active",
        ],
        0,
        6,
    ),
    licence=(
        "Pain Self-Efficacy Questionnaire: wording not included. Verify the licence terms "
        "locally before loading the wording as a content pack."
    ),
    scale_note="Each item 0 = not at all confident to 6 = completely confident; total 0-60, "
    "higher is better.",
)

FABQ = Instrument(
    id="fabq",
    name="FABQ",
    items=_items(
        "FABQ",
        [
            "Activity: pain caused by physical activity",
            "Activity: activity makes pain worse",
            "Activity: activity might harm the back",
            "Activity: should avoid activity that worsens pain",
            "Activity: cannot do activity that might worsen pain",
            "Work: pain caused by work",
            "Work: work aggravated the pain",
            "Work: compensation claim",
            "Work: work is too heavy",
            "Work: work makes pain worse",
            "Work: work might harm the back",
            "Work: should not do normal work now",
            "Work: cannot do normal work now",
            "Work: cannot work until pain is treated",
            "Work: early return to normal work unlikely",
            "Work: return to that work ever unlikely",
        ],
        0,
        6,
    ),
    licence="Fear-Avoidance Beliefs Questionnaire: free to use. Wording not stored here.",
    scale_note=(
        "Each item 0 = completely disagree to 6 = completely agree. Physical activity "
        "subscale = items 2-5 (0-24); work subscale = items 6, 7, 9, 10, 11, 12, 15 (0-42); "
        "items 1, 8, 13, 14, 16 are not scored. Higher = more fear-avoidance."
    ),
)

INSTRUMENTS: dict[str, Instrument] = {
    instrument.id: instrument for instrument in (START_BACK, DISABILITY, PAIN_NRS, PSFS, PSEQ, FABQ)
}
"""Registry of instruments by id: start_back, disability, pain_nrs, psfs, pseq, fabq."""
