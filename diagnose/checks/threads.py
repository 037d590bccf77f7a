"""What the thread dumps say: lock cycles and pile-ups (deadlock), threads waiting for a database
connection (database), pools saturated by a slow call and carriers pinned by virtual threads (overload), and a
clean bill when nothing waits."""

from __future__ import annotations

from dataclasses import replace
from datetime import timezone
from typing import Mapping

from ..model.check import Param, check
from ..model.evidence import Evidence
from ..model.finding import Fact, Finding
from ..model.text import first_of
from ..model.threads import CarrierPinning, Frame, HotSpot, LockCycle, PoolWait, ThreadEvidence
from .stale import age

SOURCE = "thread-dumps"
_GO_LOCK_REASONS = ("semacquire", "sync.Mutex.Lock", "sync.RWMutex.Lock", "sync.RWMutex.RLock",
                    "sync.WaitGroup.Wait", "sync.Cond.Wait")

PARAMS: dict[str, Param] = {
    "weight_cycle": 3.0,              # a lock cycle is a deadlock
    "min_blocked": 10,                # threads waiting on one lock for a contention finding ...
    "min_blocked_ratio": 0.2,         # ... or this share of the pod's threads (with at least min_blocked_few)
    "min_blocked_few": 3,
    "weight_contention": 1.5,
    "min_request_share": 0.2,         # ... or this share of the pod's request threads stopped (at least
    "min_request_waiters": 2,         # min_request_waiters of them)
    "min_pool_waiting": 3,            # pool workers waiting in the same place
    "min_pool_ratio": 0.8,            # share of the pool that must be waiting there
    "weight_db_pool": 2.0,            # waiting for a database connection / query result
    "weight_pool_saturated": 1.0,     # a pool saturated by a slow call (overload)
    "go_min_minutes": 5,              # goroutines waiting on a lock this long are stuck
    "go_min_chan_goroutines": 10,     # channel waits need this many goroutines in one place
    "weight_go_lock": 2.0,
    "weight_go_channel": 1.0,
    "min_pinned": 2,                  # virtual threads blocked while pinned to their carrier ...
    "min_pinned_ratio": 0.5,          # ... holding at least this share of the carrier pool
    "weight_carrier_pinning": 1.5,
    "max_blocked_ratio": 0.05,        # at most this share BLOCKED for the finding against deadlock
    "weight_against_deadlock": 1.5,
}


def _where(f: Frame | None) -> str:
    return f.code_location if f is not None else "?"


def _site(f: Frame | None) -> str:
    """Class.method:line, where a thread waits for a lock (the line when the dump shows one)."""
    line = f.location.rpartition(":")[2] if f is not None else ""
    return _where(f) + (f":{line}" if line.isdigit() else "")


def restart_facts(ev: Evidence, stuck: list[str]) -> dict[str, Fact]:
    """How to restart the stuck pods once their dumps are taken: the Deployment's rollout when every pod
    of it is stuck (or more than three are), else a `kubectl delete pod` for each."""
    kube = ev.kubernetes
    deployment = kube.deployment_name if kube is not None else None
    everyone = {p.name for p in kube.pods} if kube is not None and kube.pods else set(ev.threads.pods if ev.threads
                                                                                       else ())
    out: dict[str, Fact] = {"stuck_pods": ", ".join(stuck)}
    if deployment and (set(stuck) >= everyone or len(stuck) > 3):
        out["stuck_deployment"] = deployment
    else:
        out.update((f"stuck_pod_{i}", pod) for i, pod in enumerate(stuck, 1))
    return out


