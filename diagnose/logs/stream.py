"""Reading a log in bounded memory: chunks of whole lines, never more than `chunk_size` bytes held.

A line longer than the chunk cannot be held; it is reported as a LongLine (its number) and its bytes
are read past and dropped, so a 10 MB line costs no more memory than a short one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Iterator, Union

CHUNK_SIZE = 1 << 20     # 1 MiB: big enough that per-chunk Python costs vanish, small enough to stay in cache


@dataclass(frozen=True)
class Chunk:
    data: bytes          # whole lines; ends with b"\n" except the file's last line when it has none
    first_line: int      # number (1-based) of the first line in data
    lines: int           # lines in data


@dataclass(frozen=True)
class LongLine:
    line_no: int         # a line longer than the chunk size, skipped unread


Piece = Union[Chunk, LongLine]


def read_chunks(f: BinaryIO, chunk_size: int = CHUNK_SIZE, *, first_line: int = 1,
                limit: int | None = None) -> Iterator[Piece]:
    """Chunks of `f` from its current position; `limit` bytes at most (a worker's share of a file)."""
    carry = b""              # the unfinished last line of the previous read; always < chunk_size
    line_no = first_line
    remaining = limit
    skipping = False         # inside a line too long to hold
    while True:
        want = chunk_size - len(carry)
        if remaining is not None:
            want = min(want, remaining)
        piece = f.read(want) if want > 0 else b""
        if remaining is not None:
            remaining -= len(piece)
        if not piece:        # end of file (or of this worker's share)
            if skipping:
                yield LongLine(line_no)
            elif carry:
                # after a long line the carry may still hold several lines; the last has no newline
                yield Chunk(carry, line_no, carry.count(b"\n") + (0 if carry.endswith(b"\n") else 1))
            return
        if skipping:
            nl = piece.find(b"\n")
            if nl >= 0:
                yield LongLine(line_no)
                line_no += 1
                skipping = False
                carry = piece[nl + 1:]
            continue
        buf = carry + piece if carry else piece
        nl = buf.rfind(b"\n")
        if nl < 0:
            if len(buf) >= chunk_size:
                skipping, carry = True, b""
            else:
                carry = buf
            continue
        data = buf if nl + 1 == len(buf) else buf[:nl + 1]
        carry = buf[nl + 1:]
        n = data.count(b"\n")
        yield Chunk(data, line_no, n)
        line_no += n
