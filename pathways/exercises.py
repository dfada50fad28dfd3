"""Graded exercise library: load and validate education/exercises/*.toml, build programmes.

A programme is plain JSON-able workflow data: ``[{"exercise": "walking", "level": 1,
"step": 0}, ...]``. Doses are starting suggestions that the physiotherapist adjusts.

Each exercise progresses on its own along a ladder of rungs (domain.md 2.8: about 10-20 % more
load or time a week, never a doubling). A rung is a level of the library at its own dose, or
that level's dose raised ``step`` times by the clinic's step percent (``pathway.toml``
``progression_step_percent``), rounded down but at least one more minute or repetition. The
ladder climbs within a level until one more step would reach the next level's volume, then
moves to the next level; a next level that is a harder form at the same or a lower volume is
the next rung at once. The top rung is the top level at its own dose.

Each exercise may have a picture, by default ``illustrations/<id>.svg`` beside the exercise
files (our line drawings of how level 1 starts). A clinic gives its own video links and
pictures in an overrides file named by $CAREPATH_EXERCISE_OVERRIDES (``ExerciseLibrary.load``).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NoReturn, TypeGuard

from .content import EXERCISES
from .images import UnsafeImageError, check_image

ENV_DIR = "CAREPATH_EXERCISE_DIR"
ENV_OVERRIDES = "CAREPATH_EXERCISE_OVERRIDES"
ILLUSTRATIONS = "illustrations"
"""The folder, beside the exercise files, that holds their pictures."""
DEFAULT_DIR = EXERCISES
CATEGORIES = ("aerobic", "mobility", "strength", "control", "flexibility", "function", "balance")
STRATA = ("low", "medium", "high")
DECISIONS = {"progress": 1, "hold": 0, "regress": -1}
"""Rungs a weekly decision moves an exercise along its ladder."""
DEFAULT_STEP_PERCENT = 15
"""The middle of domain.md 2.8's "about 10-20 %"; a model passes pathway.toml's own."""
MIN_LEVELS, MAX_LEVELS = 3, 4

Programme = list[dict[str, object]]

_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_HTTPS_RE = re.compile(r"^https://[^\s/?#]+(?:[/?#]\S*)?$")
_TOP_KEYS = {"id", "title", "category", "summary", "video_url", "illustration",
             "illustration_alt", "levels"}
_OVERRIDE_KEYS = {"video_url", "illustration", "illustration_alt"}
_FILE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_LEVEL_KEYS = {"level", "name", "dose", "instructions", "what_to_feel", "stop_if"}
_DOSE_KEYS = ("sets", "reps", "minutes", "sessions_per_week")
_BASE = ("walking", "trunk-mobility", "core-control")
_MEDIUM_EXTRA = ("hip-gluteal-strength", "back-extension")


class ExerciseError(ValueError):
    """Invalid exercise content, clinic override, programme, stratum, finding or decision."""


def _fail(where: str, field: str, problem: str) -> NoReturn:
    raise ExerciseError(f"{where}: {field}: {problem}")


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Dose:
    """Either sets x reps or minutes, optionally with sessions per week."""

    sets: int | None = None
    reps: int | None = None
    minutes: int | None = None
    sessions_per_week: int | None = None

    def describe(self) -> str:
        """Short text: "2 x 10", "10 min", or with sessions "10 min, 5 times a week"."""
        text = f"{self.minutes} min" if self.minutes is not None else f"{self.sets} x {self.reps}"
        if self.sessions_per_week is not None:
            text += f", {self.sessions_per_week} times a week"
        return text

    @property
    def volume(self) -> int:
        """Minutes, or repetitions over all sets: what a step raises."""
        return self.minutes if self.minutes is not None else (self.sets or 0) * (self.reps or 0)

    def raised(self, percent: int) -> Dose:
        """One step up: minutes (or repetitions per set) up by ``percent``, rounded down, and
        at least one more."""
        if self.minutes is not None:
            return dataclasses.replace(self, minutes=_raise(self.minutes, percent))
        return dataclasses.replace(self, reps=_raise(self.reps or 0, percent))


def _raise(amount: int, percent: int) -> int:
    return max(amount + 1, amount * (100 + percent) // 100)


@dataclass(frozen=True)
class Rung:
    """One place on an exercise's ladder: a level, and steps raised within it."""

    level: int
    step: int
    dose: Dose


