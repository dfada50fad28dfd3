"""The API documentation in a real browser: Swagger UI draws the API from this server's
OpenAPI, and no request the page makes leaves the machine."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.browser.conftest import Person

LOCAL_SCHEMES = ("data", "blob")
"""URLs a browser resolves itself, without a request to anyone."""


def test_the_api_documentation_renders_without_a_request_leaving_the_machine(
        person: Person, screenshot_dir) -> None:  # type: ignore[no-untyped-def]
    page = person()
    requested: list[str] = []
    page.context.on("request", lambda request: requested.append(request.url))

    page.goto("/docs")
    expect(page.get_by_role("heading", name=re.compile(r"^carepath"))).to_be_visible()
    operation = page.locator(".opblock-summary", has_text="/api/tasks").first
    expect(operation).to_be_visible()
    operation.click()
    expect(page.get_by_role("button", name="Try it out").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(screenshot_dir / "api-docs.png"))

    assert any(urlsplit(url).path == "/openapi.json" for url in requested)
    assert any(urlsplit(url).path == "/static/vendor/swagger-ui-bundle.js" for url in requested)
    outside = [url for url in requested if urlsplit(url).scheme not in LOCAL_SCHEMES
               and urlsplit(url).hostname != "127.0.0.1"]
    assert outside == []
