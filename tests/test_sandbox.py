"""The sandbox every model expression runs in: a hostile script is refused when it is compiled
or stopped by a bound when it runs, and ordinary clinical scripts keep working.

Each attack must end in a SandboxError subclass (never a crash, a hang or a real side effect),
and the reason must say why in a sentence. "Quickly" is shown by the exception type: a
SandboxLimitExceeded with a size or bits reason is raised before the value is built; a
"loop steps" reason comes from the step meter, long before the time bound.
"""

from __future__ import annotations

import signal
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from pathways.sandbox import (
    Limits,
    Sandbox,
    SandboxError,
    SandboxLimitExceeded,
    ScriptRejectedError,
)
from pathways.script_helpers import HELPERS


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(HELPERS)


def run(sandbox: Sandbox, source: str, mode: str, data: dict[str, Any] | None = None) -> Any:
    """Evaluate an expression or execute a script; returns the value or the new task data."""
    data = {} if data is None else data
    if mode == "eval":
        return sandbox.evaluate(source, data)
    sandbox.execute(source, data)
    return data


# --- refused when compiled: the deploy-time lint (Sandbox.check) rejects these -------------

REFUSED_AT_COMPILE_TIME = [
    # (source, mode, reason)
    ("import os", "exec", "imports are not allowed"),
    ("from subprocess import run", "exec", "imports are not allowed"),
    ("__import__('os')", "eval", '"__import__" is an invalid variable name'),
    ("().__class__.__base__.__subclasses__()", "eval",
     '"__subclasses__" is an invalid attribute name'),
    ("f'{pain_level:>99999999}'", "eval", "format specifications are limited"),
    ("f'{pain_level:{width}}'", "eval", "format specifications are limited"),
    ("(week for week in [1]).gi_frame", "eval", '"gi_frame" is a restricted name'),
    ("frame.f_back", "eval", '"f_back" is a restricted name'),
    ("error.tb_frame", "eval", '"tb_frame" is a restricted name'),
    ("frame.f_globals", "eval", '"f_globals" is a restricted name'),
    ("eval('1')", "eval", "Eval calls are not allowed"),
    ("exec('x = 1')", "eval", "Exec calls are not allowed"),
    ("lambda: 1", "eval", "lambda is not allowed"),
    ("def escape():\n    pass", "exec", "defining functions is not allowed"),
    ("class Escape:\n    pass", "exec", "defining classes is not allowed"),
    # try/except is refused so that no script can catch SandboxLimitExceeded and carry on
    ("try:\n    n = 1\nexcept Exception:\n    pass", "exec", "try/except is not allowed"),
    ("with context:\n    pass", "exec", "with-statements are not allowed"),
    ("raise ValueError('x')", "exec", "raise is not allowed"),
    ("global settings", "exec", "global is not allowed"),
    ("breakpoint()", "eval", '"breakpoint" is a reserved name'),
    ("del answers['pain']", "exec", "del works only on plain names"),
]


@pytest.mark.parametrize(("source", "mode", "reason"), REFUSED_AT_COMPILE_TIME,
                         ids=[c[0].splitlines()[0] for c in REFUSED_AT_COMPILE_TIME])
def test_escape_is_refused_when_compiled(sandbox: Sandbox, source: str, mode: str,
                                         reason: str) -> None:
    with pytest.raises(ScriptRejectedError) as at_deploy:
        sandbox.check(source, mode)
    assert reason in str(at_deploy.value)
    with pytest.raises(ScriptRejectedError) as at_run:
        run(sandbox, source, mode, {"pain_level": 3, "answers": {"pain": 3}})
    assert reason in str(at_run.value)


# --- refused when run: compiles, but the attribute guard stops it -------------------------

REFUSED_AT_RUN_TIME = [
    ("'{0.__class__}'.format(1)", "'str.format' is not available in pathway expressions"),
    ("'x'.ljust(10**9)", "'str.ljust' is not available in pathway expressions"),
    ("'x'.center(10**9)", "'str.center' is not available in pathway expressions"),
    ("(1).bit_length()", "'int.bit_length' is not available in pathway expressions"),
]


@pytest.mark.parametrize(("source", "reason"), REFUSED_AT_RUN_TIME,
                         ids=[c[0] for c in REFUSED_AT_RUN_TIME])
def test_method_outside_the_allow_list_is_refused(sandbox: Sandbox, source: str,
                                                  reason: str) -> None:
    with pytest.raises(ScriptRejectedError) as refused:
        sandbox.evaluate(source, {})
    assert reason in str(refused.value)


# --- names that do not exist in the sandbox: a NameError, reported as a SandboxError -------

