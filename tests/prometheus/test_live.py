"""The live source against a real Prometheus holding backfilled data: ranking per scenario, query count,
and faults (server down, slow, 4xx/5xx on some families, empty families)."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from diagnose.errors import SourceError
from diagnose.sources import prometheus as source
from diagnose.sources.base import RawFiles, SourceOptions
from fixtures.build import prometheus as gen
from tests.servers.prometheus import PrometheusServer, start_or_skip

from .helpers import RANKING_CASES, evidence, findings, scores, story_for, top

pytestmark = pytest.mark.integration


def collect(url: str, namespace: str = gen.cast.NAMESPACE, timeout: float = 30) -> RawFiles:
    return source.collect(SourceOptions(prometheus_url=url, timeout=timeout), gen.target(namespace),  # type: ignore[arg-type]
                          time.monotonic() + timeout)


@pytest.mark.parametrize("scenario, flavour, expected", RANKING_CASES)
def test_live_evidence_ranks_the_true_cause_first(scenario: str, flavour: str | None, expected: str) -> None:
    story = story_for(scenario, flavour)
    server = start_or_skip(gen.openmetrics(story))
    try:
        files = collect(server.url)
    finally:
        server.close()
    assert all("error" not in json.loads(b) for b in files.values())
    found = findings(evidence(files))
    assert top(found) == expected, scores(found)
    if scenario == "gc-misleading-cpu":
        s = scores(found)
        assert s["gc-pause"] > s["overload"] > 0


@pytest.fixture(scope="module")
def two_sizes() -> Iterator[PrometheusServer]:
    text = gen.openmetrics(gen.many_pods(10, "small")).replace("# EOF\n", "")
    text += gen.openmetrics(gen.many_pods(1000, "large"))
    server = start_or_skip(text)
    yield server
    server.close()


def test_query_count_is_the_same_for_10_and_1000_pods(two_sizes: PrometheusServer) -> None:
    counts, pods = {}, {}
    for ns in ("small", "large"):
        before = two_sizes.api_requests()
        files = collect(two_sizes.url, ns, timeout=60)
        counts[ns] = two_sizes.api_requests() - before
        m = evidence(files).prometheus
        sig = m.get("cpu_usage_cores")
        pods[ns] = len(sig.by_series) if sig else 0
    assert pods == {"small": 10, "large": 1000}           # the data really is there for every pod
    assert counts["small"] == counts["large"] == len(source.FAMILIES)


def test_a_server_that_is_down_fails_the_source_in_one_line() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SourceError) as err:
        collect(f"http://user:pw@127.0.0.1:{port}", timeout=5)
    msg = str(err.value)
    assert msg.startswith(f"every query to http://127.0.0.1:{port} failed; first: unreachable")
    assert "\n" not in msg
    assert "pw" not in msg


def test_families_over_the_servers_sample_limit_are_errors_and_the_rest_is_evidence(
        two_sizes: PrometheusServer) -> None:
    # a real Prometheus refusing heavy queries (HTTP 422) on some families only
    text = gen.openmetrics(gen.many_pods(300, "large"))
    server = start_or_skip(text, extra_args=("--query.max-samples=40000",))
    try:
        files = collect(server.url, "large", timeout=60)
    finally:
        server.close()
    docs = {k: json.loads(v) for k, v in files.items()}
    failed = {k for k, d in docs.items() if "error" in d}
    assert failed and len(failed) < len(docs)
    refused = "Prometheus answered 422 Unprocessable Entity for /api/v1/query_range: query processing would load"
    assert all(docs[k]["error"].startswith(refused) for k in failed)
    m = evidence(files).prometheus
    for k in failed:
        assert m.missing[k[:-5]].startswith("query failed: Prometheus answered 422")
    assert "replicas" not in failed and m.get("replicas_desired") is not None


class _Front:
    """A real HTTP server in front of a real Prometheus: passes queries through, except it answers 503 for
    queries naming `fail`, or sleeps `delay` seconds before every answer."""

    def __init__(self, upstream: str, fail: str = "", delay: float = 0.0) -> None:
        front = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if front.delay:
                    time.sleep(front.delay)
                if front.fail and front.fail in urllib.request.unquote(self.path):
                    body = json.dumps({"status": "error", "errorType": "unavailable",
                                       "error": "too many concurrent queries"}).encode()
                    self.send_response(503)
                else:
                    with urllib.request.urlopen(upstream + self.path, timeout=30) as r:
                        body = r.read()
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.fail, self.delay = fail, delay
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def gc_server() -> Iterator[PrometheusServer]:
    server = start_or_skip(gen.openmetrics(gen.story("gc-pause")))
    yield server
    server.close()


def test_a_5xx_on_one_family_is_an_error_entry_on_that_family_only(gc_server: PrometheusServer) -> None:
    front = _Front(gc_server.url, fail="jvm_gc_")
    try:
        files = collect(front.url)
    finally:
        front.close()
    doc = json.loads(files["jvm_gc.json"])
    assert doc["error"] == ("Prometheus answered 503 Service Unavailable for /api/v1/query_range: too many "
                            "concurrent queries") and "jvm_gc_pause_seconds" in doc["query"]
    m = evidence(files).prometheus
    assert "jvm_gc" in m.missing and m.get("gc_time_fraction") is None
    assert m.get("heap_used_ratio") is not None and m.get("cpu_limit_ratio") is not None


def test_a_server_slower_than_the_budget_fails_the_source_within_it(gc_server: PrometheusServer) -> None:
    front = _Front(gc_server.url, delay=30)
    try:
        with pytest.raises(SourceError) as err:
            collect(front.url, timeout=1)
    finally:
        front.close()
    assert "no answer within the 1s budget" in str(err.value)


def test_families_not_exported_are_missing_on_a_real_server(gc_server: PrometheusServer) -> None:
    m = evidence(collect(gc_server.url)).prometheus
    assert m.missing.get("go_runtime", "").startswith("no series")
    assert m.get("gc_time_fraction") is not None


def test_a_server_refusing_every_query_fails_the_source_so_its_causes_are_unknown() -> None:
    """An auth proxy answering 401 to everything is not a healthy Prometheus with no data."""

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = b'{"status":"error","errorType":"unauthorized","error":"401 Unauthorized"}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(SourceError, match="every query to .* failed.*401"):
            collect(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
