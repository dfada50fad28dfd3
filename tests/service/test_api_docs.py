"""The API documentation (/docs) is Swagger UI served from our own node_modules: the page asks
no other site for anything, so it works on a machine without internet."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .conftest import World, soup


def assets_of(page: object) -> list[str]:
    """Every URL the page's markup loads: scripts, stylesheets, icons."""
    parsed = soup(page)
    return ([tag["src"] for tag in parsed.find_all("script", src=True)]
            + [tag["href"] for tag in parsed.find_all("link", href=True)])


def test_the_api_documentation_loads_every_asset_from_this_server(world: World) -> None:
    client = world.client()
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assets = assets_of(page)
    assert sorted(assets) == ["/static/api-docs.js", "/static/vendor/swagger-ui-bundle.js",
                              "/static/vendor/swagger-ui-favicon.png",
                              "/static/vendor/swagger-ui.css"]
    # Same origin: a path, no scheme or host (nor a protocol-relative //host).
    assert [url for url in assets if urlsplit(url).netloc or urlsplit(url).scheme] == []
    assert "http://" not in page.text and "https://" not in page.text
    assert soup(page).find(id="swagger-ui")["data-openapi-url"] == "/openapi.json"
    kinds = {url: client.get(url) for url in [*assets, "/openapi.json"]}
    assert {url: answer.status_code for url, answer in kinds.items()} == dict.fromkeys(kinds, 200)
    # (a script's type comes from the system's MIME table: text/ or application/javascript)
    assert {url: answer.headers["content-type"].split(";")[0].replace("application/javascript",
                                                                     "text/javascript")
            for url, answer in kinds.items()} == {
        "/static/api-docs.js": "text/javascript",
        "/static/vendor/swagger-ui-bundle.js": "text/javascript",
        "/static/vendor/swagger-ui.css": "text/css",
        "/static/vendor/swagger-ui-favicon.png": "image/png",
        "/openapi.json": "application/json"}


def test_fastapi_s_cdn_pages_are_not_offered(world: World) -> None:
    client = world.client()
    assert client.get("/redoc").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 404


def test_the_browser_libraries_are_read_from_the_node_modules_setting(
        world: World, tmp_path: Path) -> None:
    """An installed wheel has no node_modules beside it: CAREPATH_NODE_MODULES points at one."""
    client = world.client()
    assert client.get("/static/vendor/swagger-ui.css").status_code == 200
    world.settings.node_modules = tmp_path
    missing = client.get("/static/vendor/swagger-ui.css")
    assert missing.status_code == 404
    assert "run `npm ci`" in missing.text
    (tmp_path / "swagger-ui-dist").mkdir()
    (tmp_path / "swagger-ui-dist" / "swagger-ui.css").write_text("/* ours */")
    assert client.get("/static/vendor/swagger-ui.css").text == "/* ours */"


PUBLIC = {("get", "/api/clinics"), ("post", "/api/self-referrals"), ("post", "/api/auth/token"),
          ("post", "/api/auth/login"), ("post", "/api/auth/logout")}
ERROR_REF = {"$ref": "#/components/schemas/ErrorPublic"}


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, operation) for path, methods in schema["paths"].items()
            for method, operation in methods.items()]


def test_every_operation_documents_the_errors_it_can_answer_in_the_one_error_shape(
        world: World) -> None:
    schema = world.client().get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert components["ErrorPublic"]["required"] == ["error"]
    assert set(components["ErrorDetail"]["properties"]) == {"code", "message", "fields"}
    assert set(components["FieldError"]["properties"]) == {"field", "message"}
    assert "HTTPValidationError" not in components  # FastAPI's shape is not what we answer
    found = operations(schema)
    assert len(found) > 50
    # The OpenAPI is the JSON API's: pages are not in it.
    assert [path for _, path, _ in found if not path.startswith("/api/")] == []
    assert {(method, path) for method, path, op in found if op.get("security") == []} == PUBLIC
    for method, path, operation in found:
        responses = operation["responses"]
        errors = {status for status in responses if status.startswith("4")}
        expected = {"422"}
        if "requestBody" in operation:
            expected.add("413")
        if method != "get":
            expected.add("409")
        if (method, path) not in PUBLIC:
            expected |= {"401", "403"}
        if "{" in path:
            expected.add("404")
        assert expected <= errors, f"{method} {path}: {sorted(expected - errors)} missing"
        for status in errors:
            assert responses[status]["content"] == {"application/json": {"schema": ERROR_REF}}
            assert responses[status]["description"]
    documented = {(method, path): set(op["responses"]) for method, path, op in found}
    assert {"401", "429"} <= documented[("post", "/api/auth/token")]
    assert "429" in documented[("post", "/api/self-referrals")]
    assert "401" not in documented[("get", "/api/clinics")]
    assert "404" not in documented[("get", "/api/me")]
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_an_error_answer_has_the_documented_shape(world: World) -> None:
    answer = world.client().post("/api/auth/token", json={"username": "x"})
    assert answer.status_code == 422
    assert set(answer.json()) == {"error"}
    assert set(answer.json()["error"]) == {"code", "message", "fields"}
    assert answer.json()["error"]["fields"][0] == {"field": "password",
                                                  "message": "Field required"}


def test_a_method_not_allowed_names_the_allowed_ones(world: World) -> None:
    client = world.client("physio")
    answer = client.delete("/api/tasks")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET"
    assert answer.json()["error"]["code"] == "http_error"
    page = client.put("/worklist")
    assert page.status_code == 405
    assert page.headers["allow"] == "GET"


@pytest.mark.parametrize("path", ["/api/audit/indicators", "/api/audit/conformance",
                                  "/api/audit/exports/events.csv", "/audit",
                                  "/audit/conformance"])
@pytest.mark.parametrize("start", ["0", "1700000000", "20260131", "2026-01-31T00:00:00"])
def test_a_date_is_only_a_date_written_yyyy_mm_dd(world: World, path: str, start: str) -> None:
    client = world.client("auditor")
    refused = client.get(path, params={"start": start})
    assert refused.status_code == 422, refused.text
    if path.startswith("/api/"):
        assert refused.json()["error"]["fields"] == [
            {"field": "query.start", "message": "write the date as YYYY-MM-DD, e.g. 2026-01-31"}]
    assert client.get(path, params={"start": "2025-06-01"}).status_code == 200
