"""logfmt lines: `time=... level=error msg="upstream timeout" service=frontend-api upstream=...`."""

from __future__ import annotations

import re
from typing import Any

from . import text_formats
from .event import Event, Skip
from .fields import event_from_record
from .timestamps import to_epoch

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
    rec = fields(line)
    ev = event_from_record(rec, default_service)
    if ev is None:
        # No upstream field: the message may name it, as logrus's text lines do
        # (`level=error msg="charge failed" error="Post \"http://payment:8080/charge\": context deadline
        # exceeded"`, github.com/sirupsen/logrus README "TextFormatter").
        text = " ".join(v for k in _MESSAGE_KEYS if isinstance(v := rec.get(k), str))
        if text:
            service = next((v for k in _CALLER_KEYS if isinstance(v := rec.get(k), str) and v), default_service)
            ev = text_formats.from_message(text, service, lambda: _time(rec))
    return ev


_MESSAGE_KEYS = ("msg", "message", "error", "err")
_CALLER_KEYS = ("service", "app", "application", "service.name")


def _time(rec: dict[str, Any]) -> float | None:
    for key in ("time", "ts", "timestamp"):
        if key in rec:
            return to_epoch(rec[key])
    return None


def looks_like(line: str) -> bool:
    try:
        return len(fields(line)) >= 2
    except Skip:
        return False
