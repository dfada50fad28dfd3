"""The request log: one line per request with method, route, status and time, and nothing a
person typed or is: no ids, no query strings, no tokens, no names."""

from __future__ import annotations

import logging
import re

import pytest

from tests.service.conftest import PASSWORD, World, page_login, refer

LINE = re.compile(r"^(GET|POST|PATCH) (.+) (\d{3}) \d+\.\d ms$")


def test_each_request_logs_its_route_status_and_time_and_no_ids_or_tokens(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    _patient, episode = refer(world, "Greta Garbo", "greta")
    clinician = page_login(world, "physio")
    api = world.client("physio")
    token = api.headers["Authorization"].split()[1]
    with caplog.at_level(logging.INFO, logger="carepath.requests"):
        assert clinician.get(f"/patients/{episode}?tab=greta").status_code == 200
        assert api.get(f"/api/episodes/{episode}/timeline").status_code == 200
        assert api.get("/api/episodes/999999").status_code == 404
        assert clinician.get("/no/such/page/greta").status_code == 404
        assert clinician.get("/static/carepath.css").status_code == 200
        assert api.post("/api/auth/token", json={"username": "physio",
                                                 "password": PASSWORD}).status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "carepath.requests"]
    parsed = [LINE.match(line) for line in lines]
    assert [m.groups() if m else line for m, line in zip(parsed, lines, strict=True)] == [
        ("GET", "/patients/{episode_id}", "200"),
        ("GET", "/api/episodes/{episode_id}/timeline", "200"),
        ("GET", "/api/episodes/{episode_id}", "404"),
        ("GET", "(no route)", "404"),
        ("GET", "/static/carepath.css", "200"),
        ("POST", "/api/auth/token", "200"),
    ]
    routes = " ".join(m.group(2) for m in parsed if m)  # the rest is method, status, time
    for secret in (str(episode), "999999", "greta", "Greta", "tab", token, PASSWORD, "physio"):
        assert secret not in routes


def test_the_log_is_silent_unless_a_handler_shows_it(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    """Tests and embedders see nothing (the logger's level stays at the root's WARNING);
    `carepath serve` turns it on (service.core.request_log.log_to_stderr)."""
    with caplog.at_level(logging.WARNING):
        assert world.client().get("/healthz").status_code == 200
    assert not [r for r in caplog.records if r.name == "carepath.requests"]
