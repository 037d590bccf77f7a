"""The report as a person reads it: at 80 columns, with each reason once, the fallback commands, a headline
first in every format, and Markdown that renders the data as written."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from diagnose.bundle.store import read
from diagnose.engine.diagnose import diagnose, from_bundle
from diagnose.engine.gather import Gathered
from diagnose.engine.runbook import for_signal
from diagnose.model.evidence import SourceStatus
from diagnose.model.finding import CheckResult, Finding
from diagnose.model.incident import Incident, Percentiles, Window
from diagnose.model.report import CauseReport, Fix, Report
from diagnose.render import report as render
from diagnose.render.console import make_console

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2023, 10, 27, 10, 30, tzinfo=timezone.utc)


def analyzed(name: str, drop: dict[str, str] | None = None) -> Report:
    """A fixture's report, in-process; `drop` replaces sources by a skip with that reason (not given)."""
    target, gathered = from_bundle(read(REPO / "fixtures" / name))
    for source, why in (drop or {}).items():
        gathered[source] = Gathered(SourceStatus(source, "skipped", why), {})
    return diagnose(target, gathered, for_signal(target.incident.signal))


def text(report: Report, width: int = 80) -> str:
    """What a terminal `width` columns wide shows (the CLI's console for a terminal: soft_wrap on)."""
    buf = io.StringIO()
    render.to_text(report, make_console(file=buf, width=width, soft_wrap=True))
    return buf.getvalue()


BLIND = {"kubernetes": "no kubeconfig or in-cluster config found", "prometheus": "no --prometheus-url given",
         "thread-dumps": "no --thread-dumps given"}


@pytest.mark.parametrize("name", ["mesh-timeout", "database", "healthy"])
def test_at_80_columns_every_line_fits_but_the_headline_and_whole_commands(name: str):
    for report in (analyzed(name), analyzed(name, BLIND)):
        out = text(report).splitlines()
        commands = [c for cause in report.causes for f in cause.fixes for c in f.commands]
        long = [x for x in out[1:] if len(x) > 80 and x.strip()[2:] not in commands]
        assert not long, long
        # a command is one line, whole (a copy from the terminal gives all of it), never cut at a word
        shown = [x.strip()[2:] for x in out if x.strip().startswith("$ ")]
        assert set(shown) <= set(commands)
        assert shown or all(c.verdict == "ruled_out" for c in report.causes)


def test_prose_wraps_between_words_under_its_own_indent():
    report = analyzed("mesh-timeout")
    out = text(report)
    summary = report.causes[0].evidence[0].summary
    # the summary's words, in order, each whole, on lines indented under the first
    assert " ".join(summary.split()) in " ".join(out.split())
    start = next(i for i, x in enumerate(out.splitlines()) if x.lstrip().startswith("+ kubernetes: VirtualService"))
    following = out.splitlines()[start + 1]
    assert following.startswith(" " * 8) and not following.startswith(" " * 9)


def test_the_text_report_shows_the_fallback_commands_json_and_markdown_show():
    report = analyzed("mesh-timeout", BLIND)
    out, md = text(report), render.to_markdown(report)
    fallback = [c for cause in report.causes if cause.verdict in ("unknown", "unlikely", "possible")
                for f in cause.fixes for c in f.commands]
    assert fallback, [(c.id, c.verdict) for c in report.causes]
    for command in fallback:
        assert command in md and f"$ {command}" in out


def test_each_skip_reason_is_printed_once():
    report = analyzed("mesh-timeout", BLIND)
    out = " ".join(text(report, width=400).split())
    for why in BLIND.values():
        assert out.count(why) == 1, (why, out.count(why))
    # the causes and the checks refer to it
    assert "needs kubernetes" in out and "see Could not check" in out


def test_no_reason_repeats_its_source_name():
    report = analyzed("mesh-timeout", {**BLIND, "postgres": "no --pg-dsn given"})
    doc = render.to_json(report)
    for out in (text(report, width=400), render.to_markdown(report), doc):
        assert not re.search(r"\b([\w-]+): \1:", out), re.search(r".{40}\b([\w-]+): \1:.{40}", out)
    assert json.loads(doc)["sources"]["postgres"]["error"] == "no --pg-dsn given"


def test_a_jvm_upstream_gets_no_go_runtime_note_and_notes_go_to_the_checks_that_read_them():
    report = analyzed("mesh-timeout")     # a JVM: its dumps, its JVM metrics, its containers say so
    notes = {r.id: r.notes for r in report.checks}
    assert not [n for ns in notes.values() for n in ns if "go_runtime" in n], notes
    assert "go_runtime" not in text(report, width=400)


