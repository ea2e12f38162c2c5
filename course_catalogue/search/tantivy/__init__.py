"""The embedded search engine: the tantivy index, its queries, facets, hits, paging and suggestions."""
