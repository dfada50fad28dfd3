"""Tests for pathways.education: the strict front-matter loader rejects malformed module
files with a message that names the file and the field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pathways.education import EducationCatalogue, EducationError, load_module

from .education_support import BODY, valid_front, write_module

# ------------------------------------------------------------------ malformed files


def test_valid_temp_module_loads(tmp_path: Path) -> None:
    path = write_module(tmp_path, "test-module", valid_front())
    module = load_module(path)
    assert module.id == "test-module"
    assert module.strata == ("low", "high")
    assert module.check_questions[0].options == ("No", "Yes")
    assert module.body_markdown == BODY.strip()


def test_also_for_is_optional_and_read_in_canonical_order(tmp_path: Path) -> None:
    assert load_module(write_module(tmp_path, "test-module", valid_front())).also_for == ()
    front = valid_front().replace("order: 1\n", "order: 1\nalso_for: [worry, fear]\n")
    path = write_module(tmp_path, "test-module", front)
    assert load_module(path).also_for == ("fear", "worry")


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
        ("order: 1\n", "order: 1\nalso_for: fear\n", "field 'also_for': must be a list"),
        ("order: 1\n", "order: 1\nalso_for: [fear, anger]\n",
         "field 'also_for': unknown concern 'anger' \\(allowed: fear, worry\\)"),
        ("order: 1\n", "order: 1\nalso_for: [worry, worry]\n", "more than once"),
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
