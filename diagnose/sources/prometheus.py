"""Live Prometheus evidence: one range query per metric family, answered into prometheus/<family>.json.

Every family is one PromQL expression aggregated `by (namespace, pod)` (or by deployment, hpa, node), so the
number of queries is fixed by the catalogue, never by the number of pods. Where exporters differ in naming
(cAdvisor `pod` vs `pod_name`, kube-state-metrics v1 vs v2, Prometheus simpleclient vs Micrometer, Istio
milliseconds vs seconds) the flavours are joined with `or` in the same query, and a `kind` label (added with
`label_replace`) tells the parser which sub-signal a series is.

A bundle file is {"query", "start", "end", "step", "response"} with the Prometheus HTTP API document as
`response`, or {"query", "start", "end", "step", "error"} when that family failed (4xx/5xx, timeout); only
a server that cannot be reached at all fails the whole source.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from concurrent.futures import Future, wait
from datetime import datetime, timezone
from functools import partial
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

from ..errors import SourceError
from ..model.incident import iso
from ..model.text import single_line
from .base import Option, RawFiles, SourceOptions, Target
from .bounded import AnswerTooLarge, DeadlineSpent, Watchdog, requests_adapter, run_daemons
from .http_words import http_error

NAME = "prometheus"
# Client libraries the engine imports before the sources start (see engine.gather._preload).
IMPORTS = ("urllib3", "requests", "prometheus_api_client")
OPTIONS = (Option("prometheus-url", "Prometheus base URL (or PROMETHEUS_URL).", envvar="PROMETHEUS_URL"),)
MAX_POINTS = 240            # per series: enough to date an onset within a step, small on the wire
MIN_STEP = 15               # seconds: the usual scrape interval; finer steps only repeat samples
WORKERS = 4                 # concurrent queries: light on the server, well inside the deadline
MAX_REDIRECTS = 5           # a proxy or a path prefix redirects once or twice; a loop stops here


def skip_reason(opts: SourceOptions) -> str | None:
    if opts.prometheus_url or os.environ.get("PROMETHEUS_URL"):
        return None
    return "no --prometheus-url given (nor PROMETHEUS_URL)"


def base_url(opts: SourceOptions) -> str:
    return (opts.prometheus_url or os.environ.get("PROMETHEUS_URL") or "").rstrip("/")


def safe_url(url: str) -> str:
    """The URL without user:password, for messages (credentials never reach output)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


# ---------------------------------------------------------------- range and step


def step_for(start: datetime, end: datetime) -> int:
    """A step that keeps each series under MAX_POINTS, rounded up to a multiple of MIN_STEP."""
    seconds = max(1.0, (end - start).total_seconds())
    return max(MIN_STEP, int(math.ceil(seconds / MAX_POINTS / MIN_STEP)) * MIN_STEP)


def rate_window(step: int) -> str:
    """rate() needs at least 4 scrapes inside its range; wider steps widen it so no sample is skipped."""
    return f"{max(60, 4 * step)}s"


# ---------------------------------------------------------------- PromQL catalogue


