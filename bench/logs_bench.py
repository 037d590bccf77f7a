"""Benchmark of `diagnose logs` against jq and grep on one large JSON-lines log.

    python bench/logs_bench.py [--size 1G] [--runs 3] [--jq-limit 300]

Writes bench/out/app-<size>.jsonl if absent (mostly INFO lines, 2% seed-format timeout lines, one bad
line in 100,000), warms the page cache, then times on the same file:
  diagnose   `diagnose logs FILE --format json` (.venv/bin/diagnose, else `python -c` calling scan)
  grep       `grep -c timeout FILE`
  jq         `jq -cR 'fromjson? | select(.message|test("timeout"))' FILE | wc -l`
             (-R with fromjson? so the bad lines do not stop jq; plain `jq -c` aborts at the first one)
and checks that the three counts agree. diagnose and grep take the best of --runs; jq runs once, on the
whole file unless that takes longer than --jq-limit seconds, in which case it is timed on a prefix and
the figure is extrapolated (and the output says so). Peak RSS is the largest of diagnose's processes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
JQ = shutil.which("jq") or "/usr/bin/jq"

INFO_PATHS = ["/api/v1/profile", "/api/v1/orders", "/api/v1/cart", "/healthz", "/api/v1/search"]


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    t = text.strip().upper().rstrip("B")
    return int(float(t[:-1]) * units[t[-1]]) if t[-1] in units else int(t)


def generate(path: Path, size: int) -> None:
    """Mostly INFO lines, 2% timeout lines (the seed's fields), 1 in 100,000 bad lines. Only the timeout
    lines contain the word "timeout", so grep, jq and diagnose must all count the same lines."""
    rng = random.Random(42)
    tmp = path.with_suffix(".part")
    written = 0
    second = 1698400800          # 2023-10-27T10:00:00Z
    with open(tmp, "wb", buffering=1 << 22) as f:
        i = 0
        while written < size:
            block = []
            for _ in range(10000):
                i += 1
                if i % 40 == 0:
                    second += 1
                ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)) + ".%03dZ" % (i % 1000)
                r = rng.random()
                if r < 0.02:
                    block.append('{"timestamp":"%s","level":"ERROR","message":"request failed: upstream response '
                                 'timeout","service":"frontend-api","upstream_service":"user-auth-service",'
                                 '"duration_ms":%d,"timeout_ms":10000,"trace_id":"%016x"}\n'
                                 % (ts, 10000 + int(rng.expovariate(1 / 3000)), rng.getrandbits(64)))
                elif r < 0.02001:
                    block.append('{"timestamp":"%s","level":"INFO","message":"truncated by log rotat\n' % ts)
                else:
                    block.append('{"timestamp":"%s","level":"INFO","message":"GET %s 200","service":"frontend-api",'
                                 '"duration_ms":%d,"pod":"frontend-api-5c8d7f9b4-abcde","trace_id":"%016x"}\n'
                                 % (ts, rng.choice(INFO_PATHS), rng.randint(2, 400), rng.getrandbits(64)))
            data = "".join(block).encode()
            f.write(data)
            written += len(data)
    tmp.rename(path)


def diagnose_cmd(path: Path) -> list[str]:
    script = ROOT / ".venv" / "bin" / "diagnose"
    if script.exists():
        return [str(script), "logs", str(path), "--format", "json"]
    py = ROOT / ".venv" / "bin" / "python"
    code = ("import json, sys; from diagnose.logs.scan import scan; from diagnose.render.logs import to_json; "
            "print(json.dumps(to_json(scan(sys.argv[1:]))))")
    return [str(py if py.exists() else sys.executable), "-c", code, str(path)]


def timed(cmd: list[str] | str, shell: bool = False, timeout: float | None = None) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the command and its children, stdout). On a timeout the whole
    process group (a shell pipeline included) is killed and TimeoutExpired raised."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, shell=shell, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):       # grep -c exits 1 when it counts 0
        raise SystemExit(f"failed ({proc.returncode}): {cmd}\n{err.decode(errors='replace')[-2000:]}")
    return dt, cpu, out.decode()


def best(cmd: list[str], runs: int) -> tuple[float, float, str]:
    """The best wall time and the best CPU time of `runs` runs (other work on the machine only adds)."""
    results = [timed(cmd) for _ in range(runs)]
    return min(r[0] for r in results), min(r[1] for r in results), results[0][2]


def jq_time(path: Path, size: int, limit: float) -> tuple[float, float, int, str]:
    query = "'fromjson? | select(.message|test(\"timeout\"))'"
    try:
        dt, cpu, out = timed(f"{JQ} -cR {query} {path} | wc -l", shell=True, timeout=limit)
        return dt, cpu, int(out.strip()), "whole file"
    except subprocess.TimeoutExpired:
        pass
    prefix = OUT / "jq-prefix.jsonl"
    cut = 64 << 20
    with open(path, "rb") as src, open(prefix, "wb") as dst:
        data = src.read(cut)
        dst.write(data[:data.rfind(b"\n") + 1])
        cut = dst.tell()
    dt, cpu, out = timed(f"{JQ} -cR {query} {prefix} | wc -l", shell=True)
    prefix.unlink()
    note = f"EXTRAPOLATED from a {cut >> 20} MiB prefix (whole file > {limit:.0f} s)"
    return dt * size / cut, cpu * size / cut, -1, note


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="1G", help="log size, e.g. 1G, 200M (default 1G)")
    ap.add_argument("--runs", type=int, default=3, help="runs of diagnose and grep; the best counts")
    ap.add_argument("--jq-limit", type=float, default=300.0, help="seconds jq may take on the whole file")
    args = ap.parse_args()
    size = parse_size(args.size)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"app-{args.size.upper()}.jsonl"
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        generate(path, size)
    size = path.stat().st_size
    mb = size / 1e6
    # warm the page cache for every contender alike
    subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)

    cmd = diagnose_cmd(path)
    d_time, d_cpu, d_out = best(cmd, args.runs)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss   # before grep/jq run
    doc = json.loads(d_out)
    d_count = sum(i["events"] for i in doc["incidents"])
    g_time, g_cpu, g_out = best(["grep", "-c", "timeout", str(path)], args.runs)
    g_count = int(g_out.strip())
    j_time, j_cpu, j_count, j_how = jq_time(path, size, args.jq_limit)

    print(f"file      {path} ({mb:,.0f} MB, {doc['lines']:,} lines, {doc['skipped']} skipped)")
    print(f"cpus      {os.cpu_count()}   load average {os.getloadavg()[0]:.2f} (other work skews timings)")
    print(f"diagnose  {d_time:8.2f} s  {mb / d_time:8.0f} MB/s  cpu {d_cpu:6.2f} s  peak RSS "
          f"{peak_kb / 1024:.0f} MiB  events {d_count:,}   ({' '.join(cmd[:2])} ...)")
    print(f"grep -c   {g_time:8.2f} s  {mb / g_time:8.0f} MB/s  cpu {g_cpu:6.2f} s  count {g_count:,}")
    print(f"jq        {j_time:8.2f} s  {mb / j_time:8.0f} MB/s  cpu {j_cpu:6.2f} s  count "
          f"{j_count if j_count >= 0 else 'n/a'}  ({j_how})")
    print(f"ratios    wall: jq / diagnose = {j_time / d_time:.1f}x (target >= 10), "
          f"diagnose / grep = {d_time / g_time:.2f}x (target <= 3)")
    print(f"          cpu:  jq / diagnose = {j_cpu / d_cpu:.1f}x, diagnose / grep = {d_cpu / g_cpu:.2f}x "
          f"(diagnose uses {os.cpu_count()} cores for a large file; grep and jq use one)")
    agree = d_count == g_count and (j_count < 0 or j_count == g_count)
    print("counts    " + ("agree" if agree else f"DISAGREE: diagnose {d_count}, grep {g_count}, jq {j_count}"))
    sys.exit(0 if agree else 1)


if __name__ == "__main__":
    main()
