"""Settings: the config layers, computed defaults, and the README table documenting every setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from course_catalogue.web.app import create_app
from course_catalogue.web.settings import REPO_ROOT, SETTINGS, markdown_table


def _readme_settings() -> set[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Configuration\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, "README.md needs a '## Configuration' section"
    return set(re.findall(r"^\|\s*`([A-Z_]+)`\s*\|", match.group(1), re.M))


def test_every_setting_is_documented_in_the_readme_table() -> None:
    documented = _readme_settings()
    names = {s.name for s in SETTINGS}
    assert names - documented == set(), "add these to README's configuration table"
    assert documented - names == set(), "README documents settings that do not exist"


def test_every_setting_has_a_description() -> None:
    assert all(s.description.strip() for s in SETTINGS)
    assert markdown_table().count("\n") == len(SETTINGS) + 2


def test_defaults_follow_the_instance_path(tmp_path: Path) -> None:
    app = create_app(instance_path=str(tmp_path / "inst"))
    inst = tmp_path / "inst"
    assert app.config["DATABASE_URL"] == f"sqlite:///{inst / 'catalogue.db'}"
    assert app.config["DATA_DIR"] == str(inst / "data")
    assert app.config["INDEX_DIR"] == str(inst / "data" / "index")
    assert app.config["OPENSEARCH_URL"] is None
    assert app.config["PAGE_SIZE"] == 20
    assert app.config["WITHDRAW_GUARD_SHARE"] == 0.1 and app.config["WITHDRAW_GUARD_COUNT"] == 1000
    assert app.config["MAX_CONTENT_LENGTH"] == app.config["MAX_UPLOAD_BYTES"]
    assert not inst.exists(), "create_app must not create anything"


def test_layers_instance_file_then_env_then_test_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inst = tmp_path / "inst"
    inst.mkdir()
    (inst / "catalogue.toml").write_text(
        'page_size = 7\nDATA_DIR = "elsewhere"\nCORS_ORIGINS = ["https://a.example"]\n'
    )
    monkeypatch.setenv("CATALOGUE_INSTANCE_PATH", str(inst))
    assert create_app().config["PAGE_SIZE"] == 7
    assert create_app().config["INDEX_DIR"] == str(inst / "elsewhere" / "index")
    assert create_app().config["CORS_ORIGINS"] == ("https://a.example",)
    monkeypatch.setenv("CATALOGUE_PAGE_SIZE", "9")
    monkeypatch.setenv("CATALOGUE_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("CATALOGUE_CORS_ORIGINS", "https://b.example, https://c.example")
    app = create_app()
    assert app.config["PAGE_SIZE"] == 9
    assert app.config["ALLOW_PRIVATE_URLS"] is True
    assert app.config["CORS_ORIGINS"] == ("https://b.example", "https://c.example")
    assert create_app({"PAGE_SIZE": 11}).config["PAGE_SIZE"] == 11


def test_cors_headers_only_for_configured_origins_on_the_api(tmp_path: Path) -> None:
    # no maintenance thread: it would outlive the test (its store is never migrated)
    app = create_app(
        {"CORS_ORIGINS": "https://a.example", "BACKGROUND_SECONDS": 0}, instance_path=str(tmp_path)
    )
    client = app.test_client()
    allowed = client.get("/api/v1/nothing", headers={"Origin": "https://a.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://a.example"
    other = client.get("/api/v1/nothing", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
