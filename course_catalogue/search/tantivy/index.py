"""The tantivy side of a search document: schema, analyzers and the Document -> tantivy conversion.

Text fields per language (`title_fr`, `description_de`, ...) use an analyzer (`search.analysis`)
that lowercases, folds accents to ASCII and then stems, so "donnees" and "données" meet at the same stem; the
`*_other` fields and `titles`/`provider`/`keywords` only lowercase and fold. Facet and filter
values are raw (untokenised) fast fields, numbers are fast floats. Sorting uses one fast (not searched)
string key per sort order (`search.sorting`) that ends with the id, so ties break by id and paging is stable.

tantivy keeps analyzers out of the index files: `register_analyzers` must run on every
`tantivy.Index` object, whether the index was just created or opened from disk.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date
from functools import lru_cache
from typing import Any

import orjson
import tantivy

from course_catalogue.search.backend import Document
from course_catalogue.search.documents import (
    CARD_FIELDS,
    LANGUAGES,
    MEMO_LIMIT,
    OTHER,
    TEXT_KINDS,
)
from course_catalogue.search.errors import IndexingError
from course_catalogue.search.query import FACETS_BY_NAME, Range
from course_catalogue.search.sorting import SORT_FIELDS, sort_key, title_key

SCHEMA_VERSION = "8"  # 2: stored `seq` (search.sync.repair); 3: `eligible` (funding schemes);
# 4: region/city, ISCED narrow/detailed, start_day, geo (lat/lon/id_hash); 5: slug hashes, range buckets;
# 6: sort keys are fast columns only (SORT_KEY: no terms in the inverted index);
# 7: visible_until is the end date only (a started course without an end date stays current)
# 8: `skills` (ESCO skill URIs, the skill facet, counted on `skill_hash`)
"""Bump when the schema or an analyzer changes: older indexes then need a `reindex`."""

FOLD = "cat_fold"
RAW_FIELDS = (
    "country",
    "eqf",
    "languages",
    "modes",
    "schedule",
    "isced",
    "isced_broad",
    "isced_narrow",
    "isced_detailed",
    "eligible",
)
"""Facet and filter values with small vocabularies: indexed (filters) and fast (counts)."""
SINGLE_VALUED = frozenset({"country", "eqf", "schedule"})
"""RAW_FIELDS a document holds at most one value of: the documents of several values are then
disjoint sets, so counts under each value's bucket add up (search.tantivy.facets)."""
SLUG_FIELDS: Mapping[str, str] = {
    "provider_key": "provider_hash",
    "region_keys": "region_hash",
    "city_keys": "city_hash",
    "skills": "skill_hash",  # ESCO skill URIs: thousands of values; the card holds them (CARD_FIELDS)
}
"""Open-ended slug facets -> the integer fast field they are counted on. Counting strings from a
dictionary of thousands of values costs several milliseconds per query at a million courses;
counting their `slug_hash` integers costs almost nothing, and a hash maps back to its slug
(search.tantivy.backend resolves and caches it). The slugs stay indexed for filtering."""
BUCKET_FIELDS: Mapping[str, str] = {"ects": "ects_bucket", "price": "price_bucket"}
"""Float facet fields with fixed ranges -> a raw field holding the key of the range the value
falls in: a filter on a range key is then a term query, which tantivy evaluates (and, in filter
aggregations, materialises) from a posting list instead of scanning the float column."""
FLOAT_FIELDS = ("ects", "price", "start_day")
GEO_FIELDS = ("lat", "lon")  # the document's `geo` point, for the bounding box and distances
ID_HASH = "id_hash"  # a fast integer per id: orders equal distances and excludes ids cheaply
_RANGES: Mapping[str, tuple[Range, ...]] = {
    spec.field: spec.ranges
    for spec in FACETS_BY_NAME.values()
    if spec.field in BUCKET_FIELDS and not spec.relative
}
SORT_KEY = "cat_sort_key"
"""The tokenizer name of the SORT_FIELDS. tantivy-py indexes every text field, but a sort key is
only ever read from its fast column (`order_by_field`), never searched: under this name the
indexing analyzer emits no token (so a key adds no term to the inverted index, where each unique
key cost a posting list and a term dictionary entry) while the fast-field analyzer keeps the
whole key, as the built-in "raw" does, so the columns and the order they give are unchanged."""
NEVER = 10**8  # visible_until of a course with no dates: never in the past


