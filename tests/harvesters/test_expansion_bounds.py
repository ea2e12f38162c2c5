"""Bounded expansion in the XML readers: QDR `idref` copies and XML context copies (issue 22, class 8).

A QDR item inlines a copy of every element its `idref` links name, and an XML item is wrapped in
copies of its context ancestors, so a small feed can describe very large records: 179 KB of QDR
once stored a 205 MB record (910 MB of memory). Every record is now capped in bytes
(`reader.max_record_bytes`, 8 MiB) and a feed's records together (`reader.max_expansion` times
the feed's size, plus one record's cap); a record over either is an ERROR, reported and not
processed, and the rest of the feed carries on.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from course_catalogue.catalogue.errors import ConfigurationError
from course_catalogue.catalogue.runs import Severity
from course_catalogue.harvesters.base import Gathered
from course_catalogue.harvesters.qdr import LOQ_NS, QdrHarvester
from course_catalogue.harvesters.xml import XmlHarvester
from course_catalogue.mappings.spec import load_spec
from course_catalogue.mappings.xml_paths import MAX_EXPANSION, MAX_RECORD_BYTES, XmlRecords

SPECS = Path(__file__).parents[2] / "course_catalogue" / "mappings" / "specs"


def qdr_spec(**limits: int) -> Any:
    return SimpleNamespace(selector_language=XmlRecords(**limits))  # type: ignore[arg-type]


def gather_qdr(data: bytes, **limits: int) -> list[Gathered]:
    return list(QdrHarvester().gather(data, qdr_spec(**limits)))


def qdr_feed(opportunities: str, agents: str = "", specifications: str = "") -> bytes:
    return (
        f'<Courses xmlns="{LOQ_NS}" xsdVersion="3.1.0">'
        f"<learningOpportunityReferences>{opportunities}</learningOpportunityReferences>"
        f"<learningAchievementSpecificationReferences>{specifications}</learningAchievementSpecificationReferences>"
        f"<agentReferences>{agents}</agentReferences></Courses>"
    ).encode()


def big_organisation(ident: str = "org", size: int = 100_000) -> str:
    return f'<organisation id="{ident}"><legalName language="en">{"x" * size}</legalName></organisation>'


def opportunity(ident: str, uses: int = 1, org: str = "org") -> str:
    links = f'<providedBy idref="{org}"/>' * uses
    title = f'<title language="en">T {ident}</title>'
    return f'<learningOpportunity id="{ident}">{title}{links}</learningOpportunity>'


def errors(gathered: Gathered) -> list[str]:
    return [i.code for i in gathered.issues if i.severity is Severity.ERROR]


# -- QDR ---------------------------------------------------------------------------------------


def test_a_record_copying_one_element_thousands_of_times_is_rejected_not_stored() -> None:
    """The tester's shape: one 100 KB organisation named by 2,000 links of one opportunity
    (a 300 KB feed) made a 200 MB item; the next opportunity is unaffected."""
    data = qdr_feed(opportunity("lo-1", uses=2_000) + opportunity("lo-2"), big_organisation())
    assert len(data) < 400_000
    first, second = gather_qdr(data)
    assert errors(first) == ["record-too-large"] and first.item.content == b""
    (issue,) = first.issues
    assert str(MAX_RECORD_BYTES) in issue.message and issue.record_ref == "lo-1"
    assert errors(second) == [] and 100_000 < len(second.item.content) < 110_000


def test_copies_of_copies_are_bounded_too() -> None:
    """A chain where each element links the next one twice doubles at every level: 2**20 copies."""
    levels = 20
    chain = "".join(
        f'<learningAchievementSpecification id="s{i}"><title language="en">{"t" * 5_000}</title>'
        f'<hasPart><learningAchievementSpecification idref="s{i + 1}"/></hasPart>'
        f'<influencedBy><learningAchievementSpecification idref="s{i + 1}"/></influencedBy>'
        f'<specialisationOf><learningAchievementSpecification idref="s{i + 1}"/></specialisationOf>'
        f"</learningAchievementSpecification>"
        for i in range(levels)
    )
    lo = (
        '<learningOpportunity id="lo"><learningAchievementSpecification idref="s0"/>'
        '<learningAchievementSpecification idref="s0"/></learningOpportunity>'
    )
    (item,) = gather_qdr(qdr_feed(lo, specifications=chain), max_record_bytes=200_000)
    assert errors(item) == ["record-too-large"]


def test_the_feed_total_is_bounded_per_byte_of_feed() -> None:
    """200 opportunities each copying one 100 KB organisation once: each record is fine, the
    feed's 20 MB of records from 120 KB is not (max_expansion 2: twice the feed, plus one record)."""
    data = qdr_feed("".join(opportunity(f"lo-{i}") for i in range(200)), big_organisation())
    items = gather_qdr(data, max_record_bytes=150_000, max_expansion=2)
    landed = [g for g in items if not errors(g)]
    refused = [g for g in items if errors(g) == ["feed-too-large"]]
    assert len(items) == 200 and len(landed) + len(refused) == 200
    assert sum(len(g.item.content) for g in landed) <= 2 * len(data) + 150_000
    assert 0 < len(landed) < 10 and all(g.item.content == b"" for g in refused)


