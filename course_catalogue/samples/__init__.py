"""The bundled sample feeds (`feeds/`): real public files, unchanged, that `catalogue load-samples`
harvests on a first run. The registry that lists them, with their provenance, is samples/feeds.toml."""
