"""Parse and analyse a 50 MB JVM thread dump; print seconds and MB/s.

The dump is built from real thread blocks: the JDK 8, 11 and 21 and HP-UX dumps of the tda corpus
(tests/data/threaddumps/tda/), each thread repeated under a new name until the dump reaches the size.

    .venv/bin/python bench/threaddump_bench.py [--mb 50] [--runs 3]

Prints the best of `--runs` runs (other work on the machine only ever adds time): the parse (decode, split
into threads, stacks) and the analysis (cycles, hot spots, pools, stuck threads) apart, then the whole
`load()` as the CLI calls it, and its MB/s.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from diagnose.parsers.thread_dumps import load, parse_file  # noqa: E402
from diagnose.parsers.threaddump.analysis import analyze  # noqa: E402
from diagnose.parsers.threaddump.detect import decode  # noqa: E402

SOURCES = ("java8dump.log", "java11dump.log", "java21dump.log", "jstack_dump.log", "hpdump.log")
_BLOCK = re.compile(r'^"[^\n]*"[^\n]*\n(?:(?!")[^\n]*\n)*', re.M)


def build(mb: float) -> bytes:
    blocks: list[str] = []
    for name in SOURCES:
        text, _ = decode((ROOT / "tests/data/threaddumps/tda" / name).read_bytes())
        text = text.replace("\r\n", "\n")
        text = text.split("Found one Java-level deadlock")[0]
        blocks.extend(m.group(0) for m in _BLOCK.finditer(text) if "\tat " in m.group(0) or "    at " in m.group(0))
    out = ["2024-08-20 14:25:30\nFull thread dump OpenJDK 64-Bit Server VM (21.0.2+13-LTS mixed mode, sharing):\n\n"]
    size, i, target = len(out[0]), 0, int(mb * 1024 * 1024)
    while size < target:
        b = blocks[i % len(blocks)]
        name_end = b.index('"', 1)
        b = f'"{b[1:name_end]}-{i}' + b[name_end:] + "\n"
        out.append(b)
        size += len(b)
        i += 1
    out.append("JNI global refs: 27, weak refs: 0\n")
    return "".join(out).encode()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=50.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    data = build(args.mb)
    mb = len(data) / 1024 / 1024
    parse_s, analysis_s, total_s = [], [], []
    for _ in range(max(args.runs, 1)):
        t0 = time.perf_counter()
        dumps, notes = parse_file("bench/1.txt", data)
        t1 = time.perf_counter()
        analyze(dumps, notes)
        t2 = time.perf_counter()
        ev = load({"bench/1.txt": data})
        t3 = time.perf_counter()
        parse_s.append(t1 - t0)
        analysis_s.append(t2 - t1)
        total_s.append(t3 - t2)
    threads = len(ev.dumps[0].threads)
    stacks = len({t.frames for t in ev.dumps[0].threads})
    total = min(total_s)
    print(f"{mb:.1f} MB, {threads} threads, {stacks} distinct stacks; best of {len(total_s)} runs: "
          f"parse {min(parse_s):.3f} s, analysis {min(analysis_s):.3f} s, "
          f"load() total {total:.3f} s, {mb / total:.0f} MB/s")


if __name__ == "__main__":
    main()
