"""Tests for questionnaire answer validation (every error, with its message) and the
instrument registry: metadata, dispatch and JSON-ready results."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pathways.instruments import INSTRUMENTS, SCORERS, InstrumentError, score, score_start_back

from .instruments_support import all_items, start_back

# --- Errors: every kind, with the message checked -----------------------------------------

SB_OK = start_back(set(), 0)

ERROR_CASES: list[tuple[str, str, dict[str, object], str]] = [
    (
        "binary out of range",
        "start_back",
        SB_OK | {"SB3": 7},
        "STarT Back item SB3: expected 0 or 1, got 7",
    ),
    ("negative", "start_back", SB_OK | {"SB1": -1}, "STarT Back item SB1: expected 0 or 1, got -1"),
    (
        "bothersomeness out of range",
        "start_back",
        SB_OK | {"SB9": 5},
        "STarT Back item SB9: expected a whole number from 0 to 4, got 5",
    ),
    (
        "digit string",
        "start_back",
        SB_OK | {"SB2": "1"},
        "STarT Back item SB2: expected 0 or 1, got '1' (text); send the number itself",
    ),
    (
        "bool on a 0-4 item",
        "start_back",
        SB_OK | {"SB9": True},
        "STarT Back item SB9: expected a whole number from 0 to 4, got True (true/false is "
        "accepted only for 0/1 items)",
    ),
    (
        "float where whole numbers only",
        "pain_nrs",
        {"NRS": 7.5},
        "Pain NRS item NRS: expected a whole number from 0 to 10, got 7.5 (this item takes "
        "whole numbers only)",
    ),
    (
        "whole-valued float still rejected",
        "pseq",
        all_items("PSEQ", 10, 3) | {"PSEQ4": 3.0},
        "PSEQ item PSEQ4: expected a whole number from 0 to 6, got 3.0",
    ),
    (
        "other type",
        "pain_nrs",
        {"NRS": [5]},
        "Pain NRS item NRS: expected a whole number from 0 to 10, got [5] of type list",
    ),
    (
        "PSFS above 10",
        "psfs",
        {"PSFS1": 5, "PSFS2": 5, "PSFS3": 10.5},
        "PSFS item PSFS3: expected a number from 0 to 10, got 10.5",
    ),
    (
        "PSFS not a number",
        "psfs",
        {"PSFS1": 5, "PSFS2": 5, "PSFS3": float("nan")},
        "PSFS item PSFS3: expected a number from 0 to 10, got nan (not a finite number)",
    ),
    (
        "ODI section out of range",
        "disability",
        {"ODI4": 6},
        "Disability index (ODI structure) item ODI4: expected a whole number from 0 to 5, got 6",
    ),
    (
        "missing required item",
        "start_back",
        {k: v for k, v in SB_OK.items() if k != "SB4"},
        "STarT Back item SB4: answer is missing; expected 0 or 1",
    ),
    (
        "None for a required item",
        "fabq",
        all_items("FABQ", 16, 0) | {"FABQ16": None},
        "FABQ item FABQ16: answer is missing; expected a whole number from 0 to 6",
    ),
    (
        "unknown item",
        "start_back",
        SB_OK | {"SB10": 1},
        "STarT Back: unknown item 'SB10'; valid items are SB1 to SB9",
    ),
    (
        "unknown items listed",
        "pain_nrs",
        {"NRS": 3, "nrs": 3, "VAS": 30},
        "Pain NRS: unknown items 'nrs', 'VAS'; valid items are NRS",
    ),
]


@pytest.mark.parametrize(
    ("instrument_id", "answers", "message"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_invalid_answers_explain_what_to_fix(
    instrument_id: str, answers: dict[str, object], message: str
) -> None:
    with pytest.raises(InstrumentError, match="^" + re.escape(message)):
        score(instrument_id, answers)


def test_error_carries_instrument_and_item() -> None:
    with pytest.raises(InstrumentError) as caught:
        score_start_back(SB_OK | {"SB3": 7})
    assert (caught.value.instrument, caught.value.item) == ("start_back", "SB3")
    assert isinstance(caught.value, ValueError)


def test_answers_must_be_a_mapping() -> None:
    bad: Any = [1, 0, 1]
    with pytest.raises(InstrumentError, match=r"^STarT Back: answers must be a mapping"):
        score_start_back(bad)


def test_unknown_instrument() -> None:
    with pytest.raises(InstrumentError, match=r"^unknown instrument 'odi'; known instruments"):
        score("odi", {})


# --- Registry, metadata, dispatch, JSON --------------------------------------------------


def test_registry_ids_and_dispatch_agree() -> None:
    expected = {"start_back", "disability", "pain_nrs", "psfs", "pseq", "fabq"}
    assert set(INSTRUMENTS) == expected == set(SCORERS)
    for key, instrument in INSTRUMENTS.items():
        assert instrument.id == key
        assert instrument.licence and instrument.scale_note
        assert all(item.label and item.min < item.max for item in instrument.items)


@pytest.mark.parametrize(
    ("instrument_id", "count"),
    [
        ("start_back", 9),
        ("disability", 10),
        ("pain_nrs", 1),
        ("psfs", 5),
        ("pseq", 10),
        ("fabq", 16),
    ],
)
def test_item_counts(instrument_id: str, count: int) -> None:
    assert len(INSTRUMENTS[instrument_id].items) == count


def test_licence_notes_say_what_the_domain_requires() -> None:
    assert "Keele" in INSTRUMENTS["start_back"].licence
    assert "without modification" in INSTRUMENTS["start_back"].licence
    assert "licensed" in INSTRUMENTS["disability"].licence
    assert "content pack" in INSTRUMENTS["disability"].licence
    assert "not included" in INSTRUMENTS["pseq"].licence
    assert "public domain" in INSTRUMENTS["pain_nrs"].licence
    assert "free" in INSTRUMENTS["psfs"].licence and "free" in INSTRUMENTS["fabq"].licence


VALID_ANSWERS: list[tuple[str, dict[str, object], dict[str, object]]] = [
    ("start_back", start_back({5, 6, 7}, 3),
     {"total": 4, "psychosocial": 4, "stratum": "high", "fear": True, "worry": True}),
    ("disability", {"ODI1": 1, "ODI2": 2, "ODI3": 2}, {"score": 100 / 3, "sections_answered": 3}),
    ("pain_nrs", {"NRS": 6}, {"score": 6}),
    ("psfs", {"PSFS1": 4, "PSFS2": 5.5, "PSFS3": 6}, {"score": 15.5 / 3, "activities": 3}),
    ("pseq", all_items("PSEQ", 10, 2), {"total": 20}),
    (
        "fabq",
        all_items("FABQ", 16, 6),
        {
            "physical_activity": 24,
            "work": 42,
            "physical_activity_elevated": True,
            "work_elevated": True,
        },
    ),
]


@pytest.mark.parametrize(
    ("instrument_id", "answers", "expected"),
    VALID_ANSWERS,
    ids=[case[0] for case in VALID_ANSWERS],
)
def test_as_dict_is_plain_json(
    instrument_id: str, answers: dict[str, object], expected: dict[str, object]
) -> None:
    stored = score(instrument_id, answers).as_dict()
    assert stored == expected
    assert json.loads(json.dumps(stored)) == expected
