"""One diagnosis: raw source files -> typed evidence -> the runbook's checks -> a ranked report.

The same function serves `run` (files just gathered) and `analyze` (files read from a bundle).
"""

from __future__ import annotations

import importlib
import time
from dataclasses import replace
from typing import Callable, Mapping, Sequence

from ..bundle.store import Bundle
from ..checks.metrics import notes_for as prometheus_notes
from ..errors import DiagnoseError
from ..model.evidence import Evidence, SourceStatus
from ..model.finding import CheckResult, Fact
from ..model.incident import Incident
from ..model.report import Report
from ..sources.base import Target
from .gather import LIVE_SOURCES, Gathered
from .ranking import rank
from .registry import checks as registered_checks
from .runbook import Runbook
from .summary import summarize

# Evidence field each source's parsed evidence goes to.
FIELDS = {"kubernetes": "kubernetes", "prometheus": "prometheus", "postgres": "postgres", "thread-dumps": "threads"}
# Thread dumps taken from pods through the exec API travel with the kubernetes source under this prefix.
EXEC_PREFIX = "exec/"

CheckProgress = Callable[[str, CheckResult | None], None]


def load_evidence(target: Target, gathered: Mapping[str, Gathered]) -> Evidence:
    statuses: dict[str, SourceStatus] = {"logs": SourceStatus("logs", "ok")}
    parsed: dict[str, object] = {}
    exec_dumps = {k: v for k, v in gathered.get("kubernetes", Gathered(SourceStatus("kubernetes", "skipped"), {}))
                  .files.items() if k.startswith(EXEC_PREFIX)}
    for name in LIVE_SOURCES:
        g = gathered.get(name) or Gathered(SourceStatus(name, "skipped", "not gathered"), {})
        status, files = g.status, g.files
        if name == "thread-dumps" and exec_dumps:
            files = {**files, **exec_dumps}
            if status.status != "ok":
                status = SourceStatus(name, "ok", None, status.duration_ms)
        if name == "kubernetes":
            files = {k: v for k, v in files.items() if not k.startswith(EXEC_PREFIX)}
        if status.status == "ok":
            started = time.monotonic()
            try:
                parsed[FIELDS[name]] = _parser(name).load(files, target)
            except DiagnoseError as e:
                status = SourceStatus(name, "error", str(e), status.duration_ms)
            except Exception as e:  # noqa: BLE001 - a parser bug is this source's error, not a crash
                status = SourceStatus(name, "error", f"could not read the data: {e.__class__.__name__}: {e}",
                                      status.duration_ms)
            else:
                status = replace(status, duration_ms=status.duration_ms +
                                 int((time.monotonic() - started) * 1000))
        statuses[name] = status
    return Evidence(incident=target.incident, window=target.window, sources=statuses, **parsed)  # type: ignore[arg-type]


def _parser(name: str):  # noqa: ANN202 - a module
    return importlib.import_module(f"diagnose.parsers.{LIVE_SOURCES[name]}")


def source_notes(evidence: Evidence) -> dict[str, tuple[str, ...]]:
    """What each source could not see (a 403 on a kind, a missing metric family, a truncated dump),
    in one line each, so that the checks reading that source carry it into the report."""
    out: dict[str, tuple[str, ...]] = {}
    for name, fieldname in FIELDS.items():
        parsed = getattr(evidence, fieldname)
        if parsed is None:
            continue
        missing = getattr(parsed, "missing", None) or {}
        notes = [f"{what}: {why}" for what, why in missing.items()]
        notes += [str(n) for n in getattr(parsed, "notes", ()) or ()]
        out[name] = tuple(dict.fromkeys(notes))
    return out


def _no_data(evidence: Evidence, source: str) -> str | None:
    """Why a source that answered gave nothing to read (its evidence's `no_data`), or None."""
    parsed = getattr(evidence, FIELDS.get(source, ""), None)
    reason = getattr(parsed, "no_data", None)
    return str(reason) if reason else None


