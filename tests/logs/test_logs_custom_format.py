"""--log-format FILE (an in-house format named in YAML) and `diagnose logs --explain` (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from diagnose.cli import cli
from diagnose.logs.custom_format import nonlinear
from tests.cli.helpers import assert_clean_error, diagnose

REGEX = (r"regex: '^(?P<time>\S+) \[(?P<service>[^\]]+)\] call (?P<upstream>\S+) failed after "
         r"(?P<duration>\S+): (?P<message>.*)$'" "\n")
IN_HOUSE = """\
2026-11-30T10:00:00Z [checkout] call payments.billing:8080 failed after 2.5s: deadline exceeded
2026-11-30T10:00:01Z [checkout] call payments.billing:8080 failed after 2600ms: request timed out
2026-11-30T10:00:03Z [checkout] call payments.billing:8080 failed after 2.4s: timeout
"""
MIXED = """\
{"at": "2026-11-30T10:00:00Z", "app_name": "checkout", "dependency": "payments:8080", "took": "2.5s", \
"budget": "2s", "msg": "deadline exceeded"}
{"at": "2026-11-30T10:00:01Z", "app_name": "checkout", "msg": "ok"}
{"at": "2026-11-30T10:00:02Z", "app_name": "checkout", "dependency": "payments:8080", "took": 2600, \
"budget": "2s", "msg": "request timed out"}
level=error ts=2026-11-30T10:00:02Z service=cart msg="upstream timeout" upstream=inventory:9000 duration_ms=3000
"""


def _write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def _logs(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, ["logs", *args])
    return r.exit_code, r.output


def test_a_custom_regex_formats_lines_become_an_incident(tmp_path: Path) -> None:
    fmt = _write(tmp_path, "fmt.yaml", "# in-house\n" + REGEX)
    log = _write(tmp_path, "app.log", IN_HOUSE)
    code, out = _logs("--log-format", fmt, log, "--format", "json")
    assert code == 0, out
    (inc,) = json.loads(out)["incidents"]
    assert (inc["signal"], inc["service"], inc["upstream"], inc["events"]) == \
        ("upstream-timeout", "checkout", "payments.billing", 3)
    assert inc["duration_ms"]["max"] == 2600 and inc["duration_ms"]["p50"] == 2500
    assert inc["first_seen"] == "2026-11-30T10:00:00Z"


def test_without_the_mapping_the_same_lines_are_unreadable_and_say_so(tmp_path: Path) -> None:
    # The mapping is what reads them: without it no built-in format does, and the error names the file,
    # the first line and why (exit 2), rather than an empty scan.
    p = diagnose("logs", _write(tmp_path, "app.log", IN_HOUSE), "--format", "json")
    assert p.returncode == 2 and p.stdout == "", p.stderr
    assert "app.log:1: nothing usable: all 3 non-blank lines unparseable" in p.stderr
    assert "no known log format" in p.stderr and "Traceback" not in p.stderr


def test_a_fields_mapping_reads_json_lines_with_unusual_keys(tmp_path: Path) -> None:
    fmt = _write(tmp_path, "fields.yaml",
                 "fields: {service: app_name, upstream: dependency, duration: took, timeout: budget, time: at}\n")
    code, out = _logs("--log-format", fmt, _write(tmp_path, "mixed.log", MIXED), "--format", "json")
    assert code == 0, out
    incs = {(i["service"], i["upstream"]): i for i in json.loads(out)["incidents"]}
    inc = incs[("checkout", "payments")]
    assert inc["events"] == 2 and inc["timeout_ms"] == 2000 and inc["duration_ms"]["max"] == 2600
    assert ("cart", "inventory") in incs          # a line the mapping does not read: the built-in formats do


@pytest.mark.parametrize(("text", "line", "words"), [
    ("fields: {upstream: dep}\nregexp: x\n", 2, "unknown key"),
    ("regex: '(?P<message>[a-'\n", 1, "does not compile"),
    ("regex: '(?P<upstream>\\S+) x'\n", 1, "no named group for the signal"),
    ("regex: '(?P<message>(a+)+)'\n", 1, "not linear"),
    ("fields:\n  upstream: &u dep\n  service: *u\n", 2, "anchor"),
    ("fields: {upstream: dep, caller: x}\n", 1, "unknown role"),
])
def test_a_bad_mapping_exits_2_in_one_line_naming_file_and_line(tmp_path: Path, text: str, line: int,
                                                                  words: str) -> None:
    fmt = _write(tmp_path, "bad.yaml", text)
    out = assert_clean_error(diagnose("logs", "--log-format", fmt, _write(tmp_path, "app.log", IN_HOUSE)))
    assert f"bad.yaml:{line}" in out and words in out, out


def test_a_huge_mapping_is_refused_unread(tmp_path: Path) -> None:
    fmt = _write(tmp_path, "huge.yaml", "# " + "x" * (1 << 20) + "\nfields: {upstream: dep}\n")
    out = assert_clean_error(diagnose("logs", "--log-format", fmt, _write(tmp_path, "app.log", IN_HOUSE)))
    assert "huge.yaml" in out and "larger than" in out


def test_run_and_collect_take_the_option() -> None:
    for cmd in ("run", "collect"):
        assert "--log-format" in CliRunner().invoke(cli, [cmd, "--help"]).output


@pytest.mark.parametrize("pattern", [r"(a+)+", r"(\w*x)*", r"(a|ab)*", r"(?:x(a+))*", r"(a+){2,}", r"(\d)\1"])
def test_nested_quantifiers_are_refused(pattern: str) -> None:
    assert nonlinear(pattern)


@pytest.mark.parametrize("pattern", [r"^(?P<t>\S+) \[(?P<s>[^\]]+)\] (?P<m>.*)$", r"(?:ab)+", r"[(+]+", r"(a+){1}"])
def test_layouts_are_linear(pattern: str) -> None:
    assert nonlinear(pattern) is None


def test_explain_names_the_format_and_the_rule_for_each_field_and_why_a_line_was_skipped(tmp_path: Path) -> None:
    log = _write(tmp_path, "mixed.log", MIXED + "this is not a log line {\n")
    code, out = _logs("--explain", log, "--format", "json")
    assert code == 0, out
    rows = {r["line"]: r for r in json.loads(out)["lines"]}
    timeout = rows[4]
    assert timeout["format"] == "logfmt" and timeout["event"]["signal"] == "upstream-timeout"
    assert timeout["fields"]["upstream"].startswith("key 'upstream'")
    assert timeout["fields"]["duration"].startswith("key 'duration_ms'")
    assert timeout["fields"]["time"].startswith("key 'ts'")
    assert "words in 'msg'" in timeout["fields"]["signal"]
    assert rows[2]["event"] is None and "no signal marker" in rows[2]["reason"]
    assert rows[1]["event"] is None and "no upstream" in rows[1]["reason"]     # unusual keys, no mapping
    assert rows[5]["format"] == "none" and rows[5]["reason"].startswith("malformed")
    code, text = _logs("--explain", log)
    assert code == 0 and "line 4" in text and "logfmt" in text and "not an event: no signal marker" in text


def test_explain_with_the_mapping_names_the_regex_group_of_each_field(tmp_path: Path) -> None:
    fmt = _write(tmp_path, "fmt.yaml", REGEX)
    code, out = _logs("--explain", _write(tmp_path, "app.log", IN_HOUSE), "--log-format", fmt, "--lines", "1",
                      "--format", "json")
    assert code == 0, out
    row = json.loads(out)["lines"][0]
    assert row["format"] == "--log-format fmt.yaml" and row["wrapper"] is None
    assert row["fields"]["upstream"] == "regex group 'upstream'"
    assert row["fields"]["duration"] == "regex group 'duration'"
    assert row["event"]["duration"] == 2500


def test_explain_escapes_control_characters(tmp_path: Path) -> None:
    log = _write(tmp_path, "esc.log", '{"message": "upstream timeout \\u001b[31m", "upstream": "a:1"}\n')
    code, out = _logs("--explain", log)
    assert code == 0 and "\x1b" not in out
