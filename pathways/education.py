"""Patient education modules: load, validate and serve the Markdown lessons in education/modules.

Each module is one Markdown file, ``education/modules/<id>.md``, that starts with a YAML front
matter block (between two ``---`` lines) followed by the lesson body in Markdown. The front
matter is read with ``yaml.safe_load`` only and validated strictly; any problem raises
:class:`EducationError` naming the file and the field.

The pathway's education track (a BPMN call activity) assigns modules by STarT Back stratum and
need (:meth:`EducationCatalogue.for_patient`) and turns each one into a patient task: read the
lesson, then answer a short check of understanding (:meth:`EducationCatalogue.check_answers`).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .content import EDUCATION_MODULES
from .instruments.scoring import START_BACK_CONCERNS

# Stratum assignment. Each module declares the strata it is assigned to in its own front matter
# (`strata`), so clinics can change the assignment without touching code; the shipped set is:
#
#   low    -> understanding-back-pain, staying-active, flare-up-plan
#             (reassurance, stay active / avoid bed rest, self-management of flare-ups)
#   medium -> the three above + sleep, pacing-and-graded-activity, back-to-work
#             (supports the graded exercise programme with physiotherapist follow-up and
#             return-to-work support, NICE NG59)
#   high   -> all eight: the six above + fear-and-movement, stress-and-worry
#             (psychologically informed care for fear, worry, stress and low mood, as in the
#             STarT Back trial, Hill, Lancet 2011)
#
# Assignment by need. Education is individualised: it addresses the fear, worry, stress and low
# mood a patient has, not only their stratum (domain.md section 1 item 4; section 2.7). A module
# may name STarT Back concerns in its front matter (`also_for`, optional); a patient whose item
# for one of them is positive gets the module whatever their stratum. The shipped set:
#
#   fear (SB5) or worry (SB6) -> fear-and-movement, stress-and-worry
#
# Within a plan, modules are served in ascending `order` (ties broken by id).

STRATA: tuple[str, ...] = ("low", "medium", "high")
CONCERNS: tuple[str, ...] = tuple(START_BACK_CONCERNS)
"""What `also_for` may name: the STarT Back items that show a need on their own."""
AUDIENCES: tuple[str, ...] = ("patient",)
MIN_CHECK_QUESTIONS = 2
MAX_CHECK_QUESTIONS = 3
ENV_VAR = "CAREPATH_EDUCATION_DIR"
DEFAULT_DIRECTORY = EDUCATION_MODULES

_MODULE_FIELDS: tuple[str, ...] = (
    "id",
    "title",
    "audience",
    "strata",
    "order",
    "reading_minutes",
    "summary",
    "check_questions",
)
_OPTIONAL_FIELDS: tuple[str, ...] = ("also_for",)
_QUESTION_FIELDS: tuple[str, ...] = ("question", "options", "answer", "explanation")
_ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_FENCE = "---"


class EducationError(ValueError):
    """An education module is malformed, missing, or used incorrectly."""


@dataclass(frozen=True)
class CheckQuestion:
    """One multiple-choice question in a module's check of understanding."""

    question: str
    options: tuple[str, ...]
    answer: int
    explanation: str


@dataclass(frozen=True)
class EducationModule:
    """A validated patient education module (front matter plus Markdown body)."""

    id: str
    title: str
    audience: str
    strata: tuple[str, ...]
    order: int
    reading_minutes: int
    summary: str
    check_questions: tuple[CheckQuestion, ...]
    body_markdown: str
    also_for: tuple[str, ...] = ()
    """STarT Back concerns (CONCERNS) that bring the module to any stratum."""


@dataclass(frozen=True)
class CheckResult:
    """Outcome of a patient's answers to a module's check questions."""

    correct: int
    total: int
    passed: bool
    feedback: list[str]


# --------------------------------------------------------------------------- loading


def _field_error(path: Path, field: str, message: str) -> EducationError:
    return EducationError(f"{path}: field '{field}': {message}")


def _type_name(value: object) -> str:
    return type(value).__name__


def _split_front_matter(path: Path, text: str) -> tuple[str, str]:
    """Return (front matter YAML, Markdown body) of a module file."""
    lines = text.removeprefix("\ufeff").splitlines()
    if not lines or lines[0].rstrip() != _FENCE:
        raise EducationError(f"{path}: must start with a '---' line opening the YAML front matter")
    for index in range(1, len(lines)):
        if lines[index].rstrip() == _FENCE:
            front = "\n".join(lines[1:index])
            body = "\n".join(lines[index + 1 :]).strip()
            return front, body
    raise EducationError(f"{path}: YAML front matter is not closed by a '---' line")


