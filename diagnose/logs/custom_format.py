"""`--log-format FILE`: an in-house log format, named in a small YAML mapping (docs/logs.md "Your own format").

    regex: '^(?P<time>\\S+) \\[(?P<service>[^\\]]+)\\] call (?P<upstream>\\S+) failed: (?P<message>.*)$'
    # or, for JSON / logfmt lines with keys no built-in rule knows:
    fields: {service: app_name, upstream: dependency, duration: took, timeout: budget, time: at}

The file is validated when loaded (InputError, exit 2, naming file, line and field). A line the mapping
reads is an Event as any format's: its signal from the message (or status) through the signal table
(classify.py), its durations through durations.py, its time through timestamps.py, its upstream through
names.py; a role the mapping does not name is read by the built-in rules (a regex's message by the text
formats' message reader, a record's other keys by field_rules.py). A line the mapping does not read is
offered to the built-in formats, as a mixed line is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..safe_yaml import read_bounded, refuse_bombs
from . import jsonlines, logfmt, text_formats
from .classify import from_proxy, from_words
from .durations import to_ms
from .event import Event, Skip
from .fields import Fields, flatten
from .names import split_upstream
from .timestamps import to_epoch

MAX_FORMAT_BYTES = 64 << 10     # a mapping is a few lines
MAX_REGEX_CHARS = 4096
ROLES = ("time", "service", "upstream", "namespace", "duration", "duration_ms", "timeout", "timeout_ms",
         "status", "message")
KEYS = ("regex", "fields", "name")
WHAT = "a log-format mapping"


@dataclass(frozen=True)
class Reading:
    """What the mapping read from one line: the event (or None and why), and the rule for each field."""
    matched: bool                       # the mapping took the line (else it is another format's)
    event: Event | None = None
    reason: str | None = None           # why no event
    rules: dict[str, str] = field(default_factory=dict)     # field -> the rule that read it


@dataclass(frozen=True)
class LogFormat:
    path: str
    name: str
    regex: re.Pattern[str] | None = None
    fields: tuple[tuple[str, str], ...] = ()        # (role, key)

    def parse(self, line: str) -> Event | None:
        """The event of a line the mapping reads; Skip when it is not one of its lines."""
        r = self.read(line)
        if not r.matched:
            raise Skip(r.reason or f"not a {self.name} line")
        return r.event

    def fits(self, line: bytes) -> bool:
        try:
            return self.read(line.decode("utf-8").strip()).matched
        except (UnicodeDecodeError, Skip, ValueError, TypeError, RecursionError):
            return False

    def read(self, line: str) -> Reading:
        if self.regex is not None:
            m = self.regex.search(line)
            if m is None:
                return Reading(False, reason=f"the {self.name} regex does not match")
            values = {k: (f"regex group {k!r}", v) for k, v in m.groupdict().items() if v is not None}
            return _event(values, {}, self.name)
        text = line.strip()
        if text.startswith("{"):
            rec: dict[str, Any] = flatten(jsonlines.load(text))
        elif logfmt.looks_like(text):
            rec = logfmt.fields(text)
        else:
            return Reading(False, reason=f"not a JSON or logfmt line ({self.name} maps their keys)")
        values = {}
        for role, key in self.fields:
            if key in rec and rec[key] is not None:
                values[role] = (f"fields: {role}: {key}", rec[key])
        if not values:
            return Reading(False, reason=f"none of the {self.name} keys is in the line")
        return _event(values, rec, self.name)


def _builtin(rec: dict[str, Any], role: str) -> tuple[str, Any] | None:
    """(rule, value) of the built-in field rules' first key for a role the mapping does not name."""
    try:
        found = Fields(rec).get(role)
    except (TypeError, ValueError):
        return None
    for _, key, v in found:
        if v is not None and not (isinstance(v, str) and v.strip() in ("", "-")):
            return f"built-in field rule {role}: {key}", v
    return None


