"""JVM thread dumps as text: jstack / jcmd Thread.print (JDK 5 to 25, with or without -l), SIGQUIT output,
the JMX `ThreadInfo` form ("name" id=12 in BLOCKED) and VisualVM's ("name" - Thread t@12).

Speed matters (a 50 MB dump in well under a second), so the text is cut into one block per thread with
one regex and each block is read with `finditer`; no Python loop runs over every line.
"""

from __future__ import annotations

import re
from datetime import datetime
from itertools import islice
from typing import Any

from ...model.threads import Frame, LockRef, State, ThreadDump, ThreadInfo, WaitKind

MAX_FRAMES = 128            # frames kept per thread; deeper frames never decide a finding

_DUMP_START = re.compile(r"^Full thread dump.*$", re.M)
_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})\s*$")
# A thread header line ("name" rest) as a split point. The name runs to the last quote that a blank or the
# line's end follows; _SPLIT takes the first such quote (no backtracking from the line's end, a third
# faster over 50 MB), and a header whose rest holds another quote is re-read with _HEADER.
_SPLIT = re.compile(r'\n"(.*?)"((?:[ \t][^\n]*)?)\r?(?=\n|\Z)')
_HEADER = re.compile(r'"(?P<name>.*)"(?P<rest>(?:[ \t].*)?)\r?$')
_FRAME = re.compile(r"^[ \t]+at (?P<fn>[^\s(]+)(?:\((?P<loc>[^)\r\n]*)\))?", re.M)
_LOCK = re.compile(
    r"^[ \t]+- (?P<what>locked|waiting to lock|waiting on|parking to wait for|waiting to re-lock in wait\(\)"
    r"|eliminated)"
    # JDK 22+: "- waiting on the Class initialization monitor for <class>" (a thread waiting for another's <clinit>)
    r"\s+(?:the Class initialization monitor for ?(?P<cinit>\S*)"
    r"|<(?P<addr>[^>]*)>(?: \(a (?P<cls>[^)\r\n]*)\))?|(?P<obj>\S+))", re.M)
_OWNABLE = re.compile(r"^[ \t]+Locked (?:ownable )?synchronizers:.*$", re.M)
_SYNC_ITEM = re.compile(r"^[ \t]+- (?:locked )?"
                        r"(?:<(?P<addr>[^>]*)> \(a (?P<cls>[^)\r\n]*)\)|(?P<obj>[\w.$]+@[0-9a-fA-F]+))", re.M)
_STATE_LINE = re.compile(r"^[ \t]+java\.lang\.Thread\.State: (?P<state>[A-Z_]+)(?P<more>.*)$", re.M)
_JMX = re.compile(r"\bid=(?P<id>\d+) in (?P<state>[A-Z_]+)(?: on lock=(?P<lock>\S+))?")
# The rest of the line; _owner drops a trailing " id=N". (A lazy owner before `\s*$` rescanned a long run of
# blanks from each of its offsets: quadratic.)
_OWNED_BY = re.compile(r"owned by:? (?P<owner>[^\n]+)")
_VISUALVM_ON = re.compile(r" on (?P<obj>[\w.$\[;]+@[0-9a-fA-F]+)")
_DEADLOCK = re.compile(r"^Found one Java-level deadlock:.*$", re.M)
_DEADLOCK_END = re.compile(r"^Found \d+ deadlocks?\.\s*$", re.M)
_DL_ENTRY = re.compile(r'^"(?P<name>.*)":\s*$', re.M)
_NID = re.compile(r"\bnid=(\S+)")
_TID_NUM = re.compile(r"(?:^| )#(\d+)|\bid=(\d+) in ")

_HEADER_STATES: tuple[tuple[str, State, WaitKind | None], ...] = (
    ("waiting for monitor entry", "BLOCKED", "monitor"),
    ("in Object.wait()", "WAITING", "object-wait"),
    ("waiting on condition", "WAITING", "park"),
    ("sleeping", "TIMED_WAITING", "sleep"),
    ("runnable", "RUNNABLE", None),
)
_HEADER_STATE_TEXTS = tuple(enumerate(text for text, _, _ in _HEADER_STATES))
_STATES = {"RUNNABLE", "BLOCKED", "WAITING", "TIMED_WAITING", "NEW", "TERMINATED"}


def looks_like(text: str) -> bool:
    return bool(_DUMP_START.search(text, 0, 200_000)) or bool(
        re.search(r'^"[^"\n]*" .*(?:prio=|id=\d+ in |- Thread t@)', text[:200_000], re.M))


def parse(text: str, source: str, pod: str) -> list[ThreadDump]:
    """Every dump in `text`, in order. A file without a 'Full thread dump' line is read as one dump."""
    starts = _line_starts(text, "Full thread dump")
    if not starts:
        starts = [0]
    dumps: list[ThreadDump] = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        dumps.append(_parse_one(text, start, end, source, pod, i))
    return dumps


