"""A catalogue instance on disk for the crash tests: `catalogue` commands run in child processes
(killable), the store and the embedded index are read directly to compare them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import sqlalchemy as sa

from course_catalogue.catalogue.schema import course_eligibility
from course_catalogue.catalogue.store import CatalogueStore
from course_catalogue.search.tantivy.backend import EmbeddedBackend

ROOT = Path(__file__).resolve().parents[2]


class Instance:
    """One instance directory (SQLite store, tantivy index, locks, filesystem broker)."""

    def __init__(self, root: Path, **config: str) -> None:
        self.root = root
        self.url = f"sqlite:///{root / 'catalogue.db'}"
        self.index_dir = root / "data" / "index"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CATALOGUE_")}
        env.update({f"CATALOGUE_{k}": v for k, v in config.items()})
        env["CATALOGUE_INSTANCE_PATH"] = str(root)
        env.setdefault("CATALOGUE_RATELIMIT_ANONYMOUS", "")
        self.env = env

    def spawn(self, *args: str, **switches: str) -> subprocess.Popen[str]:
        """`catalogue <args>` in a child process (see tests/reliability/cli_child.py for switches)."""
        env = {**self.env, **switches}
        command = [sys.executable, "-m", "tests.reliability.cli_child", *args]
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def run(self, *args: str, timeout: float = 600) -> str:
        """`catalogue <args>` to completion; its output (AssertionError on a failure exit)."""
        child = self.spawn(*args)
        out, err = child.communicate(timeout=timeout)
        assert child.returncode == 0, f"catalogue {' '.join(args)} exited {child.returncode}:\n{out}\n{err}"
        return out

    def store(self) -> CatalogueStore:
        return CatalogueStore(self.url)

    def index(self) -> EmbeddedBackend:
        return EmbeddedBackend(self.index_dir)

    def expected_inventory(self) -> dict[str, tuple[int, str]]:
        """What the index must hold: per course, (index version, status). The version is the
        newest of the course's seq and its eligibility seqs (see search.sync)."""
        store = self.store()
        try:
            versions = {s.id: (s.seq, str(s.status)) for s in store.iter_courses(include_withdrawn=True)}
            query = sa.select(course_eligibility.c.course_id, sa.func.max(course_eligibility.c.seq)).group_by(
                course_eligibility.c.course_id
            )
            with store.reading() as conn:
                for course_id, seq in conn.execute(query):
                    if seq is not None and seq > versions[course_id][0]:
                        versions[course_id] = (seq, versions[course_id][1])
            return versions
        finally:
            store.close()

    def inventory(self) -> dict[str, tuple[int, str]]:
        index = self.index()
        try:
            return index.inventory()
        finally:
            index.close()


def kill(child: subprocess.Popen[str]) -> bool:
    """SIGKILL the child; True if it was still running."""
    alive = child.poll() is None
    if alive:
        os.kill(child.pid, signal.SIGKILL)
    child.communicate(timeout=30)
    return alive


def wait_for_line(child: subprocess.Popen[str], text: str, timeout: float = 300) -> None:
    """Read the child's stdout until a line equal to `text` (AssertionError if it exits first)."""
    assert child.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            _, err = child.communicate(timeout=30)
            raise AssertionError(f"the child exited ({child.returncode}) before printing {text!r}:\n{err}")
        if line.strip() == text:
            return
    raise AssertionError(f"no {text!r} from the child within {timeout} s")


def eventually(check: Callable[[], bool], timeout: float = 120, every: float = 0.2) -> bool:
    """Poll `check` until it holds or `timeout` passes (a deadline for convergence, not a timing
    assertion: the result is whether it converged at all)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return check()


def differences(expected: Mapping[str, object], actual: Mapping[str, object]) -> dict[str, object]:
    """The ids whose entries differ, with (expected, actual): small enough to print."""
    return {
        key: (expected.get(key), actual.get(key))
        for key in sorted(set(expected) | set(actual))
        if expected.get(key) != actual.get(key)
    }
