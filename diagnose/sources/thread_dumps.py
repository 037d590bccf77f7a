"""Thread dumps the user gave with --thread-dumps DIR: every file under DIR, read as bytes.

Nothing is parsed here (diagnose/parsers/thread_dumps.py does that for live runs and bundles alike);
this only reads files, with a cap per file and in total so a stray core file cannot exhaust memory.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..errors import SourceError
from .base import Option, RawFiles, SourceOptions, Target

NAME = "thread-dumps"
OPTIONS = (Option("thread-dumps", "Directory of thread dumps of the upstream's pods.", kind="dir"),)
MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
SKIPPED = "_skipped.txt"      # one line per file left out over the caps; the parser turns each into a note


def skip_reason(opts: SourceOptions) -> str | None:
    return None if opts.thread_dumps is not None else "no --thread-dumps given"


def collect(opts: SourceOptions, target: Target, deadline: float,
            max_file: int = MAX_FILE_BYTES, max_total: int = MAX_TOTAL_BYTES) -> RawFiles:
    root = Path(opts.thread_dumps or "")
    if not root.is_dir():
        raise SourceError(f"--thread-dumps {root}: not a directory")
    files: RawFiles = {}
    skipped: list[str] = []
    total = 0
    for dirpath, dirnames, names in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            if time.monotonic() > deadline:
                raise SourceError(f"--thread-dumps {root}: reading stopped at the time budget after {len(files)} files")
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            try:
                if not path.is_file():
                    continue
                size = path.stat().st_size
                if size > max_file or total + size > max_total:
                    skipped.append(f"{rel}: {size} bytes, over the {'per-file' if size > max_file else 'total'} cap")
                    continue
                with open(path, "rb") as fh:
                    files[rel] = fh.read(max_file)
            except OSError as e:
                raise SourceError(f"--thread-dumps {rel}: {e.strerror or e}") from None
            total += size
    if not files:
        raise SourceError(f"--thread-dumps {root}: no readable files" + (f" ({skipped[0]})" if skipped else ""))
    if skipped:
        files[SKIPPED] = ("\n".join(skipped) + "\n").encode()
    return files
