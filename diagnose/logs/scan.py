"""`diagnose logs`: scan log files (or stdin) and group their events into incidents, one per signal.

    scan(["app.log", "-"], keep_lines=20) -> LogScan

Memory is bounded by the chunk size per process whatever the file size. A large regular file is split
at line boundaries into one stretch per CPU and the stretches are scanned by forked worker processes
(docs/logs.md says why); results are merged in file order, so the answer does not depend on how many.
"""

from __future__ import annotations

import gzip
import io
import itertools
import os
import sys
import zlib
from typing import TYPE_CHECKING, BinaryIO, Iterator, Mapping, Sequence

from ..errors import InputError
from ..model.logscan import LogScan
from . import formats, nginx, wrappers
from .formats import CUSTOM, NGINX, UNKNOWN
from .group import Groups
from .kernel import MAX_SAMPLES, Part, Plan, plan_for, process
from .stream import CHUNK_SIZE, Chunk, Piece, read_chunks
from .vantage import attribute, fold

if TYPE_CHECKING:
    from .custom_format import LogFormat

BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b"
PARALLEL_MIN = 64 << 20          # below this, forking costs more than it saves
MAX_WORKERS = 8


def scan(paths: Sequence[str], *, keep_lines: int = 0, stdin: BinaryIO | None = None,
         chunk_size: int = CHUNK_SIZE, workers: int | None = None,
         streams: Mapping[str, bytes] | None = None, custom: LogFormat | None = None) -> LogScan:
    """Scan every path ("-" is stdin) and return the incidents; InputError when nothing is usable.
    A path named in `streams` is read from there (logs fetched in memory: pod-logs/<pod>/<container>.log).
    `custom`: a --log-format mapping (custom_format.py), offered every line first (one process)."""
    if not paths:
        raise InputError("no log given")
    if workers is None:
        workers = min(os.cpu_count() or 1, MAX_WORKERS)
    if custom is not None:
        workers = 1
    result = LogScan()
    groups = Groups()
    blank = 0
    for path in paths:
        if streams is not None and path in streams:
            fmt, part = _scan_stream(_gunzipped(io.BytesIO(streams[path])), path, keep_lines, chunk_size, custom)
        else:
            fmt, part = _scan_path(path, keep_lines, stdin, chunk_size, workers, custom)
        result.lines += part.lines
        result.skipped += part.skipped
        blank += part.blank
        result.formats[fmt] = result.formats.get(fmt, 0) + part.lines
        for line_no, reason in part.samples:
            if len(result.skip_samples) < MAX_SAMPLES:
                result.skip_samples.append((path, line_no, reason))
        # Whose lines a proxy's (or an unnamed caller's) are, when the file's path says (vantage.py).
        groups.merge(attribute(part.groups, path), keep_lines)
    _require_usable(paths, result, blank)
    result.incidents, result.kept = fold(groups, keep_lines)
    result.groups = groups
    result.failures = dict(groups.failures)
    result.dropped = groups.dropped
    return result


def _require_usable(paths: Sequence[str], result: LogScan, blank: int) -> None:
    if result.lines - blank - result.skipped > 0:
        return
    if result.skipped == 0:
        raise InputError("no log lines to read (empty)", path=", ".join(paths))
    path, line_no, reason = result.skip_samples[0]
    raise InputError(f"nothing usable: all {result.skipped} non-blank lines unparseable; "
                     f"first bad line: {reason}", path=path, line=line_no)


def _open(path: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InputError("no such log file", path=path) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a log file", path=path) from None
    except PermissionError:
        raise InputError("permission denied", path=path) from None
    except OSError as e:
        raise InputError(f"cannot read ({e.strerror or e})", path=path) from None


def _gunzipped(f: BinaryIO) -> BinaryIO:
    """f itself, or a streaming decompressor over it when it starts with gzip's magic bytes (a `.gz` file
    or a gzipped standard input): memory stays constant, and nothing is written to disk."""
    if getattr(f, "peek", None) is None:
        f = io.BufferedReader(f)  # type: ignore[type-var]   # (a BytesIO, a test runner's stdin)
    if f.peek(2)[:2] == GZIP_MAGIC:     # type: ignore[attr-defined]
        return gzip.GzipFile(fileobj=f, mode="rb")       # type: ignore[return-value]
    return f


def _scan_path(path: str, keep: int, stdin: BinaryIO | None, chunk_size: int,
               workers: int, custom: LogFormat | None = None) -> tuple[str, Part]:
    if path == "-":
        src = stdin if stdin is not None else sys.stdin.buffer
        try:
            return _scan_stream(_gunzipped(src), path, keep, chunk_size, custom)
        except (gzip.BadGzipFile, EOFError, zlib.error) as e:
            raise InputError(f"not a readable gzip stream ({e})", path=path) from None
    f = _open(path)
    try:
        size = os.fstat(f.fileno()).st_size
        z = _gunzipped(f)
        if z is not f:
            return _scan_stream(z, path, keep, chunk_size, custom)      # one process: a gzip stream is sequential
        if workers > 1 and size >= PARALLEL_MIN and os.path.isfile(path):
            from .parallel import scan_parallel  # only large files pay for the import

            return scan_parallel(path, f, size, keep, chunk_size, workers)
        return _scan_stream(f, path, keep, chunk_size, custom)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise InputError(f"not a readable gzip file ({e})", path=path) from None
    except OSError as e:
        raise InputError(f"cannot read ({e.strerror or e})", path=path) from None
    finally:
        f.close()


def _scan_stream(f: BinaryIO, path: str, keep: int, chunk_size: int,
                 custom: LogFormat | None = None) -> tuple[str, Part]:
    try:
        pieces: Iterator[Piece] = read_chunks(f, chunk_size)
        first = next(pieces, None)
        plan, first = sniff_first(first, keep, custom)
        if plan.wrapped:
            pieces = wrappers.peel(itertools.chain([first] if first is not None else [], pieces))
            first = next(pieces, None)
        part = Part()
        if first is not None:
            process(first, plan, part)
        for piece in pieces:
            process(piece, plan, part)
        return plan.fmt, part
    except OSError as e:
        raise InputError(f"cannot read ({e.strerror or e})", path=path) from None


def sniff_first(first: Piece | None, keep: int, custom: LogFormat | None = None) -> tuple[Plan, Piece | None]:
    """The plan for a file from its first piece (BOM removed from it)."""
    if isinstance(first, Chunk) and first.data.startswith(BOM, first.start):
        first = Chunk(first.data, first.first_line, first.lines, first.start + len(BOM), first.end)
    if not isinstance(first, Chunk):
        return plan_for(UNKNOWN, False, keep, custom=custom), first
    sample = first.data[first.start:first.start + (256 << 10)]
    lines = formats.sample_lines(sample)
    wrapped = wrappers.sniff(lines, lambda ls: formats.best_fit(ls)[1] if custom is None
                             else sum(1 for ln in ls if custom.fits(ln)))
    if wrapped:
        lines = wrappers.peel_sample(lines)
        sample = b"\n".join(lines) + b"\n"
    if custom is not None:
        return plan_for(CUSTOM, False, keep, wrapped, custom=custom), first
    fmt, envoy_json = formats.sniff(sample)
    access_only = fmt == NGINX and nginx.has_upstreaminfo(lines)
    return plan_for(fmt, envoy_json, keep, wrapped, access_only), first