def run_checks(evidence: Evidence, runbook: Runbook, progress: CheckProgress | None = None) -> list[CheckResult]:
    specs = registered_checks()
    notes = source_notes(evidence)
    results = []
    for cid in runbook.check_ids():
        spec = specs[cid]
        if progress:
            progress(cid, None)
        missing = [evidence.sources.get(n) or SourceStatus(n, "skipped", "not gathered")
                   for n in spec.needs if (evidence.sources.get(n) is None or evidence.sources[n].status != "ok")]
        empty = [(n, reason) for n in spec.needs if (reason := _no_data(evidence, n))]
        started = time.perf_counter()
        if empty and not missing:
            # The source answered with nothing to read: not healthy, not against. Skipped, so that a
            # cause resting on it stays unknown with this reason (ranking.RAN).
            source, why = empty[0]
            result = CheckResult(id=cid, status="skipped", error=why if source == cid else f"{source}: {why}")
        elif missing:
            # A check whose source failed is an error; one whose source was not given is skipped.
            failed = [s for s in missing if s.status == "error"]
            worst = failed[0] if failed else missing[0]
            # The source's name leads the reason, unless the check is named for it ("postgres: postgres: ...").
            reason = worst.error or worst.status
            result = CheckResult(id=cid, status="error" if failed else "skipped",
                                 error=reason if worst.name == cid else f"{worst.name}: {reason}")
        else:
            try:
                findings = spec.func(evidence, runbook.params_for(spec))
            except Exception as e:  # noqa: BLE001 - a check bug is reported on that check only
                result = CheckResult(id=cid, status="error", error=f"check failed: {e.__class__.__name__}: {e}")
            else:
                status = "finding" if any(f.direction == "for" for f in findings) else "ok"
                # Prometheus's notes by the metric families the check reads (no Go note for a JVM).
                seen = tuple(n for source in spec.needs for n in (
                    prometheus_notes(cid, evidence) if source == "prometheus" else notes.get(source, ())))
                result = CheckResult(id=cid, status=status, findings=tuple(findings),  # type: ignore[arg-type]
                                     notes=seen)
        # Only a check that ran has a time of its own; one stopped by its source says 0.
        ran = not (empty or missing)
        result = replace(result, duration_ms=(time.perf_counter() - started) * 1000 if ran else 0)
        results.append(result)
        if progress:
            progress(cid, result)
    return results


def base_facts(evidence: Evidence, target: Target) -> dict[str, Fact]:
    inc = evidence.incident
    facts: dict[str, Fact] = {"service": inc.service, "caller": inc.service, "upstream": inc.upstream}
    namespace = target.namespace or inc.namespace or getattr(evidence.kubernetes, "namespace", None)
    if namespace:
        facts["namespace"] = namespace
    dep = getattr(evidence.kubernetes, "deployment", None)
    if dep is not None and dep.selector:
        # The label keys are the cluster's own (app, app.kubernetes.io/name, k8s-app...), never assumed.
        facts["pod_selector"] = ",".join(f"{k}={v}" for k, v in sorted(dep.selector.items()))
        # Named apart from `deployment`, which checks set when they found something to change in it: a
        # base fact fills every template, and "raise the limits of deployment/x" must answer a finding.
        facts["upstream_deployment"] = dep.name
    if inc.timeout_ms:
        facts["caller_timeout_ms"] = int(inc.timeout_ms)
        facts["caller_timeout"] = f"{inc.timeout_ms / 1000:g}s"
    return facts


def diagnose(target: Target, gathered: Mapping[str, Gathered], runbook: Runbook,
             progress: CheckProgress | None = None, others: Sequence[Incident] = ()) -> Report:
    """`others`: the incidents the logs held besides the target's, listed in the report (not diagnosed)."""
    evidence = load_evidence(target, gathered)
    results = run_checks(evidence, runbook, progress)
    causes = rank(runbook, results, evidence.incident, base_facts(evidence, target))
    # The namespace diagnosed (--namespace, else the logs') is the incident's namespace in every output.
    incident = replace(evidence.incident, namespace=target.namespace or evidence.incident.namespace)
    return Report(incident=incident, window=evidence.window, runbook=runbook.name, causes=causes,
                  checks=tuple(results), sources=evidence.sources, notes=evidence.notes,
                  summary=summarize(causes, incident, runbook.ranking), other_incidents=tuple(others))


def from_bundle(bundle: Bundle) -> tuple[Target, dict[str, Gathered]]:
    """What `diagnose analyze` diagnoses: the bundle's target and its sources as if just gathered."""
    gathered = {name: Gathered(bundle.sources.get(name) or SourceStatus(name, "skipped", "not in the bundle"),
                               bundle.files.get(name, {})) for name in LIVE_SOURCES}
    target = Target(incident=bundle.incident, window=bundle.window,
                    namespace=bundle.namespace or bundle.incident.namespace)
    return target, gathered
