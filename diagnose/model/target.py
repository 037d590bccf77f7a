"""What a diagnosis looks at (`Target`) and a source's data as files (`RawFiles`).

Shared by the sources (which collect files for a target), the parsers (which read them), the bundle
(which keeps them) and the engine (which hands them from one to the other).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Dict

from .incident import Incident, Window

# A source's data as files: path relative to the source's folder in a bundle -> the bytes, in the
# source's own wire format (API JSON documents, Prometheus responses, result rows, dump text).
RawFiles = Dict[str, bytes]


@dataclass(frozen=True)
class Target:
    """Who and when: the upstream to look at, its caller, the namespace if known, the time window."""

    incident: Incident
    window: Window
    namespace: str | None = None

    @classmethod
    def before_incident(cls, namespace: str | None, now: datetime | None = None) -> Target:
        """What a source that gives logs is collected for: no incident yet, the namespace if given."""
        now = now or datetime.now(timezone.utc)
        return cls(incident=Incident(service="", upstream="", events=0, first_seen=None, last_seen=None,
                                     timeout_ms=None), window=Window(now, now, now), namespace=namespace)

    @property
    def upstream(self) -> str:
        return self.incident.upstream

    @property
    def caller(self) -> str:
        return self.incident.service
