"""What a check says: findings for or against a cause, and how the check itself went."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Mapping, Union

Direction = Literal["for", "against"]
CheckStatus = Literal["ok", "finding", "error", "skipped"]
Fact = Union[str, int, float]


@dataclass(frozen=True)
class Finding:
    """One piece of evidence about one cause.

    `weight` is the log-odds this finding adds (for) or removes (against); checks take it from their
    runbook params so that a person tunes it in runbooks/, not here. `summary` is plain text built from
    data: renderers escape it. `facts` fill the cause's fix templates (deployment, pid, index_sql, ...).
    """

    cause: str
    direction: Direction
    weight: float
    source: str
    summary: str
    onset: datetime | None = None          # when the signal left its baseline, if the data shows it
    facts: Mapping[str, Fact] = field(default_factory=dict)
    # Set when the data behind it predates the incident window ("dump taken 3 h before the incident"):
    # ranking weighs it down (the runbook's stale_discount) and every output shows why.
    stale: str | None = None
    # What the finding shows, so a relation can say which evidence of a cause another cause produces
    # (docs/ranking.md, "Cause before effect"): "cpu", "throttling", "traffic", "pool-wait", "oom", ...
    kind: str | None = None
    # Seconds within which `onset` cannot be told apart from another (the Prometheus step): two onsets
    # closer than the coarser of their resolutions are simultaneous.
    resolution: float = 0.0
    # Kinds of another cause's evidence this finding measured to be its own doing (GC's share of the CPU
    # used covers "cpu" and "throttling"): the mechanism that decides when onsets are simultaneous.
    explains: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        from .incident import iso

        out: dict[str, object] = {"source": self.source, "summary": self.summary,
                                  "direction": self.direction, "weight": round(self.weight, 3)}
        if self.onset is not None:
            out["onset"] = iso(self.onset)
        if self.stale:
            out["stale"] = self.stale
        if self.kind:
            out["kind"] = self.kind
        return out


@dataclass(frozen=True)
class CheckResult:
    id: str
    status: CheckStatus
    # The check's own run time (the engine's perf_counter), not its sources' collection: checks take micro-
    # to milliseconds, so a whole number of ms would say 0 for nearly all. 0 for a check that did not run.
    duration_ms: float = 0
    error: str | None = None               # one line, for `error` and `skipped`
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()            # what the check could not see, partial data, and so on

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"id": self.id, "status": self.status, "duration_ms": round(self.duration_ms, 3),
                                  "error": self.error}
        if self.notes:
            out["notes"] = list(self.notes)
        return out
