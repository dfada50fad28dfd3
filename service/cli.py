"""The `carepath` command line: validate models, simulate the reference pathway."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pathways.models import validate_paths

from .simulate import run_simulation

REFERENCE_BUNDLE = Path(__file__).resolve().parent.parent / "bpmn" / "betterback"


def _validate(args: argparse.Namespace) -> int:
    problems = validate_paths([Path(p) for p in args.paths])
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    print(f"ok: {', '.join(args.paths)}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    return run_simulation(Path(args.bundle), verbose=not args.quiet)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carepath", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser(
        "validate", help="check BPMN/DMN models: a bundle directory, a file in one, or loose files")
    validate.add_argument("paths", nargs="+", metavar="PATH")
    validate.set_defaults(run=_validate)

    simulate = commands.add_parser(
        "simulate", help="walk one patient of each stratum and each red-flag route through "
                         "the pathway with a simulated clock, printing each step")
    simulate.add_argument("--bundle", default=str(REFERENCE_BUNDLE),
                          help="model bundle directory (default: the reference pathway)")
    simulate.add_argument("--quiet", action="store_true", help="print only the summary")
    simulate.set_defaults(run=_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
