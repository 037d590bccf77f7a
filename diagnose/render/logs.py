"""Rendering a LogScan: the contract's JSON (section 3), Markdown, and a rich table for the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model.incident import iso
from ..model.signals import names
from ..model.text import ms
from ..redact import scrub_json
from .escape import md_text, rich_text

if TYPE_CHECKING:
    from rich.console import Console

    from ..model.logscan import LogScan

SCHEMA = "diagnose.logs/v1"


def to_json(scan: "LogScan") -> dict[str, object]:
    doc: dict[str, object] = scrub_json({"schema": SCHEMA, "lines": scan.lines, "skipped": scan.skipped,
                                         # contract section 5: every incident says its signal here
                                         "incidents": [{**i.to_json(), "signal": i.signal}
                                                       for i in scan.incidents]})
    return doc


def _ms(x: float | None) -> str:
    return ms(x, "-", grouped_from=100)          # a table column: "-" when unknown, "12,000 ms"


def _rows(scan: "LogScan") -> list[list[str]]:
    rows = []
    for i in scan.incidents:
        d = i.duration_ms
        rows.append([i.signal, i.service, i.upstream + (f" ({i.namespace})" if i.namespace else ""), str(i.events),
                     iso(i.first_seen) or "-", iso(i.last_seen) or "-", _ms(i.timeout_ms),
                     " / ".join(_ms(x) for x in (d.p50, d.p99, d.max))])
    return rows


HEADERS = ["signal", "caller", "upstream", "events", "first seen", "last seen", "timeout", "p50 / p99 / max"]


def _skip_lines(scan: "LogScan") -> list[str]:
    out = [f"{path}:{line}: {reason}" for path, line, reason in scan.skip_samples]
    if scan.skipped > len(scan.skip_samples):
        out.append(f"... and {scan.skipped - len(scan.skip_samples)} more")
    return out


def _failure_lines(scan: "LogScan") -> list[str]:
    out = [f"{s} -> {u}: {n} upstream failures (Envoy UF/URX without a 502, 503 or 504)"
           for (s, u), n in sorted(scan.failures.items(), key=lambda kv: -kv[1])]
    if scan.dropped:
        out.append(f"{scan.dropped} events of further signal/caller/upstream groups were not grouped "
                   "(too many distinct groups)")
    return out


def _view_lines(scan: "LogScan") -> list[str]:
    """Which logs saw each incident, when a proxy's did (logs/vantage.py)."""
    return [f"{i.service} -> {i.upstream}: seen by " + "; ".join(v.words() for v in i.seen_by)
            for i in scan.incidents if i.seen_by]


def to_markdown(scan: "LogScan") -> str:
    out = ["# Log scan", "", f"{scan.lines:,} lines read, {scan.skipped:,} skipped, "
           f"{len(scan.incidents)} incident(s).", ""]
    if scan.incidents:
        out += ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        out += ["| " + " | ".join(md_text(c, cell=True) for c in row) + " |" for row in _rows(scan)]
        out.append("")
    else:
        out += [f"No {names()} found.", ""]
    views = _view_lines(scan)
    if views:
        out += ["## Vantage points", ""] + [f"- {md_text(v)}" for v in views] + [""]
    fails = _failure_lines(scan)
    if fails:
        out += ["## Upstream failures", ""] + [f"- {md_text(f)}" for f in fails] + [""]
    if scan.skipped:
        out += ["## Skipped lines", ""] + [f"- {md_text(s)}" for s in _skip_lines(scan)] + [""]
    return "\n".join(out)


def to_text(scan: "LogScan", console: "Console") -> None:
    from rich.table import Table

    console.print(f"{scan.lines:,} lines read, {scan.skipped:,} skipped, {len(scan.incidents)} incident(s)")
    if scan.incidents:
        table = Table(show_lines=False)
        for h in HEADERS:
            table.add_column(h, justify="right" if h in ("events", "timeout", "p50 / p99 / max") else "left")
        for row in _rows(scan):
            table.add_row(*(rich_text(c) for c in row))
        console.print(table)
    else:
        console.print(f"No {names()} found.")
    for v in _view_lines(scan):
        console.print(rich_text(v))
    for f in _failure_lines(scan):
        console.print(rich_text(f))
    if scan.skipped:
        console.print("Skipped lines:")
        for s in _skip_lines(scan):
            console.print("  " + rich_text(s))
