"""The last line of defence before anything is written: secrets in text are replaced.

Sources already leave secrets out (no Secrets listed, DSN passwords never stored, secret-looking env
values dropped); this catches what slips through in free text: log lines, queries, dump text.
"""

from __future__ import annotations

import re

MASK = b"<redacted>"

_PATTERNS = [
    # URI credentials: scheme://user:password@host
    (re.compile(rb"([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@\"']+:)[^@\s/\"']+(@)"), rb"\1" + MASK + rb"\2"),
    # key=value and "key": "value" for secret-looking keys
    (re.compile(rb"(?i)(\b[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)[\w.-]*"
                rb"\"?\s*[=:]\s*\"?)([^\s\"',;&]+)"), rb"\1" + MASK),
    # Authorization headers
    (re.compile(rb"(?i)(authorization\"?\s*[=:]\s*\"?(?:bearer|basic|token)\s+)[A-Za-z0-9._~+/=-]+"), rb"\1" + MASK),
    # Things that look like bearer tokens on their own (JWTs)
    (re.compile(rb"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"), MASK),
]


def scrub(data: bytes) -> bytes:
    for pattern, repl in _PATTERNS:
        data = pattern.sub(repl, data)
    return data


def scrub_text(text: str) -> str:
    return scrub(text.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")
