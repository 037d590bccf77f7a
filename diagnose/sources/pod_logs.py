"""The pods' own logs, read through the Kubernetes API (`pods/log`), so that no log file is needed.

`--from deploy/NAME` (also `sts/`, `ds/`, `rs/`, `job/`, `pod/NAME`) or `-l SELECTOR` names the pods;
every container of each pod is read (native sidecars, the `initContainers` with `restartPolicy: Always`,
included), and the previous container of one that restarted. Each answer is bounded: `sinceSeconds`
(`--since`), `limitBytes` (`--pod-log-bytes`, shared by a pod's containers), the --timeout budget.

The files are what `kubectl logs --prefix --timestamps` prints: `[pod/NAME/CONTAINER] <RFC 3339 time> <line>`
(the API's `timestamps=true` lines, prefixed), one `<pod>/<container>.log` each (`.previous.log` for the
restarted one), so the log scanner reads them with its kubectl wrapper (the pod's workload is the caller)
and a bundle keeps them as a person would read them. `collection.json` says what was asked and answered.
Names reach a URL only as validated path parameters (`ApiPath`).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Callable, Mapping

from ..errors import SourceError
from ..model.names import is_dns_label, is_dns_subdomain, is_label_key, is_label_value
from .base import Option, RawFiles, SourceOptions, Target
from .bounded import AnswerTooLarge, Watchdog
from .http_words import http_status
from .kubernetes import IMPORTS as KUBE_IMPORTS
from .kubernetes import ApiPath, CallTimeout, Getter, _api_client, _live_getter
from .private_tmp import private_dir

NAME = "pod-logs"
IMPORTS = KUBE_IMPORTS
DEFAULT_POD_BYTES = 4 << 20       # per pod, shared by its containers: 64 pods hold at most 256 MiB
MAX_PODS = 64
MIN_CALL_S = 0.05
OPTIONS = (
    Option("from", "Read the logs of these pods through the Kubernetes API: deploy/NAME, sts/NAME, ds/NAME, "
                   "rs/NAME, job/NAME or pod/NAME (in --namespace); instead of, or besides, --log."),
    Option("selector", "Read the logs of the pods matching this label selector (as kubectl -l).", short="-l"),
    Option("since", "With --from/-l: only log lines newer than this (30m, 2h, 90s; default: all the API keeps)."),
    Option("pod-log-bytes", f"With --from/-l: at most this many bytes of log per pod (limitBytes; default "
                            f"{DEFAULT_POD_BYTES >> 20} MiB)."),
)

# kubectl's resource words -> (API path of the collection, kind)
_KINDS: Mapping[str, tuple[str, str]] = {
    **dict.fromkeys(("deploy", "deployment", "deployments"), ("/apis/apps/v1/namespaces/{namespace}/deployments",
                                                              "Deployment")),
    **dict.fromkeys(("sts", "statefulset", "statefulsets"), ("/apis/apps/v1/namespaces/{namespace}/statefulsets",
                                                            "StatefulSet")),
    **dict.fromkeys(("ds", "daemonset", "daemonsets"), ("/apis/apps/v1/namespaces/{namespace}/daemonsets",
                                                       "DaemonSet")),
    **dict.fromkeys(("rs", "replicaset", "replicasets"), ("/apis/apps/v1/namespaces/{namespace}/replicasets",
                                                         "ReplicaSet")),
    **dict.fromkeys(("job", "jobs"), ("/apis/batch/v1/namespaces/{namespace}/jobs", "Job")),
    **dict.fromkeys(("po", "pod", "pods"), ("/api/v1/namespaces/{namespace}/pods", "Pod")),
}
_SINCE = re.compile(r"(?:(\d{1,6})h)?(?:(\d{1,7})m)?(?:(\d{1,9})s)?")
# One requirement of a label selector (k8s.io/apimachinery labels.Parse): key, !key, key=v, key==v, key!=v,
# key in (v1,v2), key notin (v1,v2). Keys and values are checked on their own afterwards.
_TERM = re.compile(r"\s*(?:(?P<not>!)\s*(?P<nkey>[^\s=!,()]+)|(?P<key>[^\s=!,()]+)\s*"
                   r"(?:(?P<op>==|=|!=)\s*(?P<val>[^\s=!,()]*)|\s(?P<set>in|notin)\s*\((?P<vals>[^()]*)\))?)\s*")


def skip_reason(opts: SourceOptions) -> str | None:
    return None if opts.get("from") or opts.get("selector") else "no --from or -l given"


def parse_from(text: str) -> tuple[str, str, str]:
    """`deploy/NAME` -> (collection path template, kind, NAME); ValueError naming what is wrong."""
    word, sep, name = text.partition("/")
    if not sep or word.lower() not in _KINDS:
        raise ValueError(f"--from {_shown(text)}: expected KIND/NAME with KIND one of deploy, sts, ds, rs, job, pod")
    if not is_dns_subdomain(name):
        raise ValueError(f"--from {_shown(text)}: {_shown(name)} is not a Kubernetes object name")
    path, kind = _KINDS[word.lower()]
    return path, kind, name


def parse_selector(text: str) -> str:
    """The selector as given, when every requirement is label syntax; ValueError otherwise."""
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(text + ","):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            terms.append(text[start:i])
            start = i + 1
    for term in terms:
        m = _TERM.fullmatch(term)
        keys = [m["nkey"] or m["key"]] if m else []
        vals = ([m["val"]] if m["op"] else [v.strip() for v in m["vals"].split(",")] if m["set"] else []) if m else []
        if not m or not all(is_label_key(k) for k in keys) or not all(is_label_value(v) for v in vals):
            raise ValueError(f"-l {_shown(text)}: {_shown(term.strip())} is not a label selector requirement")
    return text


def parse_since(text: str) -> int:
    """`30m` -> 1800 seconds (Go durations of h, m and s, as kubectl --since); ValueError otherwise."""
    m = _SINCE.fullmatch(text.strip())
    if not text.strip() or m is None or not any(m.groups()):
        raise ValueError(f"--since {_shown(text)}: expected a duration such as 30m, 2h or 90s")
    h, mi, s = (int(g or 0) for g in m.groups())
    seconds = h * 3600 + mi * 60 + s
    if seconds <= 0:
        raise ValueError(f"--since {_shown(text)}: must be more than 0 seconds")
    return seconds


def parse_bytes(text: object) -> int:
    if text is None or text == "":
        return DEFAULT_POD_BYTES
    m = re.fullmatch(r"(\d{1,12})\s*(|b|k|kb|kib|m|mb|mib)", str(text).strip().lower())
    if m is None:
        raise ValueError(f"--pod-log-bytes {_shown(str(text))}: expected a size such as 4MiB or 65536")
    n = int(m[1]) * {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10}.get(m[2], 1 << 20)
    if not 1024 <= n <= 1 << 30:
        raise ValueError(f"--pod-log-bytes {_shown(str(text))}: between 1KiB and 1GiB")
    return n


def _shown(value: str) -> str:
    return repr(value[:80] + ("..." if len(value) > 80 else ""))


def selector_of(workload: Mapping[str, Any]) -> str | None:
    """`k=v,k in (a,b),...` from a workload's spec.selector (matchLabels and matchExpressions), or None."""
    sel = (workload.get("spec") or {}).get("selector") or {}
    terms = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or ():
        key, op, values = e.get("key"), str(e.get("operator", "")), [str(v) for v in e.get("values") or ()]
        terms.append({"In": f"{key} in ({','.join(values)})", "NotIn": f"{key} notin ({','.join(values)})",
                      "Exists": f"{key}", "DoesNotExist": f"!{key}"}.get(op, ""))
    if not terms or "" in terms:
        return None
    try:
        return parse_selector(",".join(terms))
    except ValueError:
        return None


