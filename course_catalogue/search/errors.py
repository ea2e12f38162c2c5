"""Errors of the search package.

SearchError
├── QueryError          the user's request is invalid (HTTP 400): bad page, unknown filter, too long
├── BackendUnavailable  the engine cannot be reached or opened (HTTP 503)
│   ├── IndexOutdated   the index was built by an older schema: `reindex` (or `init`) rebuilds it
│   └── LocalClusterError  a local OpenSearch (tools/opensearch) could not be built or started
└── IndexingError       indexing failed; the store stays the truth and `reindex` repairs
"""


class SearchError(Exception):
    pass


class QueryError(SearchError):
    pass


class BackendUnavailable(SearchError):
    pass


class IndexOutdated(BackendUnavailable):
    pass


class IndexingError(SearchError):
    pass


class LocalClusterError(BackendUnavailable):
    pass
