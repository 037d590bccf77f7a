"""Everything the checks may read, gathered once per diagnosis.

Each source's evidence is kept by the source's name (`get(name)`); the built-in sources' evidence also has
a typed field (kube.py, metrics.py, database.py, threads.py), so that checks stay typed. Evidence is None
when its source was skipped or failed, and `sources` says which and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Mapping, cast

from .incident import Incident, Window

if TYPE_CHECKING:
    from .database import DatabaseEvidence
    from .kube import KubeEvidence
    from .metrics import MetricsEvidence
    from .threads import ThreadEvidence

SourceStatusName = Literal["ok", "error", "skipped"]


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
    by_source: Mapping[str, object] = field(default_factory=dict)   # every source's evidence, by its name
    # The logs' other incidents (`run --log`: every signal, caller and upstream the scan found besides the
    # one diagnosed), for checks that read what the upstream's own log says (checks/log_signals.py).
    log_incidents: tuple[Incident, ...] = ()

    def __post_init__(self) -> None:
        # One truth: the typed fields win over by_source for their sources (so that dataclasses.replace
        # of a field is seen by get()), and every source's evidence is in by_source.
        typed = self._typed()
        merged = {k: v for k, v in self.by_source.items() if k not in typed}
        merged.update({name: v for name, v in typed.items() if v is not None})
        object.__setattr__(self, "by_source", merged)

    def _typed(self) -> dict[str, object | None]:
        """Source name -> its typed field (the sources themselves are listed in diagnose/engine/registry.py)."""
        return {"kubernetes": self.kubernetes, "prometheus": self.prometheus, "postgres": self.postgres,
                "thread-dumps": self.threads}

    def get(self, source: str) -> object | None:
        """The evidence of a source by its name, or None (skipped, failed, or not a source)."""
        return self.by_source.get(source)

    @classmethod
    def of_sources(cls, incident: Incident, window: Window, sources: Mapping[str, SourceStatus],
                   parsed: Mapping[str, object], notes: tuple[str, ...] = ()) -> Evidence:
        """From each source's loaded evidence by name: the built-in ones also in their typed fields."""
        return cls(incident=incident, window=window, sources=sources, notes=notes, by_source=dict(parsed),
                   kubernetes=cast("KubeEvidence | None", parsed.get("kubernetes")),
                   prometheus=cast("MetricsEvidence | None", parsed.get("prometheus")),
                   postgres=cast("DatabaseEvidence | None", parsed.get("postgres")),
                   threads=cast("ThreadEvidence | None", parsed.get("thread-dumps")))
