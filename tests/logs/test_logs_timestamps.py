"""Timestamps and durations in the spellings logs use."""

from __future__ import annotations

import pytest

from diagnose.logs.durations import to_ms
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


@pytest.mark.parametrize("value", ["", "yesterday", None, True, {"a": 1}, -5, "2023-13-45T99:00:00Z"])
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
