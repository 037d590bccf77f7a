"""Accuracy on generated incidents: `python bench/accuracy.py [--seeds START:END] [--fresh] [--examples 3]`.

Each seed is one scenario (bench/scenarios/): a bundle and its truth.json, kept under bench/out/scenarios/<seed>
(rebuilt when the generator's description of the seed changed, or with --fresh). The tool analyses the
bundle in-process, as `diagnose analyze` does, and never reads truth.json. Printed: top-1 and top-2 per
cause, the confusion matrix, healthy cases with a `likely` cause, causes `ruled_out` while a source their
checks need was missing (must be 0), and a few failures per cause with why.

Seed ranges (bench/README.md): 0:1000 for looking and changing; 100000:100200 held out, reported only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scenarios import CAUSES, Scenario, generate, write_bundle  # noqa: E402
from diagnose.model.report import CauseReport, Report  # noqa: E402

OUT = ROOT / "bench" / "out" / "scenarios"
SHOWN = ("likely", "possible")         # a top cause only counts as an answer with one of these verdicts


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    report: Report
    missing: frozenset[str]             # sources not ok in the bundle


def bundle_for(seed: int, fresh: bool) -> tuple[Scenario, Path]:
    sc = generate(seed)
    d = OUT / str(seed)
    truth = json.loads(json.dumps(sc.truth(), default=str))
    if not fresh and (d / "truth.json").is_file() and (d / "bundle" / "manifest.json").is_file():
        kept = json.loads((d / "truth.json").read_text())
        kept.pop("incident", None)
        if kept == truth:
            return sc, d / "bundle"
    shutil.rmtree(d, ignore_errors=True)
    return sc, write_bundle(sc, d)


def analyze(bundle: Path) -> Report:
    from diagnose.bundle.store import read
    from diagnose.engine.diagnose import diagnose, from_bundle
    from diagnose.engine.runbook import for_signal

    target, gathered = from_bundle(read(bundle))
    return diagnose(target, gathered, for_signal(target.incident.signal))


def needs_of(cause: CauseReport) -> set[str]:
    from diagnose.engine.registry import checks

    specs = checks()
    return {s for c in cause.checks if c in specs for s in specs[c].needs}


def answer(report: Report, k: int) -> list[str]:
    return [c.id for c in report.causes[:k] if c.verdict in SHOWN]


def why(report: Report, n: int = 2) -> str:
    """The top causes with their verdicts and the strongest findings for the first one."""
    top = ", ".join(f"{c.id} {c.verdict} {c.confidence:.2f}" for c in report.causes[:3])
    first = report.causes[0]
    fs = sorted((f for f in first.evidence if f.direction == "for"), key=lambda f: -f.weight)[:n]
    because = "; ".join(f"{f.summary[:110]} (+{f.weight:.2f})" for f in fs) or "no finding for it"
    return f"top: {top} | {first.id} because: {because}"


def true_cause_row(o: Outcome, cause: str) -> str:
    c = next(x for x in o.report.causes if x.id == cause)
    against = sorted((f for f in c.evidence if f.direction == "against"), key=lambda f: -f.weight)[:2]
    return (f"{cause} {c.verdict} {c.confidence:.2f}" +
            (" against: " + "; ".join(f"{f.summary[:110]} (-{f.weight:.2f})" for f in against) if against else "")
            + (f" unknown: {c.unknown_reason[:120]}" if c.unknown_reason else ""))


def label(sc: Scenario) -> str:
    return "healthy" if not sc.causes else sc.causes[0] if len(sc.causes) == 1 else "pair"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0:200", help="START:END (END excluded); default 0:200")
    ap.add_argument("--fresh", action="store_true", help="rebuild every bundle")
    ap.add_argument("--examples", type=int, default=3, help="failures shown per cause")
    ap.add_argument("--json", help="also write every outcome to this file")
    args = ap.parse_args(argv)
    start, end = (int(x) for x in args.seeds.split(":"))
    t0 = time.monotonic()
    # Every bundle first, then every analysis: the bundles are kept, so a run the engine stopped costs
    # only the analyses when repeated.
    built = [bundle_for(seed, args.fresh) for seed in range(start, end)]
    built_in = time.monotonic() - t0
    outcomes: list[Outcome] = []
    crashed: list[str] = []
    for sc, bundle in built:
        missing = frozenset(s for s, v in sc.sources.items() if v != "ok")
        try:
            outcomes.append(Outcome(sc, analyze(bundle), missing))
        except Exception as e:  # noqa: BLE001 - a crash is a result to report, not the end of the run
            crashed.append(f"seed {sc.seed}: {type(e).__name__}: {str(e)[:200]}")
    took = time.monotonic() - t0

    rows: dict[str, Counter[str]] = defaultdict(Counter)
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    failures: dict[str, list[str]] = defaultdict(list)
    undetectable: list[str] = []
    ruled_missing, with_missing = 0, 0
    ruled_missing_ex: list[str] = []
    for o in outcomes:
        sc, rep = o.scenario, o.report
        lab = label(sc)
        top1, top2 = answer(rep, 1), answer(rep, 2)
        for c in rep.causes:
            lacking = needs_of(c) & o.missing
            if lacking:
                with_missing += 1
                if c.verdict == "ruled_out":
                    ruled_missing += 1
                    ruled_missing_ex.append(f"seed {sc.seed}: {c.id} ruled_out without {', '.join(sorted(lacking))}")
        if not sc.causes:
            likely = [c.id for c in rep.causes if c.verdict == "likely"]
            rows[lab]["n"] += 1
            rows[lab]["ok1"] += not likely
            rows[lab]["ok2"] += not likely
            rows[lab]["likely"] += bool(likely)
            confusion[lab][top1[0] if top1 else "none"] += 1
            if likely:
                failures[lab].append(f"seed {sc.seed}: healthy, likely {likely} | {why(rep)}")
            continue
        if not all(sc.detectable(c) for c in sc.causes):
            undetectable.append(f"seed {sc.seed}: {'+'.join(sc.causes)} (missing {', '.join(sorted(o.missing))}): "
                                + " / ".join(true_cause_row(o, c) for c in sc.causes))
            continue
        rows[lab]["n"] += 1
        ok1 = bool(top1) and top1[0] in sc.causes
        ok2 = all(c in top2 for c in sc.causes) if len(sc.causes) == 2 else sc.causes[0] in top2
        rows[lab]["ok1"] += ok1
        rows[lab]["ok2"] += ok2
        confusion[lab][top1[0] if top1 else "none"] += 1
        if not (ok1 and ok2):
            failures[lab].append(f"seed {sc.seed}: truth {'+'.join(sc.causes)} ({sc.log_format}, "
                                 f"{sc.gc_variant if 'gc-pause' in sc.causes else sc.window}, missing "
                                 f"{','.join(sorted(o.missing)) or '-'}) | {why(rep)} | "
                                 + " / ".join(true_cause_row(o, c) for c in sc.causes))

    order = [*CAUSES, "pair", "healthy"]
    print(f"seeds {start}:{end}: {len(outcomes)} scenarios in {took:.0f} s ({built_in:.0f} s building bundles; "
          f"{len(undetectable)} with a true cause's every evidence source missing, scored apart)")
    if crashed:
        print(f"the tool crashed on {len(crashed)}: " + "; ".join(crashed[:3]))
    print(f"\n{'truth':<14}{'n':>5}{'top-1':>9}{'top-2':>9}")
    n_all = ok1_all = ok2_all = 0
    for lab in order:
        r = rows.get(lab)
        if not r:
            continue
        n_all, ok1_all, ok2_all = n_all + r["n"], ok1_all + r["ok1"], ok2_all + r["ok2"]
        print(f"{lab:<14}{r['n']:>5}{100 * r['ok1'] / r['n']:>8.1f}%{100 * r['ok2'] / r['n']:>8.1f}%")
    if n_all:
        print(f"{'all':<14}{n_all:>5}{100 * ok1_all / n_all:>8.1f}%{100 * ok2_all / n_all:>8.1f}%")
    print("(pair: top-1 is one of the two, top-2 holds both; healthy: correct when no cause is likely; a top "
          "cause counts only when likely or possible)")
    cols = [*CAUSES, "none"]
    print("\nconfusion (rows truth, columns top-1 cause shown as likely/possible, none = nothing was)")
    print(f"{'':<14}" + "".join(f"{c[:8]:>9}" for c in cols))
    for lab in order:
        if lab in confusion:
            print(f"{lab:<14}" + "".join(f"{confusion[lab][c]:>9}" for c in cols))
    h = rows.get("healthy", Counter())
    print(f"\nhealthy with a likely cause: {h['likely']}/{h['n']}"
          + (f" ({100 * h['likely'] / h['n']:.1f}%)" if h["n"] else ""))
    print(f"ruled_out while a source its checks need was missing: {ruled_missing}/{with_missing} "
          f"cause verdicts with a needed source missing ({100 * ruled_missing / max(1, with_missing):.1f}%)")
    for line in ruled_missing_ex[:args.examples]:
        print("  " + line)
    if args.examples:
        print("\nfailures (per truth, first examples)")
        for lab in order:
            for line in failures.get(lab, [])[:args.examples]:
                print(f"- {line}")
        if undetectable:
            print("\nevidence missing (the true cause should be unknown or possible, never ruled_out)")
            for line in undetectable[:args.examples]:
                print(f"- {line}")
    if args.json:
        Path(args.json).write_text(json.dumps([{
            "seed": o.scenario.seed, "truth": list(o.scenario.causes), "missing": sorted(o.missing),
            "causes": [{"id": c.id, "verdict": c.verdict, "confidence": round(c.confidence, 3)}
                       for c in o.report.causes]} for o in outcomes], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