def _parse_yaml(path: Path, front: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(front)
    except yaml.YAMLError as exc:
        raise EducationError(
            f"{path}: front matter is not valid safe YAML (plain YAML only, no tags such as "
            f"!!python/object): {exc}"
        ) from exc
    if not isinstance(data, dict):
        raise EducationError(
            f"{path}: front matter must be a YAML mapping of fields, got {_type_name(data)}"
        )
    bad_keys = [key for key in data if not isinstance(key, str)]
    if bad_keys:
        raise EducationError(f"{path}: front matter field names must be strings: {bad_keys!r}")
    return data


def _check_fields(path: Path, data: Mapping[str, Any], required: Sequence[str], where: str,
                  optional: Sequence[str] = ()) -> None:
    missing = [name for name in required if name not in data]
    if missing:
        names = ", ".join(f"'{name}'" for name in missing)
        raise EducationError(f"{path}: {where}missing required field(s) {names}")
    allowed = [*required, *optional]
    unknown = [name for name in data if name not in allowed]
    if unknown:
        names = ", ".join(f"'{name}'" for name in unknown)
        raise EducationError(
            f"{path}: {where}unknown field(s) {names} (allowed: {', '.join(allowed)})"
        )


def _text(path: Path, field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _field_error(path, field, f"must be a non-empty string, got {_type_name(value)}")
    return value.strip()


def _integer(path: Path, field: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _field_error(path, field, f"must be an integer, got {_type_name(value)}")
    if value < minimum:
        raise _field_error(path, field, f"must be >= {minimum}, got {value}")
    return value


def _choices(path: Path, field: str, value: object, allowed: Sequence[str], noun: str,
             *, required: bool) -> tuple[str, ...]:
    """A list drawn from `allowed`, each at most once; returned in `allowed`'s order."""
    if not isinstance(value, list) or (required and not value):
        kind = "a non-empty list" if required else "a list"
        raise _field_error(path, field, f"must be {kind} drawn from {list(allowed)}, got {value!r}")
    for item in value:
        if not isinstance(item, str) or item not in allowed:
            raise _field_error(
                path, field, f"unknown {noun} {item!r} (allowed: {', '.join(allowed)})"
            )
    if len(set(value)) != len(value):
        raise _field_error(path, field, f"lists a {noun} more than once: {value!r}")
    return tuple(choice for choice in allowed if choice in value)


def _question(path: Path, index: int, raw: object) -> CheckQuestion:
    where = f"check_questions[{index}]"
    if not isinstance(raw, dict):
        raise _field_error(path, where, f"must be a mapping, got {_type_name(raw)}")
    _check_fields(path, raw, _QUESTION_FIELDS, f"field '{where}': ")
    question = _text(path, f"{where}.question", raw["question"])
    raw_options = raw["options"]
    if not isinstance(raw_options, list) or len(raw_options) < 2:
        raise _field_error(
            path, f"{where}.options", f"must be a list of at least 2 options, got {raw_options!r}"
        )
    options = tuple(
        _text(path, f"{where}.options[{number}]", option)
        for number, option in enumerate(raw_options)
    )
    if len(set(options)) != len(options):
        raise _field_error(path, f"{where}.options", "options must all be different")
    answer = _integer(path, f"{where}.answer", raw["answer"], minimum=0)
    if answer >= len(options):
        raise _field_error(
            path,
            f"{where}.answer",
            f"index {answer} is out of range for {len(options)} options (0-{len(options) - 1})",
        )
    explanation = _text(path, f"{where}.explanation", raw["explanation"])
    return CheckQuestion(question, options, answer, explanation)


def _questions(path: Path, value: object) -> tuple[CheckQuestion, ...]:
    if not isinstance(value, list):
        raise _field_error(path, "check_questions", f"must be a list, got {_type_name(value)}")
    if not MIN_CHECK_QUESTIONS <= len(value) <= MAX_CHECK_QUESTIONS:
        raise _field_error(
            path,
            "check_questions",
            f"must have {MIN_CHECK_QUESTIONS}-{MAX_CHECK_QUESTIONS} questions, got {len(value)}",
        )
    return tuple(_question(path, index, raw) for index, raw in enumerate(value))


def load_module(path: Path) -> EducationModule:
    """Read and strictly validate one module file; raise EducationError on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise EducationError(f"{path}: file is not valid UTF-8: {exc}") from exc
    except OSError as exc:
        raise EducationError(f"{path}: cannot read education module: {exc}") from exc

    front, body = _split_front_matter(path, text)
    data = _parse_yaml(path, front)
    _check_fields(path, data, _MODULE_FIELDS, "", optional=_OPTIONAL_FIELDS)

    module_id = _text(path, "id", data["id"])
    if not _ID_PATTERN.fullmatch(module_id):
        raise _field_error(path, "id", f"{module_id!r} must be lower-case words joined by hyphens")
    if module_id != path.stem:
        raise _field_error(path, "id", f"{module_id!r} does not match the file name '{path.stem}'")
    audience = _text(path, "audience", data["audience"])
    if audience not in AUDIENCES:
        raise _field_error(
            path, "audience", f"unknown audience {audience!r} (allowed: {', '.join(AUDIENCES)})"
        )
    if not body:
        raise EducationError(f"{path}: module has no Markdown body after the front matter")

    return EducationModule(
        id=module_id,
        title=_text(path, "title", data["title"]),
        audience=audience,
        # canonical order low, medium, high
        strata=_choices(path, "strata", data["strata"], STRATA, "stratum", required=True),
        order=_integer(path, "order", data["order"], minimum=1),
        reading_minutes=_integer(path, "reading_minutes", data["reading_minutes"], minimum=1),
        summary=_text(path, "summary", data["summary"]),
        check_questions=_questions(path, data["check_questions"]),
        body_markdown=body,
        also_for=_choices(path, "also_for", data.get("also_for", []), CONCERNS, "concern",
                          required=False),
    )


# --------------------------------------------------------------------------- catalogue


def _sort_key(module: EducationModule) -> tuple[int, str]:
    return (module.order, module.id)


class EducationCatalogue:
    """All education modules of one directory, looked up by id or by stratum."""

    def __init__(self, modules: Iterable[EducationModule], directory: Path | None = None) -> None:
        self.directory = directory
        self._modules: dict[str, EducationModule] = {}
        for module in modules:
            if module.id in self._modules:
                raise EducationError(f"duplicate education module id '{module.id}'")
            self._modules[module.id] = module

    @classmethod
    def load(cls, directory: Path | None = None) -> EducationCatalogue:
        """Load every ``*.md`` module in `directory`.

        Without a directory, use $CAREPATH_EDUCATION_DIR if set, else the shipped
        ``education/modules`` (`pathways.content`).
        """
        if directory is None:
            override = os.environ.get(ENV_VAR, "").strip()
            directory = Path(override) if override else DEFAULT_DIRECTORY
        directory = Path(directory)
        if not directory.is_dir():
            raise EducationError(f"education module directory not found: {directory}")
        paths = sorted(directory.glob("*.md"))
        if not paths:
            raise EducationError(f"no education modules (*.md) found in {directory}")
        return cls((load_module(path) for path in paths), directory=directory)

    def get(self, module_id: str) -> EducationModule:
        """Return the module with this id; raise EducationError if there is none."""
        try:
            return self._modules[module_id]
        except KeyError:
            raise EducationError(f"unknown education module '{module_id}'") from None

    def __contains__(self, module_id: object) -> bool:
        return module_id in self._modules

    def __iter__(self) -> Iterator[EducationModule]:
        return iter(sorted(self._modules.values(), key=_sort_key))

    def __len__(self) -> int:
        return len(self._modules)

    def ids(self) -> list[str]:
        """All module ids, in track order."""
        return [module.id for module in self]

    def for_stratum(self, stratum: str) -> list[EducationModule]:
        """Modules assigned to a STarT Back stratum, sorted by `order`."""
        if stratum not in STRATA:
            raise EducationError(
                f"unknown stratum '{stratum}' (expected one of: {', '.join(STRATA)})"
            )
        return [module for module in self if stratum in module.strata]

    def for_patient(self, stratum: str, concerns: Iterable[str] = ()) -> list[EducationModule]:
        """Modules for a patient, sorted by `order`: those of their stratum, and those whose
        `also_for` names one of their positive STarT Back concerns (CONCERNS)."""
        positive = set(concerns)
        unknown = sorted(positive - set(CONCERNS))
        if unknown:
            raise EducationError(
                f"unknown concern(s) {', '.join(unknown)} (expected: {', '.join(CONCERNS)})"
            )
        by_stratum = {module.id for module in self.for_stratum(stratum)}
        return [module for module in self
                if module.id in by_stratum or positive.intersection(module.also_for)]

    def check_answers(self, module_id: str, answers: Sequence[int]) -> CheckResult:
        """Mark a patient's answers (option indexes, one per question, in order)."""
        module = self.get(module_id)
        questions = module.check_questions
        if isinstance(answers, (str, bytes)) or len(answers) != len(questions):
            raise EducationError(
                f"module '{module_id}' has {len(questions)} check questions; "
                f"expected {len(questions)} answers, got {answers!r}"
            )
        correct = 0
        feedback: list[str] = []
        for number, (question, given) in enumerate(zip(questions, answers, strict=True), 1):
            if isinstance(given, bool) or not isinstance(given, int):
                raise EducationError(
                    f"module '{module_id}' question {number}: answer must be an option index "
                    f"(integer), got {given!r}"
                )
            if not 0 <= given < len(question.options):
                raise EducationError(
                    f"module '{module_id}' question {number}: answer {given} is out of range "
                    f"(0-{len(question.options) - 1})"
                )
            if given == question.answer:
                correct += 1
                feedback.append(f"Question {number}: correct. {question.explanation}")
            else:
                right = question.options[question.answer]
                feedback.append(
                    f'Question {number}: not quite. The answer is "{right}". {question.explanation}'
                )
        total = len(questions)
        return CheckResult(correct=correct, total=total, passed=correct == total, feedback=feedback)


@functools.lru_cache(maxsize=1)
def default_catalogue() -> EducationCatalogue:
    """The catalogue from the default directory, loaded once per process.

    Call ``default_catalogue.cache_clear()`` after changing $CAREPATH_EDUCATION_DIR.
    """
    return EducationCatalogue.load()
