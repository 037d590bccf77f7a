"""Thread-dump files (path -> bytes) to ThreadEvidence, for a live run and a bundle alike.

Files are grouped by pod: the file's directory (`<pod>/1.txt`, and `exec-thread-dumps/<pod>/<container>-1.txt`
from the exec source, which feeds this one) or, for files side by side, the name without its counter or
timestamp (`pod-a.1.txt`, `pod-a-2.txt`). One file may hold several dumps; every format is told from the content.
"""

from __future__ import annotations

import gc
import json
import re
from contextlib import contextmanager
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Iterator

from ..errors import EvidenceError
from ..model.target import RawFiles, Target
from ..model.threads import ThreadDump, ThreadEvidence
from .threaddump.analysis import analyze
from .threaddump.detect import decode, detect

SKIPPED = "_skipped.txt"      # written by sources/thread_dumps.py: files left out over the size caps
# Where sources/kube_exec.py notes the pods it could not take a dump from: its errors.json, handed to this
# parser under the exec source's name (it feeds thread-dumps: engine.registry).
EXEC_DIR = "exec-thread-dumps"
EXEC_ERRORS = f"{EXEC_DIR}/errors.json"

# One counter, timestamp or dump word after a separator; a name ends in a run of them (`pod-a.2.jstack`).
_COUNTER = re.compile(r"[._\-](?:\d+|\d{4}-\d\d-\d\d(?:[T_ ][\d:\-.]+Z?)?|\d{8}[T_-]?\d{0,6}|jstack|jcmd|threads?|"
                      r"dump|goroutines?|pyspy|py-spy|thread-?dump)", re.I)
MAX_NAME = 255                # a file name no file system exceeds: the counters are looked for in this much
_EXT = re.compile(r"\.(?:txt|log|tdump|dump|out|json|jstack|jcmd)$", re.I)


def pod_of(path: str) -> str:
    p = PurePosixPath(path.replace("\\", "/"))
    parts = p.parts
    if len(parts) >= 3 and parts[0] == "exec":
        return parts[1]
    if len(parts) >= 2:
        return parts[-2]
    stem = _EXT.sub("", p.name)
    return _strip_counters(stem) or stem


def container_of(path: str) -> str:
    """The container a dump of the exec source was taken in (`exec-thread-dumps/<pod>/<container>-1.txt`), or ""."""
    parts = PurePosixPath(path).parts
    if len(parts) != 3 or parts[0] != EXEC_DIR:
        return ""
    stem = _EXT.sub("", parts[2])
    return _strip_counters(stem) or stem


def _strip_counters(stem: str) -> str:
    """`stem` without its trailing run of counters (what `(?:_COUNTER)+$` removes, leftmost start).

    Decided right to left, each position once: as one regex the run backtracked exponentially over a name
    like `a.12345678-1.12345678-1...` (each `12345678-1` is one counter or two), hanging on 180 characters.
    ends[i]: stem[i:] is a run of counters (ends[len] is the empty rest)."""
    n = len(stem)
    low = max(0, n - MAX_NAME)
    seps = [j for j in range(low, n) if stem[j] in "._-"]
    ends = {n}
    start = n
    for i in reversed(seps):
        if any(j in ends and _COUNTER.fullmatch(stem, i, j) for j in [n, *(k for k in seps if k > i + 1)]):
            ends.add(i)
            start = i
    return stem[:start]


def _natural(path: str) -> list[object]:
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", path)]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a dump is parsed. A 50 MB dump makes ~100k thread records, none
    of them garbage, and the collector would walk them again and again as they pile up (a fifth of the
    parse time). Re-enabled at once, and only if it was on."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def parse_file(path: str, data: bytes, pod: str | None = None) -> tuple[list[ThreadDump], list[str]]:
    """The dumps in one file and notes about what could not be read. Never raises for bad content."""
    if not data or data.isspace():       # isspace stops at the first non-blank byte; strip() copies 50 MB
        return [], [f"{path}: empty file skipped"]
    text, _enc = decode(data)
    found = detect(text)
    if found is None:
        return [], [f"{path}: not a thread dump (no JVM, Go, py-spy or dotnet-stack header), skipped"]
    name, parse = found
    try:
        with _gc_paused():
            dumps = parse(text, path, pod or pod_of(path))
    except EvidenceError as e:
        return [], [str(e)]
    except (ValueError, IndexError, KeyError, TypeError, RecursionError) as e:
        # A parser bug on odd input must cost one file, not the diagnosis.
        return [], [f"{path}: could not read the {name} dump ({type(e).__name__}: {e})"]
    return [d for d in dumps if d.threads or d.notes], []


def _exec_errors(data: bytes) -> list[str]:
    """EXEC_ERRORS ({"<pod>/<container>": "why"}, written by sources/kube_exec.py) as notes."""
    try:
        doc = json.loads(data)
    except ValueError:
        return [f"{EXEC_ERRORS}: not JSON"]
    if not isinstance(doc, dict):
        return [f"{EXEC_ERRORS}: not a mapping"]
    return [f"no dump from {where} through exec: {why}" for where, why in doc.items()]


def load(files: RawFiles, target: Target | None = None) -> ThreadEvidence:
    dumps: list[ThreadDump] = []
    notes: list[str] = []
    for path in sorted(files, key=_natural):
        if path == SKIPPED:
            notes.extend(f"not read: {line}" for line in files[path].decode("utf-8", "replace").splitlines() if line)
            continue
        if path == EXEC_ERRORS:
            notes.extend(_exec_errors(files[path]))
            continue
        ds, ns = parse_file(path, files[path])
        container = container_of(path)
        dumps.extend(replace(d, container=container) if container else d for d in ds if d.threads)
        notes.extend(ns)
        notes.extend(n for d in ds if not d.threads for n in d.notes)
    if not dumps:
        raise EvidenceError(f"no thread dump found in {len(files)} file(s)" + (f": {notes[0]}" if notes else ""))
    # Within a pod, dumps in the order they were taken when every one is dated, else in file order.
    ordered: list[ThreadDump] = []
    pods: dict[str, list[ThreadDump]] = {}
    for d in dumps:
        pods.setdefault(d.pod, []).append(d)
    for ds in pods.values():
        if all(d.taken_at is not None for d in ds) and len({d.taken_at for d in ds}) == len(ds):
            ds = sorted(ds, key=lambda d: (d.taken_at.replace(tzinfo=None) if d.taken_at else 0))
        ordered.extend(ds)
    return analyze(ordered, notes)
