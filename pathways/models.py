"""Load a pathway model bundle (BPMN, DMN, forms, settings) into specs the engine can run.

A bundle is a set of named files: `pathway.toml` (the process to start and its settings),
`*.bpmn`, `*.dmn` and `forms/*.json` (JSON Schema per task form). Every file is untrusted
until `load_bundle` has parsed it with the hardened XML parser, validated it against the
BPMN/DMN schemas, and (by default) linted every expression in it (`pathways.lint`).
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.dmn.specs.model import DecisionTable
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from .vocabulary import Vocabulary, vocabulary_of
from .xmlsafe import MAX_MODEL_BYTES, UnsafeXmlError, parse_xml

MANIFEST = "pathway.toml"
MAX_FILES = 200
_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}"
_FILE_NAME = re.compile(rf"pathway\.toml|{_NAME}\.(bpmn|dmn)|forms/{_NAME}\.json")
NAME_RULE = ("a file must be pathway.toml, NAME.bpmn, NAME.dmn or forms/NAME.json, where NAME "
             "has letters, digits, '_', '-' or '.' only")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a model: which file, which element, and a plain sentence."""

    file: str
    element: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.element}" if self.element else self.file
        return f"{where}: {self.message}"


class ModelError(Exception):
    """A bundle was rejected; `problems` lists every reason found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class PathwayModel:
    """A validated, parsed bundle: what the engine needs to start and restore instances."""

    name: str
    process_id: str
    spec: BpmnProcessSpec | None
    """None only for a standalone check of DMN files."""
    subprocess_specs: dict[str, BpmnProcessSpec]
    settings: dict[str, Any]
    forms: dict[str, dict[str, Any]]
    files: dict[str, bytes]
    decision_tables: dict[str, tuple[str, DecisionTable]] = field(default_factory=dict)
    """Decision id -> (file, table)."""
    standalone: bool = False

    @cached_property
    def digest(self) -> str:
        return bundle_digest(self.files)

    def all_specs(self) -> list[BpmnProcessSpec]:
        return [s for s in (self.spec, *self.subprocess_specs.values()) if s is not None]

    def spec_json(self) -> str:
        """The parsed specs in SpiffWorkflow's own serialized form, for tools that read it
        (the engine itself re-parses the files)."""
        registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
        specs = {"spec": registry.convert(self.spec),
                 "subprocess_specs": {k: registry.convert(v)
                                      for k, v in self.subprocess_specs.items()}}
        return json.dumps(specs, default=str)

    @cached_property
    def vocabulary(self) -> Vocabulary:
        """The words its forms give the codes in its data (pathways.vocabulary)."""
        return vocabulary_of(self.forms)

    def waiting_step_names(self) -> Mapping[str, str]:
        """The steps an instance can wait at (people's tasks and timers), by element id, with
        the names of `step_names`."""
        return self._waiting_names

    def step_names(self) -> Mapping[str, str]:
        """Element id -> the name a person reads for it (its BPMN name, else its id in words;
        a timer reads "Waiting: ..."). Worked out once per model (pages and migrations ask
        for it often), read-only."""
        return self._names

    @cached_property
    def _names(self) -> Mapping[str, str]:
        names = {}
        for spec in self.all_specs():
            for task in spec.task_specs.values():
                if not task.bpmn_id:
                    continue
                waiting = isinstance(getattr(task, "event_definition", None),
                                     TimerEventDefinition)
                name = str(task.bpmn_name or task.bpmn_id.replace("_", " "))
                names[task.bpmn_id] = ("Waiting: " if waiting else "") + name
        return MappingProxyType(names)

    @cached_property
    def _waiting_names(self) -> Mapping[str, str]:
        return MappingProxyType({
            task.bpmn_id: self._names[task.bpmn_id]
            for spec in self.all_specs() for task in spec.task_specs.values()
            if task.bpmn_id and (getattr(task, "manual", False) or isinstance(
                getattr(task, "event_definition", None), TimerEventDefinition))})


def is_file_name(name: str) -> bool:
    """Whether `name` is a plain name in the bundle's own folders (NAME_RULE): never a path
    that climbs out, starts at the root or names another folder. A bundle is stored and
    handed out by these names, so they must never be read as paths elsewhere."""
    return _FILE_NAME.fullmatch(name) is not None and ".." not in name


def name_problems(files: Mapping[str, bytes]) -> list[Problem]:
    """A problem for each file of a bundle whose name breaks NAME_RULE."""
    return [Problem(name, None, f"not a model file name: {NAME_RULE}")
            for name in sorted(files) if not is_file_name(name)]


def bundle_digest(files: Mapping[str, bytes]) -> str:
    """A stable content hash of a bundle: the model version's identity."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def read_bundle_dir(directory: Path) -> dict[str, bytes]:
    """The bundle files under `directory`, keyed by their relative POSIX path."""
    files: dict[str, bytes] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.suffix in (".bpmn", ".dmn", ".json", ".toml"):
            # Never read more than the limit: an oversize file is reported, not loaded.
            with path.open("rb") as handle:
                files[path.relative_to(directory).as_posix()] = handle.read(MAX_MODEL_BYTES + 1)
    return files


def load_bundle_dir(directory: Path, lint: bool = True) -> PathwayModel:
    return load_bundle(read_bundle_dir(directory), lint=lint)


def validate_paths(paths: list[Path]) -> list[Problem]:
    """Problems in each path: a bundle directory, a file inside one (its bundle is checked),
    or a loose .bpmn/.dmn file (checked on its own). An empty list means all is well."""
    problems: list[Problem] = []
    seen: set[Path] = set()
    for path in paths:
        if not path.exists():
            problems.append(Problem(str(path), None, "no such file or directory"))
            continue
        bundle = path if path.is_dir() else path.parent
        is_bundle = (bundle / MANIFEST).is_file()
        if is_bundle:
            if bundle.resolve() in seen:
                continue
            seen.add(bundle.resolve())
            files, label = read_bundle_dir(bundle), bundle
            problems.extend(Problem(str(bundle / p.file), None, p.message)
                            for p in name_problems(files))
        elif path.is_dir():
            problems.append(Problem(str(path), None, f"not a model bundle: no {MANIFEST}"))
            continue
        else:
            try:
                files, label = {path.name: _read_capped(path)}, path.parent
            except ValueError as err:
                problems.append(Problem(str(path), None, str(err)))
                continue
        try:
            load_bundle(files, standalone=not is_bundle)
        except ModelError as err:
            problems.extend(Problem(str(label / p.file) if p.file and not p.file.startswith("(")
                                    else str(label), p.element, p.message)
                            for p in err.problems)
    return problems


def _read_capped(path: Path) -> bytes:
    with path.open("rb") as handle:
        content = handle.read(MAX_MODEL_BYTES + 1)
    if len(content) > MAX_MODEL_BYTES:
        raise ValueError(f"file is over the limit of {MAX_MODEL_BYTES} bytes")
    return content


def load_bundle(files: Mapping[str, bytes], lint: bool = True,
                standalone: bool = False) -> PathwayModel:
    """Parse and validate a bundle, or raise ModelError listing every problem found.

    `standalone` validates loose BPMN/DMN files without a manifest: every process found is
    checked, and checks that need the rest of a bundle (forms) are skipped.
    """
    problems: list[Problem] = []
    if len(files) > MAX_FILES:
        raise ModelError([Problem("(bundle)", None, f"more than {MAX_FILES} files")])
    for name, content in files.items():
        if len(content) > MAX_MODEL_BYTES:
            problems.append(Problem(name, None, f"file is larger than the limit of "
                                                f"{MAX_MODEL_BYTES} bytes"))
    if problems:
        raise ModelError(problems)

    manifest = None if standalone else _read_manifest(files, problems)
    forms = _read_forms(files, problems)
    parser = SpiffBpmnParser(validator=VALIDATOR)
    decision_files: dict[str, str] = {}
    for name, content in sorted(files.items()):
        suffix = PurePosixPath(name).suffix
        if suffix not in (".bpmn", ".dmn"):
            continue
        try:
            root = parse_xml(content, name)
            if suffix == ".bpmn":
                parser.add_bpmn_xml(root, filename=name)
            else:
                parser.add_dmn_xml(root, filename=name)
                for decision in root.iter("{*}decision"):
                    decision_files[decision.get("id", "")] = name
        except UnsafeXmlError as err:
            problems.append(Problem(name, None, str(err).removeprefix(f"{name}: ")))
        except ValidationException as err:
            problems.append(_validation_problem(err, name))
        except SpiffWorkflowException as err:
            problems.append(Problem(name, None, str(err)))
    if standalone and not problems:
        process_ids = parser.get_process_ids()
        manifest = {"process": process_ids[0] if process_ids else None, "settings": {}}
    if problems or manifest is None:
        raise ModelError(problems)

    tables = _decision_tables(parser, decision_files, problems)
    process_id = manifest["process"]
    spec, subprocess_specs = None, {}
    try:
        if process_id is not None:
            spec = parser.get_spec(process_id)
            subprocess_specs = parser.get_subprocess_specs(process_id)
            if standalone:
                for other in parser.get_process_ids():
                    if other != process_id and other not in subprocess_specs:
                        subprocess_specs[other] = parser.get_spec(other)
    except ValidationException as err:
        problems.append(_validation_problem(err, err.file_name or "(bundle)"))
    except (SpiffWorkflowException, KeyError) as err:
        problems.append(Problem(MANIFEST, process_id, f"cannot build the process: {err}"))
    if problems:
        raise ModelError(problems)

    model = PathwayModel(
        name=manifest.get("name", process_id or "decisions"),
        process_id=process_id or "",
        spec=spec,
        subprocess_specs=subprocess_specs,
        settings=manifest["settings"],
        forms=forms,
        files=dict(files),
        decision_tables=tables,
        standalone=standalone,
    )
    if lint:
        from .lint import lint_model

        problems = lint_model(model)
        if problems:
            raise ModelError(problems)
    return model


def _decision_tables(parser: SpiffBpmnParser, decision_files: dict[str, str],
                     problems: list[Problem]) -> dict[str, tuple[str, DecisionTable]]:
    tables: dict[str, tuple[str, DecisionTable]] = {}
    for decision_id, dmn_parser in parser.dmn_parsers.items():
        file = decision_files.get(decision_id, "(dmn)")
        try:
            dmn_parser.parse()
            tables[decision_id] = (file, dmn_parser.decision.decisionTables[0])
        except (SpiffWorkflowException, IndexError, AttributeError) as err:
            problems.append(Problem(file, decision_id, f"cannot read the decision table: {err}"))
    return tables


def _validation_problem(err: ValidationException, name: str) -> Problem:
    element = getattr(err, "id", "") or None
    line = getattr(err, "line_number", "")
    message = str(err).splitlines()[0] if str(err) else "invalid model"
    if line:
        message = f"line {line}: {message}"
    return Problem(getattr(err, "file_name", "") or name, element, message)


def _read_manifest(files: Mapping[str, bytes], problems: list[Problem]) -> dict[str, Any] | None:
    if MANIFEST not in files:
        problems.append(Problem(MANIFEST, None, "missing: it names the process to start and "
                                                "holds the pathway settings"))
        return None
    try:
        manifest = tomllib.loads(files[MANIFEST].decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        problems.append(Problem(MANIFEST, None, f"not valid TOML: {err}"))
        return None
    if not isinstance(manifest.get("process"), str):
        problems.append(Problem(MANIFEST, "process", "must name the process id to start"))
        return None
    if not isinstance(manifest.get("settings", {}), dict):
        problems.append(Problem(MANIFEST, "settings", "must be a table of settings"))
        return None
    manifest.setdefault("settings", {})
    return manifest


def _read_forms(files: Mapping[str, bytes], problems: list[Problem]) -> dict[str, dict[str, Any]]:
    forms: dict[str, dict[str, Any]] = {}
    for name, content in files.items():
        path = PurePosixPath(name)
        if path.suffix != ".json":
            continue
        try:
            schema = json.loads(content)
            if not isinstance(schema, dict):
                raise ValueError("a form must be a JSON object")
            Draft202012Validator.check_schema(schema)
        except (ValueError, SchemaError) as err:
            message = err.message if isinstance(err, SchemaError) else str(err)
            problems.append(Problem(name, None, f"not a valid form schema: {message}"))
            continue
        forms[path.stem] = schema
    return forms
