"""The outcome of one diagnosis, in the contract's shape (diagnose.report/v1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping

from .evidence import SourceStatus
from .finding import CheckResult, Finding
from .incident import Incident, Window

Verdict = Literal["likely", "possible", "unlikely", "ruled_out", "unknown"]
SCHEMA = "diagnose.report/v1"


@dataclass(frozen=True)
class Fix:
    summary: str
    commands: tuple[str, ...]
    why: str

    def to_json(self) -> dict[str, object]:
        return {"summary": self.summary, "commands": list(self.commands), "why": self.why}


@dataclass(frozen=True)
class CauseReport:
    id: str
    title: str
    confidence: float
    verdict: Verdict
    evidence: tuple[Finding, ...] = ()
    fixes: tuple[Fix, ...] = ()
    checks: tuple[str, ...] = ()            # the checks that speak to this cause
    unknown_reason: str | None = None       # why the evidence could not be gathered
    notes: tuple[str, ...] = ()             # ranking notes: cause/effect discounts and the like
    diagnosis: str = ""                     # what a person would look at, from the runbook
    to_confirm: str | None = None           # for a `possible` cause: what would confirm it (the runbook's)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id, "title": self.title, "confidence": round(self.confidence, 2),
            "verdict": self.verdict, "evidence": [f.to_json() for f in self.evidence],
            "fixes": [f.to_json() for f in self.fixes], "checks": list(self.checks),
        }
        if self.unknown_reason:
            out["unknown_reason"] = self.unknown_reason
        if self.notes:
            out["notes"] = list(self.notes)
        if self.to_confirm:
            out["to_confirm"] = self.to_confirm
        return out


@dataclass(frozen=True)
class Report:
    incident: Incident
    window: Window
    runbook: str
    causes: tuple[CauseReport, ...]
    checks: tuple[CheckResult, ...]
    sources: Mapping[str, SourceStatus] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # One line a report opens with when no cause is likely: that nothing is, and what the timeouts
    # probably are (engine/summary.py). None when a cause is likely: its row says it.
    summary: str | None = None
    # The other incidents the logs held (another caller or upstream), most events first: not diagnosed.
    other_incidents: tuple[Incident, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "schema": SCHEMA,
            "incident": self.incident.to_json(),
            "causes": [c.to_json() for c in self.causes],
            "checks": [c.to_json() for c in self.checks],
            "window": self.window.to_json(),
            "runbook": self.runbook,
            "sources": {name: s.to_json() for name, s in self.sources.items()},
            "notes": list(self.notes),
            "summary": self.summary,
            "other_incidents": [{"service": i.service, "upstream": i.upstream, "events": i.events}
                                for i in self.other_incidents],
        }
