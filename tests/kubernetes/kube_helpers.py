"""Shared set-up for the kubernetes tests: the seed's incident as a Target, and files -> evidence."""

from __future__ import annotations

from diagnose.model.evidence import Evidence
from diagnose.model.incident import Incident, Percentiles, Window
from diagnose.model.kube import KubeEvidence
from diagnose.parsers.kubernetes import load
from diagnose.sources.base import RawFiles, Target
from fixtures.build import scenario as sc

INCIDENT = Incident(service=sc.CALLER, upstream=sc.UPSTREAM, events=40, first_seen=sc.ONSET, last_seen=sc.LAST,
                    timeout_ms=sc.CALLER_TIMEOUT_MS, duration_ms=Percentiles(15000, 15000, 15000))
WINDOW = Window.around(INCIDENT, now=sc.WINDOW_END)


def target(namespace: str | None = None) -> Target:
    return Target(incident=INCIDENT, window=WINDOW, namespace=namespace)


def evidence(files: RawFiles, namespace: str | None = None) -> tuple[KubeEvidence, Evidence]:
    kube = load(files, target(namespace))
    return kube, Evidence(incident=INCIDENT, window=WINDOW, kubernetes=kube)
