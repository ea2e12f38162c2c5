"""Queries that help, through the HTML page and the API (edX fixture): spelling correction with
a way back to the words as typed, the any-word fallback, minus excludes, typo-tolerant
autocomplete and a 400 for a filter value outside its vocabulary."""

from __future__ import annotations

import re

from flask.testing import FlaskClient


def page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.data[:500]
    return response.get_data(as_text=True)


def total(client: FlaskClient, text: str, **params: str) -> int:
    response = client.get("/api/v1/search", query_string={"q": text, "page_size": "1", **params})
    assert response.status_code == 200
    return int(response.get_json()["total"])


def test_misspelt_words_are_corrected_with_a_link_to_the_typed_words(edx_client: FlaskClient) -> None:
    right = total(edx_client, "machine learning")
    assert right > 0
    html = page(edx_client, "/?q=machne+lerning")
    assert "Showing results for <strong>machine learning</strong>" in html
    found = re.search(r"(\d+) courses?", html.split('id="results-title"')[1])
    assert found is not None and int(found.group(1)) == right
    back = re.search(r'Search instead for <a href="([^"]+)">machne lerning</a>', html)
    assert back is not None and "verbatim=true" in back.group(1)
    verbatim = page(edx_client, back.group(1).replace("&amp;", "&"))
    assert "Showing results for" not in verbatim
    assert 'value="machne lerning"' in verbatim


def test_api_names_or_applies_the_correction(edx_client: FlaskClient) -> None:
    right = total(edx_client, "machine learning")
    api = "/api/v1/search"
    typed = edx_client.get(api, query_string={"q": "machne lerning", "page_size": "3"}).get_json()
    assert typed["did_you_mean"] == "machine learning" and typed["corrected_query"] is None
    assert typed["query"]["q"] == "machne lerning" and "typed" not in typed["query"]
    assert typed["total"] < right  # searched as sent: the engine's typo tolerance finds fewer
    applied = edx_client.get(api, query_string={"q": "machne lerning", "spelling": "apply"}).get_json()
    assert (applied["corrected_query"], applied["did_you_mean"]) == ("machine learning", None)
    assert (applied["query"]["q"], applied["query"]["typed"], applied["total"]) == (
        "machine learning",
        "machne lerning",
        right,
    )
    assert "machine+learning" in applied["links"]["self"]
    off = edx_client.get(api, query_string={"q": "machne lerning", "spelling": "off"}).get_json()
    assert (off["did_you_mean"], off["corrected_query"], off["total"]) == (None, None, typed["total"])
    right_words = edx_client.get(api, query_string={"q": "machine learning"}).get_json()
    assert right_words["did_you_mean"] is None and right_words["corrected_query"] is None
    second = edx_client.get(api, query_string={"q": "machne lerning", "page": "2", "page_size": "3"})
    assert second.get_json()["did_you_mean"] is None  # the first page only
    bad = edx_client.get(api, query_string={"q": "x", "spelling": "maybe"})
    assert bad.status_code == 400 and "spelling must be one of" in bad.get_json()["error"]["message"]


def test_correct_words_are_not_corrected(edx_client: FlaskClient) -> None:
    assert "Showing results for" not in page(edx_client, "/?q=machine+learning")
    assert "Showing results for" not in page(edx_client, "/?q=courses")


def test_no_course_with_all_words_falls_back_to_any(edx_client: FlaskClient) -> None:
    assert total(edx_client, "python java") == 0
    html = page(edx_client, "/?q=python+java")
    assert "No course matches all the words" in html
    assert 'class="result"' in html
    # the next pages keep the fallback (and their cursor stays valid)
    assert "match=any" in html
    any_total = total(edx_client, "python java", match="any")
    assert any_total >= total(edx_client, "python") > 0


def test_minus_excludes(edx_client: FlaskClient) -> None:
    python, with_data = total(edx_client, "python"), total(edx_client, "python data")
    assert 0 < with_data < python
    assert total(edx_client, "python -data") == python - with_data
    assert total(edx_client, 'python -"data science"') == python - total(edx_client, 'python "data science"')
    assert total(edx_client, "python -java") == python  # no course has both


def test_autocomplete_survives_a_transposition(edx_client: FlaskClient) -> None:
    body = edx_client.get("/api/v1/suggest?q=pyhton").get_json()
    assert any("Python" in s["text"] for s in body["suggestions"])


def test_invalid_filter_values_are_a_400_in_api_and_page(edx_client: FlaskClient) -> None:
    response = edx_client.get("/api/v1/search?eqf=banana")
    assert response.status_code == 400
    assert "eqf must be a level from 1 to 8" in response.get_json()["error"]["message"]
    html = page(edx_client, "/?eqf=banana", status=400)
    assert "We could not run that search" in html
    assert edx_client.get("/api/v1/search?field=ICT").status_code == 400
    assert edx_client.get("/api/v1/search?match=some").status_code == 400
    assert edx_client.get("/api/v1/search?eqf=6").status_code == 200


def test_snippets_are_whole_sentences_or_say_where_they_are_cut(edx_client: FlaskClient) -> None:
    for text in ("python", "machine learning", "history"):
        hits = edx_client.get("/api/v1/search", query_string={"q": text, "page_size": "20"}).get_json()[
            "hits"
        ]
        snippets = [re.sub(r"</?b>", "", h["snippet"]).strip() for h in hits if h.get("snippet")]
        assert snippets, text
        for snippet in snippets:
            assert snippet[-1] in ".!?…)\"'”" or snippet.endswith(" …"), snippet
            assert not snippet[:1].islower() or snippet.startswith("…"), snippet