def _parse_one(text: str, start: int, end: int, source: str, pod: str, index: int) -> ThreadDump:
    notes: list[str] = []
    nl = text.find("\n", start, end)
    head_line = text[start:nl if nl >= 0 else end].strip()
    runtime = head_line[len("Full thread dump"):].strip(" :") if head_line.startswith("Full thread dump") else ""
    before = text[max(0, start - 200):start].rstrip("\r\n").rsplit("\n", 1)[-1]
    taken_at = _stamp(before)
    body = text[start:end]

    deadlocks: list[tuple[str, ...]] = []
    dl_ranges: list[tuple[int, int]] = []
    for m in (_DEADLOCK.match(body, i) for i in _line_starts(body, "Found one Java-level deadlock")):
        if m is None:
            continue
        stop = _DEADLOCK_END.search(body, m.end())
        stop_at = stop.end() if stop else len(body)
        if not stop:
            notes.append(f"{source}: deadlock report of dump {index + 1} is cut short")
        section = body[m.end():stop_at]
        info = section.split("Java stack information", 1)[0]
        names = tuple(dict.fromkeys(e.group("name") for e in _DL_ENTRY.finditer(info)))
        if names:
            deadlocks.append(names)
        dl_ranges.append((m.start(), stop_at))
    if dl_ranges:
        cut, prev = [], 0
        for a, b in dl_ranges:
            cut.append(body[prev:a])
            prev = b
        cut.append(body[prev:])
        body = "".join(cut)

    threads, last_stack = _threads(body)
    if not threads:
        notes.append(f"{source}: dump {index + 1} holds no thread (truncated or not a thread dump)")
    elif end == len(text) and not text.endswith(("\n", "\r")) and _cut_mid_thread(last_stack):
        notes.append(f"{source}: dump {index + 1} is cut short inside thread {threads[-1].name!r}")
    return ThreadDump(source=source, pod=pod, format="jvm", threads=tuple(threads), taken_at=taken_at,
                      runtime=runtime, index=index, jvm_deadlocks=tuple(deadlocks), notes=tuple(notes))


def _owner(m: re.Match[str]) -> str:
    """The owner an `owned by X id=N` names, without its id."""
    text = m.group("owner").rstrip()
    cut = text.rfind(" id=")
    return (text[:cut] if cut > 0 and text[cut + 4:].isdigit() else text).strip()


def _line_starts(text: str, prefix: str) -> list[int]:
    """Offsets of the lines starting with `prefix`. A literal search: a `^...` regex in MULTILINE mode
    tries every position of a 50 MB text, this jumps from one candidate to the next."""
    out = [0] if text.startswith(prefix) else []
    needle = "\n" + prefix
    i = text.find(needle)
    while i >= 0:
        out.append(i + 1)
        i = text.find(needle, i + 1)
    return out


def _threads(body: str) -> tuple[list[ThreadInfo], str]:
    """Every thread of one dump, and the stack text of the last (to tell a cut file).

    One `re.split` in C cuts the text at the header lines into name, rest-of-header and stack text; a quoted
    line that is not a header (a quote in a log line) is no split point, so it stays in the stack of the
    thread before it. Threads with the same header state and stack text (a pool's idle workers, a pile-up
    on one lock) share one parse of the stack: big dumps are mostly such repeats. The loop is written out
    (no call per thread) because it runs ~100k times for a 50 MB dump."""
    if body.startswith('"'):
        body = "\n" + body               # a file that starts with its first thread
    parts = _SPLIT.split(body)
    it = iter(parts)
    next(it)                             # the "Full thread dump" line and whatever precedes the first thread
    by_state: dict[int, dict[str, _StackInfo]] = {}     # header state -> stack text -> parse
    by_jmx: dict[tuple[str, str | None, str], _StackInfo] = {}
    threads: list[ThreadInfo] = []
    append = threads.append
    for name, rest, stack in zip(it, it, it, strict=False):     # one iterator taken three at a time
        if '"' in rest:
            h = _HEADER.match('"' + name + '"' + rest)
            if h is not None:
                name, rest = h.group("name", "rest")
        if " id=" in rest and (jm := _JMX.search(rest)) is not None:
            key = (jm.group("state"), jm.group("lock"), stack)
            info = by_jmx.get(key)
            if info is None:
                info = by_jmx[key] = _stack(jm, -1, stack, 0, len(stack))
        else:
            hs = -1
            for i, text in _HEADER_STATE_TEXTS:
                if text in rest:
                    hs = i
                    break
            cache = by_state.get(hs)
            if cache is None:
                cache = by_state[hs] = {}
            info = cache.get(stack)
            if info is None:
                info = cache[stack] = _stack(None, hs, stack, 0, len(stack))
        state, kind, waiting_for, held, frames, owner_hint = info
        # tuple.__new__ skips the NamedTuple's generated Python __new__: a third of the cost of a thread.
        append(_new(ThreadInfo, (name, state, frames, _tid(rest), waiting_for, kind, held,
                                 " daemon " in rest or rest.endswith(" daemon"),
                                 " virtual " in rest or rest.endswith(" virtual"),
                                 None, rest.strip(), _cpu(rest), owner_hint, "")))
        if _MOUNTED_TEXT in stack:
            _split_mounted(threads, stack)
    return threads, parts[-1] if threads else ""


