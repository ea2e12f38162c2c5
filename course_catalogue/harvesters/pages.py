"""Web pages harvester (format "jsonld-pages"): the feed lists page URLs, the JSON-LD blocks embedded
in each page are the records, read with an RDF spec (schema.org Course markup, CTDL, ...).

Contract:

* The feed (the source's URL or an upload) is a listing: an XML sitemap (`<urlset>` of `<loc>`), a
  sitemap index (`<sitemapindex>`: each child sitemap is fetched and read, one level deep), or
  plain text with one URL per line (blank lines and lines starting with `#` are skipped). At most
  `reader.max_pages` (default 1,000) pages are read; more is a WARNING naming the cut, never a
  silent one. A listing with no URL is a ParseError (nothing to catalogue).
* Each page is fetched with the SSRF-guarded fetcher (`harvesters/http.py`: public addresses
  only unless the run's settings allow private ones, as for the feed's own fetch; redirects
  checked hop by hop) under a per-page size cap (`reader.max_page_bytes`, default
  5 MB). Pages of one host are fetched at most one per `reader.delay_seconds` (default 1 s,
  politeness), and only where the host's robots.txt (fetched once per host, for our user agent)
  allows: a robots.txt that is missing (HTTP 4xx) allows everything; one that cannot be read
  (5xx, unreachable) disallows the host for the run, as RFC 9309 asks.
* A page's JSON-LD blocks are read as one JSON-LD document whose base IRI is the page's final URL
  (relative `@id`s such as "./" name the page), with the spec's local contexts and the RDF
  reader's limits (`harvesters/elm.py`); its records are those of the spec's `[reader].records`.
  Keys no context defines are reported page by page as the RDF harvester reports them (the run's
  coverage adds up their records over the pages).
* A page that fails (fetch error, disallowed by robots.txt, no JSON-LD block, no record, invalid
  JSON-LD) gives one ERROR issue with code `page-failed`, naming the page and the reason, on an
  empty item without identity: the run goes on with the other pages and, not knowing what that
  page held, withdraws nothing on its account.
"""

from __future__ import annotations

import time
import urllib.robotparser
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lxml import etree

from course_catalogue.catalogue.errors import ConfigurationError, FetchError, ParseError
from course_catalogue.catalogue.runs import Issue, Severity
from course_catalogue.harvesters.base import Feed, Gathered
from course_catalogue.harvesters.elm import Limits, itemise, read_graph, reading_of, with_unread
from course_catalogue.harvesters.http import Fetcher
from course_catalogue.mappings.items import RawItem
from course_catalogue.mappings.jsonld_keys import UndefinedKeys
from course_catalogue.mappings.rdf_graph import N_TRIPLES

if TYPE_CHECKING:
    from course_catalogue.mappings.spec import MappingSpec

MAX_PAGES = 1000
MAX_PAGE_BYTES = 5 * 1024 * 1024
DELAY_SECONDS = 1.0
MAX_SITEMAPS = 50
"""Child sitemaps of a sitemap index read at most."""
_SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


