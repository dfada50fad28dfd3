"""What-if simulation benchmark: N synthetic patients through 12 weeks of the reference
pathway, in memory, on every core (pathways.simulate.run_cohort).

Run from the repo root:

    python -m bench.simulate [--patients N] [--workers W]

The patients are drawn (seeded) from the answers of `bpmn/betterback/cases.yaml`. Prints one
Markdown table (measure | value | note) and a last line against the goal: 10,000 patients in
at most 5 minutes on a 2-core machine. A run of fewer patients states the 10,000-patient time
it extrapolates from its own rate.
"""

from __future__ import annotations

import argparse
import os
import time

from bench.stats import table
from pathways.content import REFERENCE_BUNDLE
from pathways.models import read_bundle_dir
from pathways.simulate import SimulationSettings, run_cohort, scripts_from_cases, synthetic_cohort

GOAL_PATIENTS = 10_000
GOAL_SECONDS = 300.0
WEEKS = 12


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.simulate")
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    files = read_bundle_dir(REFERENCE_BUNDLE)
    cohort = synthetic_cohort(scripts_from_cases(REFERENCE_BUNDLE), args.patients)
    started = time.perf_counter()
    forecast = run_cohort({"reference": files}, cohort, SimulationSettings(weeks=WEEKS),
                          workers=args.workers)["reference"]
    seconds = time.perf_counter() - started
    rate = args.patients / seconds
    cpu_each = forecast.cpu_seconds / args.patients
    cores = os.cpu_count() or 1
    projected = GOAL_PATIENTS / rate
    on_idle_cores = GOAL_PATIENTS * cpu_each / min(cores, max(1, args.workers))
    tasks = sum(sum(weeks) for weeks in forecast.by_role.values())
    print(table([
        ("patients simulated", f"{forecast.patients:,}",
         f"{WEEKS} weeks each, synthetic (seeded) from cases.yaml; strata {forecast.strata}"),
        ("workers", str(args.workers), f"processes (spawned; {os.cpu_count()} cores)"),
        ("wall time", f"{seconds:.1f} s", "worker start-up (spawn, model load) included"),
        ("rate", f"{rate:,.1f} patients/s", f"{seconds / args.patients * 1000:.1f} ms a patient "
         "of wall time"),
        ("CPU a patient", f"{cpu_each * 1000:.1f} ms",
         "process time in the workers (what other load on the machine does not inflate)"),
        ("tasks made", f"{tasks:,}", f"{tasks / max(1, forecast.patients):.1f} a patient; "
         f"problems: {forecast.problems or 'none'}"),
        (f"{GOAL_PATIENTS:,} patients", f"{projected:.0f} s",
         "measured" if args.patients >= GOAL_PATIENTS else "extrapolated at this rate"),
        (f"{GOAL_PATIENTS:,} patients on idle cores", f"{on_idle_cores:.0f} s",
         f"CPU a patient x {GOAL_PATIENTS:,} / {min(cores, args.workers)} workers "
         "(start-up left out)"),
    ]))
    verdict = "PASS" if projected <= GOAL_SECONDS else "FAIL"
    print(f"\n{GOAL_PATIENTS:,} patients in at most {GOAL_SECONDS:.0f} s: {verdict} "
          f"({projected:.0f} s)")


if __name__ == "__main__":
    main()
