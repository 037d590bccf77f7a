"""Everything the checks may read, gathered once per diagnosis.

Each source's typed evidence is its own module (kube.py, metrics.py, database.py, threads.py); a field
is None when the source was skipped or failed, and `sources` says which and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Mapping

from .incident import Incident, Window

if TYPE_CHECKING:
    from .database import DatabaseEvidence
    from .kube import KubeEvidence
    from .metrics import MetricsEvidence
    from .threads import ThreadEvidence

SourceStatusName = Literal["ok", "error", "skipped"]

# The live evidence sources, in the order reports list them: each is diagnose/sources/<name>.py and
# diagnose/parsers/<name>.py (with "-" as "_"), and a folder of that name in a bundle.
LIVE_SOURCE_NAMES = ("kubernetes", "prometheus", "postgres", "thread-dumps")
SOURCE_NAMES = ("logs", *LIVE_SOURCE_NAMES)


@dataclass(frozen=True)
class SourceStatus:
    name: str
    status: SourceStatusName
    error: str | None = None               # one line: why it was skipped or failed
    duration_ms: int = 0

    def to_json(self) -> dict[str, object]:
        return {"status": self.status, "error": self.error, "duration_ms": self.duration_ms}


@dataclass(frozen=True)
class Evidence:
    incident: Incident
    window: Window
    sources: Mapping[str, SourceStatus] = field(default_factory=dict)
    kubernetes: "KubeEvidence | None" = None
    prometheus: "MetricsEvidence | None" = None
    postgres: "DatabaseEvidence | None" = None
    threads: "ThreadEvidence | None" = None
    notes: tuple[str, ...] = ()
