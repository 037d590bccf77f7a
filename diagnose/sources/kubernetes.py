"""Live Kubernetes evidence through the official client: one List call per kind per namespace.

What is stored is what the API server answered (List documents, or its Status document for a 403 or 404),
less secret env values (see `redact`). The kubeconfig and its tokens are never stored. The call plan lives
in `gather`, which takes a plain `get(path, query, timeout)` function: the live client is one such
function, a dict of documents (fixtures/build/kubernetes.py) is another, so both make the same files.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import SourceError
from .base import RawFiles, SourceOptions, Target

NAME = "kubernetes"
# Client libraries the engine imports before the sources start (see engine.gather._preload).
IMPORTS = ("urllib3", "requests", "kubernetes.client", "kubernetes.config")
SA_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
SA_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
REDACTED = "<redacted>"
ISTIO_VERSIONS = ("v1", "v1beta1", "v1alpha3")
LINKERD_VERSIONS = ("v1alpha2",)
MIN_CALL_S = 0.05

# (path, query, timeout_s) -> (HTTP status, body bytes). Raises SourceError when the server cannot be reached
# or does not answer in time.
Getter = Callable[[str, Mapping[str, str], float], "tuple[int, bytes]"]


class CallTimeout(SourceError):
    """One call did not answer within its share of the budget."""


def skip_reason(opts: SourceOptions) -> str | None:
    if opts.kubeconfig or opts.context or os.environ.get("KUBECONFIG"):
        return None
    if (Path.home() / ".kube" / "config").is_file():
        return None
    if os.environ.get("KUBERNETES_SERVICE_HOST") and os.path.isfile(SA_TOKEN):
        return None
    return "no kubeconfig or in-cluster config found"


# ---- redaction --------------------------------------------------------------------------------------------

def _redact_containers(spec: Any) -> None:
    from ..parsers.kubernetes import is_secret_name

    if not isinstance(spec, dict):
        return
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for c in spec.get(key) or ():
            for e in (c.get("env") or ()) if isinstance(c, dict) else ():
                if isinstance(e, dict) and "value" in e and is_secret_name(str(e.get("name", ""))):
                    e["value"] = REDACTED


def redact(doc: Any) -> Any:
    """Blank env values with secret-like names (PASSWORD, TOKEN, SECRET, KEY, CREDENTIAL) in every pod spec
    and pod template, and the last-applied-configuration annotation, which repeats them."""
    for item in (doc.get("items") or ()) if isinstance(doc, dict) else ():
        if not isinstance(item, dict):
            continue
        spec = item.get("spec") or {}
        _redact_containers(spec)
        _redact_containers(((spec.get("template") or {}) if isinstance(spec, dict) else {}).get("spec"))
        ann = (item.get("metadata") or {}).get("annotations")
        if isinstance(ann, dict) and "kubectl.kubernetes.io/last-applied-configuration" in ann:
            ann["kubectl.kubernetes.io/last-applied-configuration"] = REDACTED
    return doc


# ---- the call plan ----------------------------------------------------------------------------------------

def selector_of(deployments: Mapping[str, Any] | None, name: str) -> str | None:
    """`k=v,...` from the matchLabels of the Deployment called `name` (the owner chain, walked from the top)."""
    for d in (deployments or {}).get("items") or ():
        if (d.get("metadata") or {}).get("name") == name:
            labels = ((d.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            if labels:
                return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return None


class _Plan:
    """Runs the calls, keeps the files and a log of what was asked, and shares out the time budget."""

    def __init__(self, get: Getter, deadline: float, clock: Callable[[], float]) -> None:
        self.get, self.deadline, self.clock = get, deadline, clock
        self.files: RawFiles = {}
        self.calls: list[dict[str, object]] = []
        self.errors: dict[str, str] = {}
        self.answered = 0

    def fetch(self, kind: str | None, path: str, query: Mapping[str, str] | None = None) -> dict[str, Any] | None:
        query = dict(query or {})
        left = self.deadline - self.clock()
        if left < MIN_CALL_S:
            if kind:
                self.errors[kind] = "not collected: the --timeout budget was spent"
            return None
        try:
            status, body = self.get(path, query, left)
        except CallTimeout as e:
            self.calls.append({"path": path, "query": query, "status": "timeout"})
            if kind:
                self.errors[kind] = f"timed out: {e}"
            return None
        self.answered += 1
        self.calls.append({"path": path, "query": query, "status": status})
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            if kind:
                self.errors[kind] = f"{path}: HTTP {status}, not a JSON document"
            return None
        if kind:
            self.files[f"{kind}.json"] = (json.dumps(redact(doc), indent=1) + "\n").encode()
        return doc if 200 <= status < 300 else None


def _group_version(plan: _Plan, group: str, known: tuple[str, ...], kinds: tuple[str, ...]) -> str | None:
    """The version of an optional API group to read, or None (its 404 Status stored for each kind)."""
    doc = plan.fetch(None, f"/apis/{group}")
    if doc is None:
        last = plan.calls[-1] if plan.calls else {}
        for k in kinds:
            if last.get("status") == 404:
                plan.files[f"{k}.json"] = json.dumps({
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "the server could not find the requested resource", "reason": "NotFound",
                    "details": {"group": group}, "code": 404}).encode()
            else:
                plan.errors.setdefault(k, f"not collected: discovery of {group} failed")
        return None
    served = [str(v.get("version")) for v in doc.get("versions") or ()]
    preferred = str((doc.get("preferredVersion") or {}).get("version", ""))
    if preferred in known:
        return preferred
    return next((v for v in known if v in served), preferred or None)


def gather(get: Getter, namespace: str, upstream: str, caller: str, deadline: float,
           clock: Callable[[], float] = time.monotonic) -> RawFiles:
    """Every call this source makes, in order. The count depends on what is installed, never on pod count."""
    plan = _Plan(get, deadline, clock)
    ns = f"/api/v1/namespaces/{namespace}"
    apps = f"/apis/apps/v1/namespaces/{namespace}"

    deployments = plan.fetch("deployments", f"{apps}/deployments")
    for kind, name in (("pods", upstream), ("caller-pods", caller)):
        sel = selector_of(deployments, name)
        if sel:
            plan.fetch(kind, f"{ns}/pods", {"labelSelector": sel})
            continue
        # No Deployment to walk down from: the common naming labels, one call each at most.
        for label in ("app", "app.kubernetes.io/name"):
            doc = plan.fetch(kind, f"{ns}/pods", {"labelSelector": f"{label}={name}"})
            if doc is None or doc.get("items"):
                break
    up_sel = selector_of(deployments, upstream) or f"app={upstream}"
    plan.fetch("replicasets", f"{apps}/replicasets", {"labelSelector": up_sel})
    plan.fetch("hpas", f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers")
    plan.fetch("events", f"{ns}/events")
    plan.fetch("nodes", "/api/v1/nodes")
    plan.fetch("services", f"{ns}/services", {"fieldSelector": f"metadata.name={upstream}"})
    plan.fetch("endpoints", f"{ns}/endpoints", {"fieldSelector": f"metadata.name={upstream}"})
    plan.fetch("podmetrics", f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods", {"labelSelector": up_sel})
    istio = _group_version(plan, "networking.istio.io", ISTIO_VERSIONS, ("virtualservices", "destinationrules"))
    if istio:
        for kind in ("virtualservices", "destinationrules"):
            plan.fetch(kind, f"/apis/networking.istio.io/{istio}/namespaces/{namespace}/{kind}")
    linkerd = _group_version(plan, "linkerd.io", LINKERD_VERSIONS, ("serviceprofiles",))
    if linkerd:
        plan.fetch("serviceprofiles", f"/apis/linkerd.io/{linkerd}/namespaces/{namespace}/serviceprofiles")
    plan.fetch("ingresses", f"/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses")

    if plan.answered == 0:
        raise SourceError(f"kubernetes: no answer from the API server ({next(iter(plan.errors.values()), '?')})")
    plan.files["collection.json"] = (json.dumps({
        "namespace": namespace, "upstream": upstream, "caller": caller, "calls": plan.calls, "errors": plan.errors,
    }, indent=1) + "\n").encode()
    return plan.files


# ---- the live client --------------------------------------------------------------------------------------

def _api_client(opts: SourceOptions) -> tuple[Any, str | None]:
    """An ApiClient configured as kubectl would be, and the namespace of the context in use."""
    from kubernetes import client, config  # heavy: imported only when a cluster is asked

    cfg = client.Configuration()
    explicit = opts.kubeconfig or opts.context or os.environ.get("KUBECONFIG") or \
        (Path.home() / ".kube" / "config").is_file()
    try:
        if explicit:
            path = opts.kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None
            config.load_kube_config(config_file=path, context=opts.context, client_configuration=cfg,
                                    persist_config=False)
            contexts, active = config.list_kube_config_contexts(config_file=path)
            ctx = next((c for c in contexts if c.get("name") == opts.context), active) if opts.context else active
            ctx_ns = ((ctx or {}).get("context") or {}).get("namespace")
        else:
            config.load_incluster_config(client_configuration=cfg)
            ctx_ns = Path(SA_NAMESPACE).read_text().strip() if os.path.isfile(SA_NAMESPACE) else None
    except (config.ConfigException, OSError, ValueError, TypeError, KeyError) as e:
        where = opts.kubeconfig or "in-cluster config"
        raise SourceError(f"kubernetes: cannot load {where}: {str(e).splitlines()[0][:200]}") from None
    cfg.retries = False          # a refused connection is an answer; --timeout bounds everything else
    return client.ApiClient(cfg), ctx_ns


def _live_getter(api: Any) -> Getter:
    import urllib3

    def get(path: str, query: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
        method, url, headers, body, post = api.param_serialize(
            "GET", path, query_params=list(query.items()), header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"])
        try:
            resp = api.call_api(method, url, header_params=headers, body=body, post_params=post,
                                _request_timeout=(min(timeout, 5.0), timeout))
            return int(resp.status), bytes(resp.read() or b"")
        except urllib3.exceptions.ReadTimeoutError:
            raise CallTimeout(f"{path} did not answer within {timeout:.1f}s") from None
        except urllib3.exceptions.HTTPError as e:
            if "timed out" in str(e).lower():
                raise CallTimeout(f"{path} did not answer within {timeout:.1f}s") from None
            host = api.configuration.host
            raise SourceError(f"kubernetes: cannot reach {host}: {type(e).__name__}") from None
        except Exception as e:  # the client's own errors (ApiException status 0, SSL) as one line
            if type(e).__name__ == "ApiException":
                raise SourceError(f"kubernetes: {path}: {str(getattr(e, 'reason', e)).splitlines()[0][:200]}") from None
            raise

    return get


def namespace_for(opts: SourceOptions, target: Target, context_ns: str | None) -> str:
    """--namespace, else the incident's namespace, else the context's, else "default" (as kubectl)."""
    return opts.namespace or target.namespace or target.incident.namespace or context_ns or "default"


def collect(opts: SourceOptions, target: Target, deadline: float) -> RawFiles:
    api, ctx_ns = _api_client(opts)
    try:
        ns = namespace_for(opts, target, ctx_ns)
        files = gather(_live_getter(api), ns, target.upstream, target.caller, deadline)
        if opts.exec_thread_dumps:
            from .kube_exec import thread_dumps

            files.update(thread_dumps(api, ns, files.get("pods.json"), deadline))
        return files
    finally:
        api.close()

