"""The deadlock fix tells how to keep a dump with the tool of the runtime the dumps came from: jcmd for a JVM (in
its container when the exec source named it), py-spy for Python, and for Go only prose about the pprof endpoint
(SIGQUIT makes a Go process exit). Real dumps: tests/data/threaddumps and the JVM programs of this folder."""

from __future__ import annotations

from pathlib import Path

from diagnose.engine.ranking import _fixes
from diagnose.engine.runbook import for_signal

from .conftest import findings_for

DATA = Path(__file__).parents[1] / "data" / "threaddumps"
STEP = next(s for s in for_signal("upstream-timeout").steps if s.cause == "deadlock")
BASE = {"namespace": "prod", "upstream": "user-auth-service", "upstream_deployment": "user-auth-service"}


def deadlock_fixes(files: dict[str, bytes]) -> tuple[list[str], list[str]]:
    own = [f for f in findings_for(files) if f.cause == "deadlock" and f.direction == "for"]
    assert own, "the dump shows no deadlock"
    fixes = _fixes(STEP, BASE, own)
    return [f.summary for f in fixes], [c for f in fixes for c in f.commands]


def test_a_jvm_dump_from_the_exec_source_names_its_container(jvm_dumps):
    # as sources/kube_exec.py keeps them, fed to the thread-dumps parser: exec-thread-dumps/<pod>/<container>-1.txt
    dump = next(iter(jvm_dumps["monitor-deadlock"].values()))
    _, commands = deadlock_fixes({"exec-thread-dumps/auth-7f9c/auth-app-1.txt": dump})
    assert "kubectl exec -n prod auth-7f9c -c auth-app -- jcmd 1 Thread.print -l" in commands
    assert not any("py-spy" in c or " -- jcmd 1 " in c and " -c " not in c for c in commands)


def test_a_jvm_dump_from_a_file_gives_jcmd_without_a_container(jvm_dumps):
    _, commands = deadlock_fixes(jvm_dumps["monitor-deadlock"])
    assert "kubectl exec -n prod monitor-deadlock -- jcmd 1 Thread.print -l" in commands


def test_a_go_dump_gives_no_jvm_command_and_never_sigquit():
    files = {"auth-go-1/goroutines.txt": (DATA / "go119_sigquit_stuck_5min.txt").read_bytes()}
    summaries, commands = deadlock_fixes(files)
    assert not any("jcmd" in c or "py-spy" in c or "kill" in c for c in commands)
    assert "Keep a goroutine dump of auth-go-1 from its net/http/pprof endpoint before it restarts" in summaries
    own = [f for f in findings_for(files) if f.cause == "deadlock" and f.direction == "for"]
    go_fix = next(f for f in _fixes(STEP, BASE, own) if "goroutine dump" in f.summary)
    assert "/debug/pprof/goroutine?debug=2" in go_fix.why and "SIGQUIT" in go_fix.why


def test_with_no_dump_read_the_fallback_prints_no_runtime_command():
    fixes = _fixes(STEP, BASE, [])
    assert [f.summary for f in fixes] == ["Take thread dumps of user-auth-service and look for a lock cycle"]
    assert fixes[0].commands == ()
    assert "jcmd 1 Thread.print -l" in fixes[0].why and "never SIGQUIT" in fixes[0].why


def test_a_pyspy_dump_gives_the_py_spy_command():
    from diagnose.checks.threads import dump_facts
    from diagnose.engine.commands import fill_command
    from diagnose.parsers.thread_dumps import load

    ev = load({"orders-py-1/1.json": (DATA / "pyspy_lock_waiters.json").read_bytes()})
    facts = {**BASE, "pod": "orders-py-1", **dump_facts(ev, "orders-py-1")}
    filled = [fill_command(c, facts) for f in STEP.fixes for c in f.commands if "{pod}" in c]
    assert [c for c in filled if isinstance(c, str)] == ["kubectl exec -n prod orders-py-1 -- py-spy dump --pid 1"]
