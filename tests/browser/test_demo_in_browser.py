"""The demo looks like a real clinic: a patient who exercises sees most of the last week's days
done on their week strip, one who does not sees them missed (the "no exercise logged" badges
are checked in tests/service/test_demo.py)."""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import col, update

from service.core.db import transaction
from service.core.tables import User
from service.demo.data import load_demo
from tests.browser.conftest import DESKTOP, PHONE, Person
from tests.service.conftest import World

EXERCISER, NON_EXERCISER = ("weekly exercise, 10 weeks in",
                            "weekly exercise, 1 week in, not exercising")


def _log_in(page: Page, username: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_the_demos_week_strips_tell_who_exercises(
        world: World, person: Person, screenshot_dir: Path,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("service.demo.data.ROOT", tmp_path)  # the credentials file
    with transaction(world.db, write=True) as session:  # the demo brings its own staff
        session.exec(update(User).values(username="test-" + col(User.username)))
    with contextlib.redirect_stdout(io.StringIO()):
        result = load_demo(world.db, world.settings)
    world.clock.set(max(result.now, datetime.now(UTC)))
    login = {about: (username, password) for role, username, password, about
             in result.credentials if role == "patient"}
    for about, options, size, least, most in ((EXERCISER, DESKTOP, "1280", 3, 7),
                                              (NON_EXERCISER, PHONE, "375", 0, 0)):
        page = person(**options)
        _log_in(page, *login[about])
        strip = page.get_by_role("list", name="Exercise in the last 7 days")
        expect(strip.get_by_role("listitem")).to_have_count(7)
        done = strip.get_by_role("listitem").filter(has_text="done").count()
        assert least <= done <= most, (about, done)
        if not most:
            expect(strip.get_by_role("listitem").filter(has_text="missed").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= int(size)
        page.screenshot(path=str(screenshot_dir / f"demo-today-{size}.png"), full_page=True)
