"""Compile-time half of the sandbox: RestrictedPython's policy plus our refusals and the
hooks that let the run-time guards (pathways.sandbox) meter loops, sizes and comparisons.

`compile_model_code` is what the deploy-time lint and every evaluation call; the errors are
shared with the run-time half."""

from __future__ import annotations

import ast
import warnings
from functools import lru_cache
from types import CodeType
from typing import Any

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer


class SandboxError(Exception):
    """A model expression was refused or failed; the message is a plain sentence."""


class ScriptRejectedError(SandboxError):
    """The expression or script uses something the sandbox does not allow."""


class SandboxLimitExceeded(SandboxError):
    """The expression ran past a time, step or size bound and was stopped."""


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
    ast.Mod: "%",
}
_DISPLAYS = (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.ListComp, ast.SetComp, ast.DictComp)


class SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus refusals and metering hooks (see module docstring)."""

    def visit(self, node: ast.AST) -> Any:
        return self._visit(node)

    def _visit(self, node: ast.AST) -> Any:
        reason = _REFUSED_NODES.get(type(node))
        if reason is not None:
            self.error(node, reason)
            return node
        result = super().visit(node)
        # Every list, tuple, set or dict the model builds is size-checked (and the check is
        # charged), so values that share parts cannot grow past the limits unseen.
        if (isinstance(node, _DISPLAYS) and isinstance(result, ast.expr)
                and isinstance(getattr(node, "ctx", ast.Load()), ast.Load)):
            return _located(ast.Call(func=ast.Name("_sized_", ast.Load()), args=[result],
                                     keywords=[]), node)
        return result

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

    def visit_Compare(self, node: ast.Compare) -> Any:
        """Comparing (and hashing) nested values costs time the loop meter cannot see: the
        operands are size-checked first."""
        node = self.node_contents_visit(node)
        node.left = self._sized(node.left)
        node.comparators = [self._sized(c) for c in node.comparators]
        return node

    def _sized(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Constant | ast.Name):
            return node
        call = ast.Call(func=ast.Name("_sized_", ast.Load()), args=[node], keywords=[])
        located: ast.expr = _located(call, node)
        return located

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


