"""One diagnosis: raw source files -> typed evidence -> the runbook's checks -> a ranked report.

The same function serves `run` (files just gathered) and `analyze` (files read from a bundle).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable, Mapping, Sequence

from ..bundle.store import Bundle
from ..checks.metrics import notes_for as prometheus_notes
from ..checks.netpath import caller_facts, upstream_facts
from ..errors import DiagnoseError
from ..model.evidence import Evidence, SourceStatus
from ..model.finding import CheckResult, Fact
from ..model.incident import Incident
from ..model.kube import selector_text
from ..model.report import Report
from ..model.target import RawFiles, Target
from .gather import Gathered
from .ranking import rank
from .registry import LOGS, evidence_sources, feeders_of
from .registry import checks as registered_checks
from .registry import sources as registered_sources
from .runbook import Runbook
from .summary import summarize

CheckProgress = Callable[[str, CheckResult | None], None]


def load_evidence(target: Target, gathered: Mapping[str, Gathered]) -> Evidence:
    """Each registered source with evidence of its own, loaded from its files and its feeders' files."""
    statuses: dict[str, SourceStatus] = {LOGS: SourceStatus(LOGS, "ok")}
    parsed: dict[str, object] = {}
    notes: list[str] = []
    for source in evidence_sources():
        name = source.name
        status, files = _with_feeders(name, gathered, notes)
        if status.status == "skipped" and getattr(source, "gives_logs", False):
            continue        # an input not given (no --from): not evidence that was not looked at
        if status.status == "ok":
            started = time.monotonic()
            try:
                parsed[name] = source.load(files, target)
            except DiagnoseError as e:
                status = SourceStatus(name, "error", str(e), status.duration_ms)
            except Exception as e:  # noqa: BLE001 - a parser bug is this source's error, not a crash
                status = SourceStatus(name, "error", f"could not read the data: {e.__class__.__name__}: {e}",
                                      status.duration_ms)
            else:
                status = replace(status, duration_ms=status.duration_ms +
                                 int((time.monotonic() - started) * 1000))
        statuses[name] = status
    return Evidence.of_sources(target.incident, target.window, statuses, parsed, tuple(notes))


def _gathered(name: str, gathered: Mapping[str, Gathered]) -> Gathered:
    return gathered.get(name) or Gathered(SourceStatus(name, "skipped", "not gathered"), {})


def _with_feeders(name: str, gathered: Mapping[str, Gathered], notes: list[str]) -> tuple[SourceStatus, RawFiles]:
    """A source's status and files joined with those of the sources that feed it (each under `<feeder>/`).

    Ok when any part is ok (the error of a part that failed becomes a note); otherwise the source's own
    status, or a feeder's error when the source itself was only skipped."""
    own = _gathered(name, gathered)
    parts = [(name, own)] + [(f.name, _gathered(f.name, gathered)) for f in feeders_of(name)]
    if len(parts) == 1:
        return own.status, own.files
    ok = [(n, g) for n, g in parts if g.status.status == "ok"]
    failed = [(n, g) for n, g in parts if g.status.status == "error"]
    if not ok:
        if own.status.status == "skipped" and failed:
            n, g = failed[0]
            return SourceStatus(name, "error", f"{n}: {g.status.error or 'failed'}", g.status.duration_ms), {}
        return own.status, own.files
    files: RawFiles = {}
    for n, g in ok:
        files.update(g.files if n == name else {f"{n}/{rel}": data for rel, data in g.files.items()})
    notes.extend(f"{n}: {g.status.error or 'failed'}" for n, g in failed)
    return SourceStatus(name, "ok", None, sum(g.status.duration_ms for _, g in ok)), files


