"""Run model expressions and scripts in a RestrictedPython sandbox with bounds on time and size.

Everything a BPMN/DMN model computes (script tasks, gateway conditions, timer expressions,
DMN cells, task properties) goes through `Sandbox`. Three layers keep a hostile model in:

1. Compile time (`SandboxPolicy` in pathways/sandbox_policy.py): RestrictedPython's
   transformer (no names or attributes starting with "_", guarded iteration and writes) plus
   our own refusals: no imports, functions, lambdas, classes, try/with/raise, globals; `while`
   bodies and every iteration are metered; `*`, `**`, `<<`, `+`, `%`, containers and
   comparisons go through a size check; f-string formats are limited.
2. Run time guards: attribute access is an allow-list of plain data methods, builtins are a
   small allow-list, every produced value is charged to an allocation budget.
3. Budgets: steps (loop iterations), wall time and allocation per evaluation. Exceeding one
   raises `SandboxLimitExceeded`, which no script can catch (try/except is refused).

The only names a model sees are the documented helpers passed in by the caller
(see `pathways.script_helpers`) and the task data.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from .plaindata import JSON_SCALARS, plain_copy
from .sandbox_policy import (
    SandboxError,
    SandboxLimitExceeded,
    ScriptRejectedError,
    compile_model_code,
)

__all__ = ["SAFE_BUILTIN_NAMES", "Limits", "Sandbox", "SandboxError", "SandboxLimitExceeded",
           "ScriptRejectedError", "allowed_method_names", "compile_model_code", "freeze"]


@dataclass(frozen=True)
class Limits:
    """Per-evaluation bounds. Generous for clinical logic, tiny for an attacker."""

    max_steps: int = 100_000
    max_seconds: float = 1.0
    max_items: int = 100_000  # largest string/collection one operation may build
    max_allocated: int = 2_000_000  # items built in total by one evaluation
    max_int_bits: int = 4_096


_STR_METHODS = {
    "lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith", "split",
    "join", "replace", "isdigit", "title", "capitalize", "casefold", "count", "find",
}
_DICT_METHODS = {"get", "keys", "values", "items", "copy", "update", "setdefault", "pop"}
_LIST_METHODS = {"append", "extend", "count", "index", "copy", "pop", "insert", "remove",
                 "reverse"}
_TUPLE_METHODS = {"count", "index"}
_SET_METHODS = {"add", "union", "intersection", "difference", "issubset", "issuperset"}
_ALLOWED_ATTRIBUTES: dict[type, set[str]] = {
    str: _STR_METHODS, dict: _DICT_METHODS, list: _LIST_METHODS, tuple: _TUPLE_METHODS,
    set: _SET_METHODS, frozenset: _SET_METHODS - {"add"},
    MappingProxyType: {"get", "keys", "values", "items"},
}
_WRITABLE_TYPES = (dict, list)
_MUTATING_METHODS = {"append", "extend", "pop", "insert", "remove", "reverse", "update",
                     "setdefault", "add"}


class _Budget:
    """The meters of one evaluation; its methods are the guard functions the policy calls."""

    def __init__(self, limits: Limits, read_only: bool = False) -> None:
        self.limits = limits
        self.read_only = read_only
        """Expressions (conditions, timers, DMN cells) may not change data in place."""
        self.steps = 0
        self.allocated = 0
        self.deadline = time.monotonic() + limits.max_seconds

    # -- metering
    def tick(self) -> None:
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise SandboxLimitExceeded(
                f"stopped after {self.limits.max_steps} loop steps; simplify the loop"
            )
        if self.steps % 256 == 0 and time.monotonic() > self.deadline:
            raise SandboxLimitExceeded(
                f"stopped after {self.limits.max_seconds:g} s; the expression runs too long"
            )

    def charge(self, size: int) -> None:
        if size > self.limits.max_items:
            raise SandboxLimitExceeded(
                f"a value of {size} items is larger than the limit of {self.limits.max_items}"
            )
        self.allocated += size
        if self.allocated > self.limits.max_allocated:
            raise SandboxLimitExceeded(
                f"the expression built more than {self.limits.max_allocated} items in total"
            )

    def size_of(self, value: object) -> int:
        """Items in `value`, counting nested containers; stops counting past the limit."""
        limit = self.limits.max_items + 1
        total, stack = 0, [value]
        while stack and total < limit:
            item = stack.pop()
            if isinstance(item, str | bytes):
                total += len(item)
            elif isinstance(item, dict):
                total += len(item)
                stack.extend(item.keys())
                stack.extend(item.values())
            elif isinstance(item, list | tuple | set | frozenset):
                total += len(item)
                stack.extend(item)
            else:
                total += 1
        return total

    # -- guards used by compiled code
    def iterate(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            self.tick()
            yield item

    def binop(self, symbol: str, left: Any, right: Any) -> Any:
        ints = isinstance(left, int) and isinstance(right, int)
        bits = self.limits.max_int_bits
        if symbol == "**" and ints and right > 0:
            if abs(left) > 1 and left.bit_length() * right > bits:
                raise SandboxLimitExceeded(f"the power would exceed {bits} bits")
        elif symbol == "<<" and ints:
            if right > bits or left.bit_length() + right > bits:
                raise SandboxLimitExceeded(f"the shift would exceed {bits} bits")
        elif symbol == "*":
            if ints:
                if left.bit_length() + right.bit_length() > bits:
                    raise SandboxLimitExceeded(f"the product would exceed {bits} bits")
            elif isinstance(right, int) and not isinstance(left, int | float):
                self.charge(self.size_of(left) * max(right, 0))
            elif isinstance(left, int) and not isinstance(right, int | float):
                self.charge(self.size_of(right) * max(left, 0))
        elif symbol == "+" and not ints and not isinstance(left, int | float):
            self.charge(self.size_of(left) + self.size_of(right))
        elif symbol == "%" and isinstance(left, str | bytes):
            raise ScriptRejectedError("'%' formatting of text is not available; use an f-string")
        return _apply_binop(symbol, left, right)

    def inplace(self, op: str, left: Any, right: Any) -> Any:
        return self.binop(op[:-1], left, right)

    def getattr(self, obj: object, name: str, default: object = None) -> Any:
        allowed = _ALLOWED_ATTRIBUTES.get(type(obj))
        if allowed is None or name not in allowed:
            raise ScriptRejectedError(
                f"'{type(obj).__name__}.{name}' is not available in pathway expressions"
            )
        if self.read_only and name in _MUTATING_METHODS:
            raise ScriptRejectedError(
                f"'{type(obj).__name__}.{name}' changes data; only scripts may do that")
        method = getattr(obj, name)
        receiver_size = self.size_of(obj)

        def charged(*args: Any, **kwargs: Any) -> Any:
            self.tick()
            argument_size = sum(self.size_of(a) for a in args)
            self.charge(receiver_size + argument_size)
            if name == "join" and args:  # the result's size is known before building it
                parts = list(args[0])
                self.charge(sum(self.size_of(p) for p in parts)
                            + receiver_size * max(len(parts) - 1, 0))
                return method(parts)
            if name == "replace" and len(args) >= 2 and isinstance(obj, str):
                old, new = str(args[0]), str(args[1])
                growth = max(len(new) - len(old), 0) * (obj.count(old) if old else len(obj) + 1)
                self.charge(receiver_size + growth)
            return method(*args, **kwargs)

        return charged

    def getitem(self, obj: Any, key: Any) -> Any:
        return obj[key]

    def write(self, obj: Any) -> Any:
        if self.read_only:
            raise ScriptRejectedError("expressions may not change data; only scripts may")
        if not isinstance(obj, _WRITABLE_TYPES):
            raise ScriptRejectedError("only lists and dicts can be changed in place")
        return obj

    def fmt(self, value: Any) -> Any:
        self.charge(self.size_of(value))
        return value

    def sized(self, value: Any) -> Any:
        """Check (and charge) a value built or compared by the model."""
        if isinstance(value, JSON_SCALARS):
            return value
        self.charge(self.size_of(value))
        return value

    def total(self, values: Iterable[Any], start: Any = 0) -> Any:
        """`sum` for numbers only (adding lists or text this way is quadratic)."""
        result = start
        for value in self.iterate(values):
            if not isinstance(value, int | float) or isinstance(result, str | list | tuple):
                raise ScriptRejectedError("sum() adds numbers only")
            result = self.binop("+", result, value)
        return result

    def produce(self, factory: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            self.tick()
            for arg in args:
                if isinstance(arg, range) and len(arg) > self.limits.max_items:
                    raise SandboxLimitExceeded(f"range of {len(arg)} is over the limit")
                if not isinstance(arg, range):
                    self.charge(self.size_of(arg))  # before building: str(x) may be huge
            result = factory(*args, **kwargs)
            self.charge(self.size_of(result) if not isinstance(result, range) else len(result))
            return result

        return guarded

    def apply(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul, "**": operator.pow, "<<": operator.lshift, "+": operator.add,
    "-": operator.sub, "/": operator.truediv, "//": operator.floordiv, "%": operator.mod,
    ">>": operator.rshift, "&": operator.and_, "|": operator.or_, "^": operator.xor,
    "@": operator.matmul,
}


def _apply_binop(symbol: str, left: Any, right: Any) -> Any:
    return _BINOPS[symbol](left, right)


_PRODUCING_BUILTINS: dict[str, Callable[..., Any]] = {
    "str": str, "list": list, "dict": dict, "tuple": tuple, "set": set, "sorted": sorted,
    "range": range,
    "enumerate": lambda *a: list(enumerate(*a)),
    "zip": lambda *a: list(zip(*a, strict=False)),
}
_PLAIN_BUILTINS: dict[str, Any] = {
    "abs": abs, "all": all, "any": any, "bool": bool, "float": float, "int": int, "len": len,
    "max": max, "min": min, "round": round,
    "True": True, "False": False, "None": None,
}
SAFE_BUILTIN_NAMES = frozenset(_PLAIN_BUILTINS) | frozenset(_PRODUCING_BUILTINS) | {"sum"}




def allowed_method_names() -> frozenset[str]:
    """Every method name a model may call on some plain value (for the deploy-time lint)."""
    return frozenset(name for names in _ALLOWED_ATTRIBUTES.values() for name in names)


def freeze(value: Any) -> Any:
    """A read-only copy for models: dicts become mapping proxies, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


