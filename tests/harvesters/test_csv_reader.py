"""The CSV harvester: encodings, delimiters, quoting, line pointers, header rules, ragged and giant rows."""

from __future__ import annotations

import codecs
import csv
import io
import json
import random
import tracemalloc
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from course_catalogue.catalogue.errors import ConfigurationError, ParseError
from course_catalogue.catalogue.runs import Severity
from course_catalogue.catalogue.sources import FORMATS
from course_catalogue.harvesters.base import Gathered, NonEmpty, harvester_for
from course_catalogue.harvesters.csv import CsvHarvester, detect_encoding, sniff_delimiter
from course_catalogue.mappings.items import CSV_ROW

FIXTURES = Path(__file__).parents[1] / "fixtures"

FRENCH = """id;titre;description;ville
1;Introduction à la programmation;Ce cours présente les notions de base : variables, boucles, fonctions. \
Idéal pour débutants — aucune connaissance préalable requise.;Besançon
2;Gestion de projet agile;Apprenez à piloter des équipes, à planifier les itérations et à évaluer \
les résultats. Certificat délivré à l'issue de la formation.;Paris
3;Cuisine française;Les élèves découvrent la crème brûlée, le pot-au-feu et les crêpes. \
Séances pratiques en atelier.;Lyon
"""


def spec(**reader: Any) -> SimpleNamespace:
    """Stands in for a MappingSpec: the harvester only reads `spec.reader`."""
    return SimpleNamespace(reader=reader)


def gather(data: bytes, **reader: Any) -> list[Gathered]:
    return list(CsvHarvester().gather(data, spec(**reader)))


def rows(data: bytes, **reader: Any) -> list[dict[str, str]]:
    gathered = gather(data, **reader)
    assert all(g.readable for g in gathered)
    return [json.loads(g.item.content) for g in gathered]


def test_edx_fixture_gives_975_rows_with_physical_line_pointers() -> None:
    gathered = gather((FIXTURES / "csv_edx_courses.csv").read_bytes())
    assert len(gathered) == 975
    assert all(g.readable and not g.issues for g in gathered)
    first = gathered[0].item
    assert first.media_type == CSV_ROW
    assert first.pointer == "line 2"
    assert json.loads(first.content) == first.parsed
    assert first.parsed["title"] == "How to Learn Online"
    assert list(first.parsed)[:3] == ["title", "summary", "n_enrolled"]
    # multi-line descriptions push later records further down the file than their row number
    lines = [int(g.item.pointer.split()[1]) for g in gathered]  # type: ignore[union-attr]
    assert lines == sorted(lines) and lines[-1] > len(gathered) + 1


def test_content_is_compact_utf8_json_in_header_order() -> None:
    (item,) = [g.item for g in gather("b,a\nÉté,x\n".encode())]
    assert item.content == '{"b":"Été","a":"x"}'.encode()


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        (codecs.BOM_UTF8 + "id,name\n1,Zürich\n".encode(), "utf-8-sig"),
        ("id,name\n1,Zürich\n".encode("utf-16"), "utf-16"),
        (codecs.BOM_UTF16_BE + "id,name\n1,Zürich\n".encode("utf-16-be"), "utf-16"),
        ("id,name\n1,Zürich\n".encode("utf-32"), "utf-32"),
        ("id,name\n1,Zürich\n".encode(), "utf-8"),
    ],
)
def test_byte_order_mark_and_utf8_decide_the_encoding(encoded: bytes, expected: str) -> None:
    assert detect_encoding(encoded) == expected
    assert rows(encoded) == [{"id": "1", "name": "Zürich"}]


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_single_byte_western_encodings_are_detected(encoding: str) -> None:
    text = FRENCH.replace("—", "-") if encoding == "latin-1" else FRENCH
    result = rows(text.encode(encoding))
    assert [r["ville"] for r in result] == ["Besançon", "Paris", "Lyon"]
    assert result[2]["description"].startswith("Les élèves découvrent la crème brûlée")


def test_reader_encoding_override_wins() -> None:
    data = "id,name\n1,Łódź\n".encode("cp1250")
    assert rows(data, encoding="cp1250") == [{"id": "1", "name": "Łódź"}]


def test_bytes_invalid_in_the_given_encoding_fail_the_feed_with_the_line() -> None:
    data = b"id,name\n1,ok\n2,\xff\xfe bad\n"
    with pytest.raises(ParseError, match=r"line 3.*not valid utf-8"):
        gather(data, encoding="utf-8")


def test_binary_garbage_fails_the_feed() -> None:
    with pytest.raises(ParseError, match="does not look like text"):
        gather(random.Random(7).randbytes(20_000))


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_delimiter_is_sniffed(delimiter: str) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(["id", "title", "summary"])
    writer.writerows([str(i), f"Course {i}", "Learn, practise, pass"] for i in range(5))
    data = out.getvalue().encode()
    assert sniff_delimiter(data, "utf-8") == delimiter
    result = rows(data)
    assert result[0] == {"id": "0", "title": "Course 0", "summary": "Learn, practise, pass"}


