"""`py-spy dump` output (with or without --locals; locals are dropped, they may hold secrets).

    Process 8356: /usr/bin/python3 app.py
    Python v3.11.7 (/usr/bin/python3.11)

    Thread 8399 (idle): "worker-0"
        waiter (app.py:7)
        Thread.run (threading.py:982)
"""

from __future__ import annotations

import re

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
