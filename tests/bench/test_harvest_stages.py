"""The stage split of `bench.harvest_stages` and its item-level timer at a tiny size (no timing asserted)."""

from __future__ import annotations

from pathlib import Path

from bench import harvest_stages

_ROOT = ";".join(
    [
        "<module> (bench/harvest_stages.py:1)",
        "run (bench/harvest_stages.py:2)",
        "run_harvest (x/pipeline.py:3)",
    ]
)


def _line(*frames: str, count: int = 1) -> str:
    return ";".join([_ROOT, *frames]) + f" {count}"


def test_split_files_each_sample_under_its_deepest_stage() -> None:
    raw = "\n".join(
        [
            # the mapping calls a transform module: still mapping
            _line(
                "apply (/w/course_catalogue/mappings/engine.py:9)",
                "url (/w/course_catalogue/mappings/transforms/text.py:5)",
                count=3,
            ),
            # the store's SQLAlchemy call under the harvest session: store writes
            _line(
                "offer (/w/course_catalogue/catalogue/harvest_apply.py:1)",
                "do_executemany (/v/sqlalchemy/engine/default.py:1189)",
                count=2,
            ),
            # coverage walks XML in mappings/xml_paths.py: a terminal stage keeps it
            _line(
                "apply (/w/course_catalogue/mappings/engine.py:9)",
                "observe (/w/course_catalogue/mappings/coverage.py:194)",
                "values (/w/course_catalogue/mappings/xml_paths.py:360)",
            ),
            # the hash encodes JSON through jsontext: encoding, not anything else
            _line(
                "record_hash (/w/course_catalogue/catalogue/codec.py:150)",
                "canonical_bytes (/w/course_catalogue/catalogue/jsontext.py:50)",
            ),
            # the intake's own loop matches no stage
            _line("take_batch (/w/course_catalogue/services/intake.py:200)"),
            # outside run_harvest (imports, the store's creation): not counted
            "<module> (bench/harvest_stages.py:1);migrate (/w/course_catalogue/catalogue/store.py:1) 7",
        ]
    )
    stages, total = harvest_stages.split(raw)
    assert total == 8
    assert stages == {
        "mapping": 3,
        "store writes": 2,
        "coverage": 1,
        "encoding/hashing": 1,
        "pipeline (other)": 1,
    }


def test_item_stages_time_every_stage(tmp_path: Path) -> None:
    micros = harvest_stages.item_stages("csv", 60, 1, tmp_path)
    assert set(micros) == {
        "read/parse",
        "mapping",
        "validation",
        "course_to_dict",
        "unstorable check",
        "content hash",
    }
    assert all(value >= 0 for value in micros.values())
