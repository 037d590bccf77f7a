"""From findings to ranked causes: log-odds from a prior, evidence for and against. See docs/ranking.md."""

from __future__ import annotations

import math
import string
from dataclasses import replace
from datetime import datetime, timezone
from typing import Iterable, Mapping, Sequence

from ..model.finding import CheckResult, Fact, Finding
from ..model.incident import Incident, clock
from ..model.report import CauseReport, Fix, Verdict
from .commands import Refused, fill_command, value_fits
from .runbook import FixTemplate, Runbook, Step

RAN = ("ok", "finding")
# An effect never outranks its cause: it is placed this far below it.
EFFECT_GAP = 0.01


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def rank(runbook: Runbook, results: Sequence[CheckResult], incident: Incident,
         base_facts: Mapping[str, Fact]) -> tuple[CauseReport, ...]:
    by_check = {r.id: r for r in results}
    findings = [f for r in results if r.status in RAN for f in r.findings]
    known = {s.cause for s in runbook.steps}
    weights, effect_of, notes = _apply_relations(runbook, findings)
    _discount_stale(runbook, findings, weights, notes)

    scored: dict[str, tuple[float, Verdict, str | None]] = {}
    for step in runbook.steps:
        ran = [c for c in step.checks if c in by_check and by_check[c].status in RAN]
        mine = [f for f in findings if f.cause == step.cause]
        score = logit(step.prior) + sum(weights[id(f)] * (1 if f.direction == "for" else -1) for f in mine)
        confidence = sigmoid(score)
        gaps = [c for c in step.checks if c not in ran]
        if not ran or (not mine and gaps):
            # Nothing argued either way, and part of what could have did not run: the prior alone is
            # not a verdict. Unknown, saying what was missing (and what ran but was silent).
            why = _unknown_reason(replace(step, checks=tuple(gaps)), by_check)
            if ran:
                why += f"; {', '.join(ran)} found nothing for or against"
            scored[step.cause] = (step.prior, "unknown", why)
            continue
        verdict = _verdict(runbook, confidence, mine)
        if verdict == "possible" and confidence < runbook.verdicts["possible"]:
            notes.setdefault(step.cause, []).append(
                f"possible, not unlikely: every finding is for it and none against; its confidence "
                f"{confidence:.2f} is low because its prior ({step.prior:.2f}) is")
        if verdict == "ruled_out" and gaps:
            # What could not be looked at might have shown the cause: low, but not ruled out.
            verdict = "unlikely"
            notes.setdefault(step.cause, []).append(
                "not ruled out, since part of its evidence is missing: " + _unknown_reason(
                    Step(step.cause, step.title, step.prior, tuple(gaps), ()), by_check))
        scored[step.cause] = (confidence, verdict, None)

    # An effect never outranks its cause when the data showed the cause's signals first.
    for rel in runbook.relations:
        if rel.cause in effect_of.get(rel.effect, ()):
            c_conf, c_verdict, _ = scored[rel.cause]
            e_conf, e_verdict, e_reason = scored[rel.effect]
            if e_verdict != "unknown" and e_conf >= c_conf:
                e_conf = max(0.0, c_conf - EFFECT_GAP)
                effect_findings = [f for f in findings if f.cause == rel.effect]
                scored[rel.effect] = (e_conf, _verdict(runbook, e_conf, effect_findings), e_reason)

    order = {s.cause: i for i, s in enumerate(runbook.steps)}
    causes = []
    for step in runbook.steps:
        confidence, verdict, reason = scored[step.cause]
        mine = [f for f in findings if f.cause == step.cause]
        mine.sort(key=lambda f: (f.direction != "for", -weights[id(f)]))
        own = [f for f in mine if f.direction == "for"]
        facts = _facts(base_facts, own[:1])
        # The report shows the weight each finding actually carried, so a score can be checked by hand.
        mine = [f if weights[id(f)] == f.weight else replace(f, weight=weights[id(f)]) for f in mine]
        # A possible cause says what would settle it (the runbook's `confirm`, filled where it can be).
        confirm = _fill_checked(step.confirm, facts) if verdict == "possible" and step.confirm else None
        causes.append(CauseReport(
            id=step.cause, title=_fill(step.title, facts) or step.title, confidence=round(confidence, 2),
            verdict=verdict, evidence=tuple(mine), fixes=_fixes(step, base_facts, own), checks=step.checks,
            unknown_reason=reason, notes=tuple(notes.get(step.cause, ())),
            diagnosis=step.diagnosis, to_confirm=confirm))
    causes.sort(key=lambda c: (-c.confidence, order[c.id]))
    assert known == {c.id for c in causes}
    return tuple(causes)