def test_single_column_feed_falls_back_to_comma() -> None:
    assert sniff_delimiter(b"id\n1\n2\n", "utf-8") == ","
    assert rows(b"id\n1\n2\n") == [{"id": "1"}, {"id": "2"}]


@pytest.mark.parametrize("given", ["tab", "\t", "\\t"])
def test_reader_delimiter_override(given: str) -> None:
    # commas would win a vote here; the spec says the feed is tab-separated
    data = b"id\tnote\n1\ta, b, c\n2\td, e, f\n"
    assert rows(data, delimiter=given) == [{"id": "1", "note": "a, b, c"}, {"id": "2", "note": "d, e, f"}]


def test_quoted_cells_keep_delimiters_quotes_and_line_breaks() -> None:
    data = b'id,description,city\n1,"one, two\nthree ""quoted""\r\nfour",Paris\n2,plain,Rome\n'
    gathered = gather(data)
    assert [g.item.pointer for g in gathered] == ["line 2", "line 5"]
    assert gathered[0].item.parsed["description"] == 'one, two\nthree "quoted"\r\nfour'
    assert gathered[1].item.parsed == {"id": "2", "description": "plain", "city": "Rome"}


def test_crlf_line_endings() -> None:
    gathered = gather(b"id,name\r\n1,a\r\n2,b\r\n")
    assert [(g.item.pointer, g.item.parsed["name"]) for g in gathered] == [("line 2", "a"), ("line 3", "b")]


def test_blank_and_empty_rows_are_skipped_but_counted_in_line_numbers() -> None:
    data = b"\n\nid,name\n\n1,a\n,\n   ,  \n2,b\n\n"
    gathered = gather(data)
    assert [(g.item.pointer, g.item.parsed["id"]) for g in gathered] == [("line 5", "1"), ("line 8", "2")]


def test_ragged_rows_are_item_errors_and_the_rest_lands() -> None:
    data = b"id,name,city\n1,a,Paris\n2,b\n3,c,Rome,extra\n4,d,Oslo\n"
    gathered = gather(data)
    assert [g.readable for g in gathered] == [True, False, False, True]
    short, long = gathered[1], gathered[2]
    (issue,) = short.issues
    assert issue.severity is Severity.ERROR and issue.code == "ragged-row"
    assert issue.pointer == "line 3" and short.item.pointer == "line 3"
    assert "2 cells but the header has 3 columns" in issue.message
    assert long.issues[0].pointer == "line 4" and "4 cells" in long.issues[0].message
    assert short.item.parsed == {"id": "2", "name": "b"}  # best effort, for identification only
    assert gathered[3].item.parsed == {"id": "4", "name": "d", "city": "Oslo"}


def test_surplus_empty_trailing_cells_are_not_ragged() -> None:
    assert rows(b"id,name\n1,a,,\n2,b,\n") == [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}]


@pytest.mark.parametrize("data", [b"", b"\n\n  \r\n", codecs.BOM_UTF8])
def test_empty_feed_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError, match="empty: expected a header row"):
        gather(data)


@pytest.mark.parametrize("data", [b"id,name,city\n", b"id,name,city\n\n,,\n  ,\t,\n"])
def test_header_only_feed_is_a_parse_error(data: bytes) -> None:
    # it once yielded nothing, which a complete run took as "every course gone"
    with pytest.raises(ParseError, match="header row but no record"):
        gather(data)


def test_header_names_are_trimmed() -> None:
    assert rows(b" id , name\n1,a\n") == [{"id": "1", "name": "a"}]


def test_empty_header_name_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match=r"line 1: the header row has no name for column\(s\) 2, 4"):
        gather(b"id,,name,\n1,2,3,4\n")


def test_duplicate_header_names_are_a_parse_error() -> None:
    with pytest.raises(ParseError, match=r"names column\(s\) 'title' more than once"):
        gather(b"id,title,Title,title\n1,a,b,c\n")


def test_giant_cell_fails_its_row_only() -> None:
    giant = "x" * 2_000_001
    data = f'id,description\n1,"{giant}\nstill the same cell"\n2,small\n'.encode()
    gathered = gather(data)
    assert [g.readable for g in gathered] == [False, True]
    (issue,) = gathered[0].issues
    assert issue.code == "cell-too-large" and issue.pointer == "line 2"
    assert "'description' has 2000021 characters, more than the limit of 1000000" in issue.message
    assert len(gathered[0].item.content) < 1000  # the giant cell is not carried along
    assert gathered[1].item.parsed == {"id": "2", "description": "small"}
    assert gathered[1].item.pointer == "line 4"


def test_cell_limit_is_configurable() -> None:
    gathered = gather(b"id,name\n1,abcdef\n2,abc\n", max_cell_chars=5)
    assert [g.readable for g in gathered] == [False, True]


