"""An upstream the logs named only by address becomes the workload's name, before the sources gather.

nginx and HAProxy often log where they sent a request (`upstream: "http://10.0.3.17:8080/login"`), not to
whom: a report on "10.0.3.17:8080" names nothing to scale or fix, and Prometheus and the kubernetes source
find nothing by it. When the Kubernetes source is given, the address is looked up (sources/kube_address.py)
and the incident's upstream becomes the Service (else the owning workload), in its namespace; the incident
keeps the address and says what it was (`upstream_address`, `upstream_note`). The API's answers are kept
in the bundle (folder `upstream-address/`), the incident as resolved in its manifest.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace
from datetime import datetime, timezone
from typing import Sequence

from ..errors import DiagnoseError
from ..logs import nginx
from ..logs.vantage import fold
from ..logs.wrappers import DEFAULT_CALLERS
from ..model.address import AddressName
from ..model.evidence import SourceStatus
from ..model.incident import iso
from ..model.logscan import LogScan
from ..model.target import Target
from ..model.text import first_of, single_line
from ..parsers import kube_address as parser
from ..sources import kube_address, kubernetes
from ..sources.base import SourceOptions
from .api import KEEP_LINES
from .gather import Gathered, Progress

NAME = kube_address.NAME


# Other addresses the same caller logged for the same signal, looked up too (most events first): nginx and
# ingress-nginx log the pod they sent each request to, so one Service's calls come under several addresses.
MAX_SIBLINGS = 8


def resolve(target: Target, opts: SourceOptions, progress: Progress | None = None, scan: LogScan | None = None,
            ) -> tuple[Target, dict[str, Gathered]]:
    """The target with its upstream named, and the lookup's answers as a folder of the bundle; the target
    as it was (and nothing to keep) when the upstream is a name or no Kubernetes source is given.

    With the `scan` the incident came from, the caller's other addresses for the signal are looked up in
    what is left of the budget; those of the same Service join the incident, and the scan's incidents are
    folded again under the names found (so the others listed are what is left). A caller known only as
    its sidecar ("envoy") is named by the pod its calls came from (`_name_caller`)."""
    if kubernetes.skip_reason(opts) is not None:
        return target, {}
    peer = _proxy_peer(target, scan)
    logged, readings = _ingress_readings(target, scan)
    if kube_address.address_of(target.upstream) is None and peer is None and not readings:
        return target, {}
    if progress:
        progress(NAME, None)
    started = time.monotonic()
    deadline = started + opts.timeout
    status, files = SourceStatus(NAME, "ok", None, 0), dict[str, bytes]()
    if kube_address.address_of(target.upstream) is not None:
        target, status, files = _name_upstream(target, opts, deadline, started, scan)
    if readings:
        target, more = _name_ingress(target, logged, readings, opts, deadline, scan)
        files.update({f"ingress/{rel}": data for rel, data in more.items()})
        status = replace(status, duration_ms=_ms(started))
    if peer is not None:
        target, caller_files = _name_caller(target, peer, opts, deadline, started)
        files.update({f"caller/{rel}": data for rel, data in caller_files.items()})
        status = replace(status, duration_ms=_ms(started))
    if progress:
        progress(NAME, status)
    return target, {NAME: Gathered(status, files)}


def _name_upstream(target: Target, opts: SourceOptions, deadline: float, started: float, scan: LogScan | None,
                   ) -> tuple[Target, SourceStatus, dict[str, bytes]]:
    named, status, files = _lookup(target, opts, deadline, started)
    joined: list[str] = []
    if named.name and scan is not None and scan.groups is not None:
        names = {target.upstream: named.name}
        for i, address in enumerate(_siblings(target, scan)):
            if time.monotonic() >= deadline - 0.05:
                break
            other, _, more = _lookup(replace(target, incident=replace(target.incident, upstream=address)), opts,
                                     deadline, started)
            files.update({f"others/{i + 1}/{rel}": data for rel, data in more.items()})
            if other.name:
                names[address] = other.name
                if (other.name, other.namespace) == (named.name, named.namespace):
                    joined.append(address)
        scan.incidents, scan.kept = fold(scan.groups, KEEP_LINES, names)
    resolved = named_target(target, named, opts.namespace, joined)
    if joined:
        merged = next((i for i in scan.incidents if (i.signal, i.service, i.upstream) == (
            target.incident.signal, target.incident.service, named.name)), None) if scan is not None else None
        if merged is not None:
            resolved = replace(resolved, incident=replace(
                merged, upstream_address=target.upstream, upstream_note=resolved.incident.upstream_note))
    return resolved, status, files


def _proxy_peer(target: Target, scan: LogScan | None) -> str | None:
    """The address most of a sidecar's calls came from, when the incident's caller is only the proxy's name
    (an Envoy access log read alone): on an outbound call, the caller's pod IP."""
    inc = target.incident.as_logged()
    if scan is None or scan.groups is None or inc.service not in DEFAULT_CALLERS:
        return None
    peers: Counter[str] = Counter()
    for (signal, caller, upstream, via), acc in scan.groups.signals.items():
        if (signal, caller, upstream) == (inc.signal, inc.service, inc.upstream) and via:
            peers.update(acc.peers)
    found = [ip for ip, _ in peers.most_common() if kube_address.address_of(ip) is not None]
    return found[0] if found else None


