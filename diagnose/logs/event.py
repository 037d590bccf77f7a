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
    # The proxy whose log said it ("envoy", "nginx", "haproxy"), "" for the caller's own log: one incident
    # seen from several vantage points is folded into one (logs/vantage.py), each view counted apart.
    via: str = ""
    detail: str = ""                 # what the proxy said of it: Envoy response flags, nginx/HAProxy status
    # The address a sidecar's call came from (Envoy's %DOWNSTREAM_REMOTE_ADDRESS%: the caller's pod IP on an
    # outbound call), by which a proxy's caller is named from the cluster (engine/address.py).
    peer: str = ""
    # The upstream as the log wrote it when a rule read a name out of it that may read otherwise: ingress-
    # nginx's `<namespace>-<service>-<port>` with dashes in both (engine/address.py asks the cluster).
    logged: str = ""
    pod: str = ""                    # the pod whose log said it (a wrapper's prefix, a shipper's pod field)


class Skip(Exception):
    """A line that could not be parsed; the message is the one-line reason shown in skip samples."""
