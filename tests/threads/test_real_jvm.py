"""Dumps of real JVMs (tests/threads/java/, run by conftest.py) are classified right."""

from __future__ import annotations

from diagnose.parsers.thread_dumps import load

from .conftest import findings_for


def _strip_jvm_report(text: bytes) -> bytes:
    """The dump without the JVM's own "Found one Java-level deadlock" section."""
    s = text.decode()
    start = s.find("Found one Java-level deadlock")
    if start < 0:
        return text
    end = s.find("Found 1 deadlock.", start)
    return (s[:start] + s[end + len("Found 1 deadlock."):]).encode()


def test_monitor_deadlock_is_found_with_threads_locks_and_code_location(jvm_dumps):
    found = findings_for(jvm_dumps["monitor-deadlock"])
    cycle = [f for f in found if f.cause == "deadlock" and f.direction == "for" and "Lock cycle" in f.summary]
    assert len(cycle) == 1
    f = cycle[0]
    assert f.weight == 3.0
    assert set(f.facts["threads"].split(", ")) == {"http-nio-8080-exec-1", "http-nio-8080-exec-2"}
    assert f.facts["code_locations"] in ("TokenStore.invalidate, SessionCache.evict",
                                         "SessionCache.evict, TokenStore.invalidate")
    assert f.facts["lock"].startswith(("com.example.auth.TokenStore@0x", "com.example.auth.SessionCache@0x"))
    assert f.facts["pod"] == "monitor-deadlock"
    assert "in 3/3 dumps" in f.summary and "the JVM reported it too" in f.summary
    assert "20 more threads BLOCKED behind them on com.example.auth.SessionCache@0x" in f.summary
    assert not any(x.direction == "against" for x in found)


def test_monitor_cycle_is_found_without_the_jvm_report(jvm_dumps):
    files = {k: _strip_jvm_report(v) for k, v in jvm_dumps["monitor-deadlock"].items()}
    assert all(b"Found one Java-level deadlock" not in v for v in files.values())
    ev = load(files)
    assert len(ev.cycles) == 1
    assert not ev.cycles[0].jvm_reported
    locations = {e.frame.code_location for e in ev.cycles[0].edges if e.frame}
    assert locations == {"TokenStore.invalidate", "SessionCache.evict"}


def test_reentrantlock_cycle_is_found_from_ownable_synchronizers(jvm_dumps):
    files = {k: _strip_jvm_report(v) for k, v in jvm_dumps["lock-deadlock"].items() if "-l" in k or "jcmd" in k}
    ev = load(files)
    assert len(ev.cycles) == 1
    c = ev.cycles[0]
    assert set(c.threads) == {"transfer-worker-1", "transfer-worker-2"}
    assert all(e.waits_for.class_name == "java.util.concurrent.locks.ReentrantLock$NonfairSync" for e in c.edges)
    assert {e.frame.code_location for e in c.edges if e.frame} == {"LedgerService.transfer"}
    found = findings_for(files)
    assert any(f.cause == "deadlock" and f.facts.get("code_location") == "LedgerService.transfer" for f in found)


def test_contention_without_cycle_names_the_holder_and_what_it_does(jvm_dumps):
    found = findings_for(jvm_dumps["contention"])
    assert not any("Lock cycle" in f.summary for f in found)
    hot = [f for f in found if f.cause == "deadlock" and f.direction == "for"]
    assert len(hot) == 1 and hot[0].weight == 1.5
    f = hot[0]
    assert f.facts["blocked"] == 29
    assert f.facts["lock"].startswith("com.example.audit.AuditLog@0x")
    assert f.facts["code_location"] == "AuditLog.append"
    assert "(TIMED_WAITING) in AuditLog.append" in f.summary
    assert "in the same frame in every dump" in f.summary


def test_pool_saturated_by_a_slow_backend_is_overload_not_deadlock(jvm_dumps):
    found = findings_for(jvm_dumps["slow-pool"])
    over = [f for f in found if f.cause == "overload"]
    assert len(over) == 1
    assert over[0].facts["pool"] == "profile-pool" and over[0].facts["waiting"] == 16
    assert over[0].facts["code_location"] == "SlowPool$ProfileClient.fetch"
    assert "on a socket read" in over[0].summary
    assert not any(f.cause == "deadlock" and f.direction == "for" for f in found)
    assert any(f.cause == "deadlock" and f.direction == "against" for f in found)


