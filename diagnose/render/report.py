"""A report in the three shapes: a rich terminal view, the contract's JSON, a Markdown postmortem section.

Every string that came from logs, clusters or runbook files goes through render.escape on its way out, one
line each (a newline in a service name must not forge a line); JSON escapes through json.dumps.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING

from ..model.finding import Finding
from ..model.incident import iso
from ..model.report import CauseReport, Report
from ..model.signals import describe
from ..model.text import ms as _ms
from ..redact import scrub_json
from .escape import md_code_block, md_code_span, md_text, one_line, rich_text
from .headline import headline

if TYPE_CHECKING:
    from rich.console import Console

VERDICT_STYLE = {"likely": "bold red", "possible": "yellow", "unlikely": "green", "ruled_out": "dim green",
                 "unknown": "magenta"}
STATUS_STYLE = {"ok": "green", "finding": "bold yellow", "error": "red", "skipped": "dim"}
RAN = ("ok", "finding")     # a check that read its evidence (engine.ranking.RAN)


def to_json(report: Report) -> str:
    # Redacted by structure (rendering JSON escapes nothing else): strings of findings, errors, notes.
    doc = report.to_json()
    # The contract's fields, and (added) the one line a paging message carries, right after the schema.
    doc = {"schema": doc.pop("schema"), "headline": headline(report).plain(), **doc}
    return json.dumps(scrub_json(doc), indent=2, ensure_ascii=True) + "\n"


def _incident_lines(report: Report) -> list[str]:
    inc = report.incident
    d = inc.duration_ms
    when = f"{iso(inc.first_seen) or '?'} .. {iso(inc.last_seen) or '?'}"
    rate = f" ({inc.rate_per_min:.1f}/min)" if inc.rate_per_min else ""
    lines = [f"{inc.events} {describe(inc.signal).events} {when}{rate}"]
    if inc.timeout_ms:
        lines.append(f"caller timeout {inc.timeout_ms:g} ms; requests took p50 {_ms(d.p50)}, p99 {_ms(d.p99)}, "
                     f"max {_ms(d.max)}")
    if inc.namespace:
        lines.append(f"namespace {inc.namespace}")
    if inc.seen_by:
        lines.append("seen by: " + "; ".join(v.words() for v in inc.seen_by))
    if inc.upstream_note:               # the upstream was logged by address: what the cluster said it is
        lines.append(inc.upstream_note)
    if inc.caller_note:                 # the caller was logged as its proxy: whose pod the calls came from
        lines.append(inc.caller_note)
    return lines


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
    """Prose wraps at the console's width under its own indent; the headline and each `$` command stay one
    logical line however wide (the terminal folds them on screen, a copy gives the whole command)."""
    from rich.text import Text

    inc = report.incident
    head = headline(report)
    console.print(Text(one_line(head.plain()), style="bold"), soft_wrap=True)
    console.print()
    if report.summary and report.summary not in head.lead:
        _wrap(console, f"[bold]{rich_text(report.summary)}[/]")
        console.print()
    _wrap(console, f"[bold]Incident[/]  {rich_text(inc.service)} [dim]->[/] [bold]{rich_text(inc.upstream)}[/]"
                   f"  [dim]({rich_text(inc.signal)}, runbook {rich_text(report.runbook)})[/]")
    for line in _incident_lines(report) + _others_lines(report):
        _wrap(console, rich_text(line.strip()), "  " + " " * (len(line) - len(line.lstrip())))
    console.print()
    console.print("[bold]Causes, most likely first[/]")
    blocked = _blocked_by(report)
    for n, cause in enumerate(report.causes, 1):
        _cause_text(console, n, cause, evidence_per_cause, report, blocked)
    _blind_text(console, report)
    _checks_text(console, report, blocked)
    for note in report.notes:
        _wrap(console, rich_text(note), "[dim]note:[/] ")


def _wrap(console: "Console", markup: str, first: str = "", rest: str | None = None) -> None:
    """`first` then `markup`, wrapped at the console's width; the lines after the first start with `rest`
    (by default as many spaces as `first` is wide). Words break only when one is wider than a line."""
    from rich.text import Text

    # emoji off, as on every console (render.console): data's `:fire:` stays text
    lead = Text.from_markup(first, emoji=False)
    hang = rest if rest is not None else " " * lead.cell_len
    body = Text.from_markup(markup, emoji=False)
    # The first line has what the lead leaves; the others what the hanging indent leaves.
    head = body.wrap(console, max(10, console.width - lead.cell_len), overflow="fold")
    console.print(Text.assemble(lead, head[0] if head else ""), soft_wrap=True)
    if not head:
        return
    remainder = body[len(head[0].plain):]
    remainder = remainder[len(remainder.plain) - len(remainder.plain.lstrip()):]
    if remainder.plain:
        for line in remainder.wrap(console, max(10, console.width - len(hang)), overflow="fold"):
            line.rstrip()
            console.print(Text.assemble(hang, line), soft_wrap=True)


def _command(console: "Console", indent: str, cmd: str) -> None:
    from rich.text import Text

    # One logical line, never wrapped by us: a break inside a command would paste as two commands.
    console.print(Text.assemble(indent, ("$", "cyan"), " ", one_line(cmd)), soft_wrap=True)


def _blocked_by(report: Report) -> dict[str, str]:
    """Check id -> the source whose failure or absence stopped it, when its error is just that source's
    (so the reason is said once, under "Could not check", and referred to elsewhere)."""
    blind = {name: s for name, s in report.sources.items() if s.status != "ok"}
    out = {}
    for r in report.checks:
        if r.status in RAN or not r.error:
            continue
        for name, s in blind.items():
            reason = s.error or s.status
            if r.error in (f"{name}: {reason}", reason):
                out[r.id] = name
    return out


def _not_checked(cause: CauseReport, report: Report, blocked: dict[str, str]) -> str:
    """Why a cause is unknown, from its checks, each reason by reference: the sources it needed, the
    checks that did not run (their reason is in the checks table), those that ran and found nothing."""
    by_id = {r.id: r for r in report.checks}
    sources = list(dict.fromkeys(blocked[c] for c in cause.checks if c in blocked))
    stopped = [c for c in cause.checks if c not in blocked and (c not in by_id or by_id[c].status not in RAN)]
    silent = [c for c in cause.checks if c in by_id and by_id[c].status in RAN]
    parts = []
    if sources:
        parts.append(f"needs {_and(sources)} (see Could not check)")
    if stopped:
        parts.append(f"{_and(stopped)} did not run (see the checks)")
    if silent:
        parts.append(f"{_and(silent)} found nothing either way")
    return "; ".join(parts) or (cause.unknown_reason or "")


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# The ranking's note on a cause left unlikely (not ruled out) for missing evidence repeats each check's
# reason; the text view says the same by reference.
_MISSING_NOTE = "not ruled out, since part of its evidence is missing: "


def _cause_text(console: "Console", n: int, cause: CauseReport, limit: int, report: Report,
                blocked: dict[str, str]) -> None:
    style, cid = VERDICT_STYLE[cause.verdict], rich_text(f"{cause.id:<13}")
    _wrap(console, rich_text(cause.title), f" {n:>1}. [bold]{cid}[/] [{style}]{cause.verdict:<9}[/] "
                                           f"{cause.confidence:.2f}  ", " " * 6)
    body = " " * 6
    if cause.verdict == "unknown":
        _wrap(console, rich_text(_not_checked(cause, report, blocked)), f"{body}[magenta]not checked:[/] ")
    for f in cause.evidence[:limit]:
        mark = "[red]+[/]" if f.direction == "for" else "[green]-[/]"
        _wrap(console, f"[dim]{rich_text(f.source)}:[/] {rich_text(_summary(f))}", f"{body}{mark} ")
    if len(cause.evidence) > limit:
        _wrap(console, f"[dim]... {len(cause.evidence) - limit} more (see --format json)[/]", body)
    for note in cause.notes:
        if note.startswith(_MISSING_NOTE):
            note = "not ruled out: " + _not_checked(replace(cause, verdict="unknown"), report, blocked)
        _wrap(console, f"[dim]{rich_text(note)}[/]", f"{body}[dim]ranking:[/] ")
    if cause.to_confirm:
        _wrap(console, rich_text(cause.to_confirm), f"{body}to confirm: ")
    # Every fix JSON and Markdown carry, but none for a cause the evidence ruled out: for an unknown
    # or unlikely cause these are the runbook's ways to look (its fallback fixes).
    if cause.verdict != "ruled_out":
        for fix in cause.fixes:
            _wrap(console, rich_text(fix.summary), f"{body}[bold cyan]fix:[/] ")
            for cmd in fix.commands:
                _command(console, body + "  ", cmd)
            _wrap(console, f"[dim]{rich_text(fix.why)}[/]", f"{body}  [dim]why:[/] ")
    console.print()


def _blind_text(console: "Console", report: Report) -> None:
    blind = [(name, s) for name, s in report.sources.items() if s.status != "ok"]
    if not blind:
        return
    console.print("[bold]Could not check[/]")
    wide = max(len(name) for name, _ in blind)
    for name, s in blind:
        _wrap(console, rich_text(s.error or s.status),
              f"  [{STATUS_STYLE[s.status]}]{rich_text(f'{name:<{wide}}')} {s.status:<7}[/] ")
    console.print()


def _checks_text(console: "Console", report: Report, blocked: dict[str, str]) -> None:
    """The checks, their status and own time; a reason said elsewhere is referred to, and a note shared
    by several checks (a source's partial answer) is said once below the table with the checks it concerns."""
    from rich.table import Table

    table = Table(title=None, show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("ms", justify="right", no_wrap=True)
    table.add_column("note", overflow="fold")
    notes: dict[str, list[str]] = {}
    for r in report.checks:
        for note in r.notes:
            notes.setdefault(note, []).append(r.id)
    for r in report.checks:
        if r.id in blocked:
            note = f"needs {blocked[r.id]}"
        elif r.error:
            note = r.error
        else:
            note = "; ".join(n for n in r.notes if len(notes[n]) == 1)
        ran = r.status in RAN
        table.add_row(rich_text(r.id), f"[{STATUS_STYLE[r.status]}]{r.status}[/]",
                      _duration(r.duration_ms) if ran else "-", rich_text(note))
    console.print(table)
    for note, ids in notes.items():
        if len(ids) > 1:
            _wrap(console, rich_text(note), f"  [dim]{rich_text(', '.join(ids))}:[/] ", " " * 4)


def _duration(ms: float) -> str:
    # Checks take micro- to milliseconds: two significant digits, never a rounded-away 0.
    return f"{ms:.2g}" if ms < 10 else f"{ms:.0f}"


def to_markdown(report: Report) -> str:
    inc = report.incident
    head = headline(report)
    first = md_text(head.lead) + (f"; first: {md_code_span(head.command)}" if head.command else
                                  f"; first: {md_text(head.advice)}" if head.advice else "")
    # The signal's own verb: "timed out waiting for", "could not reach", "ran out of pooled connections to".
    verb = describe(inc.signal).verb
    out = [first, "", f"# Incident: {md_text(inc.service)} {verb} {md_text(inc.upstream)}", ""]
    if report.summary and report.summary not in head.lead:
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
        out.append(f"| {n} | {md_text(c.id, cell=True)} | {c.verdict} | {c.confidence:.2f} | "
                   f"{md_text(c.title, cell=True)} |")
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
        out.append(f"| {md_text(name, cell=True)} | {s.status} | {md_text(s.error or '', cell=True)} |")
    out += ["", "## Checks", "", "| check | status | ms | error |", "|---|---|---|---|"]
    for r in report.checks:
        ms = _duration(r.duration_ms) if r.status in RAN else "-"
        out.append(f"| {md_text(r.id, cell=True)} | {r.status} | {ms} | {md_text(r.error or '', cell=True)} |")
    return "\n".join(out) + "\n"
