"""A generated scenario as a bundle: the fixture writers' files for its causes, renamed to its cast.

Each source's files come from its fixture writer (fixtures/build/<source>.py) for the scenario the cause
names there ("overload", "database", ... or "healthy"); two causes take the Kubernetes documents of the one
that shows in them and merge the Prometheus stories. The writers' canonical names are then replaced by the
cast's (bench/scenarios/cast.py) in the sources' native inputs: the Kubernetes documents before the real
source's call plan runs against them, the OpenMetrics text before a real Prometheus is backfilled and
queried by the real source. So every file is what the live source would have written for that cluster.

Layout: <dest>/bundle/ (what `diagnose analyze` reads) and <dest>/truth.json (what the tool never sees).
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from dataclasses import fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from diagnose.bundle.store import write
from diagnose.logs.scan import scan
from diagnose.model.evidence import SourceStatus
from diagnose.model.incident import Window
from fixtures.build import kubernetes as kube_writer
from fixtures.build import postgres as pg_writer
from fixtures.build import prometheus as prom_writer
from fixtures.build import scenario as canon
from fixtures.build import thread_dumps as dump_writer

from .cast import rename_text, renames
from .generate import Scenario
from .logs import log_lines

ONSET, LAST = canon.ONSET, canon.LAST
SKIP_REASONS = {"kubernetes": "no kubeconfig found and not running in a cluster",
                "prometheus": "no --prometheus-url given (nor PROMETHEUS_URL)",
                "postgres": "no --pg-dsn given (nor PGHOST/PGSERVICE)",
                "thread-dumps": "no --thread-dumps given"}
ERRORS = {"kubernetes": 'pods is forbidden: User "system:serviceaccount:ops:diagnose" cannot list resource "pods"',
          "prometheus": "cannot reach http://prometheus.monitoring:9090: connection refused",
          "postgres": "connection to server at \"db\" (10.0.9.4), port 5432 failed: timeout expired",
          "thread-dumps": "cannot read /dumps: permission denied"}


def window_of(sc: Scenario) -> Window:
    if sc.window == "postmortem":
        return Window(start=ONSET - timedelta(hours=2), end=LAST + timedelta(hours=1), onset=ONSET)
    return Window(start=canon.WINDOW_START, end=canon.WINDOW_END, onset=ONSET)


def _writer_name(sc: Scenario, source: str) -> str:
    """The fixture scenario whose files this source gets."""
    c = set(sc.causes)
    if source == "kubernetes":
        kube = [x for x in sc.causes if x in ("overload", "network", "mesh-timeout")]
        if kube:
            return kube[0]
        return sc.gc_variant if "gc-pause" in c else "healthy"
    if source == "postgres":
        return "database" if "database" in c else "healthy"
    if source == "thread-dumps":
        return "deadlock" if "deadlock" in c else "database" if "database" in c else "healthy"
    raise KeyError(source)


# ---------------------------------------------------------------- Prometheus


def _size(r: Any) -> float:
    return max(abs(r.base), abs(r.to if r.to is not None else r.base)) if isinstance(r, prom_writer.Ramp) else 0


def story(sc: Scenario) -> prom_writer.Story:
    """The causes' stories merged: a field either cause moves takes that cause's curve (the larger when both
    move it: two causes both raising p99 show the higher)."""
    base = prom_writer.Story()
    merged = base
    for cause in sc.causes:
        s = prom_writer.STORIES[sc.gc_variant if cause == "gc-pause" else cause]
        for f in fields(s):
            mine, theirs = getattr(merged, f.name), getattr(s, f.name)
            if theirs != getattr(base, f.name) and (mine == getattr(base, f.name) or _size(theirs) > _size(mine)):
                merged = replace(merged, **{f.name: theirs})
    return replace(merged, gc_flavour=sc.gc_flavour, families=sc.families)


def _merge_openmetrics(*texts: str) -> str:
    """One OpenMetrics text from several: each family's samples under its one # TYPE line."""
    fams: dict[str, list[str]] = {}
    for text in texts:
        head = ""
        for line in text.splitlines():
            if line.startswith("# EOF") or not line:
                continue
            if line.startswith("# TYPE"):
                head = line
                fams.setdefault(head, [])
            else:
                fams[head].append(line)
    return "\n".join(line for head, samples in fams.items() for line in (head, *samples)) + "\n# EOF\n"


def prometheus_files(sc: Scenario, pairs: list[tuple[str, str]], target: Any) -> dict[str, bytes]:
    from diagnose.sources import prometheus as source
    from diagnose.sources.base import SourceOptions
    from tests.servers.prometheus import PrometheusServer

    w = window_of(sc)
    start, end = w.start - timedelta(minutes=10), w.end + timedelta(minutes=1)
    texts = [prom_writer.openmetrics(story(sc), start, end)]
    if "hot-pod-other-namespace" in sc.herrings:
        # The same deployment in another namespace (a canary, a load test) burning CPU at its limit all along.
        hot = prom_writer.Story(cpu=prom_writer.Ramp(0.98), throttled=prom_writer.Ramp(0.6),
                                namespace=f"{canon.NAMESPACE}-canary", pods=(canon.PODS[0],), families=("cadvisor",))
        texts.append(prom_writer.openmetrics(hot, start, end))
    text = rename_text(_merge_openmetrics(*texts), pairs)
    with PrometheusServer(text) as server:
        return source.collect(SourceOptions(prometheus_url=server.url, timeout=60), target, time.monotonic() + 60)