# JDK 22+ jstack prints a carrier's own frames under "Carrying virtual thread #N", then the virtual thread it
# carries under "Mounted virtual thread #N" (as in the real JDK 25 dump tests/data/threaddumps/jdk25_pinned_jstack.txt);
# JDK 21 prints the virtual thread's frames on top of the carrier's, which pinning.py splits at Continuation.enter.
_MOUNTED_TEXT = "Mounted virtual thread #"
_MOUNTED = re.compile(r"^[ \t]+Mounted virtual thread #(\d+)[^\n]*$", re.M)
_MOUNTED_STATES: dict[WaitKind | None, State] = {"monitor": "BLOCKED", "object-wait": "WAITING", "park": "WAITING",
                                                 "sleep": "TIMED_WAITING"}


def _split_mounted(threads: list[ThreadInfo], stack: str) -> None:
    """The carrier just appended keeps the frames above its "Mounted virtual thread" line; the virtual thread
    below it becomes a thread of its own, carried by it. Its state is what its locks and frames say (jstack
    prints none for it)."""
    m = _MOUNTED.search(stack)
    if m is None:
        return
    carrier = threads[-1]
    c_state, c_kind, c_wait, c_held, c_frames, _ = _stack(None, -1, stack, 0, m.start())
    sync = _OWNABLE.search(stack, m.end())
    if sync is not None:            # the carrier's ownable synchronizers follow the mounted thread's frames
        c_held = c_held + tuple(_ref(x.group("addr"), x.group("cls"), x.group("obj"))
                                for x in _SYNC_ITEM.finditer(stack, sync.end()))
    threads[-1] = carrier._replace(frames=c_frames, waiting_for=c_wait, wait_kind=c_kind, held=c_held,
                                   state=c_state if c_state != "UNKNOWN" else carrier.state)
    _, kind, waiting, held, frames, _ = _stack(None, -1, stack, m.end(), sync.start() if sync else len(stack))
    state = _MOUNTED_STATES.get(kind, "RUNNABLE" if frames else "UNKNOWN")
    if frames and frames[0].function.endswith("Unsafe.park") and kind is None:
        state, kind = "WAITING", "park"
    threads.append(ThreadInfo(name=f"virtual thread #{m.group(1)}", state=state, frames=frames, tid=m.group(1),
                              waiting_for=waiting, wait_kind=kind, held=held, virtual=True,
                              raw_state=f"mounted on {carrier.name}", carrier=carrier.name))


def _cut_mid_thread(stack: str) -> bool:
    """A file that ends without a newline in a thread's stack was cut (a partial copy, a size cap)."""
    return stack.rsplit("\n", 1)[-1].startswith(("\t", " ")) or not stack.strip()


def _stamp(line: str) -> datetime | None:
    m = _STAMP.search(line.strip())
    if not m:
        return None
    try:
        return datetime.fromisoformat(m.group(1).replace(" ", "T"))
    except ValueError:
        return None


def _ref(addr: str | None, cls: str | None, obj: str | None, cinit: str | None = None) -> LockRef:
    if cinit is not None:
        return LockRef("class-init", cinit)       # waiting for another thread to run the class's static init
    if addr is not None:
        return LockRef(addr if addr.startswith("0x") or not _is_hex(addr) else "0x" + addr, cls or "")
    c, _, h = (obj or "").rpartition("@")
    return LockRef("0x" + h if h else (obj or ""), c)


def _is_hex(s: str) -> bool:
    return bool(s) and all(ch in "0123456789abcdefABCDEF" for ch in s)


_new = tuple.__new__
_StackInfo = tuple[Any, ...]  # (state, kind, waiting_for, held, frames, owner_hint)


