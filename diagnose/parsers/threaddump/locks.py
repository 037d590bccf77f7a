"""Who holds what, who waits for whom: lock cycles and contention hot spots, found from the owner and
waiter edges of one dump (monitors and java.util.concurrent ownable synchronizers alike), whether or not
the JVM printed its own "Found one Java-level deadlock".
"""

from __future__ import annotations

from collections import Counter

from ...model.threads import CycleEdge, HotSpot, LockCycle, LockRef, ThreadDump, ThreadInfo
from .frames import app_frame, lock_key

# Waits that need another thread to let go of a lock (not Object.wait() or a condition, which need a signal).
_ACQUIRING = ("monitor", "park", "semacquire")


def owners(dump: ThreadDump) -> dict[str, ThreadInfo]:
    """lock key -> the thread holding it."""
    out: dict[str, ThreadInfo] = {}
    for t in dump.threads:
        for ref in t.held:
            out.setdefault(lock_key(ref.id), t)
    return out


def _waiting_edge(t: ThreadInfo, held_by: dict[str, ThreadInfo], by_name: dict[str, ThreadInfo]) -> ThreadInfo | None:
    if t.waiting_for is None or t.wait_kind not in _ACQUIRING:
        return None
    owner = held_by.get(lock_key(t.waiting_for.id))
    if owner is None and t.owner_hint:
        owner = by_name.get(t.owner_hint)
    return owner if owner is not None and owner is not t else None


def find_cycles(dump: ThreadDump) -> list[LockCycle]:
    held_by = owners(dump)
    by_name = {t.name: t for t in dump.threads}
    nxt: dict[int, ThreadInfo] = {}
    for t in dump.threads:
        o = _waiting_edge(t, held_by, by_name)
        if o is not None:
            nxt[id(t)] = o
    # Each thread waits for at most one lock, so the wait-for graph is a functional graph: follow each
    # chain once, colouring as we go; a chain that meets its own colour closed a cycle.
    colour: dict[int, int] = {}
    cycles: list[LockCycle] = []
    reported = [frozenset(names) for names in dump.jvm_deadlocks]
    for start in dump.threads:
        path: list[ThreadInfo] = []
        cur: ThreadInfo | None = start
        while cur is not None and id(cur) not in colour:
            colour[id(cur)] = id(start)
            path.append(cur)
            cur = nxt.get(id(cur))
        if cur is None or colour.get(id(cur)) != id(start):
            continue
        ring = path[path.index(cur):]
        edges = []
        for i, t in enumerate(ring):
            holder = ring[(i + 1) % len(ring)]
            assert t.waiting_for is not None
            edges.append(CycleEdge(thread=t.name, waits_for=t.waiting_for, held_by=holder.name,
                                   frame=app_frame(t.frames), holds=t.held))
        names = frozenset(e.thread for e in edges)
        cycles.append(LockCycle(pod=dump.pod, source=dump.source, edges=tuple(edges),
                                jvm_reported=names in reported))
    return cycles


def find_hotspots(dump: ThreadDump, min_waiters: int = 2) -> list[HotSpot]:
    """Locks with at least `min_waiters` threads waiting to acquire them, most waiters first."""
    held_by = owners(dump)
    waiting: dict[str, list[ThreadInfo]] = {}
    refs: dict[str, LockRef] = {}
    for t in dump.threads:
        if t.waiting_for is None or t.wait_kind not in _ACQUIRING:
            continue
        if t.wait_kind == "park" and not _is_lock(t.waiting_for, held_by):
            continue      # parked on a condition or a queue: waiting for a signal, not for a lock
        k = lock_key(t.waiting_for.id)
        waiting.setdefault(k, []).append(t)
        refs.setdefault(k, t.waiting_for)
    by_name = {t.name: t for t in dump.threads}
    out = []
    for k, ws in waiting.items():
        if len(ws) < min_waiters:
            continue
        owner = held_by.get(k)
        if owner is None and ws[0].owner_hint:
            owner = by_name.get(ws[0].owner_hint)
        frames = Counter(app_frame(w.frames) for w in ws)
        out.append(HotSpot(pod=dump.pod, source=dump.source, lock=refs[k], waiters=tuple(w.name for w in ws),
                           waiter_frame=frames.most_common(1)[0][0], owner=owner.name if owner else None,
                           owner_state=(owner.state + (f" ({owner.raw_state})" if owner.raw_state and
                                                       owner.state == "UNKNOWN" else "")) if owner else "",
                           owner_frame=app_frame(owner.frames) if owner else None,
                           total_threads=len(dump.threads)))
    out.sort(key=lambda h: -len(h.waiters))
    return out


def _is_lock(ref: LockRef, held_by: dict[str, ThreadInfo]) -> bool:
    return lock_key(ref.id) in held_by or ref.class_name.endswith(("Sync", "Lock", "Semaphore", "Mutex"))
