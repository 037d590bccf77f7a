"""Which format a log is in, decided per file from its first lines.

Each format has: a parser (text line -> Event | None, raising Skip), a structural pattern (what a
well-formed line starts with, checked on whole chunks for the lines that are not parsed), and the
byte markers that make a line a candidate for a full parse.
"""

from __future__ import annotations

import re
from typing import Callable

from . import classify, envoy, haproxy, jsonlines, logfmt, nginx, text_formats
from .event import Event, Skip

JSON, LOGFMT, NGINX, ENVOY, UNKNOWN = "json", "logfmt", "nginx", "envoy", "unknown"
HAPROXY, TEXT = "haproxy", "text"       # TEXT: application text layouts (text_formats.py)
CUSTOM = "custom"                       # a --log-format mapping (custom_format.py)

# Candidate markers, built from the signal table (model/signals.py, logs/classify.py). Each marker costs
# one pass over the data, so they are few, and each starts with a literal byte: the regex engine then skips
# ahead to that byte and runs at 2-3.5 GB/s, where bytes.find on "timeout" manages 1.6 (an alternation of
# two first bytes, as in [xX] or TIME|XCEEDED, loses the skip and runs at 0.1 GB/s: hence one first byte
# per pass, and the markers of every signal that share a first byte searched in one pass). The kernel
# looks for a pass's first byte with a memchr (bytes.find of one byte, ~25 GB/s) and matches the marker
# there (kernel._mark), so a pass whose first byte is rare costs next to nothing. The full parse decides.
JSON_MARKERS: tuple[re.Pattern[bytes], ...] = classify.JSON_MARKERS
# Envoy's JSON access logs say it with a flag ("UT", "UT,URX", "UF") or a code (503); searched only in
# files whose sample has the response_flags key.
ENVOY_JSON_MARKERS: tuple[re.Pattern[bytes], ...] = classify.ENVOY_JSON_MARKERS
# A JSON sample with one of these keys is a proxy's access log (Envoy's response_flags, ingress-nginx's
# $proxy_upstream_name and $upstream_status, nested as http.upstream.{...} in ECS-style layouts): its lines
# say a signal by flags and status codes, so the proxy markers are searched too.
PROXY_JSON_KEYS: tuple[bytes, ...] = (b'"response_flags"', b'"proxy_upstream_name"', b'"proxyUpstreamName"',
                                      b'"upstream_proxy_name"', b'"upstream_status"', b'"upstreamStatus"',
                                      b'"upstream":{')

Parser = Callable[[str], "Event | None"]

STRUCTURE: dict[str, re.Pattern[bytes]] = {
    NGINX: re.compile(nginx.STRUCTURE),
    ENVOY: re.compile(envoy.STRUCTURE),
    LOGFMT: re.compile(logfmt.STRUCTURE),
    HAPROXY: re.compile(haproxy.STRUCTURE),
    TEXT: re.compile(text_formats.STRUCTURE),
}
PARSERS: dict[str, Parser] = {NGINX: nginx.parse, ENVOY: envoy.parse, LOGFMT: logfmt.parse,
                              HAPROXY: haproxy.parse, TEXT: text_formats.parse}
NAMES = {JSON: "JSON", LOGFMT: "logfmt", NGINX: "nginx", ENVOY: "Envoy access log", HAPROXY: "HAProxy",
         TEXT: "application text", CUSTOM: "--log-format mapping"}


def is_candidate(fmt: str, line: bytes) -> bool:
    """Whether a text-format line could hold an event (Envoy flags and codes, any signal's words)."""
    if fmt == ENVOY:
        return bool(classify.ENVOY_CANDIDATE.search(line))
    if fmt == NGINX and nginx.CANDIDATE.search(line):
        return True              # an access line's 504 / 502 / 503
    if fmt == HAPROXY:
        return bool(haproxy.CANDIDATE.search(line))
    return _marked(line)


def _marked(line: bytes) -> bool:
    """Whether any signal's markers are in the line. The table guarantees they find every spelling its
    words accept (model/signals.py), and each starts with a literal byte, so this costs a fraction of
    searching the case-insensitive words (0.4 us a line against 13)."""
    return classify.LINE_MARKERS.search(line) is not None


_TEXT_HEAD = re.compile(text_formats.HEAD)


