"""Every file of the text-format and wrapper corpus (tests/data/logs/text/README.md: lines on each format's
documented layout, with its source) yields its incidents through `diagnose logs --format json`; the
wrapped ones also gzipped and on standard input."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from diagnose.cli import cli
from tests.logs.log_helpers import readme_rows

CORPUS = Path(__file__).parent.parent / "data" / "logs" / "text"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
WRAPPED = [e for e in EXPECTED if e["file"].startswith(("kubectl-", "cri", "docker-"))]


def _year_of_klog(month_day: str) -> str:
    # klog writes no year: the current one, or the last when that would be in the future (text_formats.py).
    now = datetime.now(timezone.utc)
    this = datetime.fromisoformat(f"{now.year}-{month_day}+00:00")
    return str(now.year if this.timestamp() <= now.timestamp() + 86400 else now.year - 1)


def _got(output: str) -> tuple[dict, list[dict]]:
    doc = json.loads(output)
    return doc, [{"caller": i["service"], "upstream": i["upstream"], "namespace": i.get("namespace"),
                  "events": i["events"], "duration_ms": i["duration_ms"]["max"], "timeout_ms": i["timeout_ms"],
                  "signal": i["signal"], "first_seen": i["first_seen"]} for i in doc["incidents"]]


def _want(case: dict) -> list[dict]:
    out = []
    for inc in case["incidents"]:
        first = inc["first_seen"]
        if first and first.startswith("YYYY"):
            first = _year_of_klog(first[5:10] + "T00:00:00") + first[4:]
        out.append({**inc, "first_seen": first})
    return sorted(out, key=json.dumps)


def _check(case: dict, args: list[str], stdin: bytes | None = None) -> None:
    done = CliRunner().invoke(cli, ["logs", *args, "--format", "json"], input=stdin)
    assert done.exit_code == 0, done.output
    doc, got = _got(done.output)
    assert (doc["lines"], doc["skipped"]) == (case["lines"], case["skipped"])
    assert sorted(got, key=json.dumps) == _want(case)


def test_every_corpus_file_has_an_expectation_and_a_cited_source():
    rows = readme_rows(CORPUS, "*.log", EXPECTED)
    for case in EXPECTED:
        assert "http" in rows[case["file"]] and "http" in case["source"], case["file"]


@pytest.mark.parametrize("case", EXPECTED, ids=[e["file"] for e in EXPECTED])
def test_format_yields_its_caller_upstream_namespace_durations_timeout_and_signal(case):
    _check(case, [str(CORPUS / case["file"])])


@pytest.mark.parametrize("case", WRAPPED, ids=[e["file"] for e in WRAPPED])
def test_wrapped_log_reads_the_same_gzipped_and_from_standard_input(case, tmp_path):
    raw = (CORPUS / case["file"]).read_bytes()
    gz = tmp_path / (case["file"] + ".gz")
    gz.write_bytes(gzip.compress(raw))
    _check(case, [str(gz)])
    _check(case, ["-"], stdin=raw)
    _check(case, ["-"], stdin=gzip.compress(raw))
