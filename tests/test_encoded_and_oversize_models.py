"""Encoded DOCTYPEs and oversize files: XML-level refusals happen before SpiffWorkflow sees
the file, so neither an entity in any encoding nor a file over the size limit is ever parsed.

The models come from the templates in hostile_models_support.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

import pathways.models
from pathways.models import validate_paths

from .hostile_models_support import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    NOT_ALLOWED_DOCTYPE,
    script_step,
    with_prolog,
    write,
    write_bundle,
)

# --- XML-level refusals happen before SpiffWorkflow sees the file -------------------------


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Files that reached the hardened XML parser or SpiffWorkflow's BPMN parser."""
    seen: list[str] = []
    parse_xml = pathways.models.parse_xml
    add_bpmn_xml = SpiffBpmnParser.add_bpmn_xml

    def spy_parse_xml(content: bytes, filename: str, *args: Any) -> Any:
        seen.append(f"xml:{filename}")
        return parse_xml(content, filename, *args)

    def spy_add_bpmn_xml(self: SpiffBpmnParser, root: Any, filename: str | None = None) -> None:
        seen.append(f"bpmn:{filename}")
        add_bpmn_xml(self, root, filename=filename)

    monkeypatch.setattr(pathways.models, "parse_xml", spy_parse_xml)
    monkeypatch.setattr(SpiffBpmnParser, "add_bpmn_xml", spy_add_bpmn_xml)
    return seen


ENCODINGS = ["utf-16", "utf-16-le", "utf-16-be", "utf-32"]
PROLOGS = {  # id -> (DOCTYPE, where the entity is used)
    "doctype": ("<!DOCTYPE definitions>", None),
    "external-entity": (EXTERNAL_ENTITY, "&leak;"),
    "external-entity-in-attribute": (EXTERNAL_ENTITY, None),
    "billion-laughs": (BILLION_LAUGHS, "&lol9;"),
}


def encoded_model(prolog_id: str, encoding: str) -> bytes:
    """The script model with a DOCTYPE, declared and encoded in `encoding` (BOM only for
    'utf-16' and 'utf-32')."""
    prolog, in_script = PROLOGS[prolog_id]
    declared = encoding.upper().removesuffix("-LE").removesuffix("-BE")
    model = with_prolog(prolog, script_step("summary = 'ENTITY'"))
    model = model.replace('encoding="UTF-8"', f'encoding="{declared}"')
    model = model.replace("ENTITY", in_script or "ok")  # after escaping: a real reference
    if prolog_id == "external-entity-in-attribute":
        model = model.replace('name="Weekly check-in"', 'name="&leak;"')
    return model.encode(encoding)


ENCODED_CASES = [(p, e) for p in PROLOGS for e in ENCODINGS]


@pytest.mark.parametrize(("prolog_id", "encoding"), ENCODED_CASES,
                         ids=[f"{p}-{e}" for p, e in ENCODED_CASES])
def test_encoded_doctype_never_reaches_the_bpmn_parser(tmp_path: Path, parsed: list[str],
                                                       prolog_id: str, encoding: str) -> None:
    path = write(tmp_path / "encoded.bpmn", encoded_model(prolog_id, encoding))
    [problem] = validate_paths([path])
    assert (problem.file, problem.element) == (str(path), None)
    assert "root:" not in problem.message
    assert not any(step.startswith("bpmn:") for step in parsed)


@pytest.mark.parametrize(("prolog_id", "encoding"), [
    pytest.param(p, e, id=f"{p}-{e}", marks=[])
    for p, e in ENCODED_CASES])
def test_encoded_doctype_is_refused_as_a_doctype(tmp_path: Path, prolog_id: str,
                                                 encoding: str) -> None:
    path = write(tmp_path / "encoded.bpmn", encoded_model(prolog_id, encoding))
    [problem] = validate_paths([path])
    assert problem.message == NOT_ALLOWED_DOCTYPE


def oversize_model() -> str:
    """A valid model padded with a comment to just over 1,000,000 bytes."""
    model = script_step("summary = 'ok'")
    padding = 1_000_001 - len(model.encode()) - len("<!---->\n")
    return model + "<!--" + "x" * padding + "-->\n"


def test_oversize_file_is_refused_without_being_parsed(tmp_path: Path,
                                                       parsed: list[str]) -> None:
    path = write(tmp_path / "padded.bpmn", oversize_model())
    assert path.stat().st_size == 1_000_001

    [problem] = validate_paths([path])
    assert (problem.file, problem.element) == (str(path), None)
    assert "limit of 1000000 bytes" in problem.message
    assert parsed == []


def test_oversize_file_in_a_bundle_is_refused_without_being_parsed(tmp_path: Path,
                                                                   parsed: list[str]) -> None:
    bundle = write_bundle(tmp_path / "bundle", oversize_model())
    [problem] = validate_paths([bundle])
    assert (problem.file, problem.element) == (str(bundle / "check_in.bpmn"), None)
    assert "limit" in problem.message and "1000000 bytes" in problem.message
    assert parsed == []


def test_huge_loose_file_is_read_only_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "sparse.bpmn"
    with path.open("wb") as handle:  # 10 GB on paper, nothing on disk
        handle.truncate(10 * 1024**3)
    [problem] = validate_paths([path])
    assert "limit of 1000000 bytes" in problem.message


def test_huge_file_in_a_bundle_is_read_only_up_to_the_limit(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "bundle", script_step("summary = 'ok'"))
    with (bundle / "huge.dmn").open("wb") as handle:
        handle.truncate(64 * 1024**2)  # sparse: 64 MB on paper
    tracemalloc.start()
    try:
        problems = validate_paths([bundle])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [p.file for p in problems] == [str(bundle / "huge.dmn")]
    assert peak < 16 * 1024**2, f"read {peak} bytes"
