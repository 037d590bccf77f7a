"""Wrappers are peeled before the inner line is parsed: partial lines joined across reads, the same
answer in parallel, the pod's workload as the caller, the wrapper's time only when the line has none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diagnose.logs.scan import scan
from diagnose.logs.wrappers import workload
from tests.logs.log_helpers import scan_both_ways

TEXT = Path(__file__).parent.parent / "data" / "logs" / "text"


@pytest.mark.parametrize("pod,expected", [
    ("checkout-web-7d9f8b6c5d-x2x4z", "checkout-web"),     # Deployment: ReplicaSet hash and pod suffix
    ("checkout-web-7d9f", "checkout-web"),
    ("fluent-bit-x2x4z", "fluent-bit"),                    # DaemonSet: pod suffix
    ("postgres-0", "postgres"),                            # StatefulSet ordinal
    ("user-auth-service", "user-auth-service"),            # a bare name keeps its words
    ("frontend-api-5c8d7f9b4-abcde", "frontend-api"),      # a hash, then a suffix of any 5 characters
    ("api-v2-deadbeef-abcde", "api-v2-deadbeef-abcde"),    # no digit in "deadbeef": not a hash
])
def test_pod_name_gives_its_workload(pod, expected):
    assert workload(pod) == expected


def test_cri_partial_lines_are_joined_across_read_boundaries(tmp_path):
    rec = json.dumps({"level": "error", "msg": "upstream request timeout", "service": "checkout",
                      "upstream": "payment-service", "pad": "x" * 300})
    parts = [rec[i:i + 100] for i in range(0, len(rec), 100)]
    lines = [f"2024-03-14T21:47:0{n}.000000001Z stdout {'P' if k < len(parts) - 1 else 'F'} {p}"
             for n in range(5) for k, p in enumerate(parts)]
    p = tmp_path / "cri.log"
    p.write_text("\n".join(lines) + "\n")
    r = scan([str(p)], chunk_size=256)       # every read cuts a partial line
    assert (r.lines, r.skipped) == (len(lines), 0)
    assert [(i.service, i.upstream, i.events) for i in r.incidents] == [("checkout", "payment-service", 5)]


def test_wrapped_log_scans_the_same_in_parallel_and_in_one_process(tmp_path, monkeypatch):
    body = b"".join((TEXT / f).read_bytes() * 40 for f in ("kubectl-prefix.log",))
    one, _ = scan_both_ways(tmp_path / "big.log", body, monkeypatch)
    # The sidecar's 40 lines are calls the app's 80 lines also log: the app's view counts them.
    assert one.incidents[0].events == 80 and one.incidents[0].service == "checkout-web"
    assert [(v.log, v.events) for v in one.incidents[0].seen_by] == [("app", 80), ("envoy", 40)]


def test_inner_time_wins_over_the_wrappers_and_the_wrappers_fills_a_line_without_one(tmp_path):
    p = tmp_path / "k.log"
    p.write_text(
        # the Envoy line's own start time (21:47:03.123) is kept; the wrapper says 21:47:09
        '2024-03-14T21:47:09.000000000Z [2024-03-14T21:47:03.123Z] "POST /charge HTTP/1.1" 504 UT 0 24 10001 - '
        '"-" "okhttp" "id-1" "payment-service:8080" "10.244.1.5:8080"\n'
        # a JSON line without a time: the wrapper's 21:47:20.5
        '2024-03-14T21:47:20.500000000Z {"msg": "upstream request timeout", "upstream": "payment-service"}\n')
    r = scan([str(p)])
    by = {i.service: i for i in r.incidents}
    assert by["envoy"].first_seen.isoformat() == "2024-03-14T21:47:03.123000+00:00"
    assert by["unknown"].first_seen.isoformat() == "2024-03-14T21:47:20.500000+00:00"


def test_spring_boot_3_lines_are_not_mistaken_for_kubectl_timestamps(tmp_path):
    r = scan([str(TEXT / "spring-boot-3.log")])
    assert r.formats == {"text": 2} and r.skipped == 0


def test_a_shippers_record_with_a_log_key_is_not_peeled_as_docker(tmp_path):
    rec = {"log": '{"msg": "upstream request timeout", "upstream": "payment-service"}\n', "stream": "stderr",
           "time": "2024-03-14T21:47:03Z", "kubernetes": {"labels": {"app": "checkout"}}}
    p = tmp_path / "fb.jsonl"
    p.write_text(json.dumps(rec) + "\n")
    assert [(i.service, i.upstream) for i in scan([str(p)]).incidents] == [("checkout", "payment-service")]


def test_a_file_that_is_not_gzip_after_its_magic_bytes_is_one_input_error(tmp_path):
    from diagnose.errors import InputError

    p = tmp_path / "broken.log.gz"
    p.write_bytes(b"\x1f\x8bnot gzip at all\n")
    with pytest.raises(InputError, match="gzip"):
        scan([str(p)])
