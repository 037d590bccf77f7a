"""The fixture writer's dumps read as what their scenario says."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.build import thread_dumps as writer
from fixtures.build.scenario import PODS, SCENARIOS

from .conftest import findings_for


def _files(scenario: str, tmp_path: Path) -> dict[str, bytes]:
    writer.write(scenario, tmp_path)
    return {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in sorted(tmp_path.rglob("*.txt"))}


def test_deadlock_fixture_shows_the_cycle_on_every_pod_with_workers_behind_it(tmp_path):
    found = findings_for(_files("deadlock", tmp_path))
    f = next(f for f in found if f.cause == "deadlock" and f.direction == "for")
    assert f.facts["code_location"] in ("TokenStore.invalidate", "SessionCache.evict")
    assert f.facts["threads"] == "http-nio-8080-exec-17, http-nio-8080-exec-42"
    assert f.facts["pods"] == ", ".join(PODS)
    assert f.facts["blocked"] == 60 and "in 2/2 dumps" in f.summary


def test_database_fixture_shows_threads_waiting_for_hikari(tmp_path):
    found = findings_for(_files("database", tmp_path))
    db = [f for f in found if f.cause == "database"]
    assert len(db) == 1 and db[0].facts["resource"] == "HikariPool.getConnection"
    assert db[0].facts["code_location"] == "UserRepository.findByEmail"


@pytest.mark.parametrize("scenario", [name for name, s in SCENARIOS.items()
                                      if not s.shows("deadlock") and not s.shows("database")])
def test_other_fixtures_are_healthy_dumps_that_argue_against_deadlock(scenario, tmp_path):
    found = findings_for(_files(scenario, tmp_path))
    assert [(f.cause, f.direction) for f in found] == [("deadlock", "against")]
