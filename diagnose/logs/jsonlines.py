"""JSON lines: one object per line (the seed's format and the usual variants; see fields.py).

A log shipper's wrapper ({"log": "<the app's line>", "kubernetes": {...}}, Fluent Bit / Fluentd /
Vector) is opened: an inner JSON object is merged over the wrapper, and an inner nginx or Envoy line is
parsed as such with the wrapper's labels naming the caller.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from . import envoy, nginx
from .event import Event, Skip
from .fields import SERVICE_KEYS, event_from_record, first_str

_WRAPPED = ("log", "message", "msg")
# What a wrapped line starts with: a JSON object, an nginx date, an Envoy [date]; or blanks before them.
_WRAPPED_START = frozenset("{[0123456789 \t")


def load(line: bytes | str) -> dict[str, Any]:
    try:
        # Decoded here: json.loads would guess UTF-16/32 from leading NUL bytes.
        rec = json.loads(line.decode("utf-8") if isinstance(line, bytes) else line)
    except UnicodeDecodeError:
        raise Skip("not UTF-8") from None
    except ValueError as e:
        raise Skip(f"not JSON ({e.args[0].split(':')[0]})") from None
    except RecursionError:
        raise Skip("JSON nested too deeply") from None
    if not isinstance(rec, dict):
        raise Skip("JSON but not an object")
    return rec


def event_of(rec: Mapping[str, Any]) -> Event | None:
    for key in _WRAPPED:
        inner = rec.get(key)
        if inner.__class__ is not str or len(inner) < 2 or inner[0] not in _WRAPPED_START:
            continue
        text = inner.strip()
        if not text:
            continue
        if text.startswith("{"):
            try:
                obj = json.loads(text)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                merged = {k: v for k, v in rec.items() if k != key}
                merged.update(obj)
                return event_from_record(merged)
        if not (text[0].isdigit() or text[0] == "["):
            continue                   # an nginx line starts with its date, an Envoy line with [date]
        caller = first_str(rec, SERVICE_KEYS)
        for fmt in (nginx, envoy):
            if fmt.looks_like(text):
                try:
                    # The wrapper's namespace is the proxy's own, not the upstream's: not used here.
                    ev: Event | None = fmt.parse(text, caller or fmt.__name__.rsplit(".", 1)[-1])
                except Skip:
                    ev = None
                return ev
    return event_from_record(rec)


def parse(line: bytes | str) -> Event | None:
    return event_of(load(line))
