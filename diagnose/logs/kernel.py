"""What happens to each chunk: count lines, find the malformed ones, fully parse only the candidates.

JSON (the fast path, docs/logs.md "How lines are counted"): a chunk's lines are counted by the reader
with one bytes.count; one regex pass finds the line boundaries that are not `}` newline `{` (lines that
do not start with `{` or do not end with `}`); a regex pass per marker (formats.JSON_MARKERS) finds the
lines that may hold a timeout. Only those two kinds of line are parsed with json.loads; every other line
is structurally a JSON object and counted as read. Text formats (logfmt, nginx, Envoy) are checked line
by line against their structural pattern and parsed when a line may hold an event.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from . import formats, jsonlines
from .event import Event, Skip
from .formats import JSON, UNKNOWN
from .group import Groups
from .stream import Chunk, LongLine, Piece

MAX_SAMPLES = 5
# A newline that is not preceded by `}` (or `}\r`) or not followed by `{`: an edge of a line that is not
# a one-line JSON object. The literal \n lets the regex engine jump between newlines.
_JSON_EDGE = re.compile(rb"\n(?:(?!\{)|(?<!\}\n)(?<!\}\r\n))")


@dataclass
class Part:
    """What one stretch of one file held. Picklable: workers return it; the parent merges in order."""
    lines: int = 0
    blank: int = 0
    skipped: int = 0
    samples: list[tuple[int, str]] = field(default_factory=list)    # (line no, reason), first few
    groups: Groups = field(default_factory=Groups)

    def skip(self, line_no: int | None, reason: str) -> None:
        self.skipped += 1
        if line_no is not None and len(self.samples) < MAX_SAMPLES:
            self.samples.append((line_no, reason))

    @property
    def wants_samples(self) -> bool:
        return len(self.samples) < MAX_SAMPLES


@dataclass(frozen=True)
class Plan:
    fmt: str
    markers: tuple[re.Pattern[bytes], ...]
    keep: int


def plan_for(fmt: str, envoy_json: bool, keep: int) -> Plan:
    markers = formats.JSON_MARKERS + (formats.ENVOY_JSON_MARKERS if envoy_json else ())
    return Plan(fmt, markers, keep)


def process(piece: Piece, plan: Plan, part: Part) -> None:
    if isinstance(piece, LongLine):
        part.lines += 1
        part.skip(piece.line_no, "line too long (longer than the read chunk)")
        return
    part.lines += piece.lines
    if plan.fmt == JSON:
        _json_chunk(piece, plan, part)
    else:
        _text_chunk(piece, plan, part)


def _line_bounds(data: bytes, pos: int, lo: int, hi: int) -> tuple[int, int]:
    """(start, end) of the line holding data[pos], within data[lo:hi]; end is its newline (or hi)."""
    start = data.rfind(b"\n", lo, pos) + 1 or lo
    end = data.find(b"\n", pos, hi)
    return start, (hi if end < 0 else end)


def _json_chunk(chunk: Chunk, plan: Plan, part: Part) -> None:
    data, lo, hi = chunk.data, chunk.start, chunk.end
    last = hi - 1 if data[hi - 1:hi] == b"\n" else hi      # the end of the last line's content
    odd: dict[int, int] = {}                                 # line start -> line end, malformed-looking
    if data[lo:lo + 1] != b"{":
        odd[lo] = _line_bounds(data, lo, lo, hi)[1]
    tail = data[last - 2:last] if data[last - 1:last] == b"\r" else data[last - 1:last]
    if last <= lo or not tail.startswith(b"}"):
        s, e = _line_bounds(data, max(last - 1, lo), lo, hi)
        odd[s] = e
    for m in _JSON_EDGE.finditer(data, lo, last):
        p = m.start()
        if data[p + 1:p + 2] != b"{":
            odd[p + 1] = _line_bounds(data, p + 1, lo, hi)[1]
        if data[p - 1:p] != b"}" and data[p - 2:p] != b"}\r":
            odd[data.rfind(b"\n", lo, p) + 1 or lo] = p
    cands: dict[int, int] = {}
    for mk in plan.markers:
        hit = mk.search(data, lo, hi)
        while hit is not None:
            s, e = _line_bounds(data, hit.start(), lo, hi)
            cands[s] = e
            hit = mk.search(data, e, hi)
    for s, e in sorted(odd.items()):
        if s not in cands:
            _json_line(chunk, s, data[s:e], plan, part, odd=True)
    if cands:
        _json_candidates(chunk, cands, plan, part)


def _json_candidates(chunk: Chunk, cands: dict[int, int], plan: Plan, part: Part) -> None:
    data = chunk.data
    starts = sorted(cands)
    raws = [data[s:cands[s]] for s in starts]
    # One json.loads over all candidates costs a third of one call per line; a bad line makes it fail,
    # and then each line is parsed alone so the bad one is skipped and named.
    try:
        recs = json.loads(b"[" + b",".join(raws) + b"]")
    except (ValueError, RecursionError):
        recs = None
    if recs is None or len(recs) != len(raws) or not all(isinstance(r, dict) for r in recs):
        for s, raw in zip(starts, raws):
            _json_line(chunk, s, raw, plan, part, odd=False)
        return
    for s, raw, rec in zip(starts, raws, recs):
        _record(chunk, s, raw, rec, plan, part)


def _json_line(chunk: Chunk, start: int, raw: bytes, plan: Plan, part: Part, odd: bool) -> None:
    if odd and not raw.strip():
        part.blank += 1
        return
    try:
        rec = jsonlines.load(raw.strip())
    except Skip as e:
        part.skip(_line_no(chunk, start) if part.wants_samples else None, str(e))
        return
    _record(chunk, start, raw, rec, plan, part)


def _record(chunk: Chunk, start: int, raw: bytes, rec: dict, plan: Plan, part: Part) -> None:
    try:
        ev = jsonlines.event_of(rec)
    except (Skip, ValueError, TypeError) as e:
        part.skip(_line_no(chunk, start) if part.wants_samples else None, f"unreadable fields ({e})")
        return
    if ev is not None:
        part.groups.add(ev, raw, plan.keep)


def _line_no(chunk: Chunk, start: int) -> int:
    return chunk.first_line + chunk.data.count(b"\n", chunk.start, start)


def _text_chunk(chunk: Chunk, plan: Plan, part: Part) -> None:
    text = chunk.text
    lines = text.split(b"\n")
    if text.endswith(b"\n"):
        lines.pop()
    structure = formats.STRUCTURE.get(plan.fmt)
    parser = formats.PARSERS.get(plan.fmt)
    name = formats.NAMES.get(plan.fmt, plan.fmt)
    for i, raw in enumerate(lines):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if not line.strip():
            part.blank += 1
            continue
        ev: Event | None = None
        try:
            if plan.fmt == UNKNOWN:
                ev = formats.parse_any(line)[1]
            elif structure is None or parser is None or not structure.match(line):
                raise Skip(f"not a {name} line")
            elif formats.is_candidate(plan.fmt, line):
                ev = parser(formats.decode(line).strip())
        except Skip as e:
            part.skip(chunk.first_line + i if part.wants_samples else None, str(e))
            continue
        except (ValueError, TypeError, RecursionError) as e:
            part.skip(chunk.first_line + i if part.wants_samples else None, f"unreadable ({e})")
            continue
        if ev is not None:
            part.groups.add(ev, line, plan.keep)
