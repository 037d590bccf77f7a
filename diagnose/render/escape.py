"""Text from logs and clusters is data. These make it safe for each output; nothing else escapes.

`clean` removes what a terminal would act on (ANSI escapes, other control characters) by showing it as
a visible escape; the per-format functions add what that format would interpret (rich markup, Markdown).
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: object) -> str:
    """Control characters (ESC included) become visible `\\x1b`-style escapes; tabs/newlines stay."""
    s = str(text)
    return _CONTROL.sub(lambda m: "\\x%02x" % ord(m.group()) if ord(m.group()) < 0x100
                        else "\\u%04x" % ord(m.group()), s)


def one_line(text: object) -> str:
    return clean(str(text).replace("\r", " ").replace("\n", " ").replace("\t", " "))


def rich_text(text: object) -> str:
    """For rich markup strings: cleaned, then every `[` escaped so data cannot open a tag."""
    from rich.markup import escape

    return escape(clean(text))


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


def md_text(text: object) -> str:
    """For Markdown prose and table cells: cleaned, one line, Markdown and HTML characters escaped."""
    return _MD_SPECIAL.sub(r"\\\1", one_line(text))


def md_code_block(text: object, lang: str = "") -> str:
    """A fenced block whose fence is longer than any backtick run inside, so data cannot close it."""
    body = clean(text)
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{body}\n{fence}"
