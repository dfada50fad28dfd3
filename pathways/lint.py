"""Deploy-time checks of a parsed model: every expression compiles in the sandbox, every task
has a role, forms and education modules exist, timers are well formed, UNIQUE tables do not
overlap, the settings that name measures name real ones. Each problem names the file, the
element id (or setting) and what to fix.

Nothing in the model runs here, except DMN cells evaluated against candidate values
(in the sandbox) to look for overlapping rules.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterator
from typing import Any

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask
from SpiffWorkflow.dmn.specs.model import DecisionTable

from .education import default_catalogue
from .instruments import MeasureChoiceError, improvement_measures
from .models import MANIFEST, PathwayModel, Problem
from .properties import ALERTS, KNOWN_PROPERTIES, ROLES, TaskProperties
from .sandbox import SAFE_BUILTIN_NAMES, Sandbox, SandboxError, allowed_method_names, freeze
from .script_helpers import HELPERS

_ISO_LIKE = re.compile(r"^(R\d*|P\w*|\d{4}\w*)$")


def lint_model(model: PathwayModel) -> list[Problem]:
    sandbox = Sandbox(HELPERS)
    problems: list[Problem] = []
    for process in model.all_specs():
        problems.extend(_lint_process(model, process, sandbox))
    for decision_id, (file, table) in model.decision_tables.items():
        problems.extend(Problem(file, decision_id, message)
                        for message in _lint_table(table, model, sandbox))
    problems.extend(_lint_forms(model))
    problems.extend(_lint_settings(model))
    return problems


def _lint_process(model: PathwayModel, process: BpmnProcessSpec,
                  sandbox: Sandbox) -> Iterator[Problem]:
    file = process.file or process.name
    for spec in process.task_specs.values():
        element = getattr(spec, "bpmn_id", None)
        if element is None:
            continue

        def problem(message: str, element: str = element) -> Problem:
            return Problem(file, element, message)

        for label, source, mode in _expressions(spec):
            try:
                sandbox.check(source, mode)
            except SandboxError as err:
                yield problem(f"{label} is not allowed: {err}")
                continue
            yield from (problem(f"{label}: {m}") for m in _static_problems(source))
        event_definition = getattr(spec, "event_definition", None)
        if isinstance(event_definition, TimerEventDefinition):
            message = _timer_problem(event_definition)
            if message:
                yield problem(message)
        yield from (problem(m) for m in _property_problems(model, spec))


def _expressions(spec: Any) -> Iterator[tuple[str, str, str]]:
    """(label, source, mode) for every model expression attached to a task spec."""
    if isinstance(spec, ScriptTask) and spec.script:
        yield "script", spec.script, "exec"
    for hook in ("prescript", "postscript"):
        source = getattr(spec, hook, None)
        if source:
            yield hook, source, "exec"
    for condition, _target in getattr(spec, "cond_task_specs", []):
        source = getattr(condition, "args", [None])[0] if condition is not None else None
        if isinstance(source, str):
            yield "condition", source, "eval"
    event_definition = getattr(spec, "event_definition", None)
    if isinstance(event_definition, TimerEventDefinition):
        yield "timer expression", event_definition.expression, "eval"
    if isinstance(spec, MultiInstanceTask):
        if isinstance(spec.cardinality, str):
            yield "loop cardinality", spec.cardinality, "eval"
        if isinstance(spec.condition, str):
            yield "loop condition", spec.condition, "eval"
    props = TaskProperties.of(spec)
    for name, source in props.expressions().items():
        yield f"property '{name}'", source, "eval"


def _lint_table(table: DecisionTable, model: PathwayModel, sandbox: Sandbox) -> Iterator[str]:
    for column in table.inputs:
        if column.expression:
            yield from _compile_problems(sandbox, f"input '{column.label or column.id}'",
                                         column.expression)
    for rule in table.rules:
        for entry in rule.inputEntries:
            for cell in entry.lhs:
                if cell:
                    yield from _compile_problems(sandbox, f"rule {rule.row_number} cell '{cell}'",
                                                 _cell_expression(cell))
        for output in rule.outputEntries:
            if output.text:
                yield from _compile_problems(sandbox, f"rule {rule.row_number} output",
                                             output.text)
    yield from _cell_problems(table)
    yield from _table_problems(table, model, sandbox)


def _compile_problems(sandbox: Sandbox, label: str, source: str) -> Iterator[str]:
    try:
        sandbox.check(source, "eval")
    except SandboxError as err:
        yield f"{label} is not allowed: {err}"
        return
    yield from (f"{label}: {m}" for m in _static_problems(source))


def _static_problems(source: str) -> Iterator[str]:
    """Calls the sandbox would refuse at run time, found at deploy time instead: functions
    that are neither helpers nor safe builtins, and methods outside the allow-list."""
    tree = ast.parse(source)
    methods = allowed_method_names()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id not in HELPERS and (
                node.func.id not in SAFE_BUILTIN_NAMES):
            yield f"'{node.func.id}()' is not a model helper or safe builtin"
        elif isinstance(node.func, ast.Attribute) and node.func.attr not in methods:
            yield f"method '.{node.func.attr}()' is not available to models"


def _timer_problem(definition: TimerEventDefinition) -> str | None:
    source = definition.expression.strip()
    try:
        node = ast.parse(source, mode="eval").body
    except SyntaxError:
        return None  # reported by the sandbox check
    if isinstance(node, ast.Name) and _ISO_LIKE.match(node.id) and node.id not in HELPERS:
        return (f"timer expression {node.id} is not quoted: timer expressions are expressions, "
                f"write '{node.id}' in quotes")
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, str):
            return "timer expression must give text (an ISO 8601 date, duration or cycle)"
        try:
            if isinstance(definition, DurationTimerEventDefinition):
                TimerEventDefinition.parse_iso_duration(node.value)
            elif isinstance(definition, TimeDateEventDefinition):
                TimerEventDefinition.get_datetime(node.value)
            elif isinstance(definition, CycleTimerEventDefinition):
                TimerEventDefinition.parse_iso_recurring_interval(node.value)
        except Exception:
            return f"timer value {node.value!r} is not a valid ISO 8601 value for this timer"
    return None


def _property_problems(model: PathwayModel, spec: Any) -> Iterator[str]:
    props = TaskProperties.of(spec)
    for name in props.raw:
        base = name.split(":", 1)[0] + (":" if ":" in name else "")
        if base not in KNOWN_PROPERTIES:
            yield f"unknown property '{name}' (known: {', '.join(sorted(KNOWN_PROPERTIES))})"
    for event, _keys in props.events().items():
        if not re.fullmatch(r"[a-z]+(_[a-z]+)+", event):
            yield f"event name '{event}' must be subject_past_verb in lower case"
    for event in props.event_conditions():
        if event not in props.events():
            yield f"event_if:{event} has no matching event:{event}"
    if getattr(spec, "manual", False):
        role = props.role(spec)
        if role is None:
            yield ("user task has no role: put it in a lane named after a role, or set the "
                   f"'role' property ({', '.join(ROLES)})")
        elif role not in ROLES:
            yield f"role '{role}' is not one of {', '.join(ROLES)}"
    if props.alert is not None and props.alert not in ALERTS:
        yield f"alert '{props.alert}' is not one of {', '.join(ALERTS)}"
    form = props.form
    if form is not None and not model.standalone and form not in model.forms:
        yield f"form '{form}' does not exist (add forms/{form}.json)"
    module = props.raw.get("education_module")
    if module is not None:
        try:
            literal = ast.literal_eval(module)
        except (ValueError, SyntaxError):
            literal = None
        if isinstance(literal, str) and literal not in default_catalogue():
            yield f"education module '{literal}' does not exist in education/modules"


def _cell_expression(cell: str) -> str:
    """The expression SpiffWorkflow's DMN engine evaluates for a cell (input as dmninputexpr)."""
    if "?" in cell:
        return re.sub(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)", "dmninputexpr", cell)
    try:
        ast.parse(cell, mode="eval")
        return f"(dmninputexpr) == ({cell})"
    except SyntaxError:
        return f"dmninputexpr{cell}"  # SpiffWorkflow joins them without a space


