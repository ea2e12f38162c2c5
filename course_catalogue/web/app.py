"""The Flask application factory: config layers, then one `init_app` per concern."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from flask import Flask, Response, current_app, request

from course_catalogue.services import runtime
from course_catalogue.web import (
    api,
    api_accounts,
    api_changes,
    api_discovery,
    api_docs,
    api_entitlements,
    api_exports,
    api_schemes,
    api_sources,
    api_webhooks,
    auth,
    bodies,
    caching,
    dashboard,
    dashboard_schemes,
    dashboard_views,
    errors,
    i18n,
    issue_messages,
    labels,
    oaipmh,
    params,
    places,
    protocol_headers,
    ratelimit,
    settings,
    synthetic,
    ui,
)

TEMPLATE_DIR = settings.bundled("templates", "templates")
STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(test_config: Mapping[str, Any] | None = None, *, instance_path: str | None = None) -> Flask:
    """Build the app. Config layers, lowest first: `web.settings` defaults ->
    `<instance>/catalogue.toml` (if present) -> `CATALOGUE_*` env vars -> `test_config`.

    The instance path is `instance_path`, else `$CATALOGUE_INSTANCE_PATH`, else `<repo>/instance`
    in a source checkout or the user data directory when installed (`settings.default_instance_path`).
    Creating the app opens nothing: the store and search backend open on first use.
    """
    app = Flask(
        __name__,
        instance_path=_instance_path(instance_path),
        template_folder=str(TEMPLATE_DIR),
        static_folder=str(STATIC_DIR),
    )
    app.request_class = bodies.CatalogueRequest  # one byte limit for every body; strict JSON
    params.install_converters(app)  # before any route: <int:...> holds at most a 64-bit id
    app.config.from_mapping(settings.defaults())
    app.config.from_file(
        str(Path(app.instance_path) / settings.INSTANCE_FILE), load=_load_toml, silent=True, text=False
    )
    app.config.from_prefixed_env(settings.ENV_PREFIX)
    if test_config is not None:
        app.config.from_mapping(test_config)
    settings.resolve(app.config, app.instance_path)

    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the documented key order
    protocol_headers.init_app(app)  # first registered, so its after_request hook runs last
    runtime.init_app(app)
    errors.init_app(app)
    params.init_app(app)  # no NUL in any parameter
    labels.init_app(app)
    synthetic.init_app(app)
    issue_messages.init_app(app)
    dashboard_views.init_app(app)  # words for run statuses, issue kinds, elements; dashboard charts
    i18n.init_app(app)
    caching.init_app(app)
    assert api_discovery.bp is api.bp  # its routes (suggest, facets, openapi) are on the api blueprint
    app.register_blueprint(api.bp)
    app.register_blueprint(api_docs.bp)  # /api/v1/docs and its bundled viewer
    app.register_blueprint(ui.bp)
    app.register_blueprint(places.bp)  # /places/suggest: the town box's suggestions
    auth.init_app(app)  # session key, CSRF for the dashboard's forms
    ratelimit.init_app(app)  # anonymous /api/ use per IP
    app.register_blueprint(api_sources.bp)
    app.register_blueprint(api_accounts.bp)
    app.register_blueprint(api_entitlements.bp)  # organisations accounts may publish for
    app.register_blueprint(api_changes.bp)  # /api/v1/changes (registries' feed)
    app.register_blueprint(api_schemes.bp)  # eligibility schemes and decisions
    app.register_blueprint(api_webhooks.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(dashboard_schemes.bp)  # registries' schemes, evaluation, decisions
    app.register_blueprint(api_exports.bp)  # /api/v1/export, /api/v1/snapshot.*
    app.register_blueprint(oaipmh.bp)  # /oai
    app.after_request(_cors)
    app.after_request(_security_headers)
    return app


def _instance_path(explicit: str | None) -> str:
    chosen = explicit or os.environ.get("CATALOGUE_INSTANCE_PATH") or settings.default_instance_path()
    return str(Path(chosen).expanduser().resolve())


def _load_toml(handle: IO[Any]) -> dict[str, Any]:
    # TOML keys are written in any case; Flask only takes upper-case config keys.
    return {key.upper(): value for key, value in tomllib.load(handle).items()}


def _cors(response: Response) -> Response:
    """Allow browsers on configured origins to read the JSON API (read-only GETs)."""
    allowed = current_app.config["CORS_ORIGINS"]
    origin = request.headers.get("Origin")
    if not allowed or not origin or not request.path.startswith("/api/"):
        return response
    if "*" in allowed:
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif origin in allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.vary.add("Origin")
    return response


# Pages load only our own stylesheet; nothing is framed, sniffed or leaked in Referer headers.
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
_CSP = "default-src 'self'; img-src 'self' data:{tiles}; frame-ancestors 'none'; form-action 'self'"


def _security_headers(response: Response) -> Response:
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    tiles = current_app.config["MAP_TILES_ORIGIN"]  # map tiles are images from the tile server
    response.headers.setdefault("Content-Security-Policy", _CSP.format(tiles=f" {tiles}" if tiles else ""))
    return response
