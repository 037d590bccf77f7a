"""The chunked reader holds a bounded buffer, and chunking never changes the answer."""

from __future__ import annotations

import io
import json
from pathlib import Path

from diagnose.logs.scan import scan
from diagnose.logs.stream import Chunk, LongLine, read_chunks
from diagnose.render.logs import to_json


class Recording(io.BufferedReader):
    """A real file that remembers the largest read asked of it."""

    largest = 0

    def read(self, size=-1):  # type: ignore[override]
        self.largest = max(self.largest, size if size is not None and size >= 0 else 1 << 62)
        return super().read(size)


def test_a_ten_megabyte_line_never_holds_more_than_the_chunk(tmp_path):
    p = tmp_path / "long.log"
    p.write_bytes(b"first\n" + b"y" * (10 << 20) + b"\nlast line\nno newline at end")
    with Recording(io.FileIO(str(p), "rb")) as f:
        pieces = list(read_chunks(f, 4096))
        assert f.largest <= 4096
    assert all(len(c.text) <= 4096 for c in pieces if isinstance(c, Chunk))
    assert [x.line_no for x in pieces if isinstance(x, LongLine)] == [2]
    text = b"".join(c.text for c in pieces if isinstance(c, Chunk))
    assert text == b"first\nlast line\nno newline at end"
    assert sum(c.lines for c in pieces if isinstance(c, Chunk)) == 3


def test_line_numbers_continue_across_chunks(tmp_path):
    p = tmp_path / "n.log"
    p.write_bytes(b"".join(b"line %d\n" % i for i in range(1, 1001)))
    with open(p, "rb") as f:
        chunks = [c for c in read_chunks(f, 100) if isinstance(c, Chunk)]
    for c in chunks:
        assert c.text.split(b"\n")[0] == b"line %d" % c.first_line
    assert chunks[-1].first_line + chunks[-1].lines - 1 == 1000


def _mixed_log(tmp_path: Path) -> str:
    lines = []
    for i in range(3000):
        if i % 37 == 0:
            lines.append(json.dumps({"timestamp": f"2023-10-27T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
                                     "message": "upstream response timeout", "service": "frontend-api",
                                     "upstream_service": "user-auth-service", "duration_ms": 10000 + i,
                                     "timeout_ms": 10000}))
        elif i % 500 == 7:
            lines.append("garbage %d" % i)
        elif i % 700 == 3:
            lines.append("")
        else:
            lines.append(json.dumps({"timestamp": "2023-10-27T10:00:00Z", "level": "INFO", "message": "ok %d" % i}))
    p = tmp_path / "mixed.jsonl"
    p.write_text("\n".join(lines) + "\n")
    return str(p)


def test_small_chunks_give_the_same_scan_as_one_chunk(tmp_path):
    path = _mixed_log(tmp_path)
    whole = scan([path], chunk_size=1 << 24, keep_lines=3)
    for size in (257, 4096, 65536):
        part = scan([path], chunk_size=size, keep_lines=3)
        assert to_json(part) == to_json(whole)
        assert part.skip_samples == whole.skip_samples and part.kept == whole.kept
    assert (whole.lines, whole.skipped) == (3000, 6)


def test_parallel_workers_give_the_same_scan_as_one(tmp_path, monkeypatch):
    import diagnose.logs.scan as scan_mod

    path = _mixed_log(tmp_path)
    one = scan([path], workers=1, keep_lines=3)
    monkeypatch.setattr(scan_mod, "PARALLEL_MIN", 0)
    many = scan([path], workers=3, chunk_size=1000, keep_lines=3)
    assert to_json(many) == to_json(one)
    assert many.skip_samples == one.skip_samples and many.kept == one.kept


def test_stdin_is_read_as_dash():
    data = (json.dumps({"service": "a", "upstream": "b", "msg": "timed out"}) + "\n") * 4
    r = scan(["-"], stdin=io.BytesIO(data.encode()))
    assert (r.lines, r.incidents[0].events) == (4, 4)


def test_without_worker_processes_the_scan_falls_back_to_one(tmp_path, monkeypatch):
    import concurrent.futures

    import diagnose.logs.scan as scan_mod

    class NoProcesses(concurrent.futures.ProcessPoolExecutor):
        def map(self, *a, **k):  # type: ignore[override]
            raise OSError(11, "Resource temporarily unavailable")

    path = _mixed_log(tmp_path)
    one = scan([path], workers=1)
    monkeypatch.setattr(scan_mod, "PARALLEL_MIN", 0)
    monkeypatch.setattr("diagnose.logs.parallel.ProcessPoolExecutor", NoProcesses)
    assert to_json(scan([path], workers=2)) == to_json(one)
