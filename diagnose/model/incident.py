"""The incident found in logs: who timed out waiting for whom, when, how often, how long."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any


def iso(ts: datetime | None) -> str | None:
    """UTC ISO-8601 with a Z, as the contract writes times."""
    if ts is None:
        return None
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def clock(ts: datetime | None) -> str:
    """"10:29Z": the time of day in UTC, as summaries date a signal; "?" when unknown."""
    return ts.astimezone(timezone.utc).strftime("%H:%MZ") if ts else "?"


def day_clock(ts: datetime) -> str:
    """"2023-10-25 10:33Z": clock() with the day, for what happened before the window."""
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%MZ")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


@dataclass(frozen=True)
class Percentiles:
    p50: float | None = None
    p99: float | None = None
    max: float | None = None

    def to_json(self) -> dict[str, float | None]:
        return {"p50": _num(self.p50), "p99": _num(self.p99), "max": _num(self.max)}


def _num(x: float | None) -> float | int | None:
    if x is None:
        return None
    return int(x) if float(x).is_integer() else round(x, 3)


@dataclass(frozen=True)
class View:
    """What one vantage point's log saw of an incident: the caller's own log ("app"), or a proxy's on its
    path ("envoy", "nginx", "haproxy"), with what the proxy said of the calls (flags, status codes)."""

    log: str
    events: int
    details: tuple[tuple[str, int], ...] = ()      # ("UT", 100), ("URX", 18): most first

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"log": self.log, "events": self.events}
        if self.details:
            out["details"] = dict(self.details)
        return out

    def words(self) -> str:
        """"envoy 118 (UT 100, URX 18)"."""
        said = ", ".join(f"{k} {n}" for k, n in self.details[:4])
        return f"{self.log} {self.events}" + (f" ({said})" if said else "")


@dataclass(frozen=True)
class Incident:
    """Timeout events of one caller waiting on one upstream, grouped."""

    service: str
    upstream: str
    events: int
    first_seen: datetime | None
    last_seen: datetime | None
    timeout_ms: float | None            # the caller's own deadline, most common value in the events
    duration_ms: Percentiles = field(default_factory=Percentiles)
    signal: str = "upstream-timeout"    # what runbooks match on
    namespace: str | None = None        # when the logs say (kubernetes.namespace_name and the like)
    rate_per_min: float | None = None
    # The logs that saw it, when a proxy's did (the caller's app log, its sidecar's, the ingress's): the
    # same calls, counted once in `events` (the most any one view saw), each view's count kept here.
    seen_by: tuple[View, ...] = ()
    # An upstream the logs named only by address, once the cluster said whose it is (engine/address.py): the
    # address as logged, and one line saying what it is, or that it matches nothing any more.
    upstream_address: str | None = None
    upstream_note: str | None = None
    # A caller the logs named only as its proxy ("envoy"), once the cluster said whose pod the sidecar's calls
    # came from: the name as logged, and one line saying how it was found.
    caller_logged: str | None = None
    caller_note: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "service": self.service,
            "upstream": self.upstream,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "events": self.events,
            "timeout_ms": _num(self.timeout_ms),
            "duration_ms": self.duration_ms.to_json(),
        }
        if self.rate_per_min is not None:
            out["rate_per_min"] = round(self.rate_per_min, 3)
        if self.namespace:
            out["namespace"] = self.namespace
        if self.signal != "upstream-timeout":
            out["signal"] = self.signal
        if self.seen_by:
            out["seen_by"] = [v.to_json() for v in self.seen_by]
        if self.upstream_address:
            out["upstream_address"] = self.upstream_address
        if self.upstream_note:
            out["upstream_note"] = self.upstream_note
        if self.caller_logged:
            out["caller_logged"] = self.caller_logged
        if self.caller_note:
            out["caller_note"] = self.caller_note
        return out

    def as_logged(self) -> "Incident":
        """The incident as the logs named it (its upstream an address again, its caller the proxy's name)."""
        return replace(self, upstream=self.upstream_address or self.upstream,
                       service=self.caller_logged or self.service)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "Incident":
        d = doc.get("duration_ms") or {}
        return cls(
            service=str(doc["service"]), upstream=str(doc["upstream"]), events=int(doc.get("events", 0)),
            first_seen=parse_iso(doc.get("first_seen")), last_seen=parse_iso(doc.get("last_seen")),
            timeout_ms=doc.get("timeout_ms"),
            duration_ms=Percentiles(d.get("p50"), d.get("p99"), d.get("max")),
            signal=doc.get("signal", "upstream-timeout"), namespace=doc.get("namespace"),
            rate_per_min=doc.get("rate_per_min"),
            seen_by=tuple(View(str(v["log"]), int(v["events"]), tuple(
                (str(k), int(n)) for k, n in (v.get("details") or {}).items()))
                for v in doc.get("seen_by") or ()),
            upstream_address=doc.get("upstream_address"), upstream_note=doc.get("upstream_note"),
            caller_logged=doc.get("caller_logged"), caller_note=doc.get("caller_note"),
        )


@dataclass(frozen=True)
class Window:
    """The time range evidence is gathered for: a baseline before the first timeout, and the incident."""

    start: datetime
    end: datetime
    onset: datetime          # the first timeout; signals are dated relative to it

    @classmethod
    def around(cls, incident: Incident, now: datetime | None = None,
               baseline: timedelta = timedelta(minutes=30), after: timedelta = timedelta(minutes=5)) -> "Window":
        now = now or datetime.now(timezone.utc)
        first = incident.first_seen or now
        last = incident.last_seen or first
        return cls(start=first - baseline, end=min(last + after, max(now, last)), onset=first)

    def to_json(self) -> dict[str, str | None]:
        return {"start": iso(self.start), "end": iso(self.end), "onset": iso(self.onset)}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "Window":
        start, end, onset = parse_iso(doc["start"]), parse_iso(doc["end"]), parse_iso(doc.get("onset"))
        if start is None or end is None:
            raise ValueError("a window needs a start and an end")
        return cls(start=start, end=end, onset=onset or start)
