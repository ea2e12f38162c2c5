"""EQF levels: EQF statements, national levels with their framework, award types, and honest
refusal of bare levels without a framework, ambiguous awards and non-EQF labels."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from course_catalogue.catalogue.runs import Severity
from course_catalogue.mappings.transforms.levels import eqf, framework_keys, frameworks


@pytest.mark.parametrize(
    ("published", "level"),
    [
        ("EQF 5", 5),
        ("EQF level 7", 7),
        ("EQR-Niveau 4", 4),
        ("niveau 5 CEC", 5),
        ("Level 5 (EQF)", 5),
        ("http://data.europa.eu/snb/eqf/5", 5),
        ("http://data.europa.eu/snb/eqf/8/", 8),
    ],
)
def test_stated_eqf_levels_need_no_note(published: str, level: int) -> None:
    assert eqf(published) == (level, ())


@pytest.mark.parametrize(
    ("published", "level", "framework"),
    [
        ("niveau V", 3, "FR-1969"),
        ("niveau IV", 4, "FR-1969"),
        ("niveau III", 5, "FR-1969"),
        ("niveau II", 6, "FR-1969"),
        ("niveau I", 7, "FR-1969"),
        ("RNCP niveau 5", 5, "FR"),
        ("RQF level 4", 5, "RQF"),
        ("RQF 3", 4, "RQF"),
        ("Entry Level 3", 1, "RQF"),
        ("CQFW level 6", 6, "CQFW"),
        ("SCQF level 7", 5, "SCQF"),
        ("SCQF 11", 7, "SCQF"),
        ("NFQ Level 8", 6, "NFQ-IE"),
        ("NFQ 6", 5, "NFQ-IE"),
        ("QQI Level 5", 4, "NFQ-IE"),
        ("DQR-Niveau 6", 6, "DQR"),
        ("NLQF 4", 4, "NLQF"),
    ],
)
def test_national_levels_use_the_crosswalk_and_say_so(published: str, level: int, framework: str) -> None:
    result = eqf(published)
    assert result.value == level
    (note,) = result.issues
    assert note.severity is Severity.INFO and note.code == "level-crosswalk" and framework in note.message


@pytest.mark.parametrize(
    ("published", "framework", "level"),
    [
        ("4", "RQF", 5),
        ("Level 3", "SCQF", 1),
        ("7", "SCQF", 5),
        ("Level 6", "NFQ-IE", 5),
        ("niveau 5", "FR", 5),
        ("niveau V", "FR", 3),  # roman numerals are the 1969 nomenclature's, whatever the feed declares
        ("5", "EQF", 5),
        ("V", "EQF", 5),
        ("Level 5", "eqf", 5),
        ("Level 3 Extended Diploma", "RQF", 4),
    ],
)
def test_a_declared_framework_says_what_bare_levels_mean(published: str, framework: str, level: int) -> None:
    result = eqf(published, framework=framework)
    assert result.value == level
    assert all(i.severity is Severity.INFO for i in result.issues)
    if framework.upper() != "EQF":
        assert "framework declared" in result.issues[0].message or framework in result.issues[0].message


@pytest.mark.parametrize(
    "published", ["5", " 8 ", "V", "iv", "Level 3", "level 2", "niveau 5", "Niveau 3", "Stufe 4"]
)
def test_a_bare_level_without_framework_is_ambiguous_never_an_eqf_level(published: str) -> None:
    result = eqf(published)
    assert result.value is None
    assert [(i.severity, i.code) for i in result.issues] == [(Severity.WARNING, "ambiguous-level")]


# Award types, as providers write them, each read through its framework's official referencing.
AWARDS = [
    # Scotland (SCQF)
    ("HNC Computing", 5, "SCQF level 7"),
    ("Higher National Diploma in Business", 5, "SCQF level 8"),
    ("HND Business", 5, "RQF level 5"),
    ("NC Computing with Digital Media Level 6", 4, "SCQF level 6"),
    ("NQ Health and Social Care | Level 5", 3, "SCQF level 5"),
    ("SVQ 2 in Hospitality", 3, "SCQF level 5"),
    ("SVQ in Hospitality | Level 2", 3, "SCQF level 5"),
    ("SVQ 1", 2, "SCQF level 4"),
    ("Higher", 4, "SCQF level 6"),
    ("Higher Biology", 4, "SCQF level 6"),
    ("Advanced Higher", 5, "SCQF level 7"),
    ("Intermediate 2", 3, "SCQF level 5"),
    ("Intermediate 1", 2, "SCQF level 4"),
    ("National 5 Biology", 3, "SCQF level 5"),
    ("Access 3", 1, "SCQF level 3"),
    ("PDA Cyber Security at SCQF level 7", 5, "SCQF level 7"),
    ("NC | Higher", 4, "SCQF level 6"),  # awards named together: the level they all allow
    ("NQ | Intermediate 2", 3, "SCQF level 5"),
    ("HNC/HND Computing", 5, "SCQF level 8"),
    ("Foundation Apprenticeship", 4, "SCQF level 6"),
    ("Graduate Diploma", 6, "SCQF levels 9-10"),
    ("Certificate of Higher Education", 5, "SCQF level 7"),
    ("BA (Honours) History | Undergraduate", 6, "first cycle"),
    ("B.Sc. Computing", 6, "first cycle"),
    ("MSc Data Science", 7, "second cycle"),
    ("PhD", 8, "third cycle"),
    # England, Wales, Northern Ireland (RQF, CQFW, FHEQ)
    ("A Level Mathematics", 4, "RQF level 3"),
    ("A-levels", 4, "RQF level 3"),
    ("AS Level Physics", 4, "RQF level 3"),
    ("BTEC Level 3 National Extended Diploma in Sport", 4, "RQF level 3"),
    ("BTEC Level 2 First Certificate", 3, "RQF level 2"),
    ("NVQ Level 2 Diploma in Bricklaying", 3, "RQF level 2"),
    ("Access to HE Diploma (Nursing)", 4, "RQF level 3"),
    ("Foundation Degree in Early Years", 5, "RQF level 5"),
    ("PGCert Learning and Teaching", 7, "RQF level 7"),
    ("Doctor of Philosophy", 8, "third cycle"),
    # Ireland (NFQ)
    ("Leaving Certificate", 4, "NFQ-IE levels 4-5"),
    ("Junior Certificate", 3, "NFQ-IE level 3"),
    ("Higher Certificate in Computing", 5, "NFQ-IE level 6"),
    ("Ordinary Bachelor Degree", 6, "NFQ-IE level 7"),
    ("Honours Bachelor Degree", 6, "NFQ-IE level 8"),
    ("Higher Diploma in Science", 6, "NFQ-IE level 8"),
    ("QQI Level 6 Advanced Certificate", 5, "NFQ-IE level 6"),
    # France (décret 2019-14)
    ("CAP Cuisine", 3, "FR level 3"),
    ("BEP", 3, "FR level 3"),
    ("Baccalauréat professionnel", 4, "FR level 4"),
    ("Bac pro Commerce", 4, "FR level 4"),
    ("BTS SIO", 5, "FR level 5"),
    ("DUT Informatique", 5, "FR level 5"),
    ("BUT Informatique", 6, "FR level 6"),
    ("Licence professionnelle", 6, "FR level 6"),
    ("Bac+2", 5, "FR level 5"),
    ("Bac + 5", 7, "FR level 7"),
    ("Master Informatique", 7, "second cycle"),
    ("Diplôme d'ingénieur", 7, "FR level 7"),
    ("Doctorat", 8, "third cycle"),
    # Germany (DQR)
    ("Meisterprüfung im Handwerk", 6, "DQR level 6"),
    ("Geprüfter Fachwirt", 6, "DQR level 6"),
    ("dreijährige Berufsausbildung", 4, "DQR level 4"),
    ("Abitur", 4, "DQR level 4"),
    ("Bachelor Professional in Technik", 6, "DQR level 6"),
    # Netherlands (NLQF)
    ("MBO 4", 4, "NLQF level 4"),
    ("MBO niveau 2", 2, "NLQF level 2"),
    ("Associate degree", 5, "short cycle"),
    ("HAVO", 4, "NLQF level 4"),
    # Bologna cycles where no country is known
    ("Bachelor", 6, "first cycle"),
    ("bachelor", 6, "first cycle"),
    ("level 6 (Bachelor)", 6, "first cycle"),
    ("Laurea magistrale", 7, "second cycle"),
    ("Licencjat", 6, "first cycle"),
    ("Máster universitario", 7, "second cycle"),
    ("short cycle", 5, "short cycle"),
]


@pytest.mark.parametrize(("published", "level", "crosswalk"), AWARDS)
def test_awards_reach_the_eqf_through_their_framework_with_a_note(
    published: str, level: int, crosswalk: str
) -> None:
    result = eqf(published)
    assert result.value == level, result.issues
    (note,) = result.issues
    assert note.severity is Severity.INFO and note.code == "level-crosswalk"
    assert crosswalk in note.message and f"EQF {level}" in note.message


@pytest.mark.parametrize(
    ("published", "framework", "level"),
    [
        ("HNC Computing", "SCQF", 5),
        ("HNC Computing", "RQF", 5),
        ("Bachelor of Science", "NFQ-IE", 6),
        ("MA (Hons) English", "SCQF", 6),  # the Scottish first degree
        ("MA English", "RQF", 7),
        ("HNC | Level 7", "SCQF", 5),
        ("Modern Apprenticeship | Level 6", "SCQF", 4),  # the stated level lies in the award's span
    ],
)
def test_the_declared_framework_picks_the_award_table(published: str, framework: str, level: int) -> None:
    result = eqf(published, framework=framework)
    assert result.value == level and [i.code for i in result.issues] == ["level-crosswalk"]


@pytest.mark.parametrize(
    ("published", "framework", "code"),
    [
        ("SVQ 3 in Business Administration", None, "ambiguous-award"),  # SCQF 6-7: EQF 4 or 5
        ("SVQ in Hospitality | Level 3", "SCQF", "ambiguous-award"),
        ("GCSE English", None, "ambiguous-award"),  # RQF 1-2
        ("MA", None, "ambiguous-award"),  # Scottish first degree or a master
        ("Standard Grade", None, "ambiguous-award"),
        ("Intermediate 1 and 2", None, "ambiguous-award"),  # several levels
        ("Intermediate 2 to Higher", None, "ambiguous-award"),
        ("SVQ 2/3", None, "ambiguous-award"),
        ("Ausbildung zum Koch", None, "ambiguous-award"),  # DQR 3 or 4
        ("Diploma in Cookery", None, "ambiguous-award"),
        ("Postgraduate", None, "ambiguous-award"),
        ("Titre professionnel", None, "ambiguous-award"),
        ("HNC | Level 6", "SCQF", "level-conflict"),
        ("HNC (SCQF level 9)", None, "level-conflict"),
        ("SCQF level 7, EQF 4", None, "level-conflict"),
        ("Access 2", None, "unknown-level"),  # SCQF 2 sits below the EQF
        ("SCQF 1", None, "unknown-level"),
        ("Entry Level 1", None, "unknown-level"),
        ("niveau V bis", None, "unknown-level"),
        ("Level 9", "EQF", "unknown-level"),
        ("Introductory", None, "unknown-level"),
        ("Intermediate", None, "unknown-level"),  # edX difficulty, not Intermediate 1/2
        ("Advanced", None, "unknown-level"),
        ("Higher education", None, "unknown-level"),
        ("Personal Licence Holders", None, "unknown-level"),
        ("a higher fee", None, "unknown-level"),
        ("May lead to a variety of qualifications", None, "unknown-level"),
        ("", None, "unknown-level"),
    ],
)
def test_ambiguous_conflicting_and_unknown_levels_are_warned_never_guessed(
    published: str, framework: str | None, code: str
) -> None:
    result = eqf(published, framework=framework)
    assert result.value is None
    assert [(i.severity, i.code) for i in result.issues] == [(Severity.WARNING, code)]


def test_the_frameworks_file_names_its_frameworks() -> None:
    keys = {f.key for f in frameworks().values()}
    assert {"FR", "FR-1969", "RQF", "CQFW", "SCQF", "NFQ-IE", "DQR", "NLQF", "QF-EHEA"} <= keys
    assert all(1 <= level <= 8 for f in frameworks().values() for level in f.levels.values())
    assert framework_keys()["scqf"] == "SCQF" and framework_keys()["eqf"] == "EQF"


def test_every_award_table_cites_its_source_and_uses_levels_of_its_framework() -> None:
    path = resources.files("course_catalogue.mappings.transforms") / "data" / "awards.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    tables = {key: table for key, table in data.items() if isinstance(table, dict)}
    assert {"SCQF", "RQF", "NFQ-IE", "FR", "DQR", "NLQF", "QF-EHEA"} <= set(tables)
    for key, table in tables.items():
        assert len(table["source"]) > 40, key
        for row in table["awards"]:
            for framework in (key, *row.get("also", ())):
                known = frameworks()[framework.lower()].levels
                spans = [row.get("level", []), *(row.get("numbers") or {}).values()]
                for span in spans:
                    for level in span if isinstance(span, list) else [span]:
                        assert str(level) in known or int(level) <= 2, (key, row["names"], level)
