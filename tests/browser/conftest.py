"""Browser tests: Debian's headless Chromium driven by Playwright (executable_path), against a
real server on loopback started by the fixture. Screenshots go to test-output/screenshots/.

Without Chromium these tests skip locally and fail in CI (CAREPATH_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.service.conftest import (  # noqa: F401  (fixtures reused by the browser tests)
    PASSWORD,
    LiveServer,
    World,
    fast_password_hashing,
    live_server,
    unavailable,
    world,
)

CHROMIUM = os.environ.get("CAREPATH_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


TIMEOUT_MS = 10_000
PHONE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}

Person = Callable[..., Page]


@pytest.fixture
def person(browser: Browser, live_server: LiveServer) -> Iterator[Person]:  # noqa: F811
    """A new person at the live server: their own browser context (cookies), one page."""
    contexts: list[BrowserContext] = []

    def open_page(**options: Any) -> Page:
        context = browser.new_context(base_url=live_server.url, **(options or DESKTOP))
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def log_in(page: Page, username: str, shot: Path | None = None) -> None:
    """Log in through the form and wait until the landing page has run its scripts.

    The landing page's heading is visible before its deferred scripts (htmx) have run; a
    filter changed in that gap fires no request, so the caller would wait for one in vain.
    """
    page.goto("/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    if shot is not None:
        page.screenshot(path=str(shot), full_page=True)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.wait_for_load_state("load")


def wait_until(page: Page | Locator, expression: str, timeout_ms: int = TIMEOUT_MS) -> None:
    """Wait until a JavaScript expression is true on the page (or a function of an element
    is true of it, for a locator). Playwright's own
    `wait_for_function` builds its check with `eval` inside the page, which the pages'
    Content-Security-Policy refuses (no 'unsafe-eval'); `evaluate` is not subject to it."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still not true after {timeout_ms} ms: {expression}"
        time.sleep(0.05)