def _verdict(runbook: Runbook, confidence: float, mine: Iterable[Finding]) -> Verdict:
    v = runbook.verdicts
    if confidence >= v["likely"]:
        return "likely"
    if confidence >= v["possible"]:
        return "possible"
    mine = list(mine)
    # Evidence only for it: a low score comes from the prior alone, which is no ground for "unlikely".
    # Stale evidence (docs/ranking.md) describes the past, not the incident: alone it lifts nothing.
    if mine and all(f.direction == "for" for f in mine) and not all(f.stale for f in mine):
        return "possible"
    if confidence >= v["unlikely"]:
        return "unlikely"
    # Ruled out only on evidence against it; a low score from silence stays "unlikely".
    return "ruled_out" if any(f.direction == "against" for f in mine) else "unlikely"


def _unknown_reason(step: Step, by_check: Mapping[str, CheckResult]) -> str:
    parts = []
    for cid in step.checks:
        r = by_check.get(cid)
        parts.append(f"{cid}: {r.error or r.status}" if r else f"{cid}: not run")
    return "; ".join(parts)


def _discount_stale(runbook: Runbook, findings: list[Finding], weights: dict[int, float],
                    notes: dict[str, list[str]]) -> None:
    """Evidence older than the incident window (a dump taken hours before) says less about the incident:
    its weight is multiplied by the runbook's stale_discount, and the cause's notes say so."""
    discount = float(runbook.ranking.get("stale_discount", 0.5))
    stale: dict[str, int] = {}
    for f in findings:
        if f.stale:
            weights[id(f)] *= discount
            stale[f.cause] = stale.get(f.cause, 0) + 1
    for cause, n in stale.items():
        notes.setdefault(cause, []).append(
            f"{n} finding(s) from data older than the incident window: weight x{discount:g}")


def _apply_relations(runbook: Runbook, findings: list[Finding]
                     ) -> tuple[dict[int, float], dict[str, list[str]], dict[str, list[str]]]:
    """Discount the findings of an effect that its cause can produce (the relation's `kinds`) and that the
    data shows to be its doing: begun after the cause's first signal, or within the data's resolution of
    it (simultaneous) when a finding of the cause measured the mechanism (`explains` names the kind).
    Findings of other kinds, and those begun before the cause, keep their weight.

    Returns the weight of every finding, the causes each effect was found to follow, and notes per cause.
    """
    weights = {id(f): f.weight for f in findings}
    effect_of: dict[str, list[str]] = {}
    notes: dict[str, list[str]] = {}
    for rel in runbook.relations:
        causing = [f for f in findings if f.cause == rel.cause and f.direction == "for"
                   and (not rel.by or f.kind in rel.by)]
        timed = [f for f in causing if f.onset]
        measured = {k for f in causing for k in f.explains}
        effect = [f for f in findings if f.cause == rel.effect and f.direction == "for"
                  and (not rel.kinds or f.kind in rel.kinds)]
        if not effect or not (timed or measured):
            continue
        first = min(timed, key=lambda f: f.onset or datetime.max.replace(tzinfo=timezone.utc)) if timed else None
        later: list[Finding] = []
        together: list[Finding] = []
        before: list[Finding] = []
        for f in effect:
            if f.onset is None or first is None or first.onset is None:
                continue
            # Onsets closer than the data can tell apart (one Prometheus step) are simultaneous.
            gap = (f.onset - first.onset).total_seconds()
            if abs(gap) <= max(f.resolution, first.resolution):
                (together if f.kind in measured else before).append(f)
            elif gap > 0:
                later.append(f)
            else:
                before.append(f)
        # What the mechanism measured (GC's share of the CPU used) explains its kinds unless the data shows
        # that evidence beginning before the cause did.
        mechanism = bool(measured) and not any(f.kind in measured for f in before)
        if not later and not together and not mechanism:
            continue
        discounted = []
        for f in effect:
            if f in later or f in together or (f.onset is None and (later or together)) or (
                    mechanism and f.kind in measured and f not in before):
                weights[id(f)] = f.weight * rel.discount
                discounted.append(f)
        if not discounted:
            continue
        effect_of.setdefault(rel.effect, []).append(rel.cause)
        kinds = ", ".join(sorted({f.kind or "?" for f in discounted}))
        if later and first is not None and first.onset is not None:
            why = (f"began after {rel.cause} did ({clock(first.onset)} vs "
                   f"{clock(min(f.onset for f in later if f.onset))})")
        else:
            why = f"are what {rel.cause} does (measured: {', '.join(sorted(measured))})"
            if together:
                why = f"began with {rel.cause} (within the data's resolution) and " + why
        notes.setdefault(rel.effect, []).append(
            f"{len(discounted)} finding(s) ({kinds}) {why}: read as an effect of {rel.cause}, "
            f"weight x{rel.discount:g}")
    return weights, effect_of, notes


