"""The fuzz tests (tests/fuzz/) with many more examples than the suite runs; print what was tried and found.

    .venv/bin/python bench/fuzz.py [--examples 600] [-k EXPR] [--timeout 600]

Runs pytest on tests/fuzz with the hypothesis profile `long` (a fresh random seed each run, `--examples`
per test where the suite runs 60; the slow CLI tests scale alike) and prints the examples tried per fuzz
target, then every test's outcome. A failure is a crash fuzzing found: hypothesis prints its minimal
example above the table (the run's full pytest output), to be kept as an @example once fixed. Exit
status: pytest's (0 when nothing failed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=600, help="examples per test (the suite runs 60)")
    ap.add_argument("-k", dest="keyword", help="only the tests matching this pytest -k expression")
    ap.add_argument("--timeout", type=float, default=600, help="stop the whole run after this many seconds")
    ap.add_argument("--quiet", action="store_true", help="print only the summary, not pytest's output")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="diagnose-fuzz-bench-") as tmp:
        stats, junit = Path(tmp) / "tried.json", Path(tmp) / "junit.xml"
        env = {**os.environ, "HYPOTHESIS_PROFILE": "long", "DIAGNOSE_FUZZ_EXAMPLES": str(args.examples),
               "DIAGNOSE_FUZZ_STATS": str(stats)}
        cmd = [sys.executable, "-m", "pytest", "tests/fuzz", "-q", "-p", "no:cacheprovider", "-rfEx",
               f"--junitxml={junit}"] + (["-k", args.keyword] if args.keyword else [])
        started = time.monotonic()
        try:
            p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"fuzz run stopped after {args.timeout:g}s: lower --examples", file=sys.stderr)
            return 1
        seconds = time.monotonic() - started
        if not args.quiet:
            print(p.stdout[-20000:], p.stderr[-5000:], sep="")
        tried = json.loads(stats.read_text()) if stats.exists() else {}
        cases = ET.parse(junit).getroot().iter("testcase") if junit.exists() else iter(())
        outcomes = [_outcome(c) for c in cases]

    print(f"\nfuzz run: {args.examples} examples a test, {seconds:.0f}s")
    print(f"\n{'target':<34} {'examples':>9}")
    for target, n in sorted(tried.items()):
        print(f"{target:<34} {n:>9}")
    print(f"{'total':<34} {sum(tried.values()):>9}")
    print(f"\n{'test':<78} outcome")
    for name, outcome, why in outcomes:
        print(f"{name:<78} {outcome}{': ' + why if why else ''}")
    failed = sum(1 for _, o, _ in outcomes if o == "FAILED")
    print(f"\n{failed} failing test(s): {'crashes found, see the falsifying examples above' if failed else 'none'}")
    return p.returncode


def _outcome(case: ET.Element) -> tuple[str, str, str]:
    name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
    for tag, outcome in (("failure", "FAILED"), ("error", "ERROR"), ("skipped", "skipped")):
        el = case.find(tag)
        if el is not None:
            msg = (el.get("message") or "").splitlines()
            if tag == "skipped" and "xfail" in (el.get("type") or "") + (el.get("message") or ""):
                outcome = "xfail (known, another helper's area)"
            return name, outcome, (msg[0][:100] if msg and outcome != "skipped" and tag != "skipped" else "")
    return name, "passed", ""


if __name__ == "__main__":
    sys.exit(main())
