"""Fast builders for the many links of one response, byte-identical to Flask's `url_for`.

A search answer carries ~80 links (two per hit, one per facet value, paging). `url_for` costs
~25 us each (endpoint lookup, rule matching, defaults, encoding), a quarter of a search
request's CPU. These builders call `url_for` once per response for the fixed part and only
encode the variable part themselves, with werkzeug's own encoding rules:

* `query_url(base, params)`: `url_for(endpoint, **params)` for an endpoint without path
  arguments, where `base` is `url_for(endpoint)` and params are query-string values (lists and
  tuples repeat the parameter, None values are left out, as `url_for` does);
* `PathTemplate`: `url_for(endpoint, **{argument: value})` for an endpoint with one string
  path argument (the `default`/`string` converter).

`tests/web/test_urls.py` checks both against `url_for` on awkward values, so a werkzeug that
encodes differently fails a test instead of changing links.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

from flask import url_for

QUERY_SAFE = "!$'()*,/:;?@"
"""What werkzeug leaves unescaped in query strings (`werkzeug.urls._urlencode`)."""
PATH_SAFE = "!$&'()*+,/:;=@"
"""What werkzeug's default converter leaves unescaped in a path segment (`BaseConverter.to_url`)."""
_SENTINEL = "\x00url\x00"
PAIR_CACHE = 4096
"""Encoded query-string pairs memoised per process (bounded: values come from requests)."""


def query_url(base: str, params: Mapping[str, Any]) -> str:
    """`base` (a path without query string) with `params` encoded as `url_for` would
    (values are strings, numbers or lists of them; not bytes)."""
    pairs: list[str] = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple | set):
            pairs.extend(_pair(name, str(v)) for v in value if v is not None)
        else:
            pairs.append(_pair(name, str(value)))
    if not pairs:
        return base
    return f"{base}?{'&'.join(pairs)}"


@lru_cache(maxsize=PAIR_CACHE)
def _pair(name: str, value: str) -> str:
    # One `name=value` of `urlencode(items, safe=QUERY_SAFE)` (which quotes `str()` of every
    # name and value). Memoised: the links of one answer repeat the same few pairs (the query
    # text, the selected filters) dozens of times.
    return urlencode([(name, value)], safe=QUERY_SAFE)


class PathTemplate:
    """The URL of `endpoint` for any value of its one path argument `argument`.

    Built inside a request (it depends on the script root); cheap to build, so build one per
    response rather than keeping it across requests."""

    def __init__(self, endpoint: str, argument: str) -> None:
        values: dict[str, Any] = {argument: _SENTINEL}
        built = url_for(endpoint, **values)
        head, marker, tail = built.partition(quote(_SENTINEL, safe=PATH_SAFE))
        if not marker:  # a converter that encodes differently: fall back to url_for per value
            self._endpoint, self._argument = endpoint, argument
            self._parts: tuple[str, str] | None = None
        else:
            self._parts = (head, tail)

    def __call__(self, value: str) -> str:
        if self._parts is None:
            values: dict[str, Any] = {self._argument: value}
            return url_for(self._endpoint, **values)
        head, tail = self._parts
        return f"{head}{quote(str(value), safe=PATH_SAFE)}{tail}"
