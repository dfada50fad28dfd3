"""Run model expressions and scripts in a RestrictedPython sandbox with bounds on time and size.

Everything a BPMN/DMN model computes (script tasks, gateway conditions, timer expressions,
DMN cells, task properties) goes through `Sandbox`. Three layers keep a hostile model in:

1. Compile time (`SandboxPolicy`): RestrictedPython's transformer (no names or attributes
   starting with "_", guarded iteration and writes) plus our own refusals: no imports,
   functions, lambdas, classes, try/with/raise, globals; `while` bodies and every iteration are
   metered; `*`, `**`, `<<` and `+` go through a size check; f-string formats are limited.
2. Run time guards: attribute access is an allow-list of plain data methods, builtins are a
   small allow-list, every produced value is charged to an allocation budget.
3. Budgets: steps (loop iterations), wall time and allocation per evaluation. Exceeding one
   raises `SandboxLimitExceeded`, which no script can catch (try/except is refused).

The only names a model sees are the documented helpers passed in by the caller
(see `pathways.script_helpers`) and the task data.
"""

from __future__ import annotations

import ast
import operator
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import CodeType
from typing import Any

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import RestrictingNodeTransformer


class SandboxError(Exception):
    """A model expression was refused or failed; the message is a plain sentence."""


class ScriptRejectedError(SandboxError):
    """The expression or script uses something the sandbox does not allow."""


class SandboxLimitExceeded(SandboxError):
    """The expression ran past a time, step or size bound and was stopped."""


@dataclass(frozen=True)
class Limits:
    """Per-evaluation bounds. Generous for clinical logic, tiny for an attacker."""

    max_steps: int = 100_000
    max_seconds: float = 1.0
    max_items: int = 100_000  # largest string/collection one operation may build
    max_allocated: int = 2_000_000  # items built in total by one evaluation
    max_int_bits: int = 4_096


_REFUSED_NODES: dict[type[ast.AST], str] = {
    ast.Import: "imports are not allowed",
    ast.ImportFrom: "imports are not allowed",
    ast.FunctionDef: "defining functions is not allowed",
    ast.AsyncFunctionDef: "defining functions is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ClassDef: "defining classes is not allowed",
    ast.Try: "try/except is not allowed",
    ast.With: "with-statements are not allowed",
    ast.AsyncWith: "with-statements are not allowed",
    ast.Raise: "raise is not allowed",
    ast.Global: "global is not allowed",
    ast.Nonlocal: "nonlocal is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Await: "await is not allowed",
    ast.AsyncFor: "async loops are not allowed",
}
if hasattr(ast, "TryStar"):
    _REFUSED_NODES[ast.TryStar] = "try/except is not allowed"

_GUARDED_BINOPS: dict[type[ast.operator], str] = {
    ast.Mult: "*",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.Add: "+",
}


class SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus refusals and metering hooks (see module docstring)."""

    def visit(self, node: ast.AST) -> Any:
        reason = _REFUSED_NODES.get(type(node))
        if reason is not None:
            self.error(node, reason)
            return node
        return super().visit(node)

    def visit_Delete(self, node: ast.Delete) -> Any:
        """`del name` drops task data a model no longer needs; nothing else may be deleted."""
        if not all(isinstance(target, ast.Name) for target in node.targets):
            self.error(node, "del works only on plain names (task data keys)")
            return node
        return self.node_contents_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        symbol = _GUARDED_BINOPS.get(type(node.op))
        if symbol is None:
            return node
        call = ast.Call(
            func=ast.Name("_binop_", ast.Load()),
            args=[ast.Constant(symbol), node.left, node.right],
            keywords=[],
        )
        return _located(call, node)

    def visit_While(self, node: ast.While) -> Any:
        node = self.node_contents_visit(node)
        tick = ast.Expr(ast.Call(func=ast.Name("_tick_", ast.Load()), args=[], keywords=[]))
        node.body.insert(0, _located(tick, node))
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        spec = node.format_spec
        if spec is not None:
            text = "".join(
                str(v.value) for v in getattr(spec, "values", []) if isinstance(v, ast.Constant)
            )
            simple = all(isinstance(v, ast.Constant) for v in getattr(spec, "values", []))
            if not simple or len(text) > 6 or any(part.isdigit() and int(part) > 40
                                                  for part in _digit_runs(text)):
                self.error(node, "format specifications are limited to short constant forms")
                return node
        node = self.node_contents_visit(node)
        wrapped = ast.Call(func=ast.Name("_fmt_", ast.Load()), args=[node.value], keywords=[])
        node.value = _located(wrapped, node.value)
        return node


def _located(new: Any, old: ast.AST) -> Any:
    """Give a generated node (and its children) the source position of the node it replaces."""
    for child in ast.walk(new):
        ast.copy_location(child, old)
    return new


def _digit_runs(text: str) -> list[str]:
    runs, current = [], ""
    for char in text:
        if char.isdigit():
            current += char
        elif current:
            runs.append(current)
            current = ""
    if current:
        runs.append(current)
    return runs


@lru_cache(maxsize=4096)
def compile_model_code(source: str, mode: str) -> CodeType:
    """Compile `source` ('eval' or 'exec') with the sandbox policy, or raise ScriptRejectedError."""
    compiler = {"eval": compile_restricted_eval, "exec": compile_restricted_exec}.get(mode)
    if compiler is None:
        raise ValueError(f"unknown mode {mode!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        result = compiler(source, "<model>", policy=SandboxPolicy)
    if result.errors or result.code is None:
        raise ScriptRejectedError("; ".join(e.rstrip(".") for e in result.errors) or "invalid")
    return result.code


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
}
_WRITABLE_TYPES = (dict, list)


class _Budget:
    """The meters of one evaluation; its methods are the guard functions the policy calls."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
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
        return _apply_binop(symbol, left, right)

    def inplace(self, op: str, left: Any, right: Any) -> Any:
        symbol = op[:-1]
        if symbol in ("*", "**", "<<", "+"):
            return self.binop(symbol, left, right)
        return _apply_binop(symbol, left, right)

    def getattr(self, obj: object, name: str, default: object = None) -> Any:
        allowed = _ALLOWED_ATTRIBUTES.get(type(obj))
        if allowed is None or name not in allowed:
            raise ScriptRejectedError(
                f"'{type(obj).__name__}.{name}' is not available in pathway expressions"
            )
        method = getattr(obj, name)
        receiver_size = self.size_of(obj)

        def charged(*args: Any, **kwargs: Any) -> Any:
            self.tick()
            self.charge(receiver_size + sum(self.size_of(a) for a in args))
            result = method(*args, **kwargs)
            if name == "replace":
                self.charge(self.size_of(result))
            return result

        return charged

    def getitem(self, obj: Any, key: Any) -> Any:
        return obj[key]

    def write(self, obj: Any) -> Any:
        if not isinstance(obj, _WRITABLE_TYPES):
            raise ScriptRejectedError("only lists and dicts can be changed in place")
        return obj

    def fmt(self, value: Any) -> Any:
        self.charge(self.size_of(value))
        return value

    def produce(self, factory: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            self.tick()
            for arg in args:
                if isinstance(arg, range) and len(arg) > self.limits.max_items:
                    raise SandboxLimitExceeded(f"range of {len(arg)} is over the limit")
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
    "max": max, "min": min, "round": round, "sum": sum,
    "True": True, "False": False, "None": None,
}
SAFE_BUILTIN_NAMES = frozenset(_PLAIN_BUILTINS) | frozenset(_PRODUCING_BUILTINS)


JSON_SCALARS = (str, int, float, bool, type(None))


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
        }
        env.update(self.helpers)
        return env

    def evaluate(self, expression: str, data: Mapping[str, Any],
                 extra: Mapping[str, Any] | None = None) -> Any:
        """Evaluate one expression with `data` (and `extra`) as its names."""
        code = compile_model_code(expression, "eval")
        budget = _Budget(self.limits)
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
        names.update(data)
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


def _require_plain(name: str, value: object) -> None:
    """Task data must stay plain JSON so that saved state is plain JSON."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, JSON_SCALARS):
            continue
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            for key, inner in item.items():
                if not isinstance(key, str):
                    raise SandboxError(f"'{name}' has a non-text key; use text keys in dicts")
                stack.append(inner)
        else:
            raise SandboxError(
                f"'{name}' holds a {type(item).__name__}; store only text, numbers, "
                "true/false, lists and dicts"
            )
