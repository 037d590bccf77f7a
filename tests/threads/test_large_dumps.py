"""What the fast paths of the JVM text parser and the analysis must keep: whole names with quotes in them,
quoted non-header lines left in the stack above, the thread id in every header form, per-thread header values
on threads that share one parsed stack, lock cycles among thousands of idle threads, and the pool names the
regex gives."""

from __future__ import annotations

import gc
import re

import pytest

from diagnose.parsers.thread_dumps import load, parse_file
from diagnose.parsers.threaddump.frames import pool_name

HEAD = "2024-08-20 14:25:30\nFull thread dump OpenJDK 64-Bit Server VM (17.0.15+6-LTS mixed mode, sharing):\n\n"

IDLE = """\
"http-nio-8080-exec-{n}" #{tid} daemon prio=5 os_prio=0 cpu={cpu}ms elapsed=812.33s tid=0x00007f3c{n:08x} nid=0x{nid:x} waiting on condition  [0x00007f3b8d7fe000]
   java.lang.Thread.State: WAITING (parking)
	at jdk.internal.misc.Unsafe.park(java.base@17.0.15/Native Method)
	- parking to wait for  <0x00000000c3a3f1d8> (a java.util.concurrent.locks.AbstractQueuedSynchronizer$ConditionObject)
	at java.util.concurrent.locks.LockSupport.park(java.base@17.0.15/LockSupport.java:341)
	at java.util.concurrent.LinkedBlockingQueue.take(java.base@17.0.15/LinkedBlockingQueue.java:435)
	at org.apache.tomcat.util.threads.TaskQueue.take(TaskQueue.java:117)
	at java.util.concurrent.ThreadPoolExecutor.getTask(java.base@17.0.15/ThreadPoolExecutor.java:1062)
	at java.lang.Thread.run(java.base@17.0.15/Thread.java:840)

"""

BLOCKED = """\
"{name}" #{tid} prio=5 os_prio=0 cpu=12.50ms elapsed=812.33s tid=0x00007f3c2c0{tid:05x} nid=0x{tid:x} waiting for monitor entry  [0x00007f3b8c3fe000]
   java.lang.Thread.State: BLOCKED (on object monitor)
	at com.example.auth.{cls}.refresh({cls}.java:88)
	- waiting to lock <{wants}> (a com.example.auth.{wcls})
	- locked <{holds}> (a com.example.auth.{cls})
	at com.example.auth.AuthController.login(AuthController.java:42)
	at java.lang.Thread.run(java.base@17.0.15/Thread.java:840)

"""


def _dump(body: str) -> bytes:
    return (HEAD + body + "JNI global refs: 27, weak refs: 0\n").encode()


def _idle(n: int, first_tid: int = 30) -> str:
    return "".join(IDLE.format(n=i, tid=first_tid + i, cpu=10 + i, nid=0x5000 + i) for i in range(1, n + 1))


def _threads(body: str):
    ds, notes = parse_file("pod-a.txt", _dump(body))
    assert notes == [] and len(ds) == 1
    return ds[0].threads


def test_a_thread_name_with_a_quote_and_a_blank_in_it_is_read_whole():
    body = IDLE.format(n=1, tid=31, cpu=10, nid=0x5001).replace('"http-nio-8080-exec-1"', '"say "hi" worker"', 1)
    (t,) = _threads(body)
    assert t.name == 'say "hi" worker'
    assert (t.tid, t.daemon, t.state, t.wait_kind) == ("31", True, "WAITING", "park")


def test_a_quoted_line_that_is_no_header_stays_in_the_stack_of_the_thread_above():
    # An application printing into the dump's stream: the quote is not followed by a blank.
    body = _idle(2).replace("\tat java.lang.Thread.run", '"GET /login HTTP/1.1"200 12ms\n\tat java.lang.Thread.run', 1)
    threads = _threads(body)
    assert [t.name for t in threads] == ["http-nio-8080-exec-1", "http-nio-8080-exec-2"]
    assert threads[0].frames[-1].function == "java.lang.Thread.run"
    assert len(threads[0].frames) == len(threads[1].frames)


