"""Pool exhaustion: the workers of one pool (threads named <pool>-<n>) waiting in the same place.

Workers idle on their queue are healthy; workers all waiting for a database connection point at the
database; all waiting on a socket read or the same call point at a slow dependency or too few workers.
"""

from __future__ import annotations

from collections import Counter
from typing import Optional

from ...model.threads import Frame, PoolWait, State, ThreadDump, ThreadInfo, WaitKind
from .frames import app_frame, db_wait, idle_state, is_idle, is_runtime, is_socket_read, pool_name

MIN_POOL = 3


def _signature(t: ThreadInfo) -> "_Signature | None":
    """(resource, detail, frame) of what a worker waits for; None when it is idle or computing."""
    db = db_wait(t)
    if db is not None:
        return db[0], db[1], app_frame(t.frames)
    if is_idle(t):
        return None
    frame = app_frame(t.frames)
    if t.wait_kind in ("monitor", "park", "semacquire") and t.waiting_for is not None and t.state != "RUNNABLE":
        return "lock", t.waiting_for.label, frame
    if is_socket_read(t):
        return "socket-read", t.frames[0].function if t.frames else "", frame
    if t.state == "RUNNABLE" or not t.frames or is_runtime(frame):
        return None          # computing, or waiting inside the runtime's own machinery (a work queue)
    return "other", t.frames[0].function, frame


_Signature = tuple[str, str, Frame | None]
_MemoKey = tuple[int, State, Optional[WaitKind], int, bool]      # see _memo_signature


def _memo_signature(t: ThreadInfo, memo: dict[_MemoKey, _Signature | None]) -> _Signature | None:
    """_signature, once per stack: threads parsed from one stack share their frames tuple and lock, so the
    key is their identity (alive in the dump for the memo's lifetime) and the few per-thread values it reads."""
    if not t.frames:
        return _signature(t)             # idle or not by its raw state alone: no sharing to gain
    key = (id(t.frames), t.state, t.wait_kind, id(t.waiting_for), idle_state(t.raw_state))
    try:
        return memo[key]
    except KeyError:
        s = memo[key] = _signature(t)
        return s


def _computing(t: ThreadInfo) -> bool:
    """RUNNABLE in application code: not in I/O, not idle in a selector, not only in runtime frames."""
    return t.state == "RUNNABLE" and t.wait_kind is None and bool(t.frames) and not is_idle(t) \
        and not is_runtime(app_frame(t.frames))


def _cpu_saturated(dump: ThreadDump, name: str, members: list[ThreadInfo],
                   earlier: dict[str, ThreadInfo]) -> PoolWait | None:
    """Every worker of the pool computing: a fixed pool saturated by CPU, whatever the queue behind it holds."""
    if not all(_computing(t) for t in members):
        return None
    frame, _ = Counter(app_frame(t.frames) for t in members).most_common(1)[0]
    # CPU time that grew between dumps confirms the workers ran all along (a stack alone is one instant).
    grown = [t.cpu_ms - e.cpu_ms for t in members if (e := earlier.get(t.name)) is not None
             and t.cpu_ms is not None and e.cpu_ms is not None]
    detail = "computing in application code"
    if grown:
        detail += f", CPU time +{min(grown):.0f} ms or more per worker between dumps"
    return PoolWait(pod=dump.pod, source=dump.source, pool=name, size=len(members), waiting=len(members),
                    frame=frame, resource="cpu", detail=detail)


def find_pool_waits(dump: ThreadDump, first: ThreadDump | None = None) -> list[PoolWait]:
    """Pools waiting in one place, and pools every worker of which computes (`first`: an earlier dump of the
    same pod, to tell how much CPU the workers burned in between)."""
    memo: dict[_MemoKey, _Signature | None] = {}
    pools: dict[str, list[ThreadInfo]] = {}
    for t in dump.threads:
        p = pool_name(t.name)
        if p:
            pools.setdefault(p, []).append(t)
    out = []
    earlier: dict[str, ThreadInfo] | None = None
    for name, members in pools.items():
        if len(members) < MIN_POOL:
            continue
        sigs = Counter(s for s in (_memo_signature(t, memo) for t in members) if s is not None)
        if not sigs:
            if earlier is None:
                earlier = {t.name: t for t in first.threads} if first is not None and first is not dump else {}
            cpu = _cpu_saturated(dump, name, members, earlier)
            if cpu is not None:
                out.append(cpu)
            continue
        (resource, detail, frame), n = sigs.most_common(1)[0]
        if n < 2:
            continue
        if resource == "lock":
            # A pool stuck on one lock is the hot spot's story; count everyone on any lock in the pool.
            n = sum(c for (r, _, _), c in sigs.items() if r == "lock")
        out.append(PoolWait(pod=dump.pod, source=dump.source, pool=name, size=len(members), waiting=n,
                            frame=frame, resource=resource, detail=detail))
    out.sort(key=lambda p: -p.waiting)
    return out
