"""What happens to each chunk: count lines, find the malformed ones, fully parse only the candidates.

JSON (the fast path, docs/logs.md "How lines are counted"): a chunk's lines are counted by the reader
with one bytes.count; one regex pass finds the line boundaries that are not `}` newline `{` (lines that
do not start with `{` or do not end with `}`); a pass per first byte of the markers (formats.JSON_MARKERS,
_mark: a memchr, the marker matched there) finds the lines that may hold an event. Only those two kinds
of line are parsed with json.loads; every other line is structurally a JSON object and counted as read.
Text formats (logfmt, nginx, Envoy) are checked line by line against their structural pattern and parsed
when a line may hold an event.

A line its file's format does not take (not JSON in a JSON file, not nginx in an nginx file) is offered
to the other formats (formats.parse_any) and is skipped only when none takes it: logs mix formats (an
ingress controller, a sidecar's lines in an app's stream). Only such lines pay for it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

from . import formats, jsonlines, nginx
from .event import Event, Skip
from .formats import JSON, NGINX, UNKNOWN
from .group import Groups
from .stream import Chunk, LongLine, Piece

if TYPE_CHECKING:
    from .custom_format import LogFormat

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
    markers: tuple[tuple[bytes, re.Pattern[bytes]], ...]      # (first byte, marker)
    keep: int
    wrapped: bool = False       # lines are peeled first (wrappers.py); fmt is the inner lines' format
    access_only: bool = False   # an nginx file with upstreaminfo access lines: error lines repeat them
    custom: LogFormat | None = None     # --log-format: every line is offered to the mapping first


def plan_for(fmt: str, envoy_json: bool, keep: int, wrapped: bool = False, access_only: bool = False,
             custom: LogFormat | None = None) -> Plan:
    markers = formats.JSON_MARKERS + (formats.ENVOY_JSON_MARKERS if envoy_json else ())
    return Plan(fmt, tuple((_first_byte(mk), mk) for mk in markers), keep, wrapped, access_only, custom)


def _first_byte(marker: re.Pattern[bytes]) -> bytes:
    """The byte every match starts with; the memchr in _mark depends on there being one."""
    first, after = marker.pattern[:1], marker.pattern[1:2]
    if not first.isalnum() or after in (b"*", b"?", b"{", b"|"):
        raise ValueError(f"marker {marker.pattern!r} must start with a literal letter or digit")
    return first


def process(piece: Piece, plan: Plan, part: Part) -> None:
    if isinstance(piece, LongLine):
        part.lines += 1
        part.skip(piece.line_no, "line too long (longer than the read chunk)")
        return
    part.lines += piece.lines
    if piece.end <= piece.start:
        return                   # a wrapped chunk whose lines were all parts of a longer one
    if plan.custom is not None:
        _custom_chunk(piece, plan, plan.custom, part)
    elif plan.fmt == JSON:
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
    for first, mk in plan.markers:
        _mark(data, lo, hi, first, mk, cands)
    recs = _load_batch(data, [s for s in cands if s not in odd], cands) if cands else {}
    if not odd and len(recs) == len(cands):
        for s in sorted(recs):
            _record(chunk, s, data[s:cands[s]], recs[s], plan, part)
        return
    # In line order, so the skip samples are the first ones.
    for s in sorted(odd.keys() | cands.keys()):
        e = cands[s] if s in cands else odd[s]
        rec = recs.get(s)
        if rec is not None:
            _record(chunk, s, data[s:e], rec, plan, part)
        else:
            _json_line(chunk, s, data[s:e], plan, part)


# A memchr plus a match costs about 0.1 us per occurrence of a marker's first byte; the regex engine's own
# scan costs about 0.25 ns per byte of the chunk and little per occurrence. So an occurrence more often
# than one in _SCAN_SPACING bytes is cheaper left to the regex engine.
_SCAN_SPACING = 400
_SCAN_AFTER = 16        # misses before the spacing is judged (a few close occurrences say little)


def _mark(data: bytes, lo: int, hi: int, first: bytes, mk: re.Pattern[bytes], cands: dict[int, int]) -> None:
    """Add to cands (line start -> line end) the lines of data[lo:hi] where the marker matches.

    A memchr for the marker's first byte, the marker matched there: a chunk without the byte costs a
    memchr, a rare byte (upper case, q, x, y, z) a few. When the byte turns out to be common in this
    chunk, the regex engine searches the rest. The markers' lookbehinds read bytes before the match's
    start, as in a search."""
    p = data.find(first, lo, hi)
    misses = 0
    while p >= 0:
        hit = mk.match(data, p, hi)
        if hit is not None:
            s, e = _line_bounds(data, p, lo, hi)
            cands[s] = e
            p = data.find(first, e, hi)
            continue
        misses += 1
        if misses >= _SCAN_AFTER and (p - lo) < misses * _SCAN_SPACING:
            break
        p = data.find(first, p + 1, hi)
    else:
        return
    found = mk.search(data, p + 1, hi)
    while found is not None:
        s, e = _line_bounds(data, found.start(), lo, hi)
        cands[s] = e
        found = mk.search(data, e, hi)


def _load_batch(data: bytes, starts: list[int], ends: dict[int, int]) -> dict[int, dict[str, Any]]:
    """start -> record for the candidate lines, when all of them load as JSON objects; else {}.

    One json.loads over all candidates costs a third of one call per line. Lines that are structurally
    odd (not `{...}`) are left out, so a mixed-format line does not make the batch fail; a line that
    does (`{"a": bad}`) sends every candidate of the chunk to be parsed alone, so the bad one is named."""
    if not starts:
        return {}
    starts.sort()
    try:
        recs = json.loads(b"[" + b",".join([data[s:ends[s]] for s in starts]) + b"]")
    except (ValueError, RecursionError):
        return {}
    if len(recs) != len(starts) or not all(r.__class__ is dict for r in recs):
        return {}
    return dict(zip(starts, recs, strict=True))


def _json_line(chunk: Chunk, start: int, raw: bytes, plan: Plan, part: Part) -> None:
    text = raw.strip()
    if not text:
        part.blank += 1
        return
    try:
        rec = jsonlines.load(text)
    except Skip as e:
        _other_format(chunk, start, raw, plan, part, str(e))
        return
    _record(chunk, start, raw, rec, plan, part)


def _other_format(chunk: Chunk, start: int, raw: bytes, plan: Plan, part: Part, reason: str,
                  line_no: int | None = None, index: int | None = None) -> None:
    """A line the file's format does not take: counted as read if another format takes it, else skipped
    with the file format's reason (the one that says what was expected)."""
    line = raw[:-1] if raw.endswith(b"\r") else raw
    try:
        ev = formats.parse_any(line, exclude=plan.fmt)[1]
    except (Skip, ValueError, TypeError, RecursionError):
        if line_no is None and part.wants_samples:
            line_no = _line_no(chunk, start)
        part.skip(line_no, reason)
        return
    if ev is not None:
        _add(chunk, start, index, ev, line, plan, part)


