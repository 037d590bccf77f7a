"""The one line every report opens with, short enough for a paging message: the top cause, its verdict and
the first command to run (or, when nothing is likely, the report's own summary line).

The same words in every format: text and Markdown print it first, JSON carries it as `"headline"`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.report import CauseReport, Report

ACTIONABLE = ("likely", "possible")


@dataclass(frozen=True)
class Headline:
    lead: str                    # "frontend-api -> user-auth-service: mesh-timeout likely (0.97)"
    command: str | None = None   # the first command of the top cause's first fix, when it has one
    advice: str | None = None    # else that fix's summary

    def plain(self) -> str:
        if self.command:
            return f"{self.lead}; first: {self.command}"
        return f"{self.lead}; first: {self.advice}" if self.advice else self.lead


def headline(report: Report) -> Headline:
    inc = report.incident
    pair = f"{inc.service} -> {inc.upstream}"
    top = report.causes[0] if report.causes else None
    if top is None or top.verdict not in ACTIONABLE:
        # Nothing likely or possible: the report's summary (engine/summary.py) says what the timeouts
        # probably are; a report made without one still says that no cause stands out.
        summary = getattr(report, "summary", None)
        if summary:
            return Headline(f"{pair}: {summary}")
        if top is None:
            return Headline(f"{pair}: no cause in the runbook")
        return Headline(f"{pair}: no likely cause; the highest is {_rated(top)}")
    fix = next(iter(top.fixes), None)
    command = next((c for f in top.fixes for c in f.commands), None)
    return Headline(f"{pair}: {_rated(top)}", command, None if command else (fix.summary if fix else None))


def _rated(cause: CauseReport) -> str:
    return f"{cause.id} {cause.verdict} ({cause.confidence:.2f})"
