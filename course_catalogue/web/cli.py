"""The `catalogue` command line: init, harvest, reindex, remap, sources, runs, serve, load-samples.

Built on Flask's CLI: every command runs inside the app context of `create_app()` (so it sees
the same config layers as the web app) and uses the app's services, closed when the command ends.
Exit codes: 0 done, 1 a harvest run FAILED (a feed-level error, or a feed whose every record was
rejected; or a command's target was not found), 2 usage error,
3 another harvest of the source is running (nothing was done; try again later).
"""

from __future__ import annotations

import json
import re
import signal
import tomllib
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import ScriptInfo, routes_command, shell_command, with_appcontext
from werkzeug.serving import make_server

from course_catalogue.catalogue.errors import CatalogueError, Conflict, NotFound
from course_catalogue.catalogue.runs import Outcome, RunStatus
from course_catalogue.catalogue.sources import (
    FORMATS,
    SYNTHETIC,
    Source,
    source_parameters,
)
from course_catalogue.search.errors import IndexOutdated
from course_catalogue.services.actors import Actor
from course_catalogue.services.runtime import Services, get_services
from course_catalogue.services.sources import MIN_SCHEDULE_MINUTES, SourceFields
from course_catalogue.web.app import create_app
from course_catalogue.web.cli_accounts import COMMANDS as ACCOUNT_COMMANDS
from course_catalogue.web.cli_accounts import sources_publishing
from course_catalogue.web.cli_repair import COMMANDS as REPAIR_COMMANDS
from course_catalogue.web.cli_skills import SKILL_COMMANDS
from course_catalogue.web.cli_tasks import COMMANDS as TASK_COMMANDS
from course_catalogue.web.reports import echo_report

EXIT_BUSY = 3


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"catalogue {metadata.version('course-catalogue')}")
        ctx.exit()


def services() -> Services:
    """The app's services, closed when the current command ends."""
    found = get_services()
    click.get_current_context().call_on_close(found.close)
    return found


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return slug[:64] or "feed"


def _default_source_id(mapping: str | None, file: Path | None, url: str | None) -> str:
    """A source id when none is given: the mapping name, else the file name, else the URL host."""
    if mapping:
        return _slug(Path(mapping).stem)
    if file is not None:
        return _slug(file.stem)
    return _slug(urlsplit(url or "").hostname or "feed")


def _resolve_source(
    source_id: str | None, file: Path | None, url: str | None, fmt: str | None, mapping: str | None
) -> tuple[Source, bool]:
    """The registered source updated with the options given, or a new one built from them;
    the flag says whether it is new."""
    store = services().store
    chosen = source_id or _default_source_id(mapping, file, url)
    try:
        known: Source | None = store.get_source(chosen)
    except NotFound:
        known = None
    if known is None:
        if not mapping:
            raise click.UsageError(f"source {chosen!r} is not registered: give --mapping")
        return Source(id=chosen, format=fmt or "csv", name=chosen, url=url, mapping=mapping), True
    updated = replace(
        known, format=fmt or known.format, mapping=mapping or known.mapping, url=url or known.url
    )
    return updated, False


