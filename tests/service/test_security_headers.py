"""Every answer carries the security headers: a Content-Security-Policy that runs no inline
script and loads nothing from elsewhere, no framing, no type sniffing, no referrer for other
sites; a route's own stricter policy is kept. Pages run no inline script, so the policy
costs them nothing (the browser test checks that they work under it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.core.security_headers import CONTENT_SECURITY_POLICY

from .conftest import World, page_login, soup

SERVICE = Path(__file__).resolve().parents[2] / "service"
TEMPLATES = sorted(SERVICE.glob("*/templates/**/*.html"))


def directives(policy: str) -> dict[str, list[str]]:
    parsed = [part.split() for part in policy.split(";") if part.strip()]
    return {words[0]: words[1:] for words in parsed}


@pytest.mark.parametrize("path", ["/login", "/docs", "/api/clinics", "/openapi.json",
                                  "/static/carepath.css", "/no-such-page"])
def test_every_answer_carries_the_security_headers(world: World, path: str) -> None:
    answer = world.client().get(path)
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"
    policy = directives(answer.headers["content-security-policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    # Nothing from another host: every source is this server, or data: for icons.
    assert {source for sources in policy.values() for source in sources} <= {
        "'self'", "'none'", "'unsafe-inline'", "data:"}
    assert "'unsafe-inline'" not in policy["script-src"] + policy["default-src"]
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_a_page_behind_a_login_carries_them_too(world: World) -> None:
    answer = page_login(world, "auditor").get("/audit")
    assert answer.status_code == 200
    assert directives(answer.headers["content-security-policy"])["script-src"] == ["'self'"]


def test_an_exercise_picture_keeps_its_own_stricter_policy(world: World) -> None:
    clinician = page_login(world, "physio")
    answer = clinician.get("/exercise-illustrations/back-extension")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-security-policy"] == "default-src 'none'; " \
                                                        "style-src 'unsafe-inline'"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers.get_list("content-security-policy") == [
        answer.headers["content-security-policy"]]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_no_template_has_an_inline_script_or_event_handler(template: Path) -> None:
    parsed = soup(type("Page", (), {"text": template.read_text()})())
    inline = [tag for tag in parsed.find_all("script")
              if not tag.get("src") and tag.get("type") != "application/json"]
    assert inline == []
    handlers = [(tag.name, name) for tag in parsed.find_all(True) for name in tag.attrs
                if name.lower().startswith("on")]
    assert handlers == []
    assert "javascript:" not in template.read_text()
