"""Real Go runtime output (Go 1.19, programs in tests/threads/go/), not hand-written samples."""

from __future__ import annotations

from pathlib import Path

from diagnose.parsers.thread_dumps import load

from .conftest import findings_for

DATA = Path(__file__).parents[1] / "data" / "threaddumps"


def dump(name: str) -> dict[str, bytes]:
    return {"user-auth-service-7d9f8b6c5-4xk2p/goroutines.txt": (DATA / name).read_bytes()}


def test_goroutines_stuck_for_minutes_on_a_mutex_and_a_channel_are_found_in_a_real_sigquit_dump():
    ev = load(dump("go119_sigquit_stuck_5min.txt"))
    assert ev.dumps[0].format == "go" and len(ev.dumps[0].threads) == 52
    waits = {(w.reason, w.frame.function if w.frame else None): w for w in ev.goroutine_waits}
    assert waits[("semacquire", "main.handleLogin")].count == 30
    assert waits[("semacquire", "main.handleLogin")].max_minutes >= 5
    assert waits[("chan send", "main.recordAudit")].count == 12
    found = [f for f in findings_for(dump("go119_sigquit_stuck_5min.txt")) if f.direction == "for"]
    assert any(f.cause == "deadlock" and f.facts.get("code_location") == "main.handleLogin" for f in found), found


def test_goroutines_blocked_for_seconds_are_not_called_stuck():
    ev = load(dump("go119_sigquit_fresh.txt"))
    assert len(ev.dumps[0].threads) == 50
    assert ev.goroutine_waits == ()
    assert not [f for f in findings_for(dump("go119_sigquit_fresh.txt")) if f.cause == "deadlock" and
                f.direction == "for"]


def test_a_real_healthy_debug2_dump_argues_against_deadlock():
    found = findings_for(dump("go119_debug2_healthy.txt"))
    assert ("deadlock", "against") in [(f.cause, f.direction) for f in found]
    assert not [f for f in found if f.direction == "for"]
