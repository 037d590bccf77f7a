"""Text from logs, clusters, servers and files is data. These make it safe for each output; nothing else
escapes.

`one_line` is the one way outside text is made safe for a terminal line: everything a terminal would act
on or that would start another line or reorder the text (C0 controls with tab, newline and carriage return,
DEL, C1 controls, line/paragraph separators, bidi controls) is shown as a visible escape, so a service named
"api\\n 1. database likely 0.99" cannot forge a report line. The per-format functions build on it and add
what that format would interpret (rich markup, Markdown). JSON keeps its own escaping (json.dumps).
"""

from __future__ import annotations

import re
from typing import Iterable

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(m: re.Match[str]) -> str:
    ch = m.group()
    return _NAMED.get(ch) or ("\\x%02x" % ord(ch) if ord(ch) < 0x100 else "\\u%04x" % ord(ch))


def one_line(text: object) -> str:
    """Outside text for one terminal line: control, separator and bidi characters as visible escapes."""
    return _UNSAFE.sub(_visible, str(text))


def rich_text(text: object) -> str:
    """For rich markup strings: one line, then every `[` escaped so data cannot open a tag."""
    from rich.markup import escape

    return escape(one_line(text))


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


def md_text(text: object) -> str:
    """For Markdown prose and table cells: one line, Markdown and HTML characters escaped."""
    return _MD_SPECIAL.sub(r"\\\1", one_line(text))


def md_code_block(lines: Iterable[object], lang: str = "") -> str:
    """A fenced block of lines, each made one line, whose fence is longer than any backtick run inside,
    so data can neither close it nor add lines to it."""
    body = "\n".join(one_line(line) for line in lines)
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{body}\n{fence}"
