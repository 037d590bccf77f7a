"""Samples Prometheus writes as "+Inf", "-Inf" and "NaN" (a histogram quantile above its top bucket, 0/0),
and absurd magnitudes, through `diagnose analyze` on a bundle of recorded answers: no reading, said in the
report, and never a check crashing on the arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bundle_edit import copy_fixture, reseal
from cli.helpers import NO_SOURCES, diagnose


def _bundle_with_samples(tmp_path: Path, scenario: str, value_at) -> Path:  # noqa: ANN001
    """A copy of a fixture bundle (recorded Prometheus answers) whose sample values are rewritten."""
    root = copy_fixture(scenario, tmp_path)
    for path in sorted((root / "prometheus").glob("*.json")):
        doc = json.loads(path.read_text())
        for series in doc["response"]["data"]["result"]:
            for j, pair in enumerate(series["values"]):
                pair[0], pair[1] = value_at(j, len(series["values"]), pair)
        path.write_text(json.dumps(doc))
    reseal(root)
    return root


REWRITES = {
    "every value +Inf": lambda j, n, p: (p[0], "+Inf"),
    "every value NaN": lambda j, n, p: (p[0], "NaN"),
    "+Inf, NaN, -Inf between readings": lambda j, n, p: (p[0], ["+Inf", "NaN", "-Inf", p[1]][j % 4]),
    "+Inf from the onset on": lambda j, n, p: (p[0], "+Inf" if j > n // 2 else p[1]),
    "every value 1e308": lambda j, n, p: (p[0], "1e308"),
    "every value -1e308": lambda j, n, p: (p[0], "-1e308"),
    "times NaN or infinite": lambda j, n, p: (["NaN", "+Inf", p[0]][j % 3], p[1]),
}


def _analyze(root: Path) -> dict:
    p = diagnose("analyze", str(root), "--format", "json", env=NO_SOURCES)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    return json.loads(p.stdout)


@pytest.mark.parametrize("scenario", ["overload", "gc-pause"])
@pytest.mark.parametrize("rewrite", list(REWRITES))
def test_non_finite_and_absurd_samples_never_crash_a_check(tmp_path, scenario, rewrite):
    report = _analyze(_bundle_with_samples(tmp_path, scenario, REWRITES[rewrite]))
    crashed = {c["id"]: c["error"] for c in report["checks"] if c["status"] == "error"}
    assert not crashed
    assert report["sources"]["prometheus"]["status"] == "ok"


def test_infinite_samples_are_said_in_the_report_not_dropped_silently(tmp_path):
    report = _analyze(_bundle_with_samples(tmp_path, "overload", REWRITES["+Inf from the onset on"]))
    notes = [n for c in report["checks"] if c["id"] == "resource-metrics" for n in c.get("notes", [])]
    assert any("+Inf" in n and "no reading" in n for n in notes), notes
