"""Timestamps and durations in the spellings logs use."""

from __future__ import annotations

import json

import pytest
from cli.helpers import NO_SOURCES, diagnose

from diagnose.logs.durations import to_ms
from diagnose.logs.event import Skip
from diagnose.logs.timestamps import to_epoch

T = 1698402600.0     # 2023-10-27T10:30:00Z


@pytest.mark.parametrize("value,expected", [
    ("2023-10-27T10:30:00Z", T), ("2023-10-27T10:30:00+00:00", T), ("2023-10-27T12:30:00+02:00", T),
    ("2023-10-27T10:30:00", T), ("2023-10-27 10:30:00", T), ("2023-10-27T10:30:00.250Z", T + 0.25),
    ("2023-10-27T10:30:00.123456789Z", T + 0.123456), (1698402600, T), (1698402600.5, T + 0.5),
    (1698402600000, T), ("1698402600000", T), (1698402600000000000, T), ("2023/10/27 10:30:00", T),
    ("27/Oct/2023:12:30:00 +0200", T),
])
def test_timestamps_with_and_without_zone_and_epochs(value, expected):
    assert to_epoch(value) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("value", ["", "yesterday", None, True, {"a": 1}, "2023-13-45T99:00:00Z", "nan"])
def test_non_timestamps_are_none(value):
    assert to_epoch(value) is None


@pytest.mark.parametrize("value,key,expected", [
    (15000, "duration_ms", 15000), (15, "duration_s", 15000), ("15s", "elapsed", 15000),
    ("250µs", "took", 0.25), ("1h", "latency", 3600000), ("1.5 s", "elapsed", 1500), ("-", "duration", None),
    ("fast", "duration", None), ("1m30", "duration", None), (True, "duration_ms", None), (-1, "duration_ms", None),
    (2_000_000, "duration_ns", 2), (0.75, "upstream_response_time", 750),
])
def test_durations_to_milliseconds(value, key, expected):
    got = to_ms(value, key)
    assert got == (pytest.approx(expected) if expected is not None else None)


# --- times at the edges of the calendar: skipped lines, never an internal error ---------------------

EDGE_TIMES = ['"9999-12-31T23:59:59-14:00"', '"0001-01-01T00:00:00+14:00"', '"9999-12-31T23:59:59Z"',
              '"0001-01-01T00:00:00Z"', '"0000-01-01T00:00:00Z"', "1e300", "NaN", "Infinity", "-Infinity",
              "-5", "-1698402600000", "99999999999999999999999", '"9999/12/31 23:59:59"',
              '"01/Jan/0001:00:00:00 +1400"', '"31/Dec/9999:23:59:59 -1400"']
GOOD = ('{"time": "2023-10-27T10:30:00Z", "service": "api", "upstream": "auth", "msg": "upstream timeout", '
        '"duration_ms": 5000, "timeout_ms": 3000}\n')


def _edge_log(tmp_path, ts: str):
    log = tmp_path / "edge.log"
    log.write_text(GOOD.replace('"2023-10-27T10:30:00Z"', ts) + GOOD)
    return log


@pytest.mark.parametrize("ts", EDGE_TIMES)
def test_a_time_outside_the_calendar_is_a_skipped_line(ts):
    with pytest.raises(Skip, match="out of range"):
        to_epoch(json.loads(ts))


@pytest.mark.parametrize("ts", EDGE_TIMES)
def test_logs_counts_a_line_with_a_time_outside_the_calendar_as_skipped(tmp_path, ts):
    p = diagnose("logs", str(_edge_log(tmp_path, ts)), "--format", "json", env=NO_SOURCES)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["skipped"] == 1
    (inc,) = doc["incidents"]
    assert inc["events"] == 1
    assert inc["first_seen"] == inc["last_seen"] == "2023-10-27T10:30:00Z"


@pytest.mark.parametrize("ts", ['"9999-12-31T23:59:59-14:00"', '"0001-01-01T00:00:00+14:00"', "NaN", "-5"])
def test_run_survives_a_time_outside_the_calendar(tmp_path, ts):
    p = diagnose("run", "--log", str(_edge_log(tmp_path, ts)), "--format", "json", env=NO_SOURCES)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["incident"]["first_seen"] == "2023-10-27T10:30:00Z"


@pytest.mark.parametrize("ts", ['"1970-01-01T00:00:00Z"', '"5000-01-01T00:00:00Z"'])
def test_run_windows_around_the_first_and_last_times_kept_do_not_overflow(tmp_path, ts):
    # The baseline before the first time and the margin after the last stay inside datetime's range.
    log = tmp_path / "edge.log"
    log.write_text(GOOD.replace('"2023-10-27T10:30:00Z"', ts))
    p = diagnose("run", "--log", str(log), "--format", "json", env=NO_SOURCES)
    assert p.returncode == 0, p.stderr
