"""prometheus/<family>.json (range-query answers) -> MetricsEvidence of named signals.

For each signal, over the queried window:
  * by_series: the peak of each series (per pod, per node, per gc) from PRECURSOR before the first
    timeout to the end of the window. Causes precede the first timeout by minutes, so the incident
    window reaches back that far.
    When no series has a sample that late, the peaks of the older samples, with `ended` (the last
    sample's time) set: a finding on them describes the past and is marked stale.
  * the curve: per timestamp, the worst (highest) series; every signal here is "bad when high"
    (available replicas are read as `replicas_unavailable`).
  * baseline: the median of the curve before the first timeout (the window starts 30 min earlier; a
    median ignores a precursor that takes up less than half of it).
  * onset: the first sample from which the curve stays above baseline + max(25% of baseline,
    4 scaled MADs, a per-unit floor) for SUSTAIN consecutive samples (or to the end of the window).
    The search covers the whole window, so an onset may come before the first timeout: that is how
    GC-before-CPU and traffic-before-saturation are told apart.
A family file with an "error" or an empty result is reported in `missing`, never as healthy.
A sample of NaN (0/0: no GC in a step) is no data. One of ±Inf (a histogram quantile above its top
bucket, a division by zero), beyond ±MAX_MAGNITUDE, or at a time outside the epoch range is no reading
either, but said in a note: a +Inf latency is a reading too high to count, not a healthy one.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, Mapping

from ..errors import EvidenceError
from ..model.metrics import MetricsEvidence, Signal
from ..model.target import RawFiles, Target
from ..model.text import single_line

PRECURSOR = timedelta(minutes=10)
SUSTAIN = 3
REL = 0.25
MADS = 4.0
FLOOR = {"ratio": 0.05, "ms": 50.0, "seconds": 0.05, "per_second": 1.0, "count": 0.5, "bytes": 64 * 2**20,
         "cores": 0.05}

# No signal read here comes near 1e18 (bytes in exabytes, requests per second); a sample beyond it is a
# broken exporter, and keeping it would let a sum or product of two overflow to inf inside a check.
MAX_MAGNITUDE = 1e18
# Sample times kept: those the logs keep (logs/timestamps.py), so that every onset can be dated.
MAX_TIME = 1e11

Points = dict[float, float]          # unix time -> value


@dataclass(frozen=True)
class Series:
    labels: Mapping[str, str]
    points: Points


def _unread_kind(t: float, v: float) -> str:
    if not 0 <= t < MAX_TIME:
        return "at a time out of range"
    if v != v:
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return f"beyond ±{MAX_MAGNITUDE:g}"


def _series(doc: object, path: str, unread: Counter[str] | None = None) -> list[Series]:
    """The answer's series; samples that carry no reading are left out and counted in `unread`."""
    if not isinstance(doc, dict) or doc.get("status") != "success":
        raise EvidenceError(f"{path}: field 'response': not a successful Prometheus answer")
    data = doc.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("result"), list):
        raise EvidenceError(f"{path}: field 'response.data.result': missing")
    out = []
    for i, item in enumerate(data["result"]):
        if not isinstance(item, dict):
            raise EvidenceError(f"{path}: field 'result[{i}]': not an object")
        metric = item.get("metric") or {}
        if not isinstance(metric, dict):
            raise EvidenceError(f"{path}: field 'result[{i}].metric': not an object of labels")
        labels = {str(k): str(v) for k, v in metric.items()}
        pts: Points = {}
        values = item.get("values") or ([item["value"]] if "value" in item else [])
        for pair in values:
            try:
                t, v = float(pair[0]), float(pair[1])
            except (TypeError, ValueError, IndexError, KeyError):      # KeyError: a pair that is an object
                raise EvidenceError(f"{path}: field 'result[{i}].values': not [time, \"value\"] pairs") from None
            if 0 <= t < MAX_TIME and -MAX_MAGNITUDE < v < MAX_MAGNITUDE:    # False for NaN too
                pts[t] = v
            elif unread is not None:
                unread[_unread_kind(t, v)] += 1
        out.append(Series(labels, pts))
    return out


def _key(labels: Mapping[str, str], keys: tuple[str, ...]) -> str:
    return " ".join(labels[k] for k in keys if labels.get(k)) or "total"


