"""The store's JSON text: orjson must write what the stdlib wrote, or content hashes would change."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from course_catalogue.catalogue import jsontext

# What a record holds (catalogue.codec writes numbers as Decimal strings): text with any code
# point but lone surrogates, ints, bools, None, lists and str-keyed dicts nested.
_TEXT = st.text(st.characters(exclude_categories=("Cs",)))
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)


def _std_sorted(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


@settings(max_examples=300)
@given(_VALUES)
def test_hash_text_is_the_stdlib_text(value: Any) -> None:
    assert jsontext.canonical_bytes(value) == _std_sorted(value)
    compact = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert jsontext.dumps_bytes(value) == compact.encode()
    assert jsontext.loads(jsontext.dumps(value)) == value


def test_values_orjson_refuses_fall_back_to_the_stdlib() -> None:
    huge = {"n": 2**70, "b": [10**30]}
    assert jsontext.canonical_bytes(huge) == _std_sorted(huge)
    assert jsontext.dumps(huge) == '{"n":1180591620717411303424,"b":[1000000000000000000000000000000]}'
    int_keys = {1: "a", "2": "b"}
    assert jsontext.dumps(int_keys) == json.dumps(int_keys, ensure_ascii=False, separators=(",", ":"))


def test_tuples_and_str_subclasses_encode_as_lists_and_strings() -> None:
    class Tagged(str):
        pass

    value = {"t": (Tagged("x"), "y")}
    assert jsontext.canonical_bytes(value) == b'{"t":["x","y"]}'


def test_loads_reads_rows_earlier_versions_wrote() -> None:
    # json.dumps' defaults: ASCII escapes, spaces, and NaN (not JSON, but the stdlib wrote it)
    assert jsontext.loads('{"a": "\\u00e9", "b": [1, 2]}') == {"a": "é", "b": [1, 2]}
    assert math.isnan(jsontext.loads('{"x": NaN}')["x"])
    assert jsontext.loads(b'{"a":1}') == {"a": 1}


def test_malformed_text_raises_value_error() -> None:
    for text in ("{", "", '{"a":}', "[1,]"):
        try:
            jsontext.loads(text)
        except ValueError:
            continue
        raise AssertionError(f"{text!r} was accepted")
