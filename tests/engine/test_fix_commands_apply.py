"""Every fix command the reports print, applied in the test to the API objects it names: it applies cleanly
(the object and container exist, a JSON patch's paths exist, a merge patch keeps what it does not name),
and the object that results is still valid and does what the fix says -- no heap above the container's
limit, no `kubectl scale` an HPA would undo, no maxReplicas below the current one, the JVM flags already
set kept. Run on the stored fixtures, and on variants of them with other names, limits, JVM options and
with or without an HPA."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from diagnose.bundle.store import read
from diagnose.engine.diagnose import diagnose, from_bundle
from diagnose.engine.gather import Gathered
from diagnose.engine.runbook import for_signal
from diagnose.parsers.kubernetes import parse_quantity
from diagnose.sources.base import Target
from tests.engine.kubectl_apply import Key, Objects, Rejected, apply, load_objects

REPO = Path(__file__).resolve().parents[2]
FIXTURES = sorted(p.parent for p in (REPO / "fixtures").glob("*/expected.json"))
RUNBOOK = for_signal("upstream-timeout")
HEAP_SHARE = 0.75
_HEAP = ("-Xmx", "-Xms", "-XX:MaxRAMPercentage=", "-XX:MinRAMPercentage=", "-XX:InitialRAMPercentage=",
         "-XX:MaxRAM=")


def _fixes(report: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    return [(c["id"], f["summary"], list(f["commands"])) for c in report["causes"] for f in c["fixes"]]


def _jvm_bytes(size: str) -> float:
    m = re.fullmatch(r"(\d+)([kKmMgGtT]?)", size)
    assert m, size
    return int(m.group(1)) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[m.group(2).lower()]


def _jvm_vars(c: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in c.get("env") or ()
            if e["name"] in ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "JAVA_OPTS")}


def _effective_xmx(c: dict[str, Any]) -> float | None:
    """The -Xmx the JVM would run with: the command line wins, then JDK_JAVA_OPTIONS, JAVA_OPTS, JAVA_TOOL_OPTIONS."""
    env = _jvm_vars(c)
    for words in (list(c.get("command") or ()) + list(c.get("args") or ()),
                  *(env.get(v, "").split() for v in ("JDK_JAVA_OPTIONS", "JAVA_OPTS", "JAVA_TOOL_OPTIONS"))):
        xmx = [w[4:] for w in words if w.startswith("-Xmx")]
        if xmx:
            return _jvm_bytes(xmx[-1])
    return None


def _check_deployment(before: dict[str, Any], after: dict[str, Any], fix: str) -> None:
    spec = after["spec"]["template"]["spec"]
    old = {c["name"]: c for c in before["spec"]["template"]["spec"]["containers"]}
    new = spec["containers"]
    assert [c["name"] for c in new] == list(old), f"{fix}: the container list changed"
    for c in new:
        assert c.get("image"), f"{fix}: container {c['name']} lost its image"
        res = c.get("resources") or {}
        for field in ("limits", "requests"):
            for q in (res.get(field) or {}).values():
                parse_quantity(q)
        for r in ("cpu", "memory"):
            lim, req = (res.get("limits") or {}).get(r), (res.get("requests") or {}).get(r)
            if lim is not None and req is not None:
                assert parse_quantity(req) <= parse_quantity(lim), f"{fix}: {r} request above its limit"
        for e in c.get("env") or ():
            assert e.get("name") and (("value" in e) != ("valueFrom" in e)), f"{fix}: bad env entry {e}"
        # the JVM flags already set are kept: only heap flags may go
        was, now = _jvm_vars(old[c["name"]]), _jvm_vars(c)
        for var, value in was.items():
            kept = [w for w in value.split() if not w.startswith(_HEAP)]
            assert set(kept) <= set(now.get(var, "").split()), f"{fix}: {var} lost {kept}"
        for e_old in old[c["name"]].get("env") or ():
            if e_old["name"] not in was:
                assert e_old in (c.get("env") or ()), f"{fix}: env {e_old['name']} changed"
        xmx, limit = _effective_xmx(c), (res.get("limits") or {}).get("memory")
        if xmx is not None and limit is not None and xmx != _effective_xmx(old[c["name"]]):
            assert xmx <= HEAP_SHARE * parse_quantity(limit), \
                f"{fix}: -Xmx {xmx / 2**20:.0f}Mi above {HEAP_SHARE:.0%} of the {limit} limit"
        gcs = [w for v in _jvm_vars(c).values() for w in v.split() if w.startswith("-XX:+Use") and w.endswith("GC")]
        assert len(set(gcs)) <= 1, f"{fix}: two collectors chosen {gcs}"
    for term in (((spec.get("affinity") or {}).get("podAffinity") or {})
                 .get("preferredDuringSchedulingIgnoredDuringExecution") or ()):
        assert 1 <= term["weight"] <= 100 and term["podAffinityTerm"]["topologyKey"], fix
        assert term["podAffinityTerm"]["labelSelector"]["matchLabels"], fix


def _check_hpa(before: dict[str, Any], after: dict[str, Any], fix: str) -> None:
    spec = after["spec"]
    lo, hi = int(spec.get("minReplicas", 1)), int(spec["maxReplicas"])
    assert 1 <= lo <= hi, f"{fix}: minReplicas {lo} above maxReplicas {hi}"
    assert hi >= int(before["spec"]["maxReplicas"]), f"{fix}: maxReplicas lowered"
    assert hi >= int((before.get("status") or {}).get("currentReplicas", 0)), f"{fix}: maxReplicas below current"
    assert spec["scaleTargetRef"] == before["spec"]["scaleTargetRef"], fix


def _hpa_targets(objects: Objects) -> set[tuple[str, str]]:
    return {(ns, doc["spec"]["scaleTargetRef"]["name"]) for (kind, ns, _), doc in objects.items()
            if kind == "HorizontalPodAutoscaler" and doc["spec"]["scaleTargetRef"].get("kind") == "Deployment"}


def check_fixes(report: dict[str, Any], objects: Objects) -> int:
    """Apply each fix's commands in order to a copy of the objects; check what changed. The number applied."""
    applied = 0
    managed = _hpa_targets(objects)
    for cause, summary, commands in _fixes(report):
        state = dict(objects)
        for cmd in commands:
            scaled = re.match(r"kubectl scale deployment/(\S+) -n (\S+)", cmd)
            assert not (scaled and (scaled.group(2), scaled.group(1)) in managed), \
                f"{cause}: `kubectl scale` on a deployment an HPA manages: {cmd}"
            try:
                state = apply(cmd, state)
            except Rejected as e:
                pytest.fail(f"{cause}: {summary}: `{cmd}` would be refused: {e}")
            applied += cmd.startswith("kubectl")
        changed: list[Key] = [k for k in state if k in objects and state[k] is not objects[k]]
        for key in changed:
            if key[0] == "Deployment":
                _check_deployment(objects[key], state[key], summary)
            elif key[0] == "HorizontalPodAutoscaler":
                _check_hpa(objects[key], state[key], summary)
    return applied


