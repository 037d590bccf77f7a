"""What the pod-logs source read (diagnose/sources/pod_logs.py): which pods and containers, and what not.

The lines themselves are the logs' (scanned with --log's into the incident); this is the account of them
a report and a bundle keep: the pods read, the containers cut by the byte bound, the calls refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class PodLogs:
    namespace: str | None
    logs: tuple[str, ...]                        # "<pod>/<container>.log" (".previous.log": the restarted one)
    lines: int
    truncated: tuple[str, ...] = ()              # "<pod>/<container>": cut by limitBytes
    missing: Mapping[str, str] = field(default_factory=dict)   # what was not read, and why (one line each)

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(f"{where}: cut at the byte bound (--pod-log-bytes)" for where in self.truncated)
