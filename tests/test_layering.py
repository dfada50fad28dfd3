"""The layer contracts (docs/architecture.md): pathways/ is the domain and imports nothing of
the web, the database or the service; the service's domains sit on core and reach each other
only through what each exports; SpiffWorkflow stays behind pathways/ (import-linter, with its
contracts in pyproject.toml); and only core begins, commits or rolls back a transaction."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("fastapi", "starlette", "sqlmodel", "sqlalchemy", "jinja2", "service", "alembic")
PATHWAYS = ROOT / "pathways"
SERVICE = ROOT / "service"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_pathways_has_no_web_or_database_imports() -> None:
    files = sorted(PATHWAYS.rglob("*.py"))
    assert files, "pathways/ has no modules?"
    offenders = {
        str(path.relative_to(PATHWAYS)): sorted(_imports(path) & set(FORBIDDEN))
        for path in files
        if _imports(path) & set(FORBIDDEN)
    }
    assert offenders == {}


def test_the_layering_check_would_catch_an_offender(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from fastapi import FastAPI\nimport sqlalchemy.orm\n")
    assert _imports(module) & set(FORBIDDEN) == {"fastapi", "sqlalchemy"}


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--config", str(root / "pyproject.toml")],
                          cwd=root, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_the_import_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_import_contracts_fail_when_pathways_imports_the_service(tmp_path: Path) -> None:
    for name in ("pathways", "service"):
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__", "static", "templates"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    clock = tmp_path / "pathways" / "clock.py"
    clock.write_text(clock.read_text() + "\nfrom service.core import settings  # noqa\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "pathways is the domain" in result.stdout and "BROKEN" in result.stdout


TRANSACTION_CALLS = {"commit", "rollback", "begin", "begin_nested"}


def test_only_core_begins_commits_or_rolls_back_a_transaction() -> None:
    """Everything else works in the request's unit of work (core.deps.Call) or in core's
    `transaction()`; a stray commit would split a request's one transaction."""
    offenders = []
    for path in sorted(SERVICE.rglob("*.py")):
        relative = path.relative_to(SERVICE)
        if relative.parts[0] in ("core", "migrations"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in TRANSACTION_CALLS:
                offenders.append(f"{relative}:{node.lineno}: .{node.func.attr}()")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id == "Session":
                offenders.append(f"{relative}:{node.lineno}: Session()")
    assert offenders == []
