"""A log with several incidents: the report lists the others, says which was diagnosed and how to pick
another; --upstream/--service pick by a case-insensitive part of the name; no match lists the candidates."""

from __future__ import annotations

import json
from pathlib import Path

from cli.helpers import NO_SOURCES, assert_clean_error, diagnose

# (caller, upstream, timeouts): the auth incident is not the biggest, so picking it is a real choice
INCIDENTS = (("checkout", "payments", 30), ("frontend-api", "user-auth-service", 12), ("frontend-api", "catalog", 5))


def three_incidents(tmp_path: Path) -> Path:
    lines = []
    for n, (caller, upstream, count) in enumerate(INCIDENTS):
        for i in range(count):
            lines.append(json.dumps({
                "timestamp": f"2023-10-27T10:{30 + n}:{i:02d}Z", "level": "ERROR",
                "message": "request failed: upstream response timeout", "service": caller,
                "upstream_service": upstream, "duration_ms": 10000, "timeout_ms": 10000}))
    log = tmp_path / "three.log"
    log.write_text("\n".join(lines) + "\n")
    return log


def run_json(log: Path, *args: str) -> dict:
    p = diagnose("run", "--log", str(log), "--format", "json", *args, env=NO_SOURCES)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_the_report_lists_the_other_incidents_and_how_to_pick_one(tmp_path: Path) -> None:
    log = three_incidents(tmp_path)
    report = run_json(log)
    assert (report["incident"]["service"], report["incident"]["upstream"]) == ("checkout", "payments")
    assert report["other_incidents"] == [
        {"service": "frontend-api", "upstream": "user-auth-service", "events": 12},
        {"service": "frontend-api", "upstream": "catalog", "events": 5}]
    text = diagnose("run", "--log", str(log), env=NO_SOURCES).stdout
    assert "the logs hold 3 incidents; diagnosed: checkout -> payments (30 events)" in text
    assert "pick one with --upstream or --service" in text
    assert "frontend-api -> user-auth-service (12 events)" in text
    markdown = diagnose("run", "--log", str(log), "--format", "markdown", env=NO_SOURCES).stdout
    # (Markdown escapes what it must in names: look for the words)
    assert "catalog" in markdown and "5 events" in markdown and "pick one with --upstream" in markdown


def test_upstream_picks_by_a_case_insensitive_part_of_the_name(tmp_path: Path) -> None:
    log = three_incidents(tmp_path)
    report = run_json(log, "--upstream", "AUTH")
    assert report["incident"]["upstream"] == "user-auth-service"
    assert [o["upstream"] for o in report["other_incidents"]] == ["payments", "catalog"]
    assert run_json(log, "--service", "Front", "--upstream", "CAT")["incident"]["upstream"] == "catalog"


def test_an_exact_name_wins_over_a_longer_name_that_contains_it(tmp_path: Path) -> None:
    log = tmp_path / "two.log"
    line = ('{"timestamp": "2023-10-27T10:30:%02dZ", "level": "ERROR", "message": "request failed: upstream '
            'response timeout", "service": "web", "upstream_service": "%s", "duration_ms": 10000, '
            '"timeout_ms": 10000}\n')
    log.write_text("".join(line % (i, "auth-cache") for i in range(9)) + "".join(line % (i, "auth") for i in range(3)))
    assert run_json(log, "--upstream", "Auth")["incident"]["upstream"] == "auth"


def test_no_match_exits_3_with_one_line_listing_the_candidates(tmp_path: Path) -> None:
    p = diagnose("run", "--log", str(three_incidents(tmp_path)), "--upstream", "nosuch", env=NO_SOURCES)
    line = assert_clean_error(p, code=3)
    assert "upstream timeout or unavailable upstream matching --upstream 'nosuch'" in line
    for caller, upstream, count in INCIDENTS:
        assert f"{caller} -> {upstream} ({count} events)" in line