def _stack(jm: re.Match[str] | None, hs: int, body: str, pos: int, end: int) -> _StackInfo:
    sync_at = _OWNABLE.search(body, pos, end)
    stack_end = sync_at.start() if sync_at else end
    frames = tuple(Frame(m.group("fn"), m.group("loc") or "")
                   for m in islice(_FRAME.finditer(body, pos, stack_end), MAX_FRAMES))

    state: State = "UNKNOWN"
    kind: WaitKind | None = None
    sl = _STATE_LINE.search(body, pos, min(end, pos + 400))
    waiting_for: LockRef | None = None
    owner_hint: str | None = None
    if sl:
        st = sl.group("state")
        state = st if st in _STATES else "UNKNOWN"  # type: ignore[assignment]
        more = sl.group("more")
        on = _VISUALVM_ON.search(more)
        if on:
            waiting_for = _ref(None, None, on.group("obj"))
        ob = _OWNED_BY.search(more)
        if ob:
            owner_hint = _owner(ob)
        if "sleeping" in more:
            kind = "sleep"
        elif "parking" in more:
            kind = "park"
        elif "object monitor" in more and state == "BLOCKED":
            kind = "monitor"
        elif "object monitor" in more:
            kind = "object-wait"
    else:
        if jm:
            st = jm.group("state")
            state = st if st in _STATES else "UNKNOWN"  # type: ignore[assignment]
            if jm.group("lock"):
                waiting_for = _ref(None, None, jm.group("lock"))
            ob = _OWNED_BY.search(body, pos, min(end, pos + 300))
            if ob and (not frames or ob.start() < body.find("at ", pos, end)):
                owner_hint = _owner(ob)
        elif hs >= 0:
            _, state, kind = _HEADER_STATES[hs]

    held: list[LockRef] = []
    for m in _LOCK.finditer(body, pos, stack_end):
        what = m.group("what")
        ref = _ref(m.group("addr"), m.group("cls"), m.group("obj"), m.group("cinit"))
        if what == "locked":
            if not (kind == "object-wait" and waiting_for is not None and ref.id == waiting_for.id):
                held.append(ref)
        elif what == "eliminated":
            continue
        elif waiting_for is None or waiting_for.id in ("", "no object reference available"):
            waiting_for = ref
            if what == "waiting to lock":
                kind = "monitor"
            elif what == "parking to wait for":
                kind = "park"
            elif what in ("waiting on", "waiting to re-lock in wait()"):
                kind = "object-wait" if what == "waiting on" and ref.id != "class-init" else "monitor"
    top = frames[0].function if frames else ""
    if top.endswith(("Thread.sleep", "Thread.sleep0")) and waiting_for is None:
        kind = "sleep"
    if kind is None and waiting_for is not None:
        kind = "monitor" if state == "BLOCKED" else "park" if top.endswith("park") else "object-wait"
    if kind == "object-wait" and waiting_for is None and held and top.endswith(("Object.wait", "Object.wait0")):
        waiting_for = held.pop(0)     # JDK 5 prints only "- locked" under Object.wait(): that monitor is released
    if kind == "object-wait" and waiting_for is not None:
        held = [r for r in held if r.id != waiting_for.id]
    if sync_at:
        held.extend(_ref(m.group("addr"), m.group("cls"), m.group("obj"))
                    for m in _SYNC_ITEM.finditer(body, sync_at.end(), end))
    if state == "BLOCKED" and kind is None:
        kind = "monitor"
    if state == "RUNNABLE":
        kind = "io" if frames and _is_io(frames[0].function) else None
    return state, kind, waiting_for, tuple(held), frames, owner_hint


def _cpu(rest: str) -> float | None:
    i = rest.find("cpu=")
    if i < 0:
        return None
    j = rest.find("ms", i)
    try:
        return float(rest[i + 4:j])
    except ValueError:
        return None


def _tid(rest: str) -> str:
    """`#12` (JDK 8+), else the nid (older JVMs), else the JMX `id=`: string search, no regex per thread."""
    i = rest.find(" #") if not rest.startswith("#") else -1
    if i >= 0 or rest.startswith("#"):
        j = i + 2
        k = rest.find(" ", j)
        num = rest[j:k] if k >= 0 else rest[j:]
        if num.isdecimal() and num.isascii():
            return num                  # the usual "#12 daemon prio=5 ..."
        k = j
        while k < len(rest) and rest[k].isdigit():
            k += 1
        if k > j:
            return rest[j:k]
    i = rest.find("nid=")
    if i == 0 or i > 0 and rest[i - 1] == " ":
        k = rest.find(" ", i + 4)
        value = rest[i + 4:k] if k >= 0 else rest[i + 4:]
        if value and value.isprintable():
            # "prio=10 tid=0x... nid=568": what _NID's \S+ finds (no other blank is printable)
            return value
    m = _NID.search(rest)
    if m:
        return m.group(1)
    m = _TID_NUM.search(rest)
    return (m.group(1) or m.group(2)) if m else ""


def _is_io(fn: str) -> bool:
    return fn.endswith(("socketRead0", "socketAccept", "read0", "accept0", "epollWait", "poll", "poll0",
                        "readBytes", "KQueue.poll", "doSelect", "receive0", "connect0", "Net.poll"))