def analyzer_name(lang: str) -> str:
    return FOLD if lang == OTHER else f"cat_{lang}"


def text_field(kind: str, lang: str) -> str:
    return f"{kind}_{lang}"


_TEXT_FIELDS = frozenset(
    (
        *(text_field(kind, lang) for kind in TEXT_KINDS for lang in LANGUAGES),
        "titles",
        "provider",
        "keywords",
        *RAW_FIELDS,
    )
)
"""The text fields a search document may hold, added as they are by `to_tantivy`."""


def register_analyzers(index: tantivy.Index, analyzers: Mapping[str, tantivy.TextAnalyzer]) -> None:
    for lang, analyzer in analyzers.items():
        index.register_tokenizer(analyzer_name(lang), analyzer)
    no_terms, whole = _SORT_KEY_ANALYZERS
    index.register_tokenizer(SORT_KEY, no_terms)
    index.register_fast_field_tokenizer(SORT_KEY, whole)


_SORT_KEY_ANALYZERS = (
    # remove_long(1) drops every token of one byte or more: a key (never empty) leaves none
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw()).filter(tantivy.Filter.remove_long(1)).build(),
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw()).build(),  # the built-in "raw"
)


def build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("status", tokenizer_name="raw", index_option="basic")
    for kind in TEXT_KINDS:
        for lang in LANGUAGES:
            # Descriptions are stored for snippets; titles come from the stored card.
            builder.add_text_field(
                text_field(kind, lang), stored=kind == "description", tokenizer_name=analyzer_name(lang)
            )
    builder.add_text_field("titles", tokenizer_name=FOLD, index_option="basic")  # fuzzy matching only
    builder.add_text_field("provider", tokenizer_name=FOLD)
    builder.add_text_field("keywords", tokenizer_name=FOLD)
    for name in RAW_FIELDS:
        builder.add_text_field(name, fast=True, tokenizer_name="raw", index_option="basic")
    for name, hashed in SLUG_FIELDS.items():
        builder.add_text_field(name, tokenizer_name="raw", index_option="basic")
        builder.add_integer_field(hashed, fast=True, indexed=True)
    for name in BUCKET_FIELDS.values():
        builder.add_text_field(name, tokenizer_name="raw", index_option="basic")
    for name in FLOAT_FIELDS:
        builder.add_float_field(name, fast=True)
    for name in GEO_FIELDS:
        builder.add_float_field(name, fast=True)
    builder.add_integer_field(ID_HASH, fast=True, indexed=True)
    builder.add_integer_field("visible_until", fast=True)
    for name in SORT_FIELDS.values():
        builder.add_text_field(name, fast=True, tokenizer_name=SORT_KEY, index_option="basic")
    builder.add_bytes_field("card", stored=True)
    builder.add_integer_field("seq", stored=True)  # the store's change counter, for `repair`
    return builder.build()


