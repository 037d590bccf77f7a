"""Parsing of quantities, durations and whole bundles written by the fixture writer."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from diagnose.errors import EvidenceError
from diagnose.model.incident import Window
from diagnose.parsers.kubernetes import load, parse_quantity, status_reason
from diagnose.parsers.mesh import parse_duration_ms
from diagnose.sources.base import Target
from fixtures.build import kubernetes as fk
from fixtures.build import scenario as sc
from tests.kubernetes.kube_helpers import INCIDENT, evidence


@pytest.mark.parametrize("text,value", [("500m", 0.5), ("1", 1.0), ("1Gi", 2.0**30), ("1843Mi", 1843 * 2.0**20),
                                        ("973424823n", 0.973424823), ("16064936Ki", 16064936 * 1024.0),
                                        ("1e3", 1000.0), ("2k", 2000.0), ("0.5", 0.5)])
def test_kubernetes_quantities_are_read_in_base_units(text: str, value: float) -> None:
    assert parse_quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("text,ms", [("10s", 10000), ("1.5s", 1500), ("250ms", 250), ("1m30s", 90000),
                                     ("0.250s", 250), ("60", 60000), (5, 5000)])
def test_durations_are_read_in_milliseconds(text: object, ms: float) -> None:
    assert parse_duration_ms(text) == pytest.approx(ms)


@pytest.mark.parametrize("bad", ["ten seconds", "10x", "", "s"])
def test_bad_durations_are_one_line_errors(bad: str) -> None:
    with pytest.raises(EvidenceError, match="not a duration"):
        parse_duration_ms(bad, field="production/vs: http[0].timeout")


def test_bad_quantity_is_a_one_line_error() -> None:
    with pytest.raises(EvidenceError, match="not a Kubernetes quantity"):
        parse_quantity("lots")


def test_a_404_status_reads_as_not_served() -> None:
    assert status_reason(fk.not_found(), "podmetrics").startswith("not served: pods.metrics.k8s.io")


@pytest.mark.parametrize("scenario", sorted(sc.SCENARIOS))
def test_every_scenario_bundle_parses_with_nothing_missing(scenario: str, tmp_path: Path) -> None:
    fk.write(scenario, tmp_path)
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    c = sc.SCENARIOS[scenario].cast             # other-cast names other services
    incident = replace(INCIDENT, service=c.caller, upstream=c.upstream, first_seen=c.onset, last_seen=c.last)
    kube = load(files, Target(incident=incident, window=Window.around(incident, now=c.window_end), namespace=None))
    assert kube.missing == {} and len(kube.pods) == 3 and len(kube.caller_pods) == 2
    assert kube.deployment is not None and kube.hpa is not None and kube.routes


def test_network_scenario_places_the_upstream_in_another_zone(tmp_path: Path) -> None:
    fk.write("network", tmp_path)
    kube, _ = evidence({p.name: p.read_bytes() for p in tmp_path.iterdir()})
    assert {p.zone for p in kube.pods} == {"us-east-1c"} and {p.zone for p in kube.caller_pods} == {"us-east-1a"}


def test_malformed_list_document_is_an_evidence_error_naming_the_file(tmp_path: Path) -> None:
    fk.write("healthy", tmp_path)
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    files["hpas.json"] = json.dumps({"kind": "HorizontalPodAutoscalerList", "items": {}}).encode()
    with pytest.raises(EvidenceError, match="kubernetes/hpas.json"):
        evidence(files)
    files["hpas.json"] = b"{not json"
    with pytest.raises(EvidenceError, match="kubernetes/hpas.json: not JSON"):
        evidence(files)
