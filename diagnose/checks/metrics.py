"""Checks on Prometheus signals (diagnose.model.metrics): overload, gc-pause, network, and pool waits.

Each check reads named signals, never PromQL. A signal that is absent says nothing (its family is in
`MetricsEvidence.missing`, which the report shows); healthy data is said explicitly as AGAINST findings.
Onsets come from the parser's rule (first sustained departure from the pre-incident baseline), so the
engine can read a later rise as the effect of an earlier one (GC before CPU, traffic before saturation).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Callable, Mapping, Sequence

from ..model.check import Param, check
from ..model.evidence import Evidence
from ..model.finding import Fact, Finding
from ..model.incident import clock
from ..model.metrics import MetricsEvidence, Signal
from ..model.text import first_of
from .heap import HEAP_FACTS, heap_facts
from .netpath import NETWORK_FACTS, network_facts
from .scaling import SCALING_FACTS, hpa_view, scaling_facts
from .stale import stale_signals

SOURCE = "prometheus"


def _since(sig: Signal) -> str:
    return f" since {clock(sig.onset)}" if sig.onset else ""


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def _over(sig: Signal, threshold: float) -> list[str]:
    return sorted(k for k, v in sig.by_series.items() if v >= threshold)


def _names(keys: list[str], most: int = 3) -> str:
    return first_of(keys, most, more=" +{n} more")


def _cpu_quantity(cores: float) -> str:
    return f"{int(round(cores * 1000))}m"


def _mem_quantity(n: float) -> str:
    for unit, size in (("Gi", 2**30), ("Mi", 2**20)):
        if n >= size and (n / size) == int(n / size):
            return f"{int(n / size)}{unit}"
    return f"{int(math.ceil(n / 2**20))}Mi"


def facts(m: MetricsEvidence, ev: Evidence) -> dict[str, Fact]:
    """What fix templates need, as far as the metrics show it."""
    # The Deployment the cluster shows (its pods' owner), else the one kube-state-metrics reported; never
    # the upstream's name from the logs: a StatefulSet's pods have none.
    kube = ev.kubernetes
    deployment = kube.deployment_name if kube is not None and kube.owner_known else m.deployment
    workload = kube.workload_ref if kube is not None and kube.owner_known else \
        (f"deployment/{deployment}" if deployment else None)
    out: dict[str, Fact] = {"deployment": deployment} if deployment else {}
    if workload:
        out["workload"] = workload
    ns = m.namespace or ev.incident.namespace
    if ns:
        out["namespace"] = ns
    # replicas and the HPA's bounds: one rule and one source of truth for every check (checks/scaling.py)
    out.update(scaling_facts(ev))
    for name, key, fmt, grow in (("cpu_limit_cores", "cpu_limit", _cpu_quantity, 2.0),
                                 ("memory_limit_bytes", "memory_limit", _mem_quantity, 1.5)):
        sig = m.get(name)
        if sig and sig.last:
            out[key] = fmt(sig.last)
            out[key + "_suggested"] = fmt(sig.last * grow)
    heap = m.get("heap_max_bytes")
    if heap and heap.peak:
        out["heap_max"] = f"{int(max(heap.by_series.values()) / 2**20)}m"
    for name in ("gc_max_pause_seconds", "gc_time_fraction"):
        sig = m.get(name)
        if sig and sig.worst.get("gc"):
            out["gc_name"] = sig.worst["gc"]
            break
    return out


def _gc_leads(m: MetricsEvidence) -> tuple[Signal, Signal] | None:
    """(gc, cpu) when both rose and the GC rise came first (both seen in the incident: a rise in series
    that ended before it leads nothing)."""
    gc, cpu = m.get("gc_time_fraction") or m.get("go_gc_time_fraction"), m.get("cpu_limit_ratio") or m.get(
        "cpu_usage_cores")
    if gc and cpu and gc.onset and cpu.onset and gc.onset < cpu.onset and not gc.ended and not cpu.ended:
        return gc, cpu
    return None


def _fresh(out: list[Finding]) -> list[Finding]:
    """The findings on data from the incident: a stale one (older data) does not silence a healthy reading."""
    return [f for f in out if not f.stale]


# The facts every metrics check's findings carry (see `facts` above), declared for runbook validation.
METRIC_FACTS = ("namespace", *SCALING_FACTS, "workload", "cpu_limit", "cpu_limit_suggested", "memory_limit",
                "memory_limit_suggested", "heap_max", "gc_name")


def _adder(ev: Evidence, cause: str, p: Mapping[str, Param], fx: Mapping[str, Fact],
           out: list[Finding]) -> Callable[..., None]:
    """`add(weight, summary, onset, direction="for", on=signals, kind=...)`: weight is a param name or a
    number; `on`, the signals the finding rests on: stale when every one of them ended before the incident,
    and its onset known to within their coarsest step; `kind`, what it shows (docs/ranking.md)."""

    def add(weight: str | float, summary: str, onset: datetime | None, direction: str = "for",
            extra: Mapping[str, Fact] | None = None, on: Sequence[Signal | None] = (), kind: str | None = None,
            explains: tuple[str, ...] = ()) -> None:
        w = float(p[weight]) if isinstance(weight, str) else float(weight)
        facts = {**fx, **extra} if extra else fx
        stale = stale_signals(ev.window, on)
        step = max((s.step for s in on if s is not None), default=0.0)
        # An onset in data that ended before the incident dates a past episode: kept in the summary, not
        # given to ranking, which would read it as a signal that led the incident's others.
        out.append(Finding(cause, direction, w, SOURCE, summary, None if stale else onset,  # type: ignore[arg-type]
                           facts, stale=stale, kind=kind, resolution=step, explains=explains))

    return add


@check("resource-metrics", needs=("prometheus",), facts=METRIC_FACTS, causes=("overload",), params={
    "cpu_limit_ratio": 0.9, "throttled_ratio": 0.25, "memory_limit_ratio": 0.9, "traffic_ratio": 2.0,
    "low_cpu_ratio": 0.6, "low_memory_ratio": 0.7, "flat_ratio": 1.25, "retry_share": 0.8, "weight_no_load": 1.0,
    "weight_cpu": 1.5, "weight_throttled": 1.0, "weight_memory": 0.8, "weight_oom": 1.5, "weight_restarts": 0.5,
    "weight_unavailable": 1.0, "weight_hpa_max": 1.0, "weight_traffic": 1.0, "weight_headroom": 1.5})
def resource_metrics(ev: Evidence, p: Mapping[str, Param]) -> list[Finding]:
    """CPU, throttling and memory against limits, OOM kills, restarts, replicas, HPA ceiling, traffic."""
    m = ev.prometheus
    if m is None:
        return []
    fx = facts(m, ev)
    out: list[Finding] = []

    add = _adder(ev, "overload", p, fx, out)

    cpu, thr, mem = m.get("cpu_limit_ratio"), m.get("cpu_throttled_ratio"), m.get("memory_limit_ratio")
    lead = _gc_leads(m)
    after_gc = (f"; the rise follows the GC rise at {clock(lead[0].onset)}, so it may be GC work, not load"
                if lead else "")
    if cpu and cpu.peak is not None and cpu.peak >= float(p["cpu_limit_ratio"]):
        hot = _over(cpu, float(p["cpu_limit_ratio"]))
        add("weight_cpu", f"CPU at {_pct(cpu.peak)} of limit on {len(hot)}/{len(cpu.by_series)} pods "
            f"({_names(hot)}){_since(cpu)}{after_gc}", cpu.onset, on=(cpu,), kind="cpu")
    if thr and thr.peak is not None and thr.peak >= float(p["throttled_ratio"]):
        hot = _over(thr, float(p["throttled_ratio"]))
        add("weight_throttled", f"CFS throttling in {_pct(thr.peak)} of CPU periods on {len(hot)}/"
            f"{len(thr.by_series)} pods ({_names(hot)}){_since(thr)}{after_gc}", thr.onset, on=(thr,),
            kind="throttling")
    if mem and mem.peak is not None and mem.peak >= float(p["memory_limit_ratio"]):
        hot = _over(mem, float(p["memory_limit_ratio"]))
        add("weight_memory", f"memory working set at {_pct(mem.peak)} of limit on {len(hot)} pods "
            f"({_names(hot)}){_since(mem)}", mem.onset, on=(mem,), kind="memory")
    oom, restarts = m.get("oom_killed"), m.get("restarts")
    if oom and oom.peak and oom.peak >= 1:
        pods = _over(oom, 1)
        add("weight_oom", f"last termination OOMKilled on {len(pods)} pods ({_names(pods)})", oom.onset, on=(oom,),
            kind="oom")
    if restarts and restarts.peak and restarts.peak >= 1:
        pods = _over(restarts, 1)
        add("weight_restarts", f"container restarts on {len(pods)} pods ({_names(pods)}){_since(restarts)}",
            restarts.onset, on=(restarts,), kind="restarts")
    unavailable, desired = m.get("replicas_unavailable"), m.get("replicas_desired")
    if unavailable and unavailable.peak and unavailable.peak >= 1 and desired and desired.peak:
        add("weight_unavailable", f"deployment {fx['deployment']}: {int(desired.peak - unavailable.peak)} of "
            f"{int(desired.peak)} desired replicas available{_since(unavailable)}", unavailable.onset,
            on=(unavailable, desired), kind="replicas")
    hpa, view = m.get("hpa_at_max_ratio"), hpa_view(ev)
    # The API object, when read, is the HPA's source of truth and pod-resources reports it; this reading
    # of kube-state-metrics speaks only when it is the one source, and only when current == max.
    if view is not None and view.source == "kube-state-metrics" and view.at_max:
        add("weight_hpa_max", f"HPA {view.name} at its maximum: {view.current}/{view.max_replicas} replicas "
            f"(kube-state-metrics){_since(hpa) if hpa else ''}", hpa.onset if hpa else None,
            on=(m.get("hpa_max_replicas"), m.get("hpa_current_replicas")), kind="hpa")
    rate = m.get("request_rate")
    retries = _retries_only(m, p)
    if rate and rate.peak and rate.baseline and rate.peak >= float(p["traffic_ratio"]) * rate.baseline and \
            not retries:
        before = ""
        if rate.onset and cpu and cpu.onset and rate.onset <= cpu.onset:
            before = f", before CPU rose ({clock(cpu.onset)})"
        add("weight_traffic", f"request rate x{rate.peak / rate.baseline:.1f} ({rate.baseline:.0f}/s -> "
            f"{rate.peak:.0f}/s){_since(rate)}{before}", rate.onset, on=(rate,), kind="traffic")
    if not _fresh(out) and cpu and cpu.peak is not None and cpu.peak < float(p["low_cpu_ratio"]) and (
            mem is None or (mem.peak or 0) < float(p["low_memory_ratio"])):
        mem_text = f", memory at {_pct(mem.peak or 0)}" if mem else ""
        add("weight_headroom", f"CPU at {_pct(cpu.peak)} of limit at most on {len(cpu.by_series)} pods"
            f"{mem_text}; no throttling, OOM kills, missing replicas or HPA ceiling", None, "against", on=(cpu, mem))
    # Overload needs load: saturation with no more requests than before (on as many pods) is something else
    # doing the work (GC, a lock, a slow dependency), and a rise made of the mesh's retries is an effect.
    if retries:
        add("weight_no_load", retries, rate.onset if rate else None, "against",
            on=(rate, m.get("caller_request_rate"), m.get("retry_rate")), kind="traffic")
    elif rate and rate.peak is not None and rate.baseline and rate.peak < float(p["flat_ratio"]) * rate.baseline \
            and not any(f.kind == "replicas" and not f.stale for f in out):
        add("weight_no_load", f"request rate did not rise: {rate.baseline:.0f}/s before the incident, at most "
            f"{rate.peak:.0f}/s (x{rate.peak / rate.baseline:.2f}) in it: no more load than the pods carried before",
            None, "against", on=(rate,), kind="traffic")
    return out


def _retries_only(m: MetricsEvidence, p: Mapping[str, Param]) -> str | None:
    """Why the upstream's request rate rose only by retries, or None. An Envoy retry is one more request at
    the destination's sidecar and none at the caller's (Istio's source reporter counts each request once):
    the destination-side rate up with the source-side rate flat, or Envoy's retry counter
    (envoy_cluster_upstream_rq_retry) covering the rise, is the mesh repeating requests, not more load."""
    rate, src, retry = m.get("request_rate"), m.get("caller_request_rate"), m.get("retry_rate")
    if not (rate and rate.peak and rate.baseline and rate.peak >= float(p["traffic_ratio"]) * rate.baseline):
        return None
    up = f"request rate at the upstream x{rate.peak / rate.baseline:.1f} ({rate.baseline:.0f}/s -> {rate.peak:.0f}/s)"
    if src and src.peak is not None and src.baseline and src.peak < float(p["flat_ratio"]) * src.baseline:
        return (f"{up}{_since(rate)} while its callers sent x{src.peak / src.baseline:.2f} ({src.baseline:.0f}/s -> "
                f"{src.peak:.0f}/s, source-side): the rise is the mesh's retries, not more load")
    rise = rate.peak - rate.baseline
    if retry and retry.peak is not None and retry.peak >= float(p["retry_share"]) * rise:
        return (f"{up}{_since(rate)}, of which Envoy retried {retry.peak:.0f}/s (envoy_cluster_upstream_rq_retry): "
                f"the rise is the mesh's retries, not more load")
    return None


@check("gc-metrics", needs=("prometheus",), facts=(*METRIC_FACTS, *HEAP_FACTS), causes=("gc-pause",), params={
    "gc_time_fraction": 0.1, "max_pause_seconds": 1.0, "heap_ratio": 0.9,
    "low_gc_time_fraction": 0.03, "short_pause_seconds": 0.3,
    "go_gc_time_fraction": 0.1, "go_max_pause_seconds": 0.5,
    "weight_gc_time": 2.0, "weight_pause": 1.5, "weight_heap": 0.8, "weight_leads_cpu": 1.0, "weight_go": 1.5,
    "weight_short": 1.5, "cpu_share_ratio": 0.7, "cpu_busy_ratio": 0.8, "weight_cpu_share": 0.5})
def gc_metrics(ev: Evidence, p: Mapping[str, Param]) -> list[Finding]:
    """JVM GC time and pauses (simpleclient or Micrometer), heap against max, Go GC."""
    m = ev.prometheus
    if m is None:
        return []
    fx = facts(m, ev)
    heap, limit = m.get("heap_max_bytes"), m.get("memory_limit_bytes")
    if heap and heap.by_series:
        # the heap fix fits the container's memory limit and keeps its JVM flags (checks/heap.py)
        fx.update(heap_facts(ev.kubernetes, max(heap.by_series.values()), limit.last if limit else None))
    out: list[Finding] = []

    add = _adder(ev, "gc-pause", p, fx, out)

    frac, pause, heap = m.get("gc_time_fraction"), m.get("gc_max_pause_seconds"), m.get("heap_used_ratio")
    gc_name = f" ({fx['gc_name']})" if "gc_name" in fx else ""
    if frac and frac.peak is not None and frac.peak >= float(p["gc_time_fraction"]):
        hot = _over(frac, float(p["gc_time_fraction"]))
        add("weight_gc_time", f"JVM spends {_pct(frac.peak)} of its time in GC on {len(hot)}/"
            f"{len(frac.by_series)} pods ({_names(hot)}){_since(frac)}, baseline {_pct(frac.baseline or 0)}",
            frac.onset, on=(frac,), kind="gc-time")
    if pause and pause.peak is not None and pause.peak >= float(p["max_pause_seconds"]):
        timeout = ev.incident.timeout_ms
        share = f", {pause.peak * 1000 / timeout:.0%} of the caller's {timeout:.0f} ms deadline" if timeout else ""
        add("weight_pause", f"GC pauses up to {pause.peak:.1f} s{gc_name} on pod {pause.worst.get('pod', '?')}"
            f"{_since(pause)}{share}", pause.onset, on=(pause,), kind="gc-pause")
    if heap and heap.peak is not None and heap.peak >= float(p["heap_ratio"]):
        add("weight_heap", f"heap at {_pct(heap.peak)} of max ({fx.get('heap_max', '?')}) on pod "
            f"{heap.worst.get('pod', '?')}{_since(heap)}", heap.onset, on=(heap,), kind="heap")
    lead = _gc_leads(m)
    if lead and out:
        gc, cpu = lead
        minutes = (cpu.onset - gc.onset).total_seconds() / 60 if cpu.onset and gc.onset else 0
        add("weight_leads_cpu", f"GC time rose at {clock(gc.onset)}, {minutes:.0f} min before CPU "
            f"({clock(cpu.onset)}): the CPU rise follows the GC rise", gc.onset, on=(gc, cpu), kind="gc-leads-cpu")
    gc_share = _gc_cpu_share(m, p) if out else None
    if gc_share is not None:
        text, onset = gc_share
        add("weight_cpu_share", text, onset, on=(frac, m.get("cpu_usage_cores")), kind="gc-cpu-share",
            explains=("cpu", "throttling"))
    go_frac, go_pause = m.get("go_gc_time_fraction"), m.get("go_gc_max_pause_seconds")
    if (go_frac and (go_frac.peak or 0) >= float(p["go_gc_time_fraction"])) or (
            go_pause and (go_pause.peak or 0) >= float(p["go_max_pause_seconds"])):
        sig = go_frac or go_pause
        assert sig is not None
        add("weight_go", f"Go GC: {_pct(go_frac.peak or 0) if go_frac else '?'} of time, pauses up to "
            f"{(go_pause.peak or 0) if go_pause else 0:.2f} s{_since(sig)}", sig.onset, on=(go_frac, go_pause),
            kind="gc-time")
    if not _fresh(out):
        healthy = []
        if frac and (frac.peak or 0) < float(p["low_gc_time_fraction"]) and (
                pause is None or (pause.peak or 0) < float(p["short_pause_seconds"])):
            longest = f", longest pause {pause.peak:.2f} s" if pause and pause.peak is not None else ""
            healthy.append(f"JVM GC {_pct(frac.peak or 0)} of time{longest} on {len(frac.by_series)} pods")
        if go_frac and (go_frac.peak or 0) < float(p["low_gc_time_fraction"]) and (
                go_pause is None or (go_pause.peak or 0) < float(p["short_pause_seconds"])):
            healthy.append(f"Go GC {_pct(go_frac.peak or 0)} of time")
        if healthy:
            add("weight_short", "short, rare GC pauses: " + "; ".join(healthy), None, "against",
                on=(frac, pause, go_frac, go_pause))
    return out


def _gc_cpu_share(m: MetricsEvidence, p: Mapping[str, Param]) -> tuple[str, datetime | None] | None:
    """When GC accounts for most of the CPU used, on the pod that spends most of its time in GC.
    A stop-the-world collection runs ParallelGCThreads = the cores the JVM sees, and a container-aware JVM
    sees its CPU limit (JDK-8146115); so GC uses about (time in GC) x (limit) cores. Near the CPU used, the
    CPU at the limit and its throttling are GC's doing, whatever the order of the onsets."""
    frac, used, limit = m.get("gc_time_fraction"), m.get("cpu_usage_cores"), m.get("cpu_limit_cores")
    busy = m.get("cpu_limit_ratio")
    if not (frac and used and limit and busy and (busy.peak or 0) >= float(p["cpu_busy_ratio"])):
        return None         # a CPU not near its limit needs no explaining
    rows = [(f * limit.by_series[pod] / used.by_series[pod], pod, f) for pod, f in frac.by_series.items()
            if limit.by_series.get(pod) and used.by_series.get(pod)]
    if not rows:
        return None
    share, pod, f = max(rows, key=lambda r: r[2])
    if share < float(p["cpu_share_ratio"]):
        return None
    lim, cores = limit.by_series[pod], used.by_series[pod]
    return (f"GC work is {min(share, 1.0):.0%} of the CPU used on pod {pod}: {_pct(f)} of its time in GC x "
            f"{lim:g} cores (its CPU limit) = {f * lim:.2f} of {cores:.2f} cores used, so the CPU at its limit "
            f"and its throttling are GC's", frac.onset)


@check("network-metrics", needs=("prometheus",), facts=(*METRIC_FACTS, *NETWORK_FACTS), causes=("network",),
       params={
    "gap_ms": 500.0, "gap_ratio": 2.0, "agree_ratio": 1.25, "upstream_slow_ms": 1000.0,
    "retrans_ratio": 0.02, "nic_per_second": 1.0,
    "weight_gap": 2.0, "weight_retrans": 1.0, "weight_nic": 0.8, "weight_agree": 1.5, "weight_clean": 0.5,
    "weight_upstream_slow": 0.5})
def network_metrics(ev: Evidence, p: Mapping[str, Param]) -> list[Finding]:
    """Caller-side (Istio reporter=source) vs upstream-side (reporter=destination) p99, retransmits, NIC."""
    m = ev.prometheus
    if m is None:
        return []
    fx = {**facts(m, ev), **network_facts(ev.kubernetes)}
    out: list[Finding] = []

    add = _adder(ev, "network", p, fx, out)

    caller, up = m.get("caller_latency_p99_ms"), m.get("upstream_latency_p99_ms")
    agree = False
    if caller and up and caller.peak is not None and up.peak is not None:
        gap = caller.peak - up.peak
        names = f"{ev.incident.service} sees p99 {caller.peak:.0f} ms, {ev.incident.upstream} itself {up.peak:.0f} ms"
        if gap >= float(p["gap_ms"]) and caller.peak >= float(p["gap_ratio"]) * max(up.peak, 1.0):
            if up.peak >= float(p["upstream_slow_ms"]):
                # A slow upstream behind retries (each try waits the upstream's own latency) or a queue in
                # the caller widens the gap with no help from the network: it argues against the network.
                add("weight_upstream_slow", f"{names} (gap {gap:.0f} ms){_since(caller)}: the upstream is "
                    f"itself slow, and retries or queueing in front of it can make that gap without the "
                    f"network", None, "against", on=(caller, up))
            else:
                add("weight_gap", f"{names} (gap {gap:.0f} ms){_since(caller)}: the time is spent between "
                    f"the two sidecars", caller.onset, on=(caller, up))
        elif caller.peak <= float(p["agree_ratio"]) * up.peak + float(p["gap_ms"]) / 5:
            agree = True
            add(float(p["weight_agree"]), f"caller- and upstream-side latency agree: {names}", None, "against",
                on=(caller, up))
    retrans = m.get("tcp_retransmit_ratio")
    if retrans and retrans.peak is not None and retrans.peak >= float(p["retrans_ratio"]):
        nodes = _over(retrans, float(p["retrans_ratio"]))
        add(float(p["weight_retrans"]), f"TCP retransmits at {retrans.peak:.1%} of segments on {len(nodes)} nodes "
            f"({_names(nodes)}){_since(retrans)}", retrans.onset, on=(retrans,))
    nic = [s for s in (m.get("nic_errors_per_second"), m.get("nic_drops_per_second")) if s is not None]
    bad = [s for s in nic if (s.peak or 0) >= float(p["nic_per_second"])]
    for s in bad:
        what = "errors" if s.name.startswith("nic_errors") else "drops"
        nodes = _over(s, float(p["nic_per_second"]))
        add(float(p["weight_nic"]), f"NIC {what} at {s.peak:.0f}/s on {len(nodes)} nodes ({_names(nodes)})"
            f"{_since(s)}", s.onset, on=(s,))
    if retrans and not agree and not [f for f in _fresh(out) if f.direction == "for"] and \
            (retrans.peak or 0) < float(p["retrans_ratio"]) / 4 and not bad:
        add(float(p["weight_clean"]), f"TCP retransmits at {(retrans.peak or 0):.2%} of segments, no NIC errors "
            f"or drops on {len(retrans.by_series)} nodes", None, "against", on=(retrans, *nic))
    return out


@check("pool-metrics", needs=("prometheus",), facts=METRIC_FACTS, causes=("database",), params={
    "pending": 1.0, "active_ratio": 0.95, "idle_active_ratio": 0.7,
    "weight_pending": 1.5, "weight_saturated": 1.0, "weight_idle": 0.8})
def pool_metrics(ev: Evidence, p: Mapping[str, Param]) -> list[Finding]:
    """Threads waiting for a pooled DB connection (HikariCP, Micrometer or simpleclient names)."""
    m = ev.prometheus
    if m is None:
        return []
    fx = facts(m, ev)
    out: list[Finding] = []
    pending, active = m.get("db_pool_pending"), m.get("db_pool_active_ratio")
    if pending and (pending.peak or 0) >= float(p["pending"]):
        out.append(Finding("database", "for", float(p["weight_pending"]), SOURCE,
                           f"{pending.peak:.0f} threads wait for a DB connection on pod "
                           f"{pending.worst.get('pod', '?')} (pool {pending.worst.get('pool', '?')}){_since(pending)}",
                           None if pending.ended else pending.onset, fx, stale=stale_signals(ev.window, (pending,)),
                           kind="pool-wait", resolution=pending.step, explains=("pool-wait", "blocked-threads")))
    if active and (active.peak or 0) >= float(p["active_ratio"]):
        out.append(Finding("database", "for", float(p["weight_saturated"]), SOURCE,
                           f"connection pool {_pct(active.peak or 0)} busy on pod {active.worst.get('pod', '?')}"
                           f"{_since(active)}", None if active.ended else active.onset, fx,
                           stale=stale_signals(ev.window, (active,)), kind="pool-busy", resolution=active.step))
    if not _fresh(out) and pending and active and (active.peak or 0) < float(p["idle_active_ratio"]):
        out.append(Finding("database", "against", float(p["weight_idle"]), SOURCE,
                           f"no thread waits for a DB connection; pool at most {_pct(active.peak or 0)} busy",
                           None, fx, stale=stale_signals(ev.window, (pending, active))))
    return out


# ---------------------------------------------------------------- what each check could not see

# The families (sources.prometheus.queries) each check reads: a family missing from Prometheus's answer
# is a note on the checks that read it, not on every check of the source.
READS: dict[str, tuple[str, ...]] = {
    "resource-metrics": ("cpu", "memory", "resources", "restarts", "replicas", "hpa", "traffic"),
    "gc-metrics": ("jvm_gc", "jvm_heap", "go_runtime", "resources"),
    "network-metrics": ("latency_upstream", "latency_caller", "node_network"),
    "pool-metrics": ("db_pool",),
}
# The families only one runtime exports: missing for an upstream known to run another, they are no news.
RUNTIME_FAMILIES = {"jvm": ("jvm_gc", "jvm_heap"), "go": ("go_runtime",)}
_JVM_SIGNALS = ("gc_time_fraction", "gc_max_pause_seconds", "heap_used_bytes", "heap_max_bytes")
_GO_SIGNALS = ("go_gc_time_fraction", "go_gc_max_pause_seconds", "go_goroutines")


def runtime(ev: Evidence) -> str | None:
    """"jvm" or "go" when the evidence says which the upstream runs (its runtime's metrics, its thread
    dumps, its containers), None when it does not or says both."""
    seen = set()
    m = ev.prometheus
    if m is not None:
        seen |= {"jvm"} if any(m.get(n) for n in _JVM_SIGNALS) else set()
        seen |= {"go"} if any(m.get(n) for n in _GO_SIGNALS) else set()
    for dump in ev.threads.dumps if ev.threads is not None else ():
        if dump.format.startswith(("jvm", "jmx")):
            seen.add("jvm")
        elif dump.format == "go":
            seen.add("go")
    if ev.kubernetes is not None and any(c.jvm for pod in ev.kubernetes.pods for c in pod.containers):
        seen.add("jvm")
    return seen.pop() if len(seen) == 1 else None


def notes_for(check_id: str, ev: Evidence) -> tuple[str, ...]:
    """Prometheus's notes that concern this check: the families it reads that are missing (unless only
    another runtime exports them) and the parser's notes on those families; notes on no family, to all."""
    m = ev.prometheus
    if m is None:
        return ()
    reads = READS.get(check_id)
    known = {f for fams in READS.values() for f in fams}
    kind = runtime(ev)
    other = {f for r, fams in RUNTIME_FAMILIES.items() if kind and r != kind for f in fams}

    def concerns(family: str) -> bool:
        if family in other:
            return False
        return reads is None or family in reads or family not in known

    out = [f"{what}: {why}" for what, why in m.missing.items() if concerns(what.split("/", 1)[0])]
    out += [n for n in m.notes if concerns(n.split(":", 1)[0])]
    return tuple(dict.fromkeys(out))
