"""Peak memory of one child process, measured honestly.

Linux carries a process's RSS high-water mark into the children it forks (and across their exec): a test
run by a pytest process that has grown to 300 MB would see every child it starts "peak" at 300 MB
whatever the child did. So the child is started by a small launcher, itself a fresh interpreter a few
MB in size, which waits for it with os.wait4 and reports that child's own ru_maxrss.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

_LAUNCHER = r"""
import json, os, signal, subprocess, sys, threading
argv, kill_after, report = json.loads(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
proc = subprocess.Popen(argv)
# A hang must fail the test, not the suite: kill the child if it outlives any sane bound.
killer = threading.Timer(kill_after, lambda: os.kill(proc.pid, signal.SIGKILL))
killer.start()
_, status, usage = os.wait4(proc.pid, 0)
killer.cancel()
with open(report, "w") as f:
    json.dump({"code": os.waitstatus_to_exitcode(status), "rss_kib": usage.ru_maxrss}, f)
"""


@dataclass(frozen=True)
class Measured:
    code: int
    wall: float            # seconds, around the launcher (a few tens of ms more than the child)
    rss_mb: float          # the child's own peak RSS


def run_measured(argv: list[str], *, cwd: Path, env: dict[str, str], stdout: Path, stderr: Path,
                 kill_after: float = 30) -> Measured:
    report = stdout.with_name(stdout.name + ".rusage.json")
    with open(stdout, "wb") as o, open(stderr, "wb") as e:
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", _LAUNCHER, json.dumps(argv), str(kill_after), str(report)],
                       cwd=cwd, env=env, stdout=o, stderr=e, timeout=kill_after + 30)
        wall = time.monotonic() - started
    r = json.loads(report.read_text())
    return Measured(r["code"], wall, r["rss_kib"] / 1024)