@pytest.mark.parametrize(
    ("reader", "message"),
    [
        ({"delimeter": ";"}, "unknown CSV reader option"),
        ({"encoding": "klingon-8"}, "unknown CSV reader encoding"),
        ({"delimiter": ";;"}, "one character"),
        ({"quotechar": ""}, "one character"),
        ({"max_cell_chars": 0}, "positive integer"),
    ],
)
def test_bad_reader_options_are_configuration_errors(reader: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        gather(b"id\n1\n", **reader)


def test_spec_without_reader_options() -> None:
    (only,) = CsvHarvester().gather(b"id\n1\n", SimpleNamespace(reader=None))
    assert only.item.parsed == {"id": "1"}


def test_rows_stream_with_flat_memory() -> None:
    row = b'12345,Some course title,"a quoted, longer cell with\na line break",2024-01-01\n'
    data = b"id,title,description,date\n" + row * 30_000  # about 2.5 MB
    tracemalloc.start()
    try:
        count = sum(1 for _ in CsvHarvester().gather(data, spec()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 30_000
    assert peak < len(data) / 2  # nothing proportional to the feed is held


def test_registry() -> None:
    assert isinstance(harvester_for("csv").harvester, CsvHarvester)
    for fmt in FORMATS:  # every source format has a harvester
        assert callable(harvester_for(fmt).gather)
    with pytest.raises(ConfigurationError, match="no harvester for format 'pdf'"):
        harvester_for("pdf")


def test_every_registered_harvester_refuses_a_feed_without_records() -> None:
    class Silent:  # a harvester that forgot the rule: reads the feed and finds nothing
        def gather(self, data: bytes, spec: Any) -> Any:
            return iter(())

    with pytest.raises(ParseError, match="the feed has no record: an empty feed is refused"):
        list(NonEmpty(Silent()).gather(b"", spec()))  # type: ignore[arg-type]
    assert all(isinstance(harvester_for(fmt), NonEmpty) for fmt in FORMATS)


# -- hostile shapes: millions of columns, one enormous cell (issue 22) ----------------------------


def _peak(data: bytes, **reader: Any) -> tuple[Any, int]:
    """What gathering `data` gives (the items, or the exception) and its peak traced memory."""
    tracemalloc.start()
    try:
        try:
            outcome: Any = gather(data, **reader)
        except ParseError as exc:
            outcome = exc
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return outcome, peak


def test_a_row_of_a_million_cells_fails_the_feed_before_the_parser_builds_it() -> None:
    """3 MB of "ab," is a million cells: the csv module built a list of them (about 60 MB, 20x
    the row) before the row could be refused as ragged; 200 MB would have been gigabytes."""
    data = b"id,title\n1,ok\n" + b"ab," * 1_000_000 + b"\n2,fine\n"
    outcome, peak = _peak(data)
    assert isinstance(outcome, ParseError) and "line 3" in str(outcome) and "max_columns" in str(outcome)
    assert peak < 4 * len(data)


def test_a_header_of_a_million_columns_fails_the_feed() -> None:
    data = b",".join(b"c%d" % i for i in range(1_000_000)) + b"\n1\n"
    outcome, peak = _peak(data)
    assert isinstance(outcome, ParseError) and "line 1" in str(outcome) and "10000" in str(outcome)
    assert peak < 4 * len(data)


def test_many_delimiters_inside_a_quoted_cell_count_against_the_limit_only_per_line() -> None:
    cell = '"' + ",\n".join(["many commas"] * 50_000) + '"'  # 50,000 commas, one per line
    assert rows(f"id,text\n1,{cell}\n".encode())[0]["text"].count(",") == 49_999
    assert len(rows(b"a,b,c\n1,2,3\n", max_columns=3)) == 1
    with pytest.raises(ParseError, match="max_columns"):
        gather(b"a,b,c\n1,2,3,4,5\n", max_columns=3)


def test_an_oversized_cell_is_a_row_error_within_bounded_memory() -> None:
    big = 3_000_000  # over max_cell_chars, under the parser's hard limit
    data = b'id,title\n1,"' + b"x" * big + b'"\n2,fine\n'
    outcome, peak = _peak(data)
    first, second = outcome
    assert [i.code for i in first.issues] == ["cell-too-large"] and second.readable
    assert peak < 16 * len(data)  # the csv module's cell buffer is 4 bytes a character, grown by doubling


def test_an_enormous_cell_fails_the_feed_within_bounded_memory() -> None:
    """Past the parser's hard limit the csv module loses track of the quotes: the cell's own
    lines would be read as rows (records smuggled in a description). It cost ~500 MB before."""
    smuggled = "\n".join(f"{i},a smuggled row" for i in range(2_000_000))
    data = f'id,title\n1,"{smuggled}"\n2,fine\n'.encode()
    outcome, peak = _peak(data)
    assert isinstance(outcome, ParseError) and "cannot be told apart" in str(outcome)
    assert peak < 4 * len(data)
