"""Tests for the graded exercise library and programme helpers (pathways/exercises.py)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from pathways.exercises import (
    DEFAULT_DIR,
    ENV_DIR,
    Dose,
    ExerciseError,
    ExerciseLibrary,
    apply_week_decisions,
    default_library,
    describe_programme,
    starting_programme,
    week_inputs,
)

from .exercises_support import make_toml, write

REQUIRED_IDS = {
    "walking", "trunk-mobility", "back-extension", "hip-gluteal-strength", "core-control",
    "hamstring-hip-flexibility", "functional-lifting", "balance",
}
LOW = ["walking", "trunk-mobility", "core-control"]
MEDIUM = LOW + ["hip-gluteal-strength", "back-extension"]


def progress_all(programme: object, decision: str, lib: ExerciseLibrary) -> list[dict[str, object]]:
    """One decision for every exercise (the programme's own function takes one per exercise);
    a programme that is not a list is refused by it."""
    count = len(programme) if isinstance(programme, list | tuple) else 0
    return apply_week_decisions(programme, [decision] * count, 15, lib)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def lib() -> ExerciseLibrary:
    return ExerciseLibrary.load(DEFAULT_DIR)


# --- shipped content ---------------------------------------------------------------------

def test_library_has_required_exercises(lib: ExerciseLibrary) -> None:
    assert set(lib.ids()) >= REQUIRED_IDS
    assert len(lib.ids()) >= 8
    assert "walking" in lib and "nope" not in lib and 3 not in lib


@pytest.mark.parametrize("ex_id", sorted(REQUIRED_IDS))
def test_each_exercise_is_complete(lib: ExerciseLibrary, ex_id: str) -> None:
    ex = lib.get(ex_id)
    assert 3 <= ex.max_level <= 4
    assert [lv.level for lv in ex.levels] == list(range(1, ex.max_level + 1))
    for lv in ex.levels:
        assert lv.name and lv.instructions and lv.what_to_feel and lv.stop_if
        assert lv.dose.describe()
    assert ex.level(ex.max_level) is ex.levels[-1]


URGENT_SIGNS = {
    # What every level's stop rules send a patient for help with, the same day: the signs of
    # cauda equina syndrome or a worsening nerve root problem (the red-flag table in
    # shared/domain.md, section 4: "same-day emergency assessment").
    "urgency": r"urgent medical help the same day",
    "where to go": r"emergency department or call your emergency number",
    "bladder or bowel change": r"change in bladder or bowel control",
    "saddle numbness": r"numbness around your genitals, bottom or inner thighs",
    "leg weakness or numbness": r"weakness or numbness in a leg",
}


@pytest.mark.parametrize("ex_id", sorted(REQUIRED_IDS))
def test_every_level_says_when_to_get_urgent_help(lib: ExerciseLibrary, ex_id: str) -> None:
    for lv in lib.get(ex_id).levels:
        missing = [idea for idea, words in URGENT_SIGNS.items()
                   if not re.search(words, lv.stop_if)]
        assert missing == [], f"{ex_id} level {lv.level}: stop_if lacks {missing}"


def test_shipped_files_say_doses_are_adjustable() -> None:
    for path in DEFAULT_DIR.glob("*.toml"):
        head = path.read_text(encoding="utf-8").splitlines()[0]
        assert head.startswith("#") and "physiotherapist" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("dose", "text"), [
    (Dose(sets=2, reps=10), "2 x 10"),
    (Dose(minutes=10), "10 min"),
    (Dose(minutes=20, sessions_per_week=5), "20 min, 5 times a week"),
    (Dose(sets=3, reps=8, sessions_per_week=3), "3 x 8, 3 times a week"),
])
def test_dose_describe(dose: Dose, text: str) -> None:
    assert dose.describe() == text


@pytest.mark.parametrize("n", [0, 5, -1, True])
def test_level_out_of_range(lib: ExerciseLibrary, n: int) -> None:
    with pytest.raises(ExerciseError, match="level"):
        lib.get("walking").level(n)


def test_get_unknown_id(lib: ExerciseLibrary) -> None:
    with pytest.raises(ExerciseError, match="unknown exercise id 'nope'"):
        lib.get("nope")


def test_default_library_is_cached() -> None:
    default_library.cache_clear()
    assert default_library() is default_library()


# --- starting programmes -----------------------------------------------------------------

def ids_levels(programme: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(e["exercise"], e["level"]) for e in programme]


@pytest.mark.parametrize(("stratum", "findings", "expected"), [
    ("low", None, [(i, 1) for i in LOW]),
    ("medium", {}, [(i, 1) for i in MEDIUM]),
    ("high", None, [(i, 1) for i in MEDIUM]),
    ("high", {"fear_of_lifting": True}, [(i, 1) for i in MEDIUM] + [("functional-lifting", 1)]),
    ("medium", {"fear_of_lifting": True}, [(i, 1) for i in MEDIUM]),
    ("low", {"leg_pain": True}, [(i, 1) for i in LOW] + [("hamstring-hip-flexibility", 1)]),
    ("low", {"balance_concern": True, "leg_pain": False}, [(i, 1) for i in LOW + ["balance"]]),
    ("medium", {"start_level": 2}, [(i, 2) for i in MEDIUM]),
    ("high", {"start_level": 2}, [(i, 1) for i in MEDIUM]),
    ("low", {"start_level": None, "other_note": "ignored"}, [(i, 1) for i in LOW]),
    ("high", {"leg_pain": True, "balance_concern": True, "fear_of_lifting": True},
     [(i, 1) for i in MEDIUM + ["hamstring-hip-flexibility", "balance", "functional-lifting"]]),
])
def test_starting_programme(lib: ExerciseLibrary, stratum: str,
                            findings: dict[str, object] | None,
                            expected: list[tuple[str, int]]) -> None:
    programme = starting_programme(stratum, findings, lib)
    assert ids_levels(programme) == expected
    assert json.loads(json.dumps(programme)) == programme


def test_start_level_two_then_progress_to_top(tmp_path: Path) -> None:
    for ex_id in LOW:
        write(tmp_path, make_toml(ex_id, levels=3), ex_id)
    small = ExerciseLibrary.load(tmp_path)
    programme = starting_programme("low", {"start_level": 2}, small)
    assert ids_levels(programme) == [(i, 2) for i in LOW]
    climbed = programme
    for _ in range(10):
        climbed = progress_all(climbed, "progress", small)
    assert ids_levels(climbed) == [(i, 3) for i in LOW]


@pytest.mark.parametrize(("stratum", "findings", "match"), [
    ("severe", None, "unknown stratum 'severe'"),
    ("LOW", None, "unknown stratum"),
    ("low", {"start_level": 3}, "start_level: must be 1 or 2"),
    ("low", {"start_level": True}, "start_level"),
    ("low", {"start_level": "2"}, "start_level"),
    ("low", {"leg_pain": "yes"}, "leg_pain: must be true or false"),
])
def test_starting_programme_errors(lib: ExerciseLibrary, stratum: str,
                                   findings: dict[str, object] | None, match: str) -> None:
    with pytest.raises(ExerciseError, match=match):
        starting_programme(stratum, findings, lib)


def test_starting_programme_uses_default_library() -> None:
    default_library.cache_clear()
    assert ids_levels(starting_programme("low")) == [(i, 1) for i in LOW]


# --- progression -------------------------------------------------------------------------

@pytest.mark.parametrize(("decision", "start", "expected"), [
    ("progress", "max", "max"),
    ("hold", 2, 2),
    ("regress", 2, 1),
    ("regress", 1, 1),
])
def test_one_decision_for_every_exercise(lib: ExerciseLibrary, decision: str, start: int | str,
                           expected: int | str) -> None:
    for ex_id in lib.ids():
        top = lib.get(ex_id).max_level
        level = top if start == "max" else start
        programme = [{"exercise": ex_id, "level": level, "note": {"done": [1]}}]
        before = copy.deepcopy(programme)
        result = progress_all(programme, decision, lib)
        assert programme == before
        assert result is not programme and result[0] is not programme[0]
        assert result[0]["level"] == (top if expected == "max" else expected)
        assert result[0]["note"] == {"done": [1]} and result[0]["note"] is not programme[0]["note"]


def test_progress_climbs_one_rung_of_each_exercises_own_ladder(lib: ExerciseLibrary) -> None:
    for ex_id in lib.ids():
        ladder = lib.get(ex_id).ladder()
        result = progress_all([{"exercise": ex_id, "level": 1}], "progress", lib)
        assert (result[0]["level"], result[0]["step"]) == (ladder[1].level, ladder[1].step)


def test_a_rung_is_about_ten_to_twenty_percent_more_and_never_a_doubling(
        lib: ExerciseLibrary) -> None:
    """domain.md 2.8. Within a level each step adds 15 % rounded down but at least one minute
    or one repetition a set, so very small doses (3 x 3) rise by one repetition a set."""
    for ex_id in lib.ids():
        ladder = lib.get(ex_id).ladder(15)
        assert (ladder[0].level, ladder[0].step) == (1, 0)
        assert ladder[-1].level == lib.get(ex_id).max_level
        for lower, upper in zip(ladder, ladder[1:], strict=False):
            rise = upper.dose.volume / lower.dose.volume
            one_more = (lower.dose.volume + (lower.dose.sets or 1)) / lower.dose.volume
            assert rise < 2, (ex_id, lower, upper)
            if upper.level == lower.level:
                assert rise <= max(1.15, one_more) + 1e-9, (ex_id, lower, upper)
            else:  # a level of its own: at most one step above the rung below it
                assert rise <= max(1.15, one_more) + 1e-9, (ex_id, lower, upper)


def test_the_walking_ladder_climbs_in_minutes_a_clinician_would_sign(lib: ExerciseLibrary) -> None:
    minutes = [r.dose.minutes for r in lib.get("walking").ladder(15)]
    assert minutes == [10, 11, 12, 13, 14, 16, 18, 20, 23, 26, 29, 30, 34, 39, 40]


def test_each_exercise_moves_by_its_own_decision(lib: ExerciseLibrary) -> None:
    programme = [{"exercise": "walking", "level": 1, "step": 3},
                 {"exercise": "core-control", "level": 2, "step": 0}]
    result = apply_week_decisions(programme, ["progress", "hold_signal"], 15, lib)
    assert [(e["level"], e["step"], e["signal"]) for e in result] == [(1, 4, False),
                                                                     (2, 0, True)]
    back = apply_week_decisions(result, ["regress_alert", "regress"], 15, lib)
    assert [(e["level"], e["step"], e["signal"]) for e in back] == [(1, 3, False),
                                                                   (1, 0, False)]
    with pytest.raises(ExerciseError, match="one decision per exercise"):
        apply_week_decisions(programme, ["progress"], 15, lib)
    with pytest.raises(ExerciseError, match="progression_step_percent"):
        apply_week_decisions(programme, ["hold", "hold"], 50, lib)


def test_week_inputs_count_pain_against_the_named_exercises_or_all(lib: ExerciseLibrary) -> None:
    programme = [{"exercise": "walking", "level": 1}, {"exercise": "balance", "level": 1,
                                                       "signal": True}]
    week = {"sessions_done": 2, "pain_during": 7, "pain_settled": False,
            "painful_exercises": ["balance"], "too_hard_exercises": ["walking"]}
    rows = week_inputs(programme, week, 3, lib)
    assert rows[0] == {"exercise": "walking", "pain_during": 0, "pain_settled": True,
                       "too_hard": True, "adherence": 2 / 3, "repeated": False}
    assert rows[1]["pain_during"] == 7 and rows[1]["pain_settled"] is False
    assert rows[1]["repeated"] is True
    everyone = week_inputs(programme, {**week, "painful_exercises": []}, 3, lib)
    assert [r["pain_during"] for r in everyone] == [7, 7]


def test_progress_mixed_levels(lib: ExerciseLibrary) -> None:
    top = lib.get("walking").max_level
    programme = [{"exercise": "walking", "level": top}, {"exercise": "balance", "level": 1}]
    assert ids_levels(progress_all(programme, "progress", lib)) == [
        ("walking", top), ("balance", 2)]
    assert ids_levels(progress_all(programme, "regress", lib)) == [
        ("walking", top - 1), ("balance", 1)]


@pytest.mark.parametrize(("programme", "decision", "match"), [
    ([{"exercise": "walking", "level": 1}], "skip", "unknown decision 'skip'"),
    ([{"exercise": "swimming", "level": 1}], "hold", r"programme\[0\]: exercise: unknown"),
    ([{"exercise": "walking", "level": 9}], "hold", r"programme\[0\]: level: must be 1\.\.4"),
    ([{"exercise": "walking", "level": 0}], "hold", "level"),
    ([{"exercise": "walking"}], "hold", "level"),
    ([{"exercise": "walking", "level": 1}, {"exercise": "walking", "level": 2}], "hold",
     "more than once"),
    (["walking"], "hold", "must be a mapping"),
    ({"exercise": "walking", "level": 1}, "hold", "must be a list"),
])
def test_apply_progression_errors(lib: ExerciseLibrary, programme: object, decision: str,
                                  match: str) -> None:
    with pytest.raises(ExerciseError, match=match):
        progress_all(programme, decision, lib)  # type: ignore[arg-type]


def test_describe_programme(lib: ExerciseLibrary) -> None:
    rows = describe_programme([{"exercise": "walking", "level": 2},
                               {"exercise": "core-control", "level": 1}], lib)
    walking = lib.get("walking").level(2)
    assert rows[0]["id"] == "walking" and rows[0]["title"] == "Walking"
    assert rows[0]["level"] == 2 and rows[0]["level_name"] == walking.name
    assert rows[0]["dose"] == walking.dose.describe()
    for key in ("instructions", "what_to_feel", "stop_if", "video_url", "max_level"):
        assert key in rows[1]
    assert json.loads(json.dumps(rows)) == rows


# --- malformed files ---------------------------------------------------------------------

def test_minimal_valid_file_loads(tmp_path: Path) -> None:
    lib = ExerciseLibrary.load(write(tmp_path, make_toml(video_url="https://example.org/v")))
    assert lib.ids() == ("demo",)
    assert lib.get("demo").video_url == "https://example.org/v"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"drop": "title"}, "demo.toml: title: missing"),
    ({"drop": "summary"}, "summary: missing"),
    ({"drop": "stop_if"}, r"levels\[1\]\.stop_if: missing"),
    ({"drop": "dose"}, r"levels\[1\]\.dose: missing"),
    ({"numbers": [1, 2, 4]}, r"levels\[3\]\.level: levels must be numbered 1\.\.n.*got 4"),
    ({"numbers": [2, 3, 4]}, r"levels\[1\]\.level"),
    ({"levels": 2}, "levels: needs 3-4"),
    ({"levels": 5}, "levels: needs 3-4"),
    ({"dose": "{ sets = 2 }"}, r"levels\[1\]\.dose: needs either sets and reps, or minutes"),
    ({"dose": "{ sessions_per_week = 3 }"}, "needs either sets and reps, or minutes"),
    ({"dose": "{ sets = 2, reps = 10, minutes = 5 }"}, "not both"),
    ({"dose": "{ minutes = 0 }"}, r"dose\.minutes: must be a whole number"),
    ({"dose": "{ minutes = 1.5 }"}, r"dose\.minutes"),
    ({"dose": "{ minutes = 5, reps_typo = 3 }"}, r"dose\.reps_typo: unknown field"),
    ({"video_url": "http://example.org/v.mp4"}, "video_url: must be empty or an https:// link"),
    ({"extra": 'categroy = "x"'}, "categroy: unknown field"),
    ({"extra": "[oops"}, "demo.toml: cannot read"),
])
def test_malformed_file(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    write(tmp_path, make_toml(**kwargs))  # type: ignore[arg-type]
    with pytest.raises(ExerciseError, match=match):
        ExerciseLibrary.load(tmp_path)


@pytest.mark.parametrize(("text", "file_id", "match"), [
    (make_toml("other"), "demo", r"id: must be a lower-case slug equal to the file name"),
    (make_toml("Bad_Id"), "Bad_Id", "id: must be a lower-case slug"),
    (make_toml().replace('"mobility"', '"yoga"'), "demo", "category: must be one of"),
    (make_toml().replace('title = "Demo"', 'title = ""'), "demo", "title: must be a non-empty"),
])
def test_bad_identity_fields(tmp_path: Path, text: str, file_id: str, match: str) -> None:
    write(tmp_path, text, file_id)
    with pytest.raises(ExerciseError, match=match):
        ExerciseLibrary.load(tmp_path)


def test_error_names_the_file(tmp_path: Path) -> None:
    write(tmp_path, make_toml(numbers=[1, 3, 4]))
    with pytest.raises(ExerciseError) as info:
        ExerciseLibrary.load(tmp_path)
    assert str(tmp_path / "demo.toml") in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("sub", ["missing", "empty"])
def test_missing_or_empty_directory(tmp_path: Path, sub: str) -> None:
    directory = tmp_path / sub
    if sub == "empty":
        directory.mkdir()
    with pytest.raises(ExerciseError, match="not found" if sub == "missing" else "no exercise"):
        ExerciseLibrary.load(directory)


# --- environment override ----------------------------------------------------------------

def test_env_var_overrides_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, make_toml("stretch"), "stretch")
    monkeypatch.setenv(ENV_DIR, str(tmp_path))
    assert ExerciseLibrary.load().ids() == ("stretch",)
    default_library.cache_clear()
    try:
        assert default_library().ids() == ("stretch",)
    finally:
        default_library.cache_clear()


def test_explicit_directory_beats_env_var(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "does-not-exist"))
    assert set(ExerciseLibrary.load(DEFAULT_DIR).ids()) >= REQUIRED_IDS
    with pytest.raises(ExerciseError, match="does-not-exist"):
        ExerciseLibrary.load()