def test_threads_waiting_for_a_pool_connection_are_database_evidence(jvm_dumps):
    found = findings_for(jvm_dumps["db-pool"])
    db = [f for f in found if f.cause == "database"]
    assert len(db) == 1
    assert db[0].facts["waiting"] == 20 and db[0].facts["resource"] == "HikariPool.getConnection"
    assert db[0].facts["code_location"] == "DbPool$UserRepository.findByEmail"
    assert not any(f.cause == "deadlock" and f.direction == "for" for f in found)


def test_healthy_busy_server_argues_against_deadlock_only(jvm_dumps):
    found = findings_for(jvm_dumps["busy"])
    assert [(f.cause, f.direction) for f in found] == [("deadlock", "against")]
    assert "No lock cycle in 3 dump(s) of 1 pod(s)" in found[0].summary
    ev = load(jvm_dumps["busy"])
    assert not any(s.thread.startswith("http-nio-8080-exec") and s.state == "RUNNABLE" for s in ev.stuck)


def test_every_tool_output_parses_to_the_same_threads(jvm_dumps):
    ev = load(jvm_dumps["monitor-deadlock"])
    counts = {len([t for t in d.threads if t.name.startswith("http-nio")]) for d in ev.dumps}
    assert counts == {22}
    assert [d.source.split("/")[1] for d in ev.dumps] == ["1-jstack-l.txt", "2-jcmd.txt", "3-jstack.txt"]


def test_a_few_request_threads_blocked_on_a_monitor_are_reported_by_their_share_of_requests(jvm_dumps):
    # 4 waiters of ~180 threads: under any fixed count or share of all threads, but 5 of the 10 Tomcat
    # threads (the holder sleeps in one) serve no request.
    found = findings_for(jvm_dumps["request-contention"])
    hot = [f for f in found if f.cause == "deadlock" and f.direction == "for"]
    assert len(hot) == 1, [f.summary for f in found]
    f = hot[0]
    assert f.facts["lock"].startswith("com.example.orders.PriceCache@0x")
    assert f.facts["holder"] == "http-nio-8080-exec-1" and f.facts["code_location"] == "PriceCache.reload"
    assert f.facts["requests_stopped"] == 5 and f.facts["request_threads"] == 10
    assert "5 of 10 request threads (http-nio-8080-exec) stopped" in f.summary
    assert "MetricsRegistry" not in f.summary     # background threads on their own lock are not the story


def test_hot_spots_stopping_more_request_threads_rank_first(jvm_dumps):
    ev = load(jvm_dumps["request-contention"])
    assert [h.lock.class_name for h in ev.hotspots] == ["com.example.orders.PriceCache",
                                                        "com.example.orders.MetricsRegistry"]
    assert ev.hotspots[0].request_share == 0.5 and ev.hotspots[1].request_share == 0.0


def test_a_pool_whose_every_worker_computes_is_cpu_saturation_for_overload(jvm_dumps):
    found = findings_for(jvm_dumps["cpu-pool"])
    over = [f for f in found if f.cause == "overload"]
    assert len(over) == 1, [f.summary for f in found]
    f = over[0]
    assert f.facts["pool"] == "http-nio-8080-exec" and f.facts["waiting"] == 4 and f.facts["pool_size"] == 4
    assert str(f.facts["code_location"]).startswith("CpuPool")
    assert "saturated by CPU" in f.summary and "CPU time +" in f.summary
    assert not any(f.cause == "deadlock" and f.direction == "for" for f in found)


def test_a_pool_with_idle_workers_is_not_cpu_saturated(jvm_dumps):
    assert not [f for f in findings_for(jvm_dumps["busy"]) if f.cause == "overload"]


def test_a_reentrantlock_held_by_a_sleeper_is_reported_beside_a_cycle_elsewhere(jvm_dumps):
    for keep in ("-l", "jstack.txt"):     # with the lock's owner (-l, jcmd) and without it (plain jstack)
        files = {k: v for k, v in jvm_dumps["cycle-and-sleeper"].items() if keep in k or "jcmd" in k}
        found = [f for f in findings_for(files) if f.cause == "deadlock" and f.direction == "for"]
        assert any("Lock cycle" in f.summary and "Ledger" in f.summary for f in found), found
        lock = [f for f in found if "ReentrantLock" in str(f.facts.get("lock"))]
        assert len(lock) == 1, [f.summary for f in found]
        assert "StockCounter.read" in lock[0].summary
        assert lock[0].facts["blocked"] == 3
    with_owner = {k: v for k, v in jvm_dumps["cycle-and-sleeper"].items() if "-l" in k}
    lock = [f for f in findings_for(with_owner) if "ReentrantLock" in str(f.facts.get("lock"))][0]
    assert lock.facts["holder"] == "http-nio-8080-exec-1" and lock.facts["code_location"] == "StockCounter.recount"
