"""Series that end before the incident (issue 10): a signal none of whose series reaches the incident is
read from its older samples and dated by `ended`, and its findings are stale; a pod replaced before the
incident (its series ending early beside the others) changes nothing."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from diagnose.checks.metrics import gc_metrics
from diagnose.model.check import MARK

from .helpers import evidence, recorded

HOUR = 3600
OLD_POD = "user-auth-service-7d9f8b6c5-4xk2p"


def with_jvm_gc_moved(seconds: int, pod: str | None = None) -> dict[str, bytes]:
    """The recorded gc-misleading-cpu answers, jvm_gc's samples (of one pod, or all) moved by `seconds`."""
    files = recorded("gc-misleading-cpu")
    doc = json.loads(files["jvm_gc.json"])
    for series in doc["response"]["data"]["result"]:
        if pod is None or series["metric"]["pod"] == pod:
            series["values"] = [[t + seconds, v] for t, v in series["values"]]
    return {**files, "jvm_gc.json": json.dumps(doc).encode()}


def test_a_signal_whose_series_all_end_before_the_incident_keeps_their_peaks_and_says_when_they_ended() -> None:
    m = evidence(with_jvm_gc_moved(-3 * HOUR)).prometheus
    gc = m.get("gc_time_fraction")
    assert gc is not None and gc.ended == datetime(2023, 10, 27, 7, 45, tzinfo=timezone.utc)
    assert gc.peak is not None and gc.peak > 0.3 and len(gc.by_series) == 3
    heap = m.get("heap_used_ratio")
    assert heap is not None and heap.ended is None          # jvm_heap was not moved


def test_findings_on_series_that_ended_before_the_incident_are_stale() -> None:
    ev = evidence(with_jvm_gc_moved(-3 * HOUR))
    found = gc_metrics(ev, getattr(gc_metrics, MARK).params)
    stale = {f.summary.split(" ")[0]: f.stale for f in found}
    assert stale["JVM"] == "no samples in the window: last at 07:45Z, 3 h before the incident"
    assert stale["GC"] == "no samples in the window: last at 07:45Z, 3 h before the incident"
    assert stale["heap"] is None


def test_a_pod_whose_series_ended_early_beside_others_in_the_window_changes_nothing() -> None:
    fresh = evidence(recorded("gc-misleading-cpu")).prometheus.get("gc_time_fraction")
    gc = evidence(with_jvm_gc_moved(-HOUR, pod=OLD_POD)).prometheus.get("gc_time_fraction")
    assert fresh is not None and gc is not None
    assert gc.ended is None and OLD_POD not in gc.by_series
    assert gc.by_series == {k: v for k, v in fresh.by_series.items() if k != OLD_POD}
