"""Turning a record of fields (a JSON object, a logfmt line) into an Event, through the field rules.

Which key plays which role, in which priority and how its value is read is data: `field_rules.py`.
Keys may be flat, dotted ("service.name": ...) or nested ({"service": {"name": ...}}); nested records
are flattened, OTLP attribute lists ([{"key": k, "value": {"stringValue": v}}]) included. The first key
of a role that yields a value wins.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Mapping

from . import field_rules as fr
from .classify import from_proxy, from_words
from .durations import named_unit_ms, to_ms
from .event import Event
from .names import split_upstream
from .nginx import STATUS_KINDS, ambiguous, proxy_upstream
from .timestamps import to_epoch

# role -> its exact keys in priority order (for callers that name a role by its keys)
KEYS: dict[str, tuple[str, ...]] = {}
for _rule in fr.RULES:
    KEYS[_rule.role] = KEYS.get(_rule.role, ()) + _rule.keys
SERVICE_KEYS, UPSTREAM_KEYS, NAMESPACE_KEYS = KEYS["service"], KEYS["upstream"], KEYS["namespace"]
TIME_KEYS, DURATION_KEYS, TIMEOUT_KEYS = KEYS["time"], KEYS["duration"], KEYS["timeout"]
TEXT_KEYS, FLAG_KEYS, CODE_KEYS = KEYS["text"] + KEYS["grpc"], KEYS["flags"], KEYS["code"]

# One key's part in a plan: (priority, key, how) where `how` is the rule's read (NAME / URL) for names and
# its unit (ms per unit, or None: the key's name decides) for durations.
Slot = tuple[int, str, Any]
Plan = dict[str, list[Slot]]
_MEANING_PRIO = 1_000_000


_REQUIRES: dict[str, tuple[str, ...]] = {k: r.requires for r in fr.RULES if r.requires for k in r.keys}


def _exact() -> dict[str, tuple[str, int, Any]]:
    table: dict[str, tuple[str, int, Any]] = {}
    prio: dict[str, int] = {}
    for rule in fr.RULES:
        for key in rule.keys:
            n = prio.get(rule.role, 0)
            prio[rule.role] = n + 2            # odd numbers are left for the same key inside an envelope
            how = rule.unit_ms if rule.role in ("duration", "timeout") else rule.read
            table.setdefault(key, (rule.role, n, how))
    return table


_EXACT = _exact()
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@lru_cache(maxsize=8192)
def role_of(key: str) -> tuple[str, int, Any] | None:
    """(role, priority, how) of a flattened key, or None: exact, then through an envelope, then by meaning."""
    found = _EXACT.get(key)
    if found is not None:
        return found
    for prefix, _ in fr.ENVELOPES:
        if key.startswith(prefix):
            found = _EXACT.get(key[len(prefix):])
            if found is not None:
                return found[0], found[1] + 1, found[2]
    last = _CAMEL.sub("_", key.rsplit(".", 1)[-1]).lower()
    m = fr.UNIT_SUFFIX.search(last)
    base = last[:m.start()] if m else last
    for role, pattern in fr.MEANING:
        if pattern.search(base):
            if role == "upstream":
                return role, _MEANING_PRIO, fr.URL
            return role, _MEANING_PRIO, fr.SUFFIX_MS[m.group(1)] if m else None
    return None


def _unwrap(v: Any) -> Any:
    """An OTLP AnyValue ({"stringValue": "x"}) as its value; anything else as it is."""
    if v.__class__ is dict and len(v) == 1:
        (k, inner), = v.items()
        if k in fr.ANY_VALUE:
            return inner
    return v


def _is_kv_list(v: Any) -> bool:
    return v.__class__ is list and bool(v) and v[0].__class__ is dict and "key" in v[0] and "value" in v[0]


def flatten(rec: Mapping[str, Any], prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; dotted keys stay as written, so both spellings meet. OTLP attribute
    lists become keys too: {"attributes": [{"key": "server.address", "value": {"stringValue": "x"}}]} ->
    {"attributes.server.address": "x"}."""
    if out is None:
        out = {}
    for k, v in rec.items():
        key = prefix + k if prefix else k
        v = _unwrap(v)
        if isinstance(v, dict):
            flatten(v, key + ".", out)
        elif _is_kv_list(v):
            flatten({str(kv.get("key")): kv.get("value") for kv in v if isinstance(kv, dict)}, key + ".", out)
        elif key not in out:
            out[key] = v
    return out


