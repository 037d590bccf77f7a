import io
import json
from datetime import datetime, timezone

from diagnose.model.evidence import SourceStatus
from diagnose.model.finding import CheckResult, Finding
from diagnose.model.incident import Incident, Percentiles, Window
from diagnose.model.report import CauseReport, Fix, Report
from diagnose.render import report as render
from diagnose.render.console import make_console

T0 = datetime(2023, 10, 27, 10, 30, tzinfo=timezone.utc)
HOSTILE = "[bold red]pwned[/] :fire: \x1b[31mred\x1b[0m \x1b]8;;http://evil\x07link <script>x</script> `code` | cell"


def hostile_report() -> Report:
    inc = Incident(HOSTILE, "user-auth-service", 1, T0, T0, 10000.0, Percentiles(15000, 15000, 15000))
    cause = CauseReport("overload", f"{HOSTILE} is overloaded", 0.8, "likely",
                        evidence=(Finding("overload", "for", 2.0, "kubernetes", f"pod {HOSTILE} throttled"),),
                        fixes=(Fix("Add replicas", (f"kubectl scale deployment/{HOSTILE}",), "why"),))
    return Report(incident=inc, window=Window(T0, T0, T0), runbook="upstream-timeout", causes=(cause,),
                  checks=(CheckResult("pod-resources", "error", error=HOSTILE),),
                  sources={"kubernetes": SourceStatus("kubernetes", "error", HOSTILE)})


def test_terminal_output_shows_markup_and_escape_sequences_as_text():
    buf = io.StringIO()
    render.to_text(hostile_report(), make_console(file=buf, force_terminal=True, width=200))
    out = buf.getvalue()
    assert "[bold red]pwned[/]" in out                 # shown, not interpreted
    assert ":fire:" in out and "\U0001f525" not in out  # emoji codes too
    assert "\x1b[31mred" not in out and "\x1b]8;;" not in out
    assert "\\x1b[31mred" in out                       # visible instead


def test_markdown_output_escapes_html_and_table_pipes_and_keeps_commands_in_fences():
    from markdown_it import MarkdownIt

    out = render.to_markdown(hostile_report())
    html = MarkdownIt("commonmark").enable("table").render(out)
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html and "\x1b" not in out
    assert "| cell</td>" in html                       # a pipe inside a cell, not a new cell
    assert "```sh\nkubectl scale deployment/" in out


def test_json_output_carries_control_characters_only_as_json_escapes():
    out = render.to_json(hostile_report())
    assert "\x1b" not in out
    assert json.loads(out)["incident"]["service"] == HOSTILE
