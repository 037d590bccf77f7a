"""Fuzzing the PostgreSQL row reader: postgres.load over mutated server.json and query documents.

Seeds: every recorded scenario's postgres/*.json (activity, locks, statements, tables, server).
"""

from __future__ import annotations

from typing import Any

from fuzz.mutate import SCENARIOS, Case, edited, mutated_source, parses_or_refuses, source_files, target_of
from hypothesis import example, given

from diagnose.model.database import DatabaseEvidence
from diagnose.parsers import postgres

SEEDS = {s: source_files(s, "postgres") for s in SCENARIOS}
TARGETS = {s: target_of(s) for s in SCENARIOS}




def _infinite_pid(doc: Any) -> None:
    doc["rows"][0][doc["columns"].index("pid")] = float("inf")


@given(case=mutated_source("postgres", SEEDS))
# A session whose pid is Infinity (json.loads reads it): OverflowError from int() before the fix.
@example(case=edited(SEEDS, "database", "activity.json", _infinite_pid))
# bench/fuzz.py found these: TypeError/OverflowError/ValueError from int() of server.json's pid (a list,
# Infinity, NaN), AttributeError from a settings list, RecursionError from json.loads of [[[[...
@example(case=edited(SEEDS, "database", "server.json", lambda d: d.update(pid=[1])))
@example(case=edited(SEEDS, "database", "server.json", lambda d: d.update(server_version_num=float("nan"))))
@example(case=edited(SEEDS, "database", "server.json", lambda d: d.update(settings=["max_connections"])))
@example(case=Case("database", {"activity.json": b"[" * 100_000}, SEEDS))
def test_mutated_rows_load_or_raise_an_evidence_error(case: Case) -> None:
    ev = parses_or_refuses("postgres.load", lambda: postgres.load(case.files, TARGETS[case.scenario]))
    assert ev is None or isinstance(ev, DatabaseEvidence)