def _group(series: Iterable[Series], keys: tuple[str, ...], **match: str) -> dict[str, Series]:
    """Series whose labels match, keyed by `keys`; series sharing a key are added (containers of a pod)."""
    out: dict[str, Series] = {}
    for s in series:
        if any(s.labels.get(k) != v for k, v in match.items()):
            continue
        k = _key(s.labels, keys)
        if k in out:
            merged = dict(out[k].points)
            for t, v in s.points.items():
                merged[t] = merged.get(t, 0.0) + v
            out[k] = Series(out[k].labels, merged)
        else:
            out[k] = s
    return out


def _combine(a: dict[str, Series], b: dict[str, Series], op: Callable[[float, float], float | None],
             ) -> dict[str, Series]:
    """Per key and timestamp, op(a, b); a key with one series on each side."""
    out = {}
    for k, sa in a.items():
        sb = b.get(k)
        if sb is None and len(b) == 1 and "total" in b:
            sb = b["total"]
        if sb is None:
            continue
        pts = {}
        for t, v in sa.points.items():
            w = sb.points.get(t)
            r = op(v, w) if w is not None else None
            if r is not None and math.isfinite(r):
                pts[t] = r
        out[k] = Series(sa.labels, pts)
    return out


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def signal(name: str, unit: str, group: dict[str, Series], target: Target, query: str,
           step: float = 0.0) -> Signal | None:
    """The rule in the module docstring, on one signal."""
    group = {k: s for k, s in group.items() if s.points}
    if not group:
        return None
    onset_ts = target.window.onset.timestamp()
    since = (target.window.onset - PRECURSOR).timestamp()
    by_series: dict[str, float] = {}
    worst_key, worst_val = "", -math.inf
    curve: Points = {}
    for k, s in group.items():
        inside = [v for t, v in s.points.items() if t >= since]
        if inside:
            by_series[k] = max(inside)
            if by_series[k] > worst_val:
                worst_key, worst_val = k, by_series[k]
        for t, v in s.points.items():
            curve[t] = max(curve.get(t, -math.inf), v)
    times = sorted(curve)
    ended = None
    if not by_series:
        # No series reaches PRECURSOR before the first timeout (a target no longer scraped, an answer for an
        # older range): their peaks, dated by `ended`, so that a check says its finding describes the past.
        ended = datetime.fromtimestamp(times[-1], timezone.utc)
        by_series = {k: max(s.points.values()) for k, s in group.items()}
        worst_key = max(by_series, key=lambda k: by_series[k])
    before = [curve[t] for t in times if t < onset_ts]
    baseline = statistics.median(before) if before else None
    onset = None
    if baseline is not None:
        mad = statistics.median(abs(v - baseline) for v in before) * 1.4826
        limit = baseline + max(REL * abs(baseline), MADS * mad, FLOOR.get(unit, 0.0))
        run = 0
        for i, t in enumerate(times):
            run = run + 1 if curve[t] > limit else 0
            if run >= SUSTAIN or (run and i == len(times) - 1):
                onset = datetime.fromtimestamp(times[i - run + 1], timezone.utc)
                break
    last_t = times[-1]
    return Signal(name=name, unit=unit, by_series=by_series, peak=max(by_series.values()) if by_series else None,
                  baseline=baseline, onset=onset, query=query,
                  worst=dict(group[worst_key].labels) if worst_key else {}, last=curve[last_t], ended=ended,
                  step=step)


