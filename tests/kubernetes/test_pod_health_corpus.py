"""Our reading of a pod's health agrees with the expectations written into real pod manifests
(flanksource/is-healthy test data, /work/shared/corpus/kubernetes/pods, Apache-2.0), and each state becomes
the pod-health finding of the cause it supports (checks/podhealth.py)."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from diagnose.checks.podhealth import scheduling_reasons
from diagnose.engine.registry import checks
from diagnose.model.evidence import Evidence
from diagnose.model.incident import Incident, Window
from diagnose.model.kube import KubeEvidence
from diagnose.parsers.kubernetes import parse_pod
from diagnose.parsers.podhealth import pod_health

CORPUS = Path(os.environ.get("DIAGNOSE_CORPUS", "/work/shared/corpus")) / "kubernetes" / "pods"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
_REL = re.compile(r"@now(?:-(\d+)([smhd]))?")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _resolve(value: object) -> object:
    """'@now-5m' -> an RFC 3339 time five minutes ago, as the API would have written it."""
    if isinstance(value, dict):
        return {k: _resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str) and (m := _REL.fullmatch(value)):
        delta = timedelta(**{_UNIT[m.group(2)]: int(m.group(1))}) if m.group(1) else timedelta()
        return (NOW - delta).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _manifests() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(CORPUS.glob("*.yaml"))


@pytest.mark.skipif(not _manifests(), reason="pod corpus not present")
@pytest.mark.parametrize("path", _manifests(), ids=lambda p: p.stem)
def test_pod_health_matches_the_manifest_expectations(path: Path) -> None:
    pod = _resolve(yaml.safe_load(path.read_text()))
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    got = pod_health(pod, NOW)
    # Every manifest is read without error; those that state an expectation must match it.
    assert got.status and got.health, got
    if "expected-health" in ann:
        assert got.health == ann["expected-health"], got
    if "expected-status" in ann:
        assert got.status == ann["expected-status"], got


def test_the_corpus_is_read_at_all() -> None:
    if not _manifests():
        if os.environ.get("CI"):
            pytest.fail(f"pod corpus missing at {CORPUS}")
        pytest.skip("pod corpus not present")
    assert len(_manifests()) >= 15


# ---- each state as evidence: the finding checks/podhealth.py gives, and the cause it feeds ------------------

OWN = Path(__file__).parent / "pods"      # states the corpus has no example of (pods/README.md)

# manifest -> the pod-health findings (cause, direction, words in the summary) it must give, and no other
# finding for a cause. Pods that are done (Succeeded, Failed, Terminating) say nothing of the upstream.
FINDINGS: dict[str, set[tuple[str, str, str]]] = {
    "healthy": {("upstream-down", "against", "1/1 pods of user-auth-service ready, none crash-looping")},
    "pod-old-restarts": {("upstream-down", "against", "1/1 pods of user-auth-service ready")},
    "restarting": {("upstream-down", "against", "1/1 pods of user-auth-service ready")},
    # restarted within the day but ready: pod-resources says the restarts, no crash loop here
    "early-failures": {("upstream-down", "against", "1/1 pods of user-auth-service ready")},
    "pod-crashed-once": {("upstream-down", "against", "1/1 pods of user-auth-service ready")},
    "crashloopbackoff": {("upstream-down", "for", "crash-looping: my-pod (CrashLoopBackOff, restarted 3 times, "
                                                  "last Error)"),
                         ("upstream-down", "for", "0/1 pods of user-auth-service ready")},
    "unhealthy-restarting": {("upstream-down", "for", "(RestartLoopBackOff, restarted 6 times, last Completed)"),
                             ("upstream-down", "for", "0/1 pods of user-auth-service ready")},
    # killed for memory nine times: down, and the load outgrowing the limit
    "oomkilled-unhealthy": {("upstream-down", "for", "(OOMKilled, restarted 9 times, last OOMKilled)"),
                            ("overload", "for", "crash-looping on OOMKills (oomkilled-pod)"),
                            ("upstream-down", "for", "0/1 pods of user-auth-service ready")},
    "pod-imagepullbackoff": {("upstream-down", "for", "cannot start: guestbook-ui-errimagepullbackoff-66cfffb669-"
                                                      "45w2j (ImagePullBackOff: Back-off pulling image"),
                             ("upstream-down", "for", "0/1 pods of user-auth-service ready")},
    "pod-crashloop-pending": {("upstream-down", "for", "cannot start: crashloop-deployment-6bf9b7b858-m9882 "
                                                       "(PodInitializing"),
                              ("upstream-down", "for", "0/1 pods of user-auth-service ready")},
    "pod-pending": {("upstream-down", "for", "cannot start: image-pull-backoff (PodInitializing"),
                    ("upstream-down", "for", "0/1 pods of user-auth-service ready")},
    "container-creating": {("upstream-down", "for", "0/1 pods of user-auth-service ready")},
    "not-ready": {("upstream-down", "for", "0/1 pods of user-auth-service ready")},
    "pod-never-ready": {("upstream-down", "for", "0/1 pods of user-auth-service ready")},
    "failed": set(), "start-error": set(), "pod-succeeded": set(), "pod-terminating": set(),
    "terminating-stuck": set(),
    "evicted-memory": {("node-pressure", "for", "1/1 pods of user-auth-service evicted by the kubelet on node "
                                                "ip-10-0-2-23.ec2.internal from")},
    "evicted-undated": {("node-pressure", "for", "the node was low on ephemeral-storage")},
    "unschedulable-cpu": {("overload", "for", "0/3 nodes are available: 3 Insufficient cpu: no node has the cpu "
                                              "they request, so the load stays on fewer pods"),
                          ("upstream-down", "for", "0/1 pods of user-auth-service ready")},
    "unschedulable-taint": {("overload", "for", "placement rules (affinity), not capacity"),
                            ("node-pressure", "for", "nodes tainted memory-pressure, in trouble themselves"),
                            ("upstream-down", "for", "0/1 pods of user-auth-service ready")},
}


def _state_findings(path: Path) -> list:
    pod = parse_pod(_resolve(yaml.safe_load(path.read_text())), {}, NOW)
    onset = NOW - timedelta(minutes=10)
    ev = Evidence(incident=Incident("frontend-api", "user-auth-service", 12, onset, NOW, 10000.0),
                  window=Window(onset - timedelta(minutes=30), NOW, onset),
                  kubernetes=KubeEvidence(namespace="production", upstream="user-auth-service", pods=(pod,)))
    spec = checks()["pod-health"]
    return spec.func(ev, spec.params)


def _states() -> list[Path]:
    return _manifests() + sorted(OWN.glob("*.yaml"))


@pytest.mark.parametrize("path", sorted(OWN.glob("*.yaml")), ids=lambda p: p.stem)
def test_our_own_pod_states_match_their_expectations(path: Path) -> None:
    pod = _resolve(yaml.safe_load(path.read_text()))
    ann = pod["metadata"]["annotations"]
    got = pod_health(pod, NOW)
    assert (got.status, got.health) == (ann["expected-status"], ann["expected-health"]), got


@pytest.mark.parametrize("path", _states(), ids=lambda p: p.stem)
def test_each_pod_state_becomes_the_finding_of_the_cause_it_supports(path: Path) -> None:
    want = FINDINGS[path.stem]
    got = _state_findings(path)
    assert len(got) == len(want), [(f.cause, f.direction, f.summary) for f in got]
    for cause, direction, words in want:
        assert any(f.cause == cause and f.direction == direction and words in f.summary for f in got), \
            (cause, direction, words, [(f.cause, f.direction, f.summary) for f in got])


def test_an_eviction_in_the_window_counts_and_an_undated_one_of_a_pod_days_old_is_history() -> None:
    fresh = next(f for f in _state_findings(OWN / "evicted-memory.yaml") if f.cause == "node-pressure")
    old = next(f for f in _state_findings(OWN / "evicted-undated.yaml") if f.cause == "node-pressure")
    assert fresh.stale is None and fresh.onset == NOW - timedelta(minutes=10)
    assert fresh.facts["evicted_pod"] == "user-auth-service-7d9f8b6c5-9hq7m"
    assert fresh.facts["node"] == "ip-10-0-2-23.ec2.internal"
    assert old.stale == "evicted at a time its status does not say, after it started 4 days before the incident"
    assert old.onset is None


@pytest.mark.parametrize(("message", "kinds"), [
    ("0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption "
     "victims found for incoming pod..", {"resources": ["3 Insufficient cpu"]}),
    ("0/5 nodes are available: 2 Insufficient memory, 3 node(s) had untolerated taint "
     "{node-role.kubernetes.io/control-plane: }. preemption: 0/5 nodes are available: 2 No preemption victims "
     "found for incoming pod, 3 Preemption is not helpful for scheduling..",
     {"resources": ["2 Insufficient memory"],
      "taints": ["3 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"]}),
    ("0/3 nodes are available: 1 node(s) had taint {node.kubernetes.io/disk-pressure: }, that the pod didn't "
     "tolerate, 2 node(s) didn't match Pod's node affinity/selector.",
     {"pressure": ["1 node(s) had taint {node.kubernetes.io/disk-pressure: }, that the pod didn't tolerate"],
      "affinity": ["2 node(s) didn't match Pod's node affinity/selector"]}),
    ("0/1 nodes are available: 1 pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are "
     "available: 1 Preemption is not helpful for scheduling..",
     {"volumes": ["1 pod has unbound immediate PersistentVolumeClaims"]}),
    ("0/4 nodes are available: 4 Too many pods.", {"resources": ["4 Too many pods"]}),
])
def test_the_schedulers_words_are_read_by_kind(message: str, kinds: dict[str, list[str]]) -> None:
    assert scheduling_reasons(message) == kinds
