"""The OpenSearch search backend: versioned indices behind a read alias, via opensearch-py.

Layout on the cluster, for `index_prefix` P (default "catalogue"):
* indices `P-v<N>-<UTC timestamp>`, N being the version of the settings and mappings file
  (`search/data/opensearch-index-v<N>.json`, INDEX_VERSION); the first one is `P-v<N>-initial`;
* alias `P`: the live index, also its write index. Searches, upserts and deletes go through it;
* alias `P-building`: the index a `rebuild` is filling, if any.

`rebuild` creates a new index (refresh off), bulk-indexes in batches, refreshes, then moves the
alias P in ONE `_aliases` call (remove from the old index, add to the new) and deletes the old
index: a concurrent search sees the old or the new index, never an empty or partial one.
While a rebuild runs, upserts and deletes go to the building index as well, and the rebuild
only *creates* documents (an existing id means an upsert got there first with newer data), so
changes synced meanwhile are not lost by the swap. One rebuild at a time: a rebuild removes
the building index of any earlier, crashed or concurrent one.

Writes refresh before returning, so they are visible to the next search. Connection problems
raise BackendUnavailable; failed documents raise IndexingError.

The URL may name several nodes, comma-separated (`http://n1:9200,http://n2:9200`): the client
spreads requests over them and moves on from a node that stops answering. A query string after
the last node sets the index shape and name: `?shards=2&replicas=1&prefix=catalogue` (default:
one shard, a replica when a second node exists, prefix "catalogue"). Bulk writes are retried with
exponential backoff while the cluster pushes back (429) or a shard is briefly unavailable (a node
died and a replica is being promoted: 502/503/504, lost connections); a search never returns a
partial result: it answers from every shard or fails.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from importlib import resources
from itertools import islice
from typing import Any
from urllib.parse import parse_qs, urlsplit

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as ClientConnectionError
from opensearchpy.exceptions import NotFoundError, OpenSearchException, TransportError

from course_catalogue.search.backend import Document, Suggestion
from course_catalogue.search.errors import BackendUnavailable, IndexingError, IndexOutdated
from course_catalogue.search.opensearch.query import RequestBuilder
from course_catalogue.search.opensearch.results import read_result
from course_catalogue.search.opensearch.suggest import read_suggestions, suggest_requests
from course_catalogue.search.query import Query, SearchResult, validate
from course_catalogue.search.sorting import SORT_FIELDS, sort_key

INDEX_VERSION = 4
# 2: region/city, schedule, ISCED drill-down, start_day, geo, sort keys.
# 3: Snowball stemmers, as the embedded engine's: the `stemmer` filter's "english" is Porter 1,
#    "greek" leaves accented words unstemmed after asciifolding; measured against a real node
#    (test_opensearch.py). Dutch still differs: tantivy's is Kraaij-Pohlmann, which OpenSearch 3
#    (Lucene 10) no longer has, so the index keeps the Snowball Dutch both 2.x and 3.x have.
# 4: `skills` (ESCO skill URIs, the skill facet); `skill_links` is kept in _source only.
"""Bump with a new `opensearch-index-v<N>.json` when settings or mappings change; indices of
other versions then need a `reindex`."""
BATCH = 1000
RETRY_STATUS = frozenset({429, 502, 503, 504})
"""Bulk item and request statuses that are worth retrying: back-pressure (429) and a shard or
node briefly unavailable. Anything else (a mapping error, 400) fails at once."""
URL_OPTIONS = ("shards", "replicas", "prefix")
_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_VERSIONED = re.compile(r"-v(\d+)-[^-]+$")
log = logging.getLogger(__name__)


def parse_url(url: str) -> tuple[list[str], dict[str, str]]:
    """The node URLs of an OPENSEARCH_URL (comma-separated) and its options (the query string
    after the last node: `shards`, `replicas`, `prefix`). Raises ValueError for anything else."""
    nodes = [part.strip() for part in url.split(",") if part.strip()]
    if not nodes:
        raise ValueError("an OpenSearch URL names at least one node")
    last = urlsplit(nodes[-1])
    options: dict[str, str] = {}
    if last.query:
        nodes[-1] = last._replace(query="").geturl()
        for key, values in parse_qs(last.query, keep_blank_values=True, strict_parsing=True).items():
            if key not in URL_OPTIONS:
                raise ValueError(f"unknown OpenSearch URL option {key!r} (known: {', '.join(URL_OPTIONS)})")
            options[key] = values[-1]
    for node in nodes:
        parts = urlsplit(node)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError(f"not an http(s) node URL: {node!r}")
    return nodes, options


def index_body(version: int = INDEX_VERSION) -> dict[str, Any]:
    """The settings and mappings of index version `version`, from the package data file."""
    data = resources.files("course_catalogue.search") / "data" / f"opensearch-index-v{version}.json"
    body: dict[str, Any] = json.loads(data.read_text(encoding="utf-8"))
    return body


def to_source(doc: Document) -> dict[str, Any]:
    """The indexed form of a search document: the document plus its sort and expiry keys.

    Raises IndexingError when it has no id.
    """
    doc_id = doc.get("id")
    if not isinstance(doc_id, str) or not doc_id:
        raise IndexingError(f"search document without an id: {sorted(doc)[:8]}")
    source = {key: value for key, value in doc.items() if value is not None and value != ""}
    # The embedded engine's sort keys (ending in the id): both engines order alike, and a
    # cursor's search_after value is one keyword.
    for sort, field in SORT_FIELDS.items():
        source[field] = sort_key(sort, doc)
    # The last day the course is current: its end date; none = never past (a course that has
    # started but states no end, such as a self-paced one, stays current).
    last = doc.get("end_date")
    if last:
        source["visible_until"] = str(last)
    return source


class OpenSearchBackend:
    """SearchBackend on an OpenSearch cluster. See the module docstring for the index layout."""

    def __init__(
        self,
        url: str | None = None,
        *,
        index_prefix: str | None = None,
        shards: int | None = None,
        replicas: int | None = None,
        timeout: float = 30.0,
        client: OpenSearch | None = None,
        retries: int = 8,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
    ) -> None:
        """Connect to `url` (one or several nodes, credentials may be in it, options after the
        last; see the module docstring) or use `client`; make sure the alias exists. Arguments
        given here win over the URL's options. A rejected bulk write is retried `retries` times,
        waiting `backoff` seconds first and twice as long each time, at most `max_backoff`.

        Raises ValueError for a malformed URL, BackendUnavailable when the cluster cannot be reached.
        """
        if client is None and not url:
            raise ValueError("an OpenSearch URL or client is required")
        nodes, options = parse_url(url) if url else ([], {})
        index_prefix = index_prefix or options.get("prefix") or "catalogue"
        if not _PREFIX.match(index_prefix):
            raise ValueError(f"index prefix must match {_PREFIX.pattern}: {index_prefix!r}")
        self.shards = shards if shards is not None else _count(options, "shards", 1)
        self.replicas = replicas if replicas is not None else _count(options, "replicas", 0)
        if (self.shards is not None and self.shards < 1) or (self.replicas is not None and self.replicas < 0):
            raise ValueError("an index needs at least one shard and no negative replica count")
        self.alias = index_prefix
        self.building_alias = f"{index_prefix}-building"
        self._retries, self._backoff, self._max_backoff = retries, backoff, max_backoff
        self.retried = 0
        """Bulk attempts repeated so far (back-pressure and failover): for tests and logs."""
        # The client tries another node at once when one is unreachable (max_retries: each
        # node once); waiting out back-pressure is _send's job.
        self._client = client or OpenSearch(
            hosts=nodes,
            timeout=timeout,
            max_retries=max(2, len(nodes)),
            retry_on_timeout=True,
            pool_maxsize=16,  # per node: threads of one process share connections
        )
        self._requests = RequestBuilder()
        self._lock = threading.Lock()
        self._closed = False
        self._compatible = False
        with _calls("connecting to OpenSearch"):
            self._ensure_alias()
            self._compatible = self._check_version()

    # -- writes --------------------------------------------------------------------------------

    def upsert(self, documents: Iterable[Document]) -> int:
        """Add or replace documents by id; visible to `search` when this returns.

        Documents go in batches of BATCH; a batch is checked before it is sent, so a document
        without an id fails its batch (IndexingError) without writing any of it.
        """
        self._writable()
        count = 0
        with _calls("indexing documents"):
            targets = [self.alias, *self._building()]
            for batch in _batches(documents, BATCH):
                sources = [to_source(doc) for doc in batch]
                actions = [
                    {"_op_type": "index", "_index": target, "_id": s["id"], "_source": s}
                    for s in sources
                    for target in targets
                ]
                self._bulk(actions)
                count += len(sources)
            self._refresh(targets)
        return count

    def delete(self, ids: Sequence[str]) -> None:
        """Remove documents by id; unknown ids are ignored. Visible when this returns."""
        if not ids:
            return
        self._writable()
        with _calls("deleting documents"):
            targets = [self.alias, *self._building()]
            actions = [{"_op_type": "delete", "_index": t, "_id": i} for i in ids for t in targets]
            self._bulk(actions, ignore_status=(404,))
            self._refresh(targets)

    def rebuild(self, documents: Iterable[Document]) -> int:
        """Replace the whole index with `documents` (ids unique); return how many it holds.

        Searches meanwhile use the old index; the alias moves to the new one atomically. If
        anything fails, the new index is deleted and the old one stays live.
        """
        self._open_or_raise()
        name = f"{self.alias}-v{INDEX_VERSION}-{datetime.now(UTC):%Y%m%d%H%M%S%f}"
        with _calls("rebuilding the search index"):
            for stale in self._building():
                self._client.indices.delete(index=stale, ignore_unavailable=True)
            body = self.index_body()
            body["settings"]["index"]["refresh_interval"] = "-1"  # no refreshes while loading
            body["aliases"] = {self.building_alias: {}}
            self._client.indices.create(index=name, body=body)
        try:
            with _calls("rebuilding the search index"):
                self._load(name, documents)
                old = self._live_indices()
                actions: list[dict[str, Any]] = [{"remove": {"index": o, "alias": self.alias}} for o in old]
                actions += [
                    {"add": {"index": name, "alias": self.alias, "is_write_index": True}},
                    {"remove": {"index": name, "alias": self.building_alias}},
                ]
                self._client.indices.update_aliases(body={"actions": actions})
        except BaseException:
            self._drop(name)
            raise
        self._compatible = True
        for index in old:
            self._drop(index)
        with _calls("counting documents"):
            return int(self._client.count(index=name)["count"])

    def _load(self, name: str, documents: Iterable[Document]) -> None:
        def actions() -> Iterator[dict[str, Any]]:
            for doc in documents:  # errors of the source propagate unchanged
                source = to_source(doc)
                yield {"_op_type": "create", "_index": name, "_id": source["id"], "_source": source}

        # 409: an upsert made during the rebuild already wrote a newer version of that course.
        self._bulk(actions(), ignore_status=(409,))
        self._client.indices.put_settings(index=name, body={"index": {"refresh_interval": None}})
        self._client.indices.refresh(index=name)

    def _bulk(self, actions: Iterable[dict[str, Any]], ignore_status: Sequence[int] = ()) -> None:
        """Send `actions` in chunks of BATCH, each retried until written (see `_send`).

        Raises IndexingError naming the first document that failed for good."""
        failures: list[dict[str, Any]] = []
        for chunk in _batches(actions, BATCH):
            failures += self._send(chunk, ignore_status)
        if failures:
            first = failures[0]
            raise IndexingError(
                f"{len(failures)} documents failed to index; first: {first.get('_id')}: "
                f"{first.get('status')} {first.get('error')}"
            )

    def _send(self, chunk: list[dict[str, Any]], ignore_status: Sequence[int]) -> list[dict[str, Any]]:
        """One bulk request for `chunk`; the actions rejected with a RETRY_STATUS (or the whole
        request, when it failed so) are sent again after a growing pause. Every action is
        idempotent here (index by id, delete, create whose 409 is ignored), so resending one
        whose answer was lost does no harm. Returns the items that failed for good."""
        pending = chunk
        failed: list[dict[str, Any]] = []
        delay = self._backoff
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            why: Counter[str] = Counter()
            try:
                items = self._client.bulk(body=_bulk_lines(pending))["items"]
            except ClientConnectionError as error:
                if last:
                    raise
                retry, why[f"connection: {type(error).__name__}"] = pending, len(pending)
            except TransportError as error:
                if last or error.status_code not in RETRY_STATUS:
                    raise
                retry, why[f"request {error.status_code}"] = pending, len(pending)
            else:
                retry = []
                for action, item in zip(pending, items, strict=True):
                    result: dict[str, Any] = next(iter(item.values()), {})
                    status = int(result.get("status") or 500)
                    if status < 300 or status in ignore_status:
                        continue
                    if status in RETRY_STATUS and not last:
                        retry.append(action)
                        why[str(status)] += 1
                    else:
                        failed.append(result)
                if not retry:
                    return failed
            self.retried += 1
            log.warning(
                "OpenSearch bulk: %d of %d actions sent again after %.1f s (attempt %d; %s)",
                len(retry),
                len(chunk),
                delay,
                attempt + 1,
                ", ".join(f"{reason}: {n}" for reason, n in why.items()),
            )
            time.sleep(delay)
            delay = min(delay * 2, self._max_backoff)
            pending = retry
        raise AssertionError("unreachable")

    def _refresh(self, indices: Sequence[str]) -> None:
        self._client.indices.refresh(index=",".join(indices))

    # -- reads -----------------------------------------------------------------------------------

    def search(self, query: Query) -> SearchResult:
        """Run `query`; raises QueryError for an invalid request, BackendUnavailable if the
        cluster cannot be used, and nothing for any user text."""
        validate(query)
        self._readable()
        body = self._requests.body(query)
        response = self._search(body, "search")
        return read_result(query, response, body)

    def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        """Autocomplete over visible courses: see `SearchBackend.suggest` for the contract."""
        self._readable()
        requests = suggest_requests(prefix, limit)
        if requests is None:
            return []
        lines: list[Mapping[str, Any]] = []
        for _kind, body in requests:
            lines += [{"index": self.alias}, body]
        with _calls("suggest"):
            responses = self._client.msearch(body=lines)["responses"]
        failed = [r for r in responses if "error" in r]
        if failed:
            raise BackendUnavailable(f"suggest failed: {failed[0]['error']}")
        return read_suggestions([kind for kind, _ in requests], responses, prefix, limit)

    def _search(self, body: Mapping[str, Any], action: str) -> Mapping[str, Any]:
        # Retried, a few times and briefly, when the failure is transient: a search that
        # resolved the alias just before a rebuild deleted the old index (the alias then names
        # the new one), or a node that left the cluster while it served a phase of this search
        # (the cluster answers from the replicas once it notices). Query errors are not retried.
        for attempt, pause in enumerate(_SEARCH_RETRY_PAUSES):
            try:
                with _calls(action):
                    response: Mapping[str, Any] = self._client.search(
                        index=self.alias, body=body, allow_partial_search_results=False
                    )
                    return response
            except BackendUnavailable as error:
                if attempt == len(_SEARCH_RETRY_PAUSES) - 1 or not _transient(error.__cause__):
                    raise
                time.sleep(pause)
        raise AssertionError("unreachable")

    def inventory(self) -> dict[str, tuple[int, str]]:
        """Every indexed document's id -> (seq, status), paged by id (search_after)."""
        self._writable()
        found: dict[str, tuple[int, str]] = {}
        body: dict[str, Any] = {
            "size": BATCH,
            "query": {"match_all": {}},
            "sort": [{"id": "asc"}],
            "_source": ["seq", "status"],
        }
        while True:
            hits = self._search(body, "listing indexed documents")["hits"]["hits"]
            for hit in hits:
                source = hit.get("_source") or {}
                found[str(hit["_id"])] = (int(source.get("seq") or 0), str(source.get("status") or "active"))
            if len(hits) < BATCH:
                return found
            body["search_after"] = hits[-1]["sort"]

    def count(self) -> int:
        """Documents in the live index, withdrawn tombstones included; IndexOutdated when the index
        was made from another INDEX_VERSION (as the embedded engine: `catalogue init` rebuilds it)."""
        self._readable()
        with _calls("counting documents"):
            return int(self._client.count(index=self.alias)["count"])

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._client.close()

    # -- the alias and its indices ----------------------------------------------------------------

    def index_body(self) -> dict[str, Any]:
        """Settings and mappings new indices are created with: the INDEX_VERSION file, with the
        shard and replica counts this backend was given."""
        body = index_body()
        settings = body["settings"]["index"]
        if self.shards is not None:
            settings["number_of_shards"] = self.shards
        if self.replicas is not None:
            settings.pop("auto_expand_replicas", None)
            settings["number_of_replicas"] = self.replicas
        return body

    def _ensure_alias(self) -> None:
        """Create an empty first index behind the alias when there is none yet.

        The first index has a fixed name, so two processes starting at once create it once.
        """
        if self._client.indices.exists_alias(name=self.alias):
            return
        body = self.index_body()
        body["aliases"] = {self.alias: {"is_write_index": True}}
        try:
            self._client.indices.create(index=f"{self.alias}-v{INDEX_VERSION}-initial", body=body)
        except TransportError as error:
            if error.error != "resource_already_exists_exception":
                raise

    def _live_indices(self) -> list[str]:
        return self._alias_targets(self.alias)

    def _building(self) -> list[str]:
        return self._alias_targets(self.building_alias)

    def _alias_targets(self, alias: str) -> list[str]:
        try:
            return sorted(self._client.indices.get_alias(name=alias))
        except NotFoundError:
            return []

    def _check_version(self) -> bool:
        """Whether every index behind the alias was made from this INDEX_VERSION."""
        versions = {_index_version(name) for name in self._live_indices()}
        return versions == {INDEX_VERSION}

    def _drop(self, index: str) -> None:
        # An orphan index costs disk, not correctness: the next rebuild is unaffected.
        with suppress(OpenSearchException):
            self._client.indices.delete(index=index, ignore_unavailable=True)

    def _open_or_raise(self) -> None:
        if self._closed:
            raise BackendUnavailable("the search backend is closed")

    def _readable(self) -> None:
        self._open_or_raise()
        if not self._compatible:
            with _calls("checking the index version"):
                self._compatible = self._check_version()
            if not self._compatible:
                raise IndexOutdated("the search index was built by an older version; run reindex")

    def _writable(self) -> None:
        self._open_or_raise()
        if not self._compatible:
            with _calls("checking the index version"):
                self._compatible = self._check_version()
            if not self._compatible:
                raise IndexingError("the search index was built by an older version; run reindex")


