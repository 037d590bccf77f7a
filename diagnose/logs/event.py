"""One event between a caller and its upstream, as every format's parser returns it."""

from __future__ import annotations

from dataclasses import dataclass

from .classify import FAILURE

__all__ = ["FAILURE", "Event", "Skip"]


@dataclass(slots=True)
class Event:
    kind: str                        # a signal id (model/signals.py) or FAILURE
    service: str                     # the caller
    upstream: str
    ts: float | None = None          # epoch seconds, UTC
    duration_ms: float | None = None
    timeout_ms: float | None = None
    namespace: str | None = None


class Skip(Exception):
    """A line that could not be parsed; the message is the one-line reason shown in skip samples."""
