"""pathways/ is the domain: it never imports the web, the database or the service."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = ("fastapi", "starlette", "sqlmodel", "sqlalchemy", "jinja2", "service", "alembic")
PATHWAYS = Path(__file__).resolve().parent.parent / "pathways"


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