@dataclass(frozen=True)
class PageOptions:
    """`reader.max_pages`, `reader.max_page_bytes` and `reader.delay_seconds` (module contract)."""

    max_pages: int = MAX_PAGES
    max_page_bytes: int = MAX_PAGE_BYTES
    delay: float = DELAY_SECONDS

    @classmethod
    def from_reader(cls, reader: Any) -> PageOptions:
        reader = reader or {}
        pages = reader.get("max_pages", MAX_PAGES)
        size = reader.get("max_page_bytes", MAX_PAGE_BYTES)
        delay = reader.get("delay_seconds", DELAY_SECONDS)
        for key, value in (("max_pages", pages), ("max_page_bytes", size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigurationError(f"reader.{key} must be a positive integer, not {value!r}")
        if not isinstance(delay, int | float) or isinstance(delay, bool) or delay < 0:
            raise ConfigurationError(f"reader.delay_seconds must be a number of seconds >= 0, not {delay!r}")
        return cls(pages, size, float(delay))


class PagesHarvester:
    """Reads a listing of pages and the JSON-LD records embedded in each (see the module contract).

    `fetcher` makes the run's fetcher from the per-page size cap: the pipeline passes one built
    from its harvest settings (`allow_private`, timeouts, transport), so pages follow the same
    rules as the feed's own fetch; the default refuses private addresses. `sleep` and `clock`
    are injectable for tests."""

    fetches = True  # `harvester_for` hands it the run's fetcher factory

    def __init__(
        self,
        fetcher: Callable[[int], Fetcher] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetcher = fetcher or (lambda max_bytes: Fetcher(max_bytes=max_bytes, retries=1))
        self._sleep = sleep
        self._clock = clock

    def gather(self, data: Feed, spec: MappingSpec) -> Iterator[Gathered]:
        data = data if isinstance(data, bytes) else data[:]  # a listing is small (feed size cap)
        options = PageOptions.from_reader(spec.reader)
        limits = Limits.from_reader(spec.reader)
        reading = reading_of(spec)
        fetcher = self._fetcher(options.max_page_bytes)
        try:
            session = _Session(fetcher, options, self._sleep, self._clock)
            urls, notes = _listing(data, session)
            if not urls:
                raise ParseError("the listing names no page URL (a sitemap's <loc>, or one URL per line)")
            yield from notes
            if len(urls) > options.max_pages:
                yield _problem(
                    None,
                    f"the listing names {len(urls)} pages; only the first {options.max_pages} were read "
                    "(reader.max_pages)",
                    "too-many-pages",
                    Severity.WARNING,
                )
                urls = urls[: options.max_pages]
            for url in urls:
                try:
                    page, final = session.get(url)
                    undefined = UndefinedKeys()
                    graph, typed, overfull = read_graph(
                        page, "html", limits.values, reading, base=final, undefined=undefined
                    )
                    yield from with_unread(
                        itemise(graph, typed, limits, overfull, reading), undefined.paths()
                    )
                except (FetchError, ParseError) as exc:
                    yield _problem(url, f"page {url}: {exc}", "page-failed")
        finally:
            fetcher.close()


def _problem(url: str | None, message: str, code: str, severity: Severity = Severity.ERROR) -> Gathered:
    issue = Issue(severity, message, None, None, url, code)
    return Gathered(RawItem(b"", N_TRIPLES, url, None), (issue,))


class _Session:
    """Fetches for one run: robots.txt once per host, one request per host per `delay` seconds."""

    def __init__(
        self,
        fetcher: Fetcher,
        options: PageOptions,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self.fetcher = fetcher
        self.options = options
        self.sleep = sleep
        self.clock = clock
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self._last: dict[str, float] = {}
        self._unreadable: dict[str, str] = {}  # host -> why its robots.txt could not be read

    def get(self, url: str, *, check_robots: bool = True) -> tuple[bytes, str]:
        """The page's bytes and final URL; FetchError when it cannot be had or may not be."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FetchError(f"{url!r} is not an http(s) URL")
        host = f"{parts.scheme}://{parts.netloc}"
        if check_robots and not self._allowed(host, url):
            raise FetchError("robots.txt of its host disallows it for our user agent")
        result = self._polite(host, url)
        if result.content is None:
            raise FetchError("the server sent no content")
        return result.content, result.final_url

    def _polite(self, host: str, url: str) -> Any:
        last = self._last.get(host)
        if last is not None:
            wait = self.options.delay - (self.clock() - last)
            if wait > 0:
                self.sleep(wait)
        try:
            return self.fetcher.fetch(url)
        finally:
            self._last[host] = self.clock()

    def _allowed(self, host: str, url: str) -> bool:
        """Whether robots.txt lets us fetch `url`; FetchError naming why when the host's robots.txt
        could not be read (the host is then disallowed for the run, see the module contract)."""
        if host not in self._robots:
            parser: urllib.robotparser.RobotFileParser | None = urllib.robotparser.RobotFileParser()
            assert parser is not None
            try:
                result = self._polite(host, host + "/robots.txt")
                parser.parse((result.content or b"").decode("utf-8", "replace").splitlines())
            except FetchError as exc:
                # 4xx: no robots.txt, everything allowed; anything else: unknown, nothing allowed
                if _client_error(str(exc)):
                    parser = _allow_all()
                else:
                    parser = None
                    self._unreadable[host] = str(exc)
            self._robots[host] = parser
        robots = self._robots[host]
        if robots is None:
            raise FetchError(
                f"robots.txt of its host could not be read, so the host is skipped: {self._unreadable[host]}"
            )
        return robots.can_fetch(_AGENT, url)


_AGENT = "course-catalogue-harvester"


def _allow_all() -> urllib.robotparser.RobotFileParser:
    parser = urllib.robotparser.RobotFileParser()
    parser.parse([])
    return parser


def _client_error(message: str) -> bool:
    return any(f"HTTP {code}" in message for code in range(400, 500))


def _listing(data: bytes, session: _Session) -> tuple[list[str], list[Gathered]]:
    """The page URLs of a listing (document order, no duplicates) and problems with child sitemaps."""
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"<"):
        text = data.decode("utf-8", "replace")
        lines = (line.strip() for line in text.splitlines())
        return list(dict.fromkeys(line for line in lines if line and not line.startswith("#"))), []
    root = _xml(data, "the listing")
    if root.tag == _SITEMAP + "sitemapindex":
        urls: list[str] = []
        notes: list[Gathered] = []
        for child in _locs(root)[:MAX_SITEMAPS]:
            try:
                content, _ = session.get(child, check_robots=False)
                urls.extend(_locs(_xml(content, f"sitemap {child}")))
            except (FetchError, ParseError) as exc:
                notes.append(_problem(child, f"sitemap {child}: {exc}", "page-failed"))
        return list(dict.fromkeys(urls)), notes
    if root.tag != _SITEMAP + "urlset":
        raise ParseError(f"the listing is XML but not a sitemap (<urlset> or <sitemapindex>): <{root.tag}>")
    return list(dict.fromkeys(_locs(root))), []


def _xml(data: bytes, what: str) -> Any:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"{what} is not well-formed XML: {exc}") from None


def _locs(root: Any) -> list[str]:
    return [loc.text.strip() for loc in root.iter(_SITEMAP + "loc") if loc.text and loc.text.strip()]
