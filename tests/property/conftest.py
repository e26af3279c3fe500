"""Hypothesis for the property tests: a budget that keeps the suite quick.

Raise it for a deeper search with `HYPOTHESIS_PROFILE=deep`. Hypothesis keeps the examples it
found failing in .hypothesis/ (which ignores itself in git) and tries them first next time.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "mdx",
    max_examples=100,
    deadline=None,  # a shared 2-core machine: wall-clock limits only make tests flaky
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("deep", parent=settings.get_profile("mdx"), max_examples=3_000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "mdx"))
