"""Chooses and opens the search backend a deployment is configured for."""

from __future__ import annotations

from pathlib import Path

from search.backend import SearchBackend
from search.embedded import EmbeddedBackend
from search.errors import BackendUnavailable


def open_backend(index_dir: str | Path, opensearch_url: str | None = None) -> SearchBackend:
    """The embedded tantivy index in `index_dir`, or the OpenSearch cluster at `opensearch_url`.

    Raises BackendUnavailable when the configured engine cannot be opened.
    """
    if opensearch_url:
        return _open_opensearch(opensearch_url)
    return EmbeddedBackend(index_dir)


def _open_opensearch(url: str) -> SearchBackend:
    # Extension point: the OpenSearch backend (search/opensearch.py) plugs in here.
    raise BackendUnavailable(
        f"an OpenSearch URL is configured ({url}) but this build has no OpenSearch backend yet; "
        "unset it to use the embedded index"
    )
