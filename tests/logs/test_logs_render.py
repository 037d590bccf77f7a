"""Rendering a scan: the contract JSON, and escaped Markdown and terminal output."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from diagnose.logs.scan import scan
from diagnose.render.logs import to_json, to_markdown, to_text

DATA = Path(__file__).parent.parent / "data" / "logs"


def test_json_matches_the_contract_shape():
    doc = to_json(scan([str(DATA / "seed.jsonl")]))
    assert list(doc) == ["schema", "lines", "skipped", "incidents"]
    assert doc["schema"] == "diagnose.logs/v1"
    inc = doc["incidents"][0]
    assert {k: inc[k] for k in ("service", "upstream", "events", "first_seen", "last_seen", "timeout_ms",
                                "duration_ms")} == {
        "service": "frontend-api", "upstream": "user-auth-service", "events": 3,
        "first_seen": "2023-10-27T10:30:00Z", "last_seen": "2023-10-27T10:32:00Z", "timeout_ms": 10000,
        "duration_ms": {"p50": 15000, "p99": 15000, "max": 15000}}
    json.dumps(doc)


def _hostile(tmp_path: Path) -> str:
    rec = {"service": "[bold red]evil[/] \x1b[31m", "upstream": "a|b` <script>", "msg": "timeout"}
    p = tmp_path / "h.jsonl"
    p.write_text(json.dumps(rec) + "\n\x1b]0;title\x07 [link] timeout\n")
    return str(p)


def test_markdown_escapes_log_text(tmp_path):
    from markdown_it import MarkdownIt

    md = to_markdown(scan([_hostile(tmp_path)]))
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "\x1b" not in md and "<script>" not in html and "\\[bold red\\]" in md
    assert "<td>a|b` &lt;script&gt;</td>" in html
    assert "Skipped lines" in md


def test_text_table_escapes_markup_and_control_characters(tmp_path):
    console = Console(record=True, width=200, color_system=None)
    to_text(scan([_hostile(tmp_path)]), console)
    out = console.export_text()
    assert "[bold red]evil[/]" in out and "\\x1b" in out and "\x1b" not in out
    assert "1 skipped" in out
