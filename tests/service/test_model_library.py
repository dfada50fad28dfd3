"""The managers' landing page: the model library lists every version with who deployed it,
when, and how many active episodes run on it, and hands out any version's bundle."""

from __future__ import annotations

import io
import zipfile

from ..conftest import BETTERBACK_DIR
from .conftest import World, refer
from .conftest import page_login as log_in
from .conftest import soup as html


def test_a_manager_lands_on_the_model_library_and_downloads_a_version(world: World) -> None:
    refer(world, "Maja Lind", "maja")
    refer(world, "Olle Berg", "olle")
    manager = log_in(world, "manager")
    home = manager.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/models"

    page = html(manager.get("/models"))
    assert page.select_one("nav a[href='/models']") is not None
    rows = page.select("table.versions tbody tr")
    assert len(rows) == 1
    row = " ".join(rows[0].get_text(" ").split())
    assert "Active: new episodes start here" in row and "BetterBack" in row
    assert rows[0].select("td")[2].get_text(strip=True) == "2"  # Maja's and Olle's episodes
    link = rows[0].select_one("a[download]")
    assert link is not None

    bundle = manager.get(str(link["href"]))
    assert bundle.status_code == 200 and bundle.headers["content-type"] == "application/zip"
    assert "attachment" in bundle.headers["content-disposition"]
    names = set(zipfile.ZipFile(io.BytesIO(bundle.content)).namelist())
    shipped = {p.relative_to(BETTERBACK_DIR).as_posix() for p in BETTERBACK_DIR.rglob("*")
               if p.is_file()}
    assert {"pathway.toml", "betterback.bpmn", "red_flag_check.bpmn",
            "forms/weekly_check_in.json"} <= names <= shipped


def test_an_unknown_version_is_not_found_and_other_roles_are_refused(world: World) -> None:
    manager = log_in(world, "manager")
    assert manager.get("/models/999/bundle.zip").status_code == 404
    assert log_in(world, "physio").get("/models").status_code == 403
