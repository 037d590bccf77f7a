"""`jcmd <pid> Thread.dump_to_file <file>` as plain text (JDK 21+, the default `-format=plain`), written by
`jdk.internal.vm.ThreadDumper`: the pid, the time, the runtime version, then one block per thread, virtual
threads included.

    32753
    2026-11-30T20:58:53.579984426Z
    25.0.3+9-LTS

    #22 "price-loader" virtual TIMED_WAITING 2026-11-30T20:58:53.596478229Z
        at java.base/java.lang.VirtualThread.parkOnCarrierThread(VirtualThread.java:819)
        - waiting on <java.lang.ref.ReferenceQueue$Lock@30f376d6>

JDK 21 prints `#<tid> "<name>"` and ` virtual` only; JDK 24+ adds the state and the time (as in the real JDK 25
dump of tests/data/threaddumps/jdk25_pinned_plain.txt). The carrier of a virtual thread is not printed.
"""

from __future__ import annotations

import re
from datetime import datetime

from ...model.threads import LockRef, State, ThreadDump, ThreadInfo, WaitKind
from .jvm_json import _frame, _lock

_HEAD = re.compile(r"\A\s*(?P<pid>\d+)\r?\n(?P<time>\d{4}-\d\d-\d\dT[\d:.]+Z?)\r?\n(?P<version>[^\r\n]*)")
_THREAD = re.compile(r'^#(?P<tid>\d+) "(?P<name>.*)"(?P<virtual> virtual)?(?: (?P<state>[A-Z_]+))?(?: \S+)?\r?$',
                     re.M)
_FRAME = re.compile(r"^[ \t]+at (?P<frame>\S[^\r\n]*?)\r?$", re.M)
_LOCK = re.compile(r"^[ \t]+- (?P<what>locked|waiting to lock|waiting on|parking to wait for) <(?P<obj>[^>\r\n]*)>",
                   re.M)
_STATES = {"RUNNABLE", "BLOCKED", "WAITING", "TIMED_WAITING", "NEW", "TERMINATED"}
_KINDS: dict[str, WaitKind] = {"waiting to lock": "monitor", "waiting on": "object-wait",
                               "parking to wait for": "park"}


def looks_like(text: str) -> bool:
    head = _HEAD.match(text[:400])
    return head is not None and _THREAD.search(text, head.end(), head.end() + 4000) is not None


def _thread(m: re.Match[str], block: str) -> ThreadInfo:
    frames = tuple(_frame(f.group("frame")) for f in _FRAME.finditer(block))
    held: list[LockRef] = []
    waiting: LockRef | None = None
    kind: WaitKind | None = None
    for lk in _LOCK.finditer(block):
        ref = _lock(lk.group("obj"))
        if ref is None:
            continue
        if lk.group("what") == "locked":
            held.append(ref)
        elif waiting is None:
            waiting, kind = ref, _KINDS[lk.group("what")]
    if kind == "object-wait" and waiting is not None:
        held = [h for h in held if h.id != waiting.id]       # Object.wait() released the monitor it waits on
    top = frames[0].function if frames else ""
    if kind is None and top.endswith(("Thread.sleep0", "Thread.sleepNanos0")):
        kind = "sleep"
    st = m.group("state") or ""
    state: State = st if st in _STATES else {  # type: ignore[assignment]
        "monitor": "BLOCKED", "object-wait": "WAITING", "park": "WAITING", "sleep": "TIMED_WAITING"}.get(
        kind or "", "UNKNOWN")
    return ThreadInfo(name=m.group("name"), state=state, frames=frames, tid=m.group("tid"), waiting_for=waiting,
                      wait_kind=kind, held=tuple(held), virtual=m.group("virtual") is not None,
                      raw_state=m.group(0).split('"', 2)[-1].strip())


def parse(text: str, source: str, pod: str) -> list[ThreadDump]:
    head = _HEAD.match(text[:400])
    heads = list(_THREAD.finditer(text, head.end() if head else 0))
    threads = [_thread(h, text[h.end():heads[i + 1].start() if i + 1 < len(heads) else len(text)])
               for i, h in enumerate(heads)]
    taken = None
    if head is not None:
        try:
            taken = datetime.fromisoformat(head.group("time")[:26].rstrip("Z") + "+00:00")
        except ValueError:
            pass
    notes = () if threads else (f"{source}: Thread.dump_to_file output holds no thread",)
    return [ThreadDump(source=source, pod=pod, format="jvm-plain", threads=tuple(threads), taken_at=taken,
                       runtime=head.group("version") if head else "", notes=notes)]
