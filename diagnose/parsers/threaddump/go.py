"""Go goroutine dumps: SIGQUIT / panic output (GOTRACEBACK), /debug/pprof/goroutine?debug=2 and the
aggregated ?debug=1 profile.

    goroutine 65 [semacquire, 9 minutes]:
    sync.runtime_Semacquire(0xc4202f07b8)
    \t/usr/local/go/src/runtime/sema.go:56 +0x39
    created by main.main in goroutine 1
    \t/app/main.go:40 +0x5f

(the file line under each function starts with a tab, written \\t above so the source holds no tab)
"""

from __future__ import annotations

import re

from ...model.threads import Frame, LockRef, State, ThreadDump, ThreadInfo, WaitKind
from .frames import app_frame

_HEADER = re.compile(r"^goroutine (?P<id>\d+)(?: [^\[\n]*)? \[(?P<state>[^\]\n]*)\]:\s*$", re.M)
# The file may hold spaces ("/home/ci/my project/main.go:12"): it runs to the line's end, less the offset.
_FUNC = re.compile(r"^(?P<fn>[^\s].*?)(?:\((?P<args>[^()\n]*|\.\.\.)\))?\r?\n"
                   r"[ \t]+(?P<loc>\S[^\n]*?)(?: \+0x[0-9a-f]+)?(?: fp=[^\n]*)?\r?$", re.M)
# /debug/pprof/goroutine?debug=1: goroutines with the same stack as one group, runtime frames left out.
#   goroutine profile: total 2055
#   2000 @ 0x43b296 0x407e9b 0x4079d8 0x6a33b9 0x46b201
#   #\t0x6a33b8\tmain.(*Subscription).wait+0x38\t/app/checkout.go:71
_PROFILE = re.compile(r"^goroutine profile: total (\d+)", re.M)
_GROUP = re.compile(r"^(?P<n>\d+) @(?: 0x[0-9a-f]+)*[ \t]*\r?$", re.M)
_PFRAME = re.compile(r"^#\t+0x[0-9a-f]+\t+(?P<fn>[^\t\n]+?)\+0x[0-9a-f]+\t+(?P<loc>[^\n]*?)\r?$", re.M)
_MINUTES = re.compile(r", (\d+) minutes")
_SIGQUIT = re.compile(r"^SIGQUIT: quit|^PC=0x[0-9a-f]+ m=\d+", re.M)
_ADDR = re.compile(r"0x[0-9a-f]+")

_LOCKS = ("semacquire", "sync.Mutex.Lock", "sync.RWMutex.Lock", "sync.RWMutex.RLock")


def looks_like(text: str) -> bool:
    head = text[:200_000]
    return bool(_HEADER.search(head)) or bool(_PROFILE.search(head))


# debug=1 leaves out the runtime's frames, and with them the wait reason: what the stack still shows.
_PROFILE_STATES: tuple[tuple[str, str], ...] = (
    ("sync.(*Mutex).Lock", "sync.Mutex.Lock"), ("sync.(*RWMutex).RLock", "sync.RWMutex.RLock"),
    ("sync.(*RWMutex).Lock", "sync.RWMutex.Lock"), ("sync.runtime_Semacquire", "semacquire"),
    ("sync.(*WaitGroup).Wait", "sync.WaitGroup.Wait"), ("sync.(*Cond).Wait", "sync.Cond.Wait"),
    ("internal/poll.runtime_pollWait", "IO wait"), ("time.Sleep", "sleep"),
    ("runtime/pprof.", "running"), ("runtime.Stack", "running"),
)


