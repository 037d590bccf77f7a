"""Kubernetes and service-mesh evidence: the upstream's workload and the route from caller to upstream.

Filled in by diagnose/parsers/kubernetes.py from the API documents (live or from a bundle). Quantities are
normalised here (CPU in millicores, memory in bytes, durations in milliseconds) so checks never parse
"500m" or "1.5s" themselves. `missing` says, per kind, why that evidence is unknown (403, 404, not served).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from .names import is_label_key, is_label_value


@dataclass(frozen=True)
class Probe:
    kind: str                              # "readiness", "liveness", "startup"
    period_s: float = 10.0
    timeout_s: float = 1.0
    failure_threshold: int = 3
    handler: str = ""                      # "httpGet /healthz:8080", "tcpSocket 8080", "exec"


@dataclass(frozen=True)
class Container:
    name: str
    image: str = ""
    ready: bool = False
    restarts: int = 0
    state: str = ""                        # "running", "waiting", "terminated"
    state_reason: str = ""                 # CrashLoopBackOff, ImagePullBackOff, OOMKilled...
    last_reason: str = ""                  # last termination reason (OOMKilled, Error, Completed)
    last_exit_code: int | None = None
    last_finished: datetime | None = None
    cpu_request_m: float | None = None
    cpu_limit_m: float | None = None
    mem_request_b: float | None = None
    mem_limit_b: float | None = None
    probes: tuple[Probe, ...] = ()
    jvm: bool = False                      # looks like a JVM (image, command or JAVA_* env)
    # The JVM options its env sets (JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS, JAVA_OPTS) in env order, so a
    # heap fix keeps the flags already there; None when the value comes from valueFrom and is unknown here.
    java_options: tuple[tuple[str, str | None], ...] = ()
    heap_args: tuple[str, ...] = ()        # -Xmx/-Xms/-XX:*RAMPercentage words of its command and args


@dataclass(frozen=True)
class PodHealth:
    status: str                            # Running, CrashLoopBackOff, OOMKilled, Pending, Terminating...
    health: str                            # healthy, warning, unhealthy, unknown
    message: str = ""
    since: datetime | None = None          # when the state began, where the status says (an eviction's time)


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: Mapping[str, str]
    phase: str
    ready: bool
    node: str = ""
    zone: str = ""                         # from the node's topology labels
    region: str = ""
    owner: str = ""                        # "ReplicaSet/user-auth-service-7d9f8b6c5"
    containers: tuple[Container, ...] = ()
    health: PodHealth = field(default_factory=lambda: PodHealth("Unknown", "unknown"))
    created: datetime | None = None

    @property
    def restarts(self) -> int:
        return sum(c.restarts for c in self.containers)


@dataclass(frozen=True)
class ReplicaSet:
    name: str
    revision: int
    created: datetime | None
    desired: int
    ready: int
    images: tuple[str, ...] = ()
    change_cause: str = ""


@dataclass(frozen=True)
class Deployment:
    name: str
    namespace: str
    desired: int
    ready: int
    updated: int
    available: int
    selector: Mapping[str, str]
    revision: int = 0
    images: tuple[str, ...] = ()
    conditions: Mapping[str, str] = field(default_factory=dict)     # type -> "True"/"False" (reason)
    replicasets: tuple[ReplicaSet, ...] = ()                         # newest first
    containers: tuple[Container, ...] = ()                           # the pod template's (spec only)
    pod_affinity: bool = False                                       # the template sets podAffinity

    def rollout_in(self, start: datetime, end: datetime) -> ReplicaSet | None:
        """The ReplicaSet created by a rollout within [start, end], if any (evidence of a recent change)."""
        for rs in self.replicasets:
            if rs.created is not None and start <= rs.created <= end and rs.revision > 1:
                return rs
        return None


@dataclass(frozen=True)
class HPA:
    name: str
    target: str                            # "Deployment/user-auth-service"
    min_replicas: int
    max_replicas: int
    current: int
    desired: int
    scaling_limited: str = ""              # the ScalingLimited condition's reason when True

    @property
    def at_max(self) -> bool:
        return self.max_replicas > 0 and self.current >= self.max_replicas


@dataclass(frozen=True)
class Event:
    type: str                              # Normal, Warning
    reason: str
    message: str
    object: str                            # "Pod/user-auth-service-7d9f8b6c5-4xk2p"
    count: int
    last: datetime | None


@dataclass(frozen=True)
class Node:
    name: str
    zone: str
    region: str
    pressure: tuple[str, ...] = ()         # conditions other than Ready that are True (MemoryPressure...)
    ready: bool = True
    # condition type -> its lastTransitionTime, for those in `pressure` and for Ready when it is not True
    since: Mapping[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class PodUsage:
    pod: str
    cpu_m: Mapping[str, float]             # container -> millicores
    mem_b: Mapping[str, float]             # container -> bytes
    timestamp: datetime | None = None


@dataclass(frozen=True)
class Service:
    name: str
    selector: Mapping[str, str]
    ports: tuple[int, ...] = ()
    ready_endpoints: int | None = None     # from Endpoints; None when not seen
    not_ready_endpoints: int | None = None


@dataclass(frozen=True)
class RouteTimeout:
    """One timeout/retry policy on the path caller -> upstream, from a mesh or ingress object."""

    kind: str                              # VirtualService, ServiceProfile, Ingress
    name: str                              # namespace/name
    api_version: str
    hosts: tuple[str, ...]
    timeout_ms: float | None = None        # whole-request cap (retries included), None when nothing caps it
    attempts: int | None = None            # retries (not counting the first try, as Istio counts)
    per_try_timeout_ms: float | None = None  # each try's cut (Istio perTryTimeout, ingress-nginx read timeout)
    retry_on: str = ""
    connect_timeout_ms: float | None = None
    send_timeout_ms: float | None = None
    route: str = ""                        # the route's name or match, for the summary
    index: int | None = None               # position in spec.http (Istio) or spec.routes (Linkerd), for a patch
    # What the proxy does that the object does not say: a default it applies, a value it ignores.
    notes: tuple[str, ...] = ()
    # Of those, what the object says and its proxy ignores or reads otherwise ("30s" where ingress-nginx
    # takes whole seconds, an annotation prefix it does not read, a timeout of days): config that lies.
    ignored: tuple[str, ...] = ()


@dataclass(frozen=True)
class InvalidConfig:
    """A mesh or ingress object its proxy cannot read (an object where a duration string goes): left out,
    said once. `bound`: it names the upstream, so the route to it is not what the object says."""

    kind: str                              # VirtualService, DestinationRule, ServiceProfile, Ingress
    name: str                              # namespace/name
    why: str                               # one line: the field and what is wrong with it
    bound: bool = False


@dataclass(frozen=True)
class TrafficPolicy:
    """An Istio DestinationRule's connection pool and outlier detection for the upstream host."""

    name: str
    api_version: str
    host: str
    max_connections: int | None = None
    http1_max_pending: int | None = None
    http2_max_requests: int | None = None
    max_requests_per_connection: int | None = None
    connect_timeout_ms: float | None = None
    consecutive_errors: int | None = None  # consecutive5xxErrors / consecutiveGatewayErrors
    ejection_time_ms: float | None = None
    max_ejection_percent: int | None = None


