"""Turning a record of fields (a JSON object, a logfmt line) into an Event.

Keys may be flat, dotted ("service.name": ...) or nested ({"service": {"name": ...}}); `lookup` tries
each spelling. The name lists are ordered: the first one present wins.
"""

from __future__ import annotations

from typing import Any, Mapping

from .classify import from_proxy, from_words
from .durations import to_ms
from .event import Event
from .names import split_upstream
from .timestamps import to_epoch

SERVICE_KEYS = ("service", "service.name", "service_name", "serviceName", "app", "application",
                "kubernetes.labels.app", "kubernetes.labels.app.kubernetes.io/name",
                "kubernetes.labels.app_kubernetes_io/name", "k8s.deployment.name", "resource.service.name",
                "kubernetes.container_name")
UPSTREAM_KEYS = ("upstream_service", "upstream", "upstream.service", "upstream.name", "upstream_cluster",
                 "upstreamCluster", "upstream_name", "peer.service", "destination_service",
                 "destination.service.name", "target_service", "grpc.target", "grpc.service", "rpc.service",
                 "authority", "upstream_host")
NAMESPACE_KEYS = ("kubernetes.namespace_name", "namespace", "k8s.namespace.name", "kubernetes.namespace",
                  "kubernetes.pod_namespace", "resource.k8s.namespace.name")
TIME_KEYS = ("timestamp", "time", "ts", "@timestamp", "start_time", "datetime", "date", "time_local", "t")
DURATION_KEYS = ("duration_ms", "latency_ms", "elapsed_ms", "response_time_ms", "took_ms",
                 "request_duration_ms", "duration", "latency", "elapsed", "took", "response_time",
                 "duration_s", "duration_seconds", "latency_seconds", "elapsed_seconds", "request_time",
                 "upstream_response_time", "http.duration", "duration_ns", "grpc.time_ms")
TIMEOUT_KEYS = ("timeout_ms", "timeout", "deadline_ms", "timeout_seconds", "timeout_s", "request_timeout",
                "request_timeout_ms", "upstream_timeout_ms", "client_timeout_ms")
TEXT_KEYS = ("message", "msg", "error", "err", "error.message", "error.msg", "exception", "event", "log",
             "reason", "response_code_details", "error.type", "status_message",
             # gRPC status names (DeadlineExceeded, DEADLINE_EXCEEDED) as gRPC logging middleware and
             # Envoy's %GRPC_STATUS% write them; a bare number (4) is not read: no marker can find it.
             "grpc.code", "grpc_code", "grpc.status", "grpc_status", "grpc.status_code")
FLAG_KEYS = ("response_flags", "responseFlags", "flags")
CODE_KEYS = ("response_code", "status", "status_code", "http.status_code", "code")

def flatten(rec: Mapping[str, Any], prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; dotted keys stay as written, so both spellings meet."""
    if out is None:
        out = {}
    for k, v in rec.items():
        key = prefix + k if prefix else k
        if isinstance(v, dict):
            flatten(v, key + ".", out)
        elif key not in out:
            out[key] = v
    return out


class Fields:
    """A record's values sorted into the roles above (the hot path: one of these per timeout line).

    Records of one shape (the same keys in the same order) share a plan of which key plays which role,
    so a flat record costs one tuple of its keys and a dict lookup; nested records are flattened.
    """

    __slots__ = ("rec", "plan")

    def __init__(self, rec: Mapping[str, Any]) -> None:
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
        return [(p, k, rec[k]) for p, k in keys]


def _plan(rec: Mapping[str, Any]) -> dict[str, list[tuple[int, str]]] | None:
    """role -> [(priority, key)] sorted; None when a value is an object (the record must be flattened)."""
    plan: dict[str, list[tuple[int, str]]] = {}
    for key, value in rec.items():
        if isinstance(value, dict):
            return None
        role = _ROLE.get(key)
        if role is not None:
            plan.setdefault(role[0], []).append((role[1], key))
    for found in plan.values():
        found.sort()
    return plan


_PLANS: dict[tuple[str, ...], dict[str, list[tuple[int, str]]]] = {}


def _roles() -> dict[str, tuple[str, int]]:
    table: dict[str, tuple[str, int]] = {}
    for role, keys in (("service", SERVICE_KEYS), ("upstream", UPSTREAM_KEYS), ("namespace", NAMESPACE_KEYS),
                       ("time", TIME_KEYS), ("duration", DURATION_KEYS), ("timeout", TIMEOUT_KEYS),
                       ("text", TEXT_KEYS), ("flags", FLAG_KEYS), ("code", CODE_KEYS)):
        for prio, key in enumerate(keys):
            table.setdefault(key, (role, prio))
    return table


_ROLE = _roles()


def first_str(rec: "Fields | Mapping[str, Any]", keys: tuple[str, ...] | str) -> str | None:
    f = rec if isinstance(rec, Fields) else Fields(rec)
    role = keys if isinstance(keys, str) else _ROLE[keys[0]][0]
    for _, _, v in f.get(role):
        if isinstance(v, str) and v.strip() and v.strip() != "-":
            return v.strip()
    return None


# The readers below take the record and its plan's keys for one role; they are the per-event hot path,
# so they are plain loops over locals.

def _pick(rec: Mapping[str, Any], keys: list[tuple[int, str]] | None) -> str | None:
    if keys:
        for _, k in keys:
            v = rec[k]
            if v.__class__ is str:
                v = v.strip()
                if v and v != "-":
                    return v
    return None


def _ms(rec: Mapping[str, Any], keys: list[tuple[int, str]] | None) -> float | None:
    if keys:
        for _, k in keys:
            ms = to_ms(rec[k], k)
            if ms is not None:
                return ms
    return None


def _time(rec: Mapping[str, Any], keys: list[tuple[int, str]] | None) -> float | None:
    if keys:
        for _, k in keys:
            ts = to_epoch(rec[k])
            if ts is not None:
                return ts
    return None


def _kind(rec: Mapping[str, Any], plan: dict[str, list[tuple[int, str]]]) -> str | None:
    """A signal id, FAILURE or None: what the record says happened between caller and upstream."""
    flags = _pick(rec, plan.get("flags"))
    if flags:
        # An Envoy access log: its response flags and status code say it (model/signals.py, docs/logs.md).
        code = next((str(rec[k]) for _, k in plan.get("code", ())), "")
        kind = from_proxy(set(flags.replace(" ", "").split(",")), code)
        if kind is not None:
            return kind
    keys = plan.get("text")
    if keys:
        for _, k in keys:
            v = rec[k]
            if v.__class__ is str:
                kind = from_words(v)
                if kind is not None:
                    return kind
    return None


def event_from_record(rec: Mapping[str, Any], default_service: str = "unknown") -> Event | None:
    """The Event a record describes, or None when it is no signal (nor failure) with an upstream named."""
    plan = _PLANS.get(tuple(rec))
    if plan is None:
        f = Fields(rec)
        rec, plan = f.rec, f.plan
    kind = _kind(rec, plan)
    if kind is None:
        return None
    raw_up = _pick(rec, plan.get("upstream"))
    if raw_up is None:
        return None
    upstream, up_ns = split_upstream(raw_up)
    if not upstream:
        return None
    if default_service == "unknown" and "flags" in plan:
        default_service = "envoy"          # an Envoy access log: the proxy is the one that gave up
    return Event(kind, _pick(rec, plan.get("service")) or default_service, upstream,
                 _time(rec, plan.get("time")), _ms(rec, plan.get("duration")), _ms(rec, plan.get("timeout")),
                 up_ns or _pick(rec, plan.get("namespace")))
