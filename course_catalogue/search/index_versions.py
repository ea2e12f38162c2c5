"""Versioned index directories behind a `CURRENT` pointer file that is switched atomically.

Layout: `<root>/v000001/`, `<root>/v000002/`, ... and `<root>/CURRENT` holding the name of the
live version. A rebuild fills a fresh version directory, then replaces CURRENT in one
`os.replace`, so a reader (in this process or another) sees either the old or the new name,
never a half-built index. Each version directory also holds a `SCHEMA` marker naming the
schema version it was built with, so an index built by older code is recognised.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

POINTER = "CURRENT"
MARKER = "SCHEMA"
_VERSION = re.compile(r"^v(\d{6,})$")


class IndexVersions:
    """The version directories under `root`. Not locked: callers serialise writers."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        return self.root / name

    def current(self) -> str | None:
        """Name of the live version, or None before the first one exists."""
        try:
            name = (self.root / POINTER).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name if _VERSION.match(name) else None

    def stamp(self) -> tuple[int, int] | None:
        """Cheap change detector for CURRENT: (inode, mtime). os.replace always changes the inode."""
        try:
            status = os.stat(self.root / POINTER)
        except FileNotFoundError:
            return None
        return status.st_ino, status.st_mtime_ns

    def create(self) -> str:
        """Make a new empty version directory numbered after every existing one; return its name."""
        number = max(self._numbers(), default=0) + 1
        while True:
            name = f"v{number:06d}"
            try:
                self.path(name).mkdir()  # atomic: a concurrent creator gets FileExistsError
            except FileExistsError:
                number += 1
                continue
            return name

    def switch(self, name: str) -> None:
        """Point CURRENT at `name` atomically (write a temp file, fsync, os.replace, fsync dir)."""
        temp = self.root / f".{POINTER}.{uuid.uuid4().hex}"
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self.root / POINTER)
        directory = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def write_marker(self, name: str, schema_version: str) -> None:
        (self.path(name) / MARKER).write_text(schema_version + "\n", encoding="utf-8")

    def read_marker(self, name: str) -> str | None:
        try:
            return (self.path(name) / MARKER).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None

    def discard(self, name: str) -> None:
        shutil.rmtree(self.path(name), ignore_errors=True)

    def prune(self, keep_from: str) -> list[str]:
        """Delete versions numbered below `keep_from` (the previous live one is passed, so a
        reader still on it keeps its files); return the names removed."""
        match = _VERSION.match(keep_from)
        if match is None:
            return []
        floor = int(match.group(1))
        removed = []
        for number in self._numbers():
            if number < floor:
                name = f"v{number:06d}"
                self.discard(name)
                removed.append(name)
        return removed

    def _numbers(self) -> list[int]:
        numbers = []
        for entry in self.root.iterdir():
            match = _VERSION.match(entry.name)
            if match and entry.is_dir():
                numbers.append(int(match.group(1)))
        return numbers
