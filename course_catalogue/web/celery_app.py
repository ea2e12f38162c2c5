"""The Celery worker's entry point: `celery -A web.celery_app:celery_app worker -B` (or `catalogue
worker`). `celery_app` is `celery_init_app(create_app())` (web/celery_setup.py), built on first
access, so importing this module creates nothing."""

from __future__ import annotations

from typing import Any

from course_catalogue.web.app import create_app
from course_catalogue.web.celery_setup import celery_init_app


def __getattr__(name: str) -> Any:
    """`celery_app`, built on first access (PEP 562)."""
    if name == "celery_app":
        app = celery_init_app(create_app())
        globals()["celery_app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
