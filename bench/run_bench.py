"""A full `diagnose run` against live sources, in one run: `python bench/run_bench.py [--runs N]`.

Target: under 3 s of wall time for `diagnose run --format json` with all four live sources given.

Starts the servers the integration tests use: a real Prometheus backfilled with the overload story
(tests/servers/prometheus.py), a throwaway PostgreSQL cluster with the tests' scene (tests/servers/postgres.py),
and the fake Kubernetes API serving the overload cluster (tests/servers/kube_api.py); copies the overload
thread dumps and writes the seed's log. Then times the CLI as a subprocess N times and prints each run,
the median, each source's duration from the report, and the sum of those durations (what querying
the sources one after another would cost) next to the wall time. Last, one run with --timeout 2 whose
--pg-dsn points at a port that accepts and never answers: it must end in about the timeout.

Prints figures only; it asserts nothing. Every server is stopped at the end, also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# The servers live with the tests (tests/servers/), and import `fixtures.build` from the repo top.
sys.path.insert(0, str(REPO))

from fixtures.build import kubernetes as fk
from fixtures.build import prometheus as fp
from fixtures.build import scenario as cast
from fixtures.build.__main__ import log_lines
from tests.servers import postgres as pg
from tests.servers.kube_api import KubeAPI
from tests.servers.prometheus import PrometheusServer

TARGET_S = 3.0
SCENARIO = "overload"
HANG_TIMEOUT_S = 2.0
LIVE = ("kubernetes", "prometheus", "postgres", "thread-dumps")


@dataclass
class Sources:
    log: Path
    kubeconfig: Path
    prometheus_url: str
    pg_dsn: str
    thread_dumps: Path


@dataclass
class Timed:
    wall_s: float
    report: dict[str, Any] | None
    error: str | None


def diagnose_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("diagnose")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "diagnose"]


def source_flags(s: Sources, dsn: str) -> dict[str, list[str]]:
    return {"kubernetes": ["--kubeconfig", str(s.kubeconfig)], "prometheus": ["--prometheus-url", s.prometheus_url],
            "postgres": ["--pg-dsn", dsn], "thread-dumps": ["--thread-dumps", str(s.thread_dumps)]}


def run_args(s: Sources, dsn: str, timeout: float | None, only: tuple[str, ...] = LIVE) -> list[str]:
    flags = source_flags(s, dsn)
    args = [*diagnose_cmd(), "run", "--log", str(s.log), "--namespace", cast.NAMESPACE, "--format", "json"]
    for name in only:
        args += flags[name]
    return args + ["--timeout", str(timeout)] if timeout is not None else args


def clean_env(home: Path) -> dict[str, str]:
    # Only the sources on the command line: no PG*, KUBECONFIG or PROMETHEUS_URL from the caller's shell.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "KUBE", "PROMETHEUS"))}
    env["HOME"] = str(home)
    return env


def timed_run(cmd: list[str], env: dict[str, str]) -> Timed:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    wall = time.perf_counter() - t0
    try:
        return Timed(wall, json.loads(done.stdout), None)
    except json.JSONDecodeError:
        return Timed(wall, None, f"exit {done.returncode}: {done.stderr.strip()[-400:]}")


def source_ms(report: dict[str, Any]) -> dict[str, int]:
    return {name: int(s.get("duration_ms") or 0) for name, s in report.get("sources", {}).items()}


def top_cause(report: dict[str, Any]) -> str:
    causes = report.get("causes") or []
    if not causes:
        return "(none)"
    c = causes[0]
    return f"{c['id']} ({c.get('verdict')}, confidence {c.get('confidence')})"


class SilentPort:
    """A port that accepts connections and never answers a byte, until closed."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return                              # closed: the bench is ending
            self.held.append(conn)                  # kept open and silent: the client waits for a reply

    def close(self) -> None:
        self.sock.close()
        for c in self.held:
            c.close()


def realistic_fake_api() -> None:
    """Send the fake API's answers without Nagle's delay, as the real API server (Go, TCP_NODELAY) does.

    http.server writes the headers and the body in two writes; with Nagle on, the body waits for the
    client's delayed ACK (~40 ms on Linux), so every List call to the fake API costs 40 ms that a real
    API server does not: 16 calls made the kubernetes source look 0.65 s slower than it is.
    """
    import http.server

    http.server.BaseHTTPRequestHandler.disable_nagle_algorithm = True