def _facts(base: Mapping[str, Fact], finding: Sequence[Finding]) -> dict[str, Fact]:
    """What the incident says, then what one finding FOR the cause found. Facts are never pooled across
    findings: a command filled from two would name one object with another's namespace or pid (the
    VirtualService patched in the Ingress's namespace). Empty values do not count as found."""
    facts: dict[str, Fact] = dict(base)
    for f in finding:
        facts.update((k, v) for k, v in f.facts.items() if v != "")
    return facts


def _fill_checked(template: str, facts: Mapping[str, Fact]) -> str | None:
    """Prose that quotes commands (`confirm:` says `kubectl get endpoints {upstream} -n {namespace}`): every
    value whose placeholder has a command kind must be valid for it, or the text is left out, as a command
    would be."""
    names = {n for _, n, _, _ in string.Formatter().parse(template) if n}
    if any(n in facts and not value_fits(n, facts[n]) for n in names):
        return None
    return _fill(template, facts)


def _fill(template: str, facts: Mapping[str, Fact]) -> str | None:
    names = {n for _, n, _, _ in string.Formatter().parse(template) if n}
    if not names <= set(facts):
        return None
    return template.format_map(dict(facts))


# One template filled from several findings (three idle transactions) gives at most this many fixes.
MAX_FIXES_PER_TEMPLATE = 3


def _fixes(step: Step, base: Mapping[str, Fact], own: Sequence[Finding]) -> tuple[Fix, ...]:
    """Fixes that name real objects found. Each template is filled from the incident's facts and those of
    one finding for the cause at a time (the strongest first), so every object a fix names comes from
    the same finding. A fix whose summary names an object that was not found is left out; a command
    that cannot be filled is left out (the advice stays) rather than printed with a placeholder.
    Fallback fixes (generic advice) are shown only when no specific fix could be filled."""
    candidates = [_facts(base, [f]) for f in own] + [dict(base)]

    def fill(tmpl: FixTemplate, facts: Mapping[str, Fact]) -> Fix | None:
        summary = _fill(tmpl.summary, facts)
        if summary is None:
            return None
        # Commands are pasted into a shell: a value that cannot be what it names leaves its command out.
        filled = [fill_command(c, facts) for c in tmpl.commands]
        commands = tuple(c for c in filled if isinstance(c, str) and c)
        refused = dict.fromkeys(r.reason for r in filled if isinstance(r, Refused))
        # Commands whose objects were not found are left out too (a template may offer one per runtime or
        # per pod count, the others unfilled); when none is left, the fix says what it lacked.
        lacking = dict.fromkeys(n for c, r in zip(tmpl.commands, filled, strict=True) if r is None
                                for _, n, _, _ in string.Formatter().parse(c) if n and n not in facts)
        if lacking and not commands and not refused:
            refused[f"not found: {', '.join(lacking)}"] = None
        why = tmpl.why + (f" (command left out: {'; '.join(refused)})" if refused else "")
        return Fix(summary=summary, commands=commands, why=why)

    def fill_all(templates: Iterable[FixTemplate]) -> list[Fix]:
        out: list[Fix] = []
        shown: set[str] = set()
        summaries: set[str] = set()
        for tmpl in templates:
            n = 0
            # The finding that fills the most of the template's commands speaks first: the resources
            # fix names the deployment from the incident and its limits from the throttling finding.
            fixes = sorted((f for f in (fill(tmpl, c) for c in candidates) if f), key=lambda f: -len(f.commands))
            for fix in fixes:
                # Two findings can lead to the same command (the blocker is also the idle transaction): once.
                if fix.summary in summaries or (fix.commands and shown.issuperset(fix.commands)):
                    continue
                out.append(fix)
                shown.update(fix.commands)
                summaries.add(fix.summary)
                n += 1
                if n == MAX_FIXES_PER_TEMPLATE:
                    break
        return out

    specific = fill_all(t for t in step.fixes if not t.fallback)
    if specific:
        return tuple(specific)
    return tuple(fill_all(t for t in step.fixes if t.fallback))