UNAVAILABLE_NAMES = [
    ("open('/etc/passwd').read()", "open"),
    ("getattr(pain_level, '__cl' + 'ass__')", "getattr"),
    ("setattr(answers, 'x', 1)", "setattr"),
    ("globals()", "globals"),
    ("vars()", "vars"),
    ("dir()", "dir"),
    ("type(pain_level)", "type"),
    ("compile('1', '<model>', 'eval')", "compile"),
]


@pytest.mark.parametrize(("source", "name"), UNAVAILABLE_NAMES,
                         ids=[c[1] for c in UNAVAILABLE_NAMES])
def test_dangerous_builtin_is_not_there(sandbox: Sandbox, source: str, name: str) -> None:
    with pytest.raises(SandboxError) as failed:
        sandbox.evaluate(source, {"pain_level": 3, "answers": {}})
    assert f"NameError: name '{name}' is not defined" in str(failed.value)


# --- resource attacks: stopped by a bound -------------------------------------------------

STOPPED_BY_A_BOUND = [
    # (source, mode, reason)
    ("'a' * 10**10", "eval", "a value of 10000000000 items is larger than the limit"),
    ("x = 'a' * 10**10", "exec", "a value of 10000000000 items is larger than the limit"),
    ("9 ** 9 ** 9", "eval", "the power would exceed 4096 bits"),
    ("1 << 10**9", "eval", "the shift would exceed 4096 bits"),
    ("x = 2 ** 2000\ny = x * x * x", "exec", "the product would exceed 4096 bits"),
    ("n = 0\nwhile True:\n    n += 1", "exec", "stopped after 100000 loop steps"),
    ("for i in range(10**9):\n    pass", "exec", "larger than the limit"),
    ("n = 0\nfor week in range(1000):\n    for day in range(1000):\n        n += 1", "exec",
     "stopped after 100000 loop steps"),
    ("[n for n in range(1000) for m in range(1000)]", "eval", "stopped after 100000 loop steps"),
    ("s = 'ab'\nwhile True:\n    s = s + s", "exec", "larger than the limit"),
    ("s = 'ab'\nfor i in range(100):\n    s += s", "exec", "larger than the limit"),
    ("weeks = [1]\nwhile True:\n    weeks.extend(weeks)", "exec", "larger than the limit"),
    ("[[0] * 100000] * 100000", "eval", "larger than the limit"),
    ("row = [0] * 1000\ngrid = [row for i in range(1000)]\ntext = str(grid)", "exec",
     "larger than the limit"),
    ("f'{diary}'", "eval", "a value of 100001 items is larger than the limit"),
    ("notes = []\nfor week in range(100000):\n    notes.append('x' * 50)", "exec",
     "items in total"),
]


@pytest.mark.parametrize(("source", "mode", "reason"), STOPPED_BY_A_BOUND,
                         ids=[c[0].replace("\n", "; ") for c in STOPPED_BY_A_BOUND])
def test_resource_attack_is_stopped(sandbox: Sandbox, source: str, mode: str,
                                    reason: str) -> None:
    sandbox.check(source, mode)  # these pass the deploy-time lint: only run time can stop them
    data: dict[str, Any] = {"pain_level": 3, "diary": [0] * 60000}
    with pytest.raises(SandboxLimitExceeded) as stopped:
        run(sandbox, source, mode, data)
    assert reason in str(stopped.value)
    assert data == {"pain_level": 3, "diary": [0] * 60000}


def test_the_clock_stops_a_loop_the_step_budget_would_allow() -> None:
    slow = Sandbox(HELPERS, Limits(max_steps=10**12, max_seconds=0.05))
    with pytest.raises(SandboxLimitExceeded) as stopped:
        slow.execute("n = 0\nwhile True:\n    n += 1", {})
    assert "stopped after 0.05 s; the expression runs too long" in str(stopped.value)


# --- task data stays plain JSON -----------------------------------------------------------

NOT_PLAIN = [
    ("band_by_score = {1: 'mild', 2: 'severe'}", "'band_by_score' has a non-text key"),
    ("nested = {'bands': {7: 'severe'}}", "'nested' has a non-text key"),
    ("weeks = range(12)", "'weeks' holds a range"),
    ("flags = {'fever', 'night_pain'}", "'flags' holds a set"),
    ("flag_list = [{'fever'}]", "'flag_list' holds a set"),
]


