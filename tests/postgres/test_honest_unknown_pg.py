"""A PostgreSQL whose sessions could not be read (every query refused) says nothing about `database`:
its check is skipped with the reason, never "spare connections: 0 of 100 in use" read off no rows."""

from __future__ import annotations

import json
from pathlib import Path

from bundle_edit import copy_fixture, reseal
from cli.helpers import NO_SOURCES, diagnose

REFUSED = "permission denied for view pg_stat_activity"


def _bundle_with_refused_queries(tmp_path: Path) -> Path:
    root = copy_fixture("database", tmp_path)
    for path in (root / "postgres").glob("*.json"):
        if path.name == "server.json":
            continue
        doc = json.loads(path.read_text())
        doc.update(rows=[], error=REFUSED)
        path.write_text(json.dumps(doc))
    reseal(root)
    return root


def test_a_database_whose_sessions_could_not_be_read_gives_no_evidence_either_way(tmp_path: Path) -> None:
    p = diagnose("analyze", str(_bundle_with_refused_queries(tmp_path)), "--format", "json", env=NO_SOURCES)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    check = next(c for c in report["checks"] if c["id"] == "postgres")
    assert check["status"] == "skipped" and REFUSED in check["error"], check
    db = next(c for c in report["causes"] if c["id"] == "database")
    assert not [e for e in db["evidence"] if e["source"] == "postgres"], db["evidence"]
