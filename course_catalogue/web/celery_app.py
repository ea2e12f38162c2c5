"""The Celery app for scheduled harvests, configured from the Flask app (Flask's celery pattern).

Worker entry point: `celery -A web.celery_app:celery_app worker -B` (or `catalogue worker`);
`celery_app` is `celery_init_app(create_app())`, built on first access.
`celery_init_app(app)` builds a Celery app whose tasks run inside `app.app_context()` and whose
broker, result backend, time limits and beat schedule come from the app's settings; the harvest
tasks (services/tasks.py) find the store, sinks, settings and locks through `conf[WIRING]`,
which reads the app's `Services`, so workers harvest exactly as the CLI does.

Brokers: unset BROKER_URL means kombu's filesystem transport in `<DATA_DIR>/celery` (no
server; producers and workers on one machine share the folder) with results in a SQLite file
(`db+sqlite`: about 60 ms round trips measured here; `sqla+sqlite` as a *broker* was about 1 s
and broke `inspect`). At scale set BROKER_URL (and RESULT_BACKEND) to Redis.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from celery import Celery, Task
from flask import Flask

from course_catalogue.services import tasks
from course_catalogue.services.runtime import get_services
from course_catalogue.web.app import create_app

EXTENSION = "celery"


def celery_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Celery settings from the Flask config (after `web.settings.resolve`)."""
    broker = config["BROKER_URL"]
    hard = config["HARVEST_TIME_LIMIT"]
    options: dict[str, Any] = {
        "broker_url": broker,
        "result_backend": config["RESULT_BACKEND"],
        "broker_connection_retry_on_startup": True,
        "task_soft_time_limit": config["HARVEST_SOFT_TIME_LIMIT"],
        "task_time_limit": hard,
        # one message at a time per worker process: a long harvest must not sit on queued ones
        "worker_prefetch_multiplier": 1,
        "task_track_started": True,
        "result_expires": 7 * 24 * 3600,
        "beat_schedule": tasks.BEAT_SCHEDULE,
        "beat_schedule_filename": str(Path(config["DATA_DIR"]) / "celery" / "beat-schedule"),
        "timezone": "UTC",
        tasks.RETRIES: config["HARVEST_RETRIES"],
    }
    _ensure_sqlite_dir(config["RESULT_BACKEND"])
    if broker.startswith("filesystem:"):
        options["broker_transport_options"] = filesystem_folders(Path(config["DATA_DIR"]) / "celery")
    elif broker.startswith(("redis:", "rediss:")):
        # An unacked (acks_late) message is redelivered after the visibility timeout: it must
        # outlast the longest harvest, or a slow run would be started a second time.
        options["broker_transport_options"] = {"visibility_timeout": hard + 600}
    return options


def _ensure_sqlite_dir(url: str) -> None:
    # SQLite creates the results file but not its directory (a fresh instance has none)
    prefix = "db+sqlite:///"
    if url.startswith(prefix) and ":memory:" not in url:
        Path(url[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)


def filesystem_folders(base: Path) -> dict[str, Any]:
    """Transport options of the filesystem broker under `base` (folders created here).

    kombu writes to `data_folder_out` and reads from `data_folder_in`; producers and workers
    share one configuration, so both name the same folder. Consumed messages are deleted
    (`store_processed` off: an archive of every message would only grow). `control` holds the
    exchange bindings that remote control (`celery inspect`) and broadcasts use.
    """
    queue, control = base / "queue", base / "control"
    for folder in (queue, control):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "control_folder": str(control),
        "polling_interval": 0.05,
    }


def celery_init_app(app: Flask) -> Celery:
    """Build (once per Flask app) the Celery app whose tasks run in `app`'s context."""
    if EXTENSION in app.extensions:
        existing: Celery = app.extensions[EXTENSION]
        return existing

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.config_from_object(celery_config(app.config))
    # a callable, read in the task's app context: the services of *this* app
    celery.conf[tasks.WIRING] = get_services
    celery.set_default()
    app.extensions[EXTENSION] = celery
    return celery


def __getattr__(name: str) -> Any:
    """`celery_app`, built on first access (PEP 562), so importing this module creates nothing."""
    if name == "celery_app":
        app = celery_init_app(create_app())
        globals()["celery_app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
