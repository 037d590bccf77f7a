"""Every stored dump (tda corpus, py-spy, Go) loads; formats are told from the content."""

from __future__ import annotations

from pathlib import Path

import pytest

from diagnose.parsers.thread_dumps import load, parse_file

from .conftest import findings_for

DATA = Path(__file__).parents[1] / "data" / "threaddumps"
TDA = sorted((DATA / "tda").iterdir())


@pytest.mark.parametrize("path", TDA, ids=[p.name for p in TDA])
def test_every_tda_file_loads_with_threads_and_no_cycle(path: Path):
    ev = load({path.name: path.read_bytes()})
    assert ev.dumps and all(d.threads for d in ev.dumps)
    assert ev.cycles == ()                       # the corpus README: none of them holds a deadlock


@pytest.mark.parametrize("name,dumps,threads,fmt", [
    ("test.log", 3, 88, "jvm"),                   # three dumps in one file, JMX ThreadInfo form
    ("hpdump.log", 2, 574, "jvm"),                # HP-UX, CRLF, Latin-1 date
    ("java21dump_utf16.log", 1, 18, "jvm"),       # UTF-16 without a BOM
    ("intellij_dump.json", 1, None, "jvm-json"),  # jcmd Thread.dump_to_file -format=json
    ("testwithhistogram.log", 1, 14, "jvm"),      # class histogram after the dump
    ("visualvmremote.log", 1, 119, "jvm"),
    ("java8dump.log", 1, 21, "jvm"),
    ("java11dump.log", 1, 14, "jvm"),
])
def test_tda_files_give_the_dumps_they_hold(name, dumps, threads, fmt):
    ds, notes = parse_file(name, (DATA / "tda" / name).read_bytes())
    assert len(ds) == dumps and notes == []
    assert {d.format for d in ds} == {fmt}
    if threads is not None:
        assert len(ds[0].threads) == threads


def test_utf16_dump_reads_the_same_as_its_utf8_twin():
    a = load({"a.log": (DATA / "tda" / "java21dump.log").read_bytes()})
    b = load({"b.log": (DATA / "tda" / "java21dump_utf16.log").read_bytes()})
    assert [t.name for t in a.dumps[0].threads] == [t.name for t in b.dumps[0].threads]


def test_hp_ux_dump_keeps_its_latin1_header_and_thread_states():
    ev = load({"hp.log": (DATA / "tda" / "hpdump.log").read_bytes()})
    assert "KST 2008" in ev.dumps[0].runtime
    states = {t.state for t in ev.dumps[0].threads}
    assert {"RUNNABLE", "WAITING"} <= states


def test_jdk21_virtual_threads_are_marked_virtual():
    ev = load({"j21.log": (DATA / "tda" / "java21dump.log").read_bytes()})
    assert any(t.virtual and t.name.startswith("VirtualThread") for t in ev.dumps[0].threads)


def test_jdk21_jstack_dump_is_read_whole():
    # tda's java21dump.log (a JDK 21 jstack with virtual threads): 18 threads, every one of its 58 "at" lines a
    # frame, and the waits its lock lines name
    raw = (DATA / "tda" / "java21dump.log").read_bytes()
    (d,), notes = parse_file("j21.log", raw)
    assert notes == [] and d.notes == () and len(d.threads) == 18
    assert sum(len(t.frames) for t in d.threads) == raw.count(b"        at ") == 58
    by = {t.name: t for t in d.threads}
    assert [by[f"VirtualThread[#{n}]"].wait_kind for n in range(21, 26)] == ["io", "sleep", "park", "object-wait",
                                                                             "io"]
    assert all(by[f"VirtualThread[#{n}]"].virtual for n in range(21, 26)) and not by["ForkJoinPool-1-worker-1"].virtual
    assert by["VirtualThread[#24]"].waiting_for is not None
    assert by["VirtualThread[#24]"].waiting_for.label == "java.lang.Object@0x000000076ab90234"
    assert "UNKNOWN" not in {t.state for t in d.threads}


def test_json_dump_keeps_frames_without_module_prefix():
    ev = load({"d.json": (DATA / "tda" / "intellij_dump.json").read_bytes()})
    ref = next(t for t in ev.dumps[0].threads if t.name == "Reference Handler")
    assert ref.frames[0].function == "java.lang.ref.Reference.waitForReferencePendingList"
    assert ref.frames[0].code_location == "Reference.waitForReferencePendingList"


def test_go_goroutines_stuck_on_a_mutex_for_minutes_are_deadlock_evidence():
    found = findings_for({"auth-go-1/goroutines.txt": (DATA / "go_sigquit_mutex.txt").read_bytes()})
    dl = [f for f in found if f.cause == "deadlock" and f.direction == "for"]
    assert dl, found
    f = dl[0]
    assert f.facts["code_location"] == "main.(*SessionCache).Refresh"
    assert "40 goroutines on pod auth-go-1 stuck in [semacquire] for up to 13 minutes" in f.summary
    ev = load({"auth-go-1/goroutines.txt": (DATA / "go_sigquit_mutex.txt").read_bytes()})
    assert ev.dumps[0].runtime == "Go (SIGQUIT)"
    assert ev.hotspots[0].lock.label == "sync.Mutex@0xc0000b6000" and len(ev.hotspots[0].waiters) == 41


def test_healthy_go_dump_argues_against_deadlock():
    found = findings_for({"g/1.txt": (DATA / "go_debug2_healthy.txt").read_bytes()})
    assert [(f.cause, f.direction) for f in found] == [("deadlock", "against")]


def test_real_pyspy_dump_reads_threads_and_drops_locals():
    for name in ("pyspy_lock_waiters.txt", "pyspy_locals.txt"):
        ev = load({name: (DATA / name).read_bytes()})
        d = ev.dumps[0]
        assert d.format == "py-spy" and d.runtime == "Python 3.11.7"
        workers = [t for t in d.threads if t.name.startswith("worker-")]
        assert len(workers) == 3 and all(str(t.frames[0]) == "waiter(pyw.py:7)" for t in workers)
        assert not any("self" in f.function or "Thread at" in f.function for t in d.threads for f in t.frames)
