"""Chooses and opens the search backend a deployment is configured for."""

from __future__ import annotations

from pathlib import Path

from course_catalogue.search.backend import SearchBackend
from course_catalogue.search.tantivy.backend import EmbeddedBackend


def open_backend(
    index_dir: str | Path,
    opensearch_url: str | None = None,
    semantic_model: str = "",
    *,
    embed_missing: bool = True,
) -> SearchBackend:
    """The embedded tantivy index in `index_dir`, or the OpenSearch cluster at `opensearch_url`.

    With a `semantic_model` (search.semantic.MODELS), the embedded index keeps course vectors
    too and answers `retrieval=hybrid` (search.tantivy.hybrid), and so does OpenSearch when the
    cluster has the k-NN and neural-search plugins (search.opensearch.hybrid). An embedded graph
    missing or built with another model (or missing documents: a process killed between the
    keyword commit and the graph's) is rebuilt here from the index's stored documents when the
    index is small (VECTORS_AT_OPEN), else by the next `catalogue reindex`; not with
    `embed_missing=False` (a web request: seconds to a minute of CPU there would outlast the
    server's worker timeout; see `embed_missing_vectors`). Raises BackendUnavailable when the
    configured engine cannot be opened.
    """
    if opensearch_url:
        # Imported here so that deployments on the embedded index never load the client.
        from course_catalogue.search.opensearch.backend import OpenSearchBackend

        return OpenSearchBackend(opensearch_url, model=semantic_model or None)
    if semantic_model:
        from course_catalogue.search.tantivy.hybrid import HybridBackend  # loads numpy and the graph library

        backend = HybridBackend(index_dir, model=semantic_model)
        if embed_missing:
            embed_missing_vectors(backend)
        return backend
    return EmbeddedBackend(index_dir)


def embed_missing_vectors(backend: SearchBackend) -> int | None:
    """Rebuild the embedded engine's vector graph when it lacks documents or was built with
    another model, if the index is small enough (VECTORS_AT_OPEN); returns how many vectors it
    holds, None for a backend without one (or an index too big: `catalogue reindex` does it).
    Cheap when nothing is missing (a count and a small file read)."""
    ensure = getattr(backend, "ensure_vectors", None)
    if ensure is None or backend.count() > VECTORS_AT_OPEN:
        return None
    return int(ensure())


VECTORS_AT_OPEN = 20_000
"""Up to this many courses, opening the index embeds what the vector graph lacks (about a minute
of CPU at the most); a bigger index gets its vectors from `catalogue reindex`."""
