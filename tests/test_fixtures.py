"""The recorded incidents in fixtures/: each ranks its true cause first (or, with several true causes, all of
them in the top places), and its report matches golden.

`pytest tests/test_fixtures.py --update-golden` rewrites tests/golden/ on purpose after a change.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from diagnose.bundle.store import read
from diagnose.engine.diagnose import diagnose, from_bundle
from diagnose.engine.runbook import CATALOGUE, for_signal

REPO = Path(__file__).resolve().parents[1]
FIXTURES = sorted(p.parent for p in (REPO / "fixtures").glob("*/expected.json"))
GOLDEN = REPO / "tests" / "golden"


def true_causes(bundle: Path) -> list[str]:
    """expected.json's true causes: `top_cause` (null when healthy), or `causes` when several are true."""
    want = json.loads((bundle / "expected.json").read_text())
    if "causes" in want:
        return list(want["causes"])
    return [want["top_cause"]] if want["top_cause"] else []


def analyze(bundle: Path) -> dict:
    """What `diagnose analyze BUNDLE --format json` reports, in-process."""
    target, gathered = from_bundle(read(bundle))
    return diagnose(target, gathered, for_signal(target.incident.signal)).to_json()


def stable(report: dict) -> dict:
    """Without timings, which differ run to run."""
    out = json.loads(json.dumps(report))
    for c in out["checks"]:
        c["duration_ms"] = 0
    for s in out["sources"].values():
        s["duration_ms"] = 0
    return out


def test_there_are_fixtures_for_every_cause_a_healthy_upstream_two_causes_and_another_cast():
    causes = [true_causes(f) for f in FIXTURES]
    assert set(CATALOGUE) <= {c for cs in causes for c in cs}
    assert [] in causes and [cs for cs in causes if len(cs) > 1], "a healthy fixture and one with two causes"
    namespaces = {json.loads((f / "manifest.json").read_text())["namespace"] for f in FIXTURES}
    assert len(namespaces) > 1, "every fixture has the same cast"
    assert len(FIXTURES) >= 10


@pytest.mark.parametrize("bundle", FIXTURES, ids=[f.name for f in FIXTURES])
def test_the_expected_causes_rank_first(bundle: Path):
    want = true_causes(bundle)
    report = analyze(bundle)
    causes = report["causes"]
    ranked = [(c["id"], c["confidence"], c["verdict"]) for c in causes]
    assert {c["id"] for c in causes} >= set(CATALOGUE)
    if not want:
        assert not [c["id"] for c in causes if c["verdict"] == "likely"], "a healthy upstream has no likely cause"
    elif len(want) == 1:
        assert causes[0]["id"] == want[0], ranked
        assert causes[0]["verdict"] == "likely"
        assert causes[0]["evidence"] and causes[0]["fixes"]
    else:
        # Several true causes at once: each of them above every other cause, none explained away to unlikely.
        top, rest = causes[:len(want)], causes[len(want):]
        assert {c["id"] for c in top} == set(want), ranked
        assert all(c["verdict"] in ("likely", "possible") and c["evidence"] and c["fixes"] for c in top), ranked
        assert not [c["id"] for c in rest if c["verdict"] in ("likely", "possible")], ranked


def test_a_cpu_rise_that_follows_gc_is_ranked_below_gc():
    causes = analyze(REPO / "fixtures" / "gc-misleading-cpu")["causes"]
    ids = [c["id"] for c in causes]
    assert ids.index("gc-pause") < ids.index("overload")
    overload = next(c for c in causes if c["id"] == "overload")
    assert any("effect of gc-pause" in n for n in overload.get("notes", []))


