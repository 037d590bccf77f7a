"""Kubernetes API documents (as the API server returned them) -> KubeEvidence.

The source stores one List document per kind (`pods.json`, `deployments.json`, ...), or the Status
document the server answered with (403, 404): a Status makes that kind unknown, with the reason named,
never an error of the whole source. Shared by live runs and `diagnose analyze`.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, TypeVar

from .. import redact
from ..errors import EvidenceError
from ..model.kube import (
    HPA,
    NAME_LABELS,
    Container,
    Deployment,
    Event,
    InvalidConfig,
    KubeEvidence,
    Node,
    Pod,
    PodUsage,
    Probe,
    ReplicaSet,
    Service,
    looks_jvm,
)
from ..model.target import RawFiles, Target
from ..model.text import single_line
from . import mesh
from .podhealth import pod_health, ts

T = TypeVar("T")

# file -> what a person calls that kind ("<resource>.<group>" as RBAC and 403 messages spell it)
KINDS: dict[str, str] = {
    "pods": "pods", "caller-pods": "pods", "caller-services": "services", "deployments": "deployments.apps",
    "replicasets": "replicasets.apps",
    "hpas": "horizontalpodautoscalers.autoscaling", "events": "events", "nodes": "nodes",
    "services": "services", "endpoints": "endpoints", "podmetrics": "pods.metrics.k8s.io",
    "virtualservices": "virtualservices.networking.istio.io",
    "destinationrules": "destinationrules.networking.istio.io",
    "serviceprofiles": "serviceprofiles.linkerd.io", "ingresses": "ingresses.networking.k8s.io",
}

_SUFFIX = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
           "E": 1e18, "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50, "Ei": 2.0**60}
_QUANTITY = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)")
_FORBIDDEN = re.compile(r'cannot (\w+) resource "([^"]+)"(?: in API group "([^"]*)")?(?: in the namespace "([^"]+)")?')
ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")


def parse_quantity(value: object, *, field: str = "quantity") -> float:
    """Kubernetes resource quantity -> base units: "500m" -> 0.5, "1Gi" -> 1073741824, "250n" -> 2.5e-7."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    m = _QUANTITY.fullmatch(str(value).strip())
    if not m:
        raise EvidenceError(f"{field}: not a Kubernetes quantity: {value!r}")
    if m.group(2):
        return float(m.group(1) + m.group(2))
    return float(m.group(1)) * _SUFFIX[m.group(3) or ""]


# Whether a name is secret-like has one answer for the whole tool (redact's table); kept here by name.
is_secret_name = redact.is_secret_name


def status_reason(doc: Mapping[str, Any], kind: str) -> str:
    """A Status document (403, 404) as one line naming what could not be read and why."""
    code, reason, msg = doc.get("code"), str(doc.get("reason", "")), str(doc.get("message", ""))
    if code == 403 or reason == "Forbidden":
        m = _FORBIDDEN.search(msg)
        if m:
            res = m.group(2) + (f".{m.group(3)}" if m.group(3) else "")
            where = f" in namespace {m.group(4)}" if m.group(4) else " cluster-wide"
            return f"forbidden: cannot {m.group(1)} {res}{where}"
        return f"forbidden: cannot list {KINDS.get(kind, kind)} ({msg[:160]})"
    if code == 404 or reason == "NotFound":
        return f"not served: {KINDS.get(kind, kind)} (404: the API group is not installed)"
    return f"{KINDS.get(kind, kind)}: {code} {reason}: {msg[:160]}".strip()