def _event(values: dict[str, tuple[str, Any]], rec: dict[str, Any], name: str) -> Reading:
    rules: dict[str, str] = {}
    for role, builtin in (("message", "text"), ("service", "service"), ("upstream", "upstream"),
                          ("namespace", "namespace"), ("time", "time"), ("duration", "duration"),
                          ("timeout", "timeout")):
        if rec and role not in values and f"{role}_ms" not in values:
            got = _builtin(rec, builtin)
            if got is not None:
                values[role] = got
    message = str(values["message"][1]) if "message" in values else ""
    status = str(values["status"][1]).strip() if "status" in values else ""
    kind = from_words(message) if message else None
    if kind is not None:
        rules["signal"] = f"words in {values['message'][0]}"
    elif status:
        kind = from_proxy(set(), status) or from_words(status)
        if kind is not None:
            rules["signal"] = f"status in {values['status'][0]}"
    if kind is None:
        return Reading(True, reason="no signal marker (the message and status say no timeout or failure)",
                       rules=rules)
    service = str(values["service"][1]).strip() if "service" in values else ""
    # What the message says, for the roles the mapping does not name (text_formats' message reader).
    said = text_formats.from_message(message, service or "unknown", lambda: None) if message else None
    raw_up = str(values["upstream"][1]).strip() if "upstream" in values else None
    if raw_up:
        rules["upstream"] = values["upstream"][0]
    elif said is not None:
        raw_up = said.upstream
        rules["upstream"] = f"the message ({values['message'][0]})"
    upstream, ns = split_upstream(raw_up) if raw_up else ("", None)
    if not upstream:
        return Reading(True, reason="no upstream named", rules=rules)
    if service:
        rules["service"] = values["service"][0]
    ts = None
    if "time" in values:
        ts = to_epoch(values["time"][1])         # Skip: out of range
        if ts is not None:
            rules["time"] = values["time"][0]
    timed: dict[str, float | None] = {}
    for role in ("duration", "timeout"):
        ms = None
        for key in (f"{role}_ms", role):
            if key in values:
                ms = to_ms(values[key][1], key)
                if ms is not None:
                    rules[role] = values[key][0]
                    break
        if ms is None and said is not None:
            ms = said.duration_ms if role == "duration" else said.timeout_ms
            if ms is not None:
                rules[role] = f"the message ({values['message'][0]})"
        timed[role] = ms
    if ns:
        rules["namespace"] = rules["upstream"] + " (its namespace part)"
    elif "namespace" in values:
        ns = str(values["namespace"][1]).strip() or None
        rules["namespace"] = values["namespace"][0]
    return Reading(True, Event(kind, service or "unknown", upstream, ts, timed["duration"], timed["timeout"], ns),
                   rules=rules)


# --- loading --------------------------------------------------------------------------------------


def load(path: str | Path) -> LogFormat:
    """The mapping in a YAML file, validated: InputError (exit 2) naming file, line and field."""
    import yaml

    p = Path(path)
    text = read_bounded(p, MAX_FORMAT_BYTES, InputError, WHAT)
    where = str(p)
    try:
        refuse_bombs(text, where, InputError, WHAT, max_depth=4)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise InputError(f"not valid YAML: {problem}", path=where, line=mark.line + 1 if mark else None) from None
    if not isinstance(node, yaml.MappingNode):
        raise InputError("expected a mapping with `regex:` or `fields:`", path=where,
                         line=node.start_mark.line + 1 if node is not None else None)
    top = _pairs(node, where, "")
    for key, (kline, _) in top.items():
        if key not in KEYS:
            raise InputError(f"unknown key (known: {', '.join(KEYS)})", path=where, line=kline, field=key)
    if ("regex" in top) == ("fields" in top):
        raise InputError("give exactly one of `regex:` (a line layout) or `fields:` (JSON/logfmt keys)",
                         path=where, line=node.start_mark.line + 1)
    name = f"--log-format {p.name}"
    if "name" in top:
        label = _scalar(top["name"], where, "name")
        name = label or name
    if "regex" in top:
        line, vnode = top["regex"]
        return LogFormat(where, name, regex=_regex(_scalar(top["regex"], where, "regex"), where, line))
    line, vnode = top["fields"]
    if not isinstance(vnode, yaml.MappingNode):
        raise InputError("expected a mapping of role: key", path=where, line=line, field="fields")
    pairs = []
    for role, (rline, rnode) in _pairs(vnode, where, "fields.").items():
        if role not in ROLES:
            raise InputError(f"unknown role (known: {', '.join(ROLES)})", path=where, line=rline,
                             field=f"fields.{role}")
        pairs.append((role, _scalar((rline, rnode), where, f"fields.{role}")))
    if not any(r in ("upstream", "message", "status") for r, _ in pairs):
        raise InputError("no role that finds the upstream or the signal (upstream, message or status)",
                         path=where, line=line, field="fields")
    return LogFormat(where, name, fields=tuple(pairs))