def source_notes(evidence: Evidence) -> dict[str, tuple[str, ...]]:
    """What each source could not see (a 403 on a kind, a missing metric family, a truncated dump),
    in one line each, so that the checks reading that source carry it into the report."""
    out: dict[str, tuple[str, ...]] = {}
    for source in evidence_sources():
        name = source.name
        parsed = evidence.get(name)
        if parsed is None:
            continue
        missing = getattr(parsed, "missing", None) or {}
        notes = [f"{what}: {why}" for what, why in missing.items()]
        notes += [str(n) for n in getattr(parsed, "notes", ()) or ()]
        out[name] = tuple(dict.fromkeys(notes))
    return out


def _no_data(evidence: Evidence, source: str) -> str | None:
    """Why a source that answered gave nothing to read (its evidence's `no_data`), or None."""
    reason = getattr(evidence.get(source), "no_data", None)
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
    kube = evidence.kubernetes
    if kube is not None:
        # The label keys are the cluster's own (app, app.kubernetes.io/name, k8s-app...), never assumed: the
        # Service's selector (the pods it routes to), else the Deployment's.
        selector = selector_text(kube.service.selector if kube.service is not None else None) or \
            selector_text(kube.deployment.selector if kube.deployment is not None else None)
        if selector:
            facts["pod_selector"] = selector
        # Named apart from `deployment`, which checks set when they found something to change in it: a
        # base fact fills every template, and "raise the limits of deployment/x" must answer a finding.
        if kube.deployment_name:
            facts["upstream_deployment"] = kube.deployment_name
        # Where a command runs as the caller (its pod, found through its own pods, never `deploy/<caller>`).
        facts.update(caller_facts(kube))
        # Where a command runs in the upstream (a pod, its JVM container) and the port its Service serves.
        facts.update(upstream_facts(kube))
    if inc.timeout_ms:
        facts["caller_timeout_ms"] = int(inc.timeout_ms)
        facts["caller_timeout"] = f"{inc.timeout_ms / 1000:g}s"
    return facts


def diagnose(target: Target, gathered: Mapping[str, Gathered], runbook: Runbook,
             progress: CheckProgress | None = None, others: Sequence[Incident] = ()) -> Report:
    """`others`: the incidents the logs held besides the target's, listed in the report (not diagnosed)."""
    evidence = replace(load_evidence(target, gathered), log_incidents=tuple(others))
    results = run_checks(evidence, runbook, progress)
    causes = rank(runbook, results, evidence.incident, base_facts(evidence, target))
    # The namespace diagnosed (--namespace, else the logs') is the incident's namespace in every output.
    incident = replace(evidence.incident, namespace=target.namespace or evidence.incident.namespace)
    return Report(incident=incident, window=evidence.window, runbook=runbook.name, causes=causes,
                  checks=tuple(results), sources=evidence.sources, notes=evidence.notes,
                  summary=summarize(causes, incident, runbook.ranking), other_incidents=tuple(others))


def from_bundle(bundle: Bundle) -> tuple[Target, dict[str, Gathered]]:
    """What `diagnose analyze` diagnoses: the bundle's target and its sources as if just gathered.

    A source this build does not know is left out; one the bundle predates is found where the bundles of
    that time kept its files (`moved_from`: kubernetes/exec/ for exec-thread-dumps)."""
    gathered = {s.name: Gathered(bundle.sources.get(s.name) or SourceStatus(s.name, "skipped", "not in the bundle"),
                                 bundle.files.get(s.name, {})) for s in registered_sources()}
    for s in registered_sources():
        if s.moved_from is None or s.name in bundle.sources or s.moved_from[0] not in gathered:
            continue
        home, prefix = s.moved_from
        kept = gathered[home]
        moved = {rel[len(prefix):]: data for rel, data in kept.files.items() if rel.startswith(prefix)}
        if moved:
            left = {rel: data for rel, data in kept.files.items() if not rel.startswith(prefix)}
            gathered[home] = Gathered(kept.status, left)
            gathered[s.name] = Gathered(SourceStatus(s.name, "ok"), moved)
    target = Target(incident=bundle.incident, window=bundle.window,
                    namespace=bundle.namespace or bundle.incident.namespace)
    return target, gathered
