"""Search by ESCO skill through the API: `skills=`, "teaches:" in q, the skill facet, explanations.

The edX fixture feed states no ESCO skills, so every link here is inferred (from the small test
taxonomy, tests/fixtures/skills): each hit must say which requested skill it covers, from which
sentence, and that the link is inferred."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask.testing import FlaskClient

from course_catalogue.skills import taxonomy as skill_taxonomy
from course_catalogue.skills.linking import PUBLISH_THRESHOLD
from tests.conftest import small_taxonomy

TAXONOMY = small_taxonomy()
PM = TAXONOMY.resolve("project management").uri
STATS = TAXONOMY.resolve("statistics").uri


def get(client: FlaskClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def test_skills_parameter_filters_and_explains(edx_client: FlaskClient) -> None:
    found = get(edx_client, "/api/v1/search?skills=Project%20Management&include_past=true&page_size=50")
    assert found["query"]["filters"]["skill"] == [PM]
    assert found["total"] > 0
    for hit in found["hits"]:
        [covered] = hit["skills_covered"]
        assert covered["uri"] == PM and covered["label"] == "project management"
        assert covered["stated"] is False and covered["method"] == "label"
        assert covered["confidence"] >= PUBLISH_THRESHOLD
        assert "project" in covered["sentence"].lower()
        assert covered in hit["skill_links"]
    facet = next(f for f in found["facets"] if f["name"] == "skill")
    selected = [v for v in facet["values"] if v["selected"]]
    assert [(v["value"], v["label"], v["count"]) for v in selected] == [
        (PM, "project management", found["total"])
    ]


def test_teaches_in_the_query_text(edx_client: FlaskClient) -> None:
    q = quote("teaches: project management, STATISTICS")
    found = get(edx_client, f"/api/v1/search?q={q}&include_past=true&page_size=100")
    assert found["query"]["q"] == ""
    assert found["query"]["filters"]["skill"] == [PM, STATS]
    pm = get(edx_client, f"/api/v1/search?skill={quote(PM)}&include_past=true")["total"]
    stats = get(edx_client, f"/api/v1/search?skill={quote(STATS)}&include_past=true")["total"]
    assert pm > 0 and stats > 0
    assert max(pm, stats) <= found["total"] <= pm + stats  # values of one facet are OR-ed
    assert all({c["uri"] for c in hit["skills_covered"]} <= {PM, STATS} for hit in found["hits"])
    assert all(hit["skills_covered"] for hit in found["hits"])


def test_words_before_teaches_still_search(edx_client: FlaskClient) -> None:
    q = quote("agile teaches: project management")
    found = get(edx_client, f"/api/v1/search?q={q}&include_past=true")
    assert found["query"]["q"] == "agile"


def test_an_unknown_skill_is_a_clear_400(edx_client: FlaskClient) -> None:
    error = get(edx_client, "/api/v1/search?skills=budgeting", 400)
    assert "no ESCO skill is called 'budgeting'" in str(error)
    assert "manage budgets" in str(error)  # what it may have meant
    assert "ESCO skill URI" in str(get(edx_client, "/api/v1/search?skill=project%20management", 400))


def test_skills_off_says_so(edx_client: FlaskClient) -> None:
    with skill_taxonomy.use(None):
        error = get(edx_client, "/api/v1/search?q=teaches:%20statistics", 400)
    assert "ESCO skills are off" in str(error)


def test_without_a_skill_request_hits_cover_nothing(edx_client: FlaskClient) -> None:
    found = get(edx_client, "/api/v1/search?q=statistics&include_past=true")
    assert found["total"] > 0
    assert all(hit["skills_covered"] == [] for hit in found["hits"])
    assert any(link["uri"] == STATS for hit in found["hits"] for link in hit["skill_links"])
