"""The one place terminal consoles are made: data must never be read as markup, emoji codes or
highlighting, so every console is made here with those off (escape.rich_text handles markup)."""

from __future__ import annotations

from typing import Any


def make_console(**options: Any):  # noqa: ANN201 - rich.console.Console, imported lazily
    from rich.console import Console

    return Console(emoji=False, highlight=False, **options)