_SEARCH_RETRY_PAUSES = (0.05, 0.2, 0.5, 0.0)
"""Pauses before each retry of a search that failed transiently (the last attempt is not retried)."""


def _transient(error: BaseException | None) -> bool:
    """True for a search failure worth retrying: the alias moved, the connection broke, or the
    cluster answered 5xx (a node disconnected during a search phase, shards relocating)."""
    if isinstance(error, NotFoundError | ClientConnectionError):
        return True
    status = error.status_code if isinstance(error, TransportError) else None
    return isinstance(status, int) and status >= 500


@contextmanager
def _calls(action: str) -> Iterator[None]:
    """Turn the client's errors into the search package's: unreachable or failing cluster ->
    BackendUnavailable, anything else the client raises -> IndexingError."""
    try:
        yield
    except ClientConnectionError as error:
        raise BackendUnavailable(f"{action}: cannot reach OpenSearch: {error}") from error
    except TransportError as error:
        raise BackendUnavailable(f"{action} failed: {error}") from error
    except OpenSearchException as error:
        raise IndexingError(f"{action} failed: {error}") from error


def _index_version(name: str) -> int | None:
    match = _VERSIONED.search(name)
    return int(match.group(1)) if match else None


def _count(options: Mapping[str, str], key: str, minimum: int) -> int | None:
    if key not in options:
        return None
    value = options[key]
    if not value.isdigit() or int(value) < minimum:
        raise ValueError(f"OpenSearch URL option {key} must be a whole number >= {minimum}: {value!r}")
    return int(value)


def _bulk_lines(actions: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The NDJSON lines of a bulk request: an action line, then the source unless deleting."""
    lines: list[Mapping[str, Any]] = []
    for action in actions:
        op = action["_op_type"]
        lines.append({op: {"_index": action["_index"], "_id": action["_id"]}})
        if op != "delete":
            lines.append(action["_source"])
    return lines


def _batches(documents: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(documents)
    while batch := list(islice(iterator, size)):
        yield batch