def _lit(value: str) -> str:
    """A PromQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _re(value: str) -> str:
    """`value` as a regex literal matching itself (names are DNS labels; dots are escaped anyway)."""
    return re.sub(r"([.+*?()|\[\]{}^$\\])", r"\\\1", value)


def _kind(expr: str, kind: str, label: str = "kind") -> str:
    return f'label_replace({expr}, "{label}", "{kind}", "", "")'


def _any(*exprs: str) -> str:
    return " or ".join(f"({e})" for e in exprs)


def queries(namespace: str | None, upstream: str, caller: str, step: int) -> dict[str, str]:
    """family -> PromQL. Selectors: the namespace and the upstream's pod name prefix."""
    r = rate_window(step)
    ns = f"namespace={_lit(namespace)}, " if namespace else ""
    pods = f"{ns}pod=~{_lit(_re(upstream) + '-.*')}"
    ctr = f'{pods}, container!="", container!="POD"'
    old = f'{ns}pod_name=~{_lit(_re(upstream) + "-.*")}, container_name!="", container_name!="POD"'
    by = "by (namespace, pod)"

    def cadvisor(tmpl: Callable[[str, str], str]) -> str:
        # cAdvisor before Kubernetes 1.16 labelled pod_name/container_name; both flavours, one answer
        return _any(tmpl(ctr, by), f'label_replace({tmpl(old, "by (namespace, pod_name)")}, '
                                   f'"pod", "$1", "pod_name", "(.+)")')

    def cpu_usage(sel: str, b: str) -> str:
        return f"sum {b} (rate(container_cpu_usage_seconds_total{{{sel}}}[{r}]))"

    def throttled(sel: str, b: str) -> str:
        return (f"sum {b} (rate(container_cpu_cfs_throttled_periods_total{{{sel}}}[{r}])) / "
                f"sum {b} (rate(container_cpu_cfs_periods_total{{{sel}}}[{r}]))")

    def working_set(sel: str, b: str) -> str:
        return f"sum {b} (container_memory_working_set_bytes{{{sel}}})"

    def ksm_resource(kind: str) -> str:
        plural = "limits" if kind == "limit" else "requests"
        v2 = (f"sum by (namespace, pod, resource) "
              f'(kube_pod_container_resource_{plural}{{{pods}, resource=~"cpu|memory"}})')
        v1 = [_kind(f"sum {by} (kube_pod_container_resource_{plural}_{res}_{unit}{{{pods}}})", res, "resource")
              for res, unit in (("cpu", "cores"), ("memory", "bytes"))]
        return _kind(_any(v2, *v1), kind)

    dep = f"{ns}deployment={_lit(upstream)}"
    hpa2 = f"{ns}horizontalpodautoscaler=~{_lit(_re(upstream) + '.*')}"
    hpa1 = f"{ns}hpa=~{_lit(_re(upstream) + '.*')}"

    def hpa(kind: str, v2: str, v1: str) -> str:
        return _kind(_any(
            f'max by (namespace, hpa) (label_replace(kube_horizontalpodautoscaler_{v2}{{{hpa2}}}, '
            f'"hpa", "$1", "horizontalpodautoscaler", "(.+)"))',
            f"max by (namespace, hpa) (kube_hpa_{v1}{{{hpa1}}})"), kind)

    ins = f"{'destination_workload_namespace=' + _lit(namespace) + ', ' if namespace else ''}"
    dst = f'reporter="destination", {ins}destination_workload={_lit(upstream)}'
    src = f'reporter="source", {ins}source_workload={_lit(caller)}, destination_workload={_lit(upstream)}'
    all_src = f'reporter="source", {ins}destination_workload={_lit(upstream)}'
    # Envoy's outbound cluster for the upstream's Service: outbound|PORT|SUBSET|NAME.NS.svc.DOMAIN
    cluster = r"outbound\|[0-9]+\|[^|]*\|" + _re(upstream) + (r"\." + _re(namespace) if namespace else "") + r"\..*"

    def p99(sel: str, micrometer: bool) -> str:
        flavours = [f"histogram_quantile(0.99, sum by (le) "
                    f"(rate(istio_request_duration_milliseconds_bucket{{{sel}}}[{r}])))",
                    f"1000 * histogram_quantile(0.99, sum by (le) "
                    f"(rate(istio_request_duration_seconds_bucket{{{sel}}}[{r}])))"]
        if micrometer:   # the upstream's own server timer, when there is no mesh
            flavours.append(f"1000 * histogram_quantile(0.99, sum by (le) "
                            f"(rate(http_server_requests_seconds_bucket{{{pods}}}[{r}])))")
        return _any(*flavours)

    gcb = "by (namespace, pod, gc)"
    nic = 'device!~"lo|veth.*|cali.*|cni.*|flannel.*|docker.*"'
    hk = "by (namespace, pod, pool)"

    def both(kind: str, micrometer: str, simpleclient: str, agg: str = "sum") -> str:
        return _kind(_any(f"{agg} {hk} ({micrometer}{{{pods}}})", f"{agg} {hk} ({simpleclient}{{{pods}}})"), kind)

    return {
        "cpu": _any(_kind(cadvisor(cpu_usage), "usage"), _kind(cadvisor(throttled), "throttled")),
        "memory": cadvisor(working_set),
        "resources": _any(ksm_resource("limit"), ksm_resource("request")),
        "restarts": _any(
            _kind(f"sum {by} (increase(kube_pod_container_status_restarts_total{{{pods}}}[{r}]))", "restarts"),
            _kind(f'max {by} (kube_pod_container_status_last_terminated_reason{{{pods}, reason="OOMKilled"}})',
                  "oomkilled")),
        "replicas": _any(
            _kind(f"max by (namespace, deployment) (kube_deployment_spec_replicas{{{dep}}})", "desired"),
            _kind(f"max by (namespace, deployment) (kube_deployment_status_replicas_available{{{dep}}})",
                  "available")),
        "hpa": _any(hpa("current", "status_current_replicas", "status_current_replicas"),
                    hpa("max", "spec_max_replicas", "spec_max_replicas")),
        # requests at the upstream; what its callers' sidecars sent (a retry is one more request at the
        # destination and none at the source); Envoy's retries to it (needs the proxy's cluster stats)
        "traffic": _any(_kind(_any(f"sum(rate(istio_requests_total{{{dst}}}[{r}]))",
                                   f"sum(rate(http_server_requests_seconds_count{{{pods}}}[{r}]))"), "requests"),
                        _kind(f"sum(rate(istio_requests_total{{{all_src}}}[{r}]))", "source"),
                        _kind(f"sum(rate(envoy_cluster_upstream_rq_retry{{cluster_name=~{_lit(cluster)}}}[{r}]))",
                              "retry")),
        "latency_upstream": p99(dst, micrometer=True),
        "latency_caller": p99(src, micrometer=False),
        "jvm_gc": _any(
            _kind(_any(f"sum {gcb} (rate(jvm_gc_collection_seconds_sum{{{pods}}}[{r}]))",
                       f"sum {gcb} (rate(jvm_gc_pause_seconds_sum{{{pods}}}[{r}]))"), "time"),
            # Micrometer keeps the longest recent pause; simpleclient has only sum/count, so its mean pause
            _kind(_any(f"max {gcb} (max_over_time(jvm_gc_pause_seconds_max{{{pods}}}[{r}]))",
                       f"sum {gcb} (rate(jvm_gc_collection_seconds_sum{{{pods}}}[{r}])) / "
                       f"sum {gcb} (rate(jvm_gc_collection_seconds_count{{{pods}}}[{r}]))"), "max_pause")),
        "jvm_heap": _any(
            _kind(_any(f'sum {by} (jvm_memory_bytes_used{{{pods}, area="heap"}})',
                       f'sum {by} (jvm_memory_used_bytes{{{pods}, area="heap"}})'), "used"),
            # Micrometer reports -1 for pools without a maximum (eden, survivor): only positive ones count
            _kind(_any(f'sum {by} (jvm_memory_bytes_max{{{pods}, area="heap"}} > 0)',
                       f'sum {by} (jvm_memory_max_bytes{{{pods}, area="heap"}} > 0)'), "max")),
        "go_runtime": _any(
            _kind(f"sum {by} (rate(go_gc_duration_seconds_sum{{{pods}}}[{r}]))", "gc_time"),
            _kind(f'max {by} (go_gc_duration_seconds{{{pods}, quantile="1"}})', "gc_max_pause"),
            _kind(f"sum {by} (go_goroutines{{{pods}}})", "goroutines")),
        "node_network": _any(
            _kind(f"sum by (instance) (rate(node_netstat_Tcp_RetransSegs[{r}])) / "
                  f"sum by (instance) (rate(node_netstat_Tcp_OutSegs[{r}]))", "retrans"),
            _kind(f"sum by (instance) (rate(node_network_receive_errs_total{{{nic}}}[{r}])) + "
                  f"sum by (instance) (rate(node_network_transmit_errs_total{{{nic}}}[{r}]))", "errors"),
            _kind(f"sum by (instance) (rate(node_network_receive_drop_total{{{nic}}}[{r}])) + "
                  f"sum by (instance) (rate(node_network_transmit_drop_total{{{nic}}}[{r}]))", "drops")),
        "db_pool": _any(
            both("pending", "hikaricp_connections_pending", "hikaricp_pending_threads"),
            both("active", "hikaricp_connections_active", "hikaricp_active_connections"),
            both("max", "hikaricp_connections_max", "hikaricp_max_connections"),
            _kind(f"max {hk} (hikaricp_connections_acquire_seconds_max{{{pods}}})", "acquire_max")),
    }