@dataclass(frozen=True)
class Level:
    level: int
    name: str
    dose: Dose
    instructions: str
    what_to_feel: str
    stop_if: str


@dataclass(frozen=True)
class Illustration:
    """A checked picture file (see pathways.images) and the text that stands for it."""

    path: Path
    media_type: str
    alt: str


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    category: str
    summary: str
    video_url: str
    levels: tuple[Level, ...]
    illustration: Illustration | None = None

    @property
    def max_level(self) -> int:
        return len(self.levels)

    def level(self, n: int) -> Level:
        if not _is_int(n) or not 1 <= n <= self.max_level:
            _fail(f"exercise {self.id!r}", "level", f"must be 1..{self.max_level}, got {n!r}")
        return self.levels[n - 1]

    def ladder(self, step_percent: int = DEFAULT_STEP_PERCENT) -> tuple[Rung, ...]:
        """Every rung from level 1 at its own dose to the top level, in order."""
        return _ladder(self, step_percent)


def _check_url(url: object, where: str, field: str) -> str:
    if not isinstance(url, str) or (url != "" and not _HTTPS_RE.match(url)):
        _fail(where, field, f"must be empty or an https:// link, got {url!r}")
    return url


def _text(table: Mapping[str, object], key: str, where: str, prefix: str = "") -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        _fail(where, prefix + key, "missing" if value is None else "must be a non-empty string")
    return value.strip()


def _table(raw: object, allowed: Iterable[str], where: str, field: str) -> dict[str, object]:
    if not isinstance(raw, dict):
        _fail(where, field, "missing or not a table")
    extra = sorted(set(raw) - set(allowed))
    if extra:
        _fail(where, (field + "." if field else "") + extra[0],
              f"unknown field (allowed: {', '.join(sorted(allowed))})")
    return raw


def _parse_dose(raw: object, where: str, field: str) -> Dose:
    table = _table(raw, _DOSE_KEYS, where, field)
    for key in _DOSE_KEYS:
        value = table.get(key)
        if value is not None and (not _is_int(value) or value < 1):
            _fail(where, f"{field}.{key}", f"must be a whole number of at least 1, got {value!r}")
    dose = Dose(*(v if _is_int(v := table.get(k)) else None for k in _DOSE_KEYS))
    has_sets = dose.sets is not None and dose.reps is not None
    if (dose.sets is None) != (dose.reps is None) or has_sets == (dose.minutes is not None):
        _fail(where, field, "needs either sets and reps, or minutes (not both)")
    return dose


