"""Which format a file holds, from its content (never its name), and text decoding of dump bytes."""

from __future__ import annotations

from typing import Callable

from ...model.threads import ThreadDump
from . import dotnet, go, jvm_json, jvm_plain, jvm_text, pyspy

Parser = Callable[[str, str, str], "list[ThreadDump]"]

# Order matters: JSON first (it may quote JVM frames), then Go and py-spy (whose headers are distinctive),
# then the JVM text forms, whose loosest pattern would match other text.
FORMATS: tuple[tuple[str, Callable[[str], bool], Parser], ...] = (
    ("jvm-json", jvm_json.looks_like, jvm_json.parse),
    ("py-spy-json", pyspy.looks_like_json, pyspy.parse_json),
    ("go", go.looks_like, go.parse),
    ("py-spy", pyspy.looks_like, pyspy.parse),
    ("dotnet-stack", dotnet.looks_like, dotnet.parse),
    ("jvm-plain", jvm_plain.looks_like, jvm_plain.parse),
    ("jvm", jvm_text.looks_like, jvm_text.parse),
)


def detect(text: str) -> tuple[str, Parser] | None:
    for name, looks, parse in FORMATS:
        if looks(text):
            return name, parse
    return None


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding). UTF-8 and UTF-16 with a BOM; UTF-16 without one when every other byte is NUL
    (Windows tools write that); UTF-8; Latin-1 as the last resort, which never fails."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace"), "utf-16"
    head = data[:4000]
    if len(head) >= 4:
        odd = head[1::2].count(0) / (len(head) // 2)
        even = head[0::2].count(0) / (len(head) // 2)
        if odd > 0.4 and even < 0.05:
            return data.decode("utf-16-le", "replace"), "utf-16-le"
        if even > 0.4 and odd < 0.05:
            return data.decode("utf-16-be", "replace"), "utf-16-be"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"