class Fields:
    """A record's values sorted into the roles (the hot path: one of these per candidate line).

    Records of one shape (the same keys in the same order) share a plan of which key plays which role,
    so a flat record costs one tuple of its keys and a dict lookup; nested records are flattened.
    """

    __slots__ = ("rec", "plan")

    def __init__(self, rec: Mapping[str, Any]) -> None:
        plan = None
        # Only flat records share plans: one line may nest where another of the same keys does not
        # (`"kubernetes": {...}` here, `"kubernetes": null` there), and a flat plan would miss the nested keys.
        if not any(v.__class__ is dict or _is_kv_list(v) for v in rec.values()):
            shape = tuple(rec)
            plan = _PLANS.get(shape)
            if plan is None:
                plan = _plan(rec)
                if plan is not None and len(_PLANS) < 4096:
                    _PLANS[shape] = plan
        if plan is None:               # nested: flatten and plan its flat keys, unshared
            rec = flatten(rec)
            plan = _plan(rec)
            assert plan is not None
        self.rec, self.plan = rec, plan

    def get(self, role: str) -> list[tuple[int, str, Any]]:
        # A record of a known shape whose value is an object this time is not re-planned: every reader
        # below checks the type of what it gets, so such a value is passed over, never misread.
        keys = self.plan.get(role)
        if keys is None:
            return []
        rec = self.rec
        return [(p, k, rec[k]) for p, k, _ in keys]


def _plan(rec: Mapping[str, Any]) -> Plan | None:
    """role -> [(priority, key, how)] sorted; None when a value is an object (the record must be flattened)."""
    plan: Plan = {}
    for key, value in rec.items():
        if value.__class__ is dict or _is_kv_list(value):
            return None
        role = role_of(key)
        if role is not None and all(r in rec for r in _REQUIRES.get(key, ())):
            plan.setdefault(role[0], []).append((role[1], key, role[2]))
    for found in plan.values():
        found.sort(key=lambda s: (s[0], s[1]))
    if all(k in rec for k in fr.SECONDS_LAYOUT) and rec[fr.SECONDS_LAYOUT[0]].__class__ is float:
        for timed in ("duration", "timeout"):
            if timed in plan:     # zap production: a bare number under a unitless key is seconds
                plan[timed] = [(p, k, fr.S if u is None and named_unit_ms(k) is None else u)
                               for p, k, u in plan[timed]]
    return plan


_PLANS: dict[tuple[str, ...], Plan] = {}


def first_str(rec: "Fields | Mapping[str, Any]", keys: tuple[str, ...] | str) -> str | None:
    f = rec if isinstance(rec, Fields) else Fields(rec)
    role = keys if isinstance(keys, str) else _EXACT[keys[0]][0]
    for _, _, v in f.get(role):
        if isinstance(v, str) and v.strip() and v.strip() != "-":
            return v.strip()
    return None


# The readers below take the record and its plan's slots for one role; they are the per-event hot path,
# so they are plain loops over locals.

def _pick(rec: Mapping[str, Any], keys: list[Slot] | None) -> str | None:
    if keys:
        for _, k, _ in keys:
            v = rec[k]
            if v.__class__ is str:
                v = v.strip()
                if v and v != "-":
                    return v
    return None


def _upstream(rec: Mapping[str, Any], keys: list[Slot] | None) -> tuple[str | None, str | None]:
    """(name, namespace) of the first upstream field that names one; a URL rule takes only URLs."""
    if keys:
        for _, k, how in keys:
            v = rec[k]
            if v.__class__ is str:
                v = v.strip()
                if not v or v == "-" or (how == fr.URL and "://" not in v):
                    continue
                name, ns = split_upstream(v)
                if name:
                    return name, ns
    return None, None


def _ms(rec: Mapping[str, Any], keys: list[Slot] | None) -> float | None:
    if keys:
        for _, k, unit in keys:
            ms = to_ms(rec[k], k, unit)
            if ms is not None:
                return ms
    return None


def _time(rec: Mapping[str, Any], keys: list[Slot] | None) -> float | None:
    if keys:
        for _, k, _ in keys:
            ts = to_epoch(rec[k])
            if ts is not None:
                return ts
    return None


