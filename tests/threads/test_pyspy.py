"""`py-spy dump --json`: a real capture stored (tests/data/threaddumps/pyspy_lock_waiters.json) and one taken
here of tests/threads/py/lock_waiters.py with the py-spy the test extras install. The JSON is a list of
py-spy's serde `StackTrace` (src/stack_trace.rs in benfred/py-spy)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from diagnose.parsers.thread_dumps import load, parse_file

PROGRAM = Path(__file__).parent / "py" / "lock_waiters.py"
DATA = Path(__file__).parents[1] / "data" / "threaddumps"


def _check_lock_waiters(data: bytes) -> None:
    ev = load({"orders-py-1/1.json": data})
    d = ev.dumps[0]
    assert d.format == "py-spy" and d.pod == "orders-py-1"
    by_name = {t.name: t for t in d.threads}
    assert set(by_name) == {"MainThread", "holder", "worker-0", "worker-1", "worker-2", "idle"}
    assert all(str(by_name[f"worker-{i}"].frames[0]) == "waiter(lock_waiters.py:21)" for i in range(3))
    assert by_name["holder"].frames[0].function == "holder" and by_name["holder"].state == "WAITING"
    assert str(by_name["idle"].frames[0]).startswith("Condition.wait(threading.py:")
    # --locals printed the holder's `token`: nothing of it reaches the records
    assert "hunter2" in data.decode() or b'"locals": null' in data
    assert not any("hunter2" in f.function + f.location for t in d.threads for f in t.frames)


def test_stored_real_pyspy_json_dump_reads_threads_frames_and_drops_locals():
    _check_lock_waiters((DATA / "pyspy_lock_waiters.json").read_bytes())


@pytest.mark.integration       # a skip fails where servers and tools are required (tests/conftest.py)
def test_pyspy_json_dump_taken_here_reads_the_same(tmp_path):
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not os.path.exists(spy):
        pytest.skip("py-spy not installed (pip install -e '.[test]')")
    proc = subprocess.Popen([sys.executable, str(PROGRAM)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("READY")
        out = subprocess.run([spy, "dump", "--pid", str(proc.pid), "--json", "--locals"], capture_output=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr.decode(errors="replace")
        _check_lock_waiters(out.stdout)
    finally:
        proc.kill()
        proc.wait(timeout=30)


@pytest.mark.parametrize("text", ["[]", "[1, {}, null]", '[{"thread_id": 1, "frames": [null, {"name": 3}]}]',
                                  '[{"thread_id": 1, "owns_gil": true, "frames": "x"}', "[" * 5000])
def test_malformed_pyspy_json_costs_the_file_not_the_run(text):
    dumps, notes = parse_file("p/1.json", text.encode())
    assert all(d.format == "py-spy" for d in dumps)


def test_active_thread_holding_the_gil_is_runnable():
    doc = [{"pid": 1, "thread_id": 7, "thread_name": "busy", "os_thread_id": 9, "active": True, "owns_gil": True,
            "frames": [{"name": "crunch", "filename": "/app/calc.py", "module": None, "short_filename": "calc.py",
                        "line": 3, "locals": [{"name": "password", "repr": "'s3cret'"}]}]}]
    d = load({"calc/1.json": json.dumps(doc).encode()}).dumps[0]
    t = d.threads[0]
    assert (t.state, t.raw_state, t.tid, str(t.frames[0])) == ("RUNNABLE", "active+gil", "9", "crunch(calc.py:3)")
