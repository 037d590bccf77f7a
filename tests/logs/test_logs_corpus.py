"""Every file of the JSON log corpus (tests/data/logs/corpus/README.md: one per library, collector and
cloud layout, with its source) yields its incident through `diagnose logs --format json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from diagnose.cli import cli
from tests.logs.log_helpers import readme_rows

CORPUS = Path(__file__).parent.parent / "data" / "logs" / "corpus"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))


def test_every_corpus_file_has_an_expectation_and_a_cited_source():
    for name, row in readme_rows(CORPUS, "*.jsonl", EXPECTED).items():
        assert "http" in row, f"{name}: no source URL in README.md"


@pytest.mark.parametrize("want", EXPECTED, ids=[e["file"] for e in EXPECTED])
def test_layout_yields_its_caller_upstream_namespace_durations_and_timeout(want):
    done = CliRunner().invoke(cli, ["logs", str(CORPUS / want["file"]), "--format", "json"])
    assert done.exit_code == 0, done.output
    doc = json.loads(done.output)
    assert doc["skipped"] == 0
    assert len(doc["incidents"]) == 1, doc["incidents"]
    inc = doc["incidents"][0]
    got = {"caller": inc["service"], "upstream": inc["upstream"], "namespace": inc.get("namespace"),
           "events": inc["events"], "duration_ms": inc["duration_ms"]["max"], "timeout_ms": inc["timeout_ms"],
           "signal": inc["signal"], "first_seen": inc["first_seen"]}
    assert got == {k: v for k, v in want.items() if k != "file"}
