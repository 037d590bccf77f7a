"""Durations as logs write them, in milliseconds: numbers whose unit the key names, or strings with units.

A bare number takes its unit from the key: `*_ms` milliseconds, `*_s`/`*_seconds`/`*_sec` seconds,
`*_us`/`*_ns`; nginx's `request_time` / `upstream_response_time` are seconds; any other unitless key
(`duration`, `latency`, `elapsed`, Envoy's `duration`) is taken as milliseconds. Strings may carry their
unit: "15s", "15000ms", "1.5 s", Go's "1m2.5s", "250µs".
"""

from __future__ import annotations

import re
from functools import lru_cache

_UNIT_MS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "μs": 1e-3, "ms": 1.0, "s": 1000.0, "sec": 1000.0,
            "secs": 1000.0, "seconds": 1000.0, "m": 60000.0, "min": 60000.0, "h": 3600000.0}
_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*(ns|us|µs|μs|ms|seconds|secs|sec|s|min|m|h)?", re.I)
_WHOLE = re.compile(r"\s*(?:(?:\d+(?:\.\d+)?|\.\d+)\s*(?:ns|us|µs|μs|ms|seconds|secs|sec|s|min|m|h)?\s*)+", re.I)

SECONDS_KEYS = frozenset({"request_time", "upstream_response_time", "upstream_connect_time",
                          "upstream_header_time"})


@lru_cache(maxsize=512)
def key_unit_ms(key: str) -> float:
    """Milliseconds per unit of a bare number stored under `key`."""
    k = key.lower().rsplit(".", 1)[-1]
    if k in SECONDS_KEYS:
        return 1000.0
    for suffix, mult in (("_ms", 1.0), ("_millis", 1.0), ("_seconds", 1000.0), ("_secs", 1000.0),
                         ("_sec", 1000.0), ("_s", 1000.0), ("_us", 1e-3), ("_micros", 1e-3), ("_ns", 1e-6),
                         ("_nanos", 1e-6)):
        if k.endswith(suffix):
            return mult
    return 1.0


def to_ms(value: object, key: str) -> float | None:
    """A duration value from a log field, in ms; None when it is not one (text, negative, bool)."""
    cls = value.__class__
    if cls is int or cls is float or (cls is not bool and isinstance(value, (int, float))):
        try:
            ms = float(value) * key_unit_ms(key)  # type: ignore[arg-type]
        except OverflowError:    # an integer past float's range (10**400): no duration a log can mean
            return None
        return ms if ms >= 0 and ms == ms and ms != float("inf") else None
    if not isinstance(value, str):
        return None          # bool, None, lists, objects
    text = value.strip()
    if not text or text == "-":
        return None
    try:
        return to_ms(float(text), key)
    except ValueError:
        pass
    if not _WHOLE.fullmatch(text):
        return None
    total = 0.0
    for num, unit in _PART.findall(text):
        if not unit:
            return None        # "1m30" : a trailing bare number is ambiguous
        total += float(num) * _UNIT_MS[unit.lower() if unit.lower() in _UNIT_MS else unit]
    return total