def dump_facts(td: ThreadEvidence, pod: str) -> dict[str, Fact]:
    """What takes another dump of `pod` without harm, by the runtime its dumps came from: a JVM's jcmd (in the
    container the exec source took it from, when it did), py-spy for Python. Go gets none (`go_pod` names it
    for prose): SIGQUIT makes the Go runtime print its goroutines and exit, and the pprof endpoint's port is the
    service's own choice. None either when the runtime is unknown: a command for another runtime would fail."""
    ds = [d for d in td.dumps if d.pod == pod]
    if not ds:
        return {}
    d = ds[-1]
    if d.format.startswith("jvm"):
        # jcmd 1: the JVM is the container's first process, as the exec source assumes (sources/kube_exec.py)
        return {"jvm_container": d.container} if d.container else {"jvm_pid": 1}
    if d.format.startswith("py-spy"):
        return {"python_pid": 1}
    if d.format == "go":
        return {"go_pod": pod}
    return {}


def _quote(names: tuple[str, ...] | list[str], n: int = 3) -> str:
    return first_of([f'"{x}"' for x in names], n)


def _pods(pods: list[str], total: int) -> str:
    return (f"pod {pods[0]}" if len(pods) == 1 else f"{len(pods)}/{total} pods ({', '.join(pods[:3])})")


def _dumps_per_pod(ev: ThreadEvidence, pod: str) -> int:
    return sum(1 for d in ev.dumps if d.pod == pod)


def _cycle_findings(ev: ThreadEvidence, p: Mapping[str, Param],
                    behind: dict[tuple[str, str], HotSpot]) -> list[Finding]:
    groups: dict[tuple[str, ...], list[LockCycle]] = {}
    for c in ev.cycles:
        groups.setdefault(tuple(sorted(_where(e.frame) + "|" + e.waits_for.class_name for e in c.edges)), []).append(c)
    out = []
    for cs in groups.values():
        c = cs[0]
        pods = list(dict.fromkeys(x.pod for x in cs))
        legs = "; ".join(f'"{e.thread}" holds {", ".join(h.label for h in e.holds[:2]) or "?"} and waits for '
                         f'{e.waits_for.label} in {_where(e.frame)}' for e in c.edges)
        seen = f"in {c.dumps_seen}/{_dumps_per_pod(ev, c.pod)} dumps" if _dumps_per_pod(ev, c.pod) > 1 else ""
        jvm = "the JVM reported it too" if c.jvm_reported else "found from lock owners and waiters"
        piled = [behind[(c.pod, e.thread)] for e in c.edges if (c.pod, e.thread) in behind]
        n_piled = sum(1 for h in piled for w in h.waiters if w not in c.threads)
        pile = (f"; {n_piled} more threads BLOCKED behind them on "
                f"{piled[0].lock.label} in {_where(piled[0].waiter_frame)}") if piled else ""
        extra = ", ".join(x for x in (seen, jvm) if x)
        out.append(Finding(
            cause="deadlock", direction="for", weight=float(p["weight_cycle"]), source=SOURCE,
            summary=f"Lock cycle of {len(c.edges)} threads on {_pods(pods, len(ev.pods))} ({extra}): {legs}{pile}",
            facts={"code_location": _where(c.edges[0].frame), "lock": c.edges[0].waits_for.label,
                   "threads": ", ".join(c.threads), "pod": c.pod, "pods": ", ".join(pods),
                   "locks": ", ".join(e.waits_for.label for e in c.edges),
                   "code_locations": ", ".join(dict.fromkeys(_where(e.frame) for e in c.edges)),
                   # the two (or more) places that take the locks in opposite order
                   "lock_sites": " and ".join(dict.fromkeys(_site(e.frame) for e in c.edges)),
                   "blocked": n_piled}, kind="lock-cycle"))
    return out