def _doc(files: RawFiles, name: str) -> Mapping[str, Any] | None:
    raw = files.get(name)
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise EvidenceError(f"kubernetes/{name}: not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise EvidenceError(f"kubernetes/{name}: not a JSON object")
    return doc


def _items(files: RawFiles, kind: str, missing: dict[str, str], seen: list[str]) -> list[Mapping[str, Any]]:
    doc = _doc(files, f"{kind}.json")
    if doc is None:
        missing[kind] = "not collected"
        return []
    if doc.get("kind") == "Status":
        missing[kind] = status_reason(doc, kind)
        return []
    items = doc.get("items")
    if not isinstance(items, list):
        raise EvidenceError(f"kubernetes/{kind}.json: field 'items': not a list in a {doc.get('kind')} document")
    seen.append(kind)
    return [i for i in items if isinstance(i, dict)]


def _more_items(files: RawFiles, kind: str, notes: list[str]) -> list[Mapping[str, Any]]:
    """`namespaces/<ns>/<kind>.json`: the same kind read namespace by namespace, where the cluster-wide list
    was refused (sources/kubernetes.py); a Status among them is a note, not a missing kind."""
    out: list[Mapping[str, Any]] = []
    for name in sorted(files):
        parts = name.split("/")
        if len(parts) != 3 or parts[0] != "namespaces" or parts[2] != f"{kind}.json":
            continue
        doc = _doc(files, name)
        if doc is None:
            continue
        if doc.get("kind") == "Status":
            notes.append(f"{kind} in namespace {parts[1]}: {status_reason(doc, kind)}")
            continue
        items = doc.get("items")
        if isinstance(items, list):
            out += [i for i in items if isinstance(i, dict)]
    return out


def _obj_name(doc: object) -> str:
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    if not isinstance(meta, dict):
        return "?"
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name', '')}" if ns else str(meta.get("name", ""))


def _each(docs: list[Mapping[str, Any]], kind: str, parse: Callable[[Mapping[str, Any]], T],
          notes: list[str]) -> list[T]:
    """`parse` on each object: one with a field of an unexpected type is left out with a note naming it,
    and every other object is still read (one bad object is one note, never the whole source)."""
    out: list[T] = []
    for d in docs:
        try:
            out.append(parse(d))
        except mesh.OBJECT_ERRORS as e:
            notes.append(f"{kind} {_obj_name(d)} left out: {mesh.error_line(e)}")
    return out


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _names(obj: Mapping[str, Any], name: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return any(labels.get(k) == name for k in NAME_LABELS)


def _int(v: object) -> int:
    try:
        return int(v or 0)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return 0


def _resources(c: Mapping[str, Any], kind: str, res: str, where: str) -> float | None:
    v = ((c.get("resources") or {}).get(kind) or {}).get(res)
    if v is None:
        return None
    q = parse_quantity(v, field=f"{where}.resources.{kind}.{res}")
    return q * 1000.0 if res == "cpu" else q


def _probe(kind: str, p: Mapping[str, Any] | None) -> Probe | None:
    if not p:
        return None
    handler = ""
    if "httpGet" in p:
        handler = f"httpGet {p['httpGet'].get('path', '/')}:{p['httpGet'].get('port', '')}"
    elif "tcpSocket" in p:
        handler = f"tcpSocket {p['tcpSocket'].get('port', '')}"
    elif "grpc" in p:
        handler = f"grpc {p['grpc'].get('port', '')}"
    elif "exec" in p:
        handler = "exec"
    return Probe(kind=kind, period_s=float(p.get("periodSeconds", 10)), timeout_s=float(p.get("timeoutSeconds", 1)),
                 failure_threshold=_int(p.get("failureThreshold", 3)), handler=handler)


# Where a JVM reads options from its environment: JAVA_TOOL_OPTIONS (every JVM), JDK_JAVA_OPTIONS (the
# java launcher, after it), JAVA_OPTS (start scripts put it on the command line).
JAVA_ENV = ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "JAVA_OPTS")
HEAP_FLAG = re.compile(r"-Xm[xs]\S*|-XX:(?:Max|Min|Initial)RAMPercentage=\S*|-XX:MaxRAM=\S*")


def jvm_settings(c: Mapping[str, Any]) -> dict[str, Any]:
    """The container's JVM options by env variable (None when set by valueFrom) and heap flags in its args."""
    opts: list[tuple[str, str | None]] = []
    for e in c.get("env") or ():
        if isinstance(e, dict) and e.get("name") in JAVA_ENV:
            value = e.get("value")
            opts.append((str(e["name"]), None if "valueFrom" in e else str(value or "")))
    words = [str(x) for x in list(c.get("command") or ()) + list(c.get("args") or ())]
    return {"java_options": tuple(opts),
            "heap_args": tuple(m.group(0) for w in words for m in HEAP_FLAG.finditer(w))}


def parse_container_spec(c: Mapping[str, Any], where: str) -> Container:
    """A container as a pod template declares it: image, resources, probes, JVM settings (no status)."""
    probes = tuple(p for p in (_probe("readiness", c.get("readinessProbe")),
                               _probe("liveness", c.get("livenessProbe")),
                               _probe("startup", c.get("startupProbe"))) if p is not None)
    return Container(
        name=str(c.get("name", "")), image=str(c.get("image", "")),
        cpu_request_m=_resources(c, "requests", "cpu", where), cpu_limit_m=_resources(c, "limits", "cpu", where),
        mem_request_b=_resources(c, "requests", "memory", where),
        mem_limit_b=_resources(c, "limits", "memory", where), probes=probes, jvm=looks_jvm(c), **jvm_settings(c))


def parse_pod(doc: Mapping[str, Any], nodes: Mapping[str, Node], now: datetime) -> Pod:
    meta, spec, status = doc.get("metadata") or {}, doc.get("spec") or {}, doc.get("status") or {}
    name = str(meta.get("name", ""))
    statuses = {str(s.get("name")): s for s in status.get("containerStatuses") or ()}
    containers = []
    for c in spec.get("containers") or ():
        cname = str(c.get("name", ""))
        s = statuses.get(cname, {})
        state = s.get("state") or {}
        state_kind = next(iter(state), "")
        last = (s.get("lastState") or {}).get("terminated") or {}
        # The status first, then the spec as a pod template declares it (parse_container_spec).
        live: dict[str, Any] = dict(
            ready=bool(s.get("ready")), restarts=_int(s.get("restartCount")),
            state=state_kind, state_reason=str((state.get(state_kind) or {}).get("reason", "")) if state_kind else "",
            last_reason=str(last.get("reason", "")), last_exit_code=last.get("exitCode"),
            last_finished=ts(last.get("finishedAt")))
        containers.append(replace(parse_container_spec(c, f"pod {name} container {cname}"), **live))
    node = nodes.get(str(spec.get("nodeName", "")))
    owners = meta.get("ownerReferences") or ()
    owner = next((f"{o.get('kind')}/{o.get('name')}" for o in owners if o.get("controller")), "") or \
        next((f"{o.get('kind')}/{o.get('name')}" for o in owners), "")
    conds = status.get("conditions") or ()
    return Pod(name=name, namespace=str(meta.get("namespace", "")), labels=dict(meta.get("labels") or {}),
               phase=str(status.get("phase", "")),
               ready=any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds),
               node=str(spec.get("nodeName", "")), zone=node.zone if node else "", region=node.region if node else "",
               owner=owner, containers=tuple(containers), health=pod_health(doc, now),
               created=ts(meta.get("creationTimestamp")))


