"""The parser on answers recorded from a real Prometheus: peaks, baselines, onsets, missing families."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from diagnose.errors import EvidenceError
from diagnose.parsers.prometheus import load
from fixtures.build import prometheus as gen

from .helpers import evidence, recorded


def at(hm: str) -> datetime:
    h, m = hm.split(":")
    return datetime(2023, 10, 27, int(h), int(m), tzinfo=timezone.utc)


def test_gc_onset_is_dated_before_cpu_onset_when_cpu_follows_gc() -> None:
    m = evidence(recorded("gc-misleading-cpu")).prometheus
    gc, cpu = m.get("gc_time_fraction"), m.get("cpu_limit_ratio")
    assert gc and cpu and gc.onset and cpu.onset
    assert at("10:26") <= gc.onset < at("10:28")
    assert at("10:29") <= cpu.onset < at("10:31")
    assert cpu.peak is not None and cpu.peak > 0.9
    assert cpu.baseline is not None and cpu.baseline < 0.5


def test_signals_are_per_pod_with_the_worst_series_labelled() -> None:
    m = evidence(recorded("gc-misleading-cpu")).prometheus
    gc = m.get("gc_time_fraction")
    assert gc is not None and set(gc.by_series) == set(gen.cast.PODS)
    pause = m.get("gc_max_pause_seconds")
    assert pause is not None and pause.worst["gc"] == "G1 Old Generation" and pause.peak and pause.peak > 4


def test_network_latency_gap_is_read_from_both_istio_reporters() -> None:
    m = evidence(recorded("network")).prometheus
    caller, upstream = m.get("caller_latency_p99_ms"), m.get("upstream_latency_p99_ms")
    assert caller and upstream and caller.peak and upstream.peak
    assert caller.peak > 10 * upstream.peak
    assert caller.onset is not None and upstream.onset is None


def test_healthy_signals_do_not_depart_from_baseline() -> None:
    m = evidence(recorded("healthy")).prometheus
    for name in ("cpu_limit_ratio", "gc_time_fraction", "caller_latency_p99_ms", "tcp_retransmit_ratio"):
        sig = m.get(name)
        assert sig is not None and sig.onset is None, name


def test_a_family_with_no_series_is_missing_not_healthy() -> None:
    m = evidence(recorded("healthy")).prometheus
    assert "go_runtime" in m.missing
    assert m.get("go_gc_time_fraction") is None


def test_a_failed_family_is_missing_with_its_error() -> None:
    files = recorded("healthy")
    files["jvm_gc.json"] = json.dumps({"query": "x", "start": "2023-10-27T10:00:00Z", "end": "2023-10-27T10:45:00Z",
                                       "step": 15, "error": "HTTP 503: query timed out in expression evaluation"}
                                      ).encode()
    m = evidence(files).prometheus
    assert m.missing["jvm_gc"].startswith("query failed: HTTP 503")
    assert m.get("gc_time_fraction") is None
    assert m.get("cpu_limit_ratio") is not None          # the other families still count


def test_nan_samples_carry_no_reading() -> None:
    files = recorded("healthy")
    doc = json.loads(files["cpu.json"])
    for series in doc["response"]["data"]["result"]:
        series["values"] = [[t, "NaN"] for t, _ in series["values"]]
    files["cpu.json"] = json.dumps(doc).encode()
    m = evidence(files).prometheus
    assert "cpu" in m.missing and m.get("cpu_usage_cores") is None


def test_a_pod_missing_from_one_family_is_noted_as_partial() -> None:
    files = recorded("healthy")
    doc = json.loads(files["jvm_gc.json"])
    doc["response"]["data"]["result"] = [s for s in doc["response"]["data"]["result"]
                                         if s["metric"]["pod"] != gen.cast.PODS[0]]
    files["jvm_gc.json"] = json.dumps(doc).encode()
    m = evidence(files).prometheus
    assert any("gc_time_fraction: series for 2/3 pods only" in n for n in m.notes)


@pytest.mark.parametrize("body, field", [
    (b"{not json", "not JSON"),
    (json.dumps({"query": "q", "response": {"status": "success", "data": {}}}).encode(), "data.result"),
    (json.dumps({"query": "q", "response": {"status": "success", "data": {"result": [
        {"metric": {}, "values": [[1, "x", 3]]}]}}}).encode(), "values"),
])
def test_malformed_file_is_one_line_error_naming_the_file(body: bytes, field: str) -> None:
    with pytest.raises(EvidenceError) as err:
        load({"cpu.json": body}, gen.target())  # type: ignore[arg-type]
    assert "prometheus/cpu.json" in str(err.value) and field in str(err.value)
    assert "\n" not in str(err.value)
