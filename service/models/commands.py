"""`carepath model ...`: the managers' work from the command line, for operators and scripts,
under the same rules as the pages (a deploy validates; a migration plans each episode and
refuses what cannot move). Each prints a plain table and returns non-zero on a refusal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy.engine import Engine

from pathways.clock import Clock
from pathways.models import ModelError, read_bundle_dir
from service.core.context import Context
from service.core.db import transaction
from service.core.errors import ServiceError
from service.core.tables import User
from service.models import library, registry, versions, whatif

T = TypeVar("T")
OPERATOR = "the host's operator (command line)"
WHATIF_MAX_WEEKS = 52


def operator() -> User:
    """Who the command line acts as: the host's operator, with a manager's rights (never
    stored; versions it deploys record no user)."""
    return User(id=None, username="operator", role="manager", full_name=OPERATOR,
                password_hash="", active=True)


class Commands:
    """The model commands over one database; `out` and `err` are where lines go."""

    def __init__(self, db: Engine, clock: Clock) -> None:
        self.db, self.clock = db, clock
        self.engines = registry.EngineRegistry(clock)

    @contextmanager
    def _context(self, write: bool) -> Iterator[Context]:
        with transaction(self.db, write=write) as session:
            yield Context(session, self.clock, self.engines, user=operator(), db=self.db)

    def _run(self, write: bool, fn: Callable[[Context], T]) -> T:
        with self._context(write) as ctx:
            return fn(ctx)

    def list(self) -> int:
        page = self._run(False, library.model_library)
        rows = [("version", "active", "name", "deployed", "by", "episodes", "digest")]
        rows += [(str(v.id), "yes" if v.active else "", v.name, _when(v.deployed_at),
                  v.deployed_by, str(v.active_episodes), v.digest) for v in page.versions]
        _table(rows)
        return 0

    def deploy(self, directory: Path) -> int:
        if not directory.is_dir():
            return _refuse(f"{directory} is not a directory (a model bundle is a directory "
                           f"with pathway.toml, .bpmn, .dmn and forms/*.json)")
        files = read_bundle_dir(directory)
        try:
            version = self._run(True, lambda ctx: registry.deploy(ctx.session, files, None,
                                                                   ctx.now))
        except ModelError as err:
            for problem in err.problems:
                print(f"{directory}/{problem}", file=sys.stderr)
            return _refuse(f"{len(err.problems)} problem(s); nothing was deployed")
        except ServiceError as err:
            return _refuse(str(err))
        print(f"deployed {directory} as version {version.id} ({version.digest[:12]}); new "
              f"episodes start on it")
        return 0

    def diff(self, old: int, new: int) -> int:
        try:
            found = self._run(False, lambda ctx: versions.version_diff(ctx, old, new))
        except ServiceError as err:
            return _refuse(str(err))
        if not found.changes:
            print(f"versions {old} and {new} run the same pathway: no changes")
            return 0
        rows = [("change", "what", "file", "element", "in words")]
        rows += [(c.kind, c.what, c.file, c.element or "", c.words) for c in found.changes]
        _table(rows)
        return 0

    def migrate(self, to_version: int, episodes: Sequence[int], step: str | None,
                stratum: str | None, dry_run: bool) -> int:
        """Plan every episode first; then (unless a dry run) move each one that can, in a
        transaction of its own."""
        try:
            plan = self._run(False, lambda ctx: versions.migrate(
                ctx, to_version, episodes, step, stratum, dry_run=True))
            moves = list(plan.moves)
            if not dry_run:
                for index, move in enumerate(moves):
                    if move.ok:
                        moves[index] = self._move_one(to_version, move.episode_id)
        except ServiceError as err:
            return _refuse(str(err))
        rows = [("episode", "outcome", "now at", "will be at", "timers restarting")]
        for move in moves:
            outcome = ("moved" if move.migrated else "can move" if move.ok
                       else f"refused: {move.reason}")
            timers = "; ".join(f"{t.name} due {_when(t.due_after)}" for t in move.timers
                               if t.restarted) or "-"
            rows.append((str(move.episode_id), outcome, ", ".join(move.now_at) or "-",
                         ", ".join(move.will_be_at) or "-", timers))
        if not moves:
            print("no running episode matches")
            return 0
        _table(rows)
        refused = sum(1 for move in moves if not move.ok)
        moved = sum(1 for move in moves if move.migrated)
        summary = (f"dry run: {len(moves) - refused} can move, {refused} refused; nothing "
                   f"changed" if dry_run else f"moved {moved}, refused {refused}")
        print(summary)
        return 1 if refused else 0


    def whatif(self, directory: Path, cohort: whatif.Cohort, patients: int, weeks: int,
               limit: int) -> int:
        """The bundle in `directory` next to the active version, over a simulated cohort;
        prints the comparison (the what-if page's table). Nothing is written."""
        if not directory.is_dir():
            return _refuse(f"{directory} is not a directory (a model bundle is a directory "
                           f"with pathway.toml, .bpmn, .dmn and forms/*.json)")
        if weeks > WHATIF_MAX_WEEKS:
            return _refuse(f"--weeks must be at most {WHATIF_MAX_WEEKS}")
        files = read_bundle_dir(directory)
        try:
            plan = self._run(False, lambda ctx: whatif.plan_for_files(
                ctx, str(directory), files, cohort, patients, weeks, limit))
        except ServiceError as err:
            return _refuse(str(err))
        result = whatif.compare(plan)
        print(f"{result.candidate} next to {result.deployed}: {result.source}, {weeks} "
              f"weeks from each referral")
        rows = [("group", "measure", "deployed", "candidate", "change")]
        rows += [(r.group, r.measure, whatif.cell(r.deployed), whatif.cell(r.candidate),
                  whatif.cell(r.change, signed=True)) for r in result.rows]
        _table(rows)
        for model, problems in result.problems.items():
            for why, count in problems.items():
                print(f"{model}: {count} patient(s) stopped early: {why}")
        return 0

    def _move_one(self, to_version: int, episode_id: int) -> versions.EpisodeMove:
        def work(ctx: Context) -> versions.EpisodeMove:
            return versions.migrate(ctx, to_version, [episode_id], dry_run=False).moves[0]

        return self._run(True, work)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _refuse(message: str) -> int:
    print(f"carepath: {message}", file=sys.stderr)
    return 1


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())
