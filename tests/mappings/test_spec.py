"""Spec loading: strict validation of the spec itself, with the file and key named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from course_catalogue.catalogue.errors import ConfigurationError
from course_catalogue.mappings.csv_options import CsvOptions
from course_catalogue.mappings.spec import load_spec

VALID = """
format = "csv"
default_language = "English"
null_values = ["NA"]
[reader]
delimiter = ";"
[id]
column = "id"
[fields.title]
column = "title"
required = true
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "demo.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_loads_a_valid_spec(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, VALID))
    assert (spec.name, spec.format, spec.default_language) == ("demo", "csv", "en")
    assert spec.reader == {"delimiter": ";"}
    assert spec.null_values == frozenset({"na"})
    assert [target.path for target, _ in spec.fields] == ["title"]


def test_loads_the_shipped_edx_spec_by_name() -> None:
    spec = load_spec("edx-csv")
    assert spec.name == "edx-csv" and spec.format == "csv"
    assert spec.fields[0][0].path == "languages"  # decides the text language, so it runs first


@pytest.mark.parametrize(
    ("extra", "key", "problem"),
    [
        ('colour = "red"\n', "(top level)", "unknown key(s) colour"),
        ('[fields.titel]\ncolumn = "x"\n', "fields.titel", "unknown target field"),
        ('[fields.url]\ncolumn = "x"\ncolour = 1\n', "fields.url", "unknown key(s) colour"),
        (
            '[fields.url]\ncolumn = "x"\ntransform = "shout"\n',
            "fields.url.transform",
            "unknown transform 'shout'",
        ),
        ('[fields.url]\ncolumn = "x"\nxpath = "/a"\n', "fields.url", "unknown key(s) xpath"),
        ('[fields.url]\nconstant = "x"\ncolumn = "y"\n', "fields.url", "either a selector"),
        ("[fields.url]\nrequired = true\n", "fields.url", "either a selector"),
        (
            '[fields.eqf_level]\ncolumn = "x"\nargs = { framework = "ZZ" }\n',
            "fields.eqf_level.args",
            "unknown framework",
        ),
        (
            '[fields.eqf_level]\ncolumn = "x"\nargs = { speed = 1 }\n',
            "fields.eqf_level.args",
            "unknown argument(s) speed",
        ),
        (
            '[fields.eqf_level]\ncolumn = "x"\ntransform = "text"\n',
            "fields.eqf_level.transform",
            "needs a int value",
        ),
        ('[fields.workload]\ncolumn = "x"\n', "fields.workload", "needs a transform"),
        (
            '[fields.workload]\ncolumn = "x"\ntransform = ["estimate_ects"]\n',
            "fields.workload.transform",
            "reads workload but gets str",
        ),
        (
            '[fields.workload]\ncolumns = ["a", "b"]\njoin = " "\ntransform = "effort_hours"\n',
            "fields.workload.transform",
            "must come first",
        ),
        ('[fields.url]\ncolumn = "x"\nlang = "en"\n', "fields.url.lang", "only text fields"),
        (
            '[fields.description]\ncolumn = "x"\nlang = "Elvish"\n',
            "fields.description.lang",
            "unknown language",
        ),
        (
            '[fields.description]\ncolumn = "x"\ntemplate = "{nope}"\n',
            "fields.description.template",
            "placeholders",
        ),
        ('[fields.description]\ncolumn = "x"\nsplit = ""\n', "fields.description.split", "cannot be empty"),
        (
            '[fields.description]\ncolumn = "x"\nrequired = "yes"\n',
            "fields.description.required",
            "true or false",
        ),
        (
            '[fields.modes]\ncolumn = "x"\nmap = { A = "online", a = "onsite" }\n',
            "fields.modes.map.a",
            "duplicate key",
        ),
        ('[fields.modes]\ncolumn = "x"\nmap = { A = true }\n', "fields.modes.map.A", "map values"),
        ('[fields.price]\ncolumn = "x"\nargs = { currency = "XYZ" }\n', "fields.price.args", "ISO 4217"),
        ('[fields.date]\ncolumn = "x"\n', "fields.date", "unknown target field"),
        (
            '[fields.start_date]\ncolumn = "x"\nargs = { day_first = "yes" }\n',
            "fields.start_date.args",
            "true or false",
        ),
    ],
)
def test_spec_errors_name_file_and_key(tmp_path: Path, extra: str, key: str, problem: str) -> None:
    path = write(tmp_path, VALID + extra if not extra.startswith("colour") else extra + VALID)
    with pytest.raises(ConfigurationError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}:"), message
    assert problem in message


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (VALID.replace('format = "csv"', 'format = "pdf"'), "format", "no selector language"),
        (VALID.replace('delimiter = ";"', 'delimiter = ";;"'), "reader.delimiter", "one character"),
        (VALID.replace('delimiter = ";"', 'encoding = "klingon-8"'), "reader.encoding", "unknown encoding"),
        (VALID.replace('delimiter = ";"', "sheet = 1"), "reader", "unknown key(s) sheet"),
        (
            VALID.replace('default_language = "English"', 'default_language = "Elvish"'),
            "default_language",
            "unknown",
        ),
        (VALID.replace('[id]\ncolumn = "id"', "[id]\njoin = '-'"), "id", "needs a selector"),
        ('format = "csv"\n', "fields", "needs a [fields.<target>] table"),
    ],
)
def test_top_level_errors(tmp_path: Path, text: str, key: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError, match=re.escape(problem)) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"{path}: {key}:")


def test_unknown_spec_name_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found"):
        load_spec("no-such-mapping")
    with pytest.raises(ConfigurationError, match="invalid mapping name"):
        load_spec("Bad Name")
    with pytest.raises(ConfigurationError, match="cannot read mapping spec"):
        load_spec(write(tmp_path, "format = "))


def test_the_reader_options_are_checked_as_the_csv_reader_reads_them(tmp_path: Path) -> None:
    # one schema (mappings.csv_options): a named delimiter the reader understands loads
    spec = load_spec(write(tmp_path, VALID.replace('delimiter = ";"', 'delimiter = "tab"')))
    assert CsvOptions.from_reader(spec.reader).delimiter == "\t"


def test_reader_accepts_the_csv_harvester_options(tmp_path: Path) -> None:
    text = VALID.replace(
        'delimiter = ";"', 'delimiter = ";"\nquotechar = "\'"\nencoding = "latin-1"\nmax_cell_chars = 5000'
    )
    assert load_spec(write(tmp_path, text)).reader["max_cell_chars"] == 5000