def _grpc(rec: Mapping[str, Any], keys: list[Slot]) -> str | None:
    """A signal from a gRPC status: by name (DeadlineExceeded) or number (4, "4")."""
    for _, k, _ in keys:
        v = rec[k]
        if v.__class__ is int or (v.__class__ is str and v.isdigit()):
            v = fr.GRPC_CODES.get(int(v))
        if v.__class__ is str:
            kind = from_words(v)
            if kind is not None:
                return kind
    return None


def _kind(rec: Mapping[str, Any], plan: Plan) -> str | None:
    """A signal id, FAILURE or None: what the record says happened between caller and upstream."""
    flags = _pick(rec, plan.get("flags"))
    if flags:
        # An Envoy access log: its response flags and status code say it (model/signals.py, docs/logs.md).
        code = next((str(rec[k]) for _, k, _ in plan.get("code", ())), "")
        kind = from_proxy(set(flags.replace(" ", "").split(",")), code)
        if kind is not None:
            return kind
    if "proxy_upstream" in plan:
        # An ingress-nginx access record: the status says it (the upstream's own, else the client's).
        status = _pick_code(rec, plan.get("upstream_status")) or _pick_code(rec, plan.get("code"))
        kind = STATUS_KINDS.get(status or "")
        if kind is not None:
            return kind
    keys = plan.get("text")
    if keys:
        for _, k, _ in keys:
            v = rec[k]
            if v.__class__ is str:
                kind = from_words(v)
                if kind is not None:
                    return kind
    keys = plan.get("grpc")
    return _grpc(rec, keys) if keys else None


def event_from_record(rec: Mapping[str, Any], default_service: str = "unknown") -> Event | None:
    """The Event a record describes, or None when it is no signal (nor failure) with an upstream named."""
    f = Fields(rec)                     # the shared plan of its shape, when it is flat (see Fields)
    rec, plan = f.rec, f.plan
    kind = _kind(rec, plan)
    if kind is None:
        return None
    ingress = _pick(rec, plan.get("proxy_upstream"))
    if ingress is not None:
        return _ingress_event(kind, rec, plan, ingress, default_service)
    upstream, up_ns = _upstream(rec, plan.get("upstream"))
    if upstream is None:
        return None
    ev = Event(kind, _pick(rec, plan.get("service")) or default_service, upstream,
               _time(rec, plan.get("time")), _ms(rec, plan.get("duration")), _ms(rec, plan.get("timeout")),
               up_ns or _pick(rec, plan.get("namespace")))
    pod = _pick(rec, plan.get("pod"))
    if pod is not None:
        ev.pod = pod
    if "flags" in plan:                    # an Envoy access log: the proxy is the one that gave up
        if ev.service == "unknown":
            ev.service = "envoy"
        ev.via, ev.detail = "envoy", _pick(rec, plan.get("flags")) or ""
        ev.peer = _pick(rec, plan.get("peer")) or ""
    return ev


def _pick_code(rec: Mapping[str, Any], keys: list[Slot] | None) -> str | None:
    """An HTTP status as text: 504, "504", or the last of "504, 504" (nginx lists one per upstream tried)."""
    if keys:
        for _, k, _ in keys:
            v = rec[k]
            if v.__class__ is int:
                return str(v)
            if v.__class__ is str and v.strip() not in ("", "-"):
                return v.replace(" : ", ",").split(",")[-1].strip()
    return None


def _ingress_event(kind: str, rec: Mapping[str, Any], plan: Plan, name: str, default_service: str) -> Event | None:
    """An ingress-nginx access record's event: the Service and namespace from $proxy_upstream_name (else the
    upstream fields'), the ingress as the caller (its service fields name the backend), the status as the
    proxy's word on it."""
    given = _pick(rec, plan.get("namespace"))
    upstream, ns = proxy_upstream(name, given)
    if upstream is None:
        upstream, ns = _upstream(rec, plan.get("upstream"))
    if upstream is None:
        return None
    status = _pick_code(rec, plan.get("upstream_status")) or _pick_code(rec, plan.get("code")) or ""
    return Event(kind, "nginx" if default_service == "unknown" else default_service, upstream,
                 _time(rec, plan.get("time")), _ms(rec, plan.get("duration")), None,
                 ns or given, via="nginx", detail=status, logged=name if not given and ambiguous(name) else "")
