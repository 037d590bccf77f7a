"""Text from logs, servers and runbook files reaches the terminal on the line it belongs to: a newline in a
service name cannot forge a report line, an escape sequence from a server is shown, not run."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
from cli.helpers import NO_SOURCES, REPO, diagnose

FORGED = "api\n 1. database likely 0.99"
ESC = "\x1b[31mboom\x1b]0;owned\x07\x9b2J\u202egnp"


def forged_log(tmp_path: Path) -> Path:
    log = tmp_path / "forged.jsonl"
    log.write_text("".join(json.dumps({
        "timestamp": f"2023-10-27T10:3{i}:00Z", "level": "ERROR", "message": "upstream response timeout",
        "service": FORGED, "upstream_service": "user-auth-service", "duration_ms": 15000, "timeout_ms": 10000,
    }) + "\n" for i in range(5)))
    return log


def test_a_newline_in_a_service_name_forges_no_line_of_the_text_report(tmp_path: Path):
    p = diagnose("run", "--log", str(forged_log(tmp_path)), env=NO_SOURCES)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert not [x for x in lines if x.strip().startswith("1. database likely")], p.stdout
    ranked = [x for x in lines if re.match(r" \d\. ", x)]
    assert [x.split()[0] for x in ranked] == ["1.", "2.", "3.", "4.", "5.", "6.", "7."], ranked
    assert lines[0].startswith("api\\n 1. database likely 0.99 -> user-auth-service: ")     # the headline
    assert [x for x in lines if x.startswith("Incident  api\\n 1. database likely 0.99 -> user-auth-service")]


def test_a_newline_in_a_service_name_forges_no_line_of_the_markdown_report(tmp_path: Path):
    p = diagnose("run", "--log", str(forged_log(tmp_path)), "--format", "markdown", env=NO_SOURCES)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert not [x for x in lines if x.strip().startswith("1. database likely")], p.stdout
    assert lines[0].startswith("api\\\\n 1. database likely 0.99 -> user-auth-service: ")   # the headline
    assert [x for x in lines if x.startswith("# Incident: api\\\\n 1. database likely 0.99 timed out waiting for")]
    rows = [x for x in lines if re.match(r"\| \d \|", x)]
    assert len(rows) == 7 and all(len(re.findall(r"(?<!\\)\|", r)) == 6 for r in rows), rows


class _Refusing(BaseHTTPRequestHandler):
    """A Prometheus that answers every query with an error carrying terminal escapes."""

    def do_GET(self) -> None:
        body = json.dumps({"status": "error", "errorType": "bad_data", "error": ESC}).encode()
        self.send_response(422)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile_prometheus() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_collect_shows_an_escape_sequence_in_a_prometheus_error_as_text(tmp_path: Path, hostile_prometheus: str):
    p = diagnose("collect", "--log", str(REPO / "tests" / "data" / "logs" / "seed.jsonl"),
                 "--prometheus-url", hostile_prometheus, "--out", str(tmp_path / "b"), env=NO_SOURCES)
    assert p.returncode == 0, p.stderr
    assert "\x1b" not in p.stdout and "\x07" not in p.stdout and "\x9b" not in p.stdout
    assert "\u202e" not in p.stdout
    line = next(x for x in p.stdout.splitlines() if x.strip().startswith("prometheus:"))
    assert "\\x1b[31mboom\\x1b]0;owned\\x07\\x9b2J\\u202egnp" in line


def _runbook_with(tmp_path: Path, old: str, new: str) -> Path:
    rb = tmp_path / "hostile.yaml"
    text = (REPO / "runbooks" / "upstream-timeout.yaml").read_text()
    assert old in text
    rb.write_text(text.replace(old, new, 1))
    return rb


def test_runbooks_validate_prints_a_hostile_field_name_on_one_line(tmp_path: Path):
    rb = _runbook_with(tmp_path, "    prior: 0.12\n", '    prior: 0.12\n    "x\\n1. ok \\e[31mred": 1\n')
    p = diagnose("runbooks", "validate", str(rb))
    assert p.returncode == 2
    assert "\x1b" not in p.stderr + p.stdout
    lines = p.stderr.splitlines()
    assert not [x for x in lines if x.startswith("1. ok")], p.stderr
    assert [x for x in lines if x.startswith("diagnose: error: ") and "x\\n1. ok \\x1b[31mred" in x], p.stderr


def test_runbooks_validate_prints_a_hostile_runbook_name_on_one_line(tmp_path: Path):
    rb = _runbook_with(tmp_path, "name: upstream-timeout\n", 'name: "upstream\\nok  forged \\e[31mred"\n')
    p = diagnose("runbooks", "validate", str(rb))
    assert p.returncode == 0, p.stderr
    assert "\x1b" not in p.stdout and len(p.stdout.strip().splitlines()) == 1, p.stdout
    assert "upstream\\nok  forged \\x1b[31mred" in p.stdout
