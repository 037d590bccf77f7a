"""A heap proposal that fits the container it runs in and keeps the JVM flags already set.

A JVM uses memory beyond its heap (metaspace, thread stacks, code cache, direct buffers, GC structures),
and the container is OOMKilled when heap plus non-heap passes its memory limit. So the heap stays at most
HEAP_SHARE of the limit -- the share the JVM's own container logic gives the heap on limits above 2 GB
(OpenJ9 -XX:+UseContainerSupport: "Greater than 2 GB: 75% <size>", https://eclipse.dev/openj9/docs/xxusecontainersupport/;
-XX:MaxRAMPercentage sets that share and is ignored once -Xmx is set,
https://eclipse.dev/openj9/docs/xxinitialrampercentage/). When the heap asked for does not fit, the limit
is raised with it, in one proposal.

The flags are changed where the JVM reads them last: a heap flag on the command line beats
JDK_JAVA_OPTIONS, which beats JAVA_TOOL_OPTIONS. Only -Xmx, -Xms and the *RAMPercentage/MaxRAM flags are
replaced; every other flag is kept as it was.
"""

from __future__ import annotations

import math

from ..model.finding import Fact
from ..model.kube import Container, KubeEvidence

HEAP_SHARE = 0.75          # heap <= 75% of the container's memory limit, the rest for non-heap
GROW = 1.5                 # a heap at its max under GC pressure: half as much again
_MI = 2**20
_LIMIT_STEP = 256 * _MI    # a raised limit is rounded up to 256Mi
# The variables a JVM reads, the one read last (whose heap flags win) first.
_PRECEDENCE = ("JDK_JAVA_OPTIONS", "JAVA_OPTS", "JAVA_TOOL_OPTIONS")
_HEAP_PREFIXES = ("-Xmx", "-Xms", "-XX:MaxRAMPercentage=", "-XX:MinRAMPercentage=", "-XX:InitialRAMPercentage=",
                  "-XX:MaxRAM=")

HEAP_FACTS = ("container", "heap_suggested", "heap_limit", "heap_limit_suggested", "heap_fit", "java_env",
              "java_env_var", "heap_in_args")


def _mem(n: float) -> str:
    """Bytes as a Kubernetes quantity: whole Gi when exact, else Mi."""
    if n % 2**30 == 0:
        return f"{int(n // 2**30)}Gi"
    return f"{int(math.ceil(n / _MI))}Mi"


def jvm_container(kube: KubeEvidence | None) -> Container | None:
    """The upstream Deployment's JVM container (as its template declares it), else its first container; with
    no Deployment (a StatefulSet's or DaemonSet's pods), as a running pod of the upstream declares it, which
    its controller's template made."""
    if kube is None:
        return None
    dep = kube.deployment
    containers = dep.containers if dep is not None and dep.containers else \
        next((p.containers for p in kube.pods if p.phase == "Running" and p.containers), ())
    if not containers:
        return None
    return next((c for c in containers if c.jvm), containers[0])


def new_options(current: str, heap: str) -> str:
    """`current` with its heap flags replaced by -Xmx (and -Xms when one was set), the rest kept in order;
    G1 with a pause-time goal added only when no collector is chosen (two collectors stop the JVM)."""
    words = current.split()
    kept = [w for w in words if not w.startswith(_HEAP_PREFIXES)]
    out = kept + [f"-Xmx{heap}"] + ([f"-Xms{heap}"] if any(w.startswith("-Xms") for w in words) else [])
    chosen = [w for w in kept if w.startswith("-XX:+Use") and w.endswith("GC")]
    if not chosen:
        out.append("-XX:+UseG1GC")
    if (not chosen or "-XX:+UseG1GC" in chosen) and not any(w.startswith("-XX:MaxGCPauseMillis=") for w in kept):
        out.append("-XX:MaxGCPauseMillis=200")
    return " ".join(out)


def _variable(c: Container) -> tuple[str, str] | None:
    """(variable, its value) to change: the last-read one that sets the heap, else JAVA_TOOL_OPTIONS
    (created when absent). None when a JVM variable's value is not known (valueFrom)."""
    opts = dict(c.java_options)
    if any(v is None for v in opts.values()):
        return None
    for var in _PRECEDENCE:
        value = opts.get(var)
        if value is not None and any(w.startswith(_HEAP_PREFIXES) for w in value.split()):
            return var, value
    return "JAVA_TOOL_OPTIONS", opts.get("JAVA_TOOL_OPTIONS") or ""


def heap_facts(kube: KubeEvidence | None, heap_max_bytes: float, limit_bytes: float | None) -> dict[str, Fact]:
    """Facts of the heap fix: -Xmx{heap_suggested} within HEAP_SHARE of the limit, or with the limit raised
    to heap_limit_suggested; `java_env` is the whole NAME=value that `kubectl set env` takes."""
    c = jvm_container(kube)
    if c is None or heap_max_bytes <= 0:
        return {}
    wanted = int(math.ceil(heap_max_bytes * GROW / _MI)) * _MI
    limit = c.mem_limit_b or limit_bytes
    out: dict[str, Fact] = {"container": c.name, "heap_suggested": f"{wanted // _MI}m"}
    if limit and wanted > HEAP_SHARE * limit:
        raised = math.ceil(wanted / HEAP_SHARE / _LIMIT_STEP) * _LIMIT_STEP
        out.update(heap_limit=_mem(limit), heap_limit_suggested=_mem(raised))
    elif limit:
        out.update(heap_limit=_mem(limit), heap_fit=f"{wanted / limit:.0%} of its {_mem(limit)} memory limit")
    else:
        out["heap_fit"] = "no memory limit is set"
    if c.heap_args:
        # the command line wins over every variable: an env change would not take effect
        out["heap_in_args"] = " ".join(c.heap_args)
        return out
    var = _variable(c)
    if var is not None:
        out["java_env_var"] = var[0]
        out["java_env"] = f"{var[0]}={new_options(var[1], str(out['heap_suggested']))}"
    return out
