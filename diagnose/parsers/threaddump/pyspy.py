"""`py-spy dump` output, text or `--json` (with or without --locals; locals are dropped, they may hold secrets).

    Process 8356: /usr/bin/python3 app.py
    Python v3.11.7 (/usr/bin/python3.11)

    Thread 8399 (idle): "worker-0"
        waiter (app.py:7)
        Thread.run (threading.py:982)

`--json` prints a list of py-spy's serde `StackTrace` (src/stack_trace.rs: pid, thread_id, thread_name,
os_thread_id, active, owns_gil, frames of {name, filename, module, short_filename, line, locals, is_entry},
process_info), with no Python version. A frame's location is `short_filename:line`, as the text form prints it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ...errors import EvidenceError
from ...model.threads import Frame, State, ThreadDump, ThreadInfo

_PROCESS = re.compile(r"^Process (\d+): (.*)$", re.M)
_PYTHON = re.compile(r"^Python v(\S+)", re.M)
_THREAD = re.compile(r'^Thread (?P<tid>0x[0-9a-fA-F]+|\d+) \((?P<state>[^)]*)\)(?:: "(?P<name>.*)")?\s*$', re.M)
_FRAME = re.compile(r"^    (?P<fn>\S.*?) \((?P<loc>[^()\n]*)\)\s*$", re.M)


def looks_like(text: str) -> bool:
    head = text[:20_000]
    return bool(_THREAD.search(head)) and (bool(_PROCESS.search(head)) or bool(_PYTHON.search(head)))


def _state(s: str) -> State:
    return "RUNNABLE" if "active" in s or "gil" in s else "WAITING" if "idle" in s else "UNKNOWN"


def looks_like_json(text: str) -> bool:
    head = text[:4000]
    return text.lstrip()[:1] == "[" and '"thread_id"' in head and ('"owns_gil"' in head or '"frames"' in head)


def _json_frame(f: Any) -> Frame | None:
    if not isinstance(f, dict) or not isinstance(f.get("name"), str):
        return None
    where = f.get("short_filename") or f.get("filename")
    line = f.get("line")
    loc = (f"{where}:{line}" if isinstance(line, int) and line > 0 else str(where)) if isinstance(where, str) else ""
    return Frame(f["name"], loc)


def _json_thread(t: Any) -> ThreadInfo | None:
    if not isinstance(t, dict):
        return None
    # The text form's words for the same flags (py-spy src/dump.rs): "active+gil", "active", "idle", "gil".
    state = "+".join(w for w, on in (("active", t.get("active") is True), ("gil", t.get("owns_gil") is True)) if on)
    frames = tuple(f for f in map(_json_frame, t.get("frames") or [] if isinstance(t.get("frames"), list) else [])
                   if f is not None)
    tid = t.get("os_thread_id") or t.get("thread_id")
    name = t.get("thread_name")
    return ThreadInfo(name=name if isinstance(name, str) and name else f"Thread {tid}",
                      state=_state(state or "idle"), frames=frames, tid=str(tid or ""), raw_state=state or "idle")


def parse_json(text: str, source: str, pod: str) -> list[ThreadDump]:
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise EvidenceError(f"{source}: not a py-spy JSON dump ({e})") from None
    if not isinstance(doc, list):
        raise EvidenceError(f"{source}: not a py-spy JSON dump (not a list of threads)")
    threads = [t for t in map(_json_thread, doc) if t is not None]
    skipped = len(doc) - len(threads)
    notes = (f"{source}: {skipped} malformed entries skipped",) if skipped else ()
    return [ThreadDump(source=source, pod=pod, format="py-spy", threads=tuple(threads), runtime="Python",
                       notes=notes)]


def parse(text: str, source: str, pod: str) -> list[ThreadDump]:
    # One file may hold several `py-spy dump` outputs, each starting with its "Process" line.
    starts = [m.start() for m in _PROCESS.finditer(text)] or [0]
    dumps = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        chunk = text[start:end]
        py = _PYTHON.search(chunk)
        heads = list(_THREAD.finditer(chunk))
        threads = []
        for j, h in enumerate(heads):
            stop = heads[j + 1].start() if j + 1 < len(heads) else len(chunk)
            frames = tuple(Frame(m.group("fn"), m.group("loc")) for m in _FRAME.finditer(chunk, h.end(), stop))
            st = h.group("state")
            threads.append(ThreadInfo(name=h.group("name") or f"Thread {h.group('tid')}", state=_state(st),
                                      frames=frames, tid=h.group("tid"), raw_state=st))
        notes = () if heads else (f"{source}: py-spy output {i + 1} holds no thread",)
        dumps.append(ThreadDump(source=source, pod=pod, format="py-spy", threads=tuple(threads), index=i,
                                runtime=f"Python {py.group(1)}" if py else "Python", notes=notes))
    return dumps
