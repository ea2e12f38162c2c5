"""JSON text for the store and for content hashes: orjson on the hot paths, the stdlib as fallback.

A harvest serialises every record at least twice (its content hash and the stored row) and a
reindex decodes every stored record once; orjson does each in a fraction of the stdlib's time.
Its output is the stdlib's `separators=(",", ":"), ensure_ascii=False` text for every value a
record holds (`catalogue.codec` writes numbers as Decimal strings, and the rest are strings, ints,
bools, None, lists and dicts with str keys). Where orjson refuses a value (integers beyond 64
bits, non-str keys, lone surrogates) the encoders fall back to the stdlib, so nothing that
encoded before fails now. The two differ only on floats, which records do not hold: orjson
writes non-zero magnitudes below 1e-4 without the stdlib's zero-padded exponent and NaN/Infinity
as null (valid JSON, which PostgreSQL's JSONB requires anyway).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_STD_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
_STD_SORTED = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), check_circular=False
)
_SORTED = orjson.OPT_SORT_KEYS


def dumps_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON of `value` (stdlib `separators=(",", ":"), ensure_ascii=False` text)."""
    try:
        return orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return _STD_COMPACT.encode(value).encode("utf-8")


def dumps(value: Any) -> str:
    """`dumps_bytes` as text: the store's JSON column serialiser."""
    return dumps_bytes(value).decode("utf-8")


def canonical_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON of `value` with keys sorted: the text content hashes are taken over.

    Exactly `json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))`
    encoded as UTF-8 for the values records hold (see the module docstring); stored hashes
    depend on it, so a change here re-announces every course as updated on its next harvest.
    """
    try:
        return orjson.dumps(value, option=_SORTED)
    except (orjson.JSONEncodeError, TypeError):
        return _STD_SORTED.encode(value).encode("utf-8")


def loads(text: str | bytes) -> Any:
    """Parse JSON text (str or UTF-8 bytes): the store's JSON column deserialiser.

    Text orjson refuses goes to the stdlib, which also reads the NaN/Infinity that rows written
    by earlier versions may hold; malformed text raises json.JSONDecodeError (a ValueError).
    Integers beyond 64 bits come back as floats (orjson's reading): no stored value holds one
    (the model's ints are an EQF level and a run id), and hashes are taken over the written text."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
