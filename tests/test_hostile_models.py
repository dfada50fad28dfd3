"""Hostile pathway models: rejected at deploy time with a reason that names the file, the
element and what is wrong, without running anything in them; and resource attacks that pass
validation are stopped at run time with the episode rolled back to where it was.

Models are written into tmp_path from the small templates below: a patient check-in task
(lane `patient`, form `check_in`) followed by one step under test (a script task, a gateway,
a timer or a business rule task). Each template validates cleanly with a benign payload
(`test_benign_variant_validates`), so a rejection is caused by the hostile payload alone.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

import pathways.models
from pathways.clock import ManualClock
from pathways.engine import PathwayEngine
from pathways.errors import StepFailedError
from pathways.instance import PathwayInstance
from pathways.models import load_bundle_dir, validate_paths
from pathways.sandbox import Sandbox
from service.cli import main

# --- model templates ----------------------------------------------------------------------

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

CHECK_IN = """
    <bpmn:startEvent id="start"><bpmn:outgoing>f_start</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="check_in"/>
    <bpmn:userTask id="check_in" name="Weekly check-in">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="form" value="{form}"/>
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f_start</bpmn:incoming>
      <bpmn:outgoing>f_checked_in</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f_checked_in" sourceRef="check_in" targetRef="{step}"/>"""


def pathway(step_id: str, step: str, *, in_lane: bool = True, form: str = "check_in") -> str:
    """A BPMN file: start -> check_in (patient) -> `step` (which leads to the end event)."""
    lanes = ("""
    <bpmn:laneSet id="roles">
      <bpmn:lane id="lane_patient" name="patient">
        <bpmn:flowNodeRef>check_in</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>""" if in_lane else "")
    return XML_DECLARATION + f"""<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="check_in_definitions" targetNamespace="https://carepath.example/bpmn/test">
  <bpmn:process id="p" name="Check-in pathway" isExecutable="true">{lanes}{
      CHECK_IN.format(form=form, step=step_id)}
{step}
  </bpmn:process>
</bpmn:definitions>
"""


def _to_end(source: str) -> str:
    return f"""
    <bpmn:sequenceFlow id="f_done" sourceRef="{source}" targetRef="end"/>
    <bpmn:endEvent id="end"><bpmn:incoming>f_done</bpmn:incoming></bpmn:endEvent>"""


def script_step(script: str, **options: Any) -> str:
    return pathway("compute", f"""
    <bpmn:scriptTask id="compute" name="Compute check-in summary">
      <bpmn:incoming>f_checked_in</bpmn:incoming>
      <bpmn:outgoing>f_done</bpmn:outgoing>
      <bpmn:script>{escape(script)}</bpmn:script>
    </bpmn:scriptTask>{_to_end("compute")}""", **options)


def gateway_step(condition: str) -> str:
    return pathway("gate", f"""
    <bpmn:exclusiveGateway id="gate" name="Pain worse?" default="f_same">
      <bpmn:incoming>f_checked_in</bpmn:incoming>
      <bpmn:outgoing>f_worse</bpmn:outgoing>
      <bpmn:outgoing>f_same</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f_worse" sourceRef="gate" targetRef="end">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(condition)
      }</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_same" sourceRef="gate" targetRef="end"/>
    <bpmn:endEvent id="end">
      <bpmn:incoming>f_worse</bpmn:incoming><bpmn:incoming>f_same</bpmn:incoming>
    </bpmn:endEvent>""")


def timer_step(expression: str, kind: str = "timeDuration") -> str:
    return pathway("wait", f"""
    <bpmn:intermediateCatchEvent id="wait" name="Wait for the review">
      <bpmn:incoming>f_checked_in</bpmn:incoming>
      <bpmn:outgoing>f_done</bpmn:outgoing>
      <bpmn:timerEventDefinition id="review_timer">
        <bpmn:{kind} xsi:type="bpmn:tFormalExpression">{escape(expression)}</bpmn:{kind}>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>{_to_end("wait")}""")


