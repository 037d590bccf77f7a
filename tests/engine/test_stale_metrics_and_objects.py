"""Prometheus series and Kubernetes objects older than the incident window are stale (issue 10): the
finding says so in every format, weighs the runbook's stale_discount of its weight, and the cause's
confidence falls below what the same reading inside the window gives.

Each case is a fixture bundle copied to tmp, its recorded answers moved back in time, analysed by the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli.helpers import NO_SOURCES, REPO, diagnose
from engine.test_verdicts_match_evidence import analyze, cause, words

from tests.bundle_edit import copy_fixture, reseal

HOURS = 3600


def shift_family(root: Path, family: str, seconds: int) -> None:
    """Every sample of prometheus/<family>.json moved by `seconds` (negative: earlier)."""
    path = root / "prometheus" / f"{family}.json"
    doc = json.loads(path.read_text())
    for series in doc["response"]["data"]["result"]:
        series["values"] = [[t + seconds, v] for t, v in series["values"]]
    path.write_text(json.dumps(doc))


def last_terminated(root: Path, reason: str, finished: str) -> None:
    """The first upstream pod's container restarted once, its last termination `reason` at `finished`."""
    path = root / "kubernetes" / "pods.json"
    doc = json.loads(path.read_text())
    status = doc["items"][0]["status"]["containerStatuses"][0]
    status.update(restartCount=1, lastState={"terminated": {
        "exitCode": 137 if reason == "OOMKilled" else 1, "reason": reason,
        "startedAt": "2023-10-20T08:00:00Z", "finishedAt": finished}})
    path.write_text(json.dumps(doc))


def evidence(c: dict, start: str) -> dict:
    return next(e for e in c["evidence"] if e["summary"].startswith(start))


def test_gc_series_that_end_hours_before_the_window_are_marked_stale_and_weigh_less(tmp_path: Path) -> None:
    fresh = cause(analyze(REPO / "fixtures" / "gc-pause"), "gc-pause")
    root = copy_fixture("gc-pause", tmp_path)
    shift_family(root, "jvm_gc", -3 * HOURS)       # last sample 07:45Z; the window starts at 10:00Z
    reseal(root)
    old = cause(analyze(root), "gc-pause")

    gc_time, fresh_gc_time = evidence(old, "JVM spends"), evidence(fresh, "JVM spends")
    assert gc_time["stale"] == "no samples in the window: last at 07:45Z, 3 h before the incident"
    assert "stale" not in fresh_gc_time
    assert gc_time["weight"] == fresh_gc_time["weight"] * 0.5         # the runbook's stale_discount
    assert "stale" in evidence(old, "GC pauses up to")
    assert "stale" not in evidence(old, "heap at")                    # jvm_heap still has its samples
    assert old["confidence"] < fresh["confidence"]
    assert any("older than the incident window" in n for n in old["notes"])

    text = words(diagnose("analyze", str(root), env=NO_SOURCES).stdout)
    assert "(stale: no samples in the window: last at 07:45Z, 3 h before the incident)" in text
    markdown = diagnose("analyze", str(root), "--format", "markdown", env=NO_SOURCES).stdout
    assert "stale: no samples in the window: last at 07:45Z, 3 h before the incident" in markdown


def test_a_gc_rise_in_series_that_ended_before_the_incident_does_not_lead_the_cpu_rise(tmp_path: Path) -> None:
    root = copy_fixture("gc-misleading-cpu", tmp_path)
    shift_family(root, "jvm_gc", -3 * HOURS)
    reseal(root)
    report = analyze(root)
    summaries = [e["summary"] for c in report["causes"] for e in c["evidence"]]
    assert not any("the CPU rise follows the GC rise" in s for s in summaries)
    assert not any("follows the GC rise at" in s for s in summaries)
    # its onset dates a past episode: no stale finding hands one to ranking
    assert all("onset" not in e for c in report["causes"] for e in c["evidence"] if "stale" in e)


@pytest.mark.parametrize(("reason", "start", "said"), [
    ("OOMKilled", "last termination OOMKilled on 1/3 pods", "OOMKilled 3 days before the incident"),
    ("Error", "containers restarted on 1/3 pods", "restarted 3 days before the incident"),
])
def test_a_container_terminated_days_before_the_window_is_stale_history(
        tmp_path: Path, reason: str, start: str, said: str) -> None:
    in_window = copy_fixture("healthy", tmp_path / "fresh")
    last_terminated(in_window, reason, "2023-10-27T10:33:00Z")       # within 10:00Z .. 10:45Z
    reseal(in_window)
    days_ago = copy_fixture("healthy", tmp_path / "old")
    last_terminated(days_ago, reason, "2023-10-24T10:33:00Z")
    reseal(days_ago)

    fresh, old = cause(analyze(in_window), "overload"), cause(analyze(days_ago), "overload")
    finding = evidence(old, start)
    assert finding["stale"] == said and finding["source"] == "kubernetes"
    assert "2023-10-24 10:33Z" in finding["summary"]
    assert not any("stale" in e for e in fresh["evidence"])
    fresh_weight = next(e["weight"] for e in fresh["evidence"] if e["source"] == "kubernetes")
    assert finding["weight"] == fresh_weight * 0.5
    assert old["confidence"] < fresh["confidence"]
    # an old restart does not silence what the incident's own data says: the headroom is still said
    assert any(e["direction"] == "against" and e["source"] == "kubernetes" for e in old["evidence"])

    text = words(diagnose("analyze", str(days_ago), env=NO_SOURCES).stdout)
    assert f"(stale: {said})" in text
    markdown = diagnose("analyze", str(days_ago), "--format", "markdown", env=NO_SOURCES).stdout
    assert f"stale: {said}" in markdown
