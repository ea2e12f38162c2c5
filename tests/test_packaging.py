"""The installable product: build the wheel, install it (not editable) into a fresh virtualenv,
then `catalogue init`, `catalogue load-samples` and `catalogue serve` from an unrelated directory.

Offline by construction: the wheel is built with the dev venv's setuptools and Babel
(`--no-build-isolation`), installed with `--no-deps --no-index`, and the fresh venv reaches the
dependencies through a `.pth` line naming the dev venv's site-packages (a plain path line: the
dev venv's own `.pth` files, among them the editable install's finder, are not processed, so the
package imported is the wheel's). The instance folder must land in the user data directory
(`XDG_DATA_HOME`, pointed at a temporary folder here), never in the working directory or the
installed package. Never skipped: under CI=true it runs like everywhere else.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "course_catalogue", "templates", "samples")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo", "*.egg-info")

PRINT_PACKAGE = "import course_catalogue; print(course_catalogue.__file__)"

pytestmark = pytest.mark.wheel


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _source_copy(target: Path) -> Path:
    """The files a wheel is built from, copied (so parallel builds never share a build/ folder),
    with the sample feeds the registry names at their relative places."""
    target.mkdir(parents=True)
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=IGNORED)
        else:
            shutil.copy2(source, target / name)
    registry = tomllib.loads((ROOT / "samples" / "feeds.toml").read_text(encoding="utf-8"))
    for feed in registry["feeds"]:
        if "file" in feed:
            relative = (ROOT / "samples" / feed["file"]).resolve().relative_to(ROOT)
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / relative, target / relative)
    return target


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:  # our own local server
        return response.status, response.read().decode("utf-8")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """(the fresh venv's bin folder, the environment to run it in)."""
    base = tmp_path_factory.mktemp("wheel")
    tree = _source_copy(base / "src")
    dist = base / "dist"
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        dist,
        tree,
        cwd=base,
    )
    (wheel,) = dist.glob("course_catalogue-*.whl")
    venv = base / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=base)
    bin_dir = venv / "bin"
    purelib = _run(
        bin_dir / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=base
    )
    Path(purelib.strip(), "dev-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run(bin_dir / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel, cwd=base)
    home = base / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CATALOGUE_", "FLASK_"))}
    env.pop("PYTHONPATH", None)
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), PATH=f"{bin_dir}{os.pathsep}{env['PATH']}")
    yield bin_dir, env


def test_the_wheel_holds_the_package_its_templates_static_files_translations_and_samples(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bin_dir, env = installed
    where = _run(bin_dir / "python", "-c", PRINT_PACKAGE, cwd=tmp_path, env=env)
    package = Path(where.strip()).parent
    assert package.is_relative_to(bin_dir.parent), f"imported {package}, not the installed wheel"
    for resource in (
        "templates/search.html",
        "templates/dashboard/index.html",
        "web/static/catalogue.css",
        "web/static/vendor/leaflet/leaflet.js",
        "web/translations/fr/LC_MESSAGES/messages.mo",
        "samples/feeds.toml",
        "mappings/specs/edx-csv.toml",
        "catalogue/migrations/alembic.ini",
    ):
        assert (package / resource).is_file(), resource
    registry = tomllib.loads((package / "samples" / "feeds.toml").read_text(encoding="utf-8"))
    for feed in registry["feeds"]:
        if "file" in feed:
            assert (package / "samples" / feed["file"]).is_file(), feed["file"]


def test_init_load_samples_and_serve_from_any_directory(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bin_dir, env = installed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    instance = Path(env["XDG_DATA_HOME"]) / "course-catalogue"

    assert str(instance) in _run(bin_dir / "catalogue", "init", cwd=elsewhere, env=env)
    reports = json.loads(_run(bin_dir / "catalogue", "load-samples", "--json", cwd=elsewhere, env=env))
    assert reports and all(report["status"] == "succeeded" for report in reports)
    assert sum(report["counts"]["added"] for report in reports) > 0
    assert (instance / "catalogue.db").is_file()
    assert list(elsewhere.iterdir()) == [], "nothing may be written into the working directory"

    port = _free_port()
    server = subprocess.Popen(
        [bin_dir / "catalogue", "serve", "--port", str(port)],
        cwd=elsewhere,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                status, page = _get(f"{base}/?q=python")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the server did not start:\n{server.communicate()[0]}") from None
                time.sleep(0.5)
        assert status == 200 and "Python" in page
        status, body = _get(f"{base}/api/v1/search?q=python")
        assert status == 200 and json.loads(body)["total"] > 0
        assert _get(f"{base}/static/catalogue.css")[0] == 200
        status, french = _get(f"{base}/?lang=fr")
        assert status == 200 and 'lang="fr"' in french and "Recherche" in french  # the compiled .mo
    finally:
        server.terminate()
        output = server.communicate(timeout=60)[0]
    assert server.returncode == 0, output
    assert "Traceback" not in output, output