def start_sources(stack: ExitStack, work: Path, *, nagle: bool) -> Sources:
    t0 = time.perf_counter()
    prom = PrometheusServer(fp.openmetrics(fp.story(SCENARIO)))
    stack.callback(prom.close)
    print(f"  prometheus  {prom.url} (backfilled {SCENARIO}) in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    server = pg.start_cluster()
    stack.callback(server.stop)
    scene = pg.prepare_scene(server)
    print(f"  postgres    127.0.0.1:{server.port} (scene: {pg.AUTH_DB}, "
          f"{pg.EVENTS_ROWS:,} events) in {time.perf_counter() - t0:.1f} s")

    if not nagle:
        realistic_fake_api()
    api = stack.enter_context(KubeAPI(fk.cluster(SCENARIO)))
    print(f"  kubernetes  {api.url} (fake API, cluster {SCENARIO!r}, "
          f"{'Nagle on, as in the tests' if nagle else 'TCP_NODELAY, as a real API server'})")

    dumps = work / "thread-dumps"
    shutil.copytree(REPO / "fixtures" / SCENARIO / "thread-dumps", dumps)
    log = work / "frontend-api.log"
    log.write_bytes(log_lines(SCENARIO))
    print(f"  logs        {log} ({len(log.read_bytes().splitlines())} lines); thread dumps {dumps}")
    return Sources(log=log, kubeconfig=api.kubeconfig(work), prometheus_url=prom.url,
                   pg_dsn=scene.dsn("dg_monitor", app="diagnose-bench"), thread_dumps=dumps)


def print_sources(report: dict[str, Any], indent: str = "    ") -> None:
    for name, s in report.get("sources", {}).items():
        err = f"  {s['error']}" if s.get("error") else ""
        print(f"{indent}{name:<13} {s.get('status', '?'):<8} {int(s.get('duration_ms') or 0):6d} ms{err}")


def timed_runs(cmd: list[str], env: dict[str, str], runs: int, label: str) -> list[Timed]:
    out = []
    for i in range(runs):
        r = timed_run(cmd, env)
        out.append(r)
        if r.report is None:
            print(f"  {label} run {i + 1}: {r.wall_s:6.3f} s  FAILED {r.error}")
            continue
        srcs = r.report.get("sources", {})
        shown = [f"{n} {int(srcs[n].get('duration_ms') or 0)}" + (" ERROR" if srcs[n].get("status") == "error" else "")
                 for n in LIVE if n in srcs and srcs[n].get("status") != "skipped"]
        print(f"  {label} run {i + 1}: {r.wall_s:6.3f} s   " + "  ".join(shown) + " (ms)")
        for n in LIVE:
            if srcs.get(n, {}).get("status") == "error":    # a failed source is not a timing: say why
                print(f"      {n}: {srcs[n].get('error')}")
    # A run where a source failed did less work: its time is not the time of a diagnosis, so it is left
    # out of the figures, and counted.
    clean = [r for r in out if r.report is not None and not failed_sources(r.report)]
    if len(clean) < len(out):
        print(f"  {label}: {len(out) - len(clean)} of {len(out)} run(s) failed or had a source error; "
              "left out of the timings")
    return clean


def failed_sources(report: dict[str, Any]) -> list[str]:
    return [n for n, st in report.get("sources", {}).items() if st.get("status") == "error"]


def median_ms(ok: list[Timed], name: str) -> float:
    return statistics.median(source_ms(r.report).get(name, 0) for r in ok if r.report is not None)


def bench(runs: int, work: Path, stack: ExitStack, *, nagle: bool) -> None:
    print("starting servers:")
    s = start_sources(stack, work, nagle=nagle)
    env = clean_env(work)
    print(f"\ncommand: {diagnose_cmd()[0]} run --log LOG --namespace {cast.NAMESPACE} --format json --kubeconfig K "
          f"--prometheus-url {s.prometheus_url} --pg-dsn <dg_monitor@127.0.0.1:...> --thread-dumps DIR")
    ok = timed_runs(run_args(s, s.pg_dsn, None), env, runs, "all sources")
    if not ok:
        print("\nno full run without a failed source (see above): no timing summary")
        hang_run(s, env, stack)
        return
    walls = [r.wall_s for r in ok]
    median = statistics.median(walls)
    mid = min(ok, key=lambda r: abs(r.wall_s - median))      # the run nearest the median, for its breakdown
    assert mid.report is not None
    print(f"\nper source as the report gives it (run nearest the median, {mid.wall_s:.3f} s):")
    print_sources(mid.report)
    reported = {n: median_ms(ok, n) for n in LIVE}

    # The baseline: each source on its own (one run per source = querying them one after another),
    # plus the run with no live source (start-up, log scan, engine) paid once.
    print("\neach source alone (the sequential baseline), and no live source at all:")
    bare = timed_runs(run_args(s, s.pg_dsn, None, only=()), env, runs, "log only")
    alone: dict[str, float] = {}
    alone_wall: dict[str, float] = {}
    for name in LIVE:
        solo = timed_runs(run_args(s, s.pg_dsn, None, only=(name,)), env, runs, f"{name} alone")
        if solo:
            alone[name] = median_ms(solo, name)
            alone_wall[name] = statistics.median(r.wall_s for r in solo)
    bare_s = statistics.median(r.wall_s for r in bare) if bare else 0.0

    print(f"\n{'source':<13} {'reported in the full run':>25} {'alone':>9} {'alone, wall':>12}")
    for name in LIVE:
        print(f"{name:<13} {reported[name]:22.0f} ms {alone.get(name, float('nan')):6.0f} ms "
              f"{alone_wall.get(name, float('nan')):10.3f} s")
    reported_sum = sum(reported.values()) / 1000
    alone_sum = sum(alone.values()) / 1000
    print(f"\nmedian wall time         {median:6.3f} s over {len(ok)} run(s) "
          f"(min {min(walls):.3f}, max {max(walls):.3f})")
    print(f"target                   {TARGET_S:6.3f} s   median is {median / TARGET_S:.2f}x of the target")
    print(f"sum of reported sources  {reported_sum:6.3f} s   (sum of duration_ms in the full run's report)")
    print(f"sum of sources alone     {alone_sum:6.3f} s   (each source queried on its own)")
    print(f"log-only run             {bare_s:6.3f} s   (start-up + log scan + engine, no live source)")
    seq = bare_s + alone_sum
    print(f"sequential estimate      {seq:6.3f} s   (log-only run + sum of sources alone); "
          f"concurrency gain {seq / median:.2f}x")
    print(f"top cause                {top_cause(mid.report)}")
    hang_run(s, env, stack)


def hang_run(s: Sources, env: dict[str, str], stack: ExitStack) -> None:
    silent = SilentPort()
    stack.callback(silent.close)
    dsn = f"host=127.0.0.1 port={silent.port} user=dg_monitor dbname={pg.AUTH_DB} connect_timeout=30"
    print(f"\nPostgreSQL that never answers (127.0.0.1:{silent.port} accepts, never replies), all sources, "
          f"--timeout {HANG_TIMEOUT_S:g}:")
    r = timed_run(run_args(s, dsn, HANG_TIMEOUT_S), env)
    if r.report is None:
        print(f"  {r.wall_s:6.3f} s  FAILED {r.error}")
        return
    print_sources(r.report)
    over = r.wall_s - HANG_TIMEOUT_S
    print(f"  wall time {r.wall_s:.3f} s = timeout {HANG_TIMEOUT_S:g} s + {over:.3f} s "
          f"({'about the timeout' if over < 1.0 else 'LONGER than the timeout plus start-up'})")
    db = next((c for c in r.report.get("causes", []) if c.get("id") == "database"), None)
    print(f"  database verdict: {db.get('verdict') if db else '(absent)'}; top cause {top_cause(r.report)}")
    for e in (db or {}).get("evidence", []):
        print(f"    {e.get('source')}: {e.get('summary')}")


def pg_unavailable_errors() -> tuple[type[BaseException], ...]:
    from tests.servers.prometheus import ServerUnavailable

    return (ServerUnavailable, RuntimeError, OSError, subprocess.SubprocessError)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt   # unwinds the ExitStack, which stops every server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each command (default 5)")
    ap.add_argument("--fake-api-nagle", action="store_true",
                    help="leave Nagle on in the fake Kubernetes API, as the tests run it (+40 ms per API call)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    work = Path(tempfile.mkdtemp(prefix="diagnose-run-bench-"))
    try:
        with ExitStack() as stack:
            stack.callback(shutil.rmtree, work, True)
            bench(max(1, args.runs), work, stack, nagle=args.fake_api_nagle)
            print("\nstopping servers")
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        sys.exit(130)
    except (pg_unavailable_errors()) as exc:
        sys.exit(f"a server could not be started: {exc}")


if __name__ == "__main__":
    main()