def to_tantivy(doc: Document) -> str:
    """Convert a search document into the JSON object `IndexWriter.add_json` takes (one call
    into tantivy per document instead of one per value: the conversion was three quarters of
    the indexing thread's time). Raises IndexingError when the document has no id."""
    doc_id = doc.get("id")
    if not isinstance(doc_id, str) or not doc_id:
        raise IndexingError(f"search document without an id: {sorted(doc)[:8]}")
    out: dict[str, Any] = {"id": doc_id, "status": str(doc.get("status") or "active")}
    for name, value in doc.items():  # a document holds a few of the many per-language fields
        if name in _TEXT_FIELDS and value:
            texts = _texts(value)
            if texts:
                out[name] = texts
    for name, hashed in SLUG_FIELDS.items():
        slugs = _texts(doc.get(name))
        if slugs:
            out[name] = slugs
            out[hashed] = [slug_hash(slug) for slug in slugs]
    for name in FLOAT_FIELDS:
        if doc.get(name) is not None:
            out[name] = float(doc[name])
    for name, bucket_field in BUCKET_FIELDS.items():
        bucket = range_bucket(name, doc.get(name))
        if bucket is not None:
            out[bucket_field] = bucket
    geo = doc.get("geo")
    if isinstance(geo, Mapping) and geo.get("lat") is not None and geo.get("lon") is not None:
        out["lat"], out["lon"] = float(geo["lat"]), float(geo["lon"])
    out[ID_HASH] = id_hash(doc_id)
    out["visible_until"] = visible_until(doc)
    title = title_key(str(doc.get("title") or ""))
    for sort, field in SORT_FIELDS.items():
        out[field] = sort_key(sort, doc, title)
    card = _card_bytes({name: doc.get(name) for name in CARD_FIELDS})
    out["card"] = base64.b64encode(card).decode("ascii")  # bytes fields take base64 in JSON
    out["seq"] = int(doc.get("seq") or 0)
    return _encode_doc(out)


_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# orjson writes dates and dataclasses natively; passed through, they go where the stdlib sent
# them: to `default` (str) in a card, to a TypeError in a document (documents hold JSON values).
_CARD_JSON = json.JSONEncoder(ensure_ascii=False, default=str, check_circular=False)
_DOC_JSON = json.JSONEncoder(ensure_ascii=False, check_circular=False)


def _card_bytes(card: Mapping[str, Any]) -> bytes:
    """The card's UTF-8 JSON (orjson: a tenth of the stdlib's time). The same values as
    `json.dumps(card, ensure_ascii=False, default=str)`, in compact text; what orjson refuses
    (integers beyond 64 bits, lone surrogates) is encoded by the stdlib, as before."""
    try:
        return orjson.dumps(card, default=str, option=_PASSTHROUGH)
    except orjson.JSONEncodeError:
        return _CARD_JSON.encode(card).encode()


def _encode_doc(doc: Mapping[str, Any]) -> str:
    """The JSON text of a tantivy document (orjson; the stdlib for what orjson refuses). Raises
    TypeError on a value that is not JSON, as `json.dumps` does."""
    try:
        return orjson.dumps(doc, option=_PASSTHROUGH).decode()
    except orjson.JSONEncodeError:
        return _DOC_JSON.encode(doc)


def id_hash(doc_id: str) -> int:
    """A signed 63-bit hash of an id: stable across processes and versions (blake2b)."""
    return int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=8).digest(), "big") >> 1


@lru_cache(maxsize=MEMO_LIMIT)
def slug_hash(slug: str) -> int:
    """The integer a slug facet value is counted as (SLUG_FIELDS): the same stable 63-bit hash
    as `id_hash`. Slugs repeat across a catalogue, so their hashes are kept (bounded)."""
    return id_hash(slug)


def range_bucket(field: str, value: Any) -> str | None:
    """Key of the FACETS range of float `field` that `value` falls in (BUCKET_FIELDS), or None."""
    if value is None:
        return None
    number = float(value)
    for bucket in _RANGES[field]:
        if (bucket.low is None or number >= bucket.low) and (bucket.high is None or number < bucket.high):
            return bucket.key
    return None


def visible_until(doc: Document) -> int:
    """Ordinal of the last day the course is current: its end date. A course without an end date
    never ends, even when it has started (self-paced, on demand, open enrolment)."""
    last = doc.get("end_date")
    if not last:
        return NEVER
    try:
        return date.fromisoformat(str(last)).toordinal()
    except ValueError:
        return NEVER


def _texts(value: Any) -> list[str]:
    """The non-empty strings of a text value (one string or a list of them)."""
    if isinstance(value, str):
        return [value] if value else []
    values: Iterable[Any] = value if isinstance(value, list | tuple) else [value]
    return [str(item) for item in values if item is not None and item != ""]
