"""Truncated, interleaved, malformed or foreign files give partial results and notes, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from diagnose.errors import EvidenceError, SourceError
from diagnose.parsers.thread_dumps import load, parse_file, pod_of
from diagnose.sources import thread_dumps as source
from diagnose.sources.base import SourceOptions

DATA = Path(__file__).parents[1] / "data" / "threaddumps"
J8 = (DATA / "tda" / "java8dump.log").read_bytes()


def test_a_dump_cut_in_the_middle_keeps_the_threads_before_the_cut_and_says_so():
    cut = J8[: len(J8) // 2].rstrip(b"\n")
    ds, notes = parse_file("cut.log", cut)
    assert ds and 0 < len(ds[0].threads) < 21
    assert any("cut short" in n for n in ds[0].notes)


@pytest.mark.parametrize("n", [1, 7, 100, 1000, 3000, 5000])
def test_any_prefix_of_a_dump_parses_without_error(n):
    parse_file("p.log", J8[:n])


def test_two_dumps_interleaved_with_log_lines_are_both_read():
    text = b"INFO starting\n" + J8 + b"\n2016-07-12 14:02:40 WARN something\n" + J8.replace(b"14:02:38", b"14:02:48")
    ev = load({"app.log": text})
    assert len(ev.dumps) == 2 and [len(d.threads) for d in ev.dumps] == [21, 21]


def test_garbage_and_binary_files_are_skipped_with_a_note():
    ev = load({"a.txt": J8, "core": bytes(range(256)) * 10, "notes.md": b"# hello\n", "empty": b""})
    assert len(ev.dumps) == 1
    assert any("core: not a thread dump" in n for n in ev.notes)
    assert any("empty: empty file skipped" in n for n in ev.notes)


def test_no_dump_at_all_is_a_one_line_evidence_error():
    with pytest.raises(EvidenceError) as e:
        load({"x.txt": b"hello"})
    assert "\n" not in str(e.value)


def test_malformed_json_dump_costs_that_file_only():
    ev = load({"bad.json": b'{"threadDump": {"threadContainers": [1, {"threads": [2, {"name": "t"}]}]}}', "ok.log": J8})
    assert any(d.format == "jvm-json" for d in ev.dumps)
    assert any("malformed entries skipped" in n for n in ev.notes)
    _, notes = parse_file("worse.json", b'{"threadDump": [')
    assert notes and "worse.json" in notes[0]


def test_crlf_and_utf8_bom_dumps_read_the_same():
    crlf = b"\xef\xbb\xbf" + J8.replace(b"\n", b"\r\n")
    a, b = load({"a": J8}), load({"b": crlf})
    assert [(t.name, t.state, len(t.frames)) for t in a.dumps[0].threads] == \
           [(t.name, t.state, len(t.frames)) for t in b.dumps[0].threads]


@pytest.mark.parametrize("path,pod", [
    ("user-auth-service-7d9f8b6c5-4xk2p/1.txt", "user-auth-service-7d9f8b6c5-4xk2p"),
    ("pod-a.1.txt", "pod-a"), ("pod-a-2.txt", "pod-a"), ("exec/pod-b/app-3.txt", "pod-b"),
    ("pod-c.2023-10-27T10-30-00.txt", "pod-c"), ("dumps/pod-d/jstack.txt", "pod-d"),
])
def test_files_are_grouped_by_pod(path, pod):
    assert pod_of(path) == pod


def test_source_reads_the_directory_recursively_and_notes_files_over_the_cap(tmp_path):
    (tmp_path / "pod-a").mkdir()
    (tmp_path / "pod-a" / "1.txt").write_bytes(J8)
    (tmp_path / "huge.txt").write_bytes(b"x" * 8000)
    opts = SourceOptions(thread_dumps=str(tmp_path))
    files = source.collect(opts, None, deadline=float("inf"), max_file=7500)  # type: ignore[arg-type]
    assert set(files) == {"pod-a/1.txt", "_skipped.txt"}
    ev = load(files)
    assert any(n.startswith("not read: huge.txt: 8000 bytes") for n in ev.notes)


def test_source_without_the_option_is_skipped_and_a_missing_dir_is_one_line():
    assert source.skip_reason(SourceOptions()) == "no --thread-dumps given"
    assert source.skip_reason(SourceOptions(thread_dumps="/x")) is None
    with pytest.raises(SourceError, match="not a directory"):
        source.collect(SourceOptions(thread_dumps="/nonexistent/dumps"), None, deadline=float("inf"))  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [
    '123\n2026-01-01T00:00:00Z\nv\n\n#1 "x" virtual BOGUS\n    at (\n    - waiting on <>\n    - locked <@>\n',
    '1\n2026-13-45T99:99:99Z\n\n#2 ""\n',
    'Thread (0x1):\n  !\n  a!b(\n  [Native Frames]\nThread (0xZZ):\n',
    '"ForkJoinPool-1-worker-1" #23 daemon prio=5\n   Mounted virtual thread #\n   Mounted virtual thread #5\n'
    '\tat x.y(Z)\n\t- waiting on the Class initialization monitor for \n',
    '"c" #1 prio=5\n   Mounted virtual thread #9\n   Locked ownable synchronizers:\n\t- None\n',
    '[{"thread_id": 1, "frames": [{"name": "a", "line": "x", "short_filename": 5}], "thread_name": 7, "active": 1}]',
    '{"threadDump": {"threadContainers": [{"container": "<root>", "threads": [{"name": "v", "virtual": true, '
    '"carrier": {"x": 1}, "stack": ["jdk.internal.vm.Continuation.run"]}]}]}}',
], ids=["plain", "plain-bad-time", "dotnet", "mounted", "mounted-empty", "pyspy-json", "json-carrier"])
def test_malformed_jdk21_pyspy_json_and_dotnet_forms_load_without_error(text):
    dumps, notes = parse_file("p/1.txt", text.encode())
    assert dumps and notes == []
    load({"p/1.txt": text.encode()})          # the analysis, pinning included, takes them as they are
