"""The API documentation (/docs) is Swagger UI served from our own node_modules: the page asks
no other site for anything, so it works on a machine without internet."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

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
    assert sorted(assets) == ["/static/vendor/swagger-ui-bundle.js",
                              "/static/vendor/swagger-ui-favicon.png",
                              "/static/vendor/swagger-ui.css"]
    # Same origin: a path, no scheme or host (nor a protocol-relative //host).
    assert [url for url in assets if urlsplit(url).netloc or urlsplit(url).scheme] == []
    assert "http://" not in page.text and "https://" not in page.text
    assert "url: '/openapi.json'" in page.text
    kinds = {url: client.get(url) for url in [*assets, "/openapi.json"]}
    assert {url: answer.status_code for url, answer in kinds.items()} == dict.fromkeys(kinds, 200)
    # (a script's type comes from the system's MIME table: text/ or application/javascript)
    assert {url: answer.headers["content-type"].split(";")[0].replace("application/javascript",
                                                                     "text/javascript")
            for url, answer in kinds.items()} == {
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
