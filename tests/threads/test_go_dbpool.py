"""Go handlers waiting for a connection from an exhausted database/sql pool are database evidence, as JVM
threads waiting in HikariCP are: tests/threads/go/dbpool.go (SetMaxOpenConns(1), one goroutine holding the
connection, 6 /orders handlers waiting in (*DB).conn) built and run here, dumped three ways."""

from __future__ import annotations

from typing import Iterator

import pytest

from diagnose.parsers.thread_dumps import load

from .conftest import findings_for
from .test_go_live import go_dumps


@pytest.fixture(scope="module")
def dbpool_dumps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, bytes]]:
    yield go_dumps("dbpool", tmp_path_factory.mktemp("go") / "orders service")


@pytest.mark.parametrize("kind", ["debug1", "debug2", "sigquit"])
def test_handlers_waiting_for_a_database_sql_connection_are_database_evidence(dbpool_dumps, kind):
    found = findings_for({f"orders-5c4/{kind}.txt": dbpool_dumps[kind]})
    db = [f for f in found if f.cause == "database"]
    assert len(db) == 1, [f.summary for f in found]
    f = db[0]
    assert (f.direction, f.kind, f.facts["waiting"]) == ("for", "pool-wait", 6)
    assert f.facts["code_location"] == "main.(*OrderStore).Count"
    assert "wait for a database connection in database/sql (*DB).conn" in f.summary
    assert "6 of them request handlers" in f.summary


def test_database_sql_connection_opener_idling_is_not_a_wait(dbpool_dumps):
    ev = load({"orders-5c4/2.txt": dbpool_dumps["debug2"]})
    opener = [t for t in ev.dumps[0].threads if any("connectionOpener" in f.function for f in t.frames)]
    assert opener                                # database/sql's own goroutine, in every DB
    assert sum(o.count for o in ev.outbound) == 6
