"""manifest.json read field by field, each value checked against the type docs/bundle.md gives it.

A bundle is outside input (edited by hand, written by another version, or made to hurt): a wrong field is
one line naming it (`manifest.json: incident.timeout_ms: expected a number, got "abc"`), exit 2, rather
than a crash in a check much later. `parse` is the only reader; store.py calls it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping

from ..errors import BundleError
from ..model.evidence import SourceStatus, SourceStatusName
from ..model.incident import Incident, Percentiles, View, Window

STATUSES: tuple[SourceStatusName, ...] = ("ok", "error", "skipped")
# The times a bundle may carry: the range logs/timestamps.py keeps (1970 up to 1e11 s), so that the
# window arithmetic of checks (start - lead, end + margin) never leaves datetime's range.
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime.fromtimestamp(1e11, tz=timezone.utc)
_ABSENT = object()
# A source's folder: the names the engine's registry accepts (which sources this build knows is the
# engine's business: a bundle may hold one it does not, which analysis then leaves out).
_SOURCE_NAME = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class SourceEntry:
    status: SourceStatus
    files: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    incident: Incident
    window: Window
    namespace: str | None
    created: str | None
    log_file: str
    sources: Mapping[str, SourceEntry]


class _Wrong(Exception):
    """One field that is not what the format says; parse() names the bundle."""


def parse(doc: Mapping[str, object], shown: str, log_file: str) -> Manifest:
    """The typed manifest, or BundleError naming the first field that is wrong."""
    try:
        logs = _obj(doc.get("logs", _ABSENT), "logs", optional=True)
        return Manifest(
            incident=_incident(_obj(doc.get("incident", _ABSENT), "incident")),
            window=_window(_obj(doc.get("window", _ABSENT), "window")),
            namespace=_text(doc.get("namespace", _ABSENT), "namespace", optional=True),
            created=_text(doc.get("created", _ABSENT), "created", optional=True),
            log_file=_text(logs.get("file", _ABSENT), "logs.file", optional=True) or log_file,
            sources=_sources(_obj(doc.get("sources", _ABSENT), "sources", optional=True)),
        )
    except _Wrong as e:
        raise BundleError(f"manifest.json: {e}", path=shown) from None


def _incident(d: Mapping[str, object]) -> Incident:
    dur = _obj(d.get("duration_ms", _ABSENT), "incident.duration_ms", optional=True)
    return Incident(
        service=_required_text(d, "service", "incident."),
        upstream=_required_text(d, "upstream", "incident."),
        events=_count(d.get("events", 0), "incident.events"),
        first_seen=_time(d.get("first_seen", _ABSENT), "incident.first_seen", optional=True),
        last_seen=_time(d.get("last_seen", _ABSENT), "incident.last_seen", optional=True),
        timeout_ms=_number(d.get("timeout_ms", _ABSENT), "incident.timeout_ms"),
        duration_ms=Percentiles(*(_number(dur.get(k, _ABSENT), f"incident.duration_ms.{k}")
                                  for k in ("p50", "p99", "max"))),
        signal=_text(d.get("signal", _ABSENT), "incident.signal", optional=True) or "upstream-timeout",
        namespace=_text(d.get("namespace", _ABSENT), "incident.namespace", optional=True),
        rate_per_min=_number(d.get("rate_per_min", _ABSENT), "incident.rate_per_min"),
        seen_by=_views(d.get("seen_by", _ABSENT)),
        upstream_address=_text(d.get("upstream_address", _ABSENT), "incident.upstream_address", optional=True),
        upstream_note=_text(d.get("upstream_note", _ABSENT), "incident.upstream_note", optional=True),
        caller_logged=_text(d.get("caller_logged", _ABSENT), "incident.caller_logged", optional=True),
        caller_note=_text(d.get("caller_note", _ABSENT), "incident.caller_note", optional=True),
    )


def _views(value: object) -> tuple[View, ...]:
    if value is _ABSENT or value is None:
        return ()
    if not isinstance(value, list):
        raise _Wrong(f"incident.seen_by: expected a list, got {_show(value)}")
    out = []
    for i, item in enumerate(value):
        where = f"incident.seen_by[{i}]"
        v = _obj(item, where)
        details = _obj(v.get("details", _ABSENT), f"{where}.details", optional=True)
        out.append(View(log=_required_text(v, "log", f"{where}."), events=_count(v.get("events", 0), f"{where}.events"),
                        details=tuple((str(k), _count(n, f"{where}.details.{k}")) for k, n in details.items())))
    return tuple(out)


def _window(d: Mapping[str, object]) -> Window:
    start = _time(d.get("start", _ABSENT), "window.start")
    end = _time(d.get("end", _ABSENT), "window.end")
    onset = _time(d.get("onset", _ABSENT), "window.onset", optional=True)
    assert start is not None and end is not None          # required: _time raised otherwise
    return Window(start=start, end=end, onset=onset or start)


def _sources(d: Mapping[str, object]) -> dict[str, SourceEntry]:
    out: dict[str, SourceEntry] = {}
    for name, value in d.items():
        where = f"sources.{name}"
        if not isinstance(name, str) or not _SOURCE_NAME.fullmatch(name) or name == "logs":
            raise _Wrong(f"sources: expected source names (lowercase letters, digits, '-'), got {_show(name)}")
        doc = _obj(value, where)
        status = doc.get("status", _ABSENT)
        if status not in STATUSES:
            raise _Wrong(f"{where}.status: expected one of {', '.join(STATUSES)}, got {_show(status)}")
        files = doc.get("files", [])
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise _Wrong(f"{where}.files: expected a list of file names, got {_show(files)}")
        out[name] = SourceEntry(
            SourceStatus(name, status,
                         _text(doc.get("error", _ABSENT), f"{where}.error", optional=True),
                         _count(doc.get("duration_ms", 0), f"{where}.duration_ms")),
            tuple(files))
    return out


# --- the field types ---------------------------------------------------------------------------------

def _show(value: object) -> str:
    """The value found, in JSON and short, on one line (json.dumps escapes control characters)."""
    if value is _ABSENT:
        return "nothing"
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _obj(value: object, where: str, optional: bool = False) -> Mapping[str, object]:
    if optional and value in (None, _ABSENT):
        return {}
    if not isinstance(value, dict):
        raise _Wrong(f"{where}: expected an object, got {_show(value)}")
    return value


def _text(value: object, where: str, optional: bool = False) -> str | None:
    if optional and value in (None, _ABSENT):
        return None
    if not isinstance(value, str):
        raise _Wrong(f"{where}: expected a string, got {_show(value)}")
    return value


def _required_text(d: Mapping[str, object], key: str, prefix: str) -> str:
    value = d.get(key, _ABSENT)
    if not isinstance(value, str) or not value:
        raise _Wrong(f"{prefix}{key}: expected a non-empty string, got {_show(value)}")
    return value


def _count(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Wrong(f"{where}: expected a whole number >= 0, got {_show(value)}")
    return value


def _number(value: object, where: str) -> float | None:
    """An optional finite number >= 0 (milliseconds, a rate): null or absent is None."""
    if value is None or value is _ABSENT:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise _Wrong(f"{where}: expected a number, got {_show(value)}")
    return value


def _time(value: object, where: str, optional: bool = False) -> datetime | None:
    if optional and value in (None, _ABSENT):
        return None
    expected = "an ISO-8601 time between 1970 and 5138"
    if not isinstance(value, str):
        raise _Wrong(f"{where}: expected {expected}, got {_show(value)}")
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
        ts = (ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise _Wrong(f"{where}: expected {expected}, got {_show(value)}") from None
    if not EARLIEST <= ts < LATEST:
        raise _Wrong(f"{where}: expected {expected}, got {_show(value)}")
    return ts
