"""Generated CSV feeds for the crash and concurrency tests: N courses, every title tagged with a version."""

from __future__ import annotations

import csv
from pathlib import Path

HEADER = ["title", "summary", "institution", "language", "price", "course_description", "course_url"]


def write_feed(path: Path, rows: int, version: str) -> Path:
    """`rows` courses (ids stable across versions), titles "Course <i> <version>"."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for i in range(rows):
            writer.writerow(
                [
                    f"Course {i} {version}",
                    f"Summary of course {i}, version {version}",
                    f"Institution {i % 37}",
                    "English",
                    "FREE",
                    f"A description of course number {i} in version {version}. " * 3,
                    f"https://courses.example.org/course/{i}",
                ]
            )
    return path
