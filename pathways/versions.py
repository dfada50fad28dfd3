"""Model versions: what changed between two versions of a pathway, in words a manager reads,
and moving a running episode onto another version (a dry run and a real migration are the
same call; the caller decides whether to save the new state).

SpiffWorkflow aligns the task specs of two versions (`SpecDiff`); the words, what restarts, and
the proof that the new version can read the result are carepath's. engine-notes ("Versions and
migration"): a migration that leaves a ready or waiting task without its spec cannot be read
back, so such a migration is refused, and every migration is saved and re-read before it is
offered.
"""

from __future__ import annotations

import ast
import difflib
import json
from collections.abc import Iterable, Iterator, Mapping
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Literal
from uuid import UUID

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent, ThrowingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import (
    EventBasedGateway,
    ReceiveTask,
    SendTask,
)
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.bpmn.util.diff import SpecDiff
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.dmn.specs.model import DecisionTable, Rule
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .engine import PathwayEngine
from .errors import PathwayError
from .events import DomainEvent
from .models import MANIFEST, PathwayModel
from .properties import TaskProperties
from .sandbox import SandboxError
from .task_views import ReadyTask, WaitingTimer
from .workflow import spiff_serializer
from .xmlsafe import UnsafeXmlError, parse_xml

ChangeKind = Literal["added", "removed", "changed"]
ChangeSubject = Literal["process", "task", "timer", "gateway", "event", "decision",
                        "decision rule", "setting", "form", "file"]


@dataclass(frozen=True)
class Change:
    """One difference between two versions of a model, as one plain sentence."""

    kind: ChangeKind
    what: ChangeSubject
    file: str
    """The bundle file it is in, e.g. 'betterback.bpmn', 'pathway.toml', 'forms/intake.json'."""
    element: str | None
    """BPMN element id, decision id, rule id or setting name (None for a whole file)."""
    words: str


_REGISTRY = spiff_serializer().registry
"""Converts task specs to plain dicts: SpecDiff compares those, and so do the words."""


def diff_models(old: PathwayModel, new: PathwayModel) -> list[Change]:
    """What a manager should know about moving from `old` to `new`: processes, tasks, timers,
    gateways and events, decisions and their rules, settings and forms; a file that changed in
    nothing that runs is named too. Identical models give an empty list."""
    changes = [*_manifest_changes(old, new), *_process_changes(old, new),
               *_decision_changes(old, new), *_setting_changes(old, new),
               *_form_changes(old, new)]
    changes += _file_changes(old, new, {change.file for change in changes})
    return sorted(changes, key=lambda c: (c.file, c.element or "", c.what, c.words))


# -- processes and their elements

_SUBJECTS = {"task": "Task", "timer": "Timer", "gateway": "Gateway", "event": "Event"}
_GATEWAYS = (ExclusiveGateway, InclusiveGateway, ParallelGateway, EventBasedGateway)
_SAME_EVERYWHERE = frozenset({"name", "description", "lookahead", "inputs", "manual", "lane",
                              "bpmn_id", "task_spec", "decision_table"})
"""Attributes left out of the words: SpiffWorkflow's bookkeeping, what another attribute
already says (inputs mirror outputs, manual follows the type, lane gives the role), and the
decision table a business rule task carries (its rules are compared as the decision's)."""
_SCRIPTS = {"script": "script", "prescript": "script run before it",
            "postscript": "script run after it"}


def _manifest_changes(old: PathwayModel, new: PathwayModel) -> Iterator[Change]:
    if old.name != new.name:
        yield Change("changed", "setting", MANIFEST, "name",
                     f"The pathway is now called '{new.name}' (was '{old.name}')")
    if old.process_id != new.process_id:
        yield Change("changed", "setting", MANIFEST, "process",
                     f"The pathway now starts process {new.process_id} (was {old.process_id})")


def _process_changes(old: PathwayModel, new: PathwayModel) -> Iterator[Change]:
    old_specs = {spec.name: spec for spec in old.all_specs()}
    new_specs = {spec.name: spec for spec in new.all_specs()}
    for name in sorted(old_specs.keys() - new_specs.keys()):
        spec = old_specs[name]
        yield Change("removed", "process", _file_of(spec), name,
                     f"Process '{spec.description or name}' ({name}) was removed")
    for name in sorted(new_specs.keys() - old_specs.keys()):
        spec = new_specs[name]
        yield Change("added", "process", _file_of(spec), name,
                     f"Process '{spec.description or name}' ({name}) was added")
    for name in sorted(old_specs.keys() & new_specs.keys()):
        yield from _element_changes(old_specs[name], new_specs[name])


def _file_of(process: BpmnProcessSpec) -> str:
    return str(process.file or process.name)


def _alignment(diff: SpecDiff, old: BpmnProcessSpec, new: BpmnProcessSpec) -> dict[Any, Any]:
    """Old task spec -> new (None: removed). SpecDiff walks the flows from the start event;
    a spec it did not reach is aligned by its name."""
    aligned = dict(diff.alignment)
    for spec in old.task_specs.values():
        if spec not in aligned:
            aligned[spec] = new.task_specs.get(spec.name)
    return aligned


