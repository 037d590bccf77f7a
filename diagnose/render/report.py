"""A report in the three shapes: a rich terminal view, the contract's JSON, a Markdown postmortem section.

Every string that came from logs, clusters or runbook files goes through render.escape on its way out, one
line each (a newline in a service name must not forge a line); JSON escapes through json.dumps.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..model.finding import Finding
from ..model.incident import iso
from ..model.report import CauseReport, Report
from .escape import md_code_block, md_text, rich_text

if TYPE_CHECKING:
    from rich.console import Console

VERDICT_STYLE = {"likely": "bold red", "possible": "yellow", "unlikely": "green", "ruled_out": "dim green",
                 "unknown": "magenta"}
STATUS_STYLE = {"ok": "green", "finding": "bold yellow", "error": "red", "skipped": "dim"}


def to_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=True) + "\n"


def _incident_lines(report: Report) -> list[str]:
    inc = report.incident
    d = inc.duration_ms
    when = f"{iso(inc.first_seen) or '?'} .. {iso(inc.last_seen) or '?'}"
    rate = f" ({inc.rate_per_min:.1f}/min)" if inc.rate_per_min else ""
    lines = [f"{inc.events} timeouts {when}{rate}"]
    if inc.timeout_ms:
        lines.append(f"caller timeout {inc.timeout_ms:g} ms; requests took p50 {_ms(d.p50)}, p99 {_ms(d.p99)}, "
                     f"max {_ms(d.max)}")
    if inc.namespace:
        lines.append(f"namespace {inc.namespace}")
    return lines


def _ms(x: float | None) -> str:
    return "?" if x is None else f"{x:g} ms"


def _others_lines(report: Report) -> list[str]:
    """The incidents the logs held besides the one diagnosed, and how to pick one."""
    if not report.other_incidents:
        return []
    inc = report.incident
    lines = [f"the logs hold {len(report.other_incidents) + 1} incidents; diagnosed: {inc.service} -> "
             f"{inc.upstream} ({inc.events} events); others (pick one with --upstream or --service):"]
    lines += [f"  {o.service} -> {o.upstream} ({o.events} events)" for o in report.other_incidents]
    return lines


def _summary(f: Finding) -> str:
    """A finding's text, with why it weighs less when its data predates the incident."""
    return f.summary + (f" (stale: {f.stale})" if f.stale else "")