@pytest.mark.parametrize("bundle", FIXTURES, ids=[f.name for f in FIXTURES])
def test_every_fix_command_of_a_fixture_applies_cleanly_to_the_objects_in_its_bundle(bundle: Path):
    target, gathered = from_bundle(read(bundle))
    report = diagnose(target, gathered, RUNBOOK).to_json()
    check_fixes(report, load_objects(bundle / "kubernetes"))


def test_the_gc_fix_raises_the_limit_with_the_heap_and_keeps_the_flags_already_set():
    bundle = REPO / "fixtures" / "gc-pause"
    target, gathered = from_bundle(read(bundle))
    report = diagnose(target, gathered, RUNBOOK).to_json()
    gc = next(c for c in report["causes"] if c["id"] == "gc-pause")
    commands = [cmd for f in gc["fixes"] for cmd in f["commands"]]
    assert any("--limits=memory=" in c for c in commands), commands
    env = next(c for c in commands if "set env" in c)
    assert "-XX:+UseG1GC" in env and "JAVA_TOOL_OPTIONS=" in env and "MaxRAMPercentage" not in env
    assert check_fixes(report, load_objects(bundle / "kubernetes")) >= 2


def test_an_hpa_managed_deployment_is_never_scaled_and_its_ceiling_only_rises():
    report = _report_of(*variant("overload", name="user-auth-service", namespace="production"))
    overload = next(c for c in report["causes"] if c["id"] == "overload")
    commands = [cmd for f in overload["fixes"] for cmd in f["commands"]]
    assert not [c for c in commands if c.startswith("kubectl scale")]
    assert any('"maxReplicas":' in c for c in commands)
    hpa_lines = [e["summary"] for e in overload["evidence"] if "HPA" in e["summary"]]
    # one fact, one source: the API object's 3/3, the kube-state-metrics reading shown as a conflict
    assert hpa_lines and all("3/3" in s for s in hpa_lines) and not [s for s in hpa_lines if "of 6" in s]


