"""Harvest passes into PostgreSQL with the database server's CPU counted apart from the harvester's.

`bench.harvest_bench --postgres URL` measures the harvesting process only; on PostgreSQL a good
part of a harvest's work (index maintenance, lookups, COPY parsing) is done by the server's
backend processes. This runs, in one process, a first load and then an unchanged re-harvest of a
generated feed (`bench.harvest_bench.feed_path`, same seed and cache) into a fresh schema of the
database (dropped after), and reports per pass:

* the harvesting process's CPU (`time.process_time` plus reaped mapping workers), wall time and
  peak RSS (`ru_maxrss`, the whole process so far);
* the server's CPU: the backends of this run's connections, found by a unique
  `application_name`, their user+system time read from `/proc/<pid>/stat` every `--tick` seconds
  (so the server must run on this machine; backends that end between two reads lose their last
  tick: the store keeps its pooled connections open, so that is rare);
* the longest transaction seen (how long the store's write transaction, and so the seq lock,
  was held).

    nice -n 10 .venv/bin/python -m bench.harvest_pg --format csv --docs 1000000 \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test --out /tmp/pg1m/out

`--explain-ms N` loads auto_explain in the run's sessions (a superuser connection may) and logs,
to the server's log, the plan with actual times of every statement slower than N ms.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.generate import FORMATS
from bench.harvest_bench import MAPPINGS, _cpu, _database, _mapping_allowing, feed_path


class ServerCpu:
    """CPU seconds of the server backends whose application_name is `app`, sampled in a thread."""

    def __init__(self, admin: sa.Engine, app: str, tick: float) -> None:
        self._admin, self._app, self.tick = admin, app, tick
        self._cpu: dict[int, float] = {}
        self.longest_xact = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def total(self) -> float:
        return sum(self._cpu.values())

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        hz = os.sysconf("SC_CLK_TCK")
        query = sa.text(
            "SELECT pid, EXTRACT(EPOCH FROM now() - xact_start) FROM pg_stat_activity "
            "WHERE application_name = :app"
        )
        while not self._stop.wait(self.tick):
            with self._admin.connect() as conn:
                rows = conn.execute(query, {"app": self._app}).all()
            for pid, age in rows:
                if age is not None:
                    self.longest_xact = max(self.longest_xact, float(age))
                try:
                    with open(f"/proc/{pid}/stat") as stat:
                        fields = stat.read().rsplit(")", 1)[1].split()
                except OSError:  # ended, or the server is not on this machine
                    continue
                self._cpu[pid] = (int(fields[11]) + int(fields[12])) / hz  # utime + stime


def run(fmt: str, feed: Path, server: str, *, explain_ms: int | None, tick: float) -> list[dict[str, Any]]:
    from course_catalogue.catalogue.sources import Source
    from course_catalogue.catalogue.store import CatalogueStore
    from course_catalogue.harvesters.base import open_feed
    from course_catalogue.services.pipeline import HarvestSettings, run_harvest

    os.environ["BENCH_POSTGRES"] = server
    app = f"harvest_pg_{uuid.uuid4().hex[:8]}"
    limit = feed.stat().st_size + 1
    settings = HarvestSettings(max_feed_bytes=limit, workers=1)
    admin = sa.create_engine(server, poolclass=sa.pool.NullPool)
    results = []
    with tempfile.TemporaryDirectory() as directory, _database(directory) as url, open_feed(feed) as data:
        parsed = sa.make_url(url)
        options = [str(parsed.query["options"]), f"-capplication_name={app}"]
        if explain_ms is not None:
            options += [
                "-csession_preload_libraries=auto_explain",
                f"-cauto_explain.log_min_duration={explain_ms}",
                "-cauto_explain.log_analyze=on",
                "-cauto_explain.log_buffers=on",
            ]
        store = CatalogueStore(
            parsed.update_query_dict({"options": " ".join(options)}).render_as_string(hide_password=False)
        )
        server_cpu = ServerCpu(admin, app, tick)
        try:
            store.migrate()
            mapping = _mapping_allowing(MAPPINGS[fmt], limit, Path(directory))
            source = Source(id="bench", format=fmt, name="Benchmark feed", mapping=mapping)
            store.save_source(source)
            for name in ("first load", "unchanged re-harvest"):
                server_cpu.longest_xact = 0.0
                server_before, cpu, wall = server_cpu.total(), _cpu(), time.perf_counter()
                report = run_harvest(store, source, data=data, settings=settings)
                wall, cpu = time.perf_counter() - wall, _cpu() - cpu
                time.sleep(2 * tick)  # the backends' last ticks
                server = server_cpu.total() - server_before
                if report.error:
                    raise RuntimeError(f"the benchmark harvest failed: {report.error}")
                counts = {str(k): v for k, v in report.counts.items()}
                records = sum(counts.values())
                row = {
                    "pass": name,
                    "counts": counts,
                    "wall_s": round(wall, 1),
                    "cpu_s": round(cpu, 1),
                    "server_cpu_s": round(server, 1),
                    "records_per_cpu_s": round(records / cpu),
                    "records_per_cpu_s_with_server": round(records / (cpu + server)),
                    "records_per_s": round(records / wall),
                    "longest_transaction_s": round(server_cpu.longest_xact),
                    "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                }
                print(json.dumps(row), flush=True)
                results.append(row)
        finally:
            server_cpu.close()
            store.close()
            admin.dispose()
    return results


def main(argv: Iterable[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description="Harvest passes into PostgreSQL, server CPU apart.")
    parser.add_argument("--format", choices=FORMATS, default="csv")
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument(
        "--postgres", required=True, metavar="URL", help="the database (a fresh schema is used)"
    )
    parser.add_argument(
        "--explain-ms", type=int, default=None, help="auto_explain statements slower than this"
    )
    parser.add_argument("--tick", type=float, default=2.0, help="seconds between reads of the server's CPU")
    args = parser.parse_args(list(argv) if argv is not None else None)
    args.out.mkdir(parents=True, exist_ok=True)
    feed = feed_path(args.format, args.docs, args.seed, args.out)
    return run(args.format, feed, args.postgres, explain_ms=args.explain_ms, tick=args.tick)


if __name__ == "__main__":
    main()