FAMILIES = tuple(queries("ns", "x", "y", MIN_STEP))


def plan(target: Target, now: datetime | None = None) -> tuple[datetime, datetime, int, dict[str, str]]:
    """The range, step and queries for a target: the incident's own window from the logs, so a
    postmortem run hours later asks about the incident and not about now."""
    start = target.window.start
    end = min(target.window.end, now or datetime.now(timezone.utc))
    end = max(end, start)
    step = step_for(start, end)
    ns = target.namespace or target.incident.namespace
    return start, end, step, queries(ns, target.upstream, target.caller, step)


def family_file(query: str, start: datetime, end: datetime, step: int, *, response: object = None,
                error: str | None = None) -> bytes:
    doc: dict[str, object] = {"query": query, "start": iso(start), "end": iso(end), "step": step}
    if error is not None:
        doc["error"] = error
    else:
        doc["response"] = response
    return json.dumps(doc).encode()


# ---------------------------------------------------------------- live collection


class _Unreachable(Exception):
    """The server did not answer at all (refused, DNS, TLS): the whole source fails."""


def collect(opts: SourceOptions, target: Target, deadline: float) -> RawFiles:
    import requests
    from prometheus_api_client import PrometheusConnect
    from prometheus_api_client.exceptions import PrometheusApiClientException
    from requests import exceptions as rex
    from urllib3.util.retry import Retry

    url = base_url(opts)
    shown = safe_url(url)
    start, end, step, qs = plan(target)
    # Every answer is read by our adapter: within the deadline (a watchdog for servers that drip) and
    # within --max-response-bytes. No retries: a retry with back-off would spend the other families' budget.
    dog = Watchdog(deadline)
    session = requests.Session()
    session.max_redirects = MAX_REDIRECTS
    client = PrometheusConnect(url=url, disable_ssl=False, retry=Retry(total=0, raise_on_status=False),
                               session=session)
    adapter = requests_adapter(dog, opts.max_response_bytes)
    for prefix in ("http://", "https://", url):     # `url` replaces the adapter the client mounted there
        session.mount(prefix, adapter)

    def one(query: str) -> dict[str, object]:
        left = deadline - time.monotonic()
        if left <= 0.05:
            raise TimeoutError
        try:
            result = client.custom_query_range(query, start_time=start, end_time=end, step=str(step),
                                               params={"timeout": f"{max(1, int(left))}s"}, timeout=left)
        except rex.ConnectionError as exc:
            if isinstance(exc.__cause__, Exception) and "timed out" in str(exc).lower():
                raise TimeoutError from exc
            raise _Unreachable(type(exc).__name__) from exc
        except rex.Timeout as exc:
            raise TimeoutError from exc
        return {"status": "success", "data": {"resultType": "matrix", "result": result}}

    files: RawFiles = {}
    errors: list[str] = []
    futures: dict[str, Future[dict[str, object]]] = {}
    try:
        futures = run_daemons({family: partial(one, q) for family, q in qs.items()}, WORKERS, "prometheus")
        wait(futures.values(), timeout=max(0.0, deadline - time.monotonic()))
        for family, fut in futures.items():
            q = qs[family]
            if not fut.done():
                fut.cancel()
                err = f"no answer within the {opts.timeout:g}s budget"
            else:
                exc = fut.exception()
                if exc is None:
                    files[f"{family}.json"] = family_file(q, start, end, step, response=fut.result())
                    continue
                if isinstance(exc, _Unreachable):
                    err = f"unreachable ({exc})"
                elif isinstance(exc, AnswerTooLarge):
                    err = str(exc)
                elif isinstance(exc, (TimeoutError, DeadlineSpent)):
                    err = f"no answer within the {opts.timeout:g}s budget"
                elif isinstance(exc, PrometheusApiClientException):
                    err = _http_error(str(exc))
                elif isinstance(exc, ValueError):        # a 200 whose body is not JSON
                    err = f"answer is not JSON ({exc})"
                else:
                    err = f"{type(exc).__name__}: {exc}"
            errors.append(err)
            files[f"{family}.json"] = family_file(q, start, end, step, error=err)
    finally:
        for fut in futures.values():
            fut.cancel()                    # those not started; the running ones end at the deadline
        dog.close()
        client.close()
    if len(errors) == len(qs):
        # Not one family answered (down, refusing every query, a wrong URL): the source failed, so its
        # causes are unknown, not healthy.
        raise SourceError(f"every query to {shown} failed; first: {errors[0]}")
    return files