def parse_node(doc: Mapping[str, Any]) -> Node:
    meta = doc.get("metadata") or {}
    labels = meta.get("labels") or {}
    conds = (doc.get("status") or {}).get("conditions") or ()
    return Node(name=str(meta.get("name", "")),
                zone=next((labels[k] for k in ZONE_LABELS if labels.get(k)), ""),
                region=next((labels[k] for k in REGION_LABELS if labels.get(k)), ""),
                pressure=tuple(str(c.get("type")) for c in conds
                               if c.get("type") != "Ready" and c.get("status") == "True"),
                ready=any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds) or not conds,
                since={str(c.get("type")): t for c in conds if (t := ts(c.get("lastTransitionTime"))) is not None
                       and (c.get("status") == "True") != (c.get("type") == "Ready")})


def _images(template: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(c.get("image", "")) for c in ((template.get("spec") or {}).get("containers") or ()))


def parse_deployment(doc: Mapping[str, Any], rss: list[Mapping[str, Any]]) -> Deployment:
    meta, spec, status = doc.get("metadata") or {}, doc.get("spec") or {}, doc.get("status") or {}
    name = str(meta.get("name", ""))
    own = [r for r in rss if any(o.get("kind") == "Deployment" and o.get("name") == name
                                 for o in (r.get("metadata") or {}).get("ownerReferences") or ())]
    replicasets = sorted((parse_replicaset(r) for r in own), key=lambda r: r.revision, reverse=True)
    conds = {str(c.get("type")): f"{c.get('status')} ({c.get('reason', '')})" for c in status.get("conditions") or ()}
    tpl_spec = (spec.get("template") or {}).get("spec") or {}
    return Deployment(
        name=name, namespace=str(meta.get("namespace", "")), desired=_int(spec.get("replicas", 1)),
        ready=_int(status.get("readyReplicas")), updated=_int(status.get("updatedReplicas")),
        available=_int(status.get("availableReplicas")),
        selector=dict((spec.get("selector") or {}).get("matchLabels") or {}),
        revision=_int((meta.get("annotations") or {}).get("deployment.kubernetes.io/revision")),
        images=_images((spec.get("template") or {})), conditions=conds, replicasets=tuple(replicasets),
        containers=tuple(parse_container_spec(c, f"deployment {name} container {c.get('name', '')}")
                         for c in (tpl_spec.get("containers") or ()) if isinstance(c, dict)),
        pod_affinity=bool((tpl_spec.get("affinity") or {}).get("podAffinity")))


