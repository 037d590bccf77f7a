"""One function makes outside text safe for a terminal line; every renderer's line stays one line."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest

from diagnose.model.incident import Incident, Percentiles, Window
from diagnose.model.report import CauseReport, Fix, Report
from diagnose.render import report as render
from diagnose.render.console import make_console
from diagnose.render.escape import md_code_block, md_text, one_line, rich_text

T0 = datetime(2023, 10, 27, 10, 30, tzinfo=timezone.utc)
FORGED = "api\n 1. database likely 0.99"


@pytest.mark.parametrize("raw, shown", [
    ("a\nb", "a\\nb"), ("a\rb", "a\\rb"), ("a\tb", "a\\tb"), ("\x1b[2J", "\\x1b[2J"),
    ("\x00\x07\x7f", "\\x00\\x07\\x7f"),
    ("\x85next line", "\\x85next line"), ("\x9b31m", "\\x9b31m"), ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),
    ("\u202egnp.exe", "\\u202egnp.exe"), ("\u2066x\u2069", "\\u2066x\\u2069"), ("\u200f\u061c", "\\u200f\\u061c"),
    ("café 日本 prоd", "café 日本 prоd"),
])
def test_one_line_shows_every_control_separator_and_bidi_character_as_a_visible_escape(raw: str, shown: str):
    assert one_line(raw) == shown
    assert len(rich_text(raw).splitlines()) == 1 and len(md_text(raw).splitlines()) == 1


def test_a_code_block_keeps_one_line_per_command_whatever_a_command_holds():
    block = md_code_block(["kubectl get pods", "echo x\n 1. database likely 0.99"], "sh")
    assert block.splitlines() == ["```sh", "kubectl get pods", "echo x\\n 1. database likely 0.99", "```"]


def forged_report() -> Report:
    inc = Incident(FORGED, "user-auth-service", 3, T0, T0, 10000.0, Percentiles(15000, 15000, 15000))
    cause = CauseReport("mesh-timeout", f"Timeouts in front of {FORGED}", 0.6, "possible",
                        fixes=(Fix(f"Compare with {FORGED}'s deadline", ("kubectl get vs -A",), f"why {FORGED}"),))
    return Report(incident=inc, window=Window(T0, T0, T0), runbook="upstream-timeout", causes=(cause,),
                  checks=(), sources={})


def test_the_text_report_keeps_a_forged_service_name_on_the_lines_it_belongs_to():
    buf = io.StringIO()
    render.to_text(forged_report(), make_console(file=buf, width=400, soft_wrap=True))
    lines = buf.getvalue().splitlines()
    assert not [x for x in lines if x.strip().startswith("1. database")], lines
    assert [x.strip()[:2] for x in lines if x.startswith(" 1.")] == ["1."]
    assert any("fix: Compare with api\\n 1. database likely 0.99's deadline" in x for x in lines)
    assert any("why: why api\\n 1. database" in x for x in lines)


def test_the_markdown_report_keeps_a_forged_service_name_on_the_lines_it_belongs_to():
    lines = render.to_markdown(forged_report()).splitlines()
    assert not [x for x in lines if x.strip().startswith("1. database")], lines
    assert lines[0].startswith("api\\\\n 1. database likely 0.99 -> user-auth-service: ")   # the headline
    assert lines[2] == "# Incident: api\\\\n 1. database likely 0.99 timed out waiting for user-auth-service"
