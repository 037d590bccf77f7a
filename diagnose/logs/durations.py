"""Durations as logs write them, in milliseconds: numbers whose unit the key names, or strings with units.

A bare number takes its unit from the key: `*_ms` milliseconds, `*_s`/`*_seconds`/`*_sec` seconds,
`*_us`/`*_ns`; nginx's `request_time` / `upstream_response_time` are seconds; any other unitless key
(`duration`, `latency`, `elapsed`, Envoy's `duration`) is taken as milliseconds. Strings may carry their
unit: "15s", "15000ms", "1.5 s", Go's "1m2.5s", "250µs"; ISO-8601 "PT10S", "PT1M2.5S"; .NET TimeSpan
"00:00:10.003". A rule may name the unit (field_rules.py: ECS `event.duration` is nanoseconds).

A whole number of 1e7 or more under a key that names no unit is nanoseconds: as milliseconds it would be a
call of over 2.7 hours, and Go writes time.Duration as integer nanoseconds (slog's JSONHandler, logrus,
zap without a duration encoder).
"""

from __future__ import annotations

import re
from functools import lru_cache

from .field_rules import SUFFIX_MS, UNIT_SUFFIX

_UNIT_MS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "μs": 1e-3, "ms": 1.0, "s": 1000.0, "sec": 1000.0,
            "secs": 1000.0, "seconds": 1000.0, "m": 60000.0, "min": 60000.0, "h": 3600000.0}
_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*(ns|us|µs|μs|ms|seconds|secs|sec|s|min|m|h)?", re.I)
# Each number is whole (no digit or dot may follow it) and the blanks around an optional unit can be split
# one way only: "1111...1x" had 2^n ways to cut its digits into numbers, all tried before failing.
_WHOLE = re.compile(r"\s*(?:(?:\d+(?:\.\d+)?|\.\d+)(?![\d.])(?:\s*(?:ns|us|µs|μs|ms|seconds|secs|sec|s|min|m|h))?\s*)+",
                    re.I)

SECONDS_KEYS = frozenset({"request_time", "upstream_response_time", "upstream_connect_time",
                          "upstream_header_time"})


NS_FROM = 1e7
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_ISO = re.compile(r"P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?",
                  re.I)
_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d{1,2}):(\d\d):(\d\d(?:\.\d+)?)")


@lru_cache(maxsize=2048)
def named_unit_ms(key: str) -> float | None:
    """Milliseconds per unit that `key`'s name says (`_ms`, `Ms`, `_seconds`, `took_in_nanos`), or None."""
    k = _CAMEL.sub("_", key.rsplit(".", 1)[-1]).lower()
    if k in SECONDS_KEYS:
        return 1000.0
    m = UNIT_SUFFIX.search(k)
    return SUFFIX_MS[m.group(1)] if m else None


def key_unit_ms(key: str) -> float:
    """Milliseconds per unit of a bare number stored under `key` (milliseconds when it names none)."""
    unit = named_unit_ms(key)
    return 1.0 if unit is None else unit


def to_ms(value: object, key: str, unit_ms: float | None = None) -> float | None:
    """A duration value from a log field, in ms; None when it is not one (text, negative, bool).
    `unit_ms`: what a bare number's unit is in ms when the rule knows it; else the key's name says."""
    cls = value.__class__
    if cls is int or cls is float or (cls is not bool and isinstance(value, (int, float))):
        unit = unit_ms if unit_ms is not None else named_unit_ms(key)
        if unit is None:
            unit = 1e-6 if cls is int and value >= NS_FROM else 1.0  # type: ignore[operator]
        try:
            ms = float(value) * unit  # type: ignore[arg-type]
        except OverflowError:    # an integer past float's range (10**400): no duration a log can mean
            return None
        return ms if ms >= 0 and ms == ms and ms != float("inf") else None
    if not isinstance(value, str):
        return None          # bool, None, lists, objects
    text = value.strip()
    if not text or text == "-":
        return None
    try:
        return to_ms(float(text), key, unit_ms)
    except ValueError:
        pass
    if not _WHOLE.fullmatch(text):
        return _iso_or_timespan(text)
    total = 0.0
    for num, unit in _PART.findall(text):
        if not unit:
            return None        # "1m30" : a trailing bare number is ambiguous
        total += float(num) * _UNIT_MS[unit.lower() if unit.lower() in _UNIT_MS else unit]
    return total


def _iso_or_timespan(text: str) -> float | None:
    """ISO-8601 "PT1M2.5S" (GCP, Java's Duration.toString()) or .NET "00:00:10.003", in ms; else None."""
    m = _ISO.fullmatch(text)
    if m and len(text) > 2 and any(m.groups()):
        d, h, mi, sec = (float(g) if g else 0.0 for g in m.groups())
        return ((d * 24 + h) * 60 + mi) * 60000 + sec * 1000
    m = _TIMESPAN.fullmatch(text)
    if m:
        d, h, mi, sec = (float(g) if g else 0.0 for g in m.groups())
        return ((d * 24 + h) * 60 + mi) * 60000 + sec * 1000
    return None
