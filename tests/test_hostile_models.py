"""Hostile pathway models: rejected at deploy time with a reason that names the file, the
element and what is wrong, without running anything in them.

The models come from the templates in hostile_models_support. Each template validates cleanly
with a benign payload (`test_benign_variant_validates`), so a rejection is caused by the hostile
payload alone. Encoded DOCTYPEs and oversize files are in test_encoded_and_oversize_models.py,
attacks that only show at run time in test_runtime_attacks.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pathways.models import load_bundle_dir, validate_paths
from pathways.sandbox import Sandbox
from service.cli import main

from .hostile_models_support import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    MILD_OR_SEVERE,
    NOT_ALLOWED_DOCTYPE,
    gateway_step,
    marker_script,
    pain_band,
    rule_step,
    script_step,
    timer_step,
    with_prolog,
    write,
    write_bundle,
)

# --- benign variants validate: the templates themselves are sound -------------------------

BENIGN = {
    "script": ("check_in.bpmn", script_step("summary = f'pain {pain_level}/10'")),
    "gateway": ("check_in.bpmn", gateway_step("pain_level >= settings['pain_alert']")),
    "timer": ("check_in.bpmn", timer_step("iso_duration(days=7)")),
    "quoted-timer": ("check_in.bpmn", timer_step('"P7D"')),
    "timer-date": ("check_in.bpmn", timer_step('"2026-02-01T09:00:00+00:00"', "timeDate")),
    "decision-table": ("pain_band.dmn", pain_band(MILD_OR_SEVERE)),
    "in-cell-with-input": ("pain_band.dmn", pain_band([('? in (1, 2)', '"mild"')])),
}


@pytest.mark.parametrize(("file", "content"), BENIGN.values(), ids=BENIGN.keys())
def test_benign_variant_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  file: str, content: str) -> None:
    path = tmp_path / file
    path.write_text(content)
    assert validate_paths([path]) == []
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out == f"ok: {path}\n"


# --- hostile models -----------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    file: str
    build: Callable[[Path], str | bytes]
    """Content of the model, given a marker path the payload tries to create."""
    element: str | None
    """Element id the problem must name (None: the whole file is refused)."""
    reason: str


def case(case_id: str, hostile: Hostile) -> Any:
    return pytest.param(hostile, id=case_id)


HOSTILE = [
    case("external-entity", Hostile(
        "leak.bpmn", lambda m: with_prolog(EXTERNAL_ENTITY, script_step(marker_script(m))
                                           .replace("Weekly check-in", "&leak;")),
        None, NOT_ALLOWED_DOCTYPE)),
    case("billion-laughs", Hostile(
        "laughs.bpmn", lambda m: with_prolog(BILLION_LAUGHS, script_step(marker_script(m))
                                             .replace("Weekly check-in", "&lol9;")),
        None, NOT_ALLOWED_DOCTYPE)),
    case("any-doctype", Hostile(
        "doctype.bpmn", lambda m: with_prolog("<!DOCTYPE definitions>",
                                              script_step(marker_script(m))),
        None, NOT_ALLOWED_DOCTYPE)),
    case("script-imports-os", Hostile(
        "import.bpmn", lambda m: script_step(f"import os\nos.system('touch {m}')"),
        "compute", "script is not allowed: Line 1: imports are not allowed")),
    case("script-reads-a-file", Hostile(
        "read.bpmn",
        lambda m: script_step(f"open({str(m)!r}, 'w').write(open('/etc/passwd').read())"),
        "compute", "open")),
    case("subclasses-escape", Hostile(
        "subclasses.bpmn",
        lambda m: script_step("popen = [c for c in ().__class__.__base__.__subclasses__() "
                              f"if c.__name__ == 'Popen'][0]\npopen(['touch', '{m}'])"),
        "compute", '"__subclasses__" is an invalid attribute name')),
    case("getattr-in-condition", Hostile(
        "getattr.bpmn",
        lambda m: gateway_step("getattr(getattr(pain_level, '__cl' + 'ass__'), "
                               "'__subcl' + 'asses__')()"),
        "gate", "getattr")),
    case("format-escape-in-timer", Hostile(
        "format.bpmn",
        lambda m: timer_step("'{0.__class__.__mro__[1].__subclasses__}'.format(pain_level)"),
        "wait", "format")),
    case("format-spec-bomb-in-timer", Hostile(
        "fstring.bpmn", lambda m: timer_step("f'{pain_level:>99999999}'"),
        "wait", "timer expression is not allowed: Line 1: format specifications are limited")),
    case("unquoted-timer", Hostile(
        "unquoted.bpmn", lambda m: timer_step("P7D"),
        "wait", "timer expression P7D is not quoted")),
    case("malformed-timer", Hostile(
        "malformed.bpmn", lambda m: timer_step('"P7X"'),
        "wait", "timer value 'P7X' is not a valid ISO 8601 value for this timer")),
    case("malformed-timer-date", Hostile(
        "date.bpmn", lambda m: timer_step('"2026-13-45"', "timeDate"),
        "wait", "timer value '2026-13-45' is not a valid ISO 8601 value")),
    case("condition-syntax-error", Hostile(
        "syntax.bpmn", lambda m: gateway_step("pain_level = = 7"),
        "gate", "condition is not allowed: Line 1: SyntaxError")),
    case("user-task-without-role", Hostile(
        "no_role.bpmn", lambda m: script_step(marker_script(m), in_lane=False),
        "check_in", "user task has no role: put it in a lane named after a role")),
    case("unknown-alert", Hostile(
        "alert.bpmn", lambda m: script_step(marker_script(m)).replace(
            '<spiffworkflow:property name="form" value="check_in"/>',
            '<spiffworkflow:property name="form" value="check_in"/>'
            '<spiffworkflow:property name="alert" value="call_everyone"/>'),
        "check_in", "alert 'call_everyone' is not one of emergency, red_flag, exercise, "
                    "not_improving, education")),
    case("overlapping-unique-rules", Hostile(
        "overlap.dmn", lambda m: pain_band([("< 4", '"mild"'), ("<= 7", '"moderate"'),
                                            ("> 7", '"severe"')]),
        "pain_band", "hit policy UNIQUE but rules 1 and 2 both match")),
    case("in-cell-without-input", Hostile(
        "in_cell.dmn", lambda m: pain_band([('in ("a", "b")', '"mild"')]),
        "pain_band", """cell 'in ("a", "b")' starts with a word; write it with '?'""")),
    case("dmn-cell-imports", Hostile(
        "dmn_import.dmn",
        lambda m: pain_band([(f"__import__('os').system('touch {m}')", '"mild"')]),
        "pain_band", '"__import__" is an invalid variable name')),
    case("xsd-invalid", Hostile(
        "unknown.bpmn", lambda m: script_step(marker_script(m)).replace(
            '<bpmn:endEvent id="end">', '<bpmn:frobnicate id="odd"/><bpmn:endEvent id="end">'),
        None, "Element '{http://www.omg.org/spec/BPMN/20100524/MODEL}frobnicate': "
              "This element is not expected")),
    case("not-xml", Hostile(
        "notes.bpmn", lambda m: f"import os; os.system('touch {m}')",
        None, "not well-formed XML: Start tag expected")),
]


@pytest.fixture
def sandbox_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every script executed and expression evaluated in the sandbox during the test."""
    calls: list[tuple[str, str]] = []
    execute, evaluate = Sandbox.execute, Sandbox.evaluate

    def spy_execute(self: Sandbox, script: str, *args: Any, **kwargs: Any) -> None:
        calls.append(("execute", script))
        execute(self, script, *args, **kwargs)

    def spy_evaluate(self: Sandbox, expression: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(("evaluate", expression))
        return evaluate(self, expression, *args, **kwargs)

    monkeypatch.setattr(Sandbox, "execute", spy_execute)
    monkeypatch.setattr(Sandbox, "evaluate", spy_evaluate)
    return calls


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_model_is_rejected_with_a_clear_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], hostile: Hostile) -> None:
    path = write(tmp_path / hostile.file, hostile.build(tmp_path / "marker"))

    problems = validate_paths([path])
    assert any(p.element == hostile.element and hostile.reason in p.message
               for p in problems), problems
    assert {p.file for p in problems} == {str(path)}

    assert main(["validate", str(path)]) != 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines == [str(p) for p in problems]  # one line per problem
    where = f"{path}: {hostile.element}: " if hostile.element else f"{path}: "
    assert any(line.startswith(where) and hostile.reason in line for line in lines), lines
    assert f"{len(problems)} problem(s) found" in err


