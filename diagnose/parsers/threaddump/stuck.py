"""Several dumps of one pod taken seconds apart: a thread in the same frame in every one is stuck, not
busy. A busy thread's stack moves between dumps; an idle worker's does not, and is left out."""

from __future__ import annotations

from ...model.threads import StuckThread, ThreadDump, ThreadInfo
from .frames import app_frame, is_idle

CPU_BUSY_MS = 50.0  # CPU time gained between dumps above which a thread was running, not stuck
DEPTH = 8            # frames compared: the top of the stack is where a thread spends its time


def _sig(t: ThreadInfo) -> tuple[str, tuple[tuple[str, str], ...]]:
    return t.state, tuple((f.function, f.location) for f in t.frames[:DEPTH])


def _burned_cpu(a: ThreadInfo, b: ThreadInfo) -> bool:
    """CPU time that grew between two dumps: the thread ran, whatever frame the dumps caught it in."""
    return a.cpu_ms is not None and b.cpu_ms is not None and b.cpu_ms - a.cpu_ms > CPU_BUSY_MS


def find_stuck(dumps: list[ThreadDump]) -> list[StuckThread]:
    """Threads of one pod's dumps (in time order) whose top frames never change. Needs two dumps or more."""
    if len(dumps) < 2:
        return []
    first, rest = dumps[0], dumps[1:]
    later = [{t.name: t for t in d.threads} for d in rest]
    stamps = [d.taken_at for d in dumps if d.taken_at is not None]
    span = (max(stamps) - min(stamps)).total_seconds() if len(stamps) == len(dumps) else None
    out = []
    for t in first.threads:
        if not t.frames or is_idle(t):
            continue
        if t.wait_kind in ("sleep", "object-wait") and not t.held:
            continue        # a sleep or wait() by design (a scheduler loop, a queue), not a hang
        sig = _sig(t)
        if all((o := m.get(t.name)) is not None and _sig(o) == sig and not _burned_cpu(t, o) for m in later):
            out.append(StuckThread(pod=first.pod, thread=t.name, state=t.state, frame=app_frame(t.frames),
                                   dumps=len(dumps), span_seconds=span))
    return out
