"""Live Kubernetes evidence through the official client: one List call per kind per namespace.

What is stored is what the API server answered (List documents, or its Status document for a 403 or 404),
less secret material (see `kube_mask`). The kubeconfig and its tokens are never stored; Secrets are never
asked for, and names from logs reach a URL only as validated path parameters (`ApiPath`). The call plan lives
in `gather`, which takes a plain `get(path, query, timeout)` function: the live client is one such
function, a dict of documents (fixtures/build/kubernetes.py) is another, so both make the same files.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import quote

from ..errors import SourceError
from ..model.kube import NAME_LABELS, selector_text
from ..model.names import is_dns_label, is_dns_subdomain, is_label_value
from .base import Option, RawFiles, SourceOptions, Target
from .bounded import AnswerTooLarge, DeadlineSpent, Watchdog, guard_pool_manager, read_capped
from .http_words import http_status
from .kube_mask import mask
from .private_tmp import private_dir, writing

NAME = "kubernetes"
# Client libraries the engine imports before the sources start (see engine.gather._preload).
IMPORTS = ("urllib3", "requests", "kubernetes.client", "kubernetes.config")
OPTIONS = (
    Option("kubeconfig", "kubeconfig file (default: KUBECONFIG, ~/.kube/config, or the in-cluster config).",
           kind="file"),
    Option("context", "kubeconfig context to use, as kubectl --context."),
    Option("namespace", "Namespace of the upstream (default: from the logs or the context).", short="-n"),
)
SA_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
SA_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
ISTIO_VERSIONS = ("v1", "v1beta1", "v1alpha3")
LINKERD_VERSIONS = ("v1alpha2",)
MIN_CALL_S = 0.05



class ApiPath(str):
    """A request path made of a template and named parameters, never by pasting text into a path.

    As a str it is the path the server sees, each parameter percent-encoded into one segment as the
    client encodes path parameters (the fixtures' documents are keyed by it); the live client is given
    `template` and `params` as its own path parameters. Secrets are never asked for: a template naming
    them is a bug, refused here."""

    template: str
    params: dict[str, str]

    def __new__(cls, template: str, **params: str) -> ApiPath:
        if "secrets" in template.split("/"):
            raise ValueError(f"{template}: this tool never reads Secrets")
        path = super().__new__(cls, template.format(**{k: quote(v, safe="") for k, v in params.items()}))
        path.template, path.params = template, dict(params)
        return path


# (path, query, timeout_s) -> (HTTP status, body bytes). Raises SourceError when the server cannot be reached
# or does not answer in time.
Getter = Callable[[ApiPath, Mapping[str, str], float], "tuple[int, bytes]"]


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


# ---- the call plan ----------------------------------------------------------------------------------------

def selector_of(deployments: Mapping[str, Any] | None, name: str) -> str | None:
    """`k=v,...` from the matchLabels of the Deployment called `name` (see `selector_text`)."""
    for d in (deployments or {}).get("items") or ():
        if (d.get("metadata") or {}).get("name") == name:
            return selector_text(((d.get("spec") or {}).get("selector") or {}).get("matchLabels"))
    return None


def _service_selector(services: Mapping[str, Any] | None) -> str | None:
    """`k=v,...` from the spec.selector of the one Service the fieldSelector answered: the pods it routes to."""
    items = [i for i in (services or {}).get("items") or () if isinstance(i, dict)]
    return selector_text((items[0].get("spec") or {}).get("selector")) if len(items) == 1 else None


def _shown(value: str) -> str:
    """A name from outside, quoted on one line (repr escapes newlines and control characters)."""
    return repr(value[:80] + ("..." if len(value) > 80 else ""))


def name_problem(role: str, name: str) -> str | None:
    """Why `name` cannot be put in a selector, or None. Upstream and caller names go into labelSelector
    values and fieldSelector=metadata.name, so they must be both: a DNS-1123 name and a label value."""
    if is_dns_subdomain(name) and is_label_value(name):
        return None
    return f"not collected: the {role} {_shown(name)} is not a Kubernetes name (DNS-1123, at most 63 characters)"


class _Plan:
    """Runs the calls, keeps the files and a log of what was asked, and shares out the time budget."""

    def __init__(self, get: Getter, deadline: float, clock: Callable[[], float]) -> None:
        self.get, self.deadline, self.clock = get, deadline, clock
        self.files: RawFiles = {}
        self.calls: list[dict[str, object]] = []
        self.errors: dict[str, str] = {}
        self.answered = 0

    def fetch(self, kind: str | None, path: ApiPath, query: Mapping[str, str] | None = None) -> dict[str, Any] | None:
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
        except AnswerTooLarge as e:     # this kind is lost; the others may still be read
            self.calls.append({"path": path, "query": query, "status": "too large"})
            if kind:
                self.errors[kind] = f"{path}: {e}"
            return None
        self.calls.append({"path": path, "query": query, "status": status})
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            if kind:
                self.errors[kind] = f"{path}: {http_status(status)}, not a JSON document"
            return None
        # Only a JSON document is an answer of the API server: a proxy's HTML page or a redirect to
        # nowhere, on every call, fails the source rather than leaving it "ok" with nothing in it.
        self.answered += 1
        if kind:
            self.files[f"{kind}.json"] = (json.dumps(mask(doc), indent=1) + "\n").encode()
        return doc if 200 <= status < 300 else None


def _group_version(plan: _Plan, group: str, known: tuple[str, ...], kinds: tuple[str, ...]) -> str | None:
    """The version of an optional API group to read, or None (its 404 Status stored for each kind)."""
    doc = plan.fetch(None, ApiPath("/apis/{group}", group=group))
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


MESH_ROOT = "istio-system"      # Istio's default root namespace (meshConfig.rootNamespace)


def _fetch_across(plan: _Plan, kind: str, group_version: str, namespace: str, others: tuple[str, ...],
                  notes: list[str]) -> None:
    """One kind of mesh config wherever it may bind to the upstream: one cluster-wide List, or, when that is
    refused (403) or larger than --max-response-bytes, one List per namespace it may live in (the upstream's
    stored as `<kind>.json`, others as `namespaces/<ns>/<kind>.json`), said in a note."""
    base = "/apis/" + group_version + "/"
    doc = plan.fetch(kind, ApiPath(base + kind))
    if doc is not None:
        return
    last = plan.calls[-1] if plan.calls else {}
    if last.get("status") not in (403, "too large"):
        return
    why = "forbidden" if last.get("status") == 403 else "larger than --max-response-bytes"
    plan.errors.pop(kind, None)
    plan.fetch(kind, ApiPath(base + "namespaces/{namespace}/" + kind, namespace=namespace))
    for ns in others:
        plan.fetch(f"namespaces/{ns}/{kind}", ApiPath(base + "namespaces/{namespace}/" + kind, namespace=ns))
    notes.append(f"{kind}: the cluster-wide list was {why}; read in namespaces " + ", ".join((namespace, *others)))




def _fetch_pods(plan: _Plan, kind: str, namespace: str, name: str, services: Mapping[str, Any] | None,
                deployments: Mapping[str, Any] | None, notes: list[str]) -> str | None:
    """The pods of `name` as `<kind>.json`, and the selector that found them: the Service's own selector (the
    pods it routes to), else the matchLabels of a Deployment of that name, else a naming label (each of the
    last two a guess from the name, said in a note)."""
    pods = ApiPath("/api/v1/namespaces/{namespace}/pods", namespace=namespace)
    sel = _service_selector(services)
    if not sel and (sel := selector_of(deployments, name)):
        notes.append(f"{kind}: no Service {name} with a selector was read; found by the selector of the "
                     f"Deployment named {name}, a guess from the name")
    if sel:
        plan.fetch(kind, pods, {"labelSelector": sel})
        return sel
    # The naming labels (model.kube): a last resort, when no Service or Deployment of that name selects them.
    for label in NAME_LABELS:
        sel = f"{label}={name}"
        doc = plan.fetch(kind, pods, {"labelSelector": sel})
        if doc is None:
            break
        if doc.get("items"):
            notes.append(f"{kind}: no Service or Deployment named {name} selects pods; found by the label {sel}, "
                         "a guess from the name")
            return sel
    return None


def upstream_pods(get: Getter, namespace: str, upstream: str, deadline: float,
                  clock: Callable[[], float] = time.monotonic) -> bytes | None:
    """The upstream's pods List document, found as `gather` finds them (for the exec source, which runs on
    its own budget); None when there is no such document."""
    if not is_dns_label(namespace):
        raise SourceError(f"namespace {_shown(namespace)} is not a namespace name (DNS-1123 label): "
                          "nothing was queried")
    problem = name_problem("upstream", upstream)
    if problem:
        raise SourceError(problem)
    plan = _Plan(get, deadline, clock)
    services = plan.fetch("services", ApiPath("/api/v1/namespaces/{namespace}/services", namespace=namespace),
                          {"fieldSelector": f"metadata.name={upstream}"})
    deployments = None if _service_selector(services) else plan.fetch(
        "deployments", ApiPath("/apis/apps/v1/namespaces/{namespace}/deployments", namespace=namespace))
    _fetch_pods(plan, "pods", namespace, upstream, services, deployments, [])
    if plan.answered == 0:
        raise SourceError(f"no answer from the API server ({next(iter(plan.errors.values()), '?')})")
    return plan.files.get("pods.json")


def gather(get: Getter, namespace: str, upstream: str, caller: str, deadline: float,
           clock: Callable[[], float] = time.monotonic, caller_namespace: str | None = None) -> RawFiles:
    """Every call this source makes, in order. The count depends on what is installed, never on pod count.

    Mesh config may bind to the upstream from other namespaces: VirtualServices and DestinationRules are
    listed cluster-wide (else in the upstream's, the caller's and the mesh root namespace), ServiceProfiles
    in the upstream's and the caller's (where Linkerd reads them); Ingresses only in the upstream's, since an
    Ingress backend names a Service of its own namespace.

    Names come from logs and clusters: a namespace that is not a namespace name is not queried at all (a
    source error), an upstream or caller that is not a name costs only the calls that would select by it."""
    if not is_dns_label(namespace):
        raise SourceError(f"namespace {_shown(namespace)} is not a namespace name (DNS-1123 label): "
                          "nothing was queried")
    plan = _Plan(get, deadline, clock)
    core = "/api/v1/namespaces/{namespace}/"
    apps = "/apis/apps/v1/namespaces/{namespace}/"
    problems = {"upstream": name_problem("upstream", upstream), "caller": name_problem("caller", caller)}

    def skip(kind: str, why: str | None) -> bool:
        if why:
            plan.errors[kind] = why
        return why is not None

    notes: list[str] = []
    caller_ns = caller_namespace if caller_namespace and is_dns_label(caller_namespace) else namespace
    # The caller calls a Service: its selector names the upstream's pods, whatever the Deployment is called.
    by_name = {"fieldSelector": f"metadata.name={upstream}"}
    services = None if skip("services", problems["upstream"]) else \
        plan.fetch("services", ApiPath(core + "services", namespace=namespace), by_name)
    if not skip("endpoints", problems["upstream"]):
        plan.fetch("endpoints", ApiPath(core + "endpoints", namespace=namespace), by_name)
    deployments = plan.fetch("deployments", ApiPath(apps + "deployments", namespace=namespace))
    up_sel = None
    if not skip("pods", problems["upstream"]):
        up_sel = _fetch_pods(plan, "pods", namespace, upstream, services, deployments, notes)
    if not skip("caller-pods", problems["caller"]):
        # The caller's pods as the upstream's: through a Service named like it, else its Deployment, else labels.
        caller_svcs = plan.fetch("caller-services", ApiPath(core + "services", namespace=caller_ns),
                                 {"fieldSelector": f"metadata.name={caller}"})
        caller_deps = None if _service_selector(caller_svcs) else deployments if caller_ns == namespace else \
            plan.fetch(f"namespaces/{caller_ns}/deployments", ApiPath(apps + "deployments", namespace=caller_ns))
        _fetch_pods(plan, "caller-pods", caller_ns, caller, caller_svcs, caller_deps, notes)
    # The pods' ReplicaSets carry the pod template's labels, so the pods' selector finds them; they name
    # the Deployment that owns the pods (ownerReferences). Without a selector, every ReplicaSet of the namespace.
    if not skip("replicasets", problems["upstream"]):
        plan.fetch("replicasets", ApiPath(apps + "replicasets", namespace=namespace),
                   {"labelSelector": up_sel} if up_sel else {})
    plan.fetch("hpas", ApiPath("/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers",
                               namespace=namespace))
    plan.fetch("events", ApiPath(core + "events", namespace=namespace))
    plan.fetch("nodes", ApiPath("/api/v1/nodes"))
    no_pods = None if up_sel else "not collected: no pods of the upstream were found to select by"
    if not skip("podmetrics", problems["upstream"] or no_pods) and up_sel:
        plan.fetch("podmetrics", ApiPath("/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods",
                                         namespace=namespace), {"labelSelector": up_sel})
    others = tuple(n for n in dict.fromkeys((caller_ns, MESH_ROOT)) if n != namespace)
    istio = _group_version(plan, "networking.istio.io", ISTIO_VERSIONS, ("virtualservices", "destinationrules"))
    if istio:
        for kind in ("virtualservices", "destinationrules"):
            _fetch_across(plan, kind, f"networking.istio.io/{istio}", namespace, others, notes)
    linkerd = _group_version(plan, "linkerd.io", LINKERD_VERSIONS, ("serviceprofiles",))
    if linkerd:
        plan.fetch("serviceprofiles", ApiPath("/apis/linkerd.io/{version}/namespaces/{namespace}/serviceprofiles",
                                              version=linkerd, namespace=namespace))
        if caller_ns != namespace:
            plan.fetch(f"namespaces/{caller_ns}/serviceprofiles", ApiPath(
                "/apis/linkerd.io/{version}/namespaces/{namespace}/serviceprofiles", version=linkerd,
                namespace=caller_ns))
    plan.fetch("ingresses", ApiPath("/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses",
                                    namespace=namespace))

    if plan.answered == 0:
        raise SourceError(f"no answer from the API server ({next(iter(plan.errors.values()), '?')})")
    plan.files["collection.json"] = (json.dumps({
        "namespace": namespace, "upstream": upstream, "caller": caller, "caller_namespace": caller_ns,
        "calls": plan.calls, "errors": plan.errors, "notes": notes,
    }, indent=1) + "\n").encode()
    return plan.files


# ---- the live client --------------------------------------------------------------------------------------

def _api_client(opts: SourceOptions, temp_dir: str | None = None) -> tuple[Any, str | None]:
    """An ApiClient configured as kubectl would be, and the namespace of the context in use.

    The client writes a kubeconfig's inline key, certificate and CA to files: into `temp_dir` (a
    private_tmp directory), only while holding it (see private_tmp.writing)."""
    from kubernetes import client, config  # heavy: imported only when a cluster is asked

    cfg = client.Configuration()
    explicit = opts.kubeconfig or opts.context or os.environ.get("KUBECONFIG") or \
        (Path.home() / ".kube" / "config").is_file()
    try:
        if explicit:
            path = opts.kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None
            with writing(temp_dir) if temp_dir else nullcontext():
                config.load_kube_config(config_file=path, context=opts.context, client_configuration=cfg,
                                        persist_config=False, temp_file_path=temp_dir)
            contexts, active = config.list_kube_config_contexts(config_file=path)
            ctx = next((c for c in contexts if c.get("name") == opts.context), active) if opts.context else active
            ctx_ns = ((ctx or {}).get("context") or {}).get("namespace")
        else:
            config.load_incluster_config(client_configuration=cfg)
            ctx_ns = Path(SA_NAMESPACE).read_text().strip() if os.path.isfile(SA_NAMESPACE) else None
    except (config.ConfigException, OSError, ValueError, TypeError, KeyError) as e:
        where = opts.kubeconfig or "in-cluster config"
        raise SourceError(f"cannot load {where}: {str(e).splitlines()[0][:200]}") from None
    cfg.retries = False          # a refused connection is an answer; --timeout bounds everything else
    return client.ApiClient(cfg), ctx_ns


def _live_getter(api: Any, dog: Watchdog, limit: int) -> Getter:
    """Answers read within the watchdog's deadline (a server that drips bytes included) and at most
    `limit` bytes each (--max-response-bytes), from the urllib3 response the client leaves unread."""
    import urllib3

    guard_pool_manager(api.rest_client.pool_manager)

    def get(path: ApiPath, query: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
        # The client's path parameters: each value is quoted into one segment, whatever it holds.
        method, url, headers, body, post = api.param_serialize(
            "GET", path.template, path_params=path.params, query_params=list(query.items()),
            header_params={"Accept": "application/json"}, auth_settings=["BearerToken"])
        try:
            with dog.bound():
                try:
                    resp = api.call_api(method, url, header_params=headers, body=body, post_params=post,
                                        _request_timeout=(min(timeout, 5.0), timeout))
                    return int(resp.status), read_capped(resp.response, limit, dog)
                except Exception:
                    if dog.fired:       # the watchdog shut the socket: whatever broke, it is the deadline
                        raise DeadlineSpent() from None
                    raise
        except DeadlineSpent:
            raise CallTimeout(f"{path} did not answer within {timeout:.1f}s") from None
        except urllib3.exceptions.ReadTimeoutError:
            raise CallTimeout(f"{path} did not answer within {timeout:.1f}s") from None
        except urllib3.exceptions.HTTPError as e:
            if "timed out" in str(e).lower():
                raise CallTimeout(f"{path} did not answer within {timeout:.1f}s") from None
            host = api.configuration.host
            raise SourceError(f"cannot reach {host}: {type(e).__name__}") from None
        except Exception as e:  # the client's own errors (ApiException status 0, SSL) as one line
            if type(e).__name__ == "ApiException":
                raise SourceError(f"{path}: {str(getattr(e, 'reason', e)).splitlines()[0][:200]}") from None
            raise

    return get


def namespace_for(opts: SourceOptions, target: Target, context_ns: str | None) -> str:
    """--namespace, else the incident's namespace, else the context's, else "default" (as kubectl)."""
    return opts.namespace or target.namespace or target.incident.namespace or context_ns or "default"


def collect(opts: SourceOptions, target: Target, deadline: float) -> RawFiles:
    with private_dir("diagnose-kube-") as temp_dir:
        return _collect(opts, target, deadline, temp_dir)


def _collect(opts: SourceOptions, target: Target, deadline: float, temp_dir: str) -> RawFiles:
    api, ctx_ns = _api_client(opts, temp_dir)
    dog = Watchdog(deadline)
    try:
        ns = namespace_for(opts, target, ctx_ns)
        return gather(_live_getter(api, dog, opts.max_response_bytes), ns, target.upstream, target.caller,
                      deadline, caller_namespace=target.incident.namespace)
    finally:
        dog.close()
        api.close()

