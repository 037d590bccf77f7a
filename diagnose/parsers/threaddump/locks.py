"""Who holds what, who waits for whom: lock cycles and contention hot spots, found from the owner and
waiter edges of one dump (monitors and java.util.concurrent ownable synchronizers alike), whether or not
the JVM printed its own "Found one Java-level deadlock".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from ...model.threads import CycleEdge, HotSpot, LockCycle, LockRef, ThreadDump, ThreadInfo
from .frames import app_frame, is_request_thread, lock_key, request_pool

# Waits that need another thread to let go of a lock (not Object.wait() or a condition, which need a signal).
_ACQUIRING = frozenset(("monitor", "park", "semacquire"))


def owners(dump: ThreadDump) -> dict[str, ThreadInfo]:
    """lock key -> the thread holding it (the first, in dump order)."""
    out: dict[str, ThreadInfo] = {}
    # Threads with the same stack share one `held` tuple: its lock keys are computed once.
    keys: dict[int, list[str]] = {}
    for t in dump.threads:
        held = t.held
        if held:
            ks = keys.get(id(held))
            if ks is None:
                ks = keys[id(held)] = [lock_key(r.id) for r in held]
            for k in ks:
                if k not in out:
                    out[k] = t
    return out


def acquiring(dump: ThreadDump) -> list[ThreadInfo]:
    """The threads waiting to acquire a lock someone may hold, in dump order."""
    return [t for t in dump.threads if t.waiting_for is not None and t.wait_kind in _ACQUIRING]


class _Names:
    """name -> thread, built on first use: only the JMX / VisualVM forms, which name a lock's owner
    instead of showing what it holds, need it, and it costs a dict entry per thread."""

    def __init__(self, dump: ThreadDump) -> None:
        self._dump = dump
        self._map: dict[str, ThreadInfo] | None = None

    def get(self, name: str) -> ThreadInfo | None:
        if self._map is None:
            self._map = {t.name: t for t in self._dump.threads}
        return self._map.get(name)


def _owner(t: ThreadInfo, held_by: dict[str, ThreadInfo], by_name: _Names) -> ThreadInfo | None:
    assert t.waiting_for is not None
    owner = held_by.get(lock_key(t.waiting_for.id))
    if owner is None and t.owner_hint:
        owner = by_name.get(t.owner_hint)
    return owner


def find_cycles(dump: ThreadDump, held_by: dict[str, ThreadInfo] | None = None,
                waiters: list[ThreadInfo] | None = None) -> list[LockCycle]:
    """Lock cycles of one dump. `held_by` and `waiters` (owners() and acquiring() of the dump) may be
    passed in when the caller has them already."""
    held_by = owners(dump) if held_by is None else held_by
    by_name = _Names(dump)
    nxt: dict[int, ThreadInfo] = {}
    starts: list[ThreadInfo] = []
    for t in acquiring(dump) if waiters is None else waiters:
        o = _owner(t, held_by, by_name)
        if o is not None and o is not t:
            nxt[id(t)] = o
            starts.append(t)
    # Each thread waits for at most one lock, so the wait-for graph is a functional graph: follow each
    # chain once, colouring as we go; a chain that meets its own colour closed a cycle. Only threads with
    # an edge can start a cycle (a chain from any other thread ends at once), so only they are walked.
    colour: dict[int, int] = {}
    cycles: list[LockCycle] = []
    reported = [frozenset(names) for names in dump.jvm_deadlocks]
    for start in starts:
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


def find_hotspots(dump: ThreadDump, min_waiters: int = 2, held_by: dict[str, ThreadInfo] | None = None,
                  waiters: list[ThreadInfo] | None = None) -> list[HotSpot]:
    """Locks with at least `min_waiters` threads waiting to acquire them, most waiters first."""
    held_by = owners(dump) if held_by is None else held_by
    waiting: dict[str, list[ThreadInfo]] = {}
    refs: dict[str, LockRef] = {}
    for t in acquiring(dump) if waiters is None else waiters:
        assert t.waiting_for is not None
        if t.wait_kind == "park" and not _is_lock(t.waiting_for, held_by):
            continue      # parked on a condition or a queue: waiting for a signal, not for a lock
        k = lock_key(t.waiting_for.id)
        waiting.setdefault(k, []).append(t)
        refs.setdefault(k, t.waiting_for)
    by_name = _Names(dump)
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
    return _by_requests_stopped(dump, out, waiting, held_by, by_name)


def _by_requests_stopped(dump: ThreadDump, spots: list[HotSpot], waiting: dict[str, list[ThreadInfo]],
                         held_by: dict[str, ThreadInfo], by_name: _Names) -> list[HotSpot]:
    """The hot spots with what they cost callers, the most request threads stopped first. The dump's request
    threads are counted only when a hot spot holds one (a pass over every thread of a big dump)."""
    out = []
    total: int | None = None
    for h in spots:
        k = lock_key(h.lock.id)
        req = [w for w in waiting[k] if is_request_thread(w)]
        owner = held_by.get(k) or (by_name.get(h.owner) if h.owner else None)
        holder = owner is not None and is_request_thread(owner)
        if req or holder:
            if total is None:
                total = sum(1 for t in dump.threads if is_request_thread(t))
            first = req[0] if req else owner
            assert first is not None
            h = replace(h, request_waiters=len(req), request_holder=holder, request_threads=total,
                        request_pool=request_pool(first.name))
        out.append(h)
    out.sort(key=lambda h: (-h.request_share, -len(h.waiters)))
    return out


def _is_lock(ref: LockRef, held_by: dict[str, ThreadInfo]) -> bool:
    return lock_key(ref.id) in held_by or ref.class_name.endswith(("Sync", "Lock", "Semaphore", "Mutex"))
