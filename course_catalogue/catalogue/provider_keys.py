"""The provider key of a course: the slug of its provider's display name.

The search `provider` facet (search.documents) and the OAI-PMH `provider:<key>` sets use the same
key, so a set and a search filter agree. The store keeps it with every course
(`courses.provider_key`, `courses.provider_name`, written by catalogue.course_writes) so that a
provider set is an index lookup, not a decode of the whole catalogue per request (issue 22).

The stored column is `index_key(key)`: the key itself when it is short (always, in practice),
else a prefix and a digest of it, so a provider name of any length fits a bounded column and
an index (PostgreSQL refuses index entries over ~2.7 KB) while equality still means the same key.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from course_catalogue.catalogue.model import first_text

MAX_INDEX_KEY = 200
"""Length of the `courses.provider_key` column."""
_DIGESTED = MAX_INDEX_KEY - 33  # prefix kept before "~" and a 32-character digest
_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=50_000)
def slug(name: str) -> str | None:
    """A stable, URL-safe key for a name (a provider or a place): folded to ASCII and slugged;
    None when nothing is left."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return _SLUG_JUNK.sub("-", folded.lower()).strip("-") or None


def index_key(key: str) -> str:
    """The bounded form of `key` stored and looked up in `courses.provider_key`."""
    if len(key) <= MAX_INDEX_KEY:
        return key
    return f"{key[:_DIGESTED]}~{hashlib.blake2b(key.encode(), digest_size=16).hexdigest()}"


def display_name(record: Mapping[str, Any]) -> str:
    """The provider name of a stored record (`course_to_dict`) as the search index shows it."""
    provider = record.get("provider")
    name = provider.get("name") if isinstance(provider, Mapping) else None
    languages = record.get("languages") or ()
    return first_text(name or {}, ("en", *languages))


def provider_columns(record: Mapping[str, Any]) -> dict[str, str | None]:
    """`provider_key` and `provider_name` of a course row, from its stored record."""
    name = display_name(record)
    key = slug(name)
    return {"provider_key": index_key(key) if key else None, "provider_name": name or None}