def _add(chunk: Chunk, start: int, index: int | None, ev: Event, raw: bytes, plan: Plan, part: Part) -> None:
    """Group an event; a wrapped line's event first takes what its wrapper said (wrappers.Peeled)."""
    if chunk.peeled is not None:
        chunk.peeled.fill(ev, index if index is not None else chunk.data.count(b"\n", chunk.start, start))
    part.groups.add(ev, raw, plan.keep)


def _record(chunk: Chunk, start: int, raw: bytes, rec: dict[str, Any], plan: Plan, part: Part) -> None:
    try:
        ev = jsonlines.event_of(rec)
    except (Skip, ValueError, TypeError) as e:
        part.skip(_line_no(chunk, start) if part.wants_samples else None, f"unreadable fields ({e})")
        return
    if ev is not None:
        _add(chunk, start, None, ev, raw, plan, part)


def _line_no(chunk: Chunk, start: int) -> int:
    index = chunk.data.count(b"\n", chunk.start, start)
    return chunk.peeled.line_no(chunk.first_line, index) if chunk.peeled is not None else chunk.first_line + index


def _line_at(chunk: Chunk, index: int) -> int:
    return chunk.peeled.line_no(chunk.first_line, index) if chunk.peeled is not None else chunk.first_line + index


def _lines(chunk: Chunk, part: Part) -> Iterator[tuple[int, bytes]]:
    """The chunk's lines that are not blank, with their index, a trailing \\r dropped; blank ones are counted."""
    lines = chunk.text.split(b"\n")
    if chunk.text.endswith(b"\n"):
        lines.pop()
    for i, raw in enumerate(lines):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if not line.strip():
            part.blank += 1
            continue
        yield i, line


def _unreadable(chunk: Chunk, index: int, part: Part, e: Exception) -> None:
    """A line its parser refused (Skip: the reason is its message) or could not read."""
    part.skip(_line_at(chunk, index) if part.wants_samples else None,
              str(e) if isinstance(e, Skip) else f"unreadable ({e})")


def _text_chunk(chunk: Chunk, plan: Plan, part: Part) -> None:
    structure = formats.STRUCTURE.get(plan.fmt)
    parser = formats.PARSERS.get(plan.fmt)
    if plan.access_only and plan.fmt == NGINX:
        parser = _nginx_access_only
    name = formats.NAMES.get(plan.fmt, plan.fmt)
    for i, line in _lines(chunk, part):
        ev: Event | None = None
        try:
            if plan.fmt == UNKNOWN:
                shape = formats.structure_of(line)
                if shape is not None and not formats.may_be_event(shape, line):
                    continue     # no event can be in it; counted as read, as a known format's lines are
                ev = formats.parse_any(line)[1]
            elif structure is None or parser is None or not structure.match(line):
                _other_format(chunk, 0, line, plan, part, f"not a {name} line", _line_at(chunk, i), i)
                continue
            elif formats.is_candidate(plan.fmt, line):
                try:
                    ev = parser(formats.decode(line).strip())
                except Skip as e:
                    # The start of a line of this format but not the rest: another format may take it.
                    _other_format(chunk, 0, line, plan, part, str(e), _line_at(chunk, i), i)
                    continue
        except (Skip, ValueError, TypeError, RecursionError) as e:
            _unreadable(chunk, i, part, e)
            continue
        if ev is not None:
            _add(chunk, 0, i, ev, line, plan, part)


def _nginx_access_only(line: str) -> Event | None:
    return nginx.parse(line, access_only=True)


def _custom_chunk(chunk: Chunk, plan: Plan, custom: LogFormat, part: Part) -> None:
    """--log-format: every line is read by the mapping (an in-house format has no pre-filter of its own);
    a line it does not take is offered to the built-in formats, as a mixed line is."""
    for i, line in _lines(chunk, part):
        try:
            reading = custom.read(formats.decode(line).strip())
        except (Skip, ValueError, TypeError, RecursionError) as e:
            _unreadable(chunk, i, part, e)
            continue
        if not reading.matched:
            _other_format(chunk, 0, line, plan, part, reading.reason or f"not a {custom.name} line",
                          _line_at(chunk, i), i)
        elif reading.event is not None:
            _add(chunk, 0, i, reading.event, line, plan, part)
