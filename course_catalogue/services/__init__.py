"""Application services: what the interfaces (JSON API, dashboard, CLI, Celery tasks) call.

The harvest orchestration (pipeline, intake, spool, jobs, publish, locks), webhook delivery,
the Celery task wrappers and the per-app runtime wiring live here; format readers stay in
`harvesters/`, the domain and the store in `catalogue/`. See docs/architecture.md.
"""