@pytest.mark.parametrize("hostile", [pytest.param(p.values[0], id=p.id) for p in HOSTILE])
def test_validating_a_hostile_model_runs_nothing_in_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        sandbox_calls: list[tuple[str, str]], hostile: Hostile) -> None:
    marker = tmp_path / "marker"
    path = write(tmp_path / hostile.file, hostile.build(marker))

    validate_paths([path])
    main(["validate", str(path)])

    assert not marker.exists()
    assert [kind for kind, _ in sandbox_calls if kind == "execute"] == []
    if path.suffix == ".bpmn":  # only DMN cells are tried at deploy time (overlap check)
        assert sandbox_calls == []
    assert "root:" not in capsys.readouterr().out  # /etc/passwd never reaches a message


def test_every_problem_is_one_line_naming_file_element_and_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "two_problems.bpmn",
                 script_step("import os", in_lane=False))
    assert main(["validate", str(path)]) == 1
    out, err = capsys.readouterr()
    assert sorted(out.splitlines()) == sorted([
        f"{path}: check_in: user task has no role: put it in a lane named after a role, or set "
        "the 'role' property (patient, physiotherapist, clinic_lead)",
        f"{path}: compute: script is not allowed: Line 1: imports are not allowed",
    ])
    assert err == "2 problem(s) found\n"


# --- bundle checks ------------------------------------------------------------------------


def test_validation_cannot_change_the_models_settings(tmp_path: Path) -> None:
    table = pain_band([("< settings.pop('pain_alert', 4)", '"mild"'), (">= 4", '"severe"')])
    bundle = write_bundle(tmp_path / "bundle", rule_step(), table)
    assert load_bundle_dir(bundle).settings == {"pain_alert": 7}


def test_user_task_naming_a_missing_form_is_rejected(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = write_bundle(tmp_path / "bundle", script_step("summary = 'ok'", form="check_inn"))
    expected = (f"{bundle / 'check_in.bpmn'}: check_in: form 'check_inn' does not exist "
                "(add forms/check_inn.json)")

    assert [str(p) for p in validate_paths([bundle])] == [expected]
    assert main(["validate", str(bundle / "check_in.bpmn")]) == 1
    assert capsys.readouterr().out == expected + "\n"


def test_the_same_bundle_with_its_form_validates(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "bundle", script_step("summary = 'ok'"))
    assert validate_paths([bundle]) == []
