"""Place search: the offline gazetteer, the town box (with and without a chosen suggestion),
postcodes reported as such, radius and distance sort, and the map data on the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from course_catalogue.search.errors import QueryError
from course_catalogue.search.gazetteer import PlaceError, fold, load, looks_like_postcode
from tests.web.places_world import places_app


@pytest.fixture(scope="module")
def geo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    yield from places_app(tmp_path_factory.mktemp("places") / "instance")


@pytest.fixture
def geo(geo_app: Flask) -> FlaskClient:
    return geo_app.test_client()


def titles(html: str) -> list[str]:
    return re.findall(r'<h3 id="hit-[^"]+"><a href="[^"]+">([^<]+)</a>', html)


def test_gazetteer_names_alternate_names_and_folding() -> None:
    towns = load(5000)
    assert towns.find("München").country == "DE"
    assert towns.find("Munich").name == towns.find("muenchen").name
    assert towns.find("saint etienne").name == "Saint-Étienne"
    assert towns.find("Paris, FR").country == "FR"
    assert towns.find("Paris (US)").country == "US"
    assert towns.find("Wroclaw").name == "Wrocław"
    assert towns.suggest("Lyo", 3)[0].name == "Lyon"
    assert fold("Saint-Étienne") == fold("saint etienne")
    with pytest.raises(PlaceError):
        towns.find("Zzyzzyxville")
    with pytest.raises(PlaceError, match="postcodes"):
        towns.find("75001")
    assert issubclass(PlaceError, QueryError)
    assert (
        looks_like_postcode("1012 AB") and looks_like_postcode("D-80331") and not looks_like_postcode("Lyon")
    )
    paris = towns.find("Paris")
    assert towns.nearest(paris.point) == paris
    assert towns.nearest((paris.lat + 0.01, paris.lon)) is not None
    assert towns.nearest((0.0, -30.0)) is None  # mid-Atlantic


def test_suggestions_are_towns_with_their_near_value(geo: FlaskClient) -> None:
    body = geo.get("/places/suggest?q=Lyo").get_json()
    first = body["suggestions"][0]
    assert first["text"] == "Lyon, France" and first["kind"] == "place"
    assert not any(s["text"].startswith("Lyon 0") for s in body["suggestions"])  # districts
    lat, lon = (float(x) for x in first["value"].split(","))
    assert abs(lat - 45.76) < 0.1 and abs(lon - 4.84) < 0.1
    german = geo.get("/places/suggest?q=Lyo&lang=de").get_json()
    assert german["suggestions"][0]["text"] == "Lyon, Frankreich"
    assert geo.get("/places/suggest?q=").get_json()["suggestions"] == []


def test_typed_town_without_javascript_finds_courses_near_it_by_distance(geo: FlaskClient) -> None:
    response = geo.get("/?q=&place=Lyon&within_km=25")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert titles(html) == ["Data analysis with Python", "Machine learning for engineers"]
    assert 'value="Lyon, France"' in html  # the box names the town
    assert '<option value="distance" selected>' in html
    assert 'data-lat="45.764"' in html and 'id="results-map"' in html
    # wider: Paris joins (about 390 km)
    assert "Web development bootcamp" in titles(geo.get("/?place=Lyon&within_km=500").get_data(as_text=True))
    assert "Web development bootcamp" not in titles(
        geo.get("/?place=Lyon&within_km=250").get_data(as_text=True)
    )


def test_links_of_a_place_search_keep_the_place(geo: FlaskClient) -> None:
    html = geo.get("/?place=Lyon&within_km=25").get_data(as_text=True)
    link = re.search(r'href="(/\?[^"]*near=[^"]*)"', html)
    assert link is not None
    again = geo.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert 'value="Lyon, France"' in again  # named again from the point


def test_a_chosen_suggestion_and_a_localised_label(geo: FlaskClient) -> None:
    html = geo.get("/?place=München, Deutschland&within_km=25&lang=de").get_data(as_text=True)
    assert titles(html) == ["Projektmanagement kompakt"]
    value = geo.get("/places/suggest?q=Krak").get_json()["suggestions"][0]
    html = geo.get("/", query_string={"place": value["text"], "near": value["value"], "within_km": "25"})
    assert titles(html.get_data(as_text=True)) == ["Nursing practice"]


def test_unknown_places_and_postcodes_are_explained(geo: FlaskClient) -> None:
    response = geo.get("/?place=Zzyzzyxville")
    assert response.status_code == 400
    assert "No town called “Zzyzzyxville” is known" in response.get_data(as_text=True)
    response = geo.get("/?place=99999&lang=de")  # no covered country has it
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Für die Postleitzahl „99999“ ist kein Ort bekannt" in text and "Frankreich, Griechenland" in text
    assert "Vereinigtes Königreich" not in text  # its table has area letters only: not offered


@pytest.mark.parametrize(
    ("typed", "town"),
    [
        ("69002", "Lyon, France"),  # the most populous town with the code (Břeclav, CZ has 690 02)
        ("69002 Lyon", "Lyon, France"),
        ("F-69002", "Lyon, France"),
        ("31-008 Kraków", "Kraków, Poland"),
        ("31008, Poland", "Kraków, Poland"),
        ("690 02, CZ", "Břeclav, Czechia"),
    ],
)
def test_a_postcode_finds_its_town(geo: FlaskClient, typed: str, town: str) -> None:
    html = geo.get("/", query_string={"place": typed, "within_km": "25"}).get_data(as_text=True)
    assert f'value="{town}"' in html  # the box names the town the search is near
    assert bool(titles(html)) is (town != "Břeclav, Czechia")  # places_world: Lyon and Kraków


def test_postcode_suggestions_name_code_town_and_country(geo: FlaskClient) -> None:
    body = geo.get("/places/suggest?q=6900").get_json()
    texts = [s["text"] for s in body["suggestions"]]
    assert texts[0] == "69001 Lyon, France" and "6900 Lugano, Switzerland" in texts
    lyon = body["suggestions"][0]
    html = geo.get("/", query_string={"place": lyon["text"], "near": lyon["value"], "within_km": "25"})
    assert 'value="Lyon, France"' in html.get_data(as_text=True)


def test_an_empty_place_box_clears_the_place(geo: FlaskClient) -> None:
    html = geo.get("/?place=&near=45.764,4.8357&within_km=25&sort=distance").get_data(as_text=True)
    assert len(titles(html)) == 6  # every current course, the ended one hidden
    assert '<option value="distance"' not in html


def test_pages_allow_the_configured_tile_server_only(app_factory: object, geo: FlaskClient) -> None:
    assert "img-src 'self' data:;" in geo.get("/").headers["Content-Security-Policy"]
    app = app_factory(MAP_TILES_URL="https://{s}.tiles.example.org/{z}/{x}/{y}.png")  # type: ignore[operator]
    csp = app.test_client().get("/").headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://*.tiles.example.org;" in csp


def test_maps_get_the_configured_tiles(tmp_path: Path) -> None:
    tiles = "https://tiles.example.org/{z}/{x}/{y}.png"
    for app in places_app(tmp_path / "instance", MAP_TILES_URL=tiles, MAP_TILES_ATTRIBUTION="© Example"):
        html = app.test_client().get("/?place=Lyon").get_data(as_text=True)
        assert f'data-tiles="{tiles}"' in html and 'data-attribution="© Example"' in html


def facet_labels(html: str, name: str) -> list[str]:
    start = html.index(f'id="facet-{name}"')
    return re.findall(r'facet-label">([^<]+)<', html[start : html.index("</details>", start)])


def test_isced_tree_shows_the_third_level_and_no_field_under_itself(geo: FlaskClient) -> None:
    ict = "Information and Communication Technologies (ICTs)"
    broad = facet_labels(geo.get("/?field=06").get_data(as_text=True), "field")
    assert broad.count(ict) == 1  # the narrow field 061 has the same label: not nested as such
    assert f"{ict}: detailed fields" in broad
    deeper = facet_labels(geo.get("/?field=06&field_narrow=061").get_data(as_text=True), "field")
    assert deeper.count(ict) == 1
    assert "Software and applications development and analysis" in deeper  # ISCED-F 0613


def test_course_page_leads_with_key_facts_and_hides_codes(geo: FlaskClient) -> None:
    hit = geo.get("/api/v1/search?q=Lyon+pandas").get_json()["hits"][0]
    html = geo.get(f"/courses/{hit['id']}").get_data(as_text=True)
    facts = html.index('id="key-facts-title"')
    assert facts < html.index('id="elements"') and facts < html.index('id="about"')
    block = html[facts : html.index("</section>", facts)]
    for expected in ("450", "Lyon", "6 ECTS", "Level 6", "On-site", "French", "Université de Lyon"):
        assert expected in block, expected
    assert 'id="course-map"' in block and 'data-place-lat="45.764"' in html
    assert "(0613)" not in html  # ISCED codes appear as labels only
    ended = geo.get("/api/v1/search?q=design+thinking&include_past=true").get_json()["hits"][0]
    assert "This course ended on" in geo.get(f"/courses/{ended['id']}").get_data(as_text=True)


def test_a_town_found_by_another_name_shows_that_name(geo: FlaskClient) -> None:
    """GeoNames' main names are often English ("Munich", "Vienna"): a town found by another of
    its names shows that name too, as typed when typed in full, and choosing it still works."""
    texts = [s["text"] for s in geo.get("/places/suggest?q=München&lang=de").get_json()["suggestions"]]
    assert texts[0] == "Munich (München), Deutschland"
    partial = geo.get("/places/suggest?q=Warscha&lang=en").get_json()["suggestions"][0]
    assert partial["text"] == "Warsaw (Warschau), Poland"  # the stored (folded) name, capitalised
    assert geo.get("/places/suggest?q=Lyo&lang=en").get_json()["suggestions"][0]["text"] == "Lyon, France"
    chosen = geo.get("/places/suggest?q=München&lang=en").get_json()["suggestions"][0]
    html = geo.get("/", query_string={"place": chosen["text"], "near": chosen["value"], "within_km": "25"})
    assert titles(html.get_data(as_text=True)) == ["Projektmanagement kompakt"]
