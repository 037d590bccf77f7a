"""Scanning one large regular file with several processes.

The file is cut into stretches at line starts; each forked worker scans its stretch with the same
kernel and returns a Part whose line numbers count from its stretch; the parent shifts them and merges
in order. Python's bytes searches hold the GIL, so processes (not threads) are what use more cores.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import pairwise
from multiprocessing.context import BaseContext
from typing import BinaryIO, Iterable

from ..errors import InputError
from . import wrappers
from .kernel import MAX_SAMPLES, Part, Plan, process
from .scan import BOM, sniff_first
from .stream import Piece, read_chunks


def boundaries(f: BinaryIO, size: int, n: int, start: int) -> list[int]:
    """n+1 offsets from `start` to `size`, each (but the ends) the start of a line."""
    cuts = [start]
    for k in range(1, n):
        pos = max(start + size * k // n, cuts[-1])
        f.seek(max(pos - 1, 0))
        while True:
            block = f.read(1 << 16)
            if not block:
                pos = size
                break
            nl = block.find(b"\n")
            if nl >= 0:
                pos = f.tell() - len(block) + nl + 1
                break
        cuts.append(pos)
    cuts.append(size)
    return cuts


def _work(args: tuple[str, int, int, Plan, int]) -> Part:
    path, begin, end, plan, chunk_size = args
    part = Part()
    with open(path, "rb") as f:
        f.seek(begin)
        pieces: Iterable[Piece] = read_chunks(f, chunk_size, limit=end - begin)
        if plan.wrapped:
            # A partial line cut by a stretch's edge is read as two lines (docs/logs.md "Wrappers").
            pieces = wrappers.peel(pieces)
        for piece in pieces:
            process(piece, plan, part)
    return part


def scan_parallel(path: str, f: BinaryIO, size: int, keep: int, chunk_size: int,
                  workers: int) -> tuple[str, Part]:
    head = f.read(chunk_size)
    start = len(BOM) if head.startswith(BOM) else 0
    whole = head[:head.rfind(b"\n") + 1]
    from .stream import Chunk

    plan, _ = sniff_first(Chunk(whole, 1, whole.count(b"\n")) if whole else None, keep)
    cuts = boundaries(f, size, workers, start)
    jobs = [(path, a, b, plan, chunk_size) for a, b in pairwise(cuts) if b > a]
    ctx: BaseContext
    if "fork" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("fork")     # no re-import: start-up is milliseconds
    else:
        ctx = multiprocessing.get_context()
    try:
        with ProcessPoolExecutor(max_workers=len(jobs), mp_context=ctx) as pool:
            parts = list(pool.map(_work, jobs))
    except (BrokenProcessPool, OSError):
        # No processes to be had (a sandbox, a resource limit), or a read failed in a worker: the same
        # scan in this process, where a read error becomes the one-line InputError.
        try:
            parts = [_work((path, cuts[0], cuts[-1], plan, chunk_size))]
        except OSError as e:
            raise InputError(f"cannot read ({e.strerror or e})", path=path) from None
    total = Part()
    for p in parts:
        offset = total.lines
        for line_no, reason in p.samples:
            if len(total.samples) < MAX_SAMPLES:
                total.samples.append((line_no + offset, reason))
        total.lines += p.lines
        total.blank += p.blank
        total.skipped += p.skipped
        total.groups.merge(p.groups, keep)
    return plan.fmt, total
