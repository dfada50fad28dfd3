"""Shared helpers for the education tests: a valid module file written into a temp directory."""

from __future__ import annotations

from pathlib import Path

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


def write_module(directory: Path, module_id: str, front: str, body: str = BODY) -> Path:
    path = directory / f"{module_id}.md"
    path.write_text(f"---\n{front}---\n\n{body}", encoding="utf-8")
    return path


def valid_front(module_id: str = "test-module") -> str:
    return VALID_FRONT_MATTER.format(id=module_id)