def parse_replicaset(doc: Mapping[str, Any]) -> ReplicaSet:
    meta, spec, status = doc.get("metadata") or {}, doc.get("spec") or {}, doc.get("status") or {}
    ann = meta.get("annotations") or {}
    return ReplicaSet(name=str(meta.get("name", "")), revision=_int(ann.get("deployment.kubernetes.io/revision")),
                      created=ts(meta.get("creationTimestamp")), desired=_int(spec.get("replicas")),
                      ready=_int(status.get("readyReplicas")), images=_images(spec.get("template") or {}),
                      change_cause=str(ann.get("kubernetes.io/change-cause", "")))


def parse_hpa(doc: Mapping[str, Any]) -> HPA:
    meta, spec, status = doc.get("metadata") or {}, doc.get("spec") or {}, doc.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    limited = next((str(c.get("reason", "")) for c in status.get("conditions") or ()
                    if c.get("type") == "ScalingLimited" and c.get("status") == "True"), "")
    return HPA(name=str(meta.get("name", "")), target=f"{ref.get('kind', '')}/{ref.get('name', '')}",
               min_replicas=_int(spec.get("minReplicas", 1)), max_replicas=_int(spec.get("maxReplicas")),
               current=_int(status.get("currentReplicas")), desired=_int(status.get("desiredReplicas")),
               scaling_limited=limited)


def parse_event(doc: Mapping[str, Any]) -> Event:
    obj = doc.get("involvedObject") or doc.get("regarding") or {}
    last = ts(doc.get("lastTimestamp")) or ts(doc.get("eventTime")) or \
        ts((doc.get("series") or {}).get("lastObservedTime")) or ts(doc.get("firstTimestamp"))
    return Event(type=str(doc.get("type", "")), reason=str(doc.get("reason", "")),
                 message=str(doc.get("message") or doc.get("note") or ""),
                 object=f"{obj.get('kind', '')}/{obj.get('name', '')}", count=_int(doc.get("count", 1)) or 1, last=last)


def parse_usage(doc: Mapping[str, Any]) -> PodUsage:
    name = str((doc.get("metadata") or {}).get("name", ""))
    cpu, mem = {}, {}
    for c in doc.get("containers") or ():
        u = c.get("usage") or {}
        cname = str(c.get("name", ""))
        if "cpu" in u:
            cpu[cname] = parse_quantity(u["cpu"], field=f"podmetrics {name}.{cname}.cpu") * 1000.0
        if "memory" in u:
            mem[cname] = parse_quantity(u["memory"], field=f"podmetrics {name}.{cname}.memory")
    return PodUsage(pod=name, cpu_m=cpu, mem_b=mem, timestamp=ts(doc.get("timestamp")))


def _service(svcs: list[Mapping[str, Any]], eps: list[Mapping[str, Any]], upstream: str) -> Service | None:
    svc = next((s for s in svcs if (s.get("metadata") or {}).get("name") == upstream), None) or \
        next((s for s in svcs if _names(s, upstream)), None)
    if svc is None:
        return None
    name = str((svc.get("metadata") or {}).get("name", ""))
    spec = svc.get("spec") or {}
    ep = next((e for e in eps if (e.get("metadata") or {}).get("name") == name), None)
    ready = not_ready = None
    if ep is not None:
        subsets = ep.get("subsets") or ()
        ready = sum(len(s.get("addresses") or ()) for s in subsets)
        not_ready = sum(len(s.get("notReadyAddresses") or ()) for s in subsets)
    return Service(name=name, selector=dict(spec.get("selector") or {}),
                   ports=tuple(_int(p.get("port")) for p in spec.get("ports") or ()),
                   ready_endpoints=ready, not_ready_endpoints=not_ready)