def _element_changes(old: BpmnProcessSpec, new: BpmnProcessSpec) -> Iterator[Change]:
    aligned = _alignment(SpecDiff(_REGISTRY, old, new), old, new)
    matched = {id(spec) for spec in aligned.values() if spec is not None}
    pairs: dict[str, list[tuple[Any, Any]]] = {}
    removed: dict[str, list[Any]] = {}
    added: dict[str, list[Any]] = {}
    # A task with multi-instance characteristics is two specs with one BPMN id (the loop and
    # its "[child]"): the manager sees one element.
    for spec, other in aligned.items():
        if spec.bpmn_id is None:
            continue
        if other is None:
            removed.setdefault(spec.bpmn_id, []).append(spec)
        else:
            pairs.setdefault(other.bpmn_id or spec.bpmn_id, []).append((spec, other))
    for spec in new.task_specs.values():
        if spec.bpmn_id is not None and id(spec) not in matched:
            added.setdefault(spec.bpmn_id, []).append(spec)
    file = _file_of(new)
    for bpmn_id, specs in removed.items():
        if bpmn_id in pairs:
            continue
        main = _main_spec(specs)
        what = _what(main)
        yield Change("removed", what, _file_of(old), bpmn_id,
                     f"{_SUBJECTS[what]} '{_title(specs)}' was removed")
    for bpmn_id, specs in added.items():
        if bpmn_id in pairs:
            continue
        main = _main_spec(specs)
        what = _what(main)
        words = f"{_SUBJECTS[what]} '{_title(specs)}' was added"
        if what == "timer":
            words += f": it {_timer_phrase(_REGISTRY.convert(main.event_definition))}"
        yield Change("added", what, file, bpmn_id, words)
    for bpmn_id, both in pairs.items():
        clauses: list[str] = []
        for spec, other in both:
            if spec.bpmn_id != other.bpmn_id:
                clauses.append(f"has the id {other.bpmn_id} (was {spec.bpmn_id})")
            clauses += [c for c in _spec_clauses(spec, other, old, new) if c not in clauses]
        if clauses:
            what = _what(_main_spec([other for _spec, other in both]))
            title = _title([spec for spec, _other in both])
            yield Change("changed", what, file, bpmn_id,
                         f"{_SUBJECTS[what]} '{title}' {'; '.join(clauses)}")


def _main_spec(specs: list[Any]) -> Any:
    """The spec that stands for an element: the task itself rather than its loop."""
    return next((s for s in specs if not isinstance(s, LoopTask)), specs[0])


def _title(specs: list[Any]) -> str:
    named = next((s for s in specs if s.bpmn_name), None)
    if named is not None:
        return str(named.bpmn_name)
    return str(specs[0].bpmn_id).replace("_", " ")


def _what(spec: Any) -> Literal["task", "timer", "gateway", "event"]:
    if isinstance(spec, _GATEWAYS):
        return "gateway"
    if isinstance(getattr(spec, "event_definition", None), TimerEventDefinition):
        return "timer"
    if isinstance(spec, SendTask | ReceiveTask):
        return "task"
    if isinstance(spec, CatchingEvent | ThrowingEvent):
        return "event"
    return "task"


def _target(process: BpmnProcessSpec, name: str | None) -> str:
    """A flow's target as a person reads it (a loop is named by the task it repeats)."""
    spec = process.task_specs.get(name) if name else None
    if spec is None or not spec.bpmn_id:
        return f"'{name}'"
    return f"'{_title([s for s in process.task_specs.values() if s.bpmn_id == spec.bpmn_id])}'"


def _spec_clauses(old: Any, new: Any, old_process: BpmnProcessSpec,
                  new_process: BpmnProcessSpec) -> list[str]:
    """What changed in one aligned pair of task specs, as clauses of one sentence."""
    a, b = _REGISTRY.convert(old), _REGISTRY.convert(new)
    clauses: list[str] = []
    if a.get("typename") != b.get("typename"):
        clauses.append(f"is now a {str(b.get('description')).lower()} "
                       f"(was a {str(a.get('description')).lower()})")
    if a.get("bpmn_name") != b.get("bpmn_name") and b.get("bpmn_name"):
        clauses.append(f"is now called '{b['bpmn_name']}'")
    old_role, new_role = TaskProperties.of(old).role(old), TaskProperties.of(new).role(new)
    if old_role != new_role:
        clauses.append(f"is now for {_role(new_role)} (was for {_role(old_role)})")
    clauses += _extension_clauses(a.get("extensions") or {}, b.get("extensions") or {})
    if a.get("event_definition") != b.get("event_definition"):
        clauses.append(_event_clause(a.get("event_definition"), b.get("event_definition")))
    mentioned: set[str] = set()
    if a.get("cond_task_specs") != b.get("cond_task_specs") or (
            a.get("default_task_spec") != b.get("default_task_spec")):
        clauses += _condition_clauses(a, b, old_process, new_process, mentioned)
    if a.get("outputs") != b.get("outputs"):
        gone = [o for o in a.get("outputs", []) if o not in b.get("outputs", [])
                and o not in mentioned]
        came = [o for o in b.get("outputs", []) if o not in a.get("outputs", [])
                and o not in mentioned]
        if len(came) == len(gone) == 1:
            clauses.append(f"now leads to {_target(new_process, came[0])} "
                           f"(was to {_target(old_process, gone[0])})")
        else:
            clauses += [f"now also leads to {_target(new_process, o)}" for o in came]
            clauses += [f"no longer leads to {_target(old_process, o)}" for o in gone]
    for key, label in _SCRIPTS.items():
        if a.get(key) != b.get(key):
            clauses.append(_script_clause(label, a.get(key), b.get(key)))
    if a.get("spec") != b.get("spec"):
        clauses.append(f"now runs process {b.get('spec')} (was {a.get('spec')})")
    if a.get("cardinality") != b.get("cardinality"):
        clauses.append(f"now repeats {b.get('cardinality')} times "
                       f"(was {a.get('cardinality')})")
    if a.get("data_input") != b.get("data_input"):
        clauses.append(f"now repeats for each item of {_ref(b.get('data_input'))} "
                       f"(was {_ref(a.get('data_input'))})")
    if a.get("condition") != b.get("condition"):
        clauses.append(f"now stops repeating when {b.get('condition')} "
                       f"(was when {a.get('condition')})")
    if a.get("documentation") != b.get("documentation"):
        clauses.append("has a new description")
    handled = {"typename", "bpmn_name", "extensions", "event_definition", "cond_task_specs",
               "default_task_spec", "outputs", "spec", "cardinality", "data_input",
               "condition", "documentation", *_SCRIPTS}
    data_keys = {"io_specification", "data_input_associations", "data_output_associations",
                 "data_output", "input_item", "output_item"}
    if any(a.get(k) != b.get(k) for k in data_keys):
        clauses.append("reads or writes other data")
    clauses += [f"has a different {key.replace('_', ' ')}"
                for key in sorted(a.keys() | b.keys())
                if key not in handled | data_keys | _SAME_EVERYWHERE and a.get(key) != b.get(key)]
    return clauses


