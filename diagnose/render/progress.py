"""Progress on stderr while sources are queried and checks run; silent when stderr is not a terminal."""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import Any

from ..model.evidence import SourceStatus
from ..model.finding import CheckResult
from .escape import rich_text

STYLE = {"ok": "green", "finding": "yellow", "error": "red", "skipped": "dim"}


class Progress:
    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._waiting: list[str] = []
        self._lock = threading.Lock()
        self._status: Any = None
        self._console: Any = None

    def __enter__(self) -> "Progress":
        if self.enabled:
            from .console import make_console

            self._console = make_console(stderr=True)
            self._status = self._console.status("gathering evidence ...")
            self._status.__enter__()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self._status is not None:
            self._status.__exit__(t, e, tb)

    def source(self, name: str, status: SourceStatus | None) -> None:
        if not self.enabled:
            return
        with self._lock:
            if status is None:
                self._waiting.append(name)
            else:
                if name in self._waiting:
                    self._waiting.remove(name)
                detail = f": {rich_text(status.error)}" if status.error else ""
                self._console.print(f"  [{STYLE[status.status]}]{status.status:>7}[/] {name} "
                                    f"[dim]{status.duration_ms} ms{detail}[/]")
            waiting = ", ".join(self._waiting)
            self._status.update(f"querying {waiting} ..." if waiting else "analysing ...")

    def check(self, cid: str, result: CheckResult | None) -> None:
        if self.enabled and result is None:
            self._status.update(f"running check {rich_text(cid)} ...")
