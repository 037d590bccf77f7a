"""The metric checks on answers recorded from a real Prometheus."""

from __future__ import annotations

from .helpers import evidence, findings, recorded, scores, top


def test_gc_pause_outranks_overload_when_cpu_follows_gc() -> None:
    found = findings(evidence(recorded("gc-misleading-cpu")))
    s = scores(found)
    assert s["gc-pause"] > s["overload"] > 0          # CPU is high, but GC explains it
    gc_first = [f for f in found if f.cause == "gc-pause" and "the CPU rise follows the GC rise" in f.summary]
    assert gc_first and gc_first[0].onset is not None
    cpu = [f for f in found if f.cause == "overload" and f.summary.startswith("CPU at")]
    assert cpu and "follows the GC rise at 10:26Z" in cpu[0].summary
    assert cpu[0].onset is not None and gc_first[0].onset < cpu[0].onset


def test_network_gap_between_reporters_is_for_network() -> None:
    found = findings(evidence(recorded("network")))
    assert top(found) == "network"
    gap = [f for f in found if f.cause == "network" and "gap" in f.summary]
    assert gap and gap[0].direction == "for" and "frontend-api" in gap[0].summary


def test_healthy_metrics_argue_against_overload_gc_and_network() -> None:
    found = findings(evidence(recorded("healthy")))
    against = {f.cause for f in found if f.direction == "against"}
    assert {"overload", "gc-pause", "network", "database"} <= against
    assert not [f for f in found if f.direction == "for"]


def test_missing_families_give_no_finding_rather_than_a_healthy_one() -> None:
    files = {k: v for k, v in recorded("healthy").items() if k not in ("jvm_gc.json", "jvm_heap.json")}
    found = findings(evidence(files))
    assert not [f for f in found if f.cause == "gc-pause"]


def test_findings_carry_the_facts_fix_templates_need() -> None:
    found = findings(evidence(recorded("gc-misleading-cpu")))
    facts = found[0].facts
    for key in ("deployment", "namespace", "replicas", "hpa_max_suggested", "hpa", "hpa_max", "cpu_limit",
                "memory_limit", "heap_max", "gc_name"):
        assert key in facts, key
    assert facts["deployment"] == "user-auth-service" and facts["namespace"] == "production"
    assert facts["cpu_limit"] == "1000m" and facts["memory_limit"] == "2Gi"
    assert facts["heap_max"] == "1536m" and facts["gc_name"] == "G1 Old Generation"
    # an HPA (seen in kube-state-metrics, 3 of at most 8) owns the replica count: its floor is raised, and
    # no `kubectl scale` is proposed that it would undo
    assert "replicas_suggested" not in facts
    assert facts["hpa_min_suggested"] > facts["replicas"] and facts["hpa_max_suggested"] >= facts["hpa_max"]