def rule_step() -> str:
    return pathway("band", f"""
    <bpmn:businessRuleTask id="band" name="Band the pain level">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>pain_band</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
      <bpmn:incoming>f_checked_in</bpmn:incoming>
      <bpmn:outgoing>f_done</bpmn:outgoing>
    </bpmn:businessRuleTask>{_to_end("band")}""")


def pain_band(rules: list[tuple[str, str]], hit_policy: str = "UNIQUE") -> str:
    """A DMN file: decision `pain_band` on input `pain_level`, one (cell, output) per rule."""
    rows = "".join(f"""
      <rule id="rule_{n}">
        <inputEntry id="rule_{n}_in"><text>{escape(cell)}</text></inputEntry>
        <outputEntry id="rule_{n}_out"><text>{escape(output)}</text></outputEntry>
      </rule>""" for n, (cell, output) in enumerate(rules, 1))
    return XML_DECLARATION + f"""<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"
             id="pain_definitions" name="Pain band" namespace="https://carepath.example/dmn">
  <decision id="pain_band" name="Pain band">
    <decisionTable id="pain_table" hitPolicy="{hit_policy}">
      <input id="in_pain" label="Pain level">
        <inputExpression id="in_pain_expr" typeRef="integer">
          <text>pain_level</text>
        </inputExpression>
      </input>
      <output id="out_band" label="Band" name="band" typeRef="string"/>{rows}
    </decisionTable>
  </decision>
</definitions>
"""


MILD_OR_SEVERE = [("< 4", '"mild"'), (">= 4", '"severe"')]

CHECK_IN_FORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Weekly check-in",
    "type": "object",
    "properties": {
        "pain_level": {"type": "integer", "minimum": 0, "maximum": 10},
        "review_in_days": {"type": "integer"},
    },
    "required": ["pain_level"],
    "additionalProperties": False,
}


def write_bundle(directory: Path, bpmn: str, dmn: str | None = None) -> Path:
    """A model bundle: pathway.toml, the process, the check-in form and optionally a DMN."""
    (directory / "forms").mkdir(parents=True)
    (directory / "pathway.toml").write_text('name = "Check-in"\nprocess = "p"\n\n[settings]\n'
                                            "pain_alert = 7\n")
    (directory / "forms" / "check_in.json").write_text(json.dumps(CHECK_IN_FORM))
    (directory / "check_in.bpmn").write_text(bpmn)
    if dmn is not None:
        (directory / "pain_band.dmn").write_text(dmn)
    return directory


def with_prolog(prolog: str, model: str) -> str:
    """Put `prolog` (a DOCTYPE) between the XML declaration and the root element."""
    return XML_DECLARATION + prolog + "\n" + model.removeprefix(XML_DECLARATION)


EXTERNAL_ENTITY = '<!DOCTYPE definitions [<!ENTITY leak SYSTEM "file:///etc/passwd">]>'
BILLION_LAUGHS = ('<!DOCTYPE definitions [<!ENTITY lol1 "lol">'
                  + "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(2, 10))
                  + "]>")


def marker_script(marker: Path) -> str:
    """A script with a side effect outside the sandbox, if anything ever ran it unsandboxed."""
    return f"open({str(marker)!r}, 'w').write('the model ran')"


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


NOT_ALLOWED_DOCTYPE = "DOCTYPE and entity declarations are not allowed"

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


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


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


# --- run time: attacks that pass validation are stopped and the episode rolled back --------


@dataclass(frozen=True)
class RuntimeAttack:
    bpmn: str
    dmn: str | None
    answers: dict[str, Any]
    element: str
    """The element the failure is reported at."""
    reason: str


