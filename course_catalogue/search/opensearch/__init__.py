"""The OpenSearch search backend (by URL) and the local cluster launcher used by tests and benches."""