@dataclass(frozen=True)
class KubeEvidence:
    namespace: str = ""
    upstream: str = ""
    caller: str = ""
    pods: tuple[Pod, ...] = ()             # the upstream's pods
    caller_pods: tuple[Pod, ...] = ()
    deployment: Deployment | None = None   # the upstream's
    # The controller of the upstream's pods as their ownerReferences name it ("Deployment/auth-server-v2",
    # "StatefulSet/sessions-store"), walked up through a ReplicaSet; else the Deployment chosen by name or
    # labels (a note says so); "" when unknown.
    workload: str = ""
    caller_namespace: str = ""
    hpa: HPA | None = None
    events: tuple[Event, ...] = ()         # in the window, about the upstream's objects
    nodes: Mapping[str, Node] = field(default_factory=dict)
    usage: Mapping[str, PodUsage] = field(default_factory=dict)     # pod -> metrics.k8s.io usage
    service: Service | None = None
    routes: tuple[RouteTimeout, ...] = ()
    policies: tuple[TrafficPolicy, ...] = ()
    invalid: tuple[InvalidConfig, ...] = ()   # objects left out because their proxy cannot read them
    notes: tuple[str, ...] = ()             # objects left out, namespaces not read: one line each
    # kind -> one line why it is unknown, e.g.
    # "hpas": "forbidden: cannot list horizontalpodautoscalers.autoscaling in namespace production"
    missing: Mapping[str, str] = field(default_factory=dict)
    seen: tuple[str, ...] = ()             # kinds whose List document was read

    @property
    def forbidden(self) -> Mapping[str, str]:
        return {k: v for k, v in self.missing.items() if v.startswith("forbidden")}

    def saw(self, kind: str) -> bool:
        return kind in self.seen

    @property
    def deployment_name(self) -> str | None:
        """The upstream's Deployment, read or named by its pods' owners; None when none was seen (a
        StatefulSet's pods, or no pods and no Deployment): never the upstream's name from the logs."""
        if self.deployment is not None:
            return self.deployment.name
        kind, _, name = self.workload.partition("/")
        return name if kind == "Deployment" and name else None

    @property
    def owner_known(self) -> bool:
        """Whether the workload of the upstream's pods is known (so "no HPA targets it" can be said)."""
        return bool(self.workload) or self.deployment is not None

    @property
    def workload_ref(self) -> str | None:
        """The workload as kubectl names it (`statefulset/sessions-store`), for commands that take any kind."""
        kind, _, name = self.workload.partition("/")
        if not self.workload and self.deployment is not None:
            kind, name = "Deployment", self.deployment.name
        return f"{kind.lower()}/{name}" if kind in WORKLOAD_KINDS and name else None


