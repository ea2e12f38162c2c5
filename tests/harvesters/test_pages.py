"""Web pages harvester: a sitemap or URL list, JSON-LD blocks of each page as records (schema.org
Course markup), robots.txt, per-host politeness, one issue per failing page."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from course_catalogue.catalogue.errors import ConfigurationError, ParseError
from course_catalogue.catalogue.runs import Severity
from course_catalogue.harvesters.base import Gathered, harvester_for
from course_catalogue.harvesters.http import Fetcher
from course_catalogue.harvesters.pages import PagesHarvester
from course_catalogue.mappings.engine import apply
from course_catalogue.mappings.spec import MappingSpec, load_spec

EXAMPLES = (
    Path(__file__).parents[1] / "fixtures" / "corpus" / "schemaorg" / "sdo_course_examples.html"
).read_text(encoding="utf-8")


def block(title: str, *, provider: str = "Example College", extra: str = "") -> str:
    return (
        '<html><head><script type="application/ld+json">{"@context": "https://schema.org/", "@id": "./", '
        f'"@type": "Course", "name": "{title}", "provider": {{"@type": "Organization", "name": "{provider}", '
        '"url": "/about"}, "hasCourseInstance": {"@type": "CourseInstance", "courseMode": "online", '
        f'"courseWorkload": "PT22H", "startDate": "2026-09-01"}}{extra}}}</script></head><body></body></html>'
    )


class Site:
    """A scripted web: path -> (status, body); remembers the requests and the politeness sleeps."""

    def __init__(self, pages: dict[str, tuple[int, str]]) -> None:
        self.pages = pages
        self.requests: list[str] = []
        self.sleeps: list[float] = []
        self.now = 0.0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        status, body = self.pages.get(str(request.url), (404, "not found"))
        return httpx.Response(status, text=body, headers={"content-type": "text/html"})

    def harvester(self) -> PagesHarvester:
        def make(max_bytes: int) -> Fetcher:
            return Fetcher(
                max_bytes=max_bytes,
                transport=httpx.MockTransport(self.handler),
                resolver=lambda host, port: ["93.184.216.34"],
                sleep=lambda s: None,
                retries=0,
            )

        def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)
            self.now += seconds

        return PagesHarvester(make, sleep=sleep, clock=lambda: self.now)


def spec(**reader: object) -> MappingSpec:
    loaded = load_spec("schema-org-course")
    if not reader:
        return loaded
    from dataclasses import replace
    from types import MappingProxyType

    return replace(loaded, reader=MappingProxyType({**loaded.reader, **reader}))


def gather(site: Site, listing: str, mapping: MappingSpec | None = None) -> list[Gathered]:
    return list(site.harvester().gather(listing.encode("utf-8"), mapping or spec()))


def test_a_sitemap_gives_the_courses_of_its_pages_with_the_page_as_base() -> None:
    site = Site(
        {
            "https://college.example/robots.txt": (200, "User-agent: *\nDisallow: /private/\n"),
            "https://college.example/courses/a/": (200, block("Accounting")),
            "https://college.example/courses/b/": (200, block("Biology", extra=', "inLanguage": "fr"')),
        }
    )
    sitemap = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://college.example/courses/a/</loc></url>"
        "<url><loc>https://college.example/courses/b/</loc></url></urlset>"
    )
    found = gather(site, sitemap)
    assert [g.item.guid for g in found] == [
        "https://college.example/courses/a/",
        "https://college.example/courses/b/",
    ]
    mapping = spec()
    course = apply(mapping, found[0].item, "src").course
    assert course is not None
    assert course.title == {"und": "Accounting"}
    assert course.provider.name == {"und": "Example College"}
    assert course.provider.homepage == "https://college.example/about"  # relative to the page
    assert course.modes == ("online",)
    assert (
        course.workload is not None and course.workload.hours is not None and int(course.workload.hours) == 22
    )
    assert str(course.start_date) == "2026-09-01"
    french = apply(mapping, found[1].item, "src").course
    assert french is not None and french.title == {"fr": "Biology"}
    # robots.txt once for the host, then the pages
    assert site.requests == [
        "https://college.example/robots.txt",
        "https://college.example/courses/a/",
        "https://college.example/courses/b/",
    ]


def test_robots_politeness_and_failing_pages_one_issue_each() -> None:
    site = Site(
        {
            "https://college.example/robots.txt": (200, "User-agent: *\nDisallow: /private/\n"),
            "https://college.example/courses/a/": (200, block("Accounting")),
            "https://college.example/courses/c/": (200, "<html><body>no markup</body></html>"),
            "https://other.example/robots.txt": (503, "down"),
        }
    )
    listing = "\n".join(
        [
            "# course pages",
            "https://college.example/courses/a/",
            "https://college.example/private/x/",
            "https://college.example/courses/gone/",
            "https://college.example/courses/c/",
            "https://other.example/courses/z/",
            "",
        ]
    )
    found = gather(site, listing, spec(delay_seconds=2))
    ok = [g for g in found if g.readable]
    failed = {g.issues[0].pointer: g.issues[0].message for g in found if not g.readable}
    assert [g.item.guid for g in ok] == ["https://college.example/courses/a/"]
    assert set(failed) == {
        "https://college.example/private/x/",
        "https://college.example/courses/gone/",
        "https://college.example/courses/c/",
        "https://other.example/courses/z/",
    }
    assert "robots.txt" in failed["https://college.example/private/x/"]
    assert "HTTP 404" in failed["https://college.example/courses/gone/"]
    assert "no JSON-LD block" in failed["https://college.example/courses/c/"]
    assert "robots.txt" in failed["https://other.example/courses/z/"]  # unreadable robots.txt: disallowed
    assert all(g.issues[0].code == "page-failed" and g.item.guid is None for g in found if not g.readable)
    assert "https://college.example/private/x/" not in site.requests  # never fetched
    # one request per host every 2 s: the clock only moves by the sleeps, so each request after the
    # first to a host waited the full delay
    college = [u for u in site.requests if "college.example" in u]
    assert len(site.sleeps) == len(college) - 1 and all(s == 2 for s in site.sleeps)


def test_a_sitemap_index_is_read_one_level_deep_and_the_page_cap_is_reported() -> None:
    child = (
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(f"<url><loc>https://college.example/courses/{n}/</loc></url>" for n in range(3))
        + "</urlset>"
    )
    pages = {f"https://college.example/courses/{n}/": (200, block(f"Course {n}")) for n in range(3)}
    site = Site(
        {
            "https://college.example/robots.txt": (404, ""),
            "https://college.example/sitemap-1.xml": (200, child),
            **pages,
        }
    )
    index = (
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<sitemap><loc>https://college.example/sitemap-1.xml</loc></sitemap>"
        "<sitemap><loc>https://college.example/sitemap-2.xml</loc></sitemap></sitemapindex>"
    )
    found = gather(site, index, spec(max_pages=2, delay_seconds=0))
    codes = [(g.issues[0].code if g.issues else None) for g in found]
    assert codes == ["page-failed", "too-many-pages", None, None]  # sitemap-2 missing, 3 pages > 2
    assert found[1].issues[0].severity is Severity.WARNING


def test_the_schema_org_examples_page_reads_as_one_feed() -> None:
    site = Site(
        {"https://schema.example/robots.txt": (404, ""), "https://schema.example/course": (200, EXAMPLES)}
    )
    found = [g for g in gather(site, "https://schema.example/course\n") if g.readable]
    titles = []
    for gathered in found:
        course = apply(load_spec("schema-org-course"), gathered.item, "src").course
        if course is not None:
            titles.append(next(iter(course.title.values())))
    assert "The Data Scientist's Toolbox" in titles and "HNC Accounting" in titles
    # eg-0333's "@id": "./" resolves against the page's URL (RFC 3986: the page's folder)
    assert "https://schema.example/" in [g.item.guid for g in found]


def test_an_empty_listing_and_bad_options_are_refused() -> None:
    with pytest.raises(ParseError, match="names no page URL"):
        gather(Site({}), "# nothing\n")
    with pytest.raises(ParseError, match="not a sitemap"):
        gather(Site({}), "<feed/>")
    with pytest.raises(ConfigurationError, match="delay_seconds"):
        gather(Site({}), "https://a.example/\n", spec(delay_seconds=-1))


def test_the_format_is_registered() -> None:
    assert harvester_for("jsonld-pages") is not None


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        ('<script type="application/ld+json">{"@context": </script>', "not valid JSON"),
        ('<script type="application/ld+json">' + "[" * 5000 + "]" * 5000 + "</script>", "nested"),
        (
            '<script type="application/ld+json">{"@context": "https://evil.example/c", "name": 1}</script>',
            "never fetched",
        ),
        (
            '<script type="application/ld+json">' + "[" * 100 + "]" * 100 + "</script>",
            "nested deeper than 64",
        ),
        ("\x00\x01 not html at all", "no JSON-LD block"),
    ],
)
def test_a_hostile_page_fails_alone(page: str, reason: str) -> None:
    site = Site(
        {
            "https://college.example/robots.txt": (404, ""),
            "https://college.example/bad": (200, page),
            "https://college.example/good": (200, block("Accounting")),
        }
    )
    found = gather(site, "https://college.example/bad\nhttps://college.example/good\n", spec(delay_seconds=0))
    assert [g.readable for g in found] == [False, True]
    assert reason in found[0].issues[0].message
