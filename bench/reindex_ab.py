"""One full reindex of a filled store, as `catalogue reindex` runs it, timed by CPU: for A/B runs of
two trees of the code over the same store, alternated.

    cd $TREE && PYTHONPATH=$TREE nice -n 10 $WT/.venv/bin/python $WT/bench/reindex_ab.py MODE STORE_DIR

`$WT` is a checkout with its virtualenv; `$TREE` the code measured (a commit exported with `git
archive`, or the checkout itself); the script imports only what every tree since the reindex read
records raw has (`search.sync.reindex`, `EligibilityStore`, the embedded backend, the skills
taxonomy). STORE_DIR holds a filled
`catalogue.db` (`bench.index_bench --store`). MODE:

* `plain`: the reindex without kept skill links (every course's links computed), the only mode of
  a tree older than `skill_links`;
* `cold`: with the kept links (`SkillLinkStore`), the table emptied first: a first indexing, every
  course linked and its row written;
* `warm`: with the kept links as they are: any later reindex of unchanged texts.

The taxonomy and its label index are loaded before the clock starts. Prints one JSON line: process
CPU and calling-thread CPU per document (tantivy indexes on its own threads), wall seconds.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

MODES = ("plain", "cold", "warm")


def main(argv: list[str]) -> dict[str, object]:
    if len(argv) != 2 or argv[0] not in MODES:
        raise SystemExit(f"usage: reindex_ab.py {{{'|'.join(MODES)}}} STORE_DIR")
    mode, directory = argv[0], Path(argv[1])
    import course_catalogue
    from course_catalogue.catalogue.eligibility_store import EligibilityStore
    from course_catalogue.catalogue.store import CatalogueStore
    from course_catalogue.search.sync import reindex
    from course_catalogue.search.tantivy.backend import EmbeddedBackend
    from course_catalogue.skills import linking
    from course_catalogue.skills import taxonomy as skill_taxonomy

    taxonomy = skill_taxonomy.current()
    if taxonomy is not None:
        linking.label_index(taxonomy)
    store = CatalogueStore(f"sqlite:///{directory}/catalogue.db")
    extra: tuple[object, ...] = ()
    if mode != "plain":
        import sqlalchemy as sa

        from course_catalogue.catalogue.schema import skill_links
        from course_catalogue.catalogue.skill_link_store import SkillLinkStore

        extra = (SkillLinkStore(store),)
        if mode == "cold":
            with store.writing() as conn:
                conn.execute(sa.delete(skill_links))
    with tempfile.TemporaryDirectory(prefix="reindex-ab-", dir=directory) as index_dir:
        backend = EmbeddedBackend(index_dir)
        cpu, thread, wall = time.process_time(), time.thread_time(), time.perf_counter()
        count = reindex(store, backend, EligibilityStore(store), *extra)  # type: ignore[arg-type]
        cpu, thread, wall = time.process_time() - cpu, time.thread_time() - thread, time.perf_counter() - wall
        backend.close()
    store.close()
    return {
        "mode": mode,
        "code": str(Path(course_catalogue.__file__).parent),
        "documents": count,
        "cpu_us_per_doc": round(cpu / count * 1e6, 1),
        "thread_cpu_us_per_doc": round(thread / count * 1e6, 1),
        "wall_s": round(wall, 1),
        "skills": taxonomy is not None,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
