"""Hypothesis settings for the property tests: derandomized and without an example database, so every run (a
developer's, CI's) draws the same examples and writes no `.hypothesis/` folder; no deadline, since the first
call of a pandas or scipy path can be slow on a 2-core machine. Each test sets its own max_examples."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "pipelines",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("pipelines")
