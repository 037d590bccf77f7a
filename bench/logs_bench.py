"""Benchmark of `diagnose logs` against jq and grep on one large JSON-lines log.

    python bench/logs_bench.py [--size 1G] [--runs 3] [--jq-limit 300] [--scenarios json,dense,mixed,gz]

Writes bench/out/app-<size>.jsonl if absent (mostly INFO lines, 2% seed-format timeout lines, one bad
line in 100,000), warms the page cache, then times on the same file:
  diagnose   `diagnose logs FILE --format json` (.venv/bin/diagnose, else `python -c` calling scan)
  grep       `grep -c timeout FILE`
  jq         `jq -cR 'fromjson? | select(.message|test("timeout"))' FILE | wc -l`
             (-R with fromjson? so the bad lines do not stop jq; plain `jq -c` aborts at the first one)
and checks that the three counts agree. Scenarios (--scenarios, all by default):
  json   the file above, 2% timeout lines (the targets: >= 10x faster than jq, <= 3x grep -c)
  dense  the same at 25% timeout lines (every fourth line is parsed in full)
  mixed  JSON, logfmt, Spring Boot text and Envoy access lines interleaved, 2% timeouts; grep counts
         `timeout|timed out`, the caller's own lines: the Envoy lines (` UT `) are its sidecar's view of
         the same calls, which diagnose folds into the caller's incident counting them once (docs/logs.md
         "Several vantage points"). jq sees only the JSON lines: its count is not compared
  gz     the json file gzipped: `zgrep -c` and `zcat | jq`; diagnose streams it in one process
 diagnose and grep take the best of --runs; jq runs once, on the
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


def _mixed_line(rng: random.Random, ts: str, timeout: bool, kind: int) -> str:
    """One line of the mixed log, in the format `kind` picks; only timeout lines say `timeout`,
    `timed out` or ` UT `."""
    clock = ts.replace("T", " ").rstrip("Z")
    if kind < 4:
        return ""                      # the JSON line of generate()
    if kind < 6:
        if timeout:
            return (f'time={ts} level=error msg="upstream timeout" service=frontend-api '
                    f'upstream=user-auth-service duration={10000 + rng.randint(0, 9000)}ms timeout_ms=10000\n')
        return (f'time={ts} level=info msg="GET /api/v1/cart 200" service=frontend-api '
                f'duration={rng.randint(2, 400)}ms\n')
    if kind < 8:
        if timeout:
            return (f"{clock} ERROR 1 --- [frontend-api] [nio-8080-exec-3] c.e.AuthClient : I/O error on POST "
                    f'request for "http://user-auth-service:8080/login": Read timed out\n')
        return f"{clock}  INFO 1 --- [frontend-api] [nio-8080-exec-3] c.e.CartController : served /api/v1/cart\n"
    if timeout:
        return (f'[{ts}] "POST /login HTTP/1.1" 504 UT 0 24 {10000 + rng.randint(0, 9000)} - "-" "okhttp" '
                f'"{rng.getrandbits(64):016x}" "user-auth-service:8080" "10.244.1.5:8080"\n')
    return (f'[{ts}] "GET /api/v1/cart HTTP/1.1" 200 - 0 154 {rng.randint(2, 400)} 11 "-" "okhttp" '
            f'"{rng.getrandbits(64):016x}" "cart:8080" "10.244.1.9:8080"\n')


def generate(path: Path, size: int, density: float = 0.02, mixed: bool = False) -> None:
    """Mostly INFO lines, `density` timeout lines (the seed's fields), 1 in 100,000 bad lines. Only the
    timeout lines contain the word "timeout", so grep, jq and diagnose must all count the same lines.
    `mixed`: 40% of lines JSON, the rest logfmt, Spring Boot text and Envoy access lines."""
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
                if mixed:
                    line = _mixed_line(rng, ts, r < density, i % 10)
                    if line:
                        block.append(line)
                        continue
                if r < density:
                    block.append('{"timestamp":"%s","level":"ERROR","message":"request failed: upstream response '
                                 'timeout","service":"frontend-api","upstream_service":"user-auth-service",'
                                 '"duration_ms":%d,"timeout_ms":10000,"trace_id":"%016x"}\n'
                                 % (ts, 10000 + int(rng.expovariate(1 / 3000)), rng.getrandbits(64)))
                elif r < density + 0.00001:
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


def jq_time(path: Path, size: int, limit: float, gz: bool = False) -> tuple[float, float, int, str]:
    query = "'fromjson? | select(.message|test(\"timeout\"))'"
    cmd = f"zcat {path} | {JQ} -cR {query} | wc -l" if gz else f"{JQ} -cR {query} {path} | wc -l"
    try:
        dt, cpu, out = timed(cmd, shell=True, timeout=limit)
        return dt, cpu, int(out.strip()), "whole file"
    except subprocess.TimeoutExpired:
        if gz:
            raise SystemExit(f"jq on {path} took longer than {limit:.0f} s: use a smaller --size") from None
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


SCENARIOS = ("json", "dense", "mixed", "gz")


def scenario_file(name: str, size_text: str, size: int) -> Path:
    """The log of a scenario, generated (or gzipped) when absent."""
    base = OUT / f"app-{size_text}.jsonl"
    path = {"json": base, "dense": OUT / f"app-{size_text}-d25.jsonl", "mixed": OUT / f"mixed-{size_text}.log",
            "gz": OUT / f"app-{size_text}.jsonl.gz"}[name]
    if path.exists():
        return path
    print(f"generating {path} ...", flush=True)
    if name == "gz":
        if not base.exists():
            generate(base, size)
        with open(path.with_suffix(".part"), "wb") as dst:
            subprocess.run(["gzip", "-c", "-6", str(base)], stdout=dst, check=True)
        path.with_suffix(".part").rename(path)
    else:
        generate(path, size, density=0.25 if name == "dense" else 0.02, mixed=name == "mixed")
    return path


def run(name: str, path: Path, runs: int, jq_limit: float) -> bool:
    """Time diagnose, grep -c (zgrep -c) and jq on one scenario's file; print the figures; True when the
    counts agree."""
    size = path.stat().st_size
    gz = name == "gz"
    raw_size = int(subprocess.run(f"zcat {path} | wc -c", shell=True, capture_output=True, check=True).stdout)\
        if gz else size
    mb = raw_size / 1e6          # MB of log text (uncompressed) for every rate
    subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)    # warm the page cache alike
    cmd = diagnose_cmd(path)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    d_time, d_cpu, d_out = best(cmd, runs)
    peak_kb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    doc = json.loads(d_out)
    d_count = sum(i["events"] for i in doc["incidents"])
    pattern = ["-E", "timeout|timed out"] if name == "mixed" else ["timeout"]
    g_name = "zgrep -c" if gz else "grep -c"
    g_time, g_cpu, g_out = best(["zgrep" if gz else "grep", "-c", *pattern, str(path)], runs)
    g_count = int(g_out.strip())
    j_time, j_cpu, j_count, j_how = jq_time(path, raw_size, jq_limit, gz=gz)
    if name == "mixed":
        j_how += "; JSON lines only, count not compared"
    print(f"== {name}: {path.name} ({mb:,.0f} MB of text{f', {size / 1e6:,.0f} MB gzipped' if gz else ''}, "
          f"{doc['lines']:,} lines, {doc['skipped']} skipped)")
    print(f"diagnose  {d_time:8.2f} s  {mb / d_time:8.0f} MB/s  cpu {d_cpu:6.2f} s  peak RSS "
          f"{peak_kb / 1024:.0f} MiB  events {d_count:,}")
    print(f"{g_name:9} {g_time:8.2f} s  {mb / g_time:8.0f} MB/s  cpu {g_cpu:6.2f} s  count {g_count:,}")
    print(f"jq        {j_time:8.2f} s  {mb / j_time:8.0f} MB/s  cpu {j_cpu:6.2f} s  count "
          f"{j_count if j_count >= 0 else 'n/a'}  ({j_how})")
    target = " (targets: >= 10, <= 3)" if name == "json" else ""
    print(f"ratios    wall: jq / diagnose = {j_time / d_time:.1f}x, diagnose / {g_name} = {d_time / g_time:.2f}x"
          f"{target}")
    print(f"          cpu:  jq / diagnose = {j_cpu / d_cpu:.1f}x, diagnose / {g_name} = {d_cpu / g_cpu:.2f}x")
    agree = d_count == g_count and (name == "mixed" or j_count < 0 or j_count == g_count)
    print("counts    " + ("agree" if agree else f"DISAGREE: diagnose {d_count}, grep {g_count}, jq {j_count}"))
    return agree


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="1G", help="log size, e.g. 1G, 200M (default 1G)")
    ap.add_argument("--runs", type=int, default=3, help="runs of diagnose and grep; the best counts")
    ap.add_argument("--jq-limit", type=float, default=300.0, help="seconds jq may take on the whole file")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated, of {', '.join(SCENARIOS)}")
    args = ap.parse_args()
    size = parse_size(args.size)
    OUT.mkdir(parents=True, exist_ok=True)
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    print(f"cpus {os.cpu_count()}   load average {os.getloadavg()[0]:.2f} (other work skews wall times; "
          f"cpu times are the command's own; diagnose uses up to {os.cpu_count()} cores on a large plain file, "
          f"one on a .gz; grep and jq use one)")
    ok = True
    for name in names:
        ok = run(name, scenario_file(name, args.size.upper(), size), args.runs, args.jq_limit) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
