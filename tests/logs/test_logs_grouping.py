"""Grouping into incidents, and percentiles within 1% in constant memory."""

from __future__ import annotations

import json
import math
import random

import pytest

from diagnose.logs.histogram import LogHistogram
from diagnose.logs.scan import scan


def test_histogram_percentiles_are_within_one_percent_and_max_is_exact():
    rng = random.Random(7)
    values = [rng.lognormvariate(8, 1.2) for _ in range(20000)] + [0.0, 0.4]
    h = LogHistogram()
    for v in values:
        h.add(v)
    ordered = sorted(values)
    for q in (0.5, 0.9, 0.99):
        exact = ordered[math.ceil(q * len(values)) - 1]       # nearest rank
        assert h.quantile(q) == pytest.approx(exact, rel=0.01)
    assert h.max == max(values) and h.count == len(values)
    assert len(h.buckets) < 3000 and not h.exact       # 20,000 distinct values: the sketch answered


def test_percentiles_are_exact_while_distinct_durations_are_few():
    # Bucketed, these came back as 15000 and 5030: a person comparing them with the log saw numbers
    # that are not in it.
    h = LogHistogram()
    for v in [15000.0] * 3 + [15025.0] * 2 + [15050.0] * 2:
        h.add(v)
    assert h.exact and h.quantile(0.5) == 15025.0
    h2 = LogHistogram()
    for v in (5003.0, 5017.0, 5017.0, 5090.0):
        h2.add(v)
    assert h2.quantile(0.5) == 5017.0 and h2.quantile(0.99) == 5090.0


def test_percentiles_stay_exact_across_merges_and_fold_to_the_sketch_past_the_limit():
    from diagnose.logs.histogram import EXACT_LIMIT

    a, b = LogHistogram(), LogHistogram()
    for i in range(100):
        (a if i % 2 else b).add(10000.0 + i)
    a.merge(b)
    assert a.exact and a.quantile(0.5) == 10049.0
    big = LogHistogram()
    for i in range(EXACT_LIMIT + 10):
        big.add(1000.0 + i)
    assert not big.exact
    true_p50 = 1000.0 + math.ceil(0.5 * (EXACT_LIMIT + 10)) - 1
    assert big.quantile(0.5) == pytest.approx(true_p50, rel=0.01)
    a.merge(big)                                        # exact + folded: folded, still within 1%
    assert not a.exact and a.count == 100 + EXACT_LIMIT + 10


def test_histogram_merge_equals_one_histogram():
    a, b, both = LogHistogram(), LogHistogram(), LogHistogram()
    for i in range(1, 500):
        (a if i % 2 else b).add(i * 3.7)
        both.add(i * 3.7)
    a.merge(b)
    assert (a.quantile(0.5), a.quantile(0.99), a.max, a.min) == (both.quantile(0.5), both.quantile(0.99),
                                                                  both.max, both.min)


def test_incidents_are_grouped_by_caller_and_upstream_most_events_first(tmp_path):
    def line(svc, up, minute, dur, timeout):
        return json.dumps({"timestamp": f"2023-10-27T10:{minute:02d}:00Z", "message": "upstream timeout",
                           "service": svc, "upstream_service": up, "duration_ms": dur, "timeout_ms": timeout})
    lines = [line("frontend-api", "user-auth-service", m, 15000 + m, 10000 if m % 3 else 5000) for m in range(10)]
    lines += [line("checkout", "payments", 5, 3000, 2000), line("checkout", "payments", 7, 3100, 2000)]
    p = tmp_path / "g.jsonl"
    p.write_text("\n".join(lines) + "\n")
    r = scan([str(p)])
    assert [(i.service, i.upstream, i.events) for i in r.incidents] == [
        ("frontend-api", "user-auth-service", 10), ("checkout", "payments", 2)]
    top = r.incidents[0]
    assert top.timeout_ms == 10000                       # the most common of the callers' values
    assert top.rate_per_min == pytest.approx(10 / 9)      # 10 events between 10:00 and 10:09
    assert top.duration_ms.max == 15009
    assert top.duration_ms.p50 == pytest.approx(15004, rel=0.01)


def test_events_without_timestamps_still_group(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text('{"service":"a","upstream":"b","msg":"timed out"}\n' * 3)
    inc = scan([str(p)]).incidents[0]
    assert (inc.events, inc.first_seen, inc.rate_per_min) == (3, None, None)


def test_distinct_pairs_beyond_the_cap_are_counted_not_grouped(tmp_path, monkeypatch):
    import diagnose.logs.group as group

    monkeypatch.setattr(group, "MAX_GROUPS", 3)
    monkeypatch.setattr(group, "MAX_VALUES", 2)
    lines = [json.dumps({"service": "a", "upstream": f"u{i}", "msg": "timeout", "timeout_ms": i}) for i in range(5)]
    lines += [json.dumps({"service": "a", "upstream": "u0", "msg": "timeout", "timeout_ms": t}) for t in (7, 8, 9)]
    p = tmp_path / "many.jsonl"
    p.write_text("\n".join(lines) + "\n")
    r = scan([str(p)])
    assert len(r.incidents) == 3 and r.dropped == 2
    u0 = next(i for i in r.incidents if i.upstream == "u0")
    assert u0.events == 4 and u0.timeout_ms == 0      # {0: 1, 7: 1} kept; 8 and 9 over the cap