def _parse_exercise(path: Path) -> Exercise:
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ExerciseError(f"{where}: cannot read: {exc}") from exc
    data = _table(raw, _TOP_KEYS, where, "")
    ex_id = _text(data, "id", where)
    if not _ID_RE.match(ex_id) or ex_id != path.stem:
        _fail(where, "id", f"must be a lower-case slug equal to the file name, got {ex_id!r}")
    category = _text(data, "category", where)
    if category not in CATEGORIES:
        _fail(where, "category", f"must be one of {', '.join(CATEGORIES)}, got {category!r}")
    raw_levels = data.get("levels")
    if not isinstance(raw_levels, list) or not MIN_LEVELS <= len(raw_levels) <= MAX_LEVELS:
        _fail(where, "levels", f"needs {MIN_LEVELS}-{MAX_LEVELS} [[levels]] tables")
    levels: list[Level] = []
    for i, item in enumerate(raw_levels, start=1):
        prefix = f"levels[{i}]."
        lv = _table(item, _LEVEL_KEYS, where, prefix[:-1])
        if not _is_int(lv.get("level")) or lv.get("level") != i:
            _fail(where, prefix + "level",
                  f"levels must be numbered 1..n in order: expected {i}, got {lv.get('level')!r}")
        name = _text(lv, "name", where, prefix)
        dose = _parse_dose(lv.get("dose"), where, prefix + "dose")
        texts = (_text(lv, k, where, prefix) for k in ("instructions", "what_to_feel", "stop_if"))
        levels.append(Level(i, name, dose, *texts))
    title, summary = _text(data, "title", where), _text(data, "summary", where)
    video_url = _check_url(data.get("video_url", ""), where, "video_url")
    picture = _own_illustration(data, path.parent, ex_id, _default_alt(title, levels[0]), where)
    return Exercise(ex_id, title, category, summary, video_url, tuple(levels), picture)


def _default_alt(title: str, first: Level) -> str:
    """Alt text when none is given: the title and level 1's name, which is what our drawings
    show (how the exercise starts)."""
    return f"{title}: {first.name}"


def _own_illustration(data: Mapping[str, object], directory: Path, ex_id: str,
                      default_alt: str, where: str) -> Illustration | None:
    """The exercise file's `illustration`: a file in the illustrations folder beside the
    exercise files; without one, illustrations/<id>.svg if that exists."""
    raw = data.get("illustration")
    if raw is None:
        if not (directory / ILLUSTRATIONS / f"{ex_id}.svg").exists():
            if "illustration_alt" in data:
                _fail(where, "illustration_alt", "given without an illustration")
            return None
        raw = f"{ILLUSTRATIONS}/{ex_id}.svg"
    folder, _, name = raw.partition("/") if isinstance(raw, str) else ("", "", "")
    if folder != ILLUSTRATIONS or not _FILE_NAME_RE.match(name):
        _fail(where, "illustration", f"must be a file name in the {ILLUSTRATIONS}/ folder "
              f"beside the exercise files, such as '{ILLUSTRATIONS}/{ex_id}.svg', got {raw!r}")
    folder_path = directory / ILLUSTRATIONS
    file = (folder_path / name).resolve()
    if file.parent != folder_path.resolve():  # a symbolic link that leads elsewhere
        _fail(where, "illustration", f"{raw!r} leads outside the {ILLUSTRATIONS}/ folder")
    alt = _text(data, "illustration_alt", where) if "illustration_alt" in data else default_alt
    return _illustration(file, alt, where, "illustration")


def _illustration(file: Path, alt: str, where: str, field: str) -> Illustration:
    try:
        media_type = check_image(file)
    except UnsafeImageError as exc:
        _fail(where, field, str(exc))
    return Illustration(file, media_type, alt)


def _apply_overrides(exercises: dict[str, Exercise], path: Path) -> None:
    """A clinic's video links and pictures, from its overrides file (see ExerciseLibrary.load)."""
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ExerciseError(f"{where}: cannot read: {exc}") from exc
    for ex_id, item in raw.items():
        if ex_id not in exercises:
            _fail(where, ex_id, f"unknown exercise id (known: {', '.join(sorted(exercises))})")
        table, ex = _table(item, _OVERRIDE_KEYS, where, ex_id), exercises[ex_id]
        video_url = _check_url(table.get("video_url", ex.video_url), where, f"{ex_id}.video_url")
        picture = ex.illustration
        value = table.get("illustration")
        if value is not None:
            if not isinstance(value, str):
                _fail(where, f"{ex_id}.illustration", "must be a file path, or \"\" for none")
            # A new picture does not show what our drawing showed: its own alt, or the default.
            default_alt = _default_alt(ex.title, ex.levels[0])
            picture = _illustration(path.parent / value, default_alt, where,
                                    f"{ex_id}.illustration") if value else None
        if "illustration_alt" in table:
            if picture is None:
                _fail(where, f"{ex_id}.illustration_alt", "given without an illustration")
            alt = _text(table, "illustration_alt", where, f"{ex_id}.")
            picture = dataclasses.replace(picture, alt=alt)
        exercises[ex_id] = dataclasses.replace(ex, video_url=video_url, illustration=picture)


