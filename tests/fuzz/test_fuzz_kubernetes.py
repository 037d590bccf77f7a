"""Fuzzing the Kubernetes API document readers: kubernetes.load (mesh objects and pod health within it),
and pod health on its own (it is public: tests/kubernetes/test_pod_health_corpus.py).

Seeds: the recorded List documents of every scenario (fixtures/*/kubernetes/*.json).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from fuzz.mutate import (
    SCENARIOS,
    Case,
    edited,
    mutated_source,
    mutated_tree,
    parses_or_refuses,
    source_files,
    target_of,
)
from hypothesis import example, given
from hypothesis import strategies as st

from diagnose.model.kube import KubeEvidence, PodHealth
from diagnose.parsers import kubernetes, podhealth

SEEDS = {s: source_files(s, "kubernetes") for s in SCENARIOS}
TARGETS = {s: target_of(s) for s in SCENARIOS}
NOW = datetime(2023, 10, 27, 10, 45, tzinfo=timezone.utc)
MESH_KINDS = ("virtualservices", "destinationrules", "serviceprofiles", "ingresses")


def _items(kind: str) -> list[dict[str, Any]]:
    out = []
    for files in SEEDS.values():
        raw = files.get(f"{kind}.json")
        doc = json.loads(raw) if raw else {}
        out.extend(i for i in doc.get("items") or () if isinstance(i, dict))
    return out


POD_ITEMS = _items("pods") + _items("caller-pods")
MESH_ITEMS = {k: _items(k) for k in MESH_KINDS if _items(k)}


def _load(case: Case) -> None:
    ev = parses_or_refuses("kubernetes.load", lambda: kubernetes.load(case.files, TARGETS[case.scenario]))
    assert ev is None or isinstance(ev, KubeEvidence)


def _pod_spec_text(doc: Any) -> None:
    doc["items"][0]["spec"] = "x"


def _ingress_rule_text(doc: Any) -> None:
    doc["items"][0]["spec"]["rules"] = ["app.example.com"]


@given(case=mutated_source("kubernetes", SEEDS))
# Before the fix: AttributeError ('str' object has no attribute 'get') out of the parser, for a pod whose
# spec is a string and for an Ingress rule that is a string (mesh.ingress_routes).
@example(case=edited(SEEDS, "database", "pods.json", _pod_spec_text))
@example(case=edited(SEEDS, "database", "ingresses.json", _ingress_rule_text))
def test_mutated_api_documents_load_or_raise_an_evidence_error(case: Case) -> None:
    _load(case)


@st.composite
def mesh_case(draw: st.DrawFn) -> Case:
    """One mesh object of the scenario's kind mutated and put where the parser reads it for the upstream."""
    kind = draw(st.sampled_from(sorted(MESH_ITEMS)))
    doc = draw(mutated_tree(draw(st.sampled_from(MESH_ITEMS[kind]))))
    scenario = draw(st.sampled_from(SCENARIOS))
    listing = {"kind": "List", "apiVersion": "v1", "items": [doc]}
    return Case(scenario, {f"{kind}.json": json.dumps(listing).encode()}, SEEDS)


@given(case=mesh_case())
def test_mutated_mesh_objects_load_or_raise_an_evidence_error(case: Case) -> None:
    _load(case)


@given(pod=st.sampled_from(POD_ITEMS).flatmap(mutated_tree))
# Before the fix: AttributeError for metadata that is a list, ValueError for a restartCount of "-5m".
@example(pod={"metadata": ["x"], "status": {}})
@example(pod={"metadata": {"name": "p"},
              "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                         "containerStatuses": [{"restartCount": "-5m"}]}})
def test_pod_health_reads_any_mutated_pod(pod: Any) -> None:
    if not isinstance(pod, dict):
        return           # the parser reads items already filtered to objects
    health = parses_or_refuses("kubernetes.pod_health", lambda: podhealth.pod_health(pod, NOW))
    assert health is None or isinstance(health, PodHealth)