def _parse_profile(text: str, source: str, pod: str) -> list[ThreadDump]:
    """The aggregated profile: each group of N goroutines becomes N threads sharing one stack, named for the
    group's first frame so that the same group compares across dumps."""
    groups = list(_GROUP.finditer(text))
    threads: list[ThreadInfo] = []
    for i, g in enumerate(groups):
        end = groups[i + 1].start() if i + 1 < len(groups) else len(text)
        frames = tuple(Frame(m.group("fn"), m.group("loc")) for m in _PFRAME.finditer(text, g.end(), end))
        names = " ".join(f.function for f in frames[:4])
        reason = next((r for needle, r in _PROFILE_STATES if needle in names), "waiting")
        state, kind = _state(reason)
        app = app_frame(frames)
        label = app.function if app is not None else "?"
        waiting = None
        if kind == "semacquire":
            # No lock address in this form: goroutines that lock at the same call site share one lock.
            site = next((f.function for f in frames if not f.function.startswith(("sync.", "runtime."))), label)
            waiting = LockRef(f"(locked in {site})", "sync.RWMutex" if "RWMutex" in names else "sync.Mutex")
        first = ThreadInfo(name="", state=state, frames=frames, wait_kind=kind, raw_state=reason, waiting_for=waiting)
        threads.extend(first._replace(name=f"goroutine group {label} #{j}") for j in range(1, int(g.group("n")) + 1))
    notes = () if groups else (f"{source}: goroutine profile holds no goroutine",)
    return [ThreadDump(source=source, pod=pod, format="go", threads=tuple(threads), runtime="Go (goroutine profile)",
                       notes=notes)]


def _state(reason: str) -> tuple[State, WaitKind | None]:
    if reason in ("running", "runnable", "syscall"):
        return "RUNNABLE", None
    if reason.startswith(_LOCKS):
        return "BLOCKED", "semacquire"
    if reason.startswith(("sync.WaitGroup.Wait", "sync.Cond.Wait")):
        return "WAITING", "semacquire"
    if reason.startswith("chan "):
        return "WAITING", "channel"
    if reason.startswith("select"):
        return "WAITING", "select"
    if reason.startswith("IO wait"):
        return "WAITING", "io"
    if reason.startswith("sleep"):
        return "TIMED_WAITING", "sleep"
    return "WAITING", "other"


def parse(text: str, source: str, pod: str) -> list[ThreadDump]:
    if not _HEADER.search(text, 0, 200_000) and _PROFILE.search(text, 0, 200_000):
        return _parse_profile(text, source, pod)
    headers = list(_HEADER.finditer(text))
    threads: list[ThreadInfo] = []
    notes: list[str] = []
    for i, h in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        body = text[h.end() + 1:end]
        frames: list[Frame] = []
        args: list[str] = []
        for m in _FUNC.finditer(body):
            fn = m.group("fn")
            if fn.startswith("created by "):
                break
            args.append(m.group("args") or "")
            frames.append(Frame(fn, m.group("loc")))
        parts = [p.strip() for p in h.group("state").split(",")]
        reason = parts[0]
        mins = _MINUTES.search(h.group("state"))
        state, kind = _state(reason)
        waiting = None
        if kind == "semacquire":
            # The lock's address is the receiver of sync.(*Mutex).Lock (or of the semaphore frame when that
            # was inlined): goroutines waiting on the same mutex share it, which is what groups them.
            at = next((j for j, f in enumerate(frames) if f.function.startswith("sync.(*")), None)
            if at is None or not _ADDR.search(args[at]):
                at = next((j for j, f in enumerate(frames) if "Semacquire" in f.function), None)
            addr = _ADDR.search(args[at]) if at is not None else None
            names = reason + " ".join(f.function for f in frames[:4])
            cls = "sync.RWMutex" if "RWMutex" in names else "sync.WaitGroup" if "WaitGroup" in names else \
                "sync.Cond" if "Cond" in names else "sync.Mutex"
            if addr:
                waiting = LockRef(addr.group(0), cls)
        threads.append(ThreadInfo(name=f"goroutine {h.group('id')}", state=state, frames=tuple(frames),
                                  tid=h.group("id"), waiting_for=waiting, wait_kind=kind,
                                  wait_minutes=float(mins.group(1)) if mins else None, raw_state=reason))
    if headers and not text.rstrip().endswith(")") and text and not text.endswith("\n"):
        notes.append(f"{source}: goroutine dump is cut short inside goroutine {headers[-1].group('id')}")
    runtime = "Go (SIGQUIT)" if _SIGQUIT.search(text[:2000]) else "Go"
    return [ThreadDump(source=source, pod=pod, format="go", threads=tuple(threads), runtime=runtime,
                       notes=tuple(notes))]