def _hotspot_findings(ev: ThreadEvidence, p: Mapping[str, Param], in_cycle: set[tuple[str, str]]) -> list[Finding]:
    out = []
    for h in ev.hotspots:
        if h.owner is not None and (h.pod, h.owner) in in_cycle:
            continue                   # told with its cycle
        n, total = len(h.waiters), max(h.total_threads, 1)
        # Contention counts by what it does to requests: a handful of request threads stopped out of ten
        # matters in a process of hundreds of threads; background threads only by their number.
        stops_requests = (h.request_waiters >= int(p["min_request_waiters"])
                          and h.request_share >= float(p["min_request_share"]))
        if h.waiters[0].startswith("goroutine ") and (not stops_requests or any(
                g.pod == h.pod and g.frame == h.waiter_frame and g.max_minutes >= float(p["go_min_minutes"])
                for g in ev.goroutine_waits)):
            continue                   # Go: the goroutine-wait finding tells it, with minutes
        if not stops_requests and n < int(p["min_blocked"]) and not (
                n >= int(p["min_blocked_few"]) and n / total >= float(p["min_blocked_ratio"])):
            continue
        owner = (f'held by "{h.owner}" ({h.owner_state}) in {_where(h.owner_frame)}' if h.owner
                 else "holder not shown in the dump")
        waiters = set(h.waiters)
        stuck = sum(1 for s in ev.stuck if s.pod == h.pod and s.thread in waiters)
        dumps = _dumps_per_pod(ev, h.pod)
        stuck_txt = (f"; {stuck} of them in the same frame in every dump" if stuck else
                     f"; none of them in the same frame in all {dumps} dumps" if dumps > 1 else "")
        who = (f"{h.request_stopped} of {h.request_threads} request threads ({h.request_pool}) stopped: {n} of "
               f"{h.total_threads} threads" if h.request_threads else f"{n} of {h.total_threads} threads")
        out.append(Finding(
            cause="deadlock", direction="for", weight=float(p["weight_contention"]), source=SOURCE,
            summary=(f"{who} on pod {h.pod} wait for {h.lock.label} in "
                     f"{_where(h.waiter_frame)} ({_quote(list(h.waiters))}), {owner}{stuck_txt}"),
            facts={"code_location": _where(h.owner_frame or h.waiter_frame), "lock": h.lock.label,
                   "threads": ", ".join(((h.owner,) if h.owner else ()) + h.waiters[:5]), "pod": h.pod,
                   "blocked": n, "holder": h.owner or "", "requests_stopped": h.request_stopped,
                   "request_threads": h.request_threads}, kind="blocked-threads"))
    return out


def _pool_findings(ev: ThreadEvidence, p: Mapping[str, Param]) -> list[Finding]:
    groups: dict[tuple[str, str, str, str], list[PoolWait]] = {}
    for w in ev.pools:
        if w.resource == "lock" or w.waiting < int(p["min_pool_waiting"]):
            continue
        db = w.resource.startswith("db-")
        if not db and w.waiting / max(w.size, 1) < float(p["min_pool_ratio"]):
            continue
        groups.setdefault((w.pool, w.resource, w.detail, _where(w.frame)), []).append(w)
    out = []
    for (pool, resource, detail, where), ws in groups.items():
        w = max(ws, key=lambda x: x.waiting)
        db = resource.startswith("db-")
        pods = [x.pod for x in ws]
        what = {"db-connection": f"for a database connection in {detail}",
                "db-query": f"for the database to answer ({detail})",
                "socket-read": "on a socket read"}.get(resource, f"in {detail}")
        share = f"{w.waiting}/{w.size}" if len(ws) == 1 else f"up to {w.waiting}/{w.size}"
        out.append(Finding(
            cause="database" if db else "overload", direction="for",
            weight=float(p["weight_db_pool"] if db else p["weight_pool_saturated"]), source=SOURCE,
            summary=(f"{share} threads of pool {pool} on {_pods(pods, len(ev.pods))} are RUNNABLE {detail} ({where}), "
                     f"none waiting: the pool is saturated by CPU" if resource == "cpu" else
                     f"{share} threads of pool {pool} on {_pods(pods, len(ev.pods))} wait {what}, called from {where}"),
            facts={"code_location": where, "pool": pool, "pod": w.pod, "pods": ", ".join(pods),
                   "waiting": w.waiting, "pool_size": w.size, "threads": pool + "-*", "resource": detail or resource},
            # threads seen waiting on the database are the database's doing: the pool's saturation, and
            # threads BLOCKED behind them, are its effect (runbook relations)
            kind="cpu" if resource == "cpu" else "pool-wait",
            explains=("pool-wait", "blocked-threads") if db else ()))
    return out


