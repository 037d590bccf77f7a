"""logfmt lines: `time=... level=error msg="upstream timeout" service=frontend-api upstream=...`."""

from __future__ import annotations

import re
from typing import Any

from .event import Event, Skip
from .fields import event_from_record

_PAIR = re.compile(r'\s*([^\s="]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)(?=\s|$)')
_ESC = re.compile(r"\\(.)")
STRUCTURE = rb"[A-Za-z_@][\w.@/-]*="


def fields(line: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pos = 0
    n = len(line.rstrip())
    while pos < n:
        m = _PAIR.match(line, pos)
        if not m:
            raise Skip(f"not logfmt at column {pos + 1}")
        key, value = m.group(1), m.group(2)
        if value.startswith('"'):
            value = _ESC.sub(r"\1", value[1:-1])
        out[key] = _number(value)
        pos = m.end()
    if not out:
        raise Skip("not logfmt")
    return out


def _number(v: str) -> Any:
    # Only plain integers/decimals become numbers, so `time=1698402600` is an epoch and `v=1e3` stays text.
    if v and (v.isdigit() or (v.count(".") == 1 and v.replace(".", "").isdigit())):
        return float(v) if "." in v else int(v)
    return v


def parse(line: str, default_service: str = "unknown") -> Event | None:
    return event_from_record(fields(line), default_service)


def looks_like(line: str) -> bool:
    try:
        return len(fields(line)) >= 2
    except Skip:
        return False
