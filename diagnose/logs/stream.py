"""Reading a log in bounded memory: chunks of whole lines, never more than 2 x `chunk_size` bytes held.

Each read is used in place (a Chunk names the stretch of whole lines in it by start/end offsets), so
the bytes are not copied; only the line cut at a read boundary is joined with the next read's head.
A line longer than the chunk cannot be held; it is reported as a LongLine (its number) and its bytes
are read past and dropped, so a 10 MB line costs no more memory than a short one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Iterator, Union

if TYPE_CHECKING:
    from .wrappers import Peeled

CHUNK_SIZE = 1 << 20     # 1 MiB: big enough that per-chunk Python costs vanish, small enough to stay in cache


@dataclass(frozen=True)
class Chunk:
    data: bytes          # data[start:end] is whole lines; it ends with b"\n" except a file's last line
    first_line: int      # number (1-based) of the first line in data[start:end]
    lines: int           # lines in data[start:end]
    start: int = 0
    end: int = -1        # -1: len(data)
    # A wrapped log's inner lines (wrappers.py): what each line's wrapper said. `lines` then counts the
    # raw lines read, which partial lines joined make more than the inner lines in `data`.
    peeled: "Peeled | None" = None

    def __post_init__(self) -> None:
        if self.end < 0:
            object.__setattr__(self, "end", len(self.data))

    @property
    def text(self) -> bytes:
        return self.data[self.start:self.end]


@dataclass(frozen=True)
class LongLine:
    line_no: int         # a line longer than the chunk size, skipped unread


Piece = Union[Chunk, LongLine]


def read_chunks(f: BinaryIO, chunk_size: int = CHUNK_SIZE, *, first_line: int = 1,
                limit: int | None = None) -> Iterator[Piece]:
    """Chunks of `f` from its current position; `limit` bytes at most (a worker's share of a file)."""
    carry = b""              # the unfinished last line of earlier reads; always < chunk_size
    line_no = first_line
    remaining = limit
    skipping = False         # inside a line too long to hold
    while True:
        want = chunk_size if remaining is None else min(chunk_size, remaining)
        piece = f.read(want) if want > 0 else b""
        if remaining is not None:
            remaining -= len(piece)
        if not piece:        # end of file (or of this worker's share)
            if skipping:
                yield LongLine(line_no)
            elif carry:
                yield Chunk(carry, line_no, 1)
            return
        first = piece.find(b"\n")
        if first < 0:        # no line ends in this read
            if skipping or len(carry) + len(piece) >= chunk_size:
                skipping, carry = True, b""
            else:
                carry += piece
            continue
        if skipping:
            yield LongLine(line_no)
            line_no += 1
            skipping = False
        elif carry:
            if len(carry) + first + 1 > chunk_size:
                yield LongLine(line_no)
            else:
                yield Chunk(carry + piece[:first + 1], line_no, 1)
            line_no += 1
        else:
            first = -1       # the read starts at a line start: its first line is part of the body
        last = piece.rfind(b"\n")
        if last > first:
            n = piece.count(b"\n", first + 1, last + 1)
            yield Chunk(piece, line_no, n, first + 1, last + 1)
            line_no += n
        carry = piece[last + 1:]
