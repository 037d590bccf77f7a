"""Everything the dumps show, per pod: lock cycles (in every dump, counted), contention hot spots, pool
waits, goroutine waits, outbound calls, goroutine piles and pinned carriers (from each pod's latest dump), stuck threads
(across a pod's dumps)."""

from __future__ import annotations

from collections import Counter

from ...model.threads import Frame, GoroutineWait, LockCycle, ThreadDump, ThreadEvidence
from .frames import app_frame, is_idle
from .locks import acquiring, find_cycles, find_hotspots, owners
from .outbound import find_outbound, find_piles, notes_for
from .pinning import find_pinning
from .pools import find_pool_waits
from .stuck import find_stuck


def by_pod(dumps: list[ThreadDump] | tuple[ThreadDump, ...]) -> dict[str, list[ThreadDump]]:
    out: dict[str, list[ThreadDump]] = {}
    for d in dumps:
        out.setdefault(d.pod, []).append(d)
    return out


def goroutine_waits(dump: ThreadDump) -> list[GoroutineWait]:
    """Goroutines parked for a minute or more, grouped by wait reason and the application frame."""
    groups: dict[tuple[str, str], list[float]] = {}
    frames: dict[tuple[str, str], Frame | None] = {}
    for t in dump.threads:
        if t.wait_minutes is None or is_idle(t):     # JVM and Python threads carry no minutes
            continue
        f = app_frame(t.frames)
        key = (t.raw_state, f.function if f else "")
        groups.setdefault(key, []).append(t.wait_minutes)
        frames[key] = f
    return sorted((GoroutineWait(pod=dump.pod, source=dump.source, reason=k[0], count=len(v), max_minutes=max(v),
                                 frame=frames[k]) for k, v in groups.items()), key=lambda g: (-g.count, -g.max_minutes))


def analyze(dumps: list[ThreadDump], notes: list[str] | tuple[str, ...] = ()) -> ThreadEvidence:
    cycles: list[LockCycle] = []
    hotspots, pools, stuck, gwaits, outbound, piles, pinning = [], [], [], [], [], [], []
    for _pod, ds in by_pod(dumps).items():
        seen: Counter[frozenset[str]] = Counter()
        last: dict[frozenset[str], LockCycle] = {}
        latest = ds[-1]
        held_by, waiters = owners(latest), acquiring(latest)     # shared by the cycles and hot spots of `latest`
        for d in ds:
            for c in (find_cycles(d, held_by, waiters) if d is latest else find_cycles(d)):
                k = frozenset(c.threads)
                seen[k] += 1
                last[k] = c
        cycles.extend(LockCycle(pod=c.pod, source=c.source, edges=c.edges, jvm_reported=c.jvm_reported,
                                dumps_seen=seen[k]) for k, c in last.items())
        hotspots.extend(find_hotspots(latest, held_by=held_by, waiters=waiters))
        pools.extend(find_pool_waits(latest, ds[0]))
        gwaits.extend(goroutine_waits(latest))
        outbound.extend(find_outbound(latest))
        piles.extend(find_piles(latest))
        pinning.extend(find_pinning(latest))
        stuck.extend(find_stuck(ds))
    all_notes = list(notes) + [n for d in dumps for n in d.notes] + notes_for(outbound, piles)
    return ThreadEvidence(dumps=tuple(dumps), cycles=tuple(cycles), hotspots=tuple(hotspots), pools=tuple(pools),
                          stuck=tuple(stuck), goroutine_waits=tuple(gwaits), outbound=tuple(outbound),
                          piles=tuple(piles), pinning=tuple(pinning), notes=tuple(all_notes))
