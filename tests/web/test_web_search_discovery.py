"""Search on the edX fixture: ISCED drill-down, schedule, start date, cursor links, geo parameters."""

from __future__ import annotations

from flask.testing import FlaskClient

from course_catalogue.web.facets import toggled
from tests.web.test_web_api import facet, get_json


def test_cursor_links_walk_every_hit_once(edx_client: FlaskClient) -> None:
    first = get_json(edx_client, "/api/v1/search?sort=title&page_size=50")
    seen = [h["id"] for h in first["hits"]]
    body = first
    for _ in range(3):
        body = get_json(edx_client, body["links"]["next"])
        seen += [h["id"] for h in body["hits"]]
    assert len(seen) == len(set(seen)) == 200
    assert body["page"] == 4 and body["links"]["prev"] == "/api/v1/search?sort=title&page_size=50&page=3"
    by_page = get_json(edx_client, "/api/v1/search?sort=title&page_size=50&page=4")
    assert [h["id"] for h in by_page["hits"]] == seen[150:]


def test_cursor_of_another_search_and_junk_are_a_400(edx_client: FlaskClient) -> None:
    cursor = get_json(edx_client, "/api/v1/search?sort=title")["next_cursor"]
    error = get_json(edx_client, f"/api/v1/search?sort=price&cursor={cursor}", status=400)
    assert "cursor" in error["error"]["message"]
    # junk is no longer a silent first page (issue 22, class 19; tests/web/test_cursors.py)
    assert "cursor" in get_json(edx_client, "/api/v1/search?cursor=junk", status=400)["error"]["message"]


def test_isced_drill_down_is_nested_under_the_broad_field(edx_client: FlaskClient) -> None:
    everything = get_json(edx_client, "/api/v1/search")
    assert facet(everything, "field_narrow")["values"] == []
    assert facet(everything, "field_narrow")["parent"] == "field"
    broad = facet(everything, "field")["values"][0]
    chosen = get_json(edx_client, broad["toggle_url"])
    narrow = facet(chosen, "field_narrow")["values"]
    assert narrow and all(v["value"].startswith(broad["value"]) for v in narrow)
    deeper = get_json(edx_client, narrow[0]["toggle_url"])
    assert deeper["total"] == narrow[0]["count"]
    detailed = facet(deeper, "field_detailed")["values"]
    assert all(v["value"].startswith(narrow[0]["value"]) for v in detailed)
    # switching the broad field off drops the narrow selection under it
    off = next(v for v in facet(deeper, "field")["values"] if v["value"] == broad["value"])
    assert get_json(edx_client, off["toggle_url"])["query"]["filters"] == {}


def test_toggled_drops_only_descendants() -> None:
    filters = {"field": ("05", "06"), "field_narrow": ("054", "061"), "field_detailed": ("0613",)}
    assert toggled(filters, "field", "06") == {
        "field": ("05",),
        "field_narrow": ("054",),
        "field_detailed": (),
    }
    assert toggled(filters, "field_narrow", "054")["field_detailed"] == ("0613",)


def test_schedule_and_start_facets_are_listed(edx_client: FlaskClient) -> None:
    body = get_json(edx_client, "/api/v1/search")
    assert {v["value"] for v in facet(body, "schedule")["values"]} <= {"self-paced", "scheduled"}
    assert facet(body, "start")["values"]  # every edX course is undated or dated: some bucket counts


def test_geo_parameters(edx_client: FlaskClient) -> None:
    body = get_json(edx_client, "/api/v1/search?near=48.85,2.35&within_km=25&sort=distance")
    assert body["query"]["near"] == [48.85, 2.35] and body["query"]["within_km"] == 25
    assert body["total"] == 0  # edX courses are online: no geo point
    get_json(edx_client, "/api/v1/search?near=paris", status=400)
    get_json(edx_client, "/api/v1/search?near=95,2", status=400)
    # alone, a radius or the distance sort mean nothing and are ignored
    assert get_json(edx_client, "/api/v1/search?sort=distance")["query"]["sort"] == "relevance"
    assert "near" not in get_json(edx_client, "/api/v1/search?within_km=5")["query"]


def test_search_page_nests_drill_down_values(edx_client: FlaskClient) -> None:
    broad = facet(get_json(edx_client, "/api/v1/search"), "field")["values"][0]["value"]
    html = edx_client.get(f"/?field={broad}").get_data(as_text=True)
    assert 'class="facet-children"' in html
    assert 'id="facet-field_narrow"' not in html  # rendered inside the field facet, not on its own
    assert "near.js" in html and 'value="distance"' not in html
    near = edx_client.get("/?near=48.85,2.35&within_km=25").get_data(as_text=True)
    assert 'value="distance"' in near and 'name="within_km"' in near
