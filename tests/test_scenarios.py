"""The scenario generator (bench/scenarios/) behind bench/accuracy.py: deterministic, readable by the tool,
truthful in the catalogue's terms, and never read as ruled_out where a source was missing.

Prometheus is left out of most bundles here (a real server costs ~2 s a bundle); one bundle has it when
the server binaries are installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bench.accuracy import analyze, needs_of
from bench.scenarios import CAUSES, Scenario, generate, write_bundle
from bench.scenarios.logs import log_lines
from diagnose.engine.runbook import for_signal

SEEDS = (1, 2, 6)


def _fast(sc: Scenario) -> Scenario:
    return replace(sc, sources={**sc.sources, "prometheus": "skipped"}) if sc.sources["prometheus"] == "ok" else sc


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_same_seed_gives_the_same_scenario_and_files(tmp_path: Path) -> None:
    assert [generate(s) for s in range(50)] == [generate(s) for s in range(50)]
    assert len({generate(s).cast for s in range(50)}) == 50      # and seeds differ
    sc = _fast(generate(SEEDS[0]))
    assert log_lines(sc) == log_lines(generate(SEEDS[0]))
    write_bundle(sc, tmp_path / "a")
    write_bundle(sc, tmp_path / "b")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_the_generator_varies_what_the_world_varies() -> None:
    scs = [generate(s) for s in range(300)]
    assert {s.cast.label_key for s in scs} == {"app", "app.kubernetes.io/name", "k8s-app", "name"}
    assert {s.cast.cloud for s in scs} == {"eks", "gke", "aks"}
    assert {s.log_format for s in scs} == {"json", "json-variant", "logfmt", "nginx", "envoy"}
    assert {len(s.causes) for s in scs} == {0, 1, 2}
    assert {v for s in scs for v in s.sources.values()} == {"ok", "skipped", "error"}
    assert {s.window for s in scs} == {"on-call", "postmortem"}


def test_truth_names_causes_of_the_catalogue(tmp_path: Path) -> None:
    catalogue = set(for_signal("upstream-timeout").requires_causes)
    assert set(CAUSES) <= catalogue
    for seed in range(300):
        assert set(generate(seed).causes) <= set(CAUSES)
    write_bundle(_fast(generate(SEEDS[1])), tmp_path)
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert set(truth["causes"]) <= catalogue
    assert not (tmp_path / "bundle" / "truth.json").exists()       # the tool's bundle holds no truth


@pytest.mark.parametrize("seed", SEEDS)
def test_every_generated_bundle_is_read_by_diagnose_analyze(seed: int, tmp_path: Path) -> None:
    sc = generate(seed)
    real_prometheus = seed == SEEDS[0] and sc.sources["prometheus"] == "ok" and shutil.which("promtool")
    bundle = write_bundle(sc if real_prometheus else _fast(sc), tmp_path)
    done = subprocess.run([sys.executable, "-m", "diagnose", "analyze", str(bundle), "--format", "json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["incident"]["upstream"] == sc.cast.upstream
    assert {c["id"] for c in report["causes"]} >= set(CAUSES)


def test_no_cause_is_ruled_out_while_a_source_it_needs_is_missing(tmp_path: Path) -> None:
    seen_missing = 0
    for seed in (0, 2, 6):
        sc = _fast(generate(seed))
        report = analyze(write_bundle(sc, tmp_path / str(seed)))
        missing = {s for s, v in sc.sources.items() if v != "ok"}
        for cause in report.causes:
            if needs_of(cause) & missing:
                seen_missing += 1
                assert cause.verdict != "ruled_out", (seed, cause.id, needs_of(cause) & missing)
    assert seen_missing        # the seeds do exercise missing sources