def _pairs(node: Any, where: str, prefix: str) -> dict[str, tuple[int, Any]]:
    import yaml

    out: dict[str, tuple[int, Any]] = {}
    for k, v in node.value:
        line = k.start_mark.line + 1
        if not isinstance(k, yaml.ScalarNode):
            raise InputError("keys must be plain names", path=where, line=line)
        if k.value in out:
            raise InputError("given twice", path=where, line=line, field=prefix + k.value)
        out[k.value] = (line, v)
    return out


def _scalar(entry: tuple[int, Any], where: str, name: str) -> str:
    import yaml

    line, node = entry
    if not isinstance(node, yaml.ScalarNode) or not node.value.strip():
        raise InputError("expected a non-empty string", path=where, line=line, field=name)
    return str(node.value)


def _regex(pattern: str, where: str, line: int) -> re.Pattern[str]:
    def fail(msg: str) -> InputError:
        return InputError(msg, path=where, line=line, field="regex")

    if len(pattern) > MAX_REGEX_CHARS:
        raise fail(f"longer than {MAX_REGEX_CHARS} characters")
    problem = nonlinear(pattern)
    if problem:
        raise fail(problem)
    try:
        rx = re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as e:
        raise fail(f"does not compile: {e}") from None
    groups = set(rx.groupindex)
    unknown = sorted(groups - set(ROLES))
    if unknown:
        raise fail(f"named group {unknown[0]!r} is no role (known: {', '.join(ROLES)})")
    if not groups & {"message", "status"}:
        raise fail("no named group for the signal: (?P<message>...) or (?P<status>...)")
    if not groups & {"upstream", "message"}:
        raise fail("no named group for the upstream: (?P<upstream>...) or a (?P<message>...) that names it")
    return rx


def nonlinear(pattern: str) -> str | None:
    """Why a regex may take exponential time in a backtracking engine (Python's re), or None.

    A structural check, not a proof: a repeated group that itself holds a repetition (`(a+)+`, `(\\w*x)*`)
    or an alternation (`(a|ab)*`) lets the engine split one run of text in exponentially many ways before
    it fails (OWASP, "Regular expression Denial of Service"; Davis et al., "The impact of ReDoS in
    practice", 2018: nested quantifiers and quantified overlapping alternation are the two causes).
    Backreferences are refused too: matching them is NP-hard. A log layout needs none of these."""
    stack: list[list[bool]] = [[False, False]]     # per open group: (holds a repetition, holds |)
    i, n = 0, len(pattern)
    last_group: list[bool] | None = None           # the group that just closed, while its quantifier is read
    while i < n:
        c = pattern[i]
        closed, last_group = last_group, None
        if closed is not None and c not in "*+{":
            stack[-1][0] = stack[-1][0] or closed[0]     # a group's repetition is its parent's
            closed = None
        if c == "\\":
            if i + 1 < n and (pattern[i + 1].isdigit() and pattern[i + 1] != "0"):
                return "a backreference (\\1): not linear (matching one is NP-hard)"
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            if pattern.startswith("(?P=", i):
                return "a backreference (?P=name): not linear (matching one is NP-hard)"
            if pattern.startswith("(?#", i):
                j = pattern.find(")", i)
                i = n if j < 0 else j + 1
                continue
            stack.append([False, False])
            i += 1
            continue
        if c == ")" and len(stack) > 1:
            last_group = stack.pop()
            i += 1
            continue
        if c == "|":
            stack[-1][1] = True
            i += 1
            continue
        if c in "*+{":
            unbounded = c in "*+"
            j = i + 1
            if c == "{":
                m = re.match(r"\{(\d*)(,?)(\d*)\}", pattern[i:])
                if m is None:
                    i += 1
                    continue
                unbounded = bool(m.group(2)) and (not m.group(3) or int(m.group(3)) > 1) or \
                    (not m.group(2) and m.group(1) not in ("", "0", "1"))
                j = i + m.end()
            if unbounded:
                if closed is not None and closed[0]:
                    return "a repeated group holds a repetition, as (a+)+: not linear (nested quantifiers)"
                if closed is not None and closed[1]:
                    return "a repeated group holds an alternation, as (a|ab)*: not linear"
                stack[-1][0] = True
            if closed is not None:
                stack[-1][0] = stack[-1][0] or closed[0]
            i = j
            continue
        i += 1
    return None