@lru_cache(maxsize=256)
def _ladder(exercise: Exercise, step_percent: int) -> tuple[Rung, ...]:
    rungs: list[Rung] = []
    for level, following in zip(exercise.levels, (*exercise.levels[1:], None), strict=True):
        rung = Rung(level.level, 0, level.dose)
        rungs.append(rung)
        while following is not None:
            raised = rung.dose.raised(step_percent)
            if raised.volume >= following.dose.volume:
                break
            rung = Rung(level.level, rung.step + 1, raised)
            rungs.append(rung)
    return tuple(rungs)


def check_step_percent(value: object) -> int:
    """The clinic's step: a whole percent from 1 to 20 (domain.md 2.8: about 10-20 % a week)."""
    if not _is_int(value) or not 1 <= value <= 20:
        _fail("settings", "progression_step_percent",
              f"must be a whole number from 1 to 20, got {value!r}")
    return value


class ExerciseLibrary:
    """Validated, read-only set of exercises keyed by id."""

    def __init__(self, exercises: Iterable[Exercise]) -> None:
        self._by_id = {ex.id: ex for ex in exercises}

    @classmethod
    def load(cls, directory: Path | None = None, overrides: Path | None = None
             ) -> ExerciseLibrary:
        """Load *.toml from ``directory``, else $CAREPATH_EXERCISE_DIR, else the default dir.

        ``overrides``: a clinic's TOML file with a table per exercise id, each with any of
        ``video_url`` (an https:// link, "" for none), ``illustration`` (a picture file, its
        path absolute or relative to the overrides file, "" for none) and
        ``illustration_alt`` (what the picture shows, for people who cannot see it)."""
        if directory is None:
            directory = Path(os.environ.get(ENV_DIR) or DEFAULT_DIR)
        if not directory.is_dir():
            raise ExerciseError(f"{directory}: exercise directory not found")
        files = sorted(directory.glob("*.toml"))
        if not files:
            raise ExerciseError(f"{directory}: no exercise files (*.toml) found")
        exercises = {ex.id: ex for ex in map(_parse_exercise, files)}
        if overrides is not None:
            _apply_overrides(exercises, overrides)
        return cls(exercises.values())

    def get(self, exercise_id: str) -> Exercise:
        if not isinstance(exercise_id, str) or exercise_id not in self._by_id:
            raise ExerciseError(f"unknown exercise id {exercise_id!r}")
        return self._by_id[exercise_id]

    def ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_id))

    def __contains__(self, exercise_id: object) -> bool:
        return isinstance(exercise_id, str) and exercise_id in self._by_id


@lru_cache(maxsize=1)
def default_library() -> ExerciseLibrary:
    """The library from the default location with the clinic's overrides file, if
    $CAREPATH_EXERCISE_OVERRIDES names one; read once (``cache_clear()`` to reload)."""
    overrides = os.environ.get(ENV_OVERRIDES)
    return ExerciseLibrary.load(overrides=Path(overrides) if overrides else None)


def _flag(findings: Mapping[str, object], key: str) -> bool:
    value = findings.get(key)
    if value is not None and not isinstance(value, bool):
        _fail("findings", key, f"must be true or false, got {value!r}")
    return value is True


