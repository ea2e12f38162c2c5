"""The JSON API on the harvested edX fixture: search, facets, paging, filters, records, sources, runs."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from course_catalogue.services.runtime import get_services

EDX_TITLE = "How to Learn Online"


def get_json(client: FlaskClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def facet(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in body["facets"] if f["name"] == name)


def test_search_without_query_lists_every_active_course(edx_client: FlaskClient) -> None:
    body = get_json(edx_client, "/api/v1/search")
    active = get_services(edx_client.application).store.count_courses()
    assert body["total"] == active > 900
    assert body["page"] == 1
    assert body["page_size"] == 20
    assert body["pages"] == -(-active // 20)
    assert len(body["hits"]) == 20
    assert body["query"] == {"q": "", "filters": {}, "sort": "relevance", "include_past": False}
    assert body["links"]["prev"] is None
    assert body["links"]["next"] == "/api/v1/search?cursor=" + body["next_cursor"]
    assert {f["name"] for f in body["facets"]} >= {"country", "eqf", "language", "mode", "provider"}


def test_hits_carry_card_fields_and_links(edx_client: FlaskClient) -> None:
    hit = get_json(edx_client, "/api/v1/search?q=" + EDX_TITLE.replace(" ", "+"))["hits"][0]
    assert hit["title"] == EDX_TITLE
    assert hit["provider"]
    assert hit["links"] == {"self": f"/api/v1/courses/{hit['id']}", "html": f"/courses/{hit['id']}"}
    assert isinstance(hit["score"], float)


def test_facet_values_have_labels_counts_and_toggle_urls(edx_client: FlaskClient) -> None:
    body = get_json(edx_client, "/api/v1/search")
    languages = facet(body, "language")
    assert languages["label"] == "Language"
    english = next(v for v in languages["values"] if v["value"] == "en")
    assert english["label"] == "English"
    assert english["count"] > 0
    assert english["selected"] is False
    assert english["toggle_url"] == "/api/v1/search?language=en"


def test_filter_narrows_to_the_facet_count_and_its_toggle_url_undoes_it(edx_client: FlaskClient) -> None:
    everything = get_json(edx_client, "/api/v1/search")
    value = facet(everything, "language")["values"][0]
    filtered = get_json(edx_client, value["toggle_url"])
    assert filtered["total"] == value["count"]
    assert filtered["query"]["filters"] == {"language": [value["value"]]}
    selected = next(v for v in facet(filtered, "language")["values"] if v["value"] == value["value"])
    assert selected["selected"] is True
    assert get_json(edx_client, selected["toggle_url"])["total"] == everything["total"]


def test_values_of_one_filter_are_ored_and_filters_are_anded(edx_client: FlaskClient) -> None:
    values = facet(get_json(edx_client, "/api/v1/search"), "language")["values"][:2]
    assert len(values) == 2
    either = get_json(
        edx_client, f"/api/v1/search?language={values[0]['value']}&language={values[1]['value']}"
    )
    assert either["total"] == values[0]["count"] + values[1]["count"]  # one language per edX course
    assert parse_qs(urlsplit(either["links"]["self"]).query)["language"] == [v["value"] for v in values]
    mode = facet(either, "mode")["values"][0]
    both = get_json(edx_client, mode["toggle_url"])
    assert both["total"] == mode["count"] <= either["total"]


def test_paging_walks_distinct_hits(edx_client: FlaskClient) -> None:
    first = get_json(edx_client, "/api/v1/search?page_size=5")
    second = get_json(edx_client, first["links"]["next"])
    assert second["page"] == 2 and second["page_size"] == 5
    assert first["links"]["next"] == "/api/v1/search?page_size=5&cursor=" + first["next_cursor"]
    assert second["links"]["prev"] == "/api/v1/search?page_size=5"
    assert {h["id"] for h in first["hits"]}.isdisjoint(h["id"] for h in second["hits"])
    last = get_json(edx_client, first["links"]["last"])
    assert last["links"]["next"] is None
    assert 1 <= len(last["hits"]) <= 5


def test_facets_parameter_counts_only_the_named_facets_and_links_keep_it(edx_client: FlaskClient) -> None:
    everything = get_json(edx_client, "/api/v1/search?language=en")
    body = get_json(edx_client, "/api/v1/search?language=en&facets=mode,language&facets=provider")
    assert [f["name"] for f in body["facets"]] == ["language", "mode", "provider"]
    assert body["query"]["facets"] == ["mode", "language", "provider"]
    counted = [(v["value"], v["count"]) for v in facet(body, "mode")["values"]]
    assert counted == [(v["value"], v["count"]) for v in facet(everything, "mode")["values"]]
    assert [h["id"] for h in body["hits"]] == [h["id"] for h in everything["hits"]]
    # paging and toggling keep the choice of facets
    assert "facets=mode,language,provider&" in body["links"]["next"]
    toggled = get_json(edx_client, facet(body, "mode")["values"][0]["toggle_url"])
    assert [f["name"] for f in toggled["facets"]] == ["language", "mode", "provider"]
    none = get_json(edx_client, "/api/v1/search?language=en&facets=")
    assert none["facets"] == [] and none["total"] == everything["total"]


def test_sort_by_title_orders_hits(edx_client: FlaskClient) -> None:
    body = get_json(edx_client, "/api/v1/search?sort=title&language=en&page_size=30")
    assert body["query"]["sort"] == "title"
    assert body["links"]["next"].startswith("/api/v1/search?language=en&sort=title&page_size=30&cursor=")
    titles = [h["title"] for h in body["hits"]]
    assert titles == sorted(titles, key=str.casefold)


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("page=abc", "page"),
        ("page=0", "page"),
        ("page_size=1000", "page_size"),
        ("sort=cheapest", "sort"),
        ("ects=lots", "ects"),
        ("colour=blue", "colour"),
        ("include_past=maybe", "include_past"),
        ("facets=country,colour", "unknown facet 'colour'"),
        ("q=" + "x" * 600, "longer"),
    ],
)
def test_bad_parameters_are_400_in_the_error_shape(
    edx_client: FlaskClient, query: str, fragment: str
) -> None:
    body = get_json(edx_client, f"/api/v1/search?{query}", status=400)
    assert body["error"]["status"] == 400
    assert body["error"]["code"] == "invalid_query"
    assert fragment in body["error"]["message"]


def test_course_detail_has_record_labels_and_provenance(edx_client: FlaskClient) -> None:
    hit = get_json(edx_client, "/api/v1/search?q=" + EDX_TITLE.replace(" ", "+"))["hits"][0]
    body = get_json(edx_client, hit["links"]["self"])
    course = body["course"]
    assert course["id"] == hit["id"]
    assert course["title"]["en"] == EDX_TITLE
    assert body["status"] == "active"
    assert body["labels"]["languages"] == {"en": "English"}
    assert set(body["labels"]) >= {"country", "countries", "eqf_level", "modes", "isced_f", "schedule"}
    prov = body["provenance"]
    assert prov["source"]["id"] == "edx"
    assert prov["source"]["name"] == "edX course catalogue (2020 scrape)"
    assert prov["provider_ref"] == course["provenance"]["provider_ref"]
    assert prov["harvested_at"] and prov["last_changed"] and prov["first_seen"]
    assert body["links"]["run"] == f"/api/v1/runs/{prov['run_id']}"
    assert body["links"]["html"] == f"/courses/{course['id']}"


def test_unknown_course_is_404_in_the_error_shape(edx_client: FlaskClient) -> None:
    body = get_json(edx_client, "/api/v1/courses/does-not-exist", status=404)
    assert body["error"]["code"] == "not_found"
    assert "does-not-exist" in body["error"]["message"]


def test_sources_list_counts_courses_and_shows_the_last_run(edx_client: FlaskClient) -> None:
    (source,) = get_json(edx_client, "/api/v1/sources")["sources"]
    assert source["id"] == "edx"
    assert source["format"] == "csv" and source["mapping"] == "edx-csv"
    assert source["courses"] == get_services(edx_client.application).store.count_courses(source_id="edx")
    assert source["last_run"]["status"] == "succeeded"
    assert "issues" not in source["last_run"]
    assert source["links"]["runs"] == "/api/v1/sources/edx/runs"
    assert get_json(edx_client, "/api/v1/sources/edx")["id"] == "edx"


def test_source_runs_and_run_report(edx_client: FlaskClient) -> None:
    runs = get_json(edx_client, "/api/v1/sources/edx/runs")["runs"]
    assert len(runs) == 1
    report = get_json(edx_client, runs[0]["links"]["self"])
    assert report["run_id"] == runs[0]["run_id"]
    assert report["source_id"] == "edx"
    assert report["status"] == "succeeded"
    assert report["counts"]["added"] == get_services(edx_client.application).store.count_courses()
    # the fixture lists one course twice: the run says so instead of counting it twice
    assert any(i["code"] == "duplicate-record" for i in report["issues"])
    assert all({"severity", "message", "record_ref", "pointer"} <= set(i) for i in report["issues"])


@pytest.mark.parametrize(
    "url", ["/api/v1/sources/nope", "/api/v1/sources/nope/runs", "/api/v1/runs/99999", "/api/v1/runs/abc"]
)
def test_unknown_sources_and_runs_are_404(edx_client: FlaskClient, url: str) -> None:
    assert get_json(edx_client, url, status=404)["error"]["code"] == "not_found"


def test_runs_limit_is_validated(edx_client: FlaskClient) -> None:
    assert (
        get_json(edx_client, "/api/v1/sources/edx/runs?limit=0", status=400)["error"]["code"]
        == "invalid_query"
    )


def test_run_report_summarises_and_filters_issues_by_severity(edx_client: FlaskClient) -> None:
    run_id = get_json(edx_client, "/api/v1/sources/edx/runs")["runs"][0]["run_id"]
    full = get_json(edx_client, f"/api/v1/runs/{run_id}")
    summary = full["issue_summary"]
    assert sum(summary["by_severity"].values()) == len(full["issues"])
    assert any(k["code"] == "duplicate-record" and k["count"] == 1 for k in summary["by_kind"])
    warnings = get_json(edx_client, f"/api/v1/runs/{run_id}?severity=warning")["issues"]
    assert len(warnings) == summary["by_severity"]["warning"] > 0
    assert {i["severity"] for i in warnings} == {"warning"}
    bad = get_json(edx_client, f"/api/v1/runs/{run_id}?severity=fatal", status=400)
    assert bad["error"]["code"] == "invalid_query"


def test_api_index_and_health(edx_client: FlaskClient) -> None:
    links = get_json(edx_client, "/api/v1/")["links"]
    assert links["course"] == "/api/v1/courses/{id}"
    assert get_json(edx_client, links["search"])["total"] > 0
    health = get_json(edx_client, links["health"])
    assert health["status"] == "ok"
    active = get_services(edx_client.application).store.count_courses()
    assert health["courses"] == health["indexed"] == active  # no withdrawn tombstones in this fixture
