"""Recognising a run's unchanged items: the run key, item digests and the batched recall.

`catalogue.item_memory` stores what the last successful run made of each item, under the item's
digest. This module decides what that digest covers, which is what makes skipping an item safe:

* the item's own bytes, media type and reader-given id (`RawItem.guid`): everything a mapping
  reads of the item (XML readers copy the context a record needs, QDR the elements it links to,
  into the item's bytes, so a change there changes the item); or, for an item the reader
  deferred, its raw form instead of its bytes (`harvesters.base.Gathered`: what the item is a
  function of, so it need not be built to be recognised);
* the run key: the mapping spec's file (`MappingSpec.digest`), the source's parameters, its
  registered provider, its publishing policy, and the code that reads, maps, validates and
  serialises (every file of those packages, vocabularies included), so an upgrade or a spec edit
  maps every item again.

The pointer (where the item sits in the feed) is left out: it changes neither the course's
content hash nor its issues, which are stored without it and re-located on recall.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection
from pathlib import Path

from course_catalogue.catalogue.entitlements import PublishingPolicy
from course_catalogue.catalogue.item_memory import Recalled, Recaller
from course_catalogue.catalogue.model import Organisation
from course_catalogue.catalogue.sources import SourceParameters
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.harvesters.base import Gathered
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.spec import MappingSpec

DIGEST_SIZE = 16
"""Bytes of an item digest (blake2b): collisions among a source's items are out of reach."""

_CODE_PACKAGES = ("catalogue", "mappings", "harvesters", "services")
"""Subpackages of course_catalogue whose files decide what an item becomes (those present)."""


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> bytes:
    """A digest of every file of the packages that read, map, validate and store items."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.blake2b(digest_size=32)
    for package in _CODE_PACKAGES:
        base = root / package
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.digest()


def run_key(
    spec: MappingSpec,
    parameters: SourceParameters,
    provider: Organisation | None,
    policy: PublishingPolicy | None,
) -> bytes | None:
    """The key of one run's item digests: what, besides the item, decides its course and issues.
    `spec` is the spec as loaded (its file's digest and name; the parameters bound to it are
    given apart). None for a spec not loaded from a file (built in code): there is nothing to
    key on, so every item is mapped."""
    if not spec.digest:
        return None
    digest = hashlib.blake2b(digest_size=32)
    for part in (spec.digest, spec.name, repr(parameters), repr(provider), repr(policy)):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    digest.update(code_fingerprint())
    return digest.digest()


def item_digest(key: bytes, item: RawItem | Gathered) -> str:
    """The digest of one item under a run key (hex). For a `Gathered` item the reader deferred
    (`harvesters.base.Gathered`), the digest covers its raw form, marked apart from built
    contents, and the item is not built."""
    raw = item.raw if isinstance(item, Gathered) else None
    digest = hashlib.blake2b(key=key, digest_size=DIGEST_SIZE)
    digest.update(item.media_type.encode())
    guid = item.guid
    digest.update(b"\x00" if guid is None else b"\x01" + guid.encode("utf-8", "surrogatepass"))
    if raw is not None:
        digest.update(b"\x01")
        digest.update(raw)
    else:
        digest.update(b"\x00")
        digest.update(item.item.content if isinstance(item, Gathered) else item.content)
    return digest.hexdigest()


class Recall:
    """What a source's last successful runs made of items, looked up by digest in batches."""

    def __init__(self, store: CatalogueStore, source_id: str) -> None:
        self.store = store
        self._recaller = Recaller(source_id)

    @property
    def watermark(self) -> int | None:
        """The change seq the recall started after (None before the first recall): for
        `CatalogueStore.harvesting(recalled_after=...)`."""
        return self._recaller.watermark

    def __call__(self, digests: Collection[str]) -> dict[str, Recalled]:
        if not digests:
            return {}
        with self.store.reading() as conn:
            return self._recaller.recall(conn, digests)
