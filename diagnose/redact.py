"""The last line of defence before anything is written: secrets in text are replaced.

Sources already leave secrets out (no Secrets listed, DSN passwords never stored, secret-looking env
values dropped); this catches what slips through in free text: log lines, queries, dump text. JSON
documents are redacted by structure (and stay valid JSON); other text by pattern.
"""

from __future__ import annotations

import json
import re
from typing import Any

MASK = "<redacted>"
_SECRET_WORDS = r"(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)"
_SECRET_KEY = re.compile(rf"(?i){_SECRET_WORDS}")

_PATTERNS = [
    # URI credentials: scheme://user:password@host
    (re.compile(rb"([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@\"']+:)[^@\s/\"']+(@)"), rb"\1<redacted>\2"),
    # key=value and "key": "value" for secret-looking keys (not a nested {...} or [...])
    (re.compile(rb"(?i)(\b[\w.-]*" + _SECRET_WORDS.encode() + rb"[\w.-]*\"?\s*[=:]\s*\"?)([^\s\"',;&{}\[\]]+)"),
     rb"\1<redacted>"),
    # SQL: CREATE/ALTER ROLE ... PASSWORD 'secret' (and ENCRYPTED PASSWORD)
    (re.compile(rb"(?i)(\bpassword\s+)'(?:[^']|'')*'"), rb"\1'<redacted>'"),
    # Authorization headers
    (re.compile(rb"(?i)(authorization\"?\s*[=:]\s*\"?(?:bearer|basic|token)\s+)[A-Za-z0-9._~+/=-]+"),
     rb"\1<redacted>"),
    # Things that look like bearer tokens on their own (JWTs)
    (re.compile(rb"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"), b"<redacted>"),
]


def scrub(data: bytes) -> bytes:
    if data.lstrip()[:1] in (b"{", b"["):
        try:
            doc = json.loads(data)
        except ValueError:
            return _scrub_bytes(data)
        clean = _walk(doc)
        return data if clean == doc else (json.dumps(clean, indent=1) + "\n").encode()
    return _scrub_bytes(data)


def scrub_text(text: str) -> str:
    return _scrub_bytes(text.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")


def _scrub_bytes(data: bytes) -> bytes:
    for pattern, repl in _PATTERNS:
        data = pattern.sub(repl, data)
    return data


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        # {"name": "DB_PASSWORD", "value": "..."}: an env entry or a setting named like a secret.
        secret_entry = isinstance(node.get("name"), str) and _SECRET_KEY.search(node["name"])
        out = {}
        for k, v in node.items():
            if isinstance(v, str) and (_SECRET_KEY.search(str(k)) or (secret_entry and k == "value")):
                out[k] = MASK
            else:
                out[k] = _walk(v)
        return out
    if isinstance(node, list):
        return [_walk(v) for v in node]
    if isinstance(node, str):
        return scrub_text(node)
    return node
