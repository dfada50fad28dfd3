"""Exercise pictures and a clinic's video links on the patient's pages, and the route that
serves the pictures (service/patients/illustrations.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pathways.exercises import DEFAULT_DIR, ENV_OVERRIDES, default_library
from service.cli import main
from service.core.security_headers import CONTENT_SECURITY_POLICY
from tests.exercises_support import png_bytes, write_overrides

from .conftest import World, refer, soup, through_first_visit
from .conftest import page_login as login

SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
CLINIC_VIDEO = "https://clinic.example/videos/walking"


@pytest.fixture
def clinic_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The clinic's overrides file: a video and a photo for walking, no picture for balance."""
    (tmp_path / "walking.png").write_bytes(png_bytes())
    path = write_overrides(tmp_path, f"""
[walking]
video_url = "{CLINIC_VIDEO}"
illustration = "walking.png"
illustration_alt = "Eva walking in the park."

[balance]
illustration = ""
""")
    monkeypatch.setenv(ENV_OVERRIDES, str(path))
    default_library.cache_clear()
    yield path
    default_library.cache_clear()


def patient_in_care(world: World, username: str = "maja") -> TestClient:
    """A medium-risk patient after the first visit: walking, trunk mobility, core control,
    hip strength and back extension, each at level 1."""
    api, _ = refer(world, username.title(), username)
    through_first_visit(world, api, "medium_start_back")
    return login(world, username)


# --------------------------------------------------------------------------- the route


@pytest.mark.parametrize("who", ["patient", "physio", "lead"])
def test_patients_and_clinicians_get_our_drawing_with_headers_that_keep_it_a_picture(
        world: World, who: str) -> None:
    client = patient_in_care(world) if who == "patient" else world.client(who)
    response = client.get("/exercise-illustrations/core-control")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == SVG_POLICY
    assert response.headers["cache-control"] == "private, max-age=3600"
    assert response.content == (DEFAULT_DIR / "illustrations" / "core-control.svg").read_bytes()


def test_a_clinics_photo_is_served_as_what_it_is(world: World, clinic_overrides: Path) -> None:
    response = patient_in_care(world).get("/exercise-illustrations/walking")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    # Not a document, so nothing to run: the site's own policy, not the SVG's.
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.content == (clinic_overrides.parent / "walking.png").read_bytes()


@pytest.mark.parametrize("exercise", ["swimming", "balance"])
def test_an_exercise_without_a_picture_is_404(world: World, clinic_overrides: Path,
                                              exercise: str) -> None:
    response = patient_in_care(world).get(f"/exercise-illustrations/{exercise}")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "There is no picture for that exercise"


@pytest.mark.parametrize("exercise", ["..%2F..%2F..%2Fpyproject.toml", "%2E%2E", "%2Fetc%2Fpasswd"])
def test_a_path_instead_of_an_exercise_id_reads_no_file(world: World, exercise: str) -> None:
    """Ids are looked up in the library, never joined to a path: nothing else can be read."""
    response = patient_in_care(world).get(f"/exercise-illustrations/{exercise}")
    assert response.status_code == 404
    assert "[project]" not in response.text and "root:" not in response.text


def test_nobody_logged_in_gets_401_not_a_login_page(world: World) -> None:
    response = TestClient(world.app).get("/exercise-illustrations/walking",
                                         follow_redirects=False)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("who", ["manager", "auditor", "admin"])
def test_roles_outside_care_are_refused(world: World, who: str) -> None:
    assert world.client(who).get("/exercise-illustrations/walking").status_code == 403


# --------------------------------------------------------------------------- the pages


def test_the_exercise_page_shows_each_picture_with_alt_text_and_a_fixed_size(
        world: World) -> None:
    client = patient_in_care(world)
    page = soup(client.get("/exercise"))
    cards = page.select("article.exercise-card")
    assert len(cards) == 5
    library = default_library()
    for card in cards:
        title = card.select_one("h3").get_text(strip=True)
        exercise = next(library.get(i) for i in library.ids() if library.get(i).title == title)
        image = card.select_one("img.illustration")
        assert image is not None, title
        assert image["src"] == f"/exercise-illustrations/{exercise.id}"
        assert image["alt"] == f"{exercise.title}: {exercise.levels[0].name}"
        assert (image["width"], image["height"]) == ("240", "160")
        assert client.get(image["src"]).status_code == 200
    # No clinic video: no link to one.
    assert "Watch a video" not in page.get_text()


def test_the_clinics_video_link_and_photo_are_on_the_exercise_page(
        world: World, clinic_overrides: Path) -> None:
    page = soup(patient_in_care(world).get("/exercise"))
    walking = page.find("article", attrs={"aria-labelledby": "card-walking"})
    image = walking.select_one("img.illustration")
    assert image["alt"] == "Eva walking in the park."
    link = walking.find("a", href=CLINIC_VIDEO)
    assert link is not None
    assert " ".join(link.get_text(" ").split()) == \
        "Watch a video of this exercise (Walking; opens in a new tab)"
    assert link.select_one(".visually-hidden").get_text() == " (Walking; opens in a new tab)"
    assert link["target"] == "_blank" and link["rel"] == ["noopener", "noreferrer"]
    # Only walking has a video.
    assert [a["href"] for a in page.select("a[target=_blank]")] == [CLINIC_VIDEO]


def test_today_lists_the_exercises_with_small_pictures(world: World) -> None:
    client = patient_in_care(world)
    action = soup(client.get("/today")).select_one(".action.exercise")
    items = action.select(".exercise-list li")
    assert len(items) == 5
    for item in items:
        thumb = item.select_one("img.thumb")
        assert thumb is not None and thumb["src"].startswith("/exercise-illustrations/")
        # The exercise's name is right beside it: the picture adds nothing for a screen reader.
        assert thumb["alt"] == "" and (thumb["width"], thumb["height"]) == ("72", "48")


def test_the_json_twin_names_each_picture_and_its_alt_text(world: World) -> None:
    api, _ = refer(world, "Maja", "maja")
    through_first_visit(world, api, "medium_start_back")
    exercises = api.get("/api/today").json()["programme"]["exercises"]
    walking = next(e for e in exercises if e["id"] == "walking")
    assert walking["illustration_url"] == "/exercise-illustrations/walking"
    assert walking["illustration_alt"] == "Walking: Short easy walks"


# --------------------------------------------------------------------------- start-up


@pytest.mark.parametrize("command", [["serve"], ["worker", "--once"]])
def test_a_mistake_in_the_overrides_file_stops_the_start_with_its_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        command: list[str]) -> None:
    path = write_overrides(tmp_path, '[walking]\nvideo_url = "http://clinic.example/w"\n')
    monkeypatch.setenv(ENV_OVERRIDES, str(path))
    default_library.cache_clear()
    try:
        with pytest.raises(SystemExit) as stopped:
            main(command)
    finally:
        default_library.cache_clear()
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"carepath: exercise content: {path}: walking.video_url: must be empty or an https:// "
        "link, got 'http://clinic.example/w'")
