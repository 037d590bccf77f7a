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
from dataclasses import replace
from datetime import datetime, timezone

from ..errors import DiagnoseError
from ..model.address import AddressName
from ..model.evidence import SourceStatus
from ..model.incident import iso
from ..model.target import Target
from ..model.text import single_line
from ..parsers import kube_address as parser
from ..sources import kube_address, kubernetes
from ..sources.base import SourceOptions
from .gather import Gathered, Progress

NAME = kube_address.NAME


def resolve(target: Target, opts: SourceOptions, progress: Progress | None = None,
            ) -> tuple[Target, dict[str, Gathered]]:
    """The target with its upstream named, and the lookup's answers as a folder of the bundle; the target
    as it was (and nothing to keep) when the upstream is a name or no Kubernetes source is given."""
    if kube_address.address_of(target.upstream) is None or kubernetes.skip_reason(opts) is not None:
        return target, {}
    if progress:
        progress(NAME, None)
    started = time.monotonic()
    try:
        files = kube_address.collect(opts, target, started + opts.timeout)
        named = parser.load(files)
    except DiagnoseError as e:
        # The lookup failed: the upstream stays the address, and the report says why.
        named = AddressName(target.upstream, iso(datetime.now(timezone.utc)), missing={"lookup": str(e)})
        status, files = SourceStatus(NAME, "error", single_line(str(e), 500) or "failed", _ms(started)), {}
    except Exception as e:  # noqa: BLE001 - a bug here must not end the diagnosis: the address is kept
        named = AddressName(target.upstream, iso(datetime.now(timezone.utc)),
                            missing={"lookup": f"{e.__class__.__name__}: {e}"})
        status, files = SourceStatus(NAME, "error", single_line(f"{e.__class__.__name__}: {e}", 500), _ms(started)), {}
    else:
        status = SourceStatus(NAME, "ok", None, _ms(started))
    if progress:
        progress(NAME, status)
    return named_target(target, named, opts.namespace), {NAME: Gathered(status, files)}


def named_target(target: Target, named: AddressName, namespace_given: str | None = None) -> Target:
    """The target whose upstream is the address's name and namespace (--namespace, when given, stays)."""
    incident = replace(target.incident, upstream=named.name or target.upstream,
                       upstream_address=target.upstream, upstream_note=named.note())
    return replace(target, incident=incident, namespace=namespace_given or named.namespace or target.namespace)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