def _cell_problems(table: DecisionTable) -> Iterator[str]:
    """Cells SpiffWorkflow would misread: it glues 'input' and 'in (...)' into 'inputin (...)'."""
    for rule in table.rules:
        for entry in rule.inputEntries:
            for cell in entry.lhs:
                text = (cell or "").strip()
                if text and "?" not in text and text[0].isalpha():
                    try:
                        ast.parse(text, mode="eval")
                    except SyntaxError:
                        yield (f"rule {rule.row_number}: cell '{text}' starts with a word; "
                               f"write it with '?' for the input, e.g. '? {text}'")


def _table_problems(table: DecisionTable, model: PathwayModel,
                    sandbox: Sandbox) -> Iterator[str]:
    if table.hit_policy != "UNIQUE" or len(table.rules) < 2:
        return
    data = {"settings": freeze(model.settings)}  # read-only, as at run time
    columns = len(table.inputs)
    candidates = [_candidates(table, i, sandbox, data) for i in range(columns)]
    matches: dict[tuple[int, int], set[int]] = {}
    try:
        for r, rule in enumerate(table.rules):
            for i, entry in enumerate(rule.inputEntries):
                cell = next((c for c in entry.lhs if c), None)
                if cell is None:
                    matches[(r, i)] = set(range(len(candidates[i])))
                    continue
                expression = _cell_expression(cell)
                matches[(r, i)] = {
                    k for k, value in enumerate(candidates[i])
                    if _truthy(sandbox, expression, data, value)
                }
    except SandboxError:
        return  # a cell depends on task data we cannot know here; overlap is not checked
    for (a, rule_a), (b, rule_b) in itertools.combinations(enumerate(table.rules), 2):
        example = []
        for i in range(columns):
            both = matches[(a, i)] & matches[(b, i)]
            if not both:
                break
            label = table.inputs[i].label or table.inputs[i].id
            example.append(f"{label} = {candidates[i][min(both)]!r}")
        else:
            yield (f"hit policy UNIQUE but rules {rule_a.row_number} and {rule_b.row_number} "
                   f"both match when {', '.join(example) or 'any input'}; make them exclusive")


