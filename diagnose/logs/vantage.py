"""One incident from several vantage points: the caller's own log, its sidecar's access log, the ingress
controller's log, of the same failing calls (docs/logs.md "Several vantage points").

Events are grouped per view (group.Key: signal, caller, upstream, via). Then:
1. `attribute`, per file: a proxy's lines name no caller but the proxy ("envoy", "nginx"), and a text line
   may name none at all ("unknown"); the file says whose they are when its path does (`caller_of_path`:
   the kubelet's log paths, or a file named after its workload), as a `kubectl logs --prefix` pod does.
2. `fold`: a proxy's view still without a caller joins the caller's own view of the same signal and
   upstream whose time span overlaps it (with several, the one whose count is closest): those are the
   caller's calls, seen from its sidecar or its ingress.
3. Views of one (signal, caller, upstream) become one incident. The same calls are counted once (the most
   any view saw, not the sum); the caller's deadline and durations come from the caller's own view (a
   proxy's clock measures the proxy); times are the union; each view is kept in `seen_by`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Iterable, Mapping

from ..model.incident import Incident, Percentiles, View
from ..model.names import is_dns_label
from .group import GroupAcc, Groups, Key
from .histogram import LogHistogram
from .timestamps import to_datetime
from .wrappers import DEFAULT_CALLERS, workload

APP = "app"                  # the view of the caller's own log, in seen_by
# Two views whose spans are this close (seconds) are of the same calls: log shippers and proxies stamp
# a call at its start or its end, up to a request's length apart.
OVERLAP_S = 60.0

# The kubelet's own log files (the fluentd/Fluent Bit `tail` inputs read them): /var/log/pods/
# <namespace>_<pod>_<uid>/<container>/<n>.log, and the /var/log/containers/<pod>_<namespace>_<container>-
# <container id>.log links to them (kubelet kuberuntime_logs; fluentd-kubernetes-daemonset's `path
# /var/log/containers/*.log`).
_KUBELET_POD_DIR = re.compile(r"(?P<ns>[a-z0-9-]+)_(?P<pod>[a-z0-9.-]+)_[0-9a-f-]{8,}")
_KUBELET_LINK = re.compile(r"(?P<pod>[a-z0-9.-]+)_(?P<ns>[a-z0-9-]+)_[a-z0-9-]+-[0-9a-f]{64}\.log")
_EXTENSIONS = (".gz", ".log", ".txt", ".json", ".jsonl", ".ndjson", ".out")
_ROTATED = re.compile(r"(?:[.-]\d+|[.-]\d{8}(?:-?\d{6})?)$")
# Names that say what a file is, not whose: "envoy.log", "app-error.log", "access.log".
_WHAT = frozenset({"app", "application", "log", "logs", "access", "error", "errors", "envoy", "nginx", "haproxy",
                   "ingress", "proxy", "sidecar", "istio-proxy", "stdout", "stderr", "output", "combined",
                   "server", "current", "service", "messages", "syslog", "container", "debug", "info", "main"})
_TRAILING_WHAT = frozenset({"envoy", "sidecar", "proxy", "nginx", "haproxy", "access", "error", "errors", "stdout",
                            "stderr", "log", "logs"})
_PROXY_WORDS = frozenset({"envoy", "nginx", "haproxy", "istio", "proxy", "sidecar", "ingress", "linkerd", "traefik"})
_KUBELET_FILE = re.compile(r"\d+\.log(?:\.\d+|\.gz|\.\d+\.gz)?")


def pod_of_path(path: str) -> str | None:
    """The pod a log file is of, when its path says: the kubelet's files and links, the pod-logs source's."""
    p = PurePosixPath(path.replace("\\", "/"))
    parts = p.parts
    if len(parts) >= 3 and (m := _KUBELET_POD_DIR.fullmatch(parts[-3])) and _KUBELET_FILE.fullmatch(parts[-1]):
        return m.group("pod")
    if (m := _KUBELET_LINK.fullmatch(p.name)):
        return m.group("pod")
    if len(parts) >= 3 and parts[-3] == "pod-logs":      # the pod-logs source: pod-logs/<pod>/<container>.log
        return parts[-2]
    return None


def caller_of_path(path: str) -> tuple[str, bool] | None:
    """The workload whose log a file is, from its path, and whether the path names its pod (a kubelet or
    pod-logs path: any unnamed caller is that pod's workload) or only its proxy's file (the proxy's lines
    are that workload's calls); None when the path does not say."""
    if path == "-":
        return None
    pod = pod_of_path(path)
    if pod is not None:
        return workload(pod), True
    stem = PurePosixPath(path.replace("\\", "/")).name.lower()
    for _ in range(3):
        for ext in _EXTENSIONS:
            stem = stem.removesuffix(ext)
        stem = _ROTATED.sub("", stem)
    words = stem.replace("_", "-").split("-")
    # Only a name that says it is a workload's proxy log names the workload: `frontend-api-envoy.log`,
    # `checkout_istio-proxy.log`. `k.log` or `sample.log` may be anyone's; `envoy-json-sample.log` and
    # `ingress-nginx-controller.log` say what wrote the file, not whose calls it holds.
    proxy = False
    while len(words) > 1 and words[-1] in _TRAILING_WHAT:
        proxy = proxy or words[-1] in _PROXY_WORDS
        words.pop()
        if len(words) > 1 and words[-1] == "istio":
            words.pop()
    if not proxy or any(w in _PROXY_WORDS for w in words):
        return None
    name = workload("-".join(words))
    if not name or name in _WHAT or not is_dns_label(name) or not any(c.isalpha() for c in name):
        return None
    return name, False


def attribute(groups: Groups, path: str) -> Groups:
    """The file's groups with the workload its path names in place of a proxy's caller ("envoy") or an
    unnamed one ("unknown"). A file name alone names only a proxy's caller: a text log called
    `spring-boot-sample.log` says nothing of whose it is, `frontend-api-envoy.log` does."""
    said = caller_of_path(path)
    if said is None:
        return groups
    caller, sure = said

    def whose(who: str, via: str) -> str:
        return caller if who in DEFAULT_CALLERS and (sure or via) else who

    if sure:       # a kubelet or pod-logs path: every event of the file is that pod's
        pod = pod_of_path(path)
        for acc in groups.signals.values():
            unnamed = acc.events - sum(acc.pods.values())
            if pod and unnamed > 0:
                acc.pods[pod] += unnamed
    if all(whose(k[1], k[3]) == k[1] for k in groups.signals):
        return groups
    out = Groups(failures=Counter(), dropped=groups.dropped)
    for (signal, who, upstream, via), acc in groups.signals.items():
        key = (signal, whose(who, via), upstream, via)
        mine = out.signals.get(key)
        if mine is None:
            out.signals[key] = acc
        else:
            mine.merge(acc, len(mine.kept) + len(acc.kept))
    for (who, upstream), n in groups.failures.items():
        out.failures[(whose(who, "proxy"), upstream)] += n
    return out


@dataclass
class _Folded:
    views: list[tuple[str, GroupAcc]] = field(default_factory=list)     # (via, acc), the caller's own first

    def add(self, via: str, acc: GroupAcc) -> None:
        self.views.append((via, acc))
        self.views.sort(key=lambda va: (va[0] != "", -va[1].events, va[0]))


def fold(groups: Groups, keep: int, names: Mapping[str, str] | None = None,
         ) -> tuple[list[Incident], dict[tuple[str, str, str], list[bytes]]]:
    """The incidents (most events first) and the raw lines kept for each (signal, caller, upstream).
    `names`: upstreams named since (an address -> its Service): the calls to every address of one Service
    are then one incident."""
    if names:
        renamed = Groups(failures=groups.failures, dropped=groups.dropped)
        for (signal, caller, upstream, via), acc in groups.signals.items():
            key = (signal, caller, names.get(upstream, upstream), via)
            mine = renamed.signals.get(key)
            if mine is None:
                renamed.signals[key] = _copy(acc)
            else:
                mine.merge(acc, keep)
        groups = renamed
    owners: dict[Key, str] = {}
    own = [(k, a) for k, a in groups.signals.items() if k[3] == "" and k[1] not in DEFAULT_CALLERS]
    for key, acc in groups.signals.items():
        signal, caller, upstream, via = key
        if not via or caller not in DEFAULT_CALLERS:
            continue
        near = [(k, a) for k, a in own if k[0] == signal and k[2] == upstream and _overlap(acc, a)]
        if near:
            best = min(near, key=lambda ka: (abs(ka[1].events - acc.events), ka[0][1]))
            owners[key] = best[0][1]

    folded: dict[tuple[str, str, str], _Folded] = {}
    for key, acc in groups.signals.items():
        signal, caller, upstream, via = key
        folded.setdefault((signal, owners.get(key, caller), upstream), _Folded()).add(via, acc)

    found: list[Incident] = []
    kept: dict[tuple[str, str, str], list[bytes]] = {}
    for triple, f in folded.items():
        found.append(_incident(triple, f))
        lines = [ln for _, a in f.views for ln in a.kept][:keep]
        if lines:
            kept[triple] = lines
    far = float("inf")
    found.sort(key=lambda i: (-i.events, i.first_seen.timestamp() if i.first_seen else far,
                              i.service, i.upstream, i.signal))
    return found, kept


def _copy(acc: GroupAcc) -> GroupAcc:
    """A group to merge others into, leaving the scan's own untouched (it may be folded again)."""
    out = GroupAcc()
    out.merge(acc, len(acc.kept))
    return out


def _calls(accs: list[GroupAcc]) -> int:
    """How many calls the views saw: per pod, the most any view saw of that pod's (its app's lines and its
    sidecar's are the same calls; two pods' are not), when every event's pod is known; else the most any
    view saw."""
    if len(accs) > 1 and all(a.pods and sum(a.pods.values()) == a.events for a in accs):
        pods = {p for a in accs for p in a.pods}
        return sum(max(a.pods.get(p, 0) for a in accs) for p in pods)
    return max(a.events for a in accs)


def _overlap(a: GroupAcc, b: GroupAcc) -> bool:
    if a.first is None or a.last is None or b.first is None or b.last is None:
        return True            # no times to tell them apart: the same upstream, the same signal
    return a.first <= b.last + OVERLAP_S and b.first <= a.last + OVERLAP_S


def _mode(c: Counter[Any]) -> Any:
    # Most common; ties go to the smaller value so the answer does not depend on file order.
    return min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] if c else None


def _first(values: Iterable[Any]) -> Any:
    return next((v for v in values if v is not None), None)


def _incident(key: tuple[str, str, str], f: _Folded) -> Incident:
    accs = [a for _, a in f.views]          # the caller's own view first, when there is one
    events = _calls(accs)
    firsts = [a.first for a in accs if a.first is not None]
    lasts = [a.last for a in accs if a.last is not None]
    first, last = (min(firsts) if firsts else None), (max(lasts) if lasts else None)
    span_min = (last - first) / 60 if first is not None and last is not None else 0.0
    timeout = _first(_mode(a.timeouts) for a in accs)
    durations = next((a.durations for a in accs if a.durations.count), LogHistogram())
    namespaces: Counter[str] = Counter()
    for a in accs:
        namespaces.update(a.namespaces)
    ns = _mode(namespaces)
    seen_by: tuple[View, ...] = ()
    if any(via for via, _ in f.views):
        seen_by = tuple(View(via or APP, a.events, tuple(sorted(a.details.items(), key=lambda kv: (-kv[1], kv[0]))))
                        for via, a in f.views)
    return Incident(
        signal=key[0], service=key[1], upstream=key[2], events=events,
        first_seen=to_datetime(first), last_seen=to_datetime(last),
        timeout_ms=float(timeout) if isinstance(timeout, (int, float)) else None,
        duration_ms=Percentiles(durations.quantile(0.5), durations.quantile(0.99), durations.max),
        namespace=str(ns) if ns else None,
        rate_per_min=events / span_min if span_min > 0 else None,
        seen_by=seen_by,
    )
