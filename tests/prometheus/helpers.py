"""Shared by the Prometheus tests: recorded answers, evidence from files, the checks' scores."""

from __future__ import annotations

from pathlib import Path

from diagnose.checks import metrics as checks
from diagnose.model.check import MARK
from diagnose.model.evidence import Evidence
from diagnose.model.finding import Finding
from diagnose.parsers.prometheus import load
from diagnose.sources.base import RawFiles
from fixtures.build import prometheus as gen

RECORDED = Path(__file__).parent / "recorded"
CHECKS = (checks.resource_metrics, checks.gc_metrics, checks.network_metrics, checks.pool_metrics)


def recorded(scenario: str) -> RawFiles:
    """Answers a real Prometheus gave for the scenario's backfilled data (recorded by fixtures.build)."""
    return {p.name: p.read_bytes() for p in sorted((RECORDED / scenario).glob("*.json"))}


def evidence(files: RawFiles) -> Evidence:
    t = gen.target()
    return Evidence(incident=t.incident, window=t.window, prometheus=load(files, t))  # type: ignore[attr-defined]


def findings(ev: Evidence) -> list[Finding]:
    out: list[Finding] = []
    for fn in CHECKS:
        out.extend(fn(ev, getattr(fn, MARK).params))
    return out


def scores(found: list[Finding]) -> dict[str, float]:
    """Log-odds per cause from these checks alone (for minus against), every catalogue cause present."""
    out = {c: 0.0 for c in ("overload", "network", "gc-pause", "database", "mesh-timeout", "deadlock")}
    for f in found:
        out[f.cause] += f.weight if f.direction == "for" else -f.weight
    return out


def top(found: list[Finding]) -> str:
    s = scores(found)
    return max(s, key=lambda c: s[c])


# (scenario, GC naming flavour or None, the cause that must rank first): the live ranking cases
RANKING_CASES = [
    ("overload", None, "overload"),
    ("network", None, "network"),
    ("gc-pause", "simpleclient", "gc-pause"),
    ("gc-pause", "micrometer", "gc-pause"),
    ("gc-misleading-cpu", None, "gc-pause"),
]


def story_for(scenario: str, flavour: str | None) -> gen.Story:
    from dataclasses import replace

    story = gen.story(scenario)
    return replace(story, gc_flavour=flavour) if flavour else story
