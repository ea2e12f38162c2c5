"""Source parameters through the three interfaces that register sources: the JSON API, the CLI
and the dashboard form, all validated by `catalogue.sources.check_parameters`."""

from __future__ import annotations

from flask.testing import FlaskCliRunner

from course_catalogue.services.runtime import get_services
from course_catalogue.web.cli import main
from tests.services.test_source_parameters import FEED
from tests.web.publishing import World, world
from tests.web.test_dashboard import csrf_of, log_in

__all__ = ["world"]


def test_the_api_registers_changes_and_removes_parameters(world: World) -> None:
    zed = world.auth("zed")
    body = {"id": "college", "format": "xcri-cap", "mapping": "xcri-cap", "parameters": {"framework": "scqf"}}
    created = world.client.post("/api/v1/sources", json=body, headers=zed)
    assert created.status_code == 201 and created.get_json()["parameters"] == {"framework": "SCQF"}

    pushed = world.client.post(
        "/api/v1/sources/college/feed?dry_run=false",
        data=FEED,
        headers={**zed, "Content-Type": "application/xml"},
    )
    assert pushed.status_code == 200, pushed.get_json()
    course = world.client.get("/api/v1/courses/" + _course_id(world, "p1")).get_json()["course"]
    assert course["eqf_level"] == 4  # "Level 6" read as SCQF 6

    changed = world.client.patch(
        "/api/v1/sources/college", json={"parameters": {"country": "GB", "hours_per_ects": 30}}, headers=zed
    )
    assert changed.get_json()["parameters"] == {"framework": "SCQF", "country": "GBR", "hours_per_ects": 30}
    one_less = world.client.patch(
        "/api/v1/sources/college", json={"parameters": {"country": None}}, headers=zed
    )
    assert one_less.get_json()["parameters"] == {"framework": "SCQF", "hours_per_ects": 30}
    cleared = world.client.patch("/api/v1/sources/college", json={"parameters": None}, headers=zed)
    assert cleared.get_json()["parameters"] == {}
    assert "parameters" not in world.store.get_source("college").settings


def test_the_api_refuses_a_bad_parameter_naming_it(world: World) -> None:
    zed = world.auth("zed")
    for parameters, named in (
        ({"framework": "Klingon"}, "parameters.framework"),
        ({"currency": "pounds"}, "parameters.currency"),
        ({"speed": 1}, "speed"),
        ("SCQF", "parameters must be an object"),
    ):
        body = {"id": "college", "format": "xcri-cap", "mapping": "xcri-cap", "parameters": parameters}
        response = world.client.post("/api/v1/sources", json=body, headers=zed)
        error = response.get_json()["error"]
        assert response.status_code == 400 and error["code"] == "bad_request" and named in error["message"]
    patched = world.client.patch(
        "/api/v1/sources/zed-feed", json={"parameters": {"hours_per_ects": 0}}, headers=zed
    )
    assert (
        patched.status_code == 400 and "parameters.hours_per_ects" in patched.get_json()["error"]["message"]
    )


def _course_id(world: World, ref: str) -> str:
    return next(
        s.course.id
        for s in world.store.iter_courses(source_id="college")
        if s.course.provenance.provider_ref == ref
    )


def test_the_cli_sets_shows_keeps_and_removes_parameters(runner: FlaskCliRunner) -> None:
    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args))
        assert result.exit_code == code, (result.output, result.exception)
        return result.output

    added = run(
        "sources",
        "add",
        "college",
        "--format",
        "xcri-cap",
        "--mapping",
        "xcri-cap",
        "--framework",
        "scqf",
        "--currency",
        "gbp",
    )
    assert "framework SCQF" in added and "currency GBP" in added
    run(
        "sources",
        "add",
        "college",
        "--format",
        "xcri-cap",
        "--mapping",
        "xcri-cap",
        "--country",
        "GB",
        "--currency",
        "",
    )
    shown = run("sources", "show", "college")
    assert "framework       SCQF" in shown and "country         GBR" in shown and "currency" not in shown
    bad = run("sources", "add", "college", "--mapping", "xcri-cap", "--language", "Klingon", code=1)
    assert "parameters.language" in bad
    store = get_services(runner.app).store
    assert store.get_source("college").settings["parameters"] == {"framework": "SCQF", "country": "GBR"}


def test_the_dashboard_form_registers_parameters(world: World) -> None:
    client = log_in(world, "zed")
    csrf = csrf_of(client, "/dashboard/sources/new")
    form = {"id": "college", "format": "xcri-cap", "mapping": "xcri-cap", "csrf_token": csrf}
    page = client.get("/dashboard/sources/new").get_data(as_text=True)
    assert '<option value="SCQF"' in page and 'name="hours_per_ects"' in page
    bad = client.post("/dashboard/sources/new", data={**form, "currency": "quid"})
    assert bad.status_code == 400 and "parameters.currency" in bad.get_data(as_text=True)
    good = client.post(
        "/dashboard/sources/new", data={**form, "framework": "SCQF", "country": "GBR", "currency": ""}
    )
    assert good.status_code == 303
    assert world.store.get_source("college").settings["parameters"] == {"framework": "SCQF", "country": "GBR"}
    shown = client.get("/dashboard/sources/college").get_data(as_text=True)
    assert 'framework <span class="code">SCQF</span>' in shown
