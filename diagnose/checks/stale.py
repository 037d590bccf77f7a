"""How a finding says its data predates the incident (docs/ranking.md, "Stale evidence").

A finding's `stale` text names what is old and by how much ("no samples in the window: last at 07:45Z,
3 h before the incident"); ranking weighs such a finding down by the runbook's `stale_discount`. The
age is counted back from the first timeout, as the thread-dump check counts it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from ..model.incident import Window, clock
from ..model.metrics import Signal


def age(seconds: float) -> str:
    """"25 min", "3 h", "2 days": the coarsest unit that still reads as a number."""
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h" if seconds < 2 * 86400 else f"{seconds / 86400:.0f} days"


def before(window: Window, t: datetime) -> str:
    """"3 h before the incident"."""
    return f"{age((window.onset - t).total_seconds())} before the incident"


def stale_signals(window: Window, signals: Iterable[Signal | None]) -> str | None:
    """The stale text of a finding resting on these signals: set when every one of them ended before the
    incident (no series reached it, `Signal.ended`), None when one of them has samples in it."""
    read = [s for s in signals if s is not None]
    ends = [s.ended for s in read]
    if not read or any(t is None for t in ends):
        return None
    last = max(t for t in ends if t is not None)
    if last < window.start:
        return f"no samples in the window: last at {clock(last)}, {before(window, last)}"
    return f"no samples since {clock(last)}, {before(window, last)}"
