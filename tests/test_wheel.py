"""The wheel stands on its own: built from the source distribution, installed (not editable)
in a fresh virtualenv with the locked dependencies and nothing else, carepath runs from a
directory outside the checkout with the content it ships.

Nothing here skips: a missing tool or an unreachable package index fails the test. The
dependencies come from the package index through pip's cache, so only a first run downloads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.request import urlopen

import pytest
import yaml

from tests.service.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = {"bpmn": "pathways/_content/bpmn", "education": "pathways/_content/education"}
"""Top-level folders of the repository, and where the wheel carries them."""


def run(command: list[str | Path], cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a command; a failure shows its output."""
    done = subprocess.run([str(part) for part in command], cwd=cwd, env=env, timeout=timeout,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, (f"{' '.join(map(str, command))} exited {done.returncode}\n"
                                  f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done


def clean_environment() -> dict[str, str]:
    """This process's environment without carepath's settings or a Python path, so the
    installed carepath runs on its defaults and cannot import the checkout."""
    return {name: value for name, value in os.environ.items()
            if not name.startswith("CAREPATH_") and name not in ("PYTHONPATH", "PYTHONHOME")}


def source_files(*folders: str) -> list[str]:
    """The checkout's files as a commit would take them: tracked or new, and not ignored."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
                  *folders], cwd=ROOT).stdout
    return sorted({name for name in listed.split("\0") if name and (ROOT / name).is_file()})


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built with this environment's setuptools from a copy of the source files
    (so nothing a build left in the checkout, such as an old egg-info file list, can stand
    in for a declaration), through a source distribution as `python -m build` does: what
    the source distribution leaves out, the wheel lacks too."""
    source = tmp_path_factory.mktemp("source")
    for name in source_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, source],
        cwd=source)
    wheels = list(dist.glob("carepath-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@dataclass(frozen=True)
class Installed:
    venv: Path
    outside: Path
    """A directory outside the checkout to run commands in."""

    @property
    def carepath(self) -> Path:
        return self.venv / "bin" / "carepath"

    def python(self, code: str) -> str:
        return run([self.venv / "bin" / "python", "-c", code], cwd=self.outside,
                   env=clean_environment()).stdout.strip()


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A fresh virtualenv (none of this one's packages) with the runtime lock and the wheel.
    pip runs from this environment against the new one (`--python`), so the new one needs
    no pip of its own."""
    venv = tmp_path_factory.mktemp("wheel-venv")
    run([sys.executable, "-m", "venv", "--clear", "--without-pip", venv], cwd=venv)
    pip = [sys.executable, "-m", "pip", "--python", venv / "bin" / "python",
           "--disable-pip-version-check", "--no-input", "-q"]
    run([*pip, "install", "--require-hashes", "-r", ROOT / "requirements.lock"], cwd=venv)
    run([*pip, "install", "--no-deps", "--no-index", wheel], cwd=venv)
    # The wheel's own dependencies are all there: the lock is not missing any of them.
    run([*pip, "check"], cwd=venv)
    return Installed(venv, tmp_path_factory.mktemp("elsewhere"))


def test_the_wheel_carries_every_file_of_the_packages_and_the_shipped_content(
        wheel: Path) -> None:
    expected = set()
    for name in source_files("pathways", "service", *SHIPPED):
        top, _, rest = name.partition("/")
        expected.add(f"{SHIPPED[top]}/{rest}" if top in SHIPPED else name)
    with zipfile.ZipFile(wheel) as archive:
        carried = set(archive.namelist())
    assert sorted(expected - carried) == []
    # and nothing from outside the packages (tests, benchmarks, scripts)
    assert sorted(n for n in carried if not n.startswith(("pathways/", "service/",
                                                          "carepath-"))) == []


def test_the_installed_package_is_the_one_that_runs(installed: Installed) -> None:
    where = installed.python("import pathways.content, service.cli; "
                             "print(pathways.content.ROOT); print(service.cli.__file__)")
    content_root, cli = where.splitlines()
    site_packages = next(installed.venv.glob("lib/python3*/site-packages"))
    assert Path(content_root) == site_packages / "pathways" / "_content"
    assert Path(cli).is_relative_to(site_packages)


def test_the_installed_carepath_validates_its_shipped_bundle(installed: Installed) -> None:
    bundle = installed.python("from pathways.content import REFERENCE_BUNDLE; "
                              "print(REFERENCE_BUNDLE)")
    assert Path(bundle).is_relative_to(installed.venv)
    done = run([installed.carepath, "validate", bundle], cwd=installed.outside,
               env=clean_environment())
    assert done.stdout.strip() == f"ok: {bundle}"


def test_the_installed_carepath_simulates_every_case_of_the_reference_pathway(
        installed: Installed) -> None:
    cases = yaml.safe_load((ROOT / "bpmn/betterback/cases.yaml").read_text())["cases"]
    done = run([installed.carepath, "simulate"], cwd=installed.outside,
               env=clean_environment())
    lines = done.stdout.splitlines()
    assert [line.removeprefix("== ") for line in lines if line.startswith("== ")] == [
        case["name"] for case in cases]
    assert "event risk_stratified" in done.stdout
    assert lines[-1] == f"{len(cases)} cases simulated, 0 problem(s)"


def test_the_installed_carepath_migrates_a_database_and_deploys_the_reference_pathway(
        installed: Installed) -> None:
    database = installed.outside / "carepath.sqlite3"
    env = {**clean_environment(), "CAREPATH_DATABASE_URL": f"sqlite:///{database}"}
    done = run([installed.carepath, "db", "upgrade"], cwd=installed.outside, env=env)
    assert done.stdout.strip() == f"database is up to date: sqlite:///{database}"
    deployed = run([installed.venv / "bin" / "python", "-c",
                    "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("
                    "'SELECT count(*) FROM model_versions').fetchone()[0])", database],
                   cwd=installed.outside, env=env).stdout.strip()
    assert deployed == "1"


def test_the_installed_carepath_serves_its_pages_and_the_api_documentation(
        installed: Installed) -> None:
    """The pages' templates and our static files come with the wheel; the browser libraries
    (Swagger UI for /docs among them) come from the node_modules the setting names."""
    port = free_port()
    env = {**clean_environment(),
           "CAREPATH_DATABASE_URL": f"sqlite:///{installed.outside / 'served.sqlite3'}",
           "CAREPATH_NODE_MODULES": str(ROOT / "node_modules"),
           "CAREPATH_EMBEDDED_WORKER": "false"}
    server = subprocess.Popen([str(installed.carepath), "serve", "--port", str(port)],
                              cwd=installed.outside, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urlopen(f"{base}/healthz", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    raise AssertionError(f"carepath serve did not start:\n"
                                         f"{server.communicate()[0]}") from None
                time.sleep(0.2)
        for path, content_type, text in [
                ("/login", "text/html", "Log in"),
                ("/static/carepath.css", "text/css", ""),
                ("/static/vendor/htmx.min.js", "javascript", ""),
                ("/docs", "text/html", "/static/vendor/swagger-ui-bundle.js"),
                ("/static/vendor/swagger-ui-bundle.js", "javascript", "SwaggerUIBundle"),
                ("/static/vendor/swagger-ui.css", "text/css", ".swagger-ui")]:
            with urlopen(base + path, timeout=10) as answer:
                assert (path, answer.status) == (path, 200)
                assert content_type in answer.headers["content-type"], path
                assert text in answer.read().decode(), path
    finally:
        server.terminate()
        server.communicate(timeout=30)
