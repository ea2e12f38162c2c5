"""bench/load.py's request mix: a large, seeded query space drawn Zipf-like (no timing here)."""

from __future__ import annotations

import random
from collections import Counter

from bench.load import FILTERS, WORDS, QuerySpace, ServerSettings, _hit_rates, title_phrases


def test_title_phrases_are_frequent_word_pairs() -> None:
    titles = ["Introduction to Data Science", "Data Science for All", "The data science of 2024", "Rust"]
    assert title_phrases(titles, limit=2) == ["data science", "introduction data"]


def test_the_space_is_large_and_seeded() -> None:
    space = QuerySpace(seed=1, phrases=["data science"])
    assert len(space.searches) >= len(WORDS) ** 2 * 5
    assert len({tuple(sorted(q.items())) for q in space.searches}) == len(space.searches)  # distinct
    assert QuerySpace(seed=1, phrases=["data science"]).searches == space.searches
    assert QuerySpace(seed=2, phrases=["data science"]).searches != space.searches
    assert {"q": "data science"} in space.searches
    assert len(space.searches) == len({q["q"] for q in space.searches}) * len(
        {tuple(sorted(f.items())) for f in FILTERS}
    )


def test_popularity_is_zipf_like() -> None:
    space = QuerySpace(seed=1)
    rng = random.Random(7)
    drawn = Counter(tuple(sorted(space.search(rng).items())) for _ in range(20_000))
    top = [tuple(sorted(q.items())) for q in space.searches[:3]]
    # rank 1 is asked about twice as often as rank 2 and three times as often as rank 3
    assert drawn[top[0]] > 1.5 * drawn[top[1]] > 0
    assert drawn[top[0]] > 2.2 * drawn[top[2]] > 0
    assert len(drawn) > 5_000  # a long tail: most requests are not repeats of a few
    assert all(2 <= len(space.suggest(rng)) <= 5 for _ in range(100))


def test_hit_rates_per_endpoint() -> None:
    rates = _hit_rates({"search": Counter(hit=3, miss=1), "detail": Counter(), "suggest": Counter(miss=2)})
    assert rates == {"search": 0.75, "suggest": 0.0}


def test_server_settings_keep_connections_alive_by_default() -> None:
    options = ServerSettings().options()
    assert options[options.index("-k") + 1] == "gthread"  # the sync worker closes every connection
    assert options[options.index("--threads") + 1] == "1"  # one request at a time per worker
    assert int(options[options.index("--keep-alive") + 1]) > 0
    sync = ServerSettings(worker_class="sync").options()
    assert sync[sync.index("-k") + 1] == "sync"