# Labels that name a workload by convention (app, the recommended app.kubernetes.io/name, the older
# k8s-app): a last resort where no Service or owner says which pods are whose.
NAME_LABELS = ("app", "app.kubernetes.io/name", "k8s-app")

# Controllers of pods that `kubectl set resources` and `kubectl patch` take by kind/name.
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def selector_text(labels: Mapping[str, Any] | None) -> str | None:
    """`k=v,...` (sorted) for an equality selector, as labelSelector and `kubectl -l` read it; None when empty
    or when a key or value is not label syntax: a `,` or `!=` in it would add terms of its own."""
    if not labels or not all(isinstance(k, str) and isinstance(v, str) and v and is_label_key(k) and
                             is_label_value(v) for k, v in labels.items()):
        return None
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


_JVM_IMAGE = re.compile(r"java|jdk|jre|temurin|corretto|zulu|graalvm|jvm|spring|tomcat|jetty|wildfly|keycloak", re.I)


def looks_jvm(c: Mapping[str, Any]) -> bool:
    """Whether a container spec (an API document's `containers[]` item) looks like a JVM: its image, a
    `java` command or a JVM's options variable. Parsers fill `Container.jvm` with it; the exec source picks
    the containers to take thread dumps from with it."""
    words = " ".join(str(x) for x in list(c.get("command") or ()) + list(c.get("args") or ()))
    env = {str(e.get("name", "")) for e in c.get("env") or ()}
    return bool(_JVM_IMAGE.search(str(c.get("image", "")))) or bool(re.search(r"\bjava\b", words)) or \
        bool(env & {"JAVA_OPTS", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "JAVA_HOME"})