def _go_db_findings(ev: ThreadEvidence, p: Mapping[str, Param]) -> list[Finding]:
    """Goroutines waiting for a connection from database/sql's or pgx's pool, or for a query's answer: the
    database's doing, as a JVM pool waiting in HikariCP is (_pool_findings)."""
    out = []
    for o in ev.outbound:
        if not o.kind.startswith("db-") or o.count < int(p["min_pool_waiting"]):
            continue
        what = (f"for a database connection in {o.detail}" if o.kind == "db-connection" else
                f"for the database to answer ({o.detail})")
        reqs = f" ({o.requests} of them request handlers)" if o.requests else ""
        long = f", for up to {o.max_minutes:g} minutes" if o.max_minutes else ""
        out.append(Finding(
            cause="database", direction="for", weight=float(p["weight_db_pool"]), source=SOURCE,
            summary=f"{o.count} goroutines{reqs} on pod {o.pod} wait {what}, called from {_where(o.frame)}{long}",
            facts={"code_location": _where(o.frame), "pod": o.pod, "pods": o.pod, "waiting": o.count,
                   "threads": f"{o.count} goroutines", "resource": o.detail},
            kind="pool-wait", explains=("pool-wait", "blocked-threads")))
    return out


def _pinning_finding(c: CarrierPinning, p: Mapping[str, Param]) -> Finding | None:
    """Carriers pinned by blocked virtual threads: the scheduler's pool is starved, so every other virtual
    thread (each request, on a server that runs one per request) waits for a carrier: overload, whatever the
    CPU shows."""
    n = len(c.pinned)
    if n < int(p["min_pinned"]) or n / max(c.carriers, 1) < float(p["min_pinned_ratio"]):
        return None
    held = (f", {c.lock.label} held by \"{c.holder}\" in {_where(c.holder_frame)}" if c.lock and c.holder else
            f", {c.lock.label}" if c.lock else "")
    queued = f"; {c.queued} virtual threads wait for a carrier" if c.queued else ""
    return Finding(
        cause="overload", direction="for", weight=float(p["weight_carrier_pinning"]), source=SOURCE,
        summary=(f"{n} of {c.carriers} carrier threads ({c.pool}) on pod {c.pod} pinned by virtual threads "
                 f"{c.reason} at {_site(c.frame)} ({_quote(list(c.pinned))}{held}){queued}"),
        facts={"code_location": _where(c.frame), "pod": c.pod, "threads": ", ".join(c.pinned[:5]),
               "pool": c.pool, "pool_size": c.carriers, "waiting": n, "lock": c.lock.label if c.lock else "",
               "holder": c.holder or "", "resource": c.reason}, kind="carrier-pinning")


def _go_findings(ev: ThreadEvidence, p: Mapping[str, Param]) -> list[Finding]:
    told = {(o.pod, o.frame) for o in ev.outbound} | {(x.pod, x.frame) for x in ev.piles}

    def elsewhere(pod: str, frame: Frame | None) -> bool:
        return (pod, frame) in told

    out = []
    for g in ev.goroutine_waits:
        if g.max_minutes < float(p["go_min_minutes"]):
            continue
        lock = g.reason.startswith(_GO_LOCK_REASONS)
        if not lock and not (g.reason.startswith(("chan ", "select")) and g.count >= int(p["go_min_chan_goroutines"])):
            continue
        if not lock and elsewhere(g.pod, g.frame):
            continue                   # a call to a dependency or a goroutine leak: the source's notes tell it
        out.append(Finding(
            cause="deadlock", direction="for", weight=float(p["weight_go_lock" if lock else "weight_go_channel"]),
            source=SOURCE,
            summary=(f"{g.count} goroutines on pod {g.pod} stuck in [{g.reason}] for up to {g.max_minutes:g} minutes "
                     f"in {_where(g.frame)}"),
            facts={"code_location": _where(g.frame), "pod": g.pod, "threads": f"{g.count} goroutines",
                   "lock": g.reason, "minutes": g.max_minutes}, kind="blocked-threads"))
    return out