@pytest.mark.parametrize("header,tid", [
    ('"main" #1 prio=5 os_prio=0 cpu=120.20ms elapsed=30.11s tid=0x00007f nid=0x1a2b runnable  [0x00007f]', "1"),
    ('"main" prio=10 tid=6000000000098a20 nid=1 lwp_id=-1 in Object.wait() [9fffffffffffc000]', "1"),
    ('"main" prio=10 tid=0x00007f nid=0x1a2b\truntime runnable [0x7f]', "0x1a2b"),
    ('"main" daemon prio=5 tid=0x00007f nid=0x1a2b runnable [0x7f]\r', "0x1a2b"),
    ('"main" id=12 in RUNNABLE (running in native)', "12"),          # JMX ThreadInfo form
])
def test_the_thread_id_is_read_from_every_header_form(header, tid):
    (t,) = _threads(header + "\n\tat com.example.Main.main(Main.java:5)\n\n")
    assert t.tid == tid


def test_threads_sharing_one_stack_keep_their_own_header_values():
    threads = _threads(_idle(4))
    assert [t.name for t in threads] == [f"http-nio-8080-exec-{i}" for i in range(1, 5)]
    assert [t.tid for t in threads] == ["31", "32", "33", "34"]
    assert [t.cpu_ms for t in threads] == [11.0, 12.0, 13.0, 14.0]
    assert all(t.raw_state.endswith("waiting on condition  [0x00007f3b8d7fe000]") for t in threads)
    assert threads[0].frames is threads[2].frames          # parsed once, shared (the last one's text ends the dump)
    assert threads[0].waiting_for == threads[1].waiting_for and threads[0].wait_kind == "park"


def test_a_lock_cycle_among_thousands_of_idle_threads_is_found_with_its_pile_up():
    a, b = "0x00000000c1000001", "0x00000000c2000002"
    body = (_idle(3000)
            + BLOCKED.format(name="auth-1", tid=9001, cls="SessionCache", wcls="TokenStore", wants=b, holds=a)
            + BLOCKED.format(name="auth-2", tid=9002, cls="TokenStore", wcls="SessionCache", wants=a, holds=b)
            # two more wait for the cycle's first lock, and one waits for one of those: chains, not members
            + "".join(BLOCKED.format(name=f"login-{i}", tid=9010 + i, cls="LoginService", wcls="SessionCache",
                                     wants=a, holds=f"0x00000000c30000{i:02x}") for i in range(2))
            + BLOCKED.format(name="audit-1", tid=9020, cls="Audit", wcls="LoginService", wants="0x00000000c3000000",
                             holds="0x00000000c4000000"))
    ev = load({"pod-a/1.txt": _dump(body)})
    assert [c.threads for c in ev.cycles] == [("auth-1", "auth-2")]
    (cycle,) = ev.cycles
    assert not cycle.jvm_reported and [e.held_by for e in cycle.edges] == ["auth-2", "auth-1"]
    assert [e.frame.code_location for e in cycle.edges] == ["SessionCache.refresh", "TokenStore.refresh"]
    spots = {h.lock.id: h for h in ev.hotspots}
    assert spots[a].waiters == ("auth-2", "login-0", "login-1") and spots[a].owner == "auth-1"
    assert spots[a].total_threads == 3005
    assert ev.pools == ()                       # 3000 workers idle on their queue are healthy


def test_parsing_leaves_the_garbage_collector_as_it_found_it():
    data = _dump(_idle(50))
    assert gc.isenabled()
    parse_file("a.txt", data)
    assert gc.isenabled()
    gc.disable()
    try:
        parse_file("a.txt", data)
        assert not gc.isenabled()
    finally:
        gc.enable()


_POOL_SUFFIX = re.compile(r"[-_#. ]*(?:\d+|\[\d+\])$")


@pytest.mark.parametrize("name", [
    "http-nio-8080-exec-12", "pool-1-thread-3", "worker 5 12", "a--12", "a1-2", "a-1-2",
    "ForkJoinPool.commonPool-worker-7",
    "Thread-4", "goroutine 12", "Dummy-3", "main", "x", "", "12", "-12", "grpc-default-executor[3]", "pool-1\n",
    "пул-7", "x٣1", "worker-٣", "C2 CompilerThread0", "Signal Dispatcher", "exec_07", "exec#3", "exec.4",
])
def test_pool_names_are_what_the_suffix_regex_leaves(name):
    stripped = _POOL_SUFFIX.sub("", name)
    expected = None if stripped in ("Thread", "goroutine", "Dummy") or not stripped or stripped == name else stripped
    assert pool_name(name) == expected