def structure_of(line: bytes) -> str | None:
    """The first format whose distinctive structure the (UTF-8) line has (JSON: `{...}`; logfmt: pairs that
    parse whole), or None. Text continuation lines (leading blanks) are too weak to count read on sight."""
    t = line.strip()
    if not t.isascii():
        try:
            t.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if t[:1] == b"{":
        return JSON if t[-1:] == b"}" else None
    for fmt in (NGINX, ENVOY, HAPROXY):
        if STRUCTURE[fmt].match(t):
            return fmt
    if _TEXT_HEAD.match(t):
        return TEXT
    if STRUCTURE[LOGFMT].match(t) and logfmt.looks_like(t.decode("utf-8")):
        return LOGFMT           # its pairs parse whole (a line of prose with an `=` in it does not)
    return None


def may_be_event(fmt: str, line: bytes) -> bool:
    """is_candidate, for JSON lines too (Envoy's JSON flags and codes included)."""
    if fmt == JSON:
        return _marked(line) or any(mk.search(line) for mk in ENVOY_JSON_MARKERS)
    return is_candidate(fmt, line)


NO_FORMAT = "no known log format (JSON, logfmt, nginx, Envoy, HAProxy, application text)"


def parse_any(line: bytes, exclude: str = UNKNOWN) -> tuple[str, Event | None]:
    """The first format (but `exclude`) that parses the whole line, and its event; else Skip.

    For a file of no known format every line goes here; in a file of a known format, only the lines
    that format does not take (docs/logs.md "Mixed formats"), which a well-formed log has few of."""
    text = decode(line).strip()
    if text.startswith("{"):
        if exclude != JSON:
            return JSON, jsonlines.parse(text)
        raise Skip(NO_FORMAT)
    head = line.lstrip()
    for fmt in (NGINX, ENVOY, HAPROXY):
        if fmt != exclude and STRUCTURE[fmt].match(head):
            return fmt, PARSERS[fmt](text)
    if exclude != TEXT and STRUCTURE[TEXT].match(line) and text_formats.looks_like(text):
        return TEXT, text_formats.parse(text)
    if exclude != LOGFMT and STRUCTURE[LOGFMT].match(head) and logfmt.looks_like(text):
        return LOGFMT, logfmt.parse(text)
    raise Skip(NO_FORMAT)


def decode(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        raise Skip("not UTF-8") from None


def _fits(fmt: str, line: bytes) -> bool:
    try:
        text = decode(line).strip()
        if fmt == JSON:
            jsonlines.load(text)
            return True
        if fmt == LOGFMT:
            return logfmt.looks_like(text)
        return {NGINX: nginx.looks_like, ENVOY: envoy.looks_like, HAPROXY: haproxy.looks_like,
                TEXT: text_formats.looks_like}[fmt](text)
    except Skip:
        return False


def sniff(sample: bytes, max_lines: int = 200) -> tuple[str, bool]:
    """(format, envoy_json) from a file's first bytes: the format most sample lines parse as, if at least
    half of them do; UNKNOWN otherwise. envoy_json: the JSON sample is a proxy's access log
    (PROXY_JSON_KEYS: Envoy's response_flags, ingress-nginx's upstream fields)."""
    lines = sample_lines(sample, max_lines)
    if not lines:
        return UNKNOWN, False
    best, best_n = best_fit(lines)
    if best_n * 2 < len(lines):
        return UNKNOWN, False
    return best, best == JSON and any(key in ln for ln in lines for key in PROXY_JSON_KEYS)


def sample_lines(sample: bytes, max_lines: int = 200) -> list[bytes]:
    """The non-blank whole lines of a file's first bytes, at most `max_lines`."""
    if len(sample.split(b"\n", max_lines)) <= max_lines and b"\n" in sample:
        sample = sample[:sample.rfind(b"\n")]       # the sample may end mid-line
    return [ln.rstrip(b"\r") for ln in sample.split(b"\n", max_lines)[:max_lines] if ln.strip()]


def best_fit(lines: list[bytes]) -> tuple[str, int]:
    """The format most of the lines parse as (the first in order on a tie), and how many do."""
    best, best_n = UNKNOWN, 0
    for fmt in (JSON, NGINX, ENVOY, HAPROXY, TEXT, LOGFMT):
        n = sum(1 for ln in lines if _fits(fmt, ln))
        if n > best_n:
            best, best_n = fmt, n
        if n == len(lines):
            break
    return best, best_n