def test_the_real_samples_stay_well_within_the_defaults() -> None:
    from tests.harvesters.test_qdr import EC_SAMPLE, HANDMADE

    for path in (EC_SAMPLE, HANDMADE):
        data = path.read_bytes()
        items = gather_qdr(data)
        assert items and all(errors(g) == [] for g in items)
        assert sum(len(g.item.content) for g in items) < len(data) * MAX_EXPANSION / 4


# -- XML contexts ------------------------------------------------------------------------------

XCRI = "http://xcri.org/profiles/1.2/catalog"


def xcri(description: int, presentations: int) -> bytes:
    courses = "".join(
        f"<course><title>C{i}</title><presentation><identifier>p{i}</identifier></presentation></course>"
        for i in range(presentations)
    )
    return (
        f'<catalog xmlns="{XCRI}" xmlns:dc="http://purl.org/dc/elements/1.1/"><provider>'
        f"<dc:description>{'d' * description}</dc:description>{courses}</provider></catalog>"
    ).encode()


def xcri_spec(**reader: Any) -> Any:
    spec = load_spec("xcri-cap")
    language = spec.selector_language.configure(spec.namespaces, {**spec.reader, **reader})
    return SimpleNamespace(selector_language=language, name="xcri-cap")


def test_an_xml_context_copied_into_every_record_is_bounded_per_record() -> None:
    items = list(XmlHarvester().gather(xcri(300_000, 3), xcri_spec(max_record_bytes=200_000)))
    assert [errors(g) for g in items] == [["record-too-large"]] * 3
    assert all(g.item.content == b"" for g in items)


def test_an_xml_context_copied_into_every_record_is_bounded_per_feed() -> None:
    """A provider description of 50 KB around 400 presentations: 20 MB of items from a 90 KB feed."""
    data = xcri(50_000, 400)
    items = list(XmlHarvester().gather(data, xcri_spec(max_record_bytes=60_000, max_expansion=3)))
    landed = [g for g in items if not errors(g)]
    assert len(items) == 400 and 0 < len(landed) < 20
    assert sum(len(g.item.content) for g in landed) <= 3 * len(data) + 60_000
    assert {tuple(errors(g)) for g in items if errors(g)} == {("feed-too-large",)}


@pytest.mark.parametrize("key", ["max_record_bytes", "max_expansion"])
def test_the_limits_are_reader_options(tmp_path: Path, key: str) -> None:
    text = (SPECS / "xcri-cap.toml").read_text(encoding="utf-8")
    path = tmp_path / "tight.toml"
    path.write_text(text.replace("[reader]\n", f"[reader]\n{key} = 5\n", 1), encoding="utf-8")
    assert getattr(load_spec(str(path)).selector_language, key) == 5
    path.write_text(text.replace("[reader]\n", f"[reader]\n{key} = 0\n", 1), encoding="utf-8")
    with pytest.raises(ConfigurationError, match=key):
        load_spec(str(path))