RUNTIME_ATTACKS = {
    "cpu-bomb-script": RuntimeAttack(
        script_step("n = 0\nwhile True:\n    n += 1"), None, {"pain_level": 3},
        "compute", "stopped after 100000 loop steps"),
    "memory-bomb-script": RuntimeAttack(
        script_step("summary = 'a' * 10**10"), None, {"pain_level": 3},
        "compute", "a value of 10000000000 items is larger than the limit of 100000"),
    "string-doubling-script": RuntimeAttack(
        script_step("summary = 'ab'\nwhile True:\n    summary = summary + summary"), None,
        {"pain_level": 3}, "compute", "items is larger than the limit of 100000"),
    "timer-helper-raises": RuntimeAttack(
        timer_step("iso_duration(days=review_in_days)"), None,
        {"pain_level": 3, "review_in_days": -1},
        "wait", "iso_duration days must be a whole number of zero or more"),
    "memory-bomb-timer": RuntimeAttack(
        timer_step("'P' + 'D' * 10**10"), None, {"pain_level": 3},
        "wait", "larger than the limit of 100000"),
    "memory-bomb-dmn-cell": RuntimeAttack(
        rule_step(), pain_band([("? in ['mild'] * 10**9", '"mild"')]), {"pain_level": 3},
        "band", "larger than the limit of 100000"),
    "type-error-dmn-cell": RuntimeAttack(
        rule_step(), pain_band([("> 'moderate'", '"severe"')]), {"pain_level": 3},
        "band", "'>' not supported between instances of 'int' and 'str'"),
}

def started(tmp_path: Path, attack: RuntimeAttack) -> tuple[Path, PathwayEngine,
                                                            PathwayInstance]:
    bundle = write_bundle(tmp_path / "bundle", attack.bpmn, attack.dmn)
    engine = PathwayEngine(load_bundle_dir(bundle), ManualClock())
    instance = engine.start()
    instance.take_events()
    return bundle, engine, instance


@pytest.mark.parametrize("attack", RUNTIME_ATTACKS.values(), ids=RUNTIME_ATTACKS.keys())
def test_runtime_attack_is_stopped_and_the_episode_rolled_back(
        tmp_path: Path, attack: RuntimeAttack) -> None:
    bundle, engine, instance = started(tmp_path, attack)
    assert validate_paths([bundle]) == []  # the attack passes deploy-time validation
    [check_in] = instance.ready_tasks()
    before = instance.state_json()

    with pytest.raises(StepFailedError) as failed:
        instance.complete_task(check_in.id, attack.answers, actor="patient-1")

    assert failed.value.element == attack.element
    assert str(failed.value).startswith(f"the pathway could not continue at '{attack.element}'")
    assert instance.state_json() == before
    assert [t.id for t in instance.ready_tasks()] == [check_in.id]
    assert instance.take_events() == []
    assert [t.id for t in engine.restore(before).ready_tasks()] == [check_in.id]


@pytest.mark.parametrize("attack", [
    pytest.param(attack, id=name, marks=[])
    for name, attack in RUNTIME_ATTACKS.items()])
def test_runtime_failure_says_why(tmp_path: Path, attack: RuntimeAttack) -> None:
    _, _, instance = started(tmp_path, attack)
    [check_in] = instance.ready_tasks()
    with pytest.raises(StepFailedError) as failed:
        instance.complete_task(check_in.id, attack.answers)
    assert attack.reason in failed.value.detail


def test_after_a_failed_step_the_patient_can_resubmit(tmp_path: Path) -> None:
    _, engine, instance = started(tmp_path, RUNTIME_ATTACKS["timer-helper-raises"])
    [check_in] = instance.ready_tasks()
    with pytest.raises(StepFailedError):
        instance.complete_task(check_in.id, {"pain_level": 3, "review_in_days": -1})

    instance.complete_task(check_in.id, {"pain_level": 3, "review_in_days": 7})

    assert instance.ready_tasks() == []
    assert instance.next_wake_at() == engine.clock.now() + timedelta(days=7)


@pytest.mark.parametrize("output", [
    pytest.param("{'mild', 'severe'}", id="set"),
    pytest.param("[(band := []), band.append(band)][0]", id="self-containing-list"),
])
def test_decision_output_that_cannot_be_saved_fails_the_step(tmp_path: Path,
                                                             output: str) -> None:
    attack = RuntimeAttack(rule_step(), pain_band([("< 4", output)]), {"pain_level": 3},
                           "band", "")
    bundle, _, instance = started(tmp_path, attack)
    assert validate_paths([bundle]) == []
    [check_in] = instance.ready_tasks()
    before = instance.state_json()
    with pytest.raises(StepFailedError):
        instance.complete_task(check_in.id, attack.answers)
    assert instance.state_json() == before