# ---------------------------------------------------------------- Kubernetes

_LABEL_HOLDERS = ("labels", "matchLabels", "selector")


def _relabel(doc: Any, key: str) -> Any:
    """The writers label every workload `app` (and `app.kubernetes.io/name`); this cluster uses `key` alone."""
    if isinstance(doc, list):
        return [_relabel(x, key) for x in doc]
    if not isinstance(doc, dict):
        return doc
    out = {}
    for k, v in doc.items():
        if k in _LABEL_HOLDERS and isinstance(v, dict) and "app" in v and all(isinstance(x, str) for x in v.values()):
            name = v["app"]
            v = {kk: vv for kk, vv in v.items() if kk not in ("app", "app.kubernetes.io/name")} | {key: name}
        out[k] = _relabel(v, key)
    return out


def _rollout_before(docs: dict[str, Any], at: datetime) -> None:
    """The upstream's current ReplicaSet created at `at` (a rollout before the window), not two days ago."""
    for path, doc in docs.items():
        if path.endswith("/replicasets"):
            for rs in doc["items"]:
                if rs["metadata"]["name"] == canon.REPLICASET:
                    rs["metadata"]["creationTimestamp"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")


def kubernetes_files(sc: Scenario, pairs: list[tuple[str, str]], incident: Any, rng: random.Random,
                     ) -> dict[str, bytes]:
    from diagnose.sources.kubernetes import gather

    docs = kube_writer.cluster(_writer_name(sc, "kubernetes"))
    if "rollout-outside-window" in sc.herrings:
        _rollout_before(docs, window_of(sc).start - timedelta(hours=rng.randint(2, 30)))
    text = json.dumps(_relabel(docs, sc.cast.label_key))
    # the caller's own deadline, as its env says
    text = text.replace('"UPSTREAM_TIMEOUT_MS", "value": "10000"',
                        f'"UPSTREAM_TIMEOUT_MS", "value": "{sc.cast.timeout_ms}"')
    docs = json.loads(rename_text(text, pairs))

    def get(path: str, query: Any, timeout: float) -> tuple[int, bytes]:
        status, doc = kube_writer.answer(docs, path, dict(query))
        return status, json.dumps(doc).encode()

    ns = incident.namespace or sc.cast.namespace
    return gather(get, ns, incident.upstream, incident.service, deadline=float("inf"), clock=lambda: 0.0)


# ---------------------------------------------------------------- files written to a folder by a writer


def _folder(writer: Any, name: str, pairs: list[tuple[str, str]]) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        writer.write(name, Path(tmp))
        return {rename_text(p.relative_to(tmp).as_posix(), pairs):
                rename_text(p.read_text(encoding="utf-8"), pairs).encode()
                for p in sorted(Path(tmp).rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- the bundle


def write_bundle(sc: Scenario, dest: Path) -> Path:
    """Write <dest>/bundle and <dest>/truth.json; returns the bundle's path."""
    rng = random.Random(sc.seed * 7919 + 1)
    pairs = renames(sc.cast)
    raw_log = log_lines(sc)
    found = scan(["incident.log"], streams={"incident.log": raw_log})     # the log as written, in memory
    incident = found.incidents[0]
    window = window_of(sc)
    from diagnose.model.target import Target

    namespace = incident.namespace or sc.cast.namespace
    target = Target(incident=incident, window=window, namespace=namespace)
    statuses: dict[str, SourceStatus] = {}
    files: dict[str, dict[str, bytes]] = {}
    for source, state in sc.sources.items():
        if state == "skipped":
            statuses[source] = SourceStatus(source, "skipped", SKIP_REASONS[source])
            continue
        if state == "error":
            statuses[source] = SourceStatus(source, "error", ERRORS[source], 3)
            continue
        if source == "kubernetes":
            got = kubernetes_files(sc, pairs, incident, rng)
        elif source == "prometheus":
            got = prometheus_files(sc, pairs, target)
        elif source == "postgres":
            got = _folder(pg_writer, _writer_name(sc, source), pairs)
        else:
            got = _folder(dump_writer, _writer_name(sc, source), pairs)
        files[source] = got
        statuses[source] = SourceStatus(source, "ok", None, 0)
    dest.mkdir(parents=True, exist_ok=True)
    bundle = dest / "bundle"
    write(bundle, incident=incident, window=window, namespace=namespace, sources=statuses, files=files,
          log_lines=raw_log, log_info={"lines": found.lines, "skipped": found.skipped, "kept": incident.events,
                                       "truncated": False}, created=window.end)
    truth = sc.truth()
    truth["incident"] = {"service": incident.service, "upstream": incident.upstream, "namespace": namespace}
    (dest / "truth.json").write_text(json.dumps(truth, indent=1, default=str) + "\n")
    return bundle