def test_measured_checks_report_their_own_time():
    report = analyzed("mesh-timeout", {"postgres": "no --pg-dsn given"})
    ran = [r for r in report.checks if r.status in ("ok", "finding")]
    assert ran and all(r.duration_ms > 0 for r in ran), [(r.id, r.duration_ms) for r in ran]
    assert [r.duration_ms for r in report.checks if r.id == "postgres"] == [0]
    table = {x.split()[0]: x.split()[2] for x in text(report, width=200).splitlines()
             if x.split() and x.split()[0] in {r.id for r in report.checks}}
    assert table["postgres"] == "-" and all(float(table[r.id]) > 0 for r in ran)


def test_the_headline_comes_first_in_every_format():
    report = analyzed("mesh-timeout")
    command = report.causes[0].fixes[0].commands[0]
    want = f"frontend-api -> user-auth-service: mesh-timeout likely (0.97); first: {command}"
    assert text(report).splitlines()[0] == want
    assert json.loads(render.to_json(report))["headline"] == want
    first = render.to_markdown(report).splitlines()[0]
    html = MarkdownIt("commonmark").render(first)
    assert html == (f"<p>frontend-api -&gt; user-auth-service: mesh-timeout likely (0.97); first: "
                    f"<code>{command.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}"
                    f"</code></p>\n".replace('"', "&quot;"))


def test_a_healthy_headline_says_no_cause_is_likely():
    report = analyzed("healthy")
    line = text(report).splitlines()[0]
    assert line.startswith("frontend-api -> user-auth-service: ") and "likely (" not in line
    if report.summary:
        assert report.summary in line and text(report, width=400).count(report.summary) == 1
    assert json.loads(render.to_json(report))["headline"] == line


# ------------------------------------------------------------------- Markdown renders data as written

AS_WRITTEN = ["PROMETHEUS_URL", "-XX:+UseG1GC -XX:MaxGCPauseMillis=200", "(3.0/min)", "snake_case_name",
              "a*b*c", "_emph_", "__init__", "[link](http://evil)", "![img](http://evil/x.png)",
              "<b>bold</b> <img src=x onerror=alert(1)>", "&amp; &lt; &#60;", "`code`", "~~strike~~",
              "# heading", "> quote", "- item", "+ item", "1. item", "2) item", "===", "    indented",
              "a | b", "back\\slash\\", "<http://evil>", "100% *done* _ok_ x_"]


def _plain(html: str) -> str:
    import html as h

    return h.unescape(re.sub(r"<[^>]+>", "", html)).rstrip()


@pytest.mark.parametrize("data", AS_WRITTEN)
def test_markdown_renders_data_as_written_and_forms_no_markup(data: str):
    md = MarkdownIt("commonmark").enable("table")
    inc = Incident(data, "user-auth-service", 3, T0, T0, 10000.0, Percentiles(15000, 15000, 15000))
    cause = CauseReport("overload", data, 0.8, "likely",
                        evidence=(Finding("overload", "for", 2.0, "kubernetes", data),),
                        fixes=(Fix(data, ("kubectl get pods",), data),))
    report = Report(incident=inc, window=Window(T0, T0, T0), runbook="upstream-timeout", causes=(cause,),
                    checks=(CheckResult("pod-resources", "error", error=data),),
                    sources={"kubernetes": SourceStatus("kubernetes", "error", data)})
    html = md.render(render.to_markdown(report))
    # every element the data is in holds exactly the data as text, and nothing the data would form
    assert f"<li><em>for</em> (kubernetes): {_escaped(data)}</li>" in html
    assert f"<p>Why: {_escaped(data)}</p>" in html
    assert f"<td>{_escaped(data)}</td>" in html
    for tag in ("<a ", "<img", "<b>", "<em>" + data[:3], "<strong>" + data[:3], "<h1>" + data[:3], "<del>",
                "<blockquote>", "<ol", "<pre><code>" + data.strip()[:3], "<code>code"):
        assert tag not in html.replace("<em>for</em>", ""), tag
    assert _plain(md.render(render.to_markdown(report).splitlines()[0])).startswith(f"{data} -> user-auth-service")


def _escaped(data: str) -> str:
    return data.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def test_markdown_leaves_as_written_what_would_not_change_the_rendering():
    from diagnose.render.escape import md_text

    for data in ("PROMETHEUS_URL", "-XX:+UseG1GC", "(3.0/min)", "frontend-api -> user-auth-service", "a+b=c!",
                 "p99 {x}", "50% of 3.5s", "issue #10"):
        assert md_text(f"use {data} now") == f"use {data} now"
    assert md_text("a | b", cell=True) == "a \\| b" and md_text("a | b") == "a | b"