def _namespace(files: RawFiles, target: Target) -> str:
    info = _doc(files, "collection.json") or {}
    return str(info.get("namespace") or target.namespace or target.incident.namespace or "default")


def _workload_pods(pods: list[Mapping[str, Any]], name: str,
                   selector: Mapping[str, str] | None) -> list[Mapping[str, Any]]:
    """The pods of one workload: those `selector` selects (its Service's, else its Deployment's), else the
    naming labels, else the owner chain."""
    out = [p for p in pods if _selects(selector or {}, (p.get("metadata") or {}).get("labels") or {})]
    if not out:
        out = [p for p in pods if _names(p, name)]
    if not out:
        out = [p for p in pods if any(str(o.get("name", "")).startswith(name + "-")
                                      for o in (p.get("metadata") or {}).get("ownerReferences") or ())]
    return out


def _controller(doc: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the object's controller, as its ownerReferences name it."""
    refs = [o for o in (doc.get("metadata") or {}).get("ownerReferences") or () if isinstance(o, dict)]
    ref = next((o for o in refs if o.get("controller")), None) or next(iter(refs), None)
    return (str(ref.get("kind", "")), str(ref.get("name", ""))) if ref and ref.get("name") else None


def owning_workload(pods: list[Mapping[str, Any]], rss: list[Mapping[str, Any]]) -> str:
    """`Kind/name` of the workload that owns most of the pods: a ReplicaSet's own controller (the Deployment
    that made it), or the pods' controller itself (StatefulSet, DaemonSet); "" when the chain breaks (a
    ReplicaSet not in replicasets.json, or pods without owners)."""
    by_name = {str((r.get("metadata") or {}).get("name", "")): r for r in rss}
    counts: dict[str, int] = {}
    for p in pods:
        owner = _controller(p)
        if owner is not None and owner[0] == "ReplicaSet":
            rs = by_name.get(owner[1])
            owner = _controller(rs) if rs is not None else None
        if owner is not None and owner[0] != "ReplicaSet":
            key = f"{owner[0]}/{owner[1]}"
            counts[key] = counts.get(key, 0) + 1
    return max(sorted(counts), key=lambda k: counts[k]) if counts else ""


def _named(docs: list[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    return next((d for d in docs if (d.get("metadata") or {}).get("name") == name), None)


def _upstream_deployment(deps: list[Mapping[str, Any]], workload: str, up: str,
                         notes: list[str]) -> tuple[Mapping[str, Any] | None, str]:
    """The Deployment document of the upstream and its workload: the one that owns its pods; when no owner
    is known, one named like the upstream, else one labelled like it (each a guess from the name, noted)."""
    kind, _, name = workload.partition("/")
    if workload:
        return (_named(deps, name) if kind == "Deployment" else None), workload
    dep = _named(deps, up)
    how = "named"
    if dep is None:
        dep, how = next((d for d in deps if _names(d, up)), None), "labelled"
    if dep is None:
        return None, ""
    dep_name = str((dep.get("metadata") or {}).get("name", ""))
    notes.append(f"deployment {dep_name}: {how} like {up}, a guess from the name: no ReplicaSet read names "
                 "the owner of its pods")
    return dep, f"Deployment/{dep_name}"


def load(files: RawFiles, target: Target) -> KubeEvidence:
    try:
        return _load(files, target)
    except (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError) as e:
        # The readers below trust the API's shapes (a mapping where the API puts one); a document that
        # breaks them (a string for `spec`, a number for `containers`: tests/fuzz) is malformed evidence,
        # one line, not a parser crash.
        raise EvidenceError(f"kubernetes: a document has a field of an unexpected type "
                            f"({e.__class__.__name__}: {single_line(e, 160)})") from None


def _load(files: RawFiles, target: Target) -> KubeEvidence:
    missing: dict[str, str] = {}
    seen: list[str] = []
    notes: list[str] = []
    info = _doc(files, "collection.json") or {}
    errors = info.get("errors") or {}
    ns, up, caller = _namespace(files, target), target.upstream, target.caller
    caller_ns = str(info.get("caller_namespace") or target.incident.namespace or ns)
    now = target.window.end if target.window.end.tzinfo else target.window.end.replace(tzinfo=timezone.utc)

    nodes = {n.name: n for n in _each(_items(files, "nodes", missing, seen), "node", parse_node, notes)}
    deps = _items(files, "deployments", missing, seen)
    rss = _items(files, "replicasets", missing, seen)
    # The caller calls a Service: the pods its selector picks are the upstream's, whatever their owners are
    # called (bundles of every version hold services.json).
    service = _service(_items(files, "services", missing, seen), _items(files, "endpoints", missing, seen), up)
    raw_pods = _items(files, "pods", missing, seen)
    by_name = _named(deps, up)
    selector = service.selector if service is not None and service.selector else \
        ((by_name or {}).get("spec") or {}).get("selector", {}).get("matchLabels")
    up_pods = _workload_pods(raw_pods, up, selector)
    dep_doc, workload = _upstream_deployment(deps, owning_workload(up_pods, rss), up, notes)
    pods = _each(up_pods, "pod", lambda p: parse_pod(p, nodes, now), notes)
    caller_deps = deps + _more_items(files, "deployments", notes)
    caller_dep = next((d for d in caller_deps if (d.get("metadata") or {}).get("name") == caller and
                       str((d.get("metadata") or {}).get("namespace") or caller_ns) == caller_ns), None)
    # Bundles before caller-services.json: the caller's Deployment's selector alone.
    caller_svc = _named(_items(files, "caller-services", missing, seen), caller) \
        if "caller-services.json" in files else None
    caller_sel = ((caller_svc or {}).get("spec") or {}).get("selector") or \
        ((caller_dep or {}).get("spec") or {}).get("selector", {}).get("matchLabels")
    caller_pods = _each(_workload_pods(_items(files, "caller-pods", missing, seen), caller, caller_sel), "pod",
                        lambda p: parse_pod(p, nodes, now), notes)
    deployment = next(iter(_each([dep_doc], "deployment", lambda d: parse_deployment(d, rss), notes)), None) \
        if dep_doc else None

    own_name = workload.partition("/")[2]
    hpas = _each(_items(files, "hpas", missing, seen), "horizontalpodautoscaler", parse_hpa, notes)
    # An HPA scales the workload its scaleTargetRef names: a Deployment or a StatefulSet alike.
    hpa = next((h for h in hpas if workload and h.target == workload), None)

    ours = {p.name for p in pods} | {own_name, hpa.name if hpa else ""} | \
        {r.name for r in (deployment.replicasets if deployment else ())}
    ours.discard("")
    events = [e for e in _each(_items(files, "events", missing, seen), "event", parse_event, notes)
              if e.object.split("/", 1)[-1] in ours and
              (e.last is None or target.window.start <= e.last <= target.window.end)]
    usage = {u.pod: u for u in _each(_items(files, "podmetrics", missing, seen), "podmetrics", parse_usage, notes)
             if u.pod in {p.name for p in pods}}

    def mesh_items(kind: str) -> list[Mapping[str, Any]]:
        return _items(files, kind, missing, seen) + _more_items(files, kind, notes)

    invalid: list[InvalidConfig] = []
    routes = mesh.routes(mesh_items("virtualservices"), mesh_items("serviceprofiles"), mesh_items("ingresses"),
                         up, ns, caller_ns, invalid)
    policies = mesh.policies(mesh_items("destinationrules"), up, ns, caller_ns, invalid)
    notes += [f"{i.kind} {i.name} left out: {i.why}" for i in invalid]
    notes += [str(n) for n in info.get("notes") or () if isinstance(n, str)]
    for kind, why in errors.items() if isinstance(errors, dict) else ():
        if kind in missing and missing[kind] == "not collected":
            missing[kind] = str(why)
    return KubeEvidence(namespace=ns, upstream=up, caller=caller, pods=tuple(pods), caller_pods=tuple(caller_pods),
                        deployment=deployment, workload=workload, caller_namespace=caller_ns, hpa=hpa,
                        events=tuple(sorted(events, key=lambda e: e.last or now)),
                        nodes=nodes, usage=usage, service=service, routes=tuple(routes), policies=tuple(policies),
                        invalid=tuple(invalid), notes=tuple(dict.fromkeys(notes)), missing=missing, seen=tuple(seen))
