"""Chooses and opens the search backend a deployment is configured for."""

from __future__ import annotations

from pathlib import Path

from course_catalogue.search.backend import SearchBackend
from course_catalogue.search.tantivy.backend import EmbeddedBackend


def open_backend(index_dir: str | Path, opensearch_url: str | None = None) -> SearchBackend:
    """The embedded tantivy index in `index_dir`, or the OpenSearch cluster at `opensearch_url`.

    Raises BackendUnavailable when the configured engine cannot be opened.
    """
    if opensearch_url:
        # Imported here so that deployments on the embedded index never load the client.
        from course_catalogue.search.opensearch.backend import OpenSearchBackend

        return OpenSearchBackend(opensearch_url)
    return EmbeddedBackend(index_dir)
