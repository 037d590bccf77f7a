"""The pod-logs source's files (a live run's or a bundle's) as its account (model/pod_logs.py), and as
log inputs: each `<pod>/<container>.log` is a log in kubectl's `--prefix --timestamps` form."""

from __future__ import annotations

import json

from ..errors import EvidenceError
from ..model.pod_logs import PodLogs
from ..model.target import RawFiles, Target

COLLECTION = "collection.json"


def logs(files: RawFiles) -> dict[str, bytes]:
    """The log files, by their path in the source's folder, in name order."""
    return {rel: data for rel, data in sorted(files.items()) if rel.endswith(".log")}


def load(files: RawFiles, target: Target) -> PodLogs:
    try:
        doc = json.loads(files[COLLECTION]) if COLLECTION in files else {}
    except ValueError as e:
        raise EvidenceError(f"{COLLECTION} is not JSON ({e})") from None
    if not isinstance(doc, dict):
        raise EvidenceError(f"{COLLECTION} is not a JSON object")
    read = logs(files)
    errors = doc.get("errors")
    errors = errors if isinstance(errors, dict) else {}
    truncated = doc.get("truncated")
    truncated = truncated if isinstance(truncated, list) else []
    namespace = doc.get("namespace")
    return PodLogs(namespace=str(namespace) if namespace else None, logs=tuple(read),
                   lines=sum(data.count(b"\n") for data in read.values()),
                   truncated=tuple(str(t) for t in truncated),
                   missing={str(k): str(v) for k, v in errors.items()})