_STATUS = re.compile(r"HTTP Status Code (\d+) \((.*)\)$", re.S)
QUERY_PATH = "/api/v1/query_range"     # the one endpoint collect() asks (custom_query_range)


def _http_error(text: str) -> str:
    """`HTTP Status Code 422 (b'{"status":"error","error":"..."}')` -> `Prometheus answered 422 Unprocessable
    Entity for /api/v1/query_range: ...` on one line: Prometheus's own error text when it gave one, else
    what the status usually means (a 404's `b''` says nothing; the likely cause is a URL that is not the base)."""
    m = _STATUS.match(text)
    if not m:
        return text.splitlines()[0][:300] if text else "error"
    code, body = m.group(1), m.group(2)
    try:
        import ast

        raw = ast.literal_eval(body)
        body = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    except (ValueError, SyntaxError):
        pass
    try:
        doc = json.loads(body)
        detail = str(doc.get("error") or doc) if isinstance(doc, dict) else str(doc)
    except ValueError:
        # Not Prometheus's JSON: a proxy's page or Go's "404 page not found". A page says nothing the
        # status does not; a short line of text is kept.
        detail = "" if body.lstrip().startswith("<") or "page not found" in body else body
    return http_error("Prometheus", code, QUERY_PATH, single_line(detail, 300), "--prometheus-url")
