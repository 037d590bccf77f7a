"""A file of no dominant format (JSON, logfmt, Spring Boot text and Envoy lines in equal parts) reads every
format's events; lines that cannot be events are read by their structure, prose lines are skipped."""

from __future__ import annotations

import json

from tests.logs.log_helpers import scan_lines


def test_file_without_a_dominant_format_finds_every_formats_events_and_skips_prose(tmp_path):
    lines = []
    for n in range(5):
        ts = f"2024-03-14T21:47:0{n}.000Z"
        lines += [
            json.dumps({"ts": ts, "msg": "upstream request timeout", "service": "a", "upstream": "b"}),
            json.dumps({"ts": ts, "msg": "served", "service": "a"}),
            f'time={ts} level=error msg="upstream timeout" app=c upstream=d',
            f'time={ts} level=info msg="served" app=c',
            f"2024-03-14 21:47:0{n}.000 ERROR 1 --- [main] c.e.X : I/O error on GET request for "
            f'"http://f:8080/": Read timed out',
            f"2024-03-14 21:47:0{n}.000  INFO 1 --- [main] c.e.X : served",
            f'[{ts}] "GET / HTTP/1.1" 504 UT 0 24 10001 - "-" "curl" "id" "h:8080" "10.0.0.1:8080"',
            f'[{ts}] "GET / HTTP/1.1" 200 - 0 24 3 2 "-" "curl" "id" "h:8080" "10.0.0.1:8080"',
            "plain prose that no format takes",
        ]
    r = scan_lines(tmp_path / "mix.log", lines)
    assert r.formats == {"unknown": 45}
    assert {(i.service, i.upstream): i.events for i in r.incidents} == {
        ("a", "b"): 5, ("c", "d"): 5, ("unknown", "f"): 5, ("envoy", "h"): 5}
    assert r.skipped == 5
