"""Real JVMs for the thread-dump tests: the Java programs in tests/threads/java/ are compiled into a temp
dir and run, and dumps are taken with the machine's jstack and jcmd, three rounds a second apart."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

JAVA_DIR = Path(__file__).parent / "java"
SCENARIOS = {
    "monitor-deadlock": "com.example.auth.MonitorDeadlock",
    "lock-deadlock": "com.example.billing.LockDeadlock",
    "contention": "com.example.audit.Contention",
    "slow-pool": "com.example.gateway.SlowPool",
    "db-pool": "com.example.auth.DbPool",
    "busy": "com.example.web.BusyServer",
    "request-contention": "com.example.orders.RequestContention",
    "cpu-pool": "com.example.pricing.CpuPool",
    "cycle-and-sleeper": "com.example.inventory.CycleAndSleepingHolder",
}
# Per round: which tool and arguments take the dump; a pod gets one file per round.
TOOLS = (("jstack-l", ["jstack", "-l"]), ("jcmd", ["jcmd", "{pid}", "Thread.print", "-l"]), ("jstack", ["jstack"]))


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        msg = f"{tool} not installed (a JDK 17 is needed: apt-get install openjdk-17-jdk-headless)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def _dump(tool: list[str], pid: int) -> bytes:
    args = [a.replace("{pid}", str(pid)) for a in tool]
    if "{pid}" not in " ".join(tool):
        args.append(str(pid))
    return subprocess.run(args, capture_output=True, timeout=60, check=True).stdout


@pytest.fixture(scope="session")
def jvm_dumps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, bytes]]]:
    """scenario -> {"<scenario>/<round>-<tool>.txt": dump bytes} for three rounds a second apart."""
    for tool in ("javac", "java", "jstack", "jcmd"):
        _need(tool)
    work = tmp_path_factory.mktemp("jvm")
    classes = work / "classes"
    sources = sorted(str(p) for p in JAVA_DIR.rglob("*.java"))
    subprocess.run(["javac", "-d", str(classes), *sources], check=True, capture_output=True, timeout=300)
    procs: dict[str, subprocess.Popen[str]] = {}
    try:
        for name, main in SCENARIOS.items():
            procs[name] = subprocess.Popen(["java", "-Xmx64m", "-XX:+UseSerialGC", "-cp", str(classes), main],
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for name, p in procs.items():
            assert p.stdout is not None
            line = p.stdout.readline()          # each program prints READY once its threads are in place
            assert "READY" in line, f"{name} did not start: {line!r}"
        out: dict[str, dict[str, bytes]] = {name: {} for name in procs}
        for rnd, (tool_name, tool) in enumerate(TOOLS, start=1):
            if rnd > 1:
                time.sleep(1.0)
            for name, p in procs.items():
                out[name][f"{name}/{rnd}-{tool_name}.txt"] = _dump(tool, p.pid)
        yield out
    finally:
        for p in procs.values():
            p.kill()
            p.wait(timeout=30)


def findings_for(files: dict[str, bytes]) -> list:
    """Load dump files as the parser does and run the thread-dumps check with its default params."""
    from datetime import datetime, timezone

    from diagnose.checks.threads import PARAMS, thread_dumps
    from diagnose.model.evidence import Evidence
    from diagnose.model.incident import Incident, Window
    from diagnose.parsers.thread_dumps import load

    t0 = datetime(2023, 10, 27, 10, 30, tzinfo=timezone.utc)
    inc = Incident(service="frontend-api", upstream="user-auth-service", events=1, first_seen=t0, last_seen=t0,
                   timeout_ms=10000)
    ev = Evidence(incident=inc, window=Window.around(inc, now=t0), threads=load(files))
    return thread_dumps(ev, PARAMS)