# family -> [(signal name, unit, group keys, label match)]: the plain signals read straight off a family.
PLAIN: dict[str, list[tuple[str, str, tuple[str, ...], dict[str, str]]]] = {
    "cpu": [("cpu_usage_cores", "cores", ("pod",), {"kind": "usage"}),
            ("cpu_throttled_ratio", "ratio", ("pod",), {"kind": "throttled"})],
    "memory": [("memory_working_set_bytes", "bytes", ("pod",), {})],
    "resources": [("cpu_limit_cores", "cores", ("pod",), {"kind": "limit", "resource": "cpu"}),
                  ("memory_limit_bytes", "bytes", ("pod",), {"kind": "limit", "resource": "memory"}),
                  ("cpu_request_cores", "cores", ("pod",), {"kind": "request", "resource": "cpu"}),
                  ("memory_request_bytes", "bytes", ("pod",), {"kind": "request", "resource": "memory"})],
    "restarts": [("restarts", "count", ("pod",), {"kind": "restarts"}),
                 ("oom_killed", "count", ("pod",), {"kind": "oomkilled"})],
    "replicas": [("replicas_desired", "count", ("deployment",), {"kind": "desired"}),
                 ("replicas_available", "count", ("deployment",), {"kind": "available"})],
    "hpa": [("hpa_current_replicas", "count", ("hpa",), {"kind": "current"}),
            ("hpa_max_replicas", "count", ("hpa",), {"kind": "max"})],
    "traffic": [("request_rate", "per_second", (), {"kind": "requests"}),
                ("caller_request_rate", "per_second", (), {"kind": "source"}),
                ("retry_rate", "per_second", (), {"kind": "retry"})],
    "latency_upstream": [("upstream_latency_p99_ms", "ms", (), {})],
    "latency_caller": [("caller_latency_p99_ms", "ms", (), {})],
    "jvm_gc": [("gc_time_fraction", "ratio", ("pod",), {"kind": "time"}),
               ("gc_max_pause_seconds", "seconds", ("pod", "gc"), {"kind": "max_pause"})],
    "jvm_heap": [("heap_used_bytes", "bytes", ("pod",), {"kind": "used"}),
                 ("heap_max_bytes", "bytes", ("pod",), {"kind": "max"})],
    "go_runtime": [("go_gc_time_fraction", "ratio", ("pod",), {"kind": "gc_time"}),
                   ("go_gc_max_pause_seconds", "seconds", ("pod",), {"kind": "gc_max_pause"}),
                   ("go_goroutines", "count", ("pod",), {"kind": "goroutines"})],
    "node_network": [("tcp_retransmit_ratio", "ratio", ("instance",), {"kind": "retrans"}),
                     ("nic_errors_per_second", "per_second", ("instance",), {"kind": "errors"}),
                     ("nic_drops_per_second", "per_second", ("instance",), {"kind": "drops"})],
    "db_pool": [("db_pool_pending", "count", ("pod", "pool"), {"kind": "pending"}),
                ("db_pool_acquire_max_seconds", "seconds", ("pod", "pool"), {"kind": "acquire_max"})],
}

# Families whose series once carried no `kind` label (bundles written before): the kind they meant.
UNLABELLED = {"traffic": "requests"}

# derived signal -> (unit, (family, keys, match) numerator, (family, keys, match) denominator, op)
Part = tuple[str, tuple[str, ...], dict[str, str]]
DERIVED: dict[str, tuple[str, Part, Part, Callable[[float, float], float | None]]] = {
    "cpu_limit_ratio": ("ratio", ("cpu", ("pod",), {"kind": "usage"}),
                        ("resources", ("pod",), {"kind": "limit", "resource": "cpu"}), _ratio),
    "memory_limit_ratio": ("ratio", ("memory", ("pod",), {}),
                           ("resources", ("pod",), {"kind": "limit", "resource": "memory"}), _ratio),
    "heap_used_ratio": ("ratio", ("jvm_heap", ("pod",), {"kind": "used"}),
                        ("jvm_heap", ("pod",), {"kind": "max"}), _ratio),
    "hpa_at_max_ratio": ("ratio", ("hpa", ("hpa",), {"kind": "current"}),
                         ("hpa", ("hpa",), {"kind": "max"}), _ratio),
    "replicas_unavailable": ("count", ("replicas", ("deployment",), {"kind": "desired"}),
                             ("replicas", ("deployment",), {"kind": "available"}), lambda a, b: max(0.0, a - b)),
    "db_pool_active_ratio": ("ratio", ("db_pool", ("pod", "pool"), {"kind": "active"}),
                             ("db_pool", ("pod", "pool"), {"kind": "max"}), _ratio),
}