def _truthy(sandbox: Sandbox, expression: str, data: dict[str, Any], value: Any) -> bool:
    try:
        return bool(sandbox.evaluate(expression, data, {"dmninputexpr": value}))
    except SandboxError as err:
        if "NameError" in str(err):
            raise
        return False  # e.g. comparing text with a number: this candidate does not match


def _candidates(table: DecisionTable, column: int, sandbox: Sandbox,
                data: dict[str, Any]) -> list[Any]:
    """Values to try for one input column: every constant in its cells and its neighbours."""
    values: list[Any] = []
    for rule in table.rules:
        for cell in rule.inputEntries[column].lhs:
            if not cell:
                continue
            for constant in _cell_constants(cell, sandbox, data):
                if isinstance(constant, bool) or constant is None:
                    continue
                if isinstance(constant, int | float):
                    values.extend([constant, constant - 1, constant + 1,
                                   constant - 0.5, constant + 0.5])
                elif isinstance(constant, str):
                    values.append(constant)
    values.extend([True, False, None, "(another value)"])  # last: examples prefer real values
    unique: list[Any] = []
    for value in values:
        if not any(type(value) is type(seen) and value == seen for seen in unique):
            unique.append(value)
    return unique


def _cell_constants(cell: str, sandbox: Sandbox, data: dict[str, Any]) -> list[Any]:
    expression = _cell_expression(cell)
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return []
    found: list[Any] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for operand in [node.left, *node.comparators]:
                if isinstance(operand, ast.Name) and operand.id == "dmninputexpr":
                    continue
                try:
                    value = sandbox.evaluate(ast.unparse(operand), data)
                except SandboxError:
                    continue
                found.extend(value if isinstance(value, tuple | list) else [value])
    return found


IMPROVEMENT_SETTINGS = {"primary": "improvement_primary_measures",
                        "supporting": "improvement_supporting_measures"}
"""pathway.toml's choice of what counts as improvement (improvement_summary's arguments)."""


def _lint_settings(model: PathwayModel) -> Iterator[Problem]:
    """Settings a helper would refuse only when a follow-up is scored, refused at deploy."""
    chosen = {which: model.settings.get(name) for which, name in IMPROVEMENT_SETTINGS.items()}
    if all(value is None for value in chosen.values()):
        return
    try:
        improvement_measures(chosen["primary"], chosen["supporting"])
    except MeasureChoiceError as err:
        yield Problem(MANIFEST, IMPROVEMENT_SETTINGS.get(err.which)
                      or ", ".join(IMPROVEMENT_SETTINGS.values()), str(err))


def _lint_forms(model: PathwayModel) -> Iterator[Problem]:
    """Uploaded forms may not point outside themselves or carry regular expressions (ReDoS)."""
    for name, schema in model.forms.items():
        for key, value in _walk_schema(schema):
            if key == "$ref" and not str(value).startswith("#"):
                yield Problem(f"forms/{name}.json", None, f"$ref {value!r} must stay in the file")
            if key in ("pattern", "patternProperties"):
                yield Problem(f"forms/{name}.json", None,
                              f"'{key}' is not supported; use enum, length or range limits")


def _walk_schema(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk_schema(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_schema(item)