@click.command("harvest")
@click.option(
    "--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Feed file."
)
@click.option("--url", help="Feed URL to fetch.")
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), help="Feed format (default csv, or as registered)."
)
@click.option("--mapping", help="Mapping spec name (mappings/specs/<name>.toml) or path.")
@click.option(
    "--source", "source_id", help="Source id; registered or updated. Default: from the mapping/file name."
)
@click.option(
    "--dry-run", is_flag=True, help="Compute and print the report; change, register and record nothing."
)
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
@with_appcontext
def harvest_command(
    file: Path | None,
    url: str | None,
    fmt: str | None,
    mapping: str | None,
    source_id: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Harvest one feed (a file, a URL, or the registered source's URL) into the catalogue."""
    if file is not None and url:
        raise click.UsageError("give --file or --url, not both")
    source, _ = _resolve_source(source_id, file, url, fmt, mapping)
    if file is None and not source.url:
        raise click.UsageError(f"source {source.id!r} has no URL: give --file or --url")
    # A dry run registers nothing, changes nothing and is not recorded: its report is printed.
    harvests = services().harvests
    if file is not None:
        attempt = harvests.harvest_file(Actor.operator(), source, file, dry_run=dry_run)
    else:
        attempt = harvests.harvest(Actor.operator(), source, dry_run=dry_run)
    if attempt.report is None:
        click.echo(f"Error: {attempt.error}; nothing was done, try again when it has finished", err=True)
        raise SystemExit(EXIT_BUSY)
    report = attempt.report
    echo_report(report, as_json=as_json)
    if report.status is RunStatus.FAILED:
        raise SystemExit(1)


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create or migrate the database and create the data and index directories."""
    config = current_app.config
    for key in ("DATA_DIR", "INDEX_DIR"):
        Path(config[key]).mkdir(parents=True, exist_ok=True)
    svc = services()
    svc.store.migrate()
    try:
        svc.backend.count()  # opens (and so creates) the index
    except IndexOutdated:
        # Like the database migration above: an index built by an older schema is rebuilt from
        # the store (searches keep the old version until the new one is switched in).
        count = svc.reindex()
        click.echo(f"Search index rebuilt for this version ({count} courses).")
    click.echo(f"Database ready: {_safe_url(config['DATABASE_URL'])}")
    click.echo(f"Search index: {config['OPENSEARCH_URL'] or config['INDEX_DIR']}")


def _safe_url(url: str) -> str:
    """A database URL without its password, for printing."""
    return re.sub(r"(//[^:/@]+):[^@]*@", r"\1:***@", url)


@click.command("reindex")
@with_appcontext
def reindex_command() -> None:
    """Rebuild the search index from the store (searches keep working meanwhile)."""
    # documents carry eligibility; skill links are reused where the course text is unchanged;
    # index deliveries wait meanwhile and are made when it is done (Services.reindex)
    count = services().reindex()
    click.echo(f"Indexed {count} courses.")


@click.command("remap")
@click.argument("source_id")
@click.option("--dry-run", is_flag=True, help="Compute the report; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
@with_appcontext
def remap_command(source_id: str, dry_run: bool, as_json: bool) -> None:
    """Re-apply the source's current mapping to its stored raw records (nothing is downloaded)."""
    report = services().harvests.remap(Actor.operator(), source_id, dry_run=dry_run)
    echo_report(report, as_json=as_json)
    if report.status is RunStatus.FAILED:
        raise SystemExit(1)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def serve_command(host: str, port: int) -> None:
    """Serve the web UI and API (werkzeug's threaded WSGI server; a thread per request).

    Fine for the embedded default and modest traffic; for a busy public site run a process-based
    WSGI server instead, e.g. `gunicorn -w 4 'web.app:create_app()'`.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # make_server rather than run_simple: same server, without the "development server" banner
    # and the debugger/reloader machinery that run_simple would offer.
    server = make_server(host, port, app, threaded=True)
    signal.signal(signal.SIGTERM, _interrupt)  # `docker stop`, systemd: shut down like Ctrl-C
    click.echo(f"Serving on http://{host}:{server.port} (Ctrl-C to stop)")
    try:
        server.serve_forever()  # returns on Ctrl-C or SIGTERM: werkzeug swallows KeyboardInterrupt
    finally:
        server.server_close()
        get_services(app).close()
    click.echo("Stopped.")


@click.command("load-samples")
@click.option("--json", "as_json", is_flag=True, help="Print each run report as JSON.")
@with_appcontext
def load_samples_command(as_json: bool) -> None:
    """Register and harvest every feed of the bundled sample registry (SAMPLE_FEEDS)."""
    registry = Path(current_app.config["SAMPLE_FEEDS"])
    svc = services()
    reports = []
    for entry in _sample_feeds(registry):
        source = Source(
            id=entry["id"],
            format=entry.get("format", "csv"),
            name=entry.get("name", entry["id"]),
            url=entry.get("url"),
            mapping=entry.get("mapping"),
            settings=_sample_settings(entry),
        )
        data = _sample_data(registry, entry)
        attempt = svc.harvests.harvest(Actor.operator(), source, data=data)
        if attempt.report is None:
            raise click.ClickException(
                f"sample feed {source.id!r}: {attempt.error}; try again when it has finished"
            )
        report = attempt.report
        reports.append(report)
        if not as_json:
            echo_report(report, as_json=False, issue_limit=3)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in reports], indent=2, ensure_ascii=False))
    failed = [r.source_id for r in reports if r.status is RunStatus.FAILED]
    if failed:
        click.echo(f"Failed: {', '.join(failed)}", err=True)
        raise SystemExit(1)


PROVENANCE_KEYS = ("what", "repo", "repo_path", "commit", "licence")


def _sample_settings(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry's registration settings, plus its provenance (where the bundled file was published,
    at which commit, under which licence) so the sources page can say where each sample came from."""
    settings = dict(entry.get("settings") or {})
    if entry.get("synthetic") is True:  # made-up sample data: every page and API answer says so
        settings[SYNTHETIC] = True
    provenance = {key: str(entry[key]) for key in PROVENANCE_KEYS if entry.get(key)}
    if provenance:
        settings["provenance"] = provenance
    return settings


def _sample_data(registry: Path, entry: dict[str, Any]) -> bytes | None:
    """The feed file's bytes (relative to the registry), or None to fetch the entry's url."""
    if not entry.get("file"):
        return None
    path = registry.parent / entry["file"]
    try:
        return path.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"sample feed {entry['id']!r}: cannot read {path}: {exc}") from exc


def _sample_feeds(registry: Path) -> list[dict[str, Any]]:
    try:
        feeds: list[dict[str, Any]] = tomllib.loads(registry.read_text(encoding="utf-8"))["feeds"]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
        raise click.ClickException(f"cannot read the sample registry {registry}: {exc}") from exc
    return feeds


@click.group("sources", invoke_without_command=True)
@with_appcontext
@click.pass_context
def sources_group(ctx: click.Context) -> None:
    """List registered sources (or add one)."""
    if ctx.invoked_subcommand is not None:
        return
    store = services().store
    for source in store.list_sources():
        runs = store.list_runs(source.id, limit=1)
        last = f"last run {runs[0].run_id} {runs[0].status.value}" if runs else "never harvested"
        courses = store.count_courses(source_id=source.id)
        click.echo(
            f"{source.id:20} {source.format:9} {source.mapping or '-':16} {courses:7} courses  {last}"
            f"  {source.url or ''}".rstrip()
        )


sources_group.add_command(sources_publishing)


@sources_group.command("add")
@click.argument("source_id")
@click.option("--url", help="Feed URL (none for uploaded feeds).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("--mapping", required=True, help="Mapping spec name.")
@click.option("--schedule", type=int, help=f"Minutes between pulls (at least {MIN_SCHEDULE_MINUTES}).")
@click.option("--name", help="Display name.")
@click.option("--framework", help="Parameter: qualification framework of bare levels (SCQF, RQF, ...).")
@click.option("--currency", help="Parameter: ISO 4217 currency of amounts written without one.")
@click.option("--country", help="Parameter: provider country (ISO 3166) when a record gives none.")
@click.option("--language", help="Parameter: ISO 639 language of text when a record does not say.")
@click.option("--hours-per-ects", "hours_per_ects", help="Parameter: notional hours per ECTS for estimates.")
@with_appcontext
def sources_add(
    source_id: str,
    url: str | None,
    fmt: str,
    mapping: str,
    schedule: int | None,
    name: str | None,
    **parameters: str | None,
) -> None:
    """Register a source, or update it if the id exists.

    The parameter options declare what the feed leaves implicit; an existing source keeps the
    fields and parameters not given, and an empty value ('') removes a parameter."""
    sources = services().sources
    given = {key: value for key, value in parameters.items() if value is not None}
    fields = SourceFields(format=fmt, mapping=mapping, parameters=given)
    for key, value in (("url", url), ("schedule_minutes", schedule), ("name", name)):
        if value is not None:
            fields = replace(fields, **{key: value})
    try:
        source = sources.register(Actor.operator(), replace(fields, id=source_id))
    except Conflict:
        source = sources.change(Actor.operator(), source_id, fields)
    shown = ", ".join(f"{key} {value}" for key, value in source_parameters(source).to_json().items())
    click.echo(f"Source {source_id!r} saved." + (f" Parameters: {shown}." if shown else ""))


@sources_group.command("show")
@click.argument("source_id")
@with_appcontext
def sources_show(source_id: str) -> None:
    """Print one source's registration, parameters included."""
    source = services().store.get_source(source_id)
    for label, value in (
        ("id", source.id),
        ("name", source.name),
        ("format", source.format),
        ("mapping", source.mapping or "-"),
        ("url", source.url or "-"),
        ("schedule", f"every {source.schedule_minutes} minutes" if source.schedule_minutes else "-"),
        ("owner", source.owner or "-"),
    ):
        click.echo(f"{label:15} {value}")
    for key, value in source_parameters(source).to_json().items():
        click.echo(f"{key:15} {value}")


@click.group("runs")
def runs_group() -> None:
    """Harvest run reports."""


@runs_group.command("show")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--limit", default=50, show_default=True, help="Issues to print (text output).")
@with_appcontext
def runs_show(run_id: int, as_json: bool, limit: int) -> None:
    """Print one run report with its issues."""
    echo_report(services().store.get_run(run_id), as_json=as_json, issue_limit=limit)


@runs_group.command("list")
@click.option("--source", "source_id", help="Only this source's runs.")
@click.option("--limit", default=20, show_default=True)
@with_appcontext
def runs_list(source_id: str | None, limit: int) -> None:
    """List recent runs, newest first."""
    for report in services().store.list_runs(source_id, limit=limit):
        counts = ", ".join(f"{o.value} {report.counts.get(o, 0)}" for o in Outcome if report.counts.get(o))
        totals = report.severity_totals()
        if any(totals.values()):
            counts += "  issues: " + ", ".join(f"{n} {s.value}" for s, n in totals.items() if n)
        started = report.started_at.isoformat(timespec="seconds") if report.started_at else "-"
        click.echo(f"{report.run_id:6} {report.source_id:20} {report.status.value:9} {started}  {counts}")


@runs_group.command("confirm")
@click.argument("run_id", type=int)
@with_appcontext
def runs_confirm(run_id: int) -> None:
    """Apply the withdrawals a HELD run kept back (the mass-withdrawal guard)."""
    diff = services().harvests.confirm_withdrawals(Actor.operator(), run_id)
    click.echo(f"Withdrew {len(diff.withdrawn)} courses.")


class CatalogueGroup(click.Group):
    """A click group whose commands run in the app context of `create_app()`.

    Unlike FlaskGroup it has no --app/--env-file options and ignores FLASK_APP, so `catalogue`
    always runs this application. Domain errors print as one line instead of a traceback.
    """

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        # tests pass their own ScriptInfo (app.test_cli_runner) to run against their app
        info = ScriptInfo(create_app=create_app, set_debug_flag=False, load_dotenv_defaults=False)
        extra.setdefault("obj", info)
        return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NotFound as exc:
            raise click.ClickException(str(exc)) from exc
        except CatalogueError as exc:
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc


main = CatalogueGroup(
    name="catalogue",
    help="Course catalogue: harvest feeds, maintain the index, serve the web UI and API. "
    "Configuration: see the README (CATALOGUE_* environment variables, <instance>/catalogue.toml).",
    params=[
        click.Option(
            ["--version"],
            is_flag=True,
            expose_value=False,
            is_eager=True,
            callback=_version,
            help="Show the version and exit.",
        )
    ],
)
for command in (
    init_command,
    harvest_command,
    reindex_command,
    remap_command,
    sources_group,
    runs_group,
    serve_command,
    load_samples_command,
    shell_command,
    routes_command,
    *TASK_COMMANDS,
    *ACCOUNT_COMMANDS,
    *REPAIR_COMMANDS,
    *SKILL_COMMANDS,
):
    main.add_command(command)
