"""`jcmd <pid> Thread.dump_to_file -format=json` (JDK 21+, virtual threads included).

JDK 21 writes names and stacks only; later JDKs add `state`, `blockedOn`, `waitingOn`, `parkBlocker` and
`monitorsOwned`, which are read when present.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from ...errors import EvidenceError
from ...model.threads import Frame, LockRef, State, ThreadDump, ThreadInfo, WaitKind

_FRAME = re.compile(r"^(?:(?P<mod>[^/()]+)/)?(?P<fn>[^(]+)(?:\((?P<loc>.*)\))?$")
_STATES = {"RUNNABLE", "BLOCKED", "WAITING", "TIMED_WAITING", "NEW", "TERMINATED"}


def looks_like(text: str) -> bool:
    return text.lstrip()[:1] == "{" and '"threadDump"' in text[:2000]


def _lock(v: Any) -> LockRef | None:
    if isinstance(v, dict):
        v = v.get("object")
    if not isinstance(v, str) or not v:
        return None
    cls, _, h = v.rpartition("@")
    return LockRef("0x" + h, cls) if cls else LockRef(v)


def _frame(s: str) -> Frame:
    m = _FRAME.match(s.replace("\\/", "/"))
    if not m:
        return Frame(s)
    loc = m.group("loc") or ""
    return Frame(m.group("fn"), (m.group("mod") + "/" + loc) if m.group("mod") and loc else loc)


def _thread(t: dict[str, Any], virtual: bool) -> ThreadInfo:
    frames = tuple(_frame(str(s)) for s in t.get("stack") or [] if isinstance(s, str))
    state = str(t.get("state", "")).upper()
    top = frames[0].function if frames else ""
    kind: WaitKind | None = None
    waiting = _lock(t.get("blockedOn")) or _lock(t.get("parkBlocker")) or _lock(t.get("waitingOn"))
    if t.get("blockedOn"):
        kind = "monitor"
    elif t.get("parkBlocker") or top.endswith("Unsafe.park"):
        kind = "park"
    elif t.get("waitingOn") or top.endswith(("Object.wait0", "Object.wait")):
        kind = "object-wait"
    elif top.endswith(("Thread.sleep0", "Thread.sleep", "Thread.sleepNanos0")):
        kind = "sleep"
    if state not in _STATES:
        state = {"monitor": "BLOCKED", "park": "WAITING", "object-wait": "WAITING", "sleep": "TIMED_WAITING"}.get(
            kind or "", "RUNNABLE")
    held = [_lock(x) for m in t.get("monitorsOwned") or [] if isinstance(m, dict) for x in m.get("locks") or []]
    owner = t.get("parkBlocker", {}).get("owner") if isinstance(t.get("parkBlocker"), dict) else None
    st: State = state  # type: ignore[assignment]
    carrier = t.get("carrier")     # JDK 25: the tid of the platform thread a mounted virtual thread runs on
    return ThreadInfo(name=str(t.get("name", "")) or f"#{t.get('tid', '?')}", state=st, frames=frames,
                      tid=str(t.get("tid", "")), waiting_for=waiting, wait_kind=kind,
                      held=tuple(h for h in held if h is not None), virtual=virtual or t.get("virtual") is True,
                      owner_hint=f"#{owner}" if owner else None,
                      carrier=f"#{carrier}" if isinstance(carrier, (str, int)) and carrier != "" else "")


def parse(text: str, source: str, pod: str) -> list[ThreadDump]:
    try:
        doc = json.loads(text)
        td = doc["threadDump"]
        containers = td.get("threadContainers") or []
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise EvidenceError(f"{source}: not a jcmd JSON thread dump ({type(e).__name__}: {e})") from None
    threads: list[ThreadInfo] = []
    skipped = 0
    for c in containers:
        if not isinstance(c, dict):
            skipped += 1
            continue
        virtual = c.get("container") not in ("<root>", None) and "ForkJoinPool" not in str(c.get("container"))
        for t in c.get("threads") or []:
            try:
                threads.append(_thread(t, virtual))
            except (AttributeError, TypeError, ValueError):     # not an object, or `stack: true` (tests/fuzz)
                skipped += 1
    # parkBlocker owners are thread ids: name them so the lock analysis can follow them.
    by_tid = {"#" + t.tid: t.name for t in threads if t.tid}
    threads = [t._replace(owner_hint=by_tid.get(t.owner_hint)) if t.owner_hint else t for t in threads]
    threads = [t._replace(carrier=by_tid.get(t.carrier, t.carrier)) if t.carrier else t for t in threads]
    taken = None
    try:
        taken = datetime.fromisoformat(str(td.get("time", "")).replace("Z", "+00:00"))
    except ValueError:
        pass
    notes = (f"{source}: {skipped} malformed entries skipped",) if skipped else ()
    return [ThreadDump(source=source, pod=pod, format="jvm-json", threads=tuple(threads), taken_at=taken,
                       runtime=str(td.get("runtimeVersion", "")), notes=notes)]
