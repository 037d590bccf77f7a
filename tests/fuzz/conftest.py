"""Hypothesis profiles for the fuzz tests, and the per-target example counts bench/fuzz.py reports.

    ci    (default) 60 examples a test, derandomized: the same examples on every run, so CI is
          reproducible and a failure there fails again on a laptop
    long  bench/fuzz.py's run: many more examples (DIAGNOSE_FUZZ_EXAMPLES), a fresh random seed each time

No example database: a run leaves no .hypothesis/ behind in the checkout; a failure prints its example,
which is kept as an explicit @example in the test once fixed.
"""

from __future__ import annotations

import json
import os

import pytest
from fuzz.mutate import TRIED
from hypothesis import HealthCheck, settings

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
          HealthCheck.large_base_example]
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True, database=None,
                          suppress_health_check=_QUIET, print_blob=True)
settings.register_profile("long", max_examples=int(os.environ.get("DIAGNOSE_FUZZ_EXAMPLES", "600")),
                          deadline=None, database=None, suppress_health_check=_QUIET, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    out = os.environ.get("DIAGNOSE_FUZZ_STATS")
    if out:
        with open(out, "w", encoding="utf-8") as f:
            json.dump(dict(sorted(TRIED.items())), f, indent=2)
