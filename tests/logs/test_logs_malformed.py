"""Hostile input: counted skips or one-line InputErrors, never a traceback."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from diagnose.errors import InputError
from diagnose.logs.scan import scan

SEED = json.dumps({"timestamp": "2023-10-27T10:30:00Z", "level": "ERROR",
                   "message": "request failed: upstream response timeout", "service": "frontend-api",
                   "upstream_service": "user-auth-service", "duration_ms": 15000, "timeout_ms": 10000})
INFO = json.dumps({"timestamp": "2023-10-27T10:30:01Z", "level": "INFO", "message": "GET / 200",
                   "service": "frontend-api", "duration_ms": 12})


def _file(tmp_path: Path, data: bytes, name: str = "x.log") -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def test_contract_example_fifty_timeouts_fifty_info_one_bad_line(tmp_path):
    body = "\n".join([SEED] * 50 + [INFO] * 50 + ["this line is not JSON {"]) + "\n"
    r = scan([_file(tmp_path, body.encode())])
    assert (r.lines, r.skipped, len(r.incidents), r.incidents[0].events) == (101, 1, 1, 50)
    assert r.skip_samples[0][1:] == (101, "not JSON (Expecting value)")


def test_random_bytes_raise_nothing_usable(tmp_path):
    path = _file(tmp_path, random.Random(3).randbytes(50_000), "garbage.bin")
    with pytest.raises(InputError) as e:
        scan([path])
    msg = str(e.value)
    assert msg.startswith(path + ":") and "nothing usable" in msg and "\n" not in msg


def test_every_line_bad_names_the_file_and_first_bad_line(tmp_path):
    path = _file(tmp_path, b"\n{\"a\": \nnot json either\n")
    with pytest.raises(InputError) as e:
        scan([path])
    assert str(e.value).startswith(f"{path}:2: nothing usable")


def test_empty_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="empty"):
        scan([_file(tmp_path, b"")])


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such log file"):
        scan([str(tmp_path / "absent.log")])


@pytest.mark.parametrize("make, reason", [
    (lambda tmp: str(tmp), "is a directory, not a log file"),
    # The kernel refuses a read of this process's memory at offset 0 (unmapped) with EIO, root or not:
    # a file that opens and then fails to read.
    (lambda tmp: "/proc/self/mem", "cannot read (Input/output error)"),
])
def test_a_log_that_cannot_be_read_is_a_one_line_input_error_naming_it(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(InputError) as e:
        scan([_file(tmp_path, (SEED + "\n").encode(), "good.jsonl"), path])
    assert str(e.value) == f"{path}: {reason}"


def test_one_good_file_carries_a_garbage_file(tmp_path):
    good = _file(tmp_path, (SEED + "\n").encode(), "good.jsonl")
    bad = _file(tmp_path, b"\x00\x01\x02\n\xff\xfe\n", "bad.bin")
    r = scan([good, bad])
    assert (r.lines, r.skipped, r.incidents[0].events) == (3, 2, 1)
    assert r.skip_samples[0][0] == bad


def test_binary_and_invalid_utf8_lines_inside_json_are_skipped(tmp_path):
    data = ((SEED + "\n").encode() + b"\x00\x01\x02 timeout \x03\n" + b'{"msg": "\xff timeout"}\n'
            + (INFO + "\n").encode())
    r = scan([_file(tmp_path, data)])
    assert (r.lines, r.skipped, r.incidents[0].events) == (4, 2, 1)
    assert {s[2] for s in r.skip_samples} == {"not JSON (Expecting value)", "not UTF-8"}


def test_crlf_and_utf8_bom_are_read_like_lf(tmp_path):
    body = ("\ufeff" + "\r\n".join([SEED, INFO, SEED]) + "\r\n").encode()
    r = scan([_file(tmp_path, body)])
    assert (r.lines, r.skipped, r.incidents[0].events) == (3, 0, 2)
    assert r.formats == {"json": 3}


def test_missing_fields_are_not_errors(tmp_path):
    lines = ['{"message": "timeout"}', '{"upstream": "b", "message": "timeout"}', "{}", SEED]
    r = scan([_file(tmp_path, ("\n".join(lines) + "\n").encode())])
    assert r.skipped == 0
    assert {(i.service, i.upstream) for i in r.incidents} == {("unknown", "b"), ("frontend-api", "user-auth-service")}


def test_fields_of_the_wrong_type_are_ignored_not_fatal(tmp_path):
    rec = {"service": ["a"], "upstream": 5, "upstream_service": "b", "message": "timeout", "duration_ms": "slow",
           "timestamp": {"x": 1}, "timeout_ms": None}
    inc = scan([_file(tmp_path, (json.dumps(rec) + "\n").encode())]).incidents[0]
    assert (inc.service, inc.upstream, inc.duration_ms.max, inc.first_seen) == ("unknown", "b", None, None)


def test_unknown_text_format_lines_are_skipped_but_known_ones_in_it_count(tmp_path):
    data = b"hello world\njust prose here\n" + (SEED + "\n").encode() + b"more prose\n"
    r = scan([_file(tmp_path, data)])
    assert r.formats == {"unknown": 4}
    assert (r.skipped, r.incidents[0].events) == (3, 1)


def test_a_ten_megabyte_line_is_skipped_as_too_long(tmp_path):
    long_line = b'{"message": "timeout", "pad": "' + b"x" * (10 << 20) + b'"}\n'
    data = (SEED + "\n").encode() + long_line + (SEED + "\n").encode()
    r = scan([_file(tmp_path, data)])
    assert (r.lines, r.skipped, r.incidents[0].events) == (3, 1, 2)
    assert r.skip_samples[0][1] == 2 and "too long" in r.skip_samples[0][2]


def test_deeply_nested_json_is_skipped(tmp_path):
    data = b'{"message": "timeout", "a": ' + b"[" * 100000 + b"]" * 100000 + b"}\n" + (SEED + "\n").encode()
    r = scan([_file(tmp_path, data)])
    assert (r.lines, r.incidents[0].events) == (2, 1)
    assert r.skipped == 1