def starting_programme(
    stratum: str, findings: Mapping[str, object] | None = None,
    library: ExerciseLibrary | None = None,
) -> Programme:
    """Starting programme for a STarT Back stratum and first-visit findings.

    low: walking, trunk-mobility, core-control (3, like selfBACK's default). medium: those +
    hip-gluteal-strength, back-extension. high: the medium set always at level 1 (start_level
    ignored) + functional-lifting if fear_of_lifting (graded exposure). Any stratum: leg_pain
    adds hamstring-hip-flexibility, balance_concern adds balance. start_level (1 or 2, default
    1) sets every level for low/medium, clipped to each exercise's maximum. Flags must be
    booleans or absent/None; other findings keys are ignored.
    """
    if stratum not in STRATA:
        raise ExerciseError(f"unknown stratum {stratum!r} (expected one of {', '.join(STRATA)})")
    lib, found = library or default_library(), findings or {}
    start = 1 if found.get("start_level") is None else found.get("start_level")
    if not _is_int(start) or start not in (1, 2):
        _fail("findings", "start_level", f"must be 1 or 2, got {start!r}")
    ids = list(_BASE) + (list(_MEDIUM_EXTRA) if stratum != "low" else [])
    extras = {"leg_pain": "hamstring-hip-flexibility", "balance_concern": "balance"}
    ids += [ex_id for key, ex_id in extras.items() if _flag(found, key)]
    if _flag(found, "fear_of_lifting") and stratum == "high":
        ids.append("functional-lifting")
    start = 1 if stratum == "high" else start
    return [{"exercise": i, "level": min(start, lib.get(i).max_level)} for i in ids]


def _entries(
    programme: Iterable[Mapping[str, object]], lib: ExerciseLibrary
) -> list[tuple[Mapping[str, object], Exercise, int]]:
    """Validate a programme; (entry, exercise, level) per entry."""
    if isinstance(programme, str | bytes | Mapping) or not isinstance(programme, Iterable):
        _fail("programme", "value", "must be a list of {'exercise': id, 'level': n} entries")
    out: list[tuple[Mapping[str, object], Exercise, int]] = []
    for i, entry in enumerate(programme):
        where = f"programme[{i}]"
        if not isinstance(entry, Mapping):
            _fail(where, "entry", "must be a mapping with 'exercise' and 'level'")
        ex_id, level, step = entry.get("exercise"), entry.get("level"), entry.get("step", 0)
        if ex_id not in lib:
            _fail(where, "exercise", f"unknown exercise id {ex_id!r}")
        ex = lib.get(str(ex_id))
        if any(seen.id == ex.id for _, seen, _ in out):
            _fail(where, "exercise", f"{ex.id!r} appears more than once")
        if not _is_int(level) or not 1 <= level <= ex.max_level:
            _fail(where, "level", f"must be 1..{ex.max_level} for {ex.id!r}, got {level!r}")
        if not _is_int(step) or step < 0:
            _fail(where, "step", f"must be a whole number of at least 0, got {step!r}")
        out.append((entry, ex, level))
    return out


def _position(ladder: tuple[Rung, ...], level: int, step: int) -> int:
    """Where an entry stands: its level's highest rung at or below its step."""
    return max(i for i, rung in enumerate(ladder)
               if rung.level == level and rung.step <= step)


WEEK_DECISIONS = {"progress": 1, "hold": 0, "hold_signal": 0, "hold_alert": 0,
                  "regress_alert": -1, "regress": -1}
"""What exercise_progression.dmn (or a physiotherapist) decides for one exercise, in rungs.
A hold for a warning sign (too hard, pain over the limit or not settled) is remembered on the
entry as ``signal``: the same sign next week is a repeated one (exercise_progression.dmn)."""
_SIGNALS = ("hold_signal", "hold_alert")


