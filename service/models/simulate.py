"""`carepath simulate`: walk the model's cases with a simulated clock and print each step."""

from __future__ import annotations

from pathlib import Path

from pathways.cases import load_cases, run_case
from pathways.models import ModelError, load_bundle_dir


def run_simulation(bundle: Path, verbose: bool = True) -> int:
    try:
        model = load_bundle_dir(bundle)
    except ModelError as err:
        for problem in err.problems:
            print(problem)
        return 1
    cases = load_cases(bundle)
    if not cases:
        print(f"{bundle}: no cases.yaml to simulate")
        return 1
    failed = 0
    for case in cases:
        print(f"\n== {case['name']}")
        for step in run_case(model, case):
            if verbose:
                print(f"  [{step.at[:16]}] {step.number:>2}. {step.action}")
                for event in step.events:
                    if event.name != "task_completed":
                        print(f"        event {event.name} {_brief(event.data)}")
                print(f"        ready: {', '.join(step.ready) or '-'}")
                if step.waiting:
                    print(f"        waiting: {', '.join(step.waiting)}")
            for message in step.problems:
                print(f"  !! step {step.number}: {message}")
                failed += 1
    print(f"\n{len(cases)} cases simulated, {failed} problem(s)")
    return 1 if failed else 0


def _brief(data: dict[str, object]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in data.items())
    return text if len(text) <= 110 else text[:107] + "..."
