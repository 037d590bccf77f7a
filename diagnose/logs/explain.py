"""`diagnose logs --explain PATH`: how the scan reads a log, line by line, for a person checking it.

For the first N lines and the first N candidate lines (those the pre-filter would parse): the format that
read the line (a wrapper peeled first), the rule that read each field (service, upstream, namespace,
duration, timeout, time, signal) and, for a line that is no event, why (no signal marker, no upstream
named, time out of range, malformed). The same readers as the scan are used (formats.parse_any, the field
rules through fields.Fields, a --log-format mapping); this module only says which one answered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import InputError
from . import formats, jsonlines, logfmt, text_formats, wrappers
from .classify import from_proxy, from_words
from .durations import to_ms
from .event import Event, Skip
from .fields import Fields
from .names import split_upstream
from .timestamps import to_epoch

if TYPE_CHECKING:
    from .custom_format import LogFormat

MAX_READ = 8 << 20          # the lines explained are the first ones: never more than this is read
ROLES = ("service", "upstream", "namespace", "duration", "timeout", "time")


def explain(path: str, n: int, custom: LogFormat | None = None) -> list[dict[str, Any]]:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_READ)
    except OSError as e:
        raise InputError(f"cannot read ({e.strerror or e})", path=path) from None
    lines = data.split(b"\n")
    if len(data) == MAX_READ:
        lines.pop()                              # the last may be cut
    if data.startswith(b"\xef\xbb\xbf"):
        lines[0] = lines[0][3:]
    sample = formats.sample_lines(data[:256 << 10])
    # Peeled only when the file is wrapped, as the scan decides (scan.sniff_first): a line's own leading
    # time is not a CRI wrapper.
    wrapped = wrappers.sniff(sample, lambda ls: formats.best_fit(ls)[1] if custom is None
                             else sum(1 for ln in ls if custom.fits(ln)))
    out: list[dict[str, Any]] = []
    firsts = cands = 0
    for no, raw in enumerate(lines, 1):
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        picked = []
        if firsts < n:
            picked.append("first lines")
            firsts += 1
        row = None
        if cands < n and _candidate(raw, custom, wrapped):
            picked.append("candidate")
            cands += 1
        if picked:
            row = {"line": no, "picked": picked, **explain_line(raw, custom, wrapped)}
            out.append(row)
        if firsts >= n and cands >= n:
            break
    return out


def _candidate(raw: bytes, custom: LogFormat | None, wrapped: bool = True) -> bool:
    inner = wrappers.peel_line(raw)[0] if wrapped else raw
    if custom is not None and custom.fits(inner):
        try:
            r = custom.read(inner.decode("utf-8").strip())
        except (Skip, ValueError, TypeError, RecursionError):
            return True
        return r.event is not None or formats.is_candidate(formats.TEXT, inner)
    shape = formats.structure_of(inner)
    return formats.may_be_event(shape, inner) if shape is not None else formats.is_candidate(formats.TEXT, inner)


def _wrapper(raw: bytes) -> tuple[bytes, str | None]:
    inner, t, pod, _ = wrappers.peel_line(raw)
    if inner is raw and t is None and pod is None:
        return raw, None
    if pod is not None:
        return inner, "kubectl --prefix"
    return inner, "Docker json-file" if raw.lstrip().startswith(b"{") else "CRI (time, stream, tag)"


def explain_line(raw: bytes, custom: LogFormat | None = None, wrapped: bool = True) -> dict[str, Any]:
    """format, wrapper, text, fields (field -> rule), event (or None) and reason of one raw line."""
    inner, wrapper = _wrapper(raw) if wrapped else (raw, None)
    text = inner.decode("utf-8", "replace")
    row: dict[str, Any] = {"text": text, "wrapper": wrapper, "format": "none", "fields": {}, "event": None,
                           "reason": None}
    if custom is not None:
        try:
            reading = custom.read(text.strip())
        except Skip as e:
            return {**row, "format": custom.name, "reason": _why(str(e))}
        except (ValueError, TypeError, RecursionError) as e:
            return {**row, "format": custom.name, "reason": f"malformed: {e}"}
        if reading.matched:
            return {**row, "format": custom.name, "fields": reading.rules, "event": _event(reading.event),
                    "reason": reading.reason if reading.event is None else None}
    try:
        fmt, ev = formats.parse_any(inner)
    except Skip as e:
        return {**row, "reason": _why(str(e))}
    except (ValueError, TypeError, RecursionError) as e:
        return {**row, "reason": f"malformed: {e}"}
    row["format"] = formats.NAMES.get(fmt, fmt)
    if fmt in (formats.JSON, formats.LOGFMT):
        rec = jsonlines.load(text.strip()) if fmt == formats.JSON else logfmt.fields(text.strip())
        row["fields"], why = _record_rules(rec)
    else:
        row["fields"], why = _text_rules(fmt, text.strip(), ev)
    row["event"] = _event(ev)
    if ev is None:
        row["reason"] = why
    return row


def _why(reason: str) -> str:
    return reason if reason.startswith("time out of range") else f"malformed: {reason}"


def _event(ev: Event | None) -> dict[str, Any] | None:
    if ev is None:
        return None
    return {"signal": ev.kind, "service": ev.service, "upstream": ev.upstream, "namespace": ev.namespace,
            "duration": ev.duration_ms, "timeout": ev.timeout_ms, "time": ev.ts}


def _usable(role: str, key: str, v: Any, unit: Any) -> bool:
    if role in ("duration", "timeout"):
        return to_ms(v, key, unit if isinstance(unit, float) else None) is not None
    if role == "time":
        try:
            return to_epoch(v) is not None
        except Skip:
            return False
    if not isinstance(v, str) or v.strip() in ("", "-"):
        return False
    return role != "upstream" or bool(split_upstream(v.strip())[0]) and (unit != "url" or "://" in v)


def _record_rules(rec: dict[str, Any]) -> tuple[dict[str, str], str]:
    """field -> the field rule (diagnose/logs/field_rules.py) whose key read it; and why no event if none."""
    f = Fields(rec)
    plan = f.plan
    rules: dict[str, str] = {}
    flags = [(k, v) for _, k, v in f.get("flags") if isinstance(v, str) and v.strip() not in ("", "-")]
    if flags:
        code = next((str(v) for _, _, v in f.get("code")), "")
        if from_proxy(set(flags[0][1].replace(" ", "").split(",")), code):
            rules["signal"] = f"Envoy response flags / code in {flags[0][0]!r} (field rule flags)"
    if "signal" not in rules:
        for _, k, v in f.get("text"):
            if isinstance(v, str) and from_words(v):
                rules["signal"] = f"words in {k!r} (field rule text)"
                break
    if "signal" not in rules:
        for _, k, v in f.get("grpc"):
            if from_words(str(v)) or (str(v).isdigit()):
                rules["signal"] = f"gRPC status in {k!r} (field rule grpc)"
                break
    for role in ROLES:
        for p, k, how in plan.get(role, ()):
            if _usable(role, k, f.rec[k], how):
                kind = "by meaning" if p >= 1_000_000 else ("through an envelope" if p % 2 else "exact key")
                rules[role] = f"key {k!r} (field rule {role}, {kind})"
                break
    why = "no signal marker (no field says a timeout or failure)" if "signal" not in rules else \
        "no upstream named (no upstream field with a name)" if "upstream" not in rules else "not an event"
    return rules, why


def _text_rules(fmt: str, text: str, ev: Event | None) -> tuple[dict[str, str], str]:
    name = formats.NAMES.get(fmt, fmt)
    if fmt == formats.TEXT:
        m = text_formats.match(text)
        layout = f"{name} layout {m[0].name!r}" if m else name
        rules = {"signal": "words in the message", "service": f"{layout}: the logger or service",
                 "upstream": "the message (a URL, host:port or dial target)", "time": f"{layout}: its time",
                 "duration": "the message (`after N ms`)", "timeout": "the message (`timeout N`)",
                 "namespace": "the upstream's name (name.namespace)"}
    else:
        rules = {r: f"the {name} line's {r} field" for r in ("signal", *ROLES)}
    if ev is None:
        kind = from_words(text)
        return {"signal": rules["signal"]} if kind else {}, (
            "no signal marker (no words of a timeout or failure)" if kind is None and fmt == formats.TEXT else
            "no upstream named" if kind else f"no signal in the {name} line (status, flags or words)")
    have = {"signal": ev.kind, "service": ev.service, "upstream": ev.upstream, "namespace": ev.namespace,
            "duration": ev.duration_ms, "timeout": ev.timeout_ms, "time": ev.ts}
    return {k: rules[k] for k, v in have.items() if v is not None and k in rules}, ""
