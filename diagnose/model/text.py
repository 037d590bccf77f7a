"""Plain-text shaping every layer does the same way: text on one line within a length, "the first few and
N more", milliseconds. Data only: escaping for a terminal or Markdown stays in render/escape.py."""

from __future__ import annotations

from typing import Sequence


def single_line(text: object, most: int = 300, *, mark: str = "") -> str:
    """`text` on one line: every run of whitespace (newlines included) one space; at most `most` characters,
    the last of them `mark` when it was cut ("..." says so; "" cuts silently)."""
    line = " ".join(str(text).split())
    return line if len(line) <= most else line[:most - len(mark)] + mark


def first_of(items: Sequence[str], most: int = 3, *, sep: str = ", ", more: str = " and {n} more") -> str:
    """The first `most` items joined by `sep`, then `more` with {n}, the number left out, when any were."""
    shown = sep.join(items[:most])
    return shown + (more.format(n=len(items) - most) if len(items) > most else "")


def ms(x: float | None, unknown: str = "?", *, grouped_from: float = float("inf")) -> str:
    """A duration in milliseconds as people read it ("250 ms", "1.5 ms"); `unknown` for None; from
    `grouped_from` on, whole and with thousands separators ("12,000 ms")."""
    if x is None:
        return unknown
    return f"{x:,.0f} ms" if x >= grouped_from else f"{x:g} ms"
