"""The bundled sample feeds (`feeds/`): real public files, unchanged, that `catalogue load-samples`
harvests on a first run, and one synthetic feed (`synthetic_ooapi_offerings.json`, invented courses
labelled as such on every page) that gives the first run current courses with places. The registry
that lists them, with their provenance, is samples/feeds.toml."""
