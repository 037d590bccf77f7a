"""Suite-wide rules.

Integration tests (marked `integration`) run against real servers that scripts/test.sh installs. Where
servers are required (CI, or DIAGNOSE_REQUIRE_SERVERS=1 as scripts/test.sh sets), an integration test
that skips is turned into a failure: a missing server must never pass as green.
"""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite the golden reports in tests/golden/ from the current output")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def servers_required() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("DIAGNOSE_REQUIRE_SERVERS"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and servers_required() and item.get_closest_marker("integration"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"integration test skipped where servers are required: {reason}"
    return outcome
