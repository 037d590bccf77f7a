"""One timeout (or upstream failure) event, as every format's parser returns it."""

from __future__ import annotations

from dataclasses import dataclass

TIMEOUT = "timeout"
FAILURE = "failure"          # Envoy UF / URX without a 504: the upstream failed, it did not time out


@dataclass(slots=True)
class Event:
    kind: str                        # TIMEOUT or FAILURE
    service: str                     # the caller
    upstream: str
    ts: float | None = None          # epoch seconds, UTC
    duration_ms: float | None = None
    timeout_ms: float | None = None
    namespace: str | None = None


class Skip(Exception):
    """A line that could not be parsed; the message is the one-line reason shown in skip samples."""