def containers_of(pod: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """(container, restarted) for every container that writes a log while the pod serves: the app
    containers and the native sidecars (init containers with restartPolicy Always)."""
    spec = pod.get("spec") or {}
    names = [str(c.get("name")) for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    names += [str(c.get("name")) for c in spec.get("containers") or ()]
    status = pod.get("status") or {}
    restarted = {str(s.get("name")) for s in (status.get("containerStatuses") or []) +
                 (status.get("initContainerStatuses") or [])
                 if int(s.get("restartCount") or 0) > 0 or (s.get("lastState") or {}).get("terminated")}
    return [(n, n in restarted) for n in names]


def gather(get: Getter, namespace: str, source: str | None, selector: str | None, since_s: int | None,
           pod_bytes: int, deadline: float, clock: Callable[[], float] = time.monotonic) -> RawFiles:
    """Every call this source makes, in order: the workload, its pods, then each container's log."""
    if not is_dns_label(namespace):
        raise SourceError(f"namespace {_shown(namespace)} is not a namespace name (DNS-1123 label): "
                          "nothing was queried")
    calls: list[dict[str, object]] = []
    errors: dict[str, str] = {}
    files: RawFiles = {}

    def call(path: ApiPath, query: Mapping[str, str]) -> tuple[int, bytes] | None:
        left = deadline - clock()
        if left < MIN_CALL_S:
            errors[str(path)] = "not collected: the --timeout budget was spent"
            return None
        try:
            status, body = get(path, query, left)
        except (CallTimeout, AnswerTooLarge) as e:
            calls.append({"path": path, "query": dict(query), "status": "error"})
            errors[str(path)] = str(e)
            return None
        calls.append({"path": path, "query": dict(query), "status": status})
        return status, body

    def document(path: ApiPath, query: Mapping[str, str]) -> dict[str, Any]:
        answer = call(path, query)
        if answer is None:
            raise SourceError(errors.get(str(path), f"{path}: no answer"))
        status, body = answer
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if not 200 <= status < 300 or not isinstance(doc, dict):
            why = doc.get("message") if isinstance(doc, dict) else None
            raise SourceError(f"{path}: {http_status(status)}" + (f" ({str(why)[:200]})" if why else ""))
        return doc

    pods_path = ApiPath("/api/v1/namespaces/{namespace}/pods", namespace=namespace)
    if source:
        template, kind, name = parse_from(source)
        obj = document(ApiPath(template + "/{name}", namespace=namespace, name=name), {})
        if kind == "Pod":
            pods = [obj]
        else:
            sel = selector_of(obj)
            if sel is None:
                raise SourceError(f"{kind} {namespace}/{name} has no label selector this tool can use")
            if selector:
                sel = f"{sel},{selector}"
            pods = list(document(pods_path, {"labelSelector": sel}).get("items") or ())
    else:
        pods = list(document(pods_path, {"labelSelector": parse_selector(selector or "")}).get("items") or ())
    pods.sort(key=lambda p: str((p.get("metadata") or {}).get("name")))
    if not pods:
        raise SourceError(f"no pods match {source or '-l ' + str(selector)} in namespace {namespace}")
    if len(pods) > MAX_PODS:
        errors["pods"] = f"{len(pods)} pods match: the logs of the first {MAX_PODS} (by name) were read"
    truncated: list[str] = []
    read = 0
    for pod in pods[:MAX_PODS]:
        pod_name = str((pod.get("metadata") or {}).get("name"))
        if not is_dns_subdomain(pod_name):
            errors[_shown(pod_name)] = "not read: not a pod name"
            continue
        left = pod_bytes
        for container, restarted in containers_of(pod):
            if not is_dns_label(container):
                errors[f"{pod_name}/{_shown(container)}"] = "not read: not a container name"
                continue
            for previous in ((False, True) if restarted else (False,)):
                if left <= 0:
                    truncated.append(f"{pod_name}/{container}" + (" (previous)" if previous else ""))
                    continue
                query = {"container": container, "timestamps": "true", "limitBytes": str(left)}
                if since_s:
                    query["sinceSeconds"] = str(since_s)
                if previous:
                    query["previous"] = "true"
                path = ApiPath("/api/v1/namespaces/{namespace}/pods/{name}/log", namespace=namespace, name=pod_name)
                answer = call(path, query)
                where = f"{pod_name}/{container}" + (" (previous)" if previous else "")
                if answer is None:
                    errors[where] = errors.pop(str(path), "no answer")
                    continue
                status, body = answer
                if not 200 <= status < 300:
                    errors[where] = _status_text(status, body)
                    continue
                read += 1
                if len(body) >= left:           # cut by limitBytes: the last line may be cut too
                    truncated.append(where)
                    body = body[:body.rfind(b"\n") + 1]
                left -= len(body)
                prefix = f"[pod/{pod_name}/{container}] ".encode()
                lines = [prefix + line for line in body.splitlines() if line.strip()]
                files[f"{pod_name}/{container}{'.previous' if previous else ''}.log"] = \
                    b"".join(line + b"\n" for line in lines)
    if read == 0:
        raise SourceError(f"no log could be read ({next(iter(errors.values()), 'no container')})")
    files["collection.json"] = (json.dumps({
        "namespace": namespace, "from": source, "selector": selector, "since_seconds": since_s,
        "limit_bytes_per_pod": pod_bytes, "pods": len(pods), "calls": calls, "errors": errors,
        "truncated": truncated}, indent=1) + "\n").encode()
    return files


def _status_text(status: int, body: bytes) -> str:
    """A refused log call in one line: the API's Status message (400 for a container with no previous)."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    message = doc.get("message") if isinstance(doc, dict) else None
    return http_status(status) + (f": {str(message)[:200]}" if message else "")


def collect(opts: SourceOptions, target: Target, deadline: float) -> RawFiles:
    """Called before the incident is known (the logs make it): `target` gives nothing but the namespace."""
    try:
        since = parse_since(str(opts.get("since"))) if opts.get("since") else None
        pod_bytes = parse_bytes(opts.get("pod_log_bytes"))
        source = str(opts.get("from")) if opts.get("from") else None
        selector = parse_selector(str(opts.get("selector"))) if opts.get("selector") else None
        if source:
            parse_from(source)
    except ValueError as e:
        raise SourceError(str(e)) from None
    with private_dir("diagnose-kube-") as temp_dir:
        api, ctx_ns = _api_client(opts, temp_dir)
        dog = Watchdog(deadline)
        try:
            ns = opts.namespace or target.namespace or ctx_ns or "default"
            return gather(_live_getter(api, dog, opts.max_response_bytes), ns, source, selector, since, pod_bytes,
                          deadline)
        finally:
            dog.close()
            api.close()