def _ingress_readings(target: Target, scan: LogScan | None) -> tuple[str, list[tuple[str, str]]]:
    """The ingress-nginx upstream name the incident was read from, and its readings, when it splits more
    than one way (`team-a-user-auth-8080`: team/a-user-auth, team-a/user-auth, team-a-user/auth) and the
    log said no namespace: the cluster says which Service there is."""
    inc = target.incident.as_logged()
    if scan is None or scan.groups is None:
        return "", []
    names: Counter[str] = Counter()
    for (signal, caller, upstream, via), acc in scan.groups.signals.items():
        if (signal, caller, upstream) == (inc.signal, inc.service, inc.upstream) and via == "nginx":
            names.update(acc.logged)
    if not names:
        return "", []
    name = names.most_common(1)[0][0]
    readings = nginx.splits(name)
    return (name, readings) if len(readings) > 1 else ("", [])


def _name_ingress(target: Target, name: str, readings: list[tuple[str, str]], opts: SourceOptions,
                  deadline: float, scan: LogScan | None) -> tuple[Target, dict[str, bytes]]:
    """The incident under the reading the cluster has a Service for (the scan folded again under it)."""
    inc = target.incident
    try:
        files = dict(kube_address.collect_services(opts, readings, deadline))
        found = parser.service_reading(files)
    except DiagnoseError as e:
        note = f"ingress-nginx's upstream {name} may be read {len(readings)} ways; the cluster was not asked ({e})"
        return replace(target, incident=replace(inc, upstream_note=note)), {}
    if found is None:
        note = (f"ingress-nginx's upstream {name}: none of its {len(readings)} readings is a Service the cluster "
                f"has; read at its first dash")
        return replace(target, incident=replace(inc, upstream_note=note)), files
    ns, svc = found
    note = (f"ingress-nginx's upstream {name} is Service {svc} in {ns} (of {len(readings)} readings, the one "
            "the cluster has)")
    if svc != inc.upstream and scan is not None and scan.groups is not None:
        scan.incidents, scan.kept = fold(scan.groups, KEEP_LINES, {inc.upstream: svc})
        inc = next((i for i in scan.incidents if (i.signal, i.service, i.upstream) == (inc.signal, inc.service, svc)),
                   replace(inc, upstream=svc))
    incident = replace(inc, namespace=ns, upstream_note=note)
    return replace(target, incident=incident, namespace=opts.namespace or ns), files


def _name_caller(target: Target, peer: str, opts: SourceOptions, deadline: float, started: float,
                 ) -> tuple[Target, dict[str, bytes]]:
    """The incident whose caller is the workload of the pod at `peer` (else as it was, with a note why)."""
    inc = target.incident
    named, _, files = _lookup(replace(target, incident=replace(inc, upstream=peer)), opts, deadline, started)
    name = named.workload[1] if named.workload else named.service
    how = f"caller named from the {inc.service} log's downstream address: {named.note()}"
    if name:
        inc = replace(inc, service=name, caller_logged=inc.service, caller_note=how)
    else:
        inc = replace(inc, caller_note=how)
    return replace(target, incident=inc), files


def _siblings(target: Target, scan: LogScan) -> list[str]:
    inc = target.incident
    found = [i for i in scan.incidents if (i.signal, i.service) == (inc.signal, inc.service)
             and i.upstream != inc.upstream and kube_address.address_of(i.upstream) is not None]
    return [i.upstream for i in found[:MAX_SIBLINGS]]


def _lookup(target: Target, opts: SourceOptions, deadline: float, started: float,
            ) -> tuple[AddressName, SourceStatus, dict[str, bytes]]:
    try:
        files = dict(kube_address.collect(opts, target, deadline))
        named = parser.load(files)
    except DiagnoseError as e:
        # The lookup failed: the upstream stays the address, and the report says why.
        named = AddressName(target.upstream, iso(datetime.now(timezone.utc)), missing={"lookup": str(e)})
        return named, SourceStatus(NAME, "error", single_line(str(e), 500) or "failed", _ms(started)), {}
    except Exception as e:  # noqa: BLE001 - a bug here must not end the diagnosis: the address is kept
        named = AddressName(target.upstream, iso(datetime.now(timezone.utc)),
                            missing={"lookup": f"{e.__class__.__name__}: {e}"})
        return named, SourceStatus(NAME, "error", single_line(f"{e.__class__.__name__}: {e}", 500), _ms(started)), {}
    return named, SourceStatus(NAME, "ok", None, _ms(started)), files


def named_target(target: Target, named: AddressName, namespace_given: str | None = None,
                 joined: Sequence[str] = ()) -> Target:
    """The target whose upstream is the address's name and namespace (--namespace, when given, stays)."""
    note = named.note()
    if joined:
        note += f"; the calls to {first_of(list(joined), 3)}, of the same service, are counted with it"
    incident = replace(target.incident, upstream=named.name or target.upstream,
                       upstream_address=target.upstream, upstream_note=note)
    return replace(target, incident=incident, namespace=namespace_given or named.namespace or target.namespace)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
