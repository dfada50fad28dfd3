"""Model templates and shared helpers for the hostile pathway model tests.

Models are written into tmp_path from the small templates below: a patient check-in task
(lane `patient`, form `check_in`) followed by one step under test (a script task, a gateway,
a timer or a business rule task). Each template validates cleanly with a benign payload
(`test_benign_variant_validates` in test_hostile_models.py), so a rejection is caused by the
hostile payload alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

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

NOT_ALLOWED_DOCTYPE = "DOCTYPE and entity declarations are not allowed"


def marker_script(marker: Path) -> str:
    """A script with a side effect outside the sandbox, if anything ever ran it unsandboxed."""
    return f"open({str(marker)!r}, 'w').write('the model ran')"


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path