def test_pinned_is_said_only_when_the_hpa_is_at_its_maximum():
    report = _report_of(*variant("gc-misleading-cpu", name="user-auth-service", namespace="production"))
    summaries = [f["summary"] for c in report["causes"] for f in c["fixes"]]
    assert not [s for s in summaries if "pinned" in s or "at its maximum" in s], summaries


def test_network_fixes_time_a_request_and_patch_placement_instead_of_ping():
    report = _report_of(*variant("network", name="user-auth-service", namespace="production"))
    network = next(c for c in report["causes"] if c["id"] == "network")
    commands = [cmd for f in network["fixes"] for cmd in f["commands"]]
    assert not [c for c in commands if re.search(r"\b(ping|traceroute)\b", c) or " get pods" in c]
    assert any("curl" in c and "time_total" in c for c in commands)
    assert any("podAffinity" in c and "--type merge" in c for c in commands)


def test_a_deadlock_is_mitigated_by_restarting_the_stuck_pods_and_names_both_lock_sites():
    report = _report_of(*variant("deadlock", name="user-auth-service", namespace="production"))
    deadlock = next(c for c in report["causes"] if c["id"] == "deadlock")
    commands = [cmd for f in deadlock["fixes"] for cmd in f["commands"]]
    assert "kubectl rollout restart deployment/user-auth-service -n production" in commands
    assert any(f["summary"].startswith("Fix the lock order between ") and
               re.search(r"TokenStore\.invalidate\S* and SessionCache\.evict:\d+", f["summary"])
               for f in deadlock["fixes"]), [f["summary"] for f in deadlock["fixes"]]


# --- the same checks over generated objects -------------------------------------------------------------

def variant(fixture: str, *, name: str, namespace: str, limit: str | None = None,
            java: dict[str, str] | None = None, hpa: bool = True,
            stuck: int | None = None) -> tuple[Target, dict[str, Gathered], Objects]:
    """A fixture with its upstream renamed, its JVM container's memory limit and JVM env replaced, with or
    without its HPA, and (deadlock) only the first `stuck` pods' dumps kept."""
    target, gathered = from_bundle(read(REPO / "fixtures" / fixture))

    def rename(b: bytes) -> bytes:
        return b.replace(b"user-auth-service", name.encode()).replace(b"production", namespace.encode())

    files = {src: {rename(k.encode()).decode(): rename(v) for k, v in g.files.items()}
             for src, g in gathered.items()}
    kube = files["kubernetes"]
    deps = json.loads(kube["deployments.json"])
    for d in deps["items"]:
        if d["metadata"]["name"] != name:
            continue
        c = d["spec"]["template"]["spec"]["containers"][0]
        if limit is not None:
            c["resources"]["limits"]["memory"] = limit
            c["resources"]["requests"]["memory"] = min(limit, c["resources"]["requests"]["memory"],
                                                       key=lambda q: parse_quantity(q))
        if java is not None:
            c["env"] = [e for e in c["env"] if e["name"] not in ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS",
                                                                   "JAVA_OPTS")]
            c["env"] += [{"name": k, "value": v} for k, v in java.items()]
    kube["deployments.json"] = json.dumps(deps).encode()
    if not hpa:
        doc = json.loads(kube["hpas.json"])
        doc["items"] = []
        kube["hpas.json"] = json.dumps(doc).encode()
    if stuck is not None:
        pods = sorted({k.split("/")[0] for k in files["thread-dumps"]})
        files["thread-dumps"] = {k: v for k, v in files["thread-dumps"].items() if k.split("/")[0] in pods[:stuck]}
    incident = replace(target.incident, upstream=name, namespace=namespace)
    target = replace(target, incident=incident, namespace=namespace)
    gathered = {src: Gathered(g.status, files[src]) for src, g in gathered.items()}
    objects: Objects = {}
    for raw in kube.values():
        doc = json.loads(raw)
        for item in doc.get("items") or ():
            meta = item["metadata"]
            kind = item.get("kind") or str(doc.get("kind", "")).removesuffix("List")
            objects[(kind, meta.get("namespace", ""), meta["name"])] = item
    return target, gathered, objects


