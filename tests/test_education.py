"""Tests for pathways.education: the shipped modules and the strict front-matter loader."""

from __future__ import annotations

import re
import textwrap
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

VALID_FRONT_MATTER = """\
id: {id}
title: A test module
audience: patient
strata: [low, high]
order: 1
reading_minutes: 2
summary: A module used only by the tests.
check_questions:
  - question: Is this a test?
    options: ["No", "Yes"]
    answer: 1
    explanation: It is a test.
  - question: Pick the first option.
    options: [first, second, third]
    answer: 0
    explanation: The first option is index 0.
"""

BODY = "# A test module\n\nSome words for the body of the lesson.\n"


@pytest.fixture(autouse=True)
def _fresh_default_catalogue() -> None:
    default_catalogue.cache_clear()


@pytest.fixture(scope="module")
def catalogue() -> EducationCatalogue:
    return EducationCatalogue.load(DEFAULT_DIRECTORY)


def write_module(directory: Path, module_id: str, front: str, body: str = BODY) -> Path:
    path = directory / f"{module_id}.md"
    path.write_text(f"---\n{front}---\n\n{body}", encoding="utf-8")
    return path


def valid_front(module_id: str = "test-module") -> str:
    return VALID_FRONT_MATTER.format(id=module_id)


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


# ------------------------------------------------------------------ malformed files


def test_valid_temp_module_loads(tmp_path: Path) -> None:
    path = write_module(tmp_path, "test-module", valid_front())
    module = load_module(path)
    assert module.id == "test-module"
    assert module.strata == ("low", "high")
    assert module.check_questions[0].options == ("No", "Yes")
    assert module.body_markdown == BODY.strip()


def test_missing_field(tmp_path: Path) -> None:
    front = valid_front().replace("order: 1\n", "")
    path = write_module(tmp_path, "test-module", front)
    with pytest.raises(EducationError, match=r"missing required field\(s\) 'order'") as info:
        load_module(path)
    assert "test-module.md" in str(info.value)


def test_unknown_field(tmp_path: Path) -> None:
    path = write_module(tmp_path, "test-module", valid_front() + "colour: blue\n")
    with pytest.raises(EducationError, match="unknown field.*'colour'"):
        load_module(path)


def test_bad_stratum(tmp_path: Path) -> None:
    front = valid_front().replace("strata: [low, high]", "strata: [low, severe]")
    path = write_module(tmp_path, "test-module", front)
    with pytest.raises(EducationError, match="field 'strata': unknown stratum 'severe'") as info:
        load_module(path)
    assert "test-module.md" in str(info.value)


def test_answer_out_of_range(tmp_path: Path) -> None:
    front = valid_front().replace("answer: 0", "answer: 3")
    path = write_module(tmp_path, "test-module", front)
    with pytest.raises(
        EducationError, match=r"field 'check_questions\[1\]\.answer': index 3 is out of range"
    ) as info:
        load_module(path)
    assert "test-module.md" in str(info.value)


def test_python_object_tag_rejected(tmp_path: Path) -> None:
    front = valid_front().replace(
        "summary: A module used only by the tests.",
        "summary: !!python/object/apply:os.system ['echo pwned']",
    )
    path = write_module(tmp_path, "test-module", front)
    with pytest.raises(EducationError, match="not valid safe YAML") as info:
        load_module(path)
    assert "test-module.md" in str(info.value)


def test_python_object_new_tag_rejected(tmp_path: Path) -> None:
    front = valid_front() + "extra: !!python/object:pathlib.Path {}\n"
    path = write_module(tmp_path, "test-module", front)
    with pytest.raises(EducationError, match="safe YAML"):
        load_module(path)


def test_id_must_match_file_name(tmp_path: Path) -> None:
    path = write_module(tmp_path, "other-name", valid_front("test-module"))
    with pytest.raises(EducationError, match="field 'id'.*does not match the file name"):
        load_module(path)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("order: 1", "order: first", "field 'order': must be an integer"),
        ("order: 1", "order: true", "field 'order': must be an integer"),
        ("reading_minutes: 2", "reading_minutes: 0", "field 'reading_minutes': must be >= 1"),
        ("title: A test module", "title: ''", "field 'title': must be a non-empty string"),
        ("audience: patient", "audience: robot", "field 'audience': unknown audience"),
        ("strata: [low, high]", "strata: low", "field 'strata': must be a non-empty list"),
        ("strata: [low, high]", "strata: [low, low]", "more than once"),
        ('options: ["No", "Yes"]', "options: [No, Yes]", r"options\[0\]'.*non-empty string"),
        ('options: ["No", "Yes"]', "options: [only]", "at least 2 options"),
        ("answer: 1", "answer: '1'", r"check_questions\[0\]\.answer'.*integer"),
        ("    explanation: It is a test.\n", "", r"missing required field\(s\) 'explanation'"),
    ],
)
def test_field_type_errors(tmp_path: Path, old: str, new: str, message: str) -> None:
    front = valid_front()
    assert old in front
    path = write_module(tmp_path, "test-module", front.replace(old, new, 1))
    with pytest.raises(EducationError, match=message):
        load_module(path)


def test_too_few_and_too_many_questions(tmp_path: Path) -> None:
    question = textwrap.dedent(
        """\
          - question: Extra?
            options: [a, b]
            answer: 0
            explanation: Extra question.
        """
    )
    question = textwrap.indent(question, "  ")
    too_many = valid_front() + question + question
    path = write_module(tmp_path, "test-module", too_many)
    with pytest.raises(EducationError, match="must have 2-3 questions, got 4"):
        load_module(path)

    one = valid_front().split("  - question: Pick the first option.")[0]
    path = write_module(tmp_path, "test-module", one)
    with pytest.raises(EducationError, match="must have 2-3 questions, got 1"):
        load_module(path)


def test_no_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "test-module.md"
    path.write_text("# Just markdown\n", encoding="utf-8")
    with pytest.raises(EducationError, match="must start with a '---' line"):
        load_module(path)


def test_unclosed_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "test-module.md"
    path.write_text("---\n" + valid_front(), encoding="utf-8")
    with pytest.raises(EducationError, match="not closed"):
        load_module(path)


def test_front_matter_not_a_mapping(tmp_path: Path) -> None:
    path = write_module(tmp_path, "test-module", "- just\n- a list\n")
    with pytest.raises(EducationError, match="must be a YAML mapping"):
        load_module(path)


def test_invalid_yaml_syntax(tmp_path: Path) -> None:
    path = write_module(tmp_path, "test-module", "id: [unclosed\n")
    with pytest.raises(EducationError, match="not valid safe YAML"):
        load_module(path)


def test_empty_body(tmp_path: Path) -> None:
    path = write_module(tmp_path, "test-module", valid_front(), body="")
    with pytest.raises(EducationError, match="no Markdown body"):
        load_module(path)


def test_catalogue_reports_bad_file(tmp_path: Path) -> None:
    write_module(tmp_path, "good-one", valid_front("good-one"))
    write_module(tmp_path, "bad-one", valid_front("bad-one").replace("answer: 0", "answer: 7"))
    with pytest.raises(EducationError, match="bad-one.md"):
        EducationCatalogue.load(tmp_path)


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