@pytest.mark.parametrize(("script", "reason"), NOT_PLAIN, ids=[c[0] for c in NOT_PLAIN])
def test_only_plain_json_values_are_stored_in_task_data(sandbox: Sandbox, script: str,
                                                        reason: str) -> None:
    data = {"pain_level": 3}
    with pytest.raises(SandboxError) as refused:
        sandbox.execute(script, data)
    assert reason in str(refused.value)
    assert data == {"pain_level": 3}


@pytest.mark.parametrize("name", ["settings", "now", "score_start_back"])
def test_a_script_cannot_replace_settings_or_helpers(sandbox: Sandbox, name: str) -> None:
    data: dict[str, Any] = {}
    with pytest.raises(SandboxError) as refused:
        sandbox.execute(f"{name} = 1", data, {"settings": {"threshold": 3}})
    assert f"the script assigns to '{name}', which is a read-only name" in str(refused.value)
    assert data == {}


def test_a_script_that_fails_half_way_leaves_task_data_unchanged(sandbox: Sandbox) -> None:
    data = {"pain_level": 3, "stratum": "low"}
    with pytest.raises(SandboxError) as failed:
        sandbox.execute("a = 1\npain_level = 9\ndel stratum\nratio = pain_level / 0", data)
    assert "ZeroDivisionError" in str(failed.value)
    assert data == {"pain_level": 3, "stratum": "low"}


def test_a_failed_script_does_not_leave_in_place_changes_behind(sandbox: Sandbox) -> None:
    data: dict[str, Any] = {"pain_scores": [5, 4]}
    with pytest.raises(SandboxError):
        sandbox.execute("pain_scores.append(99)\nratio = 1 / 0", data)
    assert data == {"pain_scores": [5, 4]}


# --- ordinary clinical scripts keep working -----------------------------------------------

START_BACK_HIGH = {"SB1": 1, "SB2": 1, "SB3": 0, "SB4": 1, "SB5": 1, "SB6": 1, "SB7": 1,
                   "SB8": 0, "SB9": 4}


@pytest.mark.parametrize(("script", "data", "expected"), [
    ("bmi = round(weight_kg / (height_cm / 100) ** 2, 1)",
     {"weight_kg": 80, "height_cm": 180}, {"weight_kg": 80, "height_cm": 180, "bmi": 24.7}),
    ("flags = {'fever': fever, 'night_pain': False}\n"
     "positive = sorted([name for name, value in flags.items() if value])\n"
     "del flags, fever",
     {"fever": True}, {"positive": ["fever"]}),
    ("plan = {week: sessions * week for week in range(1, 4)}\nplan = {str(k): v for k, v in "
     "plan.items()}", {"sessions": 3}, {"sessions": 3, "plan": {"1": 3, "2": 6, "3": 9}}),
    ("summary = f'pain {pain:.1f}/10, {len(exercises)} exercises'",
     {"pain": 4.25, "exercises": ["bridge", "bird_dog"]},
     {"pain": 4.25, "exercises": ["bridge", "bird_dog"],
      "summary": "pain 4.2/10, 2 exercises"}),
    ("total = 0\nfor week in range(12):\n    total += sessions_per_week\n"
     "done = total >= 30\ndel week",
     {"sessions_per_week": 3}, {"sessions_per_week": 3, "total": 36, "done": True}),
    ("start_back_result = score_start_back(start_back)\ndel start_back",
     {"start_back": START_BACK_HIGH},
     {"start_back_result": {"total": 7, "psychosocial": 4, "stratum": "high", "fear": True,
                            "worry": True}}),
    ("review_in = iso_duration(days=7)\nurgent_in = iso_duration(hours=24)", {},
     {"review_in": "P7D", "urgent_in": "PT24H"}),
    ("follow_up_at = weeks_after(care_started_at, 2)",
     {"care_started_at": "2026-01-05T09:00:00+00:00"},
     {"care_started_at": "2026-01-05T09:00:00+00:00",
      "follow_up_at": "2026-01-19T09:00:00+00:00"}),
], ids=["arithmetic", "comprehension-and-del", "dict-comprehension", "f-string",
        "bounded-loop", "score_start_back", "iso_duration", "weeks_after"])
def test_clinical_script_runs(sandbox: Sandbox, script: str, data: dict[str, Any],
                              expected: dict[str, Any]) -> None:
    sandbox.execute(script, data)
    assert data == expected


@pytest.mark.parametrize(("expression", "expected"), [
    ("pain_level >= settings['pain_alert']", True),
    ("stratum in ('medium', 'high') and not red_flag", True),
    ("iso_duration(days=settings['review_days'])", "P7D"),
    ("max(scores) - min(scores)", 3),
    ("f'{pain_level:>3}'", "  7"),
])
def test_clinical_expression_evaluates(sandbox: Sandbox, expression: str, expected: Any) -> None:
    data = {"pain_level": 7, "stratum": "high", "red_flag": False, "scores": [4, 7, 5]}
    settings = {"pain_alert": 6, "review_days": 7}
    assert sandbox.evaluate(expression, data, {"settings": settings}) == expected


