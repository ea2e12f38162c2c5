"""Record a round of judgements made by reading a pool (`run pool` writes bench/out/relevance/pool/).

Input lines (stdin): `NEED 2:i,j,... 1:k,...` where the numbers are 1-based candidate lines of
`pool/needNEED.tsv` (after its header); every candidate of the file not listed is judged 0.
Appends need, course id, grade and title to judgements.tsv.

    .venv/bin/python -m bench.relevance.record < my-round.txt
"""

from __future__ import annotations

import sys

from bench.relevance.run import JUDGEMENTS, POOL


def main() -> int:
    rows = []
    for line in sys.stdin:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        need, *parts = line.split()
        grades: dict[int, int] = {}
        for part in parts:
            grade, _, numbers = part.partition(":")
            for number in filter(None, numbers.split(",")):
                grades[int(number)] = int(grade)
        candidates = (POOL / f"need{need}.tsv").read_text(encoding="utf-8").splitlines()[1:]
        unknown = [n for n in grades if not 1 <= n <= len(candidates)]
        if unknown:
            raise SystemExit(f"need {need}: no candidate {unknown[0]} (the pool has {len(candidates)})")
        for number, candidate in enumerate(candidates, start=1):
            course_id, title = candidate.split("\t")[:2]
            rows.append(f"{need}\t{course_id}\t{grades.get(number, 0)}\t{title}\n")
    with JUDGEMENTS.open("a", encoding="utf-8") as out:
        out.writelines(rows)
    print(f"{len(rows)} judgements recorded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