def _role(role: str | None) -> str:
    return f"the {role.replace('_', ' ')}" if role else "no role"


def _ref(value: Any) -> str:
    return str(value.get("bpmn_id")) if isinstance(value, dict) else str(value)


_PROPERTY_WORDS: dict[str, tuple[str, str, str]] = {
    # property: (now "{new}", now when added "{new}", when removed "{old}")
    "form": ("now uses form '{new}' (was '{old}')", "now uses form '{new}'",
             "no longer uses a form (was '{old}')"),
    "due_in": ("is now due within {new} (was {old})", "is now due within {new}",
               "no longer has a due time (was {old})"),
    "education_module": ("now shows education module {new} (was {old})",
                         "now shows education module {new}",
                         "no longer shows an education module (was {old})"),
    "alert": ("now raises the alert '{new}' (was '{old}')", "now raises the alert '{new}'",
              "no longer raises an alert (was '{old}')"),
    "cycle": ("is now a cycle start '{new}' (was '{old}')",
              "now starts a repeating cycle", "no longer starts a repeating cycle"),
}


def _extension_clauses(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    clauses: list[str] = []
    old_props, new_props = a.get("properties") or {}, b.get("properties") or {}
    for key in sorted(old_props.keys() | new_props.keys()):
        old, new = old_props.get(key), new_props.get(key)
        if old == new or key == "role":  # the role is compared as a whole (lane or property)
            continue
        if key.startswith("event:"):
            event = key.split(":", 1)[1]
            clauses.append(f"no longer records the event {event}" if new is None else
                           f"now records the event {event} with {new}" if old is None else
                           f"records the event {event} with {new} (was with {old})")
        elif key.startswith("event_if:"):
            event = key.split(":", 1)[1]
            clauses.append(f"records the event {event} whatever happened" if new is None else
                           f"records the event {event} only when {new}" if old is None else
                           f"records the event {event} only when {new} (was when {old})")
        else:
            changed, came, gone = _PROPERTY_WORDS.get(key, (
                f"has property {key} = {{new}} (was {{old}})", f"has property {key} = {{new}}",
                f"no longer has property {key} (was {{old}})"))
            template = gone if new is None else came if old is None else changed
            clauses.append(template.format(old=old, new=new))
    if a.get("calledDecisionId") != b.get("calledDecisionId"):
        clauses.append(f"now uses decision {b.get('calledDecisionId')} "
                       f"(was {a.get('calledDecisionId')})")
    # preScript/postScript repeat the spec's own prescript/postscript (compared as scripts).
    for key in sorted((a.keys() | b.keys()) - {"properties", "calledDecisionId", "preScript",
                                               "postScript"}):
        if a.get(key) != b.get(key):
            clauses.append(f"has a different {key}")
    return clauses


_TIMER_PHRASES = {"TimeDateEventDefinition": "falls due at {}",
                  "DurationTimerEventDefinition": "waits for {}",
                  "CycleTimerEventDefinition": "repeats on {}"}


def _timer_phrase(definition: Mapping[str, Any] | None) -> str:
    if not definition:
        return "waits for nothing"
    template = _TIMER_PHRASES.get(str(definition.get("typename")))
    if template is None:
        return f"waits for {str(definition.get('description', 'an event')).lower()}"
    return template.format(definition.get("expression"))


def _event_clause(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> str:
    if a and b and a.get("typename") == b.get("typename") and (
            a.get("typename") in _TIMER_PHRASES):
        return f"now {_timer_phrase(b)} (was {a.get('expression')})"
    return f"now {_timer_phrase(b)} (was: it {_timer_phrase(a)})"


def _condition_clauses(a: Mapping[str, Any], b: Mapping[str, Any], old_process: BpmnProcessSpec,
                       new_process: BpmnProcessSpec, mentioned: set[str]) -> list[str]:
    old = {c["task_spec"]: c["condition"] for c in a.get("cond_task_specs") or []}
    new = {c["task_spec"]: c["condition"] for c in b.get("cond_task_specs") or []}
    clauses = []
    # A flow that kept its condition but goes elsewhere: one clause, not an added and a removed.
    moved = {came: gone for came in new if came not in old
             for gone in old if gone not in new and old[gone] == new[came]}
    for target in [*new, *(t for t in old if t not in new)]:
        if old.get(target) == new.get(target) or target in moved.values():
            continue
        mentioned.update({target, moved.get(target, target)})
        if target in moved:
            clauses.append(f"now leads to {_target(new_process, target)} when {new[target]} "
                           f"(was to {_target(old_process, moved[target])})")
        elif target not in old:
            clauses.append(f"now also leads to {_target(new_process, target)} "
                           f"when {new[target]}")
        elif target not in new:
            clauses.append(f"no longer leads to {_target(old_process, target)}")
        else:
            clauses.append(f"leads to {_target(new_process, target)} when {new[target]} "
                           f"(was when {old[target]})")
    old_default, new_default = a.get("default_task_spec"), b.get("default_task_spec")
    if old_default != new_default:
        mentioned.update(t for t in (old_default, new_default) if t)
        clauses.append(f"by default now leads to {_target(new_process, new_default)} "
                       f"(was {_target(old_process, old_default)})" if new_default else
                       f"no longer has a default flow (was to "
                       f"{_target(old_process, old_default)})")
    return clauses


def _script_clause(label: str, old: str | None, new: str | None) -> str:
    if old is None:
        return f"now has a {label}: {_one_line(new)}"
    if new is None:
        return f"no longer has a {label}"
    old_lines = [line.strip() for line in old.splitlines() if line.strip()]
    new_lines = [line.strip() for line in new.splitlines() if line.strip()]
    if len(old_lines) <= 1 and len(new_lines) <= 1:
        return f"has a new {label}: {_one_line(new)} (was {_one_line(old)})"
    diff = list(difflib.ndiff(old_lines, new_lines))
    added = [line[2:] for line in diff if line.startswith("+ ")]
    dropped = [line[2:] for line in diff if line.startswith("- ")]
    parts = [f"adds {' / '.join(added)}" if added else "",
             f"drops {' / '.join(dropped)}" if dropped else ""]
    return f"has a changed {label}: {', and '.join(p for p in parts if p) or 'lines moved'}"


def _one_line(source: str | None) -> str:
    return " / ".join(line.strip() for line in (source or "").splitlines() if line.strip())


# -- decisions


def _decision_changes(old: PathwayModel, new: PathwayModel) -> Iterator[Change]:
    names = {**_decision_names(old), **_decision_names(new)}
    for decision in sorted(old.decision_tables.keys() | new.decision_tables.keys()):
        name = names.get(decision) or decision
        if decision not in new.decision_tables:
            yield Change("removed", "decision", old.decision_tables[decision][0], decision,
                         f"Decision '{name}' was removed")
            continue
        file, table = new.decision_tables[decision]
        if decision not in old.decision_tables:
            yield Change("added", "decision", file, decision, f"Decision '{name}' was added")
            continue
        _old_file, before = old.decision_tables[decision]
        clauses = _table_clauses(before, table)
        if clauses:
            yield Change("changed", "decision", file, decision,
                         f"Decision '{name}' {'; '.join(clauses)}")
        for old_rule, new_rule in _rule_pairs(before.rules, table.rules):
            if old_rule is None and new_rule is not None:
                yield Change("added", "decision rule", file, _rule_element(decision, new_rule),
                             f"Decision '{name}' has a new {_rule_label(new_rule)}: "
                             f"{_rule_text(table, new_rule)}")
            elif new_rule is None and old_rule is not None:
                yield Change("removed", "decision rule", file, _rule_element(decision, old_rule),
                             f"Decision '{name}' no longer has {_rule_label(old_rule)}: "
                             f"{_rule_text(before, old_rule)}")
            elif old_rule is not None and new_rule is not None:
                differences = _rule_clauses(before, old_rule, table, new_rule)
                if differences:
                    yield Change("changed", "decision rule", file,
                                 _rule_element(decision, new_rule),
                                 f"Decision '{name}' {_rule_label(new_rule)} changed: "
                                 f"{'; '.join(differences)}")


def _decision_names(model: PathwayModel) -> dict[str, str]:
    names: dict[str, str] = {}
    for file in {file for file, _table in model.decision_tables.values()}:
        try:
            root = parse_xml(model.files[file], file)
        except (KeyError, UnsafeXmlError):
            continue
        for decision in root.iter("{*}decision"):
            if decision.get("id") and decision.get("name"):
                names[str(decision.get("id"))] = str(decision.get("name"))
    return names


def _table_clauses(old: DecisionTable, new: DecisionTable) -> list[str]:
    clauses = []
    if old.hit_policy != new.hit_policy:
        clauses.append(f"now uses hit policy {new.hit_policy} (was {old.hit_policy})")
    clauses += _column_clauses(old.inputs, new.inputs, "asks", "from", "expression")
    clauses += _column_clauses(old.outputs, new.outputs, "gives", "as", "name")
    return clauses


def _column_clauses(old: list[Any], new: list[Any], verb: str, link: str,
                    source: str) -> list[str]:
    """Input or output columns added, removed or changed (by id); `source` is the attribute
    that says what a column reads (its expression) or gives (its name)."""
    before = {column.id: column for column in old}
    after = {column.id: column for column in new}
    clauses = []
    for key, column in after.items():
        was = before.get(key)
        now = f"'{_label(column)}' {link} {getattr(column, source)}"
        if was is None:
            clauses.append(f"now also {verb} {now}")
        elif (was.label, getattr(was, source)) != (column.label, getattr(column, source)):
            clauses.append(f"{verb} {now} (was '{_label(was)}' {link} {getattr(was, source)})")
    clauses += [f"no longer {verb} '{_label(column)}'" for key, column in before.items()
                if key not in after]
    return clauses


def _label(column: Any) -> str:
    return str(column.label or column.name or column.id)


def _rule_pairs(old: list[Rule], new: list[Rule]) -> Iterator[tuple[Rule | None, Rule | None]]:
    """(old, new) rules matched by id (None: no match); rules without an id are matched by
    their position among those."""
    new_by_id = {rule.id: rule for rule in new if rule.id}
    old_ids = {rule.id for rule in old if rule.id}
    for rule in old:
        if rule.id:
            yield rule, new_by_id.get(rule.id)
    yield from ((None, rule) for rule in new if rule.id and rule.id not in old_ids)
    old_plain = [rule for rule in old if not rule.id]
    new_plain = [rule for rule in new if not rule.id]
    for position in range(max(len(old_plain), len(new_plain))):
        yield (old_plain[position] if position < len(old_plain) else None,
               new_plain[position] if position < len(new_plain) else None)


def _rule_element(decision: str, rule: Rule) -> str:
    return str(rule.id or f"{decision} rule {rule.row_number}")


def _rule_label(rule: Rule) -> str:
    return f"rule {rule.row_number} ({rule.id})" if rule.id else f"rule {rule.row_number}"


def _cell(entry: Any) -> str:
    return " or ".join(cell for cell in (entry.lhs or []) if cell) or ""


def _condition(label: str, cell: str) -> str:
    operator = cell.lstrip()[:1] in ("<", ">", "=", "!") or cell.startswith(("not ", "in "))
    return f"{label} {cell}" if operator else f"{label} is {cell}"


def _rule_text(table: DecisionTable, rule: Rule) -> str:
    conditions = [_condition(_label(column), _cell(entry))
                  for column, entry in zip(table.inputs, rule.inputEntries, strict=False)
                  if _cell(entry)]
    outputs = [f"{_label(column)} is {entry.text}"
               for column, entry in zip(table.outputs, rule.outputEntries, strict=False)]
    when = " and ".join(conditions) if conditions else "always"
    return f"when {when}, {' and '.join(outputs) or 'nothing'}"


def _rule_clauses(old_table: DecisionTable, old: Rule, new_table: DecisionTable,
                  new: Rule) -> list[str]:
    clauses = []
    for position in range(max(len(old.inputEntries), len(new.inputEntries))):
        before = _cell(old.inputEntries[position]) if position < len(old.inputEntries) else ""
        after = _cell(new.inputEntries[position]) if position < len(new.inputEntries) else ""
        if before != after:
            column = new_table.inputs[position] if position < len(new_table.inputs) else (
                old_table.inputs[position])
            clauses.append(f"'{_label(column)}' is now {after or 'any value'} "
                           f"(was {before or 'any value'})")
    for position in range(max(len(old.outputEntries), len(new.outputEntries))):
        was = old.outputEntries[position].text if position < len(old.outputEntries) else None
        now = new.outputEntries[position].text if position < len(new.outputEntries) else None
        if was != now:
            column = new_table.outputs[position] if position < len(new_table.outputs) else (
                old_table.outputs[position])
            clauses.append(f"'{_label(column)}' is now {now} (was {was})")
    if (old.description or "") != (new.description or ""):
        clauses.append("its note changed")
    return clauses


# -- settings, forms, files


def _setting_changes(old: PathwayModel, new: PathwayModel) -> Iterator[Change]:
    for name in sorted(old.settings.keys() | new.settings.keys()):
        if name not in new.settings:
            yield Change("removed", "setting", MANIFEST, name,
                         f"Setting {name} was removed (was {_value(old.settings[name])})")
        elif name not in old.settings:
            yield Change("added", "setting", MANIFEST, name,
                         f"Setting {name} was added with {_value(new.settings[name])}")
        elif old.settings[name] != new.settings[name]:
            yield Change("changed", "setting", MANIFEST, name,
                         f"Setting {name} changed from {_value(old.settings[name])} "
                         f"to {_value(new.settings[name])}")


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _form_files(model: PathwayModel) -> dict[str, str]:
    """Form name -> its bundle file (load_bundle names a form after its file's stem)."""
    return {PurePosixPath(name).stem: name for name in sorted(model.files)
            if PurePosixPath(name).suffix == ".json"}


def _form_changes(old: PathwayModel, new: PathwayModel) -> Iterator[Change]:
    old_files, new_files = _form_files(old), _form_files(new)
    for name in sorted(old.forms.keys() | new.forms.keys()):
        if name not in new.forms:
            yield Change("removed", "form", old_files.get(name, name), name,
                         f"Form '{name}' was removed")
            continue
        file = new_files.get(name, name)
        if name not in old.forms:
            yield Change("added", "form", file, name, f"Form '{name}' was added")
            continue
        if old.forms[name] == new.forms[name]:
            continue
        before, after = _form_fields(old.forms[name]), _form_fields(new.forms[name])
        came = [path for path in after if path not in before]
        gone = [path for path in before if path not in after]
        changed = [path for path in after if path in before and after[path] != before[path]]
        clauses = [f"has new fields {', '.join(came)}" if came else "",
                   f"no longer has the fields {', '.join(gone)}" if gone else "",
                   f"asks differently for {', '.join(changed)}" if changed else ""]
        words = "; ".join(c for c in clauses if c) or "changed its title or descriptions"
        yield Change("changed", "form", file, name, f"Form '{name}' {words}")


def _form_fields(schema: Any, prefix: str = "", required: Iterable[str] = ()) -> dict[str, Any]:
    """Dotted field path -> its definition (without its own fields) and whether it is required;
    fields inside objects and inside array items are fields too."""
    fields: dict[str, Any] = {}
    if not isinstance(schema, dict):
        return fields
    needed = set(schema.get("required") or [])
    for key, definition in (schema.get("properties") or {}).items():
        path = f"{prefix}{key}"
        if not isinstance(definition, dict):
            fields[path] = definition
            continue
        own = {k: v for k, v in definition.items() if k not in ("properties", "items")}
        fields[path] = {"definition": own, "required": key in needed}
        fields.update(_form_fields(definition, f"{path}."))
        items = definition.get("items")
        if isinstance(items, dict):
            fields.update(_form_fields(items, f"{path}[]."))
    return fields


def _file_changes(old: PathwayModel, new: PathwayModel, covered: set[str]) -> list[Change]:
    """Files nothing above accounts for: added, removed, or changed in nothing that runs."""
    changes = []
    for name in sorted(old.files.keys() | new.files.keys()):
        if name in covered:
            continue
        if name not in new.files:
            changes.append(Change("removed", "file", name, None, f"File {name} was removed"))
        elif name not in old.files:
            changes.append(Change("added", "file", name, None, f"File {name} was added"))
        elif old.files[name] != new.files[name]:
            changes.append(Change("changed", "file", name, None,
                                  f"File {name} changed only in comments, layout or "
                                  f"descriptions; nothing that runs is different"))
    return changes


# -- migrating a running episode


@dataclass(frozen=True)
class TimerChange:
    """A timer the episode waits on before or after a migration."""

    element: str
    name: str
    due_before: datetime | None
    """None if the timer did not wait before."""
    due_after: datetime | None
    """None if it no longer waits."""
    restarted: bool
    """Its time was worked out again (the new version changed it, or a setting it reads), or
    it began waiting during the migration. Restarted without `due_after`: it fell due at once
    (the episode went on; see `MigrationPlan.events`)."""


@dataclass(frozen=True)
class MigrationPlan:
    """What moving one episode onto another version does; when `ok`, the new state to save."""

    ok: bool
    reason: str | None
    """Why the migration is refused, in a sentence a manager understands (None when ok)."""
    steps_before: tuple[str, ...]
    """Element ids where the episode is now (ready, waiting, running)."""
    steps_after: tuple[str, ...]
    """Where it would be on the new version (empty when refused)."""
    timers: tuple[TimerChange, ...]
    """Every waiting timer before and after (empty when refused)."""
    state_json: str | None
    """The new saved state, for the new version's engine (None when refused)."""
    next_wake_at: datetime | None
    ready_tasks: list[ReadyTask] | None
    events: tuple[DomainEvent, ...] = ()
    """What the episode did while it settled on the new version (e.g. a timer the new version
    makes due already fired): to be logged with the state when it is saved."""


_LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
"""Where an episode is: people's tasks, waiting timers and joins, running (sub)processes."""
_UNREACHED = TaskState.PREDICTED_MASK | TaskState.FUTURE
"""Tasks the episode has not reached: predicted afresh from the new version."""
_RESTART_KEYS = frozenset({"typename", "event_definition", "prescript", "io_specification",
                           "data_input_associations"})
"""Spec attributes that decide how a ready or waiting task got there: a change restarts it."""
_LOOP_KEYS = ("iteration", "item", "key_or_index")
"""What a multi-instance task keeps in an instance (kept when the instance restarts)."""


def plan_migration(old: PathwayEngine, new: PathwayEngine, state_json: str) -> MigrationPlan:
    """Move the episode saved in `state_json` (by `old`'s version) onto `new`'s version.

    What did not change is kept: ready tasks and waiting timers keep their ids and due times.
    A ready or waiting task restarts (its due time worked out again, at the clock's now) when
    the new version changed how it got there (a timer's expression, a task's type or due time,
    a script run before it), and a timer also when it reads a setting whose value changed; a
    waiting join restarts on any change. What the episode has not reached yet is predicted
    afresh wherever the new version changed it. Refused (ok=False, with the reason) when the
    episode is at a step the new version removed, is in a process the new version lacks, or
    the result does not save and load back on the new version. Settings the episode overrides
    that the new version no longer has are dropped. Nothing outside the call changes: the
    caller decides whether to save `state_json`. Raises StateMismatchError when `state_json`
    was not saved by `old`'s version."""
    before = old.restore(state_json)
    steps_before = before.progress().current
    timers_before = before.waiting_timers()

    def refused(reason: str) -> MigrationPlan:
        return MigrationPlan(False, reason, steps_before, (), (), None, None, None)

    workflow = before.workflow
    overrides = {k: v for k, v in before.overrides.items() if k in new.model.settings}
    changed_settings = _changed_settings({**old.model.settings, **before.overrides},
                                         {**new.model.settings, **overrides})
    try:
        work = _move_specs(workflow, old, new, changed_settings)
    except _Refused as refusal:
        return refused(str(refusal))
    try:
        moved = new.restore(json.dumps(new.workflow_to_dict(workflow, overrides)))
        events = [] if moved.is_completed else moved.settle(lambda: work.finish(moved.workflow))
        state = moved.state_json()
        proof = new.restore(state)
        if sorted(t.id for t in proof.ready_tasks()) != sorted(t.id for t in moved.ready_tasks()):
            raise ValueError("the saved episode lists other ready tasks")
        if proof.waiting_timers() != moved.waiting_timers():
            raise ValueError("the saved episode waits on other timers")
    except (PathwayError, SpiffWorkflowException, SandboxError, KeyError, IndexError,
            TypeError, ValueError, RecursionError) as err:
        return refused(f"the new version cannot read this episode's data: {_why(err)}")
    names = {**old.model.step_names(), **new.model.step_names()}
    return MigrationPlan(
        ok=True, reason=None, steps_before=steps_before,
        steps_after=moved.progress().current,
        timers=_timer_changes(timers_before, moved.waiting_timers(), work.restarted_timers,
                              names),
        state_json=state, next_wake_at=moved.next_wake_at(), ready_tasks=moved.ready_tasks(),
        events=tuple(events))


class _Refused(Exception):
    """A migration that cannot be done; the message is the reason for the manager."""


@dataclass
class _Work:
    """What is left to do once the new engine holds the workflow: restart the tasks whose spec
    changed and predict afresh below those that stay (both evaluate nothing of the model but
    timers, which need the new instance's clock and settings)."""

    restart: list[UUID]
    predict: list[UUID]
    restarted_timers: set[str]

    def finish(self, workflow: BpmnWorkflow) -> None:
        for task_id in self.predict:
            task = workflow.get_task_from_id(task_id)
            task.task_spec._predict(task, mask=TaskState.NOT_FINISHED_MASK)
        for task_id in self.restart:
            _restart(workflow, workflow.get_task_from_id(task_id))


def _move_specs(workflow: BpmnWorkflow, old: PathwayEngine, new: PathwayEngine,
                changed_settings: set[str]) -> _Work:
    """Point every task of the (throwaway) restored workflow at its spec in the new version,
    and drop what the episode has not reached below tasks that change; refuse what cannot
    move. SpiffWorkflow's migrate_workflow resets every ready or waiting task from its parent's
    data, which carepath's saved state has dropped once read (statecodec.drop_spent_data), so
    the loop here restarts only what changed, from the task's own data."""
    new_specs: dict[str | None, Any] = {None: new.spec}
    new_specs.update(new.model.subprocess_specs)
    diffs: dict[str | None, tuple[SpecDiff, dict[Any, Any]]] = {}
    flows: list[tuple[Any, str | None]] = [(workflow, None)]
    problems: list[str] = []
    for task_id, sub in workflow.subprocesses.items():
        if sub.spec.name not in new.model.subprocess_specs:
            caller = workflow.get_task_from_id(task_id)
            problems.append(f"the episode is in {_step(caller)}, whose process "
                            f"{sub.spec.name} the new version does not have")
        flows.append((sub, sub.spec.name))
    if problems:
        raise _Refused("; ".join(problems))
    work = _Work([], [], set())
    gone: list[str] = []
    for flow, process in flows:
        if process not in diffs:
            diff = SpecDiff(old.serializer.registry, flow.spec, new_specs[process])
            diffs[process] = diff, _alignment(diff, flow.spec, new_specs[process])
        diff, aligned = diffs[process]
        changed = diff.changed
        for task in list(flow.tasks.values()):
            spec = aligned.get(task.task_spec)
            if spec is not None or task.state & _UNREACHED:
                continue
            if task.state & _LIVE:
                problems.append(f"the episode {_verb(task)} {_step(task)}, which the new "
                                f"version removed")
            else:
                gone.append(f"the episode went through {_step(task)}, which the new version "
                            f"removed")
        if problems or gone:
            continue
        live = [task for task in flow.tasks.values() if task.state & _LIVE]
        for task in live:
            keys = set(changed.get(task.task_spec, []))
            if _restarts(task, aligned[task.task_spec], keys, changed_settings):
                work.restart.append(task.id)
                if _is_timer(task):
                    work.restarted_timers.add(str(task.id))
                _drop_unreached(flow, task)
            elif any(t.task_spec in changed or aligned.get(t.task_spec) is None
                     for t in [task, *_unreached_below(task)]):
                work.predict.append(task.id)
                _drop_unreached(flow, task)
        for task in flow.tasks.values():
            # A task left without a spec fails the save below, and is refused there.
            task.task_spec = aligned.get(task.task_spec) or task.task_spec
        flow.spec = new_specs[process]
    if problems:
        raise _Refused("; ".join(problems))
    if gone:
        raise _Refused(f"the new version cannot read this episode's data: {'; '.join(gone)}")
    workflow.subprocess_specs = dict(new.model.subprocess_specs)
    return work


def _restarts(task: Task, new_spec: Any, keys: set[str], changed_settings: set[str]) -> bool:
    """Must this live task wait or be ready afresh under `new_spec`? (`task` still has its old
    spec; `keys` are the spec attributes that changed.)"""
    if not task.state & (TaskState.READY | TaskState.WAITING):
        return False  # a running (sub)process goes on; what it runs is migrated on its own
    if isinstance(new_spec, _GATEWAYS):
        return bool(keys)  # a waiting join checks its incoming flows afresh: nothing is lost
    if keys & _RESTART_KEYS:
        return True
    # Of the carepath properties only the due time was worked out when the task became
    # ready; the rest (form, role, alert...) are read from the new spec when it is shown.
    if TaskProperties.of(task.task_spec).due_in != TaskProperties.of(new_spec).due_in:
        return True
    if _is_timer(task) and changed_settings:
        reads = _settings_read(new_spec.event_definition.expression)
        return reads is None or bool(reads & changed_settings)
    return False


def _is_timer(task: Task) -> bool:
    return isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition)


def _settings_read(source: str) -> set[str] | None:
    """The settings an expression reads (`settings['name']`); None when it reads them in
    another way (then any change counts)."""
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        return None
    names: set[str] = set()
    seen: set[int] = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
                and node.value.id == "settings" and isinstance(node.slice, ast.Constant)
                and isinstance(node.slice.value, str)):
            names.add(node.slice.value)
            seen.add(id(node.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "settings" and id(node) not in seen:
            return None
    return names


_MISSING = object()


def _changed_settings(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[str]:
    return {name for name in old.keys() | new.keys()
            if old.get(name, _MISSING) != new.get(name, _MISSING)}


def _unreached_below(task: Task) -> Iterator[Task]:
    """The tasks the episode has not reached below a live task (a running loop's instances
    are live themselves, and stay)."""
    stack = [child for child in task.children if not child.triggered]
    while stack:
        node = stack.pop()
        if node.state & _UNREACHED:
            yield node
            stack.extend(node.children)


def _drop_unreached(flow: Any, task: Task) -> None:
    for child in list(task.children):
        if not child.triggered and child.state & _UNREACHED:
            flow._remove_task(child.id)  # SpiffWorkflow's own removal, subtree and all


def _restart(workflow: BpmnWorkflow, task: Task) -> None:
    """Reset a ready or waiting task to wait or be ready afresh under its new spec, from its
    own data (its parent's was dropped once read), keeping its id and a loop instance's place."""
    kept = {key: task.internal_data[key] for key in _LOOP_KEYS if key in task.internal_data}
    dropped = task.reset_branch(deepcopy(task.data))
    task.internal_data.update(kept)
    for other in dropped:  # SpiffWorkflow leaves dropped catch events registered
        workflow.event_manager.remove_task(other)


def _step(task: Task) -> str:
    spec = task.task_spec
    return f"'{_title([spec])}' ({spec.bpmn_id})" if spec.bpmn_id else f"'{spec.name}'"


def _verb(task: Task) -> str:
    if task.state == TaskState.WAITING:
        return "waits on"
    if task.state == TaskState.STARTED:
        return "is in"
    return "is at"


def _why(err: BaseException) -> str:
    message = str(err).splitlines()[0] if str(err) else ""
    if isinstance(err, KeyError):
        return f"it has a step the new version does not have ({message})"
    return message or type(err).__name__


def _timer_changes(before: list[WaitingTimer], after: list[WaitingTimer],
                   restarted: set[str], names: Mapping[str, str]) -> tuple[TimerChange, ...]:
    """Before and after matched by task id (a timer keeps its id), then by element."""
    later = {timer.task_id: timer for timer in after}
    earlier_ids = {timer.task_id for timer in before}
    used: set[str] = set()
    changes = []
    for timer in before:
        match = later.get(timer.task_id) or next(
            (t for t in after if t.name == timer.name and t.task_id not in earlier_ids
             and t.task_id not in used), None)
        if match is not None:
            used.add(match.task_id)
        changes.append(TimerChange(
            timer.name, names.get(timer.name, timer.title), timer.due_at,
            match.due_at if match else None,
            timer.task_id in restarted or (match is not None and match.task_id != timer.task_id)))
    for timer in after:
        if timer.task_id not in used and timer.task_id not in earlier_ids:
            changes.append(TimerChange(timer.name, names.get(timer.name, timer.title), None,
                                       timer.due_at, True))
    return tuple(sorted(changes, key=_timer_order))


def _timer_order(change: TimerChange) -> tuple[datetime, str]:
    due = change.due_after or change.due_before
    assert due is not None  # every change waited before, after, or both
    return due, change.element
