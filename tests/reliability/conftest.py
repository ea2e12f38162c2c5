"""Reliability suite fixtures. Bounded by default (`make test`); RELIABILITY_SCALE=10 (as
`make reliability` sets) multiplies example counts, fuzz runs, kills and load duration."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

SCALE = max(1, int(os.environ.get("RELIABILITY_SCALE", "1")))

# derandomize: the same examples every run (CI is reproducible); deadline=None: "no hang" is
# enforced by a hard per-example alarm in the tests instead of hypothesis' timing.
settings.register_profile(
    "reliability",
    derandomize=True,
    deadline=None,
    max_examples=40 * SCALE,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
    database=None,
)