def to_text(report: Report, console: "Console", *, evidence_per_cause: int = 6) -> None:
    from rich.table import Table

    inc = report.incident
    console.print(f"[bold]Incident[/]  {rich_text(inc.service)} [dim]->[/] [bold]{rich_text(inc.upstream)}[/]"
                  f"  [dim]({rich_text(inc.signal)}, runbook {rich_text(report.runbook)})[/]")
    if report.summary:
        # (right under the incident's name: the restyled view opens with it, as the headline)
        console.print(f"[bold]{rich_text(report.summary)}[/]")
    for line in _incident_lines(report) + _others_lines(report):
        console.print(f"  {rich_text(line)}")
    console.print()
    console.print("[bold]Causes, most likely first[/]")
    for n, cause in enumerate(report.causes, 1):
        _cause_text(console, n, cause, evidence_per_cause)

    blind = [(name, s) for name, s in report.sources.items() if s.status != "ok"]
    if blind:
        console.print("[bold]Could not check[/]")
        for name, s in blind:
            console.print(f"  [{STATUS_STYLE[s.status]}]{rich_text(name)}[/] {s.status}: {rich_text(s.error or '')}")
        console.print()
    table = Table(title=None, show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("check", "status", "ms", "note"):
        table.add_column(col)
    for r in report.checks:
        table.add_row(rich_text(r.id), f"[{STATUS_STYLE[r.status]}]{r.status}[/]", str(r.duration_ms),
                      rich_text(r.error or "; ".join(r.notes)))
    console.print(table)
    for note in report.notes:
        console.print(f"[dim]note:[/] {rich_text(note)}")


def _cause_text(console: "Console", n: int, cause: CauseReport, limit: int) -> None:
    style, cid = VERDICT_STYLE[cause.verdict], rich_text(f"{cause.id:<13}")
    console.print(f" {n}. [bold]{cid}[/] [{style}]{cause.verdict:<9}[/] {cause.confidence:.2f}  "
                  f"{rich_text(cause.title)}")
    if cause.verdict == "unknown":
        console.print(f"      [magenta]not checked:[/] {rich_text(cause.unknown_reason or '')}")
    for f in cause.evidence[:limit]:
        mark = "[red]+[/]" if f.direction == "for" else "[green]-[/]"
        console.print(f"      {mark} [dim]{rich_text(f.source)}:[/] {rich_text(_summary(f))}")
    if len(cause.evidence) > limit:
        console.print(f"      [dim]... {len(cause.evidence) - limit} more (see --format json)[/]")
    for note in cause.notes:
        console.print(f"      [dim]ranking: {rich_text(note)}[/]")
    if cause.to_confirm:
        console.print(f"      to confirm: {rich_text(cause.to_confirm)}")
    if cause.verdict in ("likely", "possible"):
        for fix in cause.fixes:
            console.print(f"      [bold cyan]fix:[/] {rich_text(fix.summary)}")
            for cmd in fix.commands:
                console.print(f"        [cyan]$[/] {rich_text(cmd)}")
            console.print(f"        [dim]why: {rich_text(fix.why)}[/]")
    console.print()


def to_markdown(report: Report) -> str:
    inc = report.incident
    out = [f"# Incident: {md_text(inc.service)} timing out on {md_text(inc.upstream)}", ""]
    if report.summary:
        out += [f"**{md_text(report.summary)}**", ""]
    out += [f"- {md_text(line)}" for line in _incident_lines(report)]
    others = _others_lines(report)
    if others:
        out.append(f"- {md_text(others[0])}")
        out += [f"  - {md_text(line.strip())}" for line in others[1:]]
    out += [f"- runbook: {md_text(report.runbook)}; evidence window {md_text(iso(report.window.start))} .. "
            f"{md_text(iso(report.window.end))}", "", "## Likely causes", "",
            "| # | cause | verdict | confidence | title |", "|---|---|---|---|---|"]
    for n, c in enumerate(report.causes, 1):
        out.append(f"| {n} | {md_text(c.id)} | {c.verdict} | {c.confidence:.2f} | {md_text(c.title)} |")
    out.append("")
    for c in report.causes:
        out += [f"### {md_text(c.id)}: {md_text(c.title)} ({c.verdict}, {c.confidence:.2f})", ""]
        if c.unknown_reason:
            out += [f"Not checked: {md_text(c.unknown_reason)}", ""]
        for f in c.evidence:
            sign = "for" if f.direction == "for" else "against"
            out.append(f"- *{sign}* ({md_text(f.source)}): {md_text(_summary(f))}")
        for note in c.notes:
            out.append(f"- *ranking*: {md_text(note)}")
        if c.to_confirm:
            out.append(f"- *to confirm*: {md_text(c.to_confirm)}")
        if c.evidence or c.notes or c.to_confirm:
            out.append("")
        for fix in c.fixes:
            out += [f"**Fix: {md_text(fix.summary)}**", ""]
            if fix.commands:
                out += [md_code_block(fix.commands, "sh"), ""]
            out += [f"Why: {md_text(fix.why)}", ""]
    out += ["## Evidence sources", "", "| source | status | detail |", "|---|---|---|"]
    for name, s in report.sources.items():
        out.append(f"| {md_text(name)} | {s.status} | {md_text(s.error or '')} |")
    out += ["", "## Checks", "", "| check | status | ms | error |", "|---|---|---|---|"]
    for r in report.checks:
        out.append(f"| {md_text(r.id)} | {r.status} | {r.duration_ms} | {md_text(r.error or '')} |")
    return "\n".join(out) + "\n"
