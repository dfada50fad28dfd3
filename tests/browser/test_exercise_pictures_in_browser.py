"""Exercise pictures and a clinic's video link in a real browser, on a desktop and on a
375-pixel phone: every picture loads, keeps its size, and nothing makes the page scroll
sideways. Screenshots: test-output/screenshots/11-exercise-pictures-*.png, 12-today-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from pathways.exercises import ENV_OVERRIDES, default_library
from tests.browser.conftest import DESKTOP, PHONE, Person, log_in, wait_until
from tests.exercises_support import write_overrides
from tests.service.conftest import World, refer, through_first_visit

CLINIC_VIDEO = "https://clinic.example/videos/walking"


@pytest.fixture
def clinic_video(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The clinic has a video of walking (the live server runs in this process)."""
    path = write_overrides(tmp_path, f'[walking]\nvideo_url = "{CLINIC_VIDEO}"\n')
    monkeypatch.setenv(ENV_OVERRIDES, str(path))
    default_library.cache_clear()
    yield
    default_library.cache_clear()


def loaded(page: Page, picture: Locator) -> None:
    """Wait until the picture has loaded (they load lazily, when scrolled near)."""
    picture.scroll_into_view_if_needed()
    wait_until(picture, "img => img.complete && img.naturalWidth > 0")


@pytest.mark.parametrize(("screen", "options"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_a_patient_sees_each_exercise_drawn_and_the_clinics_video_link(
        world: World, person: Person, screenshot_dir: Path, clinic_video: None,
        screen: str, options: dict[str, Any]) -> None:
    api, _ = refer(world, "Maja Lind", "maja")
    through_first_visit(world, api, "medium_start_back")
    page = person(**options)
    width = options["viewport"]["width"]
    log_in(page, "maja")

    today = page.locator(".action.exercise .exercise-list img.thumb")
    expect(today).to_have_count(5)
    for thumb in today.all():
        loaded(page, thumb)
        box = thumb.bounding_box()
        assert box is not None and (box["width"], box["height"]) == pytest.approx((72, 48))
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "sideways scrolling"
    page.screenshot(path=str(screenshot_dir / f"12-today-{screen}.png"), full_page=True)

    page.goto("/exercise")
    expect(page.get_by_role("heading", name="Your exercises")).to_be_visible()
    pictures = page.locator("article.exercise-card img.illustration")
    expect(pictures).to_have_count(5)
    walking = page.get_by_role("img", name="Walking: Short easy walks")
    expect(walking).to_be_visible()
    for picture in pictures.all():
        expect(picture).to_have_attribute("alt", re.compile(r"\w+: \w+"))
        loaded(page, picture)
        box = picture.bounding_box()
        assert box is not None and (box["width"], box["height"]) == pytest.approx((240, 160))
        assert box["x"] >= 0 and box["x"] + box["width"] <= width

    video = page.get_by_role("link", name="Watch a video of this exercise (Walking; opens in "
                                          "a new tab)")
    expect(video).to_have_count(1)
    expect(video).to_have_attribute("href", CLINIC_VIDEO)
    expect(video).to_have_attribute("rel", "noopener noreferrer")
    expect(video).to_have_attribute("target", "_blank")
    expect(video).to_have_text("Watch a video of this exercise (Walking; opens in a new tab)")
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "sideways scrolling"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshot_dir / f"11-exercise-pictures-{screen}.png"),
                    full_page=True)
