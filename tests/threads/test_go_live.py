"""Go programs run here (Debian's golang-go), dumped three ways: /debug/pprof/goroutine?debug=1 (the
aggregated profile), ?debug=2 and SIGQUIT. The program is built from a directory whose name holds a space,
so every frame of ours has a space in its file path."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from diagnose.parsers.thread_dumps import load

from .conftest import findings_for

GO_DIR = Path(__file__).parent / "go"
DATA = Path(__file__).parents[1] / "data" / "threaddumps"


def go_dumps(program: str, work: Path) -> dict[str, bytes]:
    """{"debug1": ..., "debug2": ..., "sigquit": ...} of tests/threads/go/<program>.go, built in `work` and run
    until it prints "READY <port>"."""
    if shutil.which("go") is None:
        msg = "go not installed (apt-get install golang-go)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    work.mkdir()
    shutil.copy(GO_DIR / f"{program}.go", work / f"{program}.go")
    env = {**os.environ, "GOCACHE": os.environ.get("GOCACHE") or str(work.parent / "cache"), "GO111MODULE": "off"}
    subprocess.run(["go", "build", "-o", program, f"{program}.go"], cwd=work, env=env, check=True,
                   capture_output=True, timeout=300)
    proc = subprocess.Popen([str(work / program)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("READY"), line
        base = f"http://127.0.0.1:{line.split()[1]}/debug/pprof/goroutine?debug="
        out = {f"debug{n}": urllib.request.urlopen(base + str(n), timeout=30).read() for n in (1, 2)}
        proc.send_signal(signal.SIGQUIT)
        out["sigquit"] = proc.stderr.read()
        proc.wait(timeout=30)
        return out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def checkout_dumps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, bytes]]:
    """The three dumps of tests/threads/go/checkout.go, built and run here."""
    yield go_dumps("checkout", tmp_path_factory.mktemp("go") / "checkout service")


def files(dumps: dict[str, bytes], kind: str) -> dict[str, bytes]:
    return {f"checkout-7f9c/{kind}.txt": dumps[kind]}


@pytest.mark.parametrize("kind", ["debug1", "debug2", "sigquit"])
def test_every_go_dump_form_is_read_with_frames_whose_path_holds_a_space(checkout_dumps, kind):
    ev = load(files(checkout_dumps, kind))
    d = ev.dumps[0]
    assert d.format == "go" and len(d.threads) >= 2014        # 2000 leaked + 14 handlers + the server's own
    ours = [f for t in d.threads for f in t.frames if f.function.startswith("main.")]
    assert ours and all("/checkout service/checkout.go:" in f.location for f in ours)


@pytest.mark.parametrize("kind", ["debug1", "debug2", "sigquit"])
def test_handlers_blocked_on_a_mutex_are_contention_stopping_requests(checkout_dumps, kind):
    found = [f for f in findings_for(files(checkout_dumps, kind)) if f.cause == "deadlock" and f.direction == "for"]
    assert len(found) == 1, [f.summary for f in found]
    f = found[0]
    assert f.facts["code_location"] == "main.(*ProfileStore).Get" and f.facts["blocked"] == 6
    assert f.facts["requests_stopped"] == 6
    assert "request threads (request handlers) stopped" in f.summary


@pytest.mark.parametrize("kind", ["debug1", "debug2", "sigquit"])
def test_handlers_waiting_on_an_outbound_call_are_a_note_naming_the_call_site(checkout_dumps, kind):
    ev = load(files(checkout_dumps, kind))
    calls = [o for o in ev.outbound if o.kind == "http-client"]
    assert len(calls) == 1
    assert calls[0].count == 8 and calls[0].requests == 8
    assert calls[0].frame is not None and calls[0].frame.function == "main.fetchInventory"
    assert any("8 goroutines (8 of them request handlers) wait on an outbound http-client call" in n and
               "main.fetchInventory" in n for n in ev.notes), ev.notes
    # the dependency's slowness is not this service's overload or deadlock
    assert not [f for f in findings_for(files(checkout_dumps, kind))
                if f.direction == "for" and "fetchInventory" in f.summary]


@pytest.mark.parametrize("kind", ["debug1", "debug2", "sigquit"])
def test_two_thousand_goroutines_in_one_wait_are_named_as_a_leak(checkout_dumps, kind):
    ev = load(files(checkout_dumps, kind))
    assert [(p.count, p.frame.function if p.frame else None) for p in ev.piles] == [
        (2000, "main.(*Subscription).wait")]
    assert any("2000 of" in n and "main.(*Subscription).wait: a goroutine leak" in n for n in ev.notes)


def _stored(name: str) -> bytes:
    return gzip.decompress((DATA / name).read_bytes())


def test_handlers_parked_for_minutes_on_a_call_with_no_deadline_are_a_note_not_a_deadlock():
    # checkout.go run for six minutes (tests/data/threaddumps/README.md): the waits are dated
    ev = load({"checkout-7f9c/2.txt": _stored("go119_checkout_6min_debug2.txt.gz")})
    assert any("wait on an outbound http-client call" in n and "main.fetchInventory, up to 6 minutes "
               "(no deadline on the call)" in n for n in ev.notes), ev.notes
    found = [f for f in findings_for({"checkout-7f9c/2.txt": _stored("go119_checkout_6min_debug2.txt.gz")})
             if f.direction == "for"]
    # the mutex pile-up stays deadlock evidence; the outbound call and the leak are not
    assert [f.facts["code_location"] for f in found] == ["main.(*ProfileStore).Get"], [f.summary for f in found]


def test_goroutines_in_the_same_frame_six_minutes_apart_are_stuck_and_the_rest_moved():
    ev = load({"checkout-7f9c/1.txt": _stored("go119_checkout_fresh_debug2.txt.gz"),
               "checkout-7f9c/2.txt": _stored("go119_checkout_6min_debug2.txt.gz")})
    stuck = {s.frame.function for s in ev.stuck if s.frame}
    assert {"main.(*ProfileStore).Get", "main.fetchInventory", "main.(*Subscription).wait"} <= stuck
    moved = {t.name for t in ev.dumps[0].threads} - {s.thread for s in ev.stuck}
    assert moved      # the pprof handler and idle pollers of the first dump are not called stuck
    f = [f for f in findings_for({"checkout-7f9c/1.txt": _stored("go119_checkout_fresh_debug2.txt.gz"),
                                  "checkout-7f9c/2.txt": _stored("go119_checkout_6min_debug2.txt.gz")})
         if f.direction == "for"]
    assert [x.facts["code_location"] for x in f] == ["main.(*ProfileStore).Get"], [x.summary for x in f]
    assert sum(1 for s in ev.stuck if s.frame and s.frame.function == "main.(*ProfileStore).Get") == 6
