"""Verdicts say exactly what the evidence says (issue 10): silence with gaps is unknown, evidence only for
a cause is never `unlikely` on its prior alone, a finding argues in the direction it is filed, stale dumps
are marked and weigh less, and a healthy upstream's report opens with one line saying so.

Each case is a fixture bundle copied to tmp and changed as the case needs, analysed by the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli.helpers import NO_SOURCES, REPO, diagnose

from diagnose.engine.registry import checks
from diagnose.engine.runbook import parse
from diagnose.errors import RunbookError
from tests.bundle_edit import copy_fixture, reseal


def edit_manifest(root: Path, change) -> None:  # noqa: ANN001 - a function of the manifest dict
    path = root / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest, indent=2))


def not_gathered(root: Path, source: str) -> None:
    """The bundle as if `source` had not been given to `collect`."""
    def skip(manifest: dict) -> None:
        manifest["sources"][source].update(status="skipped", error=f"no {source} given")
    edit_manifest(root, skip)


def analyze(root: Path | str, *args: str) -> dict:
    p = diagnose("analyze", str(root), "--format", "json", *args, env=NO_SOURCES)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def words(text: str) -> str:
    """The text as one line of words: the terminal view wraps at its width."""
    return " ".join(text.split())


def cause(report: dict, cid: str) -> dict:
    return next(c for c in report["causes"] if c["id"] == cid)


def test_a_cause_with_nothing_either_way_and_a_skipped_check_is_unknown_with_the_reason(tmp_path: Path) -> None:
    # healthy upstream, no Kubernetes: mesh-timeout's log check ran and found nothing (durations at the
    # caller's own timeout), its route and probe checks could not run
    root = copy_fixture("healthy", tmp_path)
    not_gathered(root, "kubernetes")
    mesh = cause(analyze(root), "mesh-timeout")
    assert mesh["verdict"] == "unknown", mesh
    assert mesh["confidence"] == 0.15 and not mesh["evidence"]
    assert "mesh-routes: kubernetes: no kubernetes given" in mesh["unknown_reason"]
    assert "log-timings found nothing for or against" in mesh["unknown_reason"]


def test_a_cause_with_only_evidence_for_it_and_a_low_prior_is_possible_with_what_would_confirm_it(
        tmp_path: Path) -> None:
    # the network fixture without Prometheus: only the cross-zone placement speaks, and it speaks for
    root = copy_fixture("network", tmp_path)
    not_gathered(root, "prometheus")
    net = cause(analyze(root), "network")
    assert {e["direction"] for e in net["evidence"]} == {"for"}
    assert net["confidence"] < 0.4                     # its prior (0.12) keeps the number low ...
    assert net["verdict"] == "possible", net           # ... but nothing argues against it
    assert "frontend-api's latency far above" in net["to_confirm"]
    assert any("every finding is for it" in n for n in net["notes"])
    text = words(diagnose("analyze", str(root), env=NO_SOURCES).stdout)
    assert "to confirm: frontend-api's latency far above" in text


def test_a_latency_gap_behind_an_upstream_that_is_itself_slow_is_not_evidence_for_network() -> None:
    net = cause(analyze(REPO / "fixtures" / "mesh-timeout"), "network")
    gap = [e for e in net["evidence"] if "gap" in e["summary"]]
    assert gap and all(e["direction"] == "against" for e in gap), gap
    assert "the upstream is itself slow" in gap[0]["summary"]
    assert "without the network" in gap[0]["summary"]
    assert net["verdict"] in ("unlikely", "ruled_out")


def test_a_gap_with_a_fast_upstream_stays_evidence_for_network() -> None:
    net = cause(analyze(REPO / "fixtures" / "network"), "network")
    assert any(e["direction"] == "for" and "between the two sidecars" in e["summary"] for e in net["evidence"])


def test_a_thread_dump_taken_hours_before_the_incident_is_marked_stale_and_weighs_less(tmp_path: Path) -> None:
    fresh = cause(analyze(REPO / "fixtures" / "deadlock"), "deadlock")
    root = copy_fixture("deadlock", tmp_path)
    for dump in (root / "thread-dumps").rglob("*.txt"):
        # taken at 07:32, three hours before the first timeout (10:30) and the window (from 10:00)
        dump.write_text(dump.read_text().replace("2023-10-27 10:32:", "2023-10-27 07:32:"))
    reseal(root)
    report = analyze(root)
    old = cause(report, "deadlock")
    cycle = next(e for e in old["evidence"] if e["summary"].startswith("Lock cycle"))
    fresh_cycle = next(e for e in fresh["evidence"] if e["summary"].startswith("Lock cycle"))
    assert cycle["stale"] == "dump taken 3 h before the incident"
    assert "stale" not in fresh_cycle
    assert cycle["weight"] == fresh_cycle["weight"] * 0.5         # the runbook's stale_discount
    assert old["confidence"] < fresh["confidence"]
    assert any("older than the incident window" in n for n in old["notes"])
    text = words(diagnose("analyze", str(root), env=NO_SOURCES).stdout)
    assert "(stale: dump taken 3 h before the incident)" in text
    markdown = diagnose("analyze", str(root), "--format", "markdown", env=NO_SOURCES).stdout
    assert "stale: dump taken 3 h before the incident" in markdown


def test_the_healthy_report_opens_with_one_line_saying_nothing_is_likely_and_what_the_timeouts_are() -> None:
    report = analyze(REPO / "fixtures" / "healthy")
    assert report["summary"].startswith("No likely cause: user-auth-service looks healthy")
    # every request ended at frontend-api's own 10 s timeout and nothing else is wrong
    assert "frontend-api's own budget" in report["summary"]
    # every format says it at the top, before any cause's row
    for fmt in ("text", "markdown"):
        out = diagnose("analyze", str(REPO / "fixtures" / "healthy"), "--format", fmt, env=NO_SOURCES).stdout
        top = next(i for i, line in enumerate(out.splitlines()) if "No likely cause: user-auth-service" in line)
        assert top <= 2 and out.index("No likely cause") < out.index("mesh-timeout"), out[:600]


def test_a_few_timeouts_in_a_short_time_read_as_a_blip(tmp_path: Path) -> None:
    root = copy_fixture("healthy", tmp_path)

    def blip(manifest: dict) -> None:
        manifest["incident"].update(events=4, last_seen="2023-10-27T10:30:40Z",
                                    duration_ms={"p50": 4000, "p99": 9000, "max": 9100})
    edit_manifest(root, blip)
    assert "The timeouts are probably a blip: 4 timeouts within 40 s." in analyze(root)["summary"]


def test_a_report_with_a_likely_cause_has_no_summary_line() -> None:
    assert analyze(REPO / "fixtures" / "overload")["summary"] is None


def test_the_runbook_ranking_numbers_are_validated() -> None:
    text = (REPO / "runbooks" / "upstream-timeout.yaml").read_text()
    assert parse(text, "rb.yaml", checks()).ranking["stale_discount"] == 0.5
    bad = text.replace("stale_discount: 0.5", "stale_discount: 2")
    with pytest.raises(RunbookError, match="ranking.stale_discount"):
        parse(bad, "rb.yaml", checks())
    with pytest.raises(RunbookError, match="ranking.staleness"):
        parse(text.replace("stale_discount: 0.5", "staleness: 0.5"), "rb.yaml", checks())
