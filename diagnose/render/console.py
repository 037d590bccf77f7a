"""The one place terminal consoles are made: data must never be read as markup, emoji codes or
highlighting, so every console is made here with those off (escape.rich_text handles markup)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def make_console(**options: Any) -> Console:     # rich, imported when called
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # rich exits 1 when the reader leaves (`diagnose ... | head -1`); that is no error: the CLI
            # turns BrokenPipeError into a quiet exit 0.
            raise BrokenPipeError

    return _Console(emoji=False, highlight=False, **options)
