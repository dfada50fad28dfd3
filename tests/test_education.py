"""Tests for pathways.education: the shipped modules, lookups and answer checks in the
catalogue, and which directory the catalogue is loaded from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pathways.education import (
    DEFAULT_DIRECTORY,
    ENV_VAR,
    CheckResult,
    EducationCatalogue,
    EducationError,
    EducationModule,
    default_catalogue,
    load_module,
)

from .education_support import valid_front, write_module

ALL_IDS = {
    "understanding-back-pain",
    "staying-active",
    "fear-and-movement",
    "stress-and-worry",
    "sleep",
    "pacing-and-graded-activity",
    "flare-up-plan",
    "back-to-work",
}

EXPECTED_BY_STRATUM = {
    "low": ["understanding-back-pain", "staying-active", "flare-up-plan"],
    "medium": [
        "understanding-back-pain",
        "staying-active",
        "sleep",
        "pacing-and-graded-activity",
        "back-to-work",
        "flare-up-plan",
    ],
    "high": [
        "understanding-back-pain",
        "staying-active",
        "fear-and-movement",
        "stress-and-worry",
        "sleep",
        "pacing-and-graded-activity",
        "back-to-work",
        "flare-up-plan",
    ],
}


@pytest.fixture(autouse=True)
def _fresh_default_catalogue() -> None:
    default_catalogue.cache_clear()


@pytest.fixture(scope="module")
def catalogue() -> EducationCatalogue:
    return EducationCatalogue.load(DEFAULT_DIRECTORY)


# ------------------------------------------------------------------ shipped modules


def test_all_eight_modules_load(catalogue: EducationCatalogue) -> None:
    assert set(catalogue.ids()) == ALL_IDS
    assert len(catalogue) == 8
    for module_id in ALL_IDS:
        module = catalogue.get(module_id)
        assert isinstance(module, EducationModule)
        assert module.audience == "patient"
        assert module.title and module.summary and module.body_markdown
        assert module.reading_minutes >= 1


def test_ids_unique_and_match_file_names() -> None:
    paths = sorted(DEFAULT_DIRECTORY.glob("*.md"))
    modules = [load_module(path) for path in paths]
    ids = [module.id for module in modules]
    assert len(ids) == len(set(ids))
    assert {path.stem for path in paths} == ALL_IDS
    for path, module in zip(paths, modules, strict=True):
        assert module.id == path.stem


def test_orders_are_unique(catalogue: EducationCatalogue) -> None:
    orders = [module.order for module in catalogue]
    assert len(orders) == len(set(orders))


@pytest.mark.parametrize("stratum", ["low", "medium", "high"])
def test_stratum_assignment(catalogue: EducationCatalogue, stratum: str) -> None:
    modules = catalogue.for_stratum(stratum)
    assert [module.id for module in modules] == EXPECTED_BY_STRATUM[stratum]
    orders = [module.order for module in modules]
    assert orders == sorted(orders)


def test_high_gets_all_modules(catalogue: EducationCatalogue) -> None:
    assert {module.id for module in catalogue.for_stratum("high")} == ALL_IDS


def test_strata_are_nested(catalogue: EducationCatalogue) -> None:
    low = {m.id for m in catalogue.for_stratum("low")}
    medium = {m.id for m in catalogue.for_stratum("medium")}
    high = {m.id for m in catalogue.for_stratum("high")}
    assert low < medium < high


def test_unknown_stratum_rejected(catalogue: EducationCatalogue) -> None:
    with pytest.raises(EducationError, match="unknown stratum 'severe'"):
        catalogue.for_stratum("severe")


@pytest.mark.parametrize("module_id", sorted(ALL_IDS))
def test_body_word_count(catalogue: EducationCatalogue, module_id: str) -> None:
    words = len(catalogue.get(module_id).body_markdown.split())
    assert 250 <= words <= 800, f"{module_id}: {words} words"


@pytest.mark.parametrize("module_id", sorted(ALL_IDS))
def test_check_questions_well_formed(catalogue: EducationCatalogue, module_id: str) -> None:
    module = catalogue.get(module_id)
    assert 2 <= len(module.check_questions) <= 3
    for question in module.check_questions:
        assert 0 <= question.answer < len(question.options)
        assert question.explanation


def test_bodies_do_not_repeat_front_matter(catalogue: EducationCatalogue) -> None:
    for module in catalogue:
        assert not re.match(r"^\s*---", module.body_markdown)
        assert module.body_markdown.startswith("# ")


# ------------------------------------------------------------------ lookups and answers


def test_get_unknown_module(catalogue: EducationCatalogue) -> None:
    assert "no-such-module" not in catalogue
    assert "sleep" in catalogue
    with pytest.raises(EducationError, match="unknown education module 'no-such-module'"):
        catalogue.get("no-such-module")


def test_check_answers_all_correct(catalogue: EducationCatalogue) -> None:
    module = catalogue.get("understanding-back-pain")
    answers = [q.answer for q in module.check_questions]
    result = catalogue.check_answers(module.id, answers)
    assert isinstance(result, CheckResult)
    assert result.correct == result.total == len(module.check_questions)
    assert result.passed
    assert len(result.feedback) == result.total
    assert all("correct" in line for line in result.feedback)


def test_check_answers_one_wrong(catalogue: EducationCatalogue) -> None:
    module = catalogue.get("pacing-and-graded-activity")
    answers = [q.answer for q in module.check_questions]
    first = module.check_questions[0]
    answers[0] = (first.answer + 1) % len(first.options)
    result = catalogue.check_answers(module.id, answers)
    assert result.correct == result.total - 1
    assert not result.passed
    assert result.feedback[0].startswith("Question 1: not quite")
    assert first.options[first.answer] in result.feedback[0]
    assert first.explanation in result.feedback[0]


def test_check_answers_wrong_count(catalogue: EducationCatalogue) -> None:
    with pytest.raises(EducationError, match="check questions"):
        catalogue.check_answers("sleep", [0])


def test_check_answers_out_of_range(catalogue: EducationCatalogue) -> None:
    module = catalogue.get("sleep")
    answers = [99] + [q.answer for q in module.check_questions[1:]]
    with pytest.raises(EducationError, match="out of range"):
        catalogue.check_answers("sleep", answers)


def test_check_answers_unknown_module(catalogue: EducationCatalogue) -> None:
    with pytest.raises(EducationError, match="unknown education module 'nope'"):
        catalogue.check_answers("nope", [0, 0])


# ------------------------------------------------------------------ directory selection


def test_env_var_overrides_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_module(tmp_path, "only-module", valid_front("only-module"))
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    catalogue = EducationCatalogue.load()
    assert catalogue.ids() == ["only-module"]
    assert catalogue.directory == tmp_path
    assert default_catalogue().ids() == ["only-module"]
    assert [m.id for m in catalogue.for_stratum("high")] == ["only-module"]
    assert catalogue.for_stratum("medium") == []


def test_default_directory_without_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    catalogue = EducationCatalogue.load()
    assert catalogue.directory == DEFAULT_DIRECTORY
    assert set(catalogue.ids()) == ALL_IDS
    repo_modules = Path(__file__).resolve().parent.parent / "education" / "modules"
    assert repo_modules == DEFAULT_DIRECTORY


def test_default_catalogue_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert default_catalogue() is default_catalogue()
    assert set(default_catalogue().ids()) == ALL_IDS


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(EducationError, match="directory not found"):
        EducationCatalogue.load(tmp_path / "nowhere")


def test_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(EducationError, match="no education modules"):
        EducationCatalogue.load(tmp_path)
