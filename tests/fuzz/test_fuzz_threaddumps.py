"""Fuzzing the thread-dump readers: every format parser on its own, and thread_dumps.load over files.

Seeds: the dumps under tests/data/threaddumps/ (JVM text of several JDKs, jcmd JSON, Go, py-spy) and one
recorded dump per scenario (fixtures/*/thread-dumps/). parse_file turns a parser's ValueError/KeyError
into a note (one bad file must not cost the diagnosis), which would hide a parser bug: so the parsers
are also called directly, where only EvidenceError may leave them.
"""

from __future__ import annotations

import json
from pathlib import Path

from fuzz.mutate import FIXTURES, REPO, json_or_bytes, mutated_bytes, parses_or_refuses
from hypothesis import example, given
from hypothesis import strategies as st

from diagnose.model.threads import ThreadDump, ThreadEvidence
from diagnose.parsers import thread_dumps
from diagnose.parsers.threaddump.detect import decode, detect

DATA = REPO / "tests/data/threaddumps"
SEEDS: dict[str, bytes] = {str(p.relative_to(DATA)): p.read_bytes() for p in sorted(DATA.rglob("*"))
                           if p.is_file() and p.suffix != ".md"}
for scenario_dir in sorted(FIXTURES.iterdir()):
    first = next(iter(sorted(scenario_dir.glob("thread-dumps/*/1.txt"))), None)
    if first is not None:
        SEEDS[f"{scenario_dir.name}/{first.parent.name}/1.txt"] = first.read_bytes()[:200_000]
NAMES = sorted(SEEDS)


@st.composite
def mutated_dump(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(NAMES))
    seed = SEEDS[name]
    return name, draw(json_or_bytes(seed) if name.endswith(".json") else mutated_bytes(seed))


# bench/fuzz.py found it: a jcmd JSON thread whose `stack` is true raised TypeError out of jvm_json.parse.
STACK_TRUE = json.dumps({"threadDump": {"processId": "1", "time": "2024-01-01T00:00:00Z", "runtimeVersion": "21",
                                        "threadContainers": [{"container": "<root>", "parent": None, "owner": None,
                                                              "threads": [{"tid": "1", "name": "main",
                                                                           "stack": True}]}]}}).encode()


@given(dump=mutated_dump())
@example(dump=("jcmd.json", STACK_TRUE))
def test_each_format_parser_reads_a_mutated_dump_or_raises_an_evidence_error(dump: tuple[str, bytes]) -> None:
    name, data = dump
    text, _ = decode(data)
    found = detect(text)
    if found is None:
        return
    fmt, parse = found
    dumps = parses_or_refuses(f"threaddump.{fmt}", lambda: parse(text, name, "pod-a"))
    assert dumps is None or all(isinstance(d, ThreadDump) for d in dumps)  # type: ignore[attr-defined]


@given(dumps=st.lists(mutated_dump(), min_size=1, max_size=3))
def test_mutated_dump_files_load_or_raise_an_evidence_error(dumps: list[tuple[str, bytes]]) -> None:
    files = {f"pod-{i}/{Path(name).name}": data for i, (name, data) in enumerate(dumps)}
    ev = parses_or_refuses("threaddump.load", lambda: thread_dumps.load(files))
    assert ev is None or isinstance(ev, ThreadEvidence)
