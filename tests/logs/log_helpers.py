"""Helpers the log-scanning tests share: scanning lines written to a file, scanning one body both ways,
and checking that a corpus cites a source for every file."""

from __future__ import annotations

from pathlib import Path

import pytest

import diagnose.logs.scan as scan_mod
from diagnose.logs.scan import scan
from diagnose.model.logscan import LogScan
from diagnose.render.logs import to_json


def scan_lines(path: Path, lines: list[str], **kwargs: object) -> LogScan:
    """`lines` written to `path`, one a line, then scanned."""
    path.write_text("\n".join(lines) + "\n")
    return scan([str(path)], **kwargs)


def scan_both_ways(path: Path, body: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[LogScan, LogScan]:
    """`body` written to `path` and scanned in one process and in parallel; the two reports must match."""
    path.write_bytes(body)
    one = scan([str(path)], workers=1, keep_lines=3)
    monkeypatch.setattr(scan_mod, "PARALLEL_MIN", 0)
    many = scan([str(path)], workers=3, chunk_size=4000, keep_lines=3)
    assert to_json(many) == to_json(one)
    return one, many


def readme_rows(corpus: Path, pattern: str, expected: list[dict]) -> dict[str, str]:
    """Each corpus file's row of its README.md; every file matching `pattern` has exactly one expectation."""
    files = {p.name for p in corpus.glob(pattern)}
    readme = (corpus / "README.md").read_text(encoding="utf-8")
    assert files == {e["file"] for e in expected}
    return {name: next(line for line in readme.splitlines() if line.startswith(f"| {name} |")) for name in files}