def _report_of(target: Target, gathered: dict[str, Gathered], objects: Objects) -> dict[str, Any]:
    report = diagnose(target, gathered, RUNBOOK).to_json()
    check_fixes(report, objects)
    return report


JAVA = {
    "none": {},
    "tool-options": {"JAVA_TOOL_OPTIONS": "-XX:MaxRAMPercentage=75 -XX:+UseG1GC -Dfile.encoding=UTF-8"},
    "xmx-and-xms": {"JAVA_TOOL_OPTIONS": "-Xms1g -Xmx1536m -javaagent:/otel/agent.jar -XX:+HeapDumpOnOutOfMemoryError"},
    "parallel-gc": {"JAVA_TOOL_OPTIONS": "-XX:+UseParallelGC -Xmx1536m"},
    "jdk-options-win": {"JAVA_TOOL_OPTIONS": "-Xmx512m -Duser.timezone=UTC", "JDK_JAVA_OPTIONS": "-Xmx1536m"},
}


@pytest.mark.parametrize("limit", ["512Mi", "1Gi", "2Gi", "3Gi", "8Gi"])
@pytest.mark.parametrize("java", sorted(JAVA))
def test_heap_fixes_of_generated_deployments_fit_their_limit_and_keep_their_flags(limit: str, java: str):
    target, gathered, objects = variant("gc-pause", name="billing-api", namespace="payments", limit=limit,
                                        java=JAVA[java])
    report = _report_of(target, gathered, objects)
    gc = next(c for c in report["causes"] if c["id"] == "gc-pause")
    env = [cmd for f in gc["fixes"] for cmd in f["commands"] if "set env" in cmd]
    assert len(env) == 1 and "deployment/billing-api -n payments" in env[0], [f["summary"] for f in gc["fixes"]]
    if java == "jdk-options-win":
        assert "JDK_JAVA_OPTIONS=" in env[0]      # the variable whose -Xmx the JVM uses is the one changed


@pytest.mark.parametrize("hpa", [True, False], ids=["with-hpa", "without-hpa"])
@pytest.mark.parametrize("fixture", ["overload", "gc-misleading-cpu", "network"])
def test_scaling_fixes_of_generated_deployments_use_the_hpa_when_there_is_one(fixture: str, hpa: bool):
    report = _report_of(*variant(fixture, name="orders-svc", namespace="shop", hpa=hpa))
    commands = [cmd for c in report["causes"] for f in c["fixes"] for cmd in f["commands"]]
    if fixture != "network":
        overload = next(c for c in report["causes"] if c["id"] == "overload")
        mine = [cmd for f in overload["fixes"] for cmd in f["commands"]]
        assert any(c.startswith("kubectl scale deployment/orders-svc -n shop") for c in mine) == (not hpa), mine
        assert any(c.startswith("kubectl patch hpa/orders-svc -n shop") for c in mine) == hpa, mine
    assert all("user-auth-service" not in c for c in commands if c.startswith("kubectl") and "-n shop" in c)


@pytest.mark.parametrize("stuck", [1, 2, 3])
def test_deadlock_restarts_of_generated_deployments_name_existing_pods(stuck: int):
    report = _report_of(*variant("deadlock", name="ledger", namespace="finance", stuck=stuck))
    deadlock = next(c for c in report["causes"] if c["id"] == "deadlock")
    commands = [cmd for f in deadlock["fixes"] for cmd in f["commands"]]
    deletes = [c for c in commands if c.startswith("kubectl delete pod ")]
    restarts = [c for c in commands if c.startswith("kubectl rollout restart deployment/ledger -n finance")]
    assert (len(deletes), len(restarts)) == ((stuck, 0) if stuck < 3 else (0, 1)), commands
