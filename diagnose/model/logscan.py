"""What a scan of logs found: lines read and skipped, the incidents (most events first), the raw lines
kept per incident for a bundle, lines per format. Made by diagnose/logs/scan.py, shown by
diagnose/render/logs.py, and read by the engine to pick an incident and write a bundle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .incident import Incident


@dataclass
class LogScan:
    lines: int = 0
    skipped: int = 0
    skip_samples: list[tuple[str, int, str]] = field(default_factory=list)   # (path, line no, reason)
    incidents: list[Incident] = field(default_factory=list)                  # most events first
    # raw event lines per (signal, caller, upstream) group; kept_for(incident) reads them
    kept: dict[tuple[str, str, str], list[bytes]] = field(default_factory=dict)
    formats: dict[str, int] = field(default_factory=dict)                    # lines per detected format
    failures: dict[tuple[str, str], int] = field(default_factory=dict)       # Envoy UF/URX, no signal
    dropped: int = 0     # events of (signal, caller, upstream) groups beyond group.MAX_GROUPS, not grouped
    # The per-view groups the incidents were folded from (logs.group.Groups), kept so that upstreams named
    # later (an address named from the cluster: engine/address.py) can be folded again, exactly.
    groups: Any = None

    def kept_for(self, incident: Incident) -> list[bytes]:
        """The raw lines kept of an incident's events (for evidence bundles)."""
        return self.kept.get((incident.signal, incident.service, incident.upstream), [])