class Sandbox:
    """Evaluates expressions and runs scripts against task data with the given helpers."""

    def __init__(self, helpers: Mapping[str, Any] | None = None,
                 limits: Limits | None = None) -> None:
        self.helpers = dict(helpers or {})
        self.limits = limits or Limits()

    def check(self, source: str, mode: str) -> None:
        """Compile only (deploy-time lint): raises ScriptRejectedError with the reason."""
        compile_model_code(source, mode)

    def _globals(self, budget: _Budget) -> dict[str, Any]:
        builtins = dict(_PLAIN_BUILTINS)
        builtins.update({name: budget.produce(f) for name, f in _PRODUCING_BUILTINS.items()})
        builtins["sum"] = budget.total
        env: dict[str, Any] = {
            "__builtins__": builtins,
            "_getattr_": budget.getattr,
            "_getitem_": budget.getitem,
            "_getiter_": budget.iterate,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_write_": budget.write,
            "_inplacevar_": budget.inplace,
            "_apply_": budget.apply,
            "_binop_": budget.binop,
            "_tick_": budget.tick,
            "_fmt_": budget.fmt,
            "_sized_": budget.sized,
        }
        env.update(self.helpers)
        return env

    def evaluate(self, expression: str, data: Mapping[str, Any],
                 extra: Mapping[str, Any] | None = None) -> Any:
        """Evaluate one expression with `data` (and `extra`) as its names."""
        code = compile_model_code(expression, "eval")
        budget = _Budget(self.limits, read_only=True)
        names = self._globals(budget)
        names.update(data)
        if extra:
            names.update(extra)
        try:
            # Restricted bytecode only: compiled above by RestrictedPython with SandboxPolicy,
            # and run with guard functions in place of the builtins.
            return eval(code, names)  # noqa: S307
        except SandboxError:
            raise
        except RecursionError:
            raise SandboxLimitExceeded("the expression is nested too deeply") from None
        except MemoryError:
            raise SandboxLimitExceeded("the expression needs too much memory") from None
        except Exception as err:  # a model bug: report it plainly, never as a crash
            raise SandboxError(f"{type(err).__name__}: {err}") from None

    def execute(self, script: str, data: dict[str, Any],
                extra: Mapping[str, Any] | None = None) -> None:
        """Run a script; names it assigns become task data. `data` is changed only on success.

        `extra` names (such as the pathway settings) are read-only: they are never stored."""
        code = compile_model_code(script, "exec")
        budget = _Budget(self.limits)
        env = self._globals(budget)
        env.update(extra or {})
        names = dict(env)
        # A copy: a script that fails half-way must leave the data exactly as it was, and a
        # script changing a nested list must not change the tasks that share it.
        names.update(plain_copy(data))
        try:
            exec(code, names)  # noqa: S102 - restricted bytecode, see evaluate()
        except SandboxError:
            raise
        except RecursionError:
            raise SandboxLimitExceeded("the script is nested too deeply") from None
        except MemoryError:
            raise SandboxLimitExceeded("the script needs too much memory") from None
        except Exception as err:
            raise SandboxError(f"{type(err).__name__}: {err}") from None
        results = {k: v for k, v in names.items() if k not in env or v is not env[k]}
        for key, value in results.items():
            if key in env:
                raise SandboxError(f"the script assigns to '{key}', which is a read-only name")
            _require_plain(key, value)
        data.clear()
        data.update(results)


def _require_plain(name: str, value: object, limit: int = 1_000_000) -> None:
    """Task data must stay plain JSON (so saved state is plain JSON), finite and acyclic."""
    stack: list[tuple[object, tuple[int, ...]]] = [(value, ())]
    seen = 0
    while stack:
        item, parents = stack.pop()
        seen += 1
        if seen > limit:
            raise SandboxLimitExceeded(f"'{name}' is too large to store")
        if isinstance(item, JSON_SCALARS):
            continue
        if id(item) in parents:
            raise SandboxError(f"'{name}' contains itself; store plain lists and dicts")
        inner = (*parents, id(item))
        if isinstance(item, list | tuple):
            stack.extend((child, inner) for child in item)
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise SandboxError(f"'{name}' has a non-text key; use text keys in dicts")
                stack.append((child, inner))
        else:
            raise SandboxError(
                f"'{name}' holds a {type(item).__name__}; store only text, numbers, "
                "true/false, lists and dicts"
            )
