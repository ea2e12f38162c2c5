"""Child process for memory-bounded hostile feeds: harvest one generated feed, report peak memory.

`python -m tests.reliability.memory_child <dir> <case>`; prints {"status", "error", "peak_mb"}
as JSON, where peak_mb is the child's peak resident set (ru_maxrss) after the harvest. The parent
compares it with a benign feed of the same size harvested the same way, so the bound does not
depend on the machine. RLIMIT_AS (2 GiB) keeps a regression from taking the machine down: it
then dies with a MemoryError, which fails the parent test too.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

from course_catalogue.services.pipeline import run_harvest
from fuzz import harness

LIMIT = 2048 * 1024 * 1024
PADDING = 1024 * 1024  # the tester's megabyte of comment before the DOCTYPE
RDF = b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'


def laughs(levels: int, root: bytes) -> bytes:
    """A DOCTYPE for `root` whose entity lol<levels> expands to 10**levels * 3 bytes."""
    entities = b'<!ENTITY lol0 "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10) for i in range(1, levels + 1)
    )
    return b"<!DOCTYPE " + root + b" [" + entities + b"]>"


def with_literal(seed: bytes, text: bytes) -> bytes:
    """The RDF/XML seed with one more description literal holding `text` in its first node."""
    at = seed.index(b"</title>") + len(b"</title>")
    literal = b'<description xmlns="http://purl.org/dc/terms/" xml:lang="fr">' + text + b"</description>"
    return seed[:at] + literal + seed[at:]


def after_declaration(data: bytes, insert: bytes) -> bytes:
    if data.lstrip(b"\xef\xbb\xbf").startswith(b"<?xml"):
        end = data.index(b"?>") + 2
        return data[:end] + b"\n" + insert + data[end:]
    return insert + data


def feed(case: str) -> tuple[str, bytes]:
    """(seed feed name, bytes) of a case."""
    comment = b"<!--" + b"c" * PADDING + b"-->"
    if case.startswith("rdfxml-"):
        seed = harness.FEEDS["rdfxml"].load()
        bomb = laughs(8, b"rdf:RDF")
        if case == "rdfxml-benign":
            return "rdfxml", after_declaration(with_literal(seed, b"plain"), comment)
        if case == "rdfxml-comment-then-doctype":  # the tester's: the check read the first MB only
            return "rdfxml", after_declaration(with_literal(seed, b"&lol8;"), comment + bomb)
        if case == "rdfxml-doctype-inside-root":  # not XML, but pyoxigraph reads it
            data = with_literal(seed, b"&lol8;")
            at = data.index(b">", data.index(b"<rdf:RDF")) + 1
            return "rdfxml", data[:at] + comment + bomb + data[at:]
        if case == "rdfxml-flat-amplification":  # one 2 KB entity used 200,000 times
            data = with_literal(seed, b"&big;" * 200_000)
            return "rdfxml", after_declaration(
                data, b'<!DOCTYPE rdf:RDF [<!ENTITY big "' + b"b" * 2000 + b'">]>'
            )
    if case in {"xcri", "lheo", "qdr"}:
        seed = harness.FEEDS[case].load()
        root = {"xcri": b"catalog", "lheo": b"lheo", "qdr": b"Courses"}[case]
        return case, after_declaration(seed, comment + laughs(8, root))
    if case == "qdr-idref":  # the tester's: 179 KB of QDR stored a 205 MB record (910 MB used)
        loq = "http://data.europa.eu/snb/model/ap/loq-constraints/"
        links = b'<providedBy idref="org"/>' * 2_000
        return "qdr", (
            f'<Courses xmlns="{loq}" xsdVersion="3.1.0"><learningOpportunityReferences>'
            '<learningOpportunity id="lo-1"><title language="en">T</title>'
        ).encode() + links + (
            "</learningOpportunity></learningOpportunityReferences><agentReferences>"
            f'<organisation id="org"><legalName language="en">{"x" * 100_000}</legalName></organisation>'
            "</agentReferences></Courses>"
        ).encode()
    if case == "jsonld-deep":
        seed = harness.FEEDS["jsonld"].load()
        document = json.loads(seed)
        document["@graph" if "@graph" in document else "deep"] = "DEEP"
        return "jsonld", json.dumps(document).encode().replace(b'"DEEP"', b"[" * 200_000 + b"]" * 200_000)
    raise SystemExit(f"unknown case {case}")


def main() -> None:
    directory, case = sys.argv[1:3]
    name, data = feed(case)
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))
    store = harness.open_store(f"sqlite:///{Path(directory) / 'catalogue.db'}", [harness.FEEDS[name]])
    report = run_harvest(store, harness.FEEDS[name].source(), data=data, settings=harness.SETTINGS)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(
        json.dumps(
            {"status": report.status.value, "error": report.error, "peak_mb": peak, "bytes": len(data)}
        )
    )


if __name__ == "__main__":
    main()