def apply_week_decisions(
    programme: Iterable[Mapping[str, object]], decisions: Iterable[object],
    step_percent: int = DEFAULT_STEP_PERCENT, library: ExerciseLibrary | None = None,
) -> Programme:
    """Each exercise moves by its own decision (one per entry, in order). Other entry keys are
    kept; the input is not mutated."""
    percent = check_step_percent(step_percent)
    entries = _entries(programme, library or default_library())
    chosen = list(decisions) if isinstance(decisions, list | tuple) else None
    if chosen is None or len(chosen) != len(entries):
        _fail("decisions", "value", f"need one decision per exercise ({len(entries)})")
    result: Programme = []
    for (entry, ex, level), decision in zip(entries, chosen, strict=True):
        if not isinstance(decision, str) or decision not in WEEK_DECISIONS:
            raise ExerciseError(f"unknown decision {decision!r} "
                                f"(expected one of {', '.join(WEEK_DECISIONS)})")
        ladder = ex.ladder(percent)
        here = _position(ladder, level, int(str(entry.get("step", 0))))
        rung = ladder[max(0, min(len(ladder) - 1, here + WEEK_DECISIONS[decision]))]
        new = copy.deepcopy(dict(entry))
        new.update(level=rung.level, step=rung.step, signal=decision in _SIGNALS)
        result.append(new)
    return result


def week_inputs(
    programme: Iterable[Mapping[str, object]], check_in: Mapping[str, object],
    sessions_per_week: int, library: ExerciseLibrary | None = None,
) -> list[dict[str, object]]:
    """One row per exercise for exercise_progression.dmn, from the weekly check-in.

    Pain during exercise counts against the exercises the patient named as bringing it on,
    or against all of them when they named none (they cannot always tell)."""
    entries = _entries(programme, library or default_library())
    painful = _ids(check_in.get("painful_exercises"))
    too_hard = _ids(check_in.get("too_hard_exercises"))
    done = check_in.get("sessions_done")
    if not _is_int(done) or done < 0 or not _is_int(sessions_per_week) or sessions_per_week < 1:
        _fail("check-in", "sessions_done", f"must be a whole number of at least 0, got {done!r}")
    pain = check_in.get("pain_during")
    if not _is_int(pain) or not 0 <= pain <= 10:
        _fail("check-in", "pain_during", f"must be a whole number from 0 to 10, got {pain!r}")
    rows: list[dict[str, object]] = []
    for entry, ex, _level in entries:
        involved = not painful or ex.id in painful
        rows.append({
            "exercise": ex.id,
            "pain_during": pain if involved else 0,
            "pain_settled": check_in.get("pain_settled") is not False or not involved,
            "too_hard": ex.id in too_hard,
            "adherence": min(1.0, done / sessions_per_week),
            "repeated": entry.get("signal") is True,
        })
    return rows


def _ids(value: object) -> set[str]:
    if value is None:
        return set()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        _fail("check-in", "exercises", f"must be a list of exercise ids, got {value!r}")
    return set(value)


def describe_programme(
    programme: Iterable[Mapping[str, object]], library: ExerciseLibrary | None = None,
    step_percent: int = DEFAULT_STEP_PERCENT,
) -> list[dict[str, object]]:
    """Display data per entry, for pages and the patient's "today" view."""
    result: list[dict[str, object]] = []
    for entry, ex, n in _entries(programme, library or default_library()):
        lv = ex.level(n)
        dose = _dose_at(ex, n, int(str(entry.get("step", 0))), step_percent)
        result.append({
            "id": ex.id, "title": ex.title, "category": ex.category, "level": n,
            "max_level": ex.max_level, "level_name": lv.name, "dose": dose.describe(),
            "sets": dose.sets if dose.minutes is None else None,
            "instructions": lv.instructions, "what_to_feel": lv.what_to_feel,
            "stop_if": lv.stop_if, "video_url": ex.video_url,
            "illustration": ex.illustration is not None,
            "illustration_alt": ex.illustration.alt if ex.illustration else "",
        })
    return result



def _dose_at(exercise: Exercise, level: int, step: int, step_percent: int) -> Dose:
    """The dose of an entry: its level's own, raised ``step`` times."""
    dose = exercise.level(level).dose
    for _ in range(step):
        dose = dose.raised(step_percent)
    return dose