def test_limits_are_generous_for_clinical_data(sandbox: Sandbox) -> None:
    data: dict[str, Any] = {}
    sandbox.execute("diary = [{'day': d, 'pain': d % 10} for d in range(5000)]", data)
    assert len(data["diary"]) == 5000


# --- values that grow past the limits where no loop meter sees them ------------------------

def bomb(source: str, mode: str, why: str, case_id: str) -> Any:
    """`why` says what would happen without the guard."""
    return pytest.param(source, mode, id=case_id)


HOLES_THAT_BUILD_HUGE_VALUES = [
    # Each would build a value past max_items (100,000); scaled up, each is a memory or CPU
    # bomb that compiles fine, so the run-time guards must stop it.
    bomb("('x' * 1000).join(['a'] * 1000)", "eval", "_Budget.getattr charges the inputs of "
         "str.join, not its result: ('x' * 50000).join(['a'] * 50000) builds 2.5 GB",
         "join-result"),
    bomb("row = [0] * 1000\nflat = sum([row for week in range(200)], [])", "exec",
         "sum is a plain builtin: summing lists is unmetered and quadratic", "sum-of-lists"),
    bomb("row = [0] * 1000\nhistory = [row for week in range(200)]", "exec",
         "comprehension results and stored task data are never charged", "stored-aliases"),
    bomb("a = [i * 1.0 for i in range(1000)]\nb = [i * 1.0 for i in range(1000)]\n"
         "same = [a for i in range(200)] == [b for i in range(200)]", "exec",
         "comparisons of nested structures are unmetered (CPU grows 10x per nesting level)",
         "deep-comparison"),
]


@pytest.mark.parametrize(("source", "mode"), HOLES_THAT_BUILD_HUGE_VALUES)
def test_value_past_the_size_limit_is_stopped(sandbox: Sandbox, source: str, mode: str) -> None:
    with pytest.raises(SandboxLimitExceeded):
        run(sandbox, source, mode)


@pytest.mark.parametrize(("source", "mode"), [
    pytest.param("'%0200000d' % 1", "eval", id="percent-format-width"),
    pytest.param("padded = '%0200000d'\npadded %= 1", "exec", id="percent-format-in-place"),
])
def test_percent_formatting_of_text_is_refused(sandbox: Sandbox, source: str, mode: str) -> None:
    # '%0999999999d' % 1 would build a 1 GB string before any size check could run.
    with pytest.raises(ScriptRejectedError, match="use an f-string"):
        run(sandbox, source, mode)


def peak_bytes(sandbox: Sandbox, source: str, data: dict[str, Any]) -> tuple[int, str]:
    """Peak memory while evaluating `source` (compiled beforehand) and how it ended."""
    sandbox.check(source, "eval")
    tracemalloc.start()
    try:
        sandbox.evaluate(source, data)
        outcome = "returned"
    except SandboxError as err:
        outcome = type(err).__name__
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, outcome


@pytest.mark.parametrize(("source", "data"), [
    pytest.param("str([note for i in range(50000)])", {"note": ["x" * 100]}, id="str"),
    pytest.param("('a' * 3000).replace('a', 'b' * 3000)", {}, id="str.replace"),
])
def test_oversize_value_is_refused_before_it_is_built(sandbox: Sandbox, source: str,
                                                      data: dict[str, Any]) -> None:
    peak, outcome = peak_bytes(sandbox, source, data)
    assert outcome == "SandboxLimitExceeded"
    # 100,000 items of one byte would be 100 KB; allow ten times that.
    assert peak < 1_000_000, f"built {peak} bytes before refusing"


class _Hung(Exception):
    pass


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Interrupt pure-Python code that runs past `seconds` (main thread, POSIX)."""
    def interrupt(signum: int, frame: Any) -> None:
        raise _Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs POSIX interval timers")
@pytest.mark.parametrize("script", [
    pytest.param("loop = []\nloop.append(loop)", id="list-contains-itself"),
    pytest.param("record = {}\nrecord['self'] = record", id="dict-contains-itself"),
])
def test_self_containing_task_data_is_refused(sandbox: Sandbox, script: str) -> None:
    sandbox.check(script, "exec")  # passes the deploy-time lint
    with deadline(1.0), pytest.raises(SandboxError):
        sandbox.execute(script, {})
