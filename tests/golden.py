"""Golden-file comparison for mapped feeds: `assert_golden(name, records)`; UPDATE_GOLDEN=1 rewrites.

The expected file is tests/fixtures/expected/<name>.json: the records as `course_to_dict` gives
them, sorted by provider ref then id, pretty-printed with sorted keys so diffs are reviewable.
With `jsonl=True` (large feeds) it is <name>.jsonl instead: one compact JSON record per line, so a
change still shows as a one-line diff per record.
Rewrite after an intended change with `UPDATE_GOLDEN=1 .venv/bin/pytest <test>` and read the diff
before checking it in: the file is the reviewed statement of what a feed must map to.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from course_catalogue.catalogue.codec import course_to_dict
from course_catalogue.catalogue.model import Course

EXPECTED = Path(__file__).parent / "fixtures" / "expected"


def _plain(record: Course | Mapping[str, Any]) -> dict[str, Any]:
    data = course_to_dict(record) if isinstance(record, Course) else dict(record)
    # JSON round trip: tuples become lists, so a fresh result compares equal to the stored file.
    loaded: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return loaded


def _key(data: dict[str, Any]) -> tuple[str, str]:
    provenance = data.get("provenance") or {}
    return (str(provenance.get("provider_ref", "")), str(data.get("id", "")))


def _dump(records: list[dict[str, Any]], jsonl: bool) -> str:
    if not jsonl:
        return json.dumps(records, indent=2, sort_keys=True, ensure_ascii=False)
    lines = (json.dumps(r, sort_keys=True, ensure_ascii=False, separators=(",", ":")) for r in records)
    return "\n".join(lines)


def _load(text: str, jsonl: bool) -> list[dict[str, Any]]:
    if not jsonl:
        loaded: list[dict[str, Any]] = json.loads(text)
        return loaded
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def assert_golden(name: str, records: Iterable[Course | Mapping[str, Any]], *, jsonl: bool = False) -> None:
    """Compare `records` with tests/fixtures/expected/<name>.json (<name>.jsonl with `jsonl`), or
    write it if UPDATE_GOLDEN=1."""
    actual = sorted((_plain(r) for r in records), key=_key)
    path = EXPECTED / f"{name}.{'jsonl' if jsonl else 'json'}"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_dump(actual, jsonl) + "\n", encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1, then review and check it in"
    expected = _load(path.read_text(encoding="utf-8"), jsonl)
    assert [_key(e) for e in expected] == [_key(a) for a in actual], "records differ (refs/ids)"
    for want, got in zip(expected, actual, strict=True):
        assert got == want, f"record {_key(want)} differs from {path.name}"
