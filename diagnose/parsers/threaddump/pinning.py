"""Virtual threads pinning their carriers (JDK 21+).

A virtual thread runs mounted on a carrier, a platform thread of the scheduler's pool (`ForkJoinPool-1-worker-N`,
as many as cores by default). When it blocks it unmounts and frees the carrier, unless it is pinned: then it
blocks the carrier with it. JDK 21-23 pin a virtual thread that blocks inside `synchronized` or `Object.wait()`;
JDK 24 (JEP 491) no longer does, but every JDK still pins one that blocks in a class initializer, or waits for
another thread to run one, or blocks under a native frame. What the dumps show (the JDK's
java.lang.VirtualThread: `park`/`parkNanos` call `parkOnCarrierThread` when the continuation cannot yield):

- a virtual thread whose frames hold `VirtualThread.parkOnCarrierThread` parks pinned (every format);
- a mounted virtual thread (jstack's "Mounted virtual thread #N" under its carrier, JDK 22+; the JSON dump's
  `carrier`, JDK 25; JDK 21 jstack's frames above `Continuation.enter` on the carrier) waiting on a monitor,
  in `Object.wait()` or on a class initialization is blocked on its carrier.
"""

from __future__ import annotations

from collections import Counter
from itertools import compress
from operator import attrgetter, or_
from typing import NamedTuple

from ...model.threads import CarrierPinning, Frame, LockRef, ThreadDump, ThreadInfo
from .frames import _alternation, _search, app_frame, lock_key, pool_name
from .jvm_text import MAX_FRAMES
from .locks import owners

_RUN = "jdk.internal.vm.Continuation.run"
_ENTER = "jdk.internal.vm.Continuation.enter"
_PARK_PINNED = "java.lang.VirtualThread.parkOnCarrierThread"
# Continuation.enter (JDK 21's virtual frames over the carrier's) first: at one offset the first alternative wins.
_CONTINUATION_RE = _alternation((_ENTER, _RUN))
_FRAMES = attrgetter("frames")
_VIRTUAL = attrgetter("virtual")


class _Mounted(NamedTuple):
    name: str
    frames: tuple[Frame, ...]
    t: ThreadInfo


def _fn(f: Frame) -> str:
    return f.function.rsplit("/", 1)[-1]


def _continuations(frames: list[tuple[Frame, ...]]) -> dict[int, str | None]:
    """id(frames) -> the Continuation frame that stack holds (its thread carries a virtual thread), or None.
    Threads parsed from one stack share its frames tuple, so each distinct stack is searched once."""
    by_id = dict(zip(map(id, frames), frames, strict=True))
    return {k: _search(_CONTINUATION_RE, f, MAX_FRAMES) if f else None for k, f in by_id.items()}


def _mounted(threads: list[ThreadInfo]) -> list[_Mounted]:
    out = []
    for t in threads:
        if t.virtual:
            out.append(_Mounted(t.name, t.frames, t))
            continue
        # JDK 21 jstack: the virtual thread's frames on top of the carrier's, down to Continuation.enter.
        k = next((i for i, f in enumerate(t.frames) if _fn(f).startswith(_ENTER)), 0)
        if k > 0:
            out.append(_Mounted(f"virtual thread on {t.name}", t.frames[:k], t._replace(carrier=t.name)))
    return out


def _pinned_reason(m: _Mounted) -> str | None:
    fns = [_fn(f) for f in m.frames]
    clinit = next((f for f in fns if f.endswith(".<clinit>")), None)
    t = m.t
    if any(f == _PARK_PINNED for f in fns):
        if clinit is not None:
            return f"blocked in {clinit.rsplit('.', 2)[-2]}'s class initializer"
        if t.held:
            return "blocked holding a monitor (synchronized)"
        return "parked while pinned"
    if not t.carrier:
        return None
    if t.waiting_for is not None and t.waiting_for.id == "class-init":
        return f"waiting for {t.waiting_for.class_name.rsplit('.', 1)[-1] or 'a class'}'s class initializer"
    if t.wait_kind == "monitor" or t.state == "BLOCKED":
        return "blocked entering synchronized"
    if t.wait_kind == "object-wait":
        return "in Object.wait()"
    return None


def _holder(dump: ThreadDump, lock: LockRef | None) -> ThreadInfo | None:
    if lock is None:
        return None
    if lock.id == "class-init":
        init = lock.class_name + ".<clinit>"
        return next((t for t in dump.threads if any(_fn(f) == init for f in t.frames[:64])), None)
    return owners(dump).get(lock_key(lock.id))


def find_pinning(dump: ThreadDump) -> list[CarrierPinning]:
    # Written with map/compress, no Python loop per thread: a 50 MB dump holds 85k threads, and most dumps
    # hold no virtual thread at all.
    frames = list(map(_FRAMES, dump.threads))
    cont = _continuations(frames)
    enter = {k for k, v in cont.items() if v == _ENTER}
    candidates = list(compress(dump.threads, map(or_, map(_VIRTUAL, dump.threads),
                                                   map(enter.__contains__, map(id, frames)))))
    pinned = [(m, r) for m in _mounted(candidates) if (r := _pinned_reason(m)) is not None]
    if not pinned:
        return []
    carriers = {p for t in dump.threads if not t.virtual and cont[id(t.frames)] if (p := pool_name(t.name))}
    pool = Counter(pool_name(m.t.carrier) or "" for m, _ in pinned if m.t.carrier).most_common(1)
    name = pool[0][0] if pool and pool[0][0] else (min(carriers) if carriers else "carrier")
    size = sum(1 for t in dump.threads if not t.virtual and pool_name(t.name) == name)
    (reason, frame), _ = Counter((r, app_frame(m.frames)) for m, r in pinned).most_common(1)[0]
    lock = next((m.t.waiting_for for m, r in pinned if r == reason and m.t.waiting_for is not None), None)
    holder = _holder(dump, lock)
    # a virtual thread with no frame that is not done has not run yet: it waits for a carrier
    queued = sum(1 for t in dump.threads if t.virtual and not t.frames and t.state in ("RUNNABLE", "UNKNOWN"))
    return [CarrierPinning(pod=dump.pod, source=dump.source, pool=name, carriers=max(size, len(pinned)),
                           pinned=tuple(m.name for m, _ in pinned), reason=reason, frame=frame, lock=lock,
                           holder=holder.name if holder else None,
                           holder_frame=app_frame(holder.frames) if holder else None, queued=queued)]