def _against(ev: ThreadEvidence, p: Mapping[str, Param]) -> Finding | None:
    latest = ev.latest()
    total = sum(len(d.threads) for d in latest)
    blocked = sum(1 for d in latest for t in d.threads if t.state == "BLOCKED")
    if total == 0 or blocked / total > float(p["max_blocked_ratio"]):
        return None
    return Finding(
        cause="deadlock", direction="against", weight=float(p["weight_against_deadlock"]), source=SOURCE,
        summary=(f"No lock cycle in {len(ev.dumps)} dump(s) of {len(ev.pods)} pod(s); {blocked} of {total} threads "
                 f"BLOCKED ({100 * blocked / total:.1f}%)"),
        facts={"pods": ", ".join(ev.pods), "pod": ev.pods[0] if ev.pods else ""})


@check("thread-dumps", needs=("thread-dumps",), causes=("deadlock", "database", "overload"), params=PARAMS,
       facts=("code_location", "code_locations", "lock_sites", "pod", "pods", "threads", "lock", "locks", "blocked",
              "holder", "requests_stopped", "request_threads", "pool", "pool_size", "waiting", "resource", "minutes",
              "namespace", "stuck_pods", "jvm_pid", "jvm_container", "python_pid", "go_pod",
              "stuck_deployment", "stuck_pod_1", "stuck_pod_2", "stuck_pod_3"))
def thread_dumps(ev: Evidence, p: Mapping[str, Param]) -> list[Finding]:
    """Thread dumps: lock cycles, contention, pools waiting on the database or a slow call."""
    td = ev.threads
    if td is None or not td.dumps:
        return []
    in_cycle = {(c.pod, t) for c in td.cycles for t in c.threads}
    behind = {(h.pod, h.owner): h for h in td.hotspots if h.owner is not None and (h.pod, h.owner) in in_cycle}
    findings = _cycle_findings(td, p, behind) + _hotspot_findings(td, p, in_cycle) + _go_findings(td, p)
    if findings:
        # every stuck pod named by a finding, restarted together once the dumps are taken
        stuck = list(dict.fromkeys(x for f in findings for x in
                                   (str(f.facts.get("pods") or f.facts.get("pod") or "")).split(", ") if x))
        extra = restart_facts(ev, stuck)
        if ev.kubernetes is not None and ev.kubernetes.namespace:
            extra["namespace"] = ev.kubernetes.namespace
        findings = [replace(f, facts={**f.facts, **extra}) for f in findings]
    if not findings:
        against = _against(td, p)
        if against is not None:
            findings.append(against)
    # A dump taken before the incident window shows how the pod was then, not during the incident.
    pinned = [f for f in (_pinning_finding(c, p) for c in td.pinning) if f is not None]
    extra_findings = _pool_findings(td, p) + _go_db_findings(td, p) + pinned
    return [replace(f, stale=stale_dumps(ev, td, f),
                    facts={**dump_facts(td, str(f.facts.get("pod") or "")), **f.facts})
            for f in findings + extra_findings]


def stale_dumps(ev: Evidence, td: ThreadEvidence, f: Finding) -> str | None:
    """"dump taken 3 h before the incident" when every dump of the finding's pods was taken before the
    incident window; None when one was taken within or after it, or any is undated (Go and py-spy dumps
    carry no time), since then the finding may well show the incident."""
    pods = set(str(f.facts.get("pods") or f.facts.get("pod") or "").split(", ")) - {""}
    dumps = [d for d in td.dumps if d.pod in pods] or list(td.dumps)
    # A JVM prints its local time without a zone; pods run in UTC unless told otherwise.
    times = [d.taken_at if d.taken_at is None or d.taken_at.tzinfo else d.taken_at.replace(tzinfo=timezone.utc)
             for d in dumps]
    dated = [t for t in times if t is not None]
    if not dated or len(dated) < len(times) or max(dated) >= ev.window.start:
        return None
    return f"dump taken {age((ev.window.onset - max(dated)).total_seconds())} before the incident"
