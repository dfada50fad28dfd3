"""The docs say what the code does: the README stays short and points into docs/, whose
pages document every model helper, task property and alert (docs/model-authors.md), every
setting and command (docs/operations.md), every route the app serves (docs/api.md) and every
module's place (docs/architecture.md); and every relative link resolves."""

from __future__ import annotations

import argparse
import functools
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from pathways.properties import ALERTS, KNOWN_PROPERTIES
from pathways.script_helpers import HELPERS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text()
PAGES = sorted(DOCS.glob("*.md"))
MODEL_AUTHORS = (DOCS / "model-authors.md").read_text()
OPERATIONS = (DOCS / "operations.md").read_text()
API = (DOCS / "api.md").read_text()
ARCHITECTURE = (DOCS / "architecture.md").read_text()

README_LIMIT_BYTES = 10_000
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`]+)`")
METHOD = "(?:GET|POST|PUT|PATCH|DELETE)"
METHOD_AND_PATH = re.compile(rf"({METHOD}(?:/{METHOD})*) (/\S*)")


def section(text: str, heading: str) -> str:
    """The text under a `## heading`, up to the next heading of that level."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else len(text)]


# -- the README


def test_the_readme_is_short() -> None:
    assert len(README.encode()) < README_LIMIT_BYTES


def test_the_readme_links_every_docs_page() -> None:
    linked = {target.split("#")[0] for target in LINK.findall(README)}
    assert PAGES, "docs/ has no pages?"
    assert [page.name for page in PAGES if f"docs/{page.name}" not in linked] == []


def test_the_readme_keeps_the_two_commands() -> None:
    assert "bash scripts/run.sh" in README and "bash scripts/test.sh" in README


# -- links


def anchors(text: str) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to -."""
    return {re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in text.splitlines() if line.startswith("#")}


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not ours to check
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists() or (anchor and anchor not in anchors(linked.read_text())):
            broken.append(target)
    assert broken == []


# -- model authors


def test_every_model_helper_is_documented() -> None:
    missing = [name for name in HELPERS
               if f"`{name}" not in MODEL_AUTHORS and f" {name}" not in MODEL_AUTHORS]
    assert missing == []


def test_every_task_property_is_documented() -> None:
    missing = [name for name in KNOWN_PROPERTIES if f"`{name}" not in MODEL_AUTHORS]
    assert missing == []


def test_every_alert_is_documented() -> None:
    row = next(line for line in MODEL_AUTHORS.splitlines() if line.startswith("| `alert` |"))
    assert [name for name in ALERTS if f"`{name}`" not in row] == []


# -- operations


def test_every_setting_is_documented() -> None:
    from service.core.settings import Settings

    missing = [name for name in Settings.model_fields
               if f"`CAREPATH_{name.upper()}`" not in OPERATIONS]
    assert missing == []


def test_every_content_location_is_documented() -> None:
    """pathways/ reads these itself (not through service/core/settings.py), so the test above
    does not see them."""
    from pathways import education, exercises

    names = [education.ENV_VAR, exercises.ENV_DIR, exercises.ENV_OVERRIDES]
    missing = [name for name in names if f"`{name}`" not in OPERATIONS]
    assert missing == []


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next((action.choices for action in parser._actions
                 if isinstance(action, argparse._SubParsersAction)), {})


def test_every_command_is_documented() -> None:
    """`carepath db upgrade`, or `activate NAME` in the row of `carepath user ...`."""
    from service.cli import build_parser

    missing = []
    for name, command in subcommands(build_parser()).items():
        rows = [line for line in OPERATIONS.splitlines() if f"`carepath {name}" in line]
        missing += [name] if not rows else [
            f"{name} {sub}" for sub in subcommands(command)
            if not any(re.search(rf"`(carepath {name} )?{sub}[ `]", row) for row in rows)]
    assert missing == []


# -- pages and the JSON API


def template(path: str) -> str:
    """A path with its parameters unnamed, so `{id}` in the docs matches `{episode_id}`."""
    return re.sub(r"\{[^}]*\}", "{}", path.split("?")[0])


def documented_routes() -> tuple[set[tuple[str, str]], set[str]]:
    """(method, path) of every `METHOD /path` in docs/api.md, and every path there, with or
    without its method (a page's path stands for the page and the form it posts back)."""
    routes, paths = set(), set()
    for span in CODE.findall(API):
        if found := METHOD_AND_PATH.fullmatch(span):
            path = template(found.group(2))
            routes.update((method, path) for method in found.group(1).split("/"))
            paths.add(path)
        elif span.startswith("/") and " " not in span:
            paths.add(template(span))
    return routes, paths


@functools.cache
def served() -> set[tuple[str, str]]:
    from service.app import create_app
    from tests.service.test_access import served_routes

    app = create_app(db=sa.create_engine("sqlite://"))
    return {(method, template(path)) for method, path in served_routes(app)}


def test_every_route_of_the_app_is_documented() -> None:
    """The JSON API with its method; pages, their forms and the files they load by path."""
    routes, paths = documented_routes()
    missing = sorted((method, path) for method, path in served()
                     if ((method, path) not in routes if path.startswith("/api/")
                         else path not in paths))
    assert missing == []


def test_every_documented_route_is_served() -> None:
    """Each `METHOD /path` in docs/api.md, examples such as `GET /patients/12` too."""
    patterns = {(method, re.escape(path).replace(r"\{\}", "[^/]+"))
                for method, path in served()}
    routes, _ = documented_routes()
    unknown = [(method, path) for method, path in sorted(routes)
               if not any(method == served_method and re.fullmatch(pattern, path)
                          for served_method, pattern in patterns)]
    assert unknown == []


# -- architecture


def folder_table_paths() -> list[str]:
    """The paths in the first column of "Where things go": `pathways/engine.py`,
    `instance.py` names pathways/instance.py."""
    paths = []
    for line in section(ARCHITECTURE, "Where things go").splitlines():
        if not line.startswith("| `"):
            continue
        folder = ""
        for span in CODE.findall(line.split("|")[1]):
            if "/" in span.rstrip("/"):
                folder = str(Path(span).parent)
            paths.append(span if "/" in span.rstrip("/") else f"{folder}/{span}".lstrip("/"))
    return paths


def test_every_path_in_the_folder_table_exists() -> None:
    assert [path for path in folder_table_paths() if not (ROOT / path).exists()] == []


def test_every_module_has_a_place_in_the_folder_table() -> None:
    places = [path.rstrip("/") for path in folder_table_paths()
              if path.rstrip("/") not in ("pathways", "service")]
    modules = [str(path.relative_to(ROOT)) for folder in ("pathways", "service")
               for path in sorted((ROOT / folder).rglob("*.py"))
               if path.name != "__init__.py"]
    missing = [module for module in modules
               if not any(module == place or module.startswith(place + "/") for place in places)]
    assert missing == []
