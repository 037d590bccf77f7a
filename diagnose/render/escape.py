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

from ..redact import scrub_text

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(m: re.Match[str]) -> str:
    ch = m.group()
    return _NAMED.get(ch) or ("\\x%02x" % ord(ch) if ord(ch) < 0x100 else "\\u%04x" % ord(ch))


def one_line(text: object) -> str:
    """Outside text for one terminal line: control, separator and bidi characters as visible escapes.
    Secrets are redacted first, while the text is still as it came (escaping would split the patterns)."""
    return _UNSAFE.sub(_visible, scrub_text(str(text)))


def rich_text(text: object) -> str:
    """For rich markup strings: one line, then every `[` escaped so data cannot open a tag."""
    from rich.markup import escape

    return escape(one_line(text))


# What CommonMark (and GFM's strikethrough) reads anywhere in a line: escapes, code spans, emphasis with
# `*`, links and images (`[`, `]`), raw HTML, entities and autolinks (`<`, `&`), `~~`. `_` makes
# emphasis only at a word boundary (`PROMETHEUS_URL` is text; `_` itself is no letter there), `#`s close
# a heading only after a space and at the end of the line (`issue #10` is text).
# Everything else (`(`, `)`, `+`, `-`, `!`, `.`, `>` but at a line's start) is plain text there and stays as
# written.
_MD_INLINE = re.compile(r"[\\`*\[\]<&~]|(?<![^\W_])_|_(?![^\W_])|(?<!\S)#(?=#*[ \t]*$)")
# What opens a block at the start of a line (or of a list item's text): a heading, a quote, a list
# item (`-`, `+`, `*`, `1.`, `1)`), a thematic break or setext underline (`=`, `-`), a fence (handled above
# by the backtick and `~` escapes).
_MD_BLOCK_START = re.compile(r"^([-+=>#]|\d{1,9}(?=[.)]))")


def md_text(text: object, *, cell: bool = False) -> str:
    """For Markdown prose and table cells (`cell=True`: `|` escaped, block starts not): one line, and only what would
    change the rendering escaped, so `PROMETHEUS_URL`, `-XX:+UseG1GC` and `(3.0/min)` read as written
    while no emphasis, link, image, HTML or block can be formed by data. Leading spaces are kept as
    entities (four would start a code block)."""
    line = _MD_INLINE.sub(lambda m: "\\" + m.group(), one_line(text))
    if cell:
        # A cell holds inline text only: no block starts there, but `|` would end it.
        line = line.replace("|", "\\|")
    else:
        line = _MD_BLOCK_START.sub(lambda m: m.group() + "\\" if m.group()[0].isdigit() else "\\" + m.group(),
                                   line)
    stripped = line.lstrip(" ")
    return "&#32;" * (len(line) - len(stripped)) + stripped


def md_code_block(lines: Iterable[object], lang: str = "") -> str:
    """A fenced block of lines, each made one line, whose fence is longer than any backtick run inside,
    so data can neither close it nor add lines to it."""
    body = "\n".join(one_line(line) for line in lines)
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{body}\n{fence}"


def md_code_span(text: object) -> str:
    """Inline code: one line, between backtick runs longer than any inside (padded with a space where the
    text starts or ends with a backtick, as CommonMark strips one), so data cannot close it early."""
    body = one_line(text)
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if body.startswith(("`", " ")) or body.endswith(("`", " ")) else ""
    return f"{fence}{pad}{body}{pad}{fence}"