def test_fix_commands_name_the_real_objects_found():
    report = analyze(REPO / "fixtures" / "overload")
    commands = [cmd for fix in report["causes"][0]["fixes"] for cmd in fix["commands"]]
    # an HPA at its maximum (3/3) manages the deployment: its ceiling is raised, the deployment is not scaled
    assert "kubectl patch hpa/user-auth-service -n production --type merge -p '{\"spec\":{\"maxReplicas\":5}}'" \
        in commands
    assert not [cmd for cmd in commands if cmd.startswith("kubectl scale")]
    demo = analyze(REPO / "fixtures" / "mesh-timeout")
    # no retry above the upstream's p99 fits the 10 s deadline: one try, ended by the mesh at 9 s
    assert any("kubectl patch virtualservice/user-auth-service -n production" in cmd and
               '"path":"/spec/http/0/retries","value":{"attempts":0}' in cmd and
               '"path":"/spec/http/0/timeout","value":"9s"' in cmd
               for fix in demo["causes"][0]["fixes"] for cmd in fix["commands"])
    every = [cmd for r in (report, demo) for c in r["causes"] for f in c["fixes"] for cmd in f["commands"]]
    # curl's own -w variables (%{time_total}) are not placeholders
    assert not [cmd for cmd in every if re.search(r"(?<!%)\{[a-z_]+\}|<[a-z_]+>", cmd)], "a placeholder was printed"


def test_another_cast_is_diagnosed_in_its_own_names():
    """Nothing of the seed's cast (names, namespace, cloud) may come from the engine: other-cast names none."""
    report = analyze(REPO / "fixtures" / "other-cast")
    assert report["incident"]["service"] == "checkout-web" and report["incident"]["upstream"] == "inventory-api"
    assert report["causes"][0]["id"] == "gc-pause"
    text = json.dumps(report)
    assert not [w for w in ("production", "user-auth-service", "frontend-api", "us-east-1", "ec2") if w in text]
    commands = [cmd for fix in report["causes"][0]["fixes"] for cmd in fix["commands"]]
    assert commands and all("-n shop-eu" in cmd for cmd in commands if cmd.startswith("kubectl"))


def test_every_kubectl_command_names_the_namespace_and_a_label_the_pods_carry():
    report = analyze(REPO / "fixtures" / "other-cast")
    commands = [cmd for c in report["causes"] for f in c["fixes"] for cmd in f["commands"]
                if cmd.startswith("kubectl")]
    assert not [cmd for cmd in commands if "-n shop-eu" not in cmd and " -A" not in cmd], commands
    assert not [cmd for cmd in commands if "-l app=" in cmd], commands


def test_a_healthy_upstream_gets_no_fix_claiming_what_was_not_found():
    report = analyze(REPO / "fixtures" / "healthy")
    summaries = [f["summary"] for c in report["causes"] for f in c["fixes"]]
    assert not [s for s in summaries if "pinned" in s or "lock order" in s or "blocks the others" in s], summaries


@pytest.mark.parametrize("bundle", FIXTURES, ids=[f.name for f in FIXTURES])
def test_the_report_matches_its_golden_file(bundle: Path, update_golden: bool):
    got = stable(analyze(bundle))
    golden = GOLDEN / f"{bundle.name}.json"
    if update_golden or not golden.exists():
        golden.write_text(json.dumps(got, indent=2) + "\n")
        if not update_golden:
            pytest.fail(f"{golden} did not exist; written now, check it in")
    assert got == json.loads(golden.read_text())


@pytest.mark.parametrize("bundle", FIXTURES, ids=[f.name for f in FIXTURES])
def test_every_fact_a_check_sets_is_one_it_declares(bundle: Path):
    """Runbook validation trusts the declared facts; this keeps the declarations true."""
    from diagnose.engine.diagnose import load_evidence, run_checks
    from diagnose.engine.registry import checks

    target, gathered = from_bundle(read(bundle))
    for result in run_checks(load_evidence(target, gathered), for_signal(target.incident.signal)):
        declared = set(checks()[result.id].facts)
        for f in result.findings:
            assert set(f.facts) <= declared, (result.id, set(f.facts) - declared)
