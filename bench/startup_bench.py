"""`diagnose --help` against a bare Python start, in one run: `python bench/startup_bench.py [--runs N]`.

Target: within 6x of `python -c pass`. Heavy clients are imported only when a source is used, so the
CLI's start-up is Python + click + our thin cli module.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def median_seconds(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    exe = Path(sys.executable).with_name("diagnose")
    diagnose = [str(exe)] if exe.exists() else [shutil.which("diagnose") or "diagnose"]
    bare = median_seconds([sys.executable, "-c", "pass"], args.runs)
    helped = median_seconds([*diagnose, "--help"], args.runs)
    print(f"python -c pass     {bare * 1000:7.1f} ms (median of {args.runs})")
    print(f"diagnose --help    {helped * 1000:7.1f} ms")
    print(f"ratio              {helped / bare:7.2f}x   (target: <= 6x)")


if __name__ == "__main__":
    main()