def load(files: RawFiles, target: Target) -> MetricsEvidence:
    families: dict[str, list[Series]] = {}
    query: dict[str, str] = {}
    missing: dict[str, str] = {}
    notes: list[str] = []
    step: dict[str, float] = {}
    for path in sorted(files):
        if not path.endswith(".json"):
            continue
        family = path.rsplit("/", 1)[-1][:-5]
        try:
            doc = json.loads(files[path])
        except (ValueError, UnicodeDecodeError) as exc:
            raise EvidenceError(f"prometheus/{path}: not JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise EvidenceError(f"prometheus/{path}: not a JSON object")
        query[family] = str(doc.get("query", ""))
        step[family] = _step(doc.get("step"))
        if doc.get("error"):
            missing[family] = f"query failed: {single_line(doc['error'], 300)}"
            continue
        resp = doc.get("response")
        for w in (resp.get("warnings") or []) if isinstance(resp, dict) else []:
            notes.append(f"{family}: Prometheus warned: {w}")
        unread: Counter[str] = Counter()
        series = _series(resp, f"prometheus/{path}", unread)
        unread.pop("NaN", None)          # no data, as Prometheus means it: not worth a note
        if unread:
            said = ", ".join(f"{n} {kind}" for kind, n in sorted(unread.items()))
            notes.append(f"{family}: samples with no reading left out ({said})")
        if not any(s.points for s in series):
            missing[family] = "no series in the window (not exported, or not scraped for these pods)"
            continue
        if family in UNLABELLED:
            # an answer from before the family had kinds: its one series is the plain one
            series = [x if "kind" in x.labels else Series({**x.labels, "kind": UNLABELLED[family]}, x.points)
                      for x in series]
        families[family] = series

    signals: dict[str, Signal] = {}
    for family, specs in PLAIN.items():
        if family not in families:
            continue
        for name, unit, keys, match in specs:
            sig = signal(name, unit, _group(families[family], keys, **match), target, query[family],
                         step.get(family, 0.0) or _spacing(families[family]))
            if sig is not None:
                signals[name] = sig
    for name, (unit, num, den, op) in DERIVED.items():
        if num[0] in families and den[0] in families:
            joined = _combine(_group(families[num[0]], num[1], **num[2]),
                              _group(families[den[0]], den[1], **den[2]), op)
            sig = signal(name, unit, joined, target, query[num[0]],
                         max(step.get(num[0], 0.0) or _spacing(families[num[0]]),
                             step.get(den[0], 0.0) or _spacing(families[den[0]])))
            if sig is not None:
                signals[name] = sig
    for name, why in (("cpu_limit_cores", "no CPU limit set on the pods (or kube-state-metrics absent)"),
                      ("memory_limit_bytes", "no memory limit set on the pods"),
                      ("gc_max_pause_seconds", "no GC pause series")):
        fam = next(f for f, specs in PLAIN.items() if any(s[0] == name for s in specs))
        if fam in families and name not in signals:
            missing[f"{fam}/{name}"] = why
    notes.extend(_partial(signals))
    deployment = None
    rep = signals.get("replicas_desired")
    if rep is not None:
        deployment = rep.worst.get("deployment")
    ns = target.namespace or target.incident.namespace
    return MetricsEvidence(signals=signals, missing=missing, notes=tuple(notes), namespace=ns,
                           deployment=deployment,
                           no_data=None if signals else _no_data(query, families, missing))


def _step(value: object) -> float:
    """The range query's step in seconds ("15", 15, "15s"); 0 when the file does not say."""
    text = str(value or "").strip().removesuffix("s")
    try:
        seconds = float(text)
    except ValueError:
        return 0.0
    return seconds if math.isfinite(seconds) and seconds > 0 else 0.0


def _spacing(series: Iterable[Series]) -> float:
    """The step when the file does not name it: the smallest gap between two samples of one series."""
    gaps = []
    for s in series:
        times = sorted(s.points)
        gaps += [b - a for a, b in zip(times, times[1:], strict=False)]
    return min(gaps, default=0.0)


def _no_data(asked: Mapping[str, str], families: Mapping[str, list[Series]], missing: Mapping[str, str]) -> str:
    """Why no signal came of the answers, in one line: what a person checks next."""
    failed = [f for f in asked if missing.get(f, "").startswith("query failed")]
    if asked and len(failed) == len(asked):
        return f"every one of the {len(asked)} queries failed (first: {missing[failed[0]]})"
    if not families:
        also = f" ({len(failed)} of them failed)" if failed else ""
        return (f"no series for any of the {len(asked)} families asked{also}: are the metric names or labels "
                "different here?")
    return (f"the {len(families)} families with series held none of the labels the signals are read from "
            f"({', '.join(sorted(families))}): are the metric names or labels different here?")


def _partial(signals: Mapping[str, Signal]) -> list[str]:
    """Pods seen by one pod-level family but not by another: partial answers, said rather than hidden."""
    pod_sets = {n: set(s.by_series) for n, s in signals.items()
                if n in ("cpu_usage_cores", "memory_working_set_bytes", "gc_time_fraction")}
    if not pod_sets:
        return []
    every = set().union(*pod_sets.values())
    return [f"{n}: series for {len(p)}/{len(every)} pods only" for n, p in pod_sets.items() if len(p) < len(every)]
