"""What every source gets: the options the user gave and the target of the diagnosis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

from ..model.incident import Incident, Window

# A source's data as files: path relative to the source's folder in a bundle -> the bytes, in the
# source's own wire format (API JSON documents, Prometheus responses, result rows, dump text).
RawFiles = Dict[str, bytes]

# The largest answer a source reads from a server (--max-response-bytes): a JSON document this size costs
# about 25 times as much once parsed, so a larger one is refused, not held.
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class SourceOptions:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    prometheus_url: str | None = None
    pg_dsn: str | None = None
    thread_dumps: str | None = None
    exec_thread_dumps: bool = False
    timeout: float = 5.0                   # seconds, budget per source
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES   # per answer read from a server


@dataclass(frozen=True)
class Target:
    """Who and when: the upstream to look at, its caller, the namespace if known, the time window."""

    incident: Incident
    window: Window
    namespace: str | None = None

    @property
    def upstream(self) -> str:
        return self.incident.upstream

    @property
    def caller(self) -> str:
        return self.incident.service
