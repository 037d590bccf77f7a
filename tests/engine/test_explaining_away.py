"""Explaining away, by mechanism (docs/ranking.md, "Cause before effect"): bundles whose naive reading is wrong.

Each test copies a fixture, changes its Prometheus answers (the range-query files a real source wrote) and runs
`diagnose analyze --format json` twice: with the shipped runbook, and with one whose mechanism is switched
off (DIAGNOSE_RUNBOOKS). The red herring must win without the mechanism and lose with it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Callable

from diagnose.bundle.store import read
from diagnose.engine.diagnose import from_bundle
from diagnose.parsers.prometheus import load
from tests.bundle_edit import reseal

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
RUNBOOK = REPO / "runbooks" / "upstream-timeout.yaml"

Series = dict  # {"metric": {...}, "values": [[t, "v"], ...]}


def _edit(bundle: Path, family: str, change: Callable[[list[Series]], list[Series]]) -> None:
    path = bundle / "prometheus" / f"{family}.json"
    doc = json.loads(path.read_text())
    doc["response"]["data"]["result"] = change(doc["response"]["data"]["result"])
    path.write_text(json.dumps(doc))
    reseal(bundle)                     # the bundle is ours to edit here: its manifest's checksums follow


def _map(series: list[Series], fn: Callable[[dict, float, float], float]) -> list[Series]:
    return [{**s, "values": [[t, repr(fn(s["metric"], float(t), float(v)))] for t, v in s["values"]]} for s in series]


def _onset(bundle: Path, signal: str) -> datetime:
    target, gathered = from_bundle(read(bundle))
    sig = load(gathered["prometheus"].files, target).get(signal)
    assert sig is not None and sig.onset is not None
    return sig.onset


def gc_with_cpu_in_one_step(tmp: Path, gc_scale: float, longest_pause: float = 0.2) -> Path:
    """gc-misleading-cpu, its CPU and throttling rising in the same 15 s step as GC time, the heap full all
    along: GC time scaled by `gc_scale`, pauses cut at `longest_pause` (short: a stream of young collections);
    the request rate as it was (flat)."""
    bundle = tmp / "bundle"
    shutil.copytree(FIXTURES / "gc-misleading-cpu", bundle)
    _edit(bundle, "jvm_gc", lambda ss: _map(ss, lambda m, t, v: v * gc_scale if m["kind"] == "time"
                                            else min(v, longest_pause)))
    # the heap full all along (no earlier onset of GC's own to lead the CPU by)
    _edit(bundle, "jvm_heap", lambda ss: [{**s, "values": [[t, max(s["values"], key=lambda p: float(p[1]))[1]]
                                                           for t, _ in s["values"]]} for s in ss])
    at = _onset(bundle, "gc_time_fraction").timestamp()
    _edit(bundle, "cpu", lambda ss: _map(ss, lambda m, t, v: v if t < at else (0.97 if m["kind"] == "usage" else 0.3)))
    assert _onset(bundle, "cpu_limit_ratio").timestamp() == at
    return bundle


def analyze(bundle: Path, naive: Callable[[str], str] | None = None, tmp: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DIAGNOSE_RUNBOOKS"}
    if naive is not None:
        assert tmp is not None
        books = tmp / "naive-runbooks"
        books.mkdir(exist_ok=True)
        text = naive(RUNBOOK.read_text())
        assert text != RUNBOOK.read_text()
        (books / RUNBOOK.name).write_text(text)
        env["DIAGNOSE_RUNBOOKS"] = str(books)
    out = subprocess.run([sys.executable, "-m", "diagnose", "analyze", str(bundle), "--format", "json"],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert out.stdout, out.stderr
    return json.loads(out.stdout)


def check_params(text: str, line: str) -> str:
    return text.replace("\nchecks:\n", f"\nchecks:\n  {line}\n", 1)


def top(report: dict) -> str:
    return report["causes"][0]["id"]


def cause(report: dict, cid: str) -> dict:
    return next(c for c in report["causes"] if c["id"] == cid)


def test_cpu_rising_in_the_same_step_as_gc_is_gc_s_when_gc_time_x_cores_is_the_cpu_used(tmp_path: Path):
    bundle = gc_with_cpu_in_one_step(tmp_path, gc_scale=2.5)        # GC ~89% of the time x 1 core vs 0.97 used
    naive = analyze(bundle, lambda t: check_params(t, "gc-metrics: {cpu_share_ratio: 100}"), tmp_path)
    assert top(naive) == "overload"
    report = analyze(bundle)
    assert top(report) == "gc-pause"
    share = [e for e in cause(report, "gc-pause")["evidence"] if e.get("kind") == "gc-cpu-share"]
    assert share and "of the CPU used" in share[0]["summary"]
    notes = " ".join(cause(report, "overload").get("notes") or ())
    assert "began with gc-pause" in notes and "effect of gc-pause" in notes


def test_cpu_saturation_without_a_rise_in_requests_is_not_overload(tmp_path: Path):
    # GC's share of the CPU is small here (36% x 1 core of 0.97): only the flat request rate tells
    bundle = gc_with_cpu_in_one_step(tmp_path, gc_scale=1.0, longest_pause=6.0)
    naive = analyze(bundle, lambda t: check_params(t, "resource-metrics: {flat_ratio: 0}"), tmp_path)
    assert top(naive) == "overload"
    report = analyze(bundle)
    assert top(report) == "gc-pause"
    against = [e for e in cause(report, "overload")["evidence"] if e["direction"] == "against"]
    assert any("request rate did not rise" in e["summary"] for e in against)


def test_a_request_rise_made_of_the_mesh_s_retries_is_not_load(tmp_path: Path):
    # the upstream's sidecar counts 3x the requests from the incident on, its callers' sidecars as many as before
    bundle = gc_with_cpu_in_one_step(tmp_path, gc_scale=1.0, longest_pause=6.0)
    at = _onset(bundle, "gc_time_fraction").timestamp()

    def retried(ss: list[Series]) -> list[Series]:
        # the destination-side request series (the fixture may also carry source-side and retry series)
        plain = next(s for s in ss if s["metric"].get("kind", "requests") == "requests")
        dst = _map([plain], lambda m, t, v: v * 3 if t >= at else v)[0]
        return [{**dst, "metric": {"kind": "requests"}}, {**plain, "metric": {"kind": "source"}}]

    _edit(bundle, "traffic", retried)
    naive = analyze(bundle, lambda t: check_params(t, "resource-metrics: {flat_ratio: 0, retry_share: 1000000}"),
                    tmp_path)
    assert top(naive) == "overload"
    assert any("request rate x3" in e["summary"] for e in cause(naive, "overload")["evidence"])
    report = analyze(bundle)
    assert top(report) == "gc-pause"
    against = [e for e in cause(report, "overload")["evidence"] if e["direction"] == "against"]
    assert any("mesh's retries" in e["summary"] and "source-side" in e["summary"] for e in against)


def test_an_oom_kill_after_a_database_lock_leaves_overload_s_other_evidence_its_weight(tmp_path: Path):
    # two-causes: overload from 10:25 and database from 10:28; an OOM kill at 10:33 is no sign of a lock
    bundle = tmp_path / "bundle"
    shutil.copytree(FIXTURES / "two-causes", bundle)
    every_kind = "[cpu, throttling, memory, oom, restarts, replicas, hpa, traffic, pool-wait]"
    naive = analyze(bundle, lambda t: t.replace("{cause: database, explains: overload, discount: 0.5, kinds: "
                                                "[pool-wait]}", "{cause: database, explains: overload, discount: "
                                                f"0.5, kinds: {every_kind}}}"), tmp_path)
    def hpa(report: dict) -> float:          # HPA pinned at its maximum: read with no time of its own
        return next(e["weight"] for e in cause(report, "overload")["evidence"] if e["summary"].startswith("HPA "))

    assert any("effect of database" in n for n in cause(naive, "overload").get("notes") or ())
    assert hpa(naive) == 0.5
    report = analyze(bundle)
    assert not any("effect of database" in n for n in cause(report, "overload").get("notes") or ())
    assert hpa(report) == 1.0
    assert {top(report), report["causes"][1]["id"]} == {"overload", "database"}
